"""Reproducible experiment sweeps: the Table 1 benchmark and the paper's ablation studies.

Modules, one job each:

``runner``     run specifications, one subprocess per run, the resumable per-run result store
``worker``     the subprocess entry point (``python -m poserec_experiments.worker``)
``aggregate``  mean / sample std over seeds, long-format rows, CSV writing
``report``     markdown tables (mean ± std, best in bold, provenance header) and PNG plots
``datasets``   derived datasets of the ablations (other window lengths, item subsets) and provenance
``studies``    the ablation studies: variants, training budgets, the paper's reported direction

The command lines are ``python -m poserec_experiments.benchmark`` and ``python -m poserec_experiments.ablate``.
Every number in their outputs comes from RecBole's trainer and evaluator in a real run.
"""

from poserec_experiments.aggregate import METRIC_ORDER, aggregate_runs, mean_std
from poserec_experiments.runner import ResultStore, RunSpec, run_all

__all__ = ["METRIC_ORDER", "ResultStore", "RunSpec", "aggregate_runs", "mean_std", "run_all"]
