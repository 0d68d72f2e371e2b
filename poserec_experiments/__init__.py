"""Reproducible experiment sweeps beside the plug-in: the Table 1 benchmark and the paper's ablation studies.

A repository tool, not part of the wheel: it uses only the plug-in's public API (``run_recbole``, the
property files, the model lookup, the default datasets). Modules, one job each:

``benchmark``         ``python -m poserec_experiments.benchmark``: Table 1, every model on both levels
``ablate``            ``python -m poserec_experiments.ablate <study>``: one ablation study of the paper
``arguments``         the command-line options and checks both commands share
``budgets``           the training budgets (``budgets/benchmark.yaml``, ``budgets/benchmark-converged.yaml``,
                      ``budgets/ablations.yaml``) and their loader
``studies``           the ablation studies: variants, levels, the paper's direction, the findings judged
``verdicts``          the kinds of finding and how each is judged against the seed-noise yardstick
``derived_datasets``  the default and derived datasets of the sweeps (other window lengths, item subsets) and provenance
``runner``            run specifications, one subprocess per run, the resumable per-run result store
``worker``            the subprocess entry point (``python -m poserec_experiments.worker``)
``aggregate``         mean / sample std over seeds, long-format rows, CSV writing
``significance``      PoseRec vs every other model: Wilcoxon signed-rank on per-unit NDCG@10, Holm-corrected
``ceilings``          the data's ceilings (subcategory oracle, generator ceiling): Table 1's reference rows
``report``            markdown tables (mean ± std, best in bold, provenance header) and PNG plots
``readme``            the README sections the commands write, and the paper's Table 1
``loop_reference``    a per-window-loop PoseRec loss: the tests' oracle and the speed script's baseline

Every model figure in the commands' outputs comes from RecBole's trainer and evaluator in a real run; the
p-values are computed from those runs' per-unit values, and the ceilings from the data itself (no model).
"""
