"""Choosing PoseRec's default windows per training batch by measurement: validation quality and speed.

``python -m poserec_experiments.windows_per_batch [--sizes 32 64 128 256] [--seeds 1] [--jobs N]
[--device cpu|cuda] [--out results/]``

Each size W is PoseRec (``properties/model/PoseRec.yaml``) at the benchmark's training budget
(``budgets/benchmark.yaml``) with ``train_windows_per_batch: W`` on the instance-level dataset, one run per
(W, seed) through the harness's runner (stored under ``<out>/runs/windows_per_batch/``, resumable).
Only the validation split decides: the test figures of these runs are neither read nor written here.

The rule: the chosen W has the best mean validation NDCG@10 (the benchmark's ``valid_metric``), except that
a W whose mean is within one standard deviation of the best (the largest std of the two, over seeds; with one
seed, within :data:`TIE_MARGIN`) and whose seconds per training window are lower wins the tie: equal quality,
the faster. Outputs: ``<out>/windows_per_batch.csv`` and ``.md`` (the table, the rule, the chosen W).
"""

from __future__ import annotations

from dataset_conversion.entrypoint import install_startup_signal_handlers

install_startup_signal_handlers()

import argparse  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from dataset_conversion.entrypoint import ArgumentParser, positive_int, run_main  # noqa: E402
from poserec_experiments.aggregate import mean_std, write_csv  # noqa: E402
from poserec_experiments.arguments import (  # noqa: E402
    add_common_arguments, check_common_arguments, command_string, devices_text, print_dry_run, seed_list,
    unique_values, writable_directory,
)
from poserec_experiments.budgets import read_budget  # noqa: E402
from poserec_experiments.derived_datasets import dataset_config_files, ensure_dataset, read_meta  # noqa: E402
from poserec_experiments.report import format_duration, provenance_lines, write_markdown  # noqa: E402
from poserec_experiments.runner import ResultStore, RunSpec, check_store, collect, run_all  # noqa: E402

STUDY = "windows_per_batch"
MODEL = "PoseRec"
LEVEL = "ins"
DEFAULT_SIZES = (32, 64, 128, 256)
SELECTION_METRIC = "ndcg@10"
TIE_MARGIN = 0.005  # one seed: validation NDCG@10 closer than this counts as equal quality
HEADER = ["windows_per_batch", "valid_ndcg@10_mean", "valid_ndcg@10_std", "seconds_per_window", "epochs_run",
          "train_seconds", "seeds"]


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="python -m poserec_experiments.windows_per_batch", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=positive_int, nargs="+", default=list(DEFAULT_SIZES), metavar="W",
                        help=f"windows per batch to compare (default: {' '.join(map(str, DEFAULT_SIZES))})")
    parser.add_argument("--out", default="results/", help="output directory (default results/)")
    add_common_arguments(parser)
    return parser


def build_specs(args, data_path: Path) -> list[RunSpec]:
    budget = dict(read_budget("benchmark").get(MODEL, {}))
    for key, value in (("epochs", args.epochs), ("stopping_step", args.stopping_step), ("eval_step", args.eval_step)):
        if value is not None:
            budget[key] = value
    return [RunSpec(study=STUDY, level=LEVEL, variant=f"W={size}", model=MODEL, dataset=args.ins_dataset, seed=seed,
                    data_path=str(data_path), config=budget | {"train_windows_per_batch": size},
                    config_files=dataset_config_files(args.ins_dataset, LEVEL))
            for seed in seed_list(args.seeds, args.first_seed) for size in args.sizes]


def size_rows(specs: list[RunSpec], results: dict) -> list[dict]:
    """Per W: mean ± std validation NDCG@10, seconds per training window, epochs run, fit seconds."""
    rows = []
    for size in dict.fromkeys(s.config["train_windows_per_batch"] for s in specs):
        members = [results[s.key] for s in specs if s.config["train_windows_per_batch"] == size and s.key in results]
        if not members:
            continue
        mean, std = mean_std([r["best_valid_result"][SELECTION_METRIC] for r in members])
        windows = [r["timing"]["train_batches"] * size for r in members]  # short last batches make it an upper bound
        per_window = [r["timing"]["train_loop_seconds"] / n for r, n in zip(members, windows)]
        rows.append({"windows_per_batch": size, "valid_ndcg@10_mean": mean, "valid_ndcg@10_std": std,
                     "seconds_per_window": sum(per_window) / len(per_window),
                     "epochs_run": sum(r["timing"]["train_epochs"] for r in members) / len(members),
                     "train_seconds": sum(r["train_seconds"] for r in members) / len(members),
                     "seeds": len(members)})
    return rows


def choose(rows: list[dict]) -> dict | None:
    """The row the module docstring's rule picks (None without rows)."""
    if not rows:
        return None
    best = max(rows, key=lambda r: r["valid_ndcg@10_mean"])

    def ties_best(row) -> bool:
        margin = max(row["valid_ndcg@10_std"], best["valid_ndcg@10_std"]) if best["seeds"] > 1 else TIE_MARGIN
        return best["valid_ndcg@10_mean"] - row["valid_ndcg@10_mean"] <= margin

    return min((r for r in rows if ties_best(r)), key=lambda r: r["seconds_per_window"])


def markdown(rows, chosen, results, provenance, command: str, summary) -> str:
    lines = ["| windows per batch | valid NDCG@10 | s per training window | epochs run | fit [s] | seeds |",
             "| ---: | ---: | ---: | ---: | ---: | ---: |"]
    for row in rows:
        mark = " **(chosen)**" if row is chosen else ""
        lines.append(f"| {row['windows_per_batch']}{mark} | {row['valid_ndcg@10_mean']:.4f} ± "
                     f"{row['valid_ndcg@10_std']:.4f} | {row['seconds_per_window'] * 1000:.2f} ms | "
                     f"{row['epochs_run']:.1f} | {row['train_seconds']:.0f} | {row['seeds']} |")
    text = ["# PoseRec's windows per training batch, chosen on validation", "", f"Regenerate: `{command}`", "",
            "**Data.**", *provenance, "",
            "**Runs.** PoseRec at the benchmark's training budget (`budgets/benchmark.yaml`), instance level, "
            "varying only `train_windows_per_batch`. Only validation figures are used; test figures of these runs "
            "are not reported.", "",
            f"**Rule.** Best mean validation NDCG@10; a size within one standard deviation of it (one seed: within "
            f"{TIE_MARGIN}) with fewer seconds per training window wins the tie.", "",
            f"**Devices.** {devices_text(list(results.values()))}. Compute: {format_duration(summary.compute_seconds)}"
            f" over {len(results)} runs; seconds per window = training loop seconds / (batches x W), measured in "
            "runs that may have shared the machine (see `--jobs`).", "", *lines, ""]
    if chosen is not None:
        text.append(f"**Chosen:** `train_windows_per_batch: {chosen['windows_per_batch']}`.")
    return "\n".join(text) + "\n"


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    args.levels = [LEVEL]
    check_common_arguments(parser, args)
    unique_values(parser, "--sizes", args.sizes)
    args.seeds = args.seeds or 1
    if args.quick:  # smoke profile: one epoch per size
        args.epochs = args.epochs or 1
    data_path = Path(args.data_path).resolve()
    out = Path(args.out)
    specs = build_specs(args, data_path)
    if args.dry_run:
        print_dry_run(specs)
        return 0
    store = ResultStore(out / "runs" / STUDY)
    writable_directory("--out", out)
    if args.report_only:
        summary = collect(specs, store)
    else:
        writable_directory("--work-dir", Path(args.work_dir))
        check_store(specs, store)
        ensure_dataset(data_path, args.ins_dataset)
        summary = run_all(specs, store, args.work_dir, timeout=args.timeout,
                          keep_checkpoints=not args.delete_checkpoints, progress=not args.no_progress,
                          jobs=args.jobs, device=args.device)
    results = {key: value for key, value in summary.results.items() if any(s.key == key for s in specs)}
    rows = size_rows(specs, results)
    chosen = choose(rows)
    provenance = provenance_lines(read_meta(data_path, args.ins_dataset), args.ins_dataset)
    command = command_string(f"poserec_experiments.{STUDY}", argv)
    write_csv(out / f"{STUDY}.csv", HEADER, rows)
    write_markdown(out / f"{STUDY}.md", markdown(rows, chosen, results, provenance, command, summary))
    if chosen is not None:
        print(f"chosen train_windows_per_batch: {chosen['windows_per_batch']} (see {out / (STUDY + '.md')})")
    return 0 if not summary.not_done else 1


if __name__ == "__main__":
    sys.exit(run_main(main))
