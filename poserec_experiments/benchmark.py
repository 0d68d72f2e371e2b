"""Table 1 benchmark: every model on both levels with N seeds, same files, split and evaluator.

``python -m poserec_experiments.benchmark [--seeds 3] [--models Random Pop FM DeepFM NeuMF AFN FRNet PoseRec]
[--levels ins cat] [--data-path dataset/] [--out results/] [--quick] [--epochs N]``

Levels: ``ins`` = dataset ``pose-obe`` (Ins Rec), ``cat`` = ``pose-obe-cat`` (Cat Rec); both are generated
(synthetic stand-in) when missing. Each (level, model, seed) is one RecBole run in its own process
(:mod:`poserec_experiments.runner`) with RecBole ``seed`` = 2022, 2023, ...; the model is selected
on the validation NDCG@10 and its test metrics are reported (``saved=True``).

Training budget: ``poserec_experiments/budgets/benchmark.yaml`` per model, layered over each model's YAML
(``properties/model/<Model>.yaml``; ``eval_step`` from ``properties/overall.yaml``), unless ``--epochs`` /
``--stopping-step`` / ``--eval-step`` override it; Random and Pop have nothing to train and always keep
their YAML's single epoch.

Outputs (under ``--out``, default ``results/``):

``table1.csv``   ``level,model,metric,mean,std,seeds`` (long format; std = sample std, ddof 1; 0 for one seed)
``timings.csv``  ``level,model,train_seconds_mean,test_seconds_mean,seeds``
``table1.md``    the paper's layout (mean ± std, best per column bold) with a provenance / budget header
``table1.png``   grouped bars of the 12 metrics per model; ``timings.png`` training and test wall time
``runs/benchmark/<level>-<model>-seed<k>.json``  one stored result per run (resumable: reused next time)

Per-run logs and checkpoints go to ``--work-dir`` (default ``benchmark_runs/``, gitignored).

``--jobs N``: up to N runs at once, each with ``max(1, cores // N)`` threads (torch, OpenMP, MKL, OpenBLAS);
``--device cpu|cuda`` (default cpu): where they train and test (an error when torch sees no CUDA device).
Neither changes a run's identity: stored runs are reused whatever the device. Each result records its
``device``; ``table1.md`` states the devices, and timings of different devices are never one row
(``timings.csv`` has a ``device`` column).

``--quick``: 1 seed, 1 epoch, models Pop FM PoseRec unless ``--models`` is given, output under
``benchmark_runs/quick/`` unless ``--out`` is given (so ``results/`` is not overwritten).

Bad input and interruptions (:mod:`poserec_experiments.arguments`, :mod:`poserec_experiments.runner`):
a bad argument (``--seeds 0``, ``--models NoSuchModel``, ``--set noequals``, ...) is one ``error:`` line and
exit 2 before any run; a stored result that is not one (not JSON, missing fields, a bare NaN) is one
``error:`` line naming the file and exit 2, with ``--report-only`` too, and nothing is written; a run
whose metrics are not finite fails and is not stored. Ctrl-C / SIGTERM stop the running worker (its
whole process group) and exit 130 / 143; a killed benchmark's worker dies with it (``PR_SET_PDEATHSIG``).
A run in progress in another benchmark (its lock is held) is skipped and reported; exit 1 then, as when
a run failed.
"""

from __future__ import annotations

from dataset_conversion.entrypoint import install_startup_signal_handlers

install_startup_signal_handlers()  # before the heavy imports: a signal during them is one line too

import argparse
import statistics
import sys
from pathlib import Path

from dataset_conversion.entrypoint import ArgumentParser, run_main
from poserec_experiments.aggregate import (
    METRIC_ORDER,
    aggregate_runs,
    aggregate_timings,
    write_csv,
)
from poserec_experiments.arguments import (
    LEVEL_LABELS,
    add_common_arguments,
    budget_overrides,
    check_common_arguments,
    command_string,
    devices_text,
    exit_status,
    model_name,
    parse_overrides,
    print_footer,
    seed_list,
    unique_values,
    writable_directory,
)
from poserec_experiments.budgets import read_budget
from poserec_experiments.derived_datasets import dataset_config_files, ensure_dataset, read_meta
from poserec_experiments.report import (
    format_duration,
    format_number,
    grouped_bars,
    provenance_lines,
    timing_bars,
    wide_table,
    write_markdown,
)
from poserec_experiments.readme import README, paper_table1_markdown, replace_section, writes_repository_results
from poserec_experiments.runner import ResultStore, RunSpec, check_store, collect, result_device, run_all

STUDY = "benchmark"
MODELS = ("Random", "Pop", "FM", "DeepFM", "NeuMF", "AFN", "FRNet", "PoseRec")
QUICK_MODELS = ("Pop", "FM", "PoseRec")
FIXED_BUDGET_MODELS = frozenset({"Random", "Pop"})  # nothing to train: their YAML's one epoch is kept
DEFAULT_SEEDS = 3
TABLE1_HEADER = ["level", "model", "metric", "mean", "std", "seeds"]
TIMINGS_HEADER = ["level", "model", "device", "train_seconds_mean", "test_seconds_mean", "seeds"]


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="python -m poserec_experiments.benchmark", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=None, type=model_name, metavar="MODEL",
                        help=f"plug-in or RecBole models (default: {' '.join(MODELS)})")
    parser.add_argument("--levels", nargs="+", default=["ins", "cat"], choices=["ins", "cat"])
    parser.add_argument("--out", default=None, help="output directory (default results/; --quick: benchmark_runs/quick/)")
    add_common_arguments(parser)
    return parser


def build_specs(args, data_path: Path) -> list[RunSpec]:
    """One spec per (seed, level, model), seed outermost: a complete one-seed table exists early."""
    seeds = seed_list(args.seeds, args.first_seed)
    budget = budget_overrides(args.epochs, args.stopping_step, args.eval_step)
    overrides = parse_overrides(args.overrides)
    datasets = {"ins": args.ins_dataset, "cat": args.cat_dataset}
    per_model = read_budget(STUDY)
    specs = []
    for seed in seeds:
        for level in args.levels:
            for model in args.models:
                trained = model not in FIXED_BUDGET_MODELS
                config = (dict(per_model.get(model, {})) | budget if trained else {}) | overrides
                specs.append(RunSpec(study=STUDY, level=level, variant=model, model=model, dataset=datasets[level],
                                     seed=seed, data_path=str(args.data_path), config=config,
                                     config_files=dataset_config_files(datasets[level], level)))
    return specs


def budget_table(results, models) -> str:
    """Markdown: per model the budget as run (epochs / stopping_step / eval_step) and the epochs actually run."""
    lines = ["| model | max epochs | stopping_step | eval_step | epochs run (mean) |", "| --- | ---: | ---: | ---: | ---: |"]
    for model in models:
        members = [r for r in results if r["spec"]["model"] == model]
        if not members:
            continue

        def values(key):
            return ", ".join(str(v) for v in sorted({str(r.get("budget", {}).get(key, "?")) for r in members}))

        epochs_run = [r.get("timing", {}).get("train_epochs") for r in members]
        epochs_run = [e for e in epochs_run if e is not None]
        mean_run = f"{statistics.fmean(epochs_run):.1f}" if epochs_run else "?"
        lines.append(f"| {model} | {values('epochs')} | {values('stopping_step')} | {values('eval_step')} | {mean_run} |")
    return "\n".join(lines) + "\n"


def timing_table(timing_rows, levels) -> str:
    """Markdown: per model, mean training (fit) and test seconds per level."""
    models = list(dict.fromkeys(r["variant"] for r in timing_rows))
    header = ["model"] + [f"{LEVEL_LABELS[lv]} {what}" for lv in levels for what in ("train [s]", "test [s]")]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join([" --- "] + [" ---: "] * (len(header) - 1)) + "|"]
    for model in models:
        cells = [model]
        for level in levels:
            row = next((r for r in timing_rows if r["variant"] == model and r["level"] == level), None)
            cells += ([format_number(row["train_seconds_mean"]), format_number(row["test_seconds_mean"])] if row
                      else ["–", "–"])
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def device_timings(results) -> list[dict]:
    """:func:`aggregate_timings` per (level, model) and device: ``model`` and ``device`` as run, and
    ``variant`` the row label (the model, ``FM (cuda)`` when the results span several devices)."""
    devices = list(dict.fromkeys(result_device(r) for r in results))
    rows = []
    for device in devices:
        members = [r for r in results if result_device(r) == device]
        for row in aggregate_timings(members, ("level", "variant")):
            label = f"{row['variant']} ({device})" if len(devices) > 1 else row["variant"]
            rows.append(row | {"model": row["variant"], "device": device, "variant": label})
    return rows


def run_overrides(specs, models) -> dict:
    """Each model's config overrides as run (the benchmark budget plus command-line settings)."""
    return {m: next((s.config for s in specs if s.model == m), {}) for m in models}


def readme_section(table_markdown: str, provenance: list[str], command: str) -> str:
    """The README's results section: this repository's table beside the paper's (labelled as such)."""
    return "\n".join([
        "### Table 1 on the default data (written by the benchmark)",
        "",
        *provenance,
        "",
        f"Regenerated by `{command}`; details, budgets and timings in [results/table1.md](results/table1.md), "
        "plot in [results/table1.png](results/table1.png).",
        "",
        table_markdown,
        "### The paper's Table 1 (real Pose-OBE; the authors' figures, not reproduced here)",
        "",
        "Quoted from the paper for orientation only: different data (real videos and expert annotations, "
        "BERT-base factor embeddings), so the two tables are not comparable cell by cell. NCF = NeuMF; "
        "the paper's video-feature baselines (C3D, P3D, CSN) are not part of this plug-in; — = not reported.",
        "",
        paper_table1_markdown(),
    ])


def write_outputs(out: Path, specs, summary, args, data_path: Path, command: str) -> list[Path]:
    """table1.csv, timings.csv, table1.md, table1.png, timings.png from the stored results of ``specs``."""
    results = [summary.results[s.key] for s in specs if s.key in summary.results]
    groups = [(level, LEVEL_LABELS[level]) for level in args.levels]
    rows = [r | {"model": r["variant"]} for r in aggregate_runs(results, ("level", "variant"))]
    timings = device_timings(results)
    outputs = [write_csv(out / "table1.csv", TABLE1_HEADER, rows),
               write_csv(out / "timings.csv", TIMINGS_HEADER, timings)]
    seeds = seed_list(args.seeds, args.first_seed)
    datasets = {"ins": args.ins_dataset, "cat": args.cat_dataset}
    provenance = [line for level in args.levels for line in provenance_lines(read_meta(data_path, datasets[level]),
                                                                              datasets[level])]
    models_run = [m for m in args.models if any(r["spec"]["model"] == m for r in results)]
    table = wide_table(rows, "model", groups, [m for m in METRIC_ORDER], first_header="model", row_order=models_run)
    text = [
        "# Table 1: overall performance on instance (Ins Rec) and category (Cat Rec) recommendation",
        "",
        f"Regenerate: `{command}`",
        "",
        "**Data.**",
        *provenance,
        "",
        "**Protocol.** Every model runs on the same converted files and the same video-level split, through "
        "RecBole's trainer and full-ranking evaluator (Recall and NDCG at 5/10/20 over all items of the level); "
        "the checkpoint with the best validation NDCG@10 is tested (`saved=True`).",
        "",
        f"**Seeds.** RecBole `seed` {', '.join(map(str, seeds))}; cells are mean ± sample standard deviation "
        "(ddof = 1; 0 with one seed) over the finished seeds (`seeds` column of `table1.csv`). Best mean per "
        "column in **bold**.",
        "",
        "**Training budget** (from each model's YAML unless overridden on the command line; Random and Pop "
        "have nothing to train):",
        "",
        budget_table(results, models_run),
        "Per-model settings of `poserec_experiments/budgets/benchmark.yaml` used (layered over the model's YAML): "
        + "; ".join(f"{m}: `{overrides}`" for m, overrides in run_overrides(specs, models_run).items()) + ".",
        "",
        f"**Compute.** Sum of the runs' wall times: {format_duration(summary.compute_seconds)} "
        f"({len(results)} runs; this invocation {format_duration(summary.elapsed_seconds)}).",
        "",
        f"**Devices.** {devices_text(results)}; timings of different devices are separate rows.",
        "",
        table,
        "**Wall time per run** (mean over seeds; train = RecBole `fit`, i.e. training and validation passes; "
        "test = the test evaluation):",
        "",
        timing_table(timings, args.levels),
    ]
    if summary.not_done:
        text += ["**Runs not done** (failed or running in another process; left out above): "
                 + ", ".join(summary.not_done), ""]
    outputs.append(write_markdown(out / "table1.md", "\n".join(text)))
    if rows:
        outputs.append(grouped_bars(out / "table1.png", rows, "model", groups, list(METRIC_ORDER),
                                    title="Table 1 (mean ± std over seeds)"))
        outputs.append(timing_bars(out / "timings.png", timings, "variant", groups))
    if rows and writes_repository_results(out):
        replace_section("results", readme_section(table, provenance, command))
        outputs.append(README)
    return outputs


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    check_common_arguments(parser, args)
    unique_values(parser, "--models", args.models)
    if args.quick:
        args.seeds = args.seeds or 1
        args.epochs = args.epochs or 1
        args.models = args.models or list(QUICK_MODELS)
        args.out = args.out or "benchmark_runs/quick/"
    args.seeds = args.seeds or DEFAULT_SEEDS
    args.models = args.models or list(MODELS)
    args.out = args.out or "results/"
    data_path = Path(args.data_path).resolve()
    out = Path(args.out)
    specs = build_specs(args, data_path)
    if args.dry_run:
        for spec in specs:
            print(f"{spec.key}: {spec.model} on {spec.dataset}, seed {spec.seed}, config {spec.config}")
        return 0
    store = ResultStore(out / "runs" / STUDY)
    if args.report_only:
        summary = collect(specs, store)
        writable_directory("--out", out)
    else:
        writable_directory("--out", out)
        writable_directory("--work-dir", Path(args.work_dir))
        check_store(specs, store)  # a damaged store stops here, before any dataset is built
        for level in args.levels:
            ensure_dataset(data_path, {"ins": args.ins_dataset, "cat": args.cat_dataset}[level])
        summary = run_all(specs, store, args.work_dir, timeout=args.timeout,
                          keep_checkpoints=not args.delete_checkpoints, progress=not args.no_progress,
                          jobs=args.jobs, device=args.device)
    outputs = write_outputs(out, specs, summary, args, data_path, command_string("poserec_experiments.benchmark", argv))
    print_footer(summary, outputs)
    return exit_status(summary)


if __name__ == "__main__":
    sys.exit(run_main(main))
