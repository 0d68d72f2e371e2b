"""Effects added after training: every model over all items and over the cold items' positives alone.

``python -m poserec_experiments.cold_items [--fraction 0.2] [--seeds 2022 ...] [--models MODEL ...]
[--budget cpu|converged] [--out results/] [--data-path dataset/] [--jobs N] [--device cpu|cuda]``

Data: the default raw synthetic data (``<data-path>/raw-synthetic``, generated when missing) converted at the
instance level with ``--cold-items FRACTION`` (:mod:`dataset_conversion.cold_items`; split seed 2022, which
also draws the cold items) into ``<data-path>/cold-items/pose-obe-cold<P>/``: a directory this command owns
(``<data-path>/pose-obe`` is never touched). An earlier conversion there of the same fraction and raw data is
reused.

Runs: each (model, seed) trains once through the benchmark's runner (:func:`poserec_experiments.runner.run_all`:
one worker process per run, ``--jobs``, thread caps, locks, resumable store) with ``run_recbole(saved=True)``
on ``[train, valid, test]`` at the benchmark's budget (``poserec_experiments/budgets/benchmark.yaml`` for
``cpu``, ``benchmark-converged.yaml`` for ``converged``), window-level test only. Then, for the models that
can rank an unseen item (:data:`recbole_poserec.evaluation.cold.COLD_ITEM_SUPPORT`), the saved checkpoint
is evaluated on the test_cold split (:func:`recbole_poserec.evaluation.cold.evaluate_cold_items`) in this
process; the others are recorded as "cannot rank unseen items" with the declared reason. The context-aware
models (FM, DeepFM, AFN, FRNet) also run as a content-only variant, ``<Model> (content only)``
(``exclude_feature_fields`` adds ``item_id`` and ``name``), which can.

Outputs (under ``--out``): ``runs/cold-items[-converged]/<variant>-seed<k>.json`` (the stored run results, as
the benchmark stores them, with ``test_cold_result`` and ``cold_evaluation`` added), ``cold_items.md`` (the
table, the data labelled synthetic in its header) and ``cold_items.png`` (the plot), written atomically.
Per-run logs and checkpoints: ``--work-dir`` (default ``benchmark_runs/``); checkpoints are kept, the cold
evaluation reads them (a stored result whose checkpoint is gone and that lacks its cold figures is reported
and left out).
"""

from __future__ import annotations

from dataset_conversion.entrypoint import install_startup_signal_handlers

install_startup_signal_handlers()  # before the heavy imports: a signal during them is one line too

import argparse
import math
import sys
from pathlib import Path

from dataset_conversion.entrypoint import ArgumentParser, float_at_least, int_at_least, positive_int, run_main
from dataset_conversion.errors import DataError
from poserec_experiments.aggregate import METRIC_ORDER, aggregate_runs
from poserec_experiments.arguments import (
    MAX_SEED,
    command_string,
    cuda_missing,
    devices_text,
    exit_status,
    print_dry_run,
    print_footer,
    unique_values,
    writable_directory,
)
from poserec_experiments.benchmark import (
    BUDGETS,
    FIXED_BUDGET_MODELS,
    MODELS,
    benchmark_row,
    profile_overrides,
    row_variant,
    tuned_profile,
)
from poserec_experiments.budgets import BUDGETS_DIR, read_budget
from poserec_experiments.derived_datasets import dataset_config_files, ensure_raw, read_meta
from poserec_experiments.report import format_duration, grouped_bars, provenance_lines, wide_table, write_markdown
from poserec_experiments.runner import DEVICES, ResultStore, RunSpec, available_cores, check_store, collect, \
    run_all, run_directory

STUDY = {"cpu": "cold-items", "converged": "cold-items-converged"}  # --budget -> this command's store and work dir
DATASET_PREFIX = "pose-obe-cold"
DATA_DIR = "cold-items"  # under --data-path: the directory this command owns
SPLIT_SEED = 2022  # the converter's default split seed; it also draws the cold items
DEFAULT_FRACTION = 0.2
GROUPS = [("all", "all items"), ("cold", "cold items")]
CONTENT_ONLY = "content only"
COLD_FIELDS = ("test_cold_result", "cold_evaluation")


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="python -m poserec_experiments.cold_items", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fraction", type=float_at_least(0.0, inclusive=False), default=DEFAULT_FRACTION,
                        help="share of the items with a test positive made cold, in (0, 1) (default 0.2)")
    parser.add_argument("--seeds", nargs="+", type=int_at_least(0, MAX_SEED), default=[2022], metavar="SEED",
                        help="RecBole seeds, one run each (default 2022)")
    parser.add_argument("--models", nargs="+", type=benchmark_row, default=list(MODELS), metavar="MODEL",
                        help=f"models, or <model>-tuned for the profile the validation search chose (default: "
                             f"{' '.join(MODELS)}); the context-aware ones add a content-only row")
    parser.add_argument("--budget", choices=sorted(BUDGETS), default="cpu", help="training budget (default cpu)")
    parser.add_argument("--epochs", type=positive_int, default=None, help="maximum epochs (overrides the budget)")
    parser.add_argument("--out", default="results/", help="output directory (default results/)")
    parser.add_argument("--data-path", default="dataset/", help="where raw-synthetic is and cold-items/ goes")
    parser.add_argument("--work-dir", default="benchmark_runs/", help="per-run logs and checkpoints")
    parser.add_argument("--jobs", type=positive_int, default=1,
                        help=f"runs at once; with N > 1 each gets max(1, cores // N) threads (cores: {available_cores()})")
    parser.add_argument("--device", choices=DEVICES, default="cpu", help="where runs train and test (default cpu)")
    parser.add_argument("--timeout", type=float_at_least(0, inclusive=False), default=None,
                        help="seconds after which one run is killed")
    parser.add_argument("--report-only", action="store_true", help="only rebuild the table and plot from stored runs")
    parser.add_argument("--dry-run", action="store_true", help="list the runs and exit")
    parser.add_argument("--no-progress", action="store_true", help="no tqdm bar")
    return parser


def dataset_name(fraction: float) -> str:
    """``pose-obe-cold20`` for 0.2 (the percentage, ``.`` as ``p`` when it is not whole: ``pose-obe-cold12p5``)."""
    percent = f"{fraction * 100:.6g}".replace(".", "p")
    return f"{DATASET_PREFIX}{percent}"


def ensure_cold_dataset(data_root: Path, raw_dir: Path, name: str, fraction: float) -> Path:
    """``<data_root>/<name>``: ``raw_dir`` converted with ``cold_items=fraction``; an earlier conversion of the
    same raw data, fraction and split seed is reused."""
    meta = read_meta(data_root, name)
    cold = meta.get("cold_items") or {}
    if (meta.get("raw_dir") == str(raw_dir.resolve()) and cold.get("fraction") == fraction
            and cold.get("seed") == SPLIT_SEED and (data_root / name / cold.get("file", "?")).is_file()):
        return data_root / name
    from dataset_conversion.convert import convert_raw_dataset

    print(f"converting {raw_dir} with --cold-items {fraction} into {data_root / name}", flush=True)
    return convert_raw_dataset(raw_dir, data_root, name, seed=SPLIT_SEED, cold_items=fraction)


def variants(models) -> list[tuple[str, str, dict]]:
    """``(label, model, extra settings)`` per row: each model as configured, then the content-only variant of a
    context-aware one."""
    from recbole_poserec.evaluation.cold import CONTEXT_MODELS, cold_item_support, content_only_settings

    rows = []
    for name in models:
        model, profile = tuned_profile(name)
        cold_item_support(model)  # a model without a declaration is refused here, before any run
        label, tuned = row_variant(name), profile_overrides(profile) if profile is not None else {}
        rows.append((label, model, tuned))
        if model in CONTEXT_MODELS:
            rows.append((f"{label} ({CONTENT_ONLY})", model, tuned | content_only_settings(model)))
    return rows


def build_specs(args, data_root: Path, name: str) -> list[RunSpec]:
    """One spec per (seed, variant), seed outermost; budgets as the benchmark's (trained models only)."""
    per_model = read_budget(BUDGETS[args.budget])
    epochs = {"epochs": args.epochs} if args.epochs else {}
    specs = []
    for seed in args.seeds:
        for label, model, extra in variants(args.models):
            budget = {} if model in FIXED_BUDGET_MODELS else dict(per_model.get(model, {})) | epochs
            specs.append(RunSpec(study=STUDY[args.budget], level="ins", variant=label, model=model, dataset=name,
                                 seed=seed, data_path=str(data_root),
                                 config=budget | extra | {"eval_protocols": ["window"]},
                                 config_files=dataset_config_files(name, "ins"),
                                 data_recipe={"cold_items": args.fraction, "split_seed": SPLIT_SEED}))
    return specs


def _checkpoint(result: dict, spec: RunSpec, work_dir: Path) -> Path | None:
    """The run's saved checkpoint: the one its result names, else the newest in its work directory."""
    named = result.get("checkpoint")
    if named and Path(named).is_file():
        return Path(named)
    saved = sorted((run_directory(spec, work_dir) / "saved").glob("*.pth"), key=lambda p: p.stat().st_mtime)
    return saved[-1] if saved else None


def cold_problem(result: dict) -> str | None:
    """What is wrong with a stored result's cold fields (None when they are absent or well-formed)."""
    evaluation = result.get("cold_evaluation")
    if evaluation is None:
        return None
    if not isinstance(evaluation, dict) or not isinstance(evaluation.get("ranks_unseen_items"), bool):
        return "field 'cold_evaluation' is not an object with a boolean 'ranks_unseen_items'"
    figures = result.get("test_cold_result")
    if evaluation["ranks_unseen_items"]:
        if not isinstance(figures, dict) or not figures or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in figures.values()):
            return "field 'test_cold_result' is not an object of finite numbers"
    elif figures is not None:
        return "field 'test_cold_result' is set for a model that cannot rank unseen items"
    return None


def evaluate_cold(specs, summary, store: ResultStore, work_dir: Path, device: str, say=print) -> None:
    """Add the cold figures (or the declared "cannot rank unseen items") to every finished run lacking them,
    and store it again; a run whose checkpoint is gone is listed in ``summary.failed``."""
    from recbole_poserec.evaluation.cold import cold_item_support, evaluate_cold_items

    for spec in specs:
        result = summary.results.get(spec.key)
        if result is None:
            continue
        problem = cold_problem(result)
        if problem:
            raise DataError(store.path(spec), f"is not a stored cold-item result: {problem} (move it away to run "
                                              "it again)")
        if result.get("cold_evaluation") is not None:
            continue
        support = cold_item_support(spec.model, spec.config)
        evaluation = {"ranks_unseen_items": support.ranks_unseen_items, "reason": support.reason}
        if support.ranks_unseen_items:
            checkpoint = _checkpoint(result, spec, work_dir)
            if checkpoint is None:
                summary.failed[spec.key] = f"{store.path(spec)} (its checkpoint is gone: move the result away)"
                say(f"{spec.key}: no checkpoint left for the cold evaluation; move {store.path(spec)} away to rerun")
                continue
            cold = evaluate_cold_items(checkpoint, spec.model, spec.dataset, list(spec.config_files),
                                       spec.run_config(run_directory(spec, work_dir) / "saved", device))
            result["test_cold_result"] = {k: float(v) for k, v in cold.result.items()}
            evaluation |= {"windows": len(cold.windows.ids), "positives": cold.positives,
                           "seconds": round(cold.seconds, 3), "checkpoint": str(checkpoint)}
            say(f"{spec.key}: cold items ndcg@10={result['test_cold_result'].get('ndcg@10', float('nan')):.4f} "
                f"({len(cold.windows.ids)} windows, {cold.seconds:.1f} s)")
        result["cold_evaluation"] = evaluation
        store.save(spec, result)


def table_rows(results) -> list[dict]:
    """Long rows ``{level: all|cold, variant, metric, mean, std, seeds}``."""
    return [r | {"level": "all"} for r in aggregate_runs(results, ("variant",), "test_result")] + \
        [r | {"level": "cold"} for r in aggregate_runs(results, ("variant",), "test_cold_result")]


def ranking_column(results) -> dict[str, str]:
    """Per variant: whether it ranks unseen items, with the declared reason."""
    column = {}
    for result in results:
        evaluation = result.get("cold_evaluation") or {}
        if "ranks_unseen_items" in evaluation:
            column[result["spec"]["variant"]] = ("ranks unseen items" if evaluation["ranks_unseen_items"]
                                                 else "**cannot rank unseen items**") + f": {evaluation['reason']}"
    return column


def write_outputs(out: Path, specs, summary, args, meta: dict, name: str, command: str) -> list[Path]:
    """``cold_items.md`` and ``cold_items.png`` from the stored results of ``specs``."""
    results = [summary.results[s.key] for s in specs if s.key in summary.results]
    for spec in specs:
        problem = cold_problem(summary.results.get(spec.key) or {})
        if problem:  # a damaged store is named, with --report-only too, and nothing is written
            raise DataError(out / "runs" / spec.study / f"{spec.key}.json",
                            f"is not a stored cold-item result: {problem} (move it away to run it again)")
    rows = table_rows(results)
    labels = list(dict.fromkeys(s.variant for s in specs))
    cold = meta.get("cold_items") or {}
    synthetic = "SYNTHETIC data" if meta.get("synthetic") else "data not marked synthetic"
    table = wide_table(rows, "variant", GROUPS, list(METRIC_ORDER), first_header="model", row_order=labels,
                       extra_columns=[("cold items", ranking_column(results))])
    text = [
        f"# Effects added after training: all items and the cold items alone ({synthetic})",
        "",
        f"Regenerate: `{command}`",
        "",
        "**Data.**",
        *provenance_lines(meta, name),
        f"  - cold items: {cold.get('count', '?')} of the {cold.get('eligible_items', '?')} items with a test "
        f"positive ({cold.get('fraction', '?')}, stratified by group, split seed {cold.get('seed', '?')}; "
        f"{cold.get('items', '?')} items in all); rows dropped: {cold.get('dropped_rows', '?')}; windows left "
        f"without a positive: {cold.get('windows_left_without_positive', '?')}; test_cold: "
        f"{cold.get('test_cold_positives', '?')} positives in {cold.get('test_cold_windows', '?')} windows",
        "",
        "**Protocol.** The cold items have no train or valid row (`dataset_conversion convert --cold-items`); they "
        "stay in the catalogue (the `.item` file) and may be drawn as sampled negatives in training. Each model "
        "trains once on `[train, valid, test]` (`run_recbole`, `saved=True`, the checkpoint with the best "
        "validation NDCG@10). *All items*: its test figures, window-level full ranking over every item against "
        "each window's positives. *Cold items*: the same checkpoint, the same full ranking over every item, "
        "against each window's cold positives alone (the `test_cold` split: windows without a cold positive "
        "are not units; a window's warm positives are ranked like any other item). A model whose item side "
        "is an item-ID embedding or a frequency has no cold figures: it is shown as *cannot rank unseen items* "
        "(declared in `recbole_poserec/evaluation/cold.py`), not scored through untrained embeddings.",
        "",
        f"**Seeds.** RecBole `seed` {', '.join(map(str, args.seeds))}; mean ± sample std over seeds (the value "
        "alone for one seed); the best mean per column in **bold**.",
        "",
        f"**Training budget: `{args.budget}`** (`poserec_experiments/budgets/{BUDGETS[args.budget]}.yaml`"
        + (f", epochs {args.epochs}" if args.epochs else "") + "); devices: "
        f"{devices_text(results)}; compute {format_duration(summary.compute_seconds)} ({len(results)} runs).",
        "",
        table,
    ]
    if summary.not_done:
        text += [f"**Not done** (failed or running elsewhere; left out above): {', '.join(summary.not_done)}", ""]
    outputs = [write_markdown(out / "cold_items.md", "\n".join(text))]
    if rows:
        outputs.append(grouped_bars(out / "cold_items.png", rows, "variant", GROUPS, list(METRIC_ORDER),
                                    title=f"All items vs the cold items' positives ({synthetic}, mean ± std)"))
    return outputs


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.fraction < 1.0:
        parser.error(f"argument --fraction: expected a number in (0, 1), got {args.fraction:g}")
    unique_values(parser, "--models", args.models)
    from recbole_poserec.evaluation.cold import cold_item_support

    for name in args.models:
        try:
            cold_item_support(tuned_profile(name)[0])
        except ValueError as err:
            parser.error(f"argument --models: {err}")
    unique_values(parser, "--seeds", args.seeds)
    if args.device == "cuda" and not args.report_only and (missing := cuda_missing()):
        parser.error(f"argument --device: cuda asked for, but {missing}")
    data_path, out, work_dir = Path(args.data_path), Path(args.out), Path(args.work_dir)
    data_root = (data_path / DATA_DIR).resolve()
    name = dataset_name(args.fraction)
    specs = build_specs(args, data_root, name)
    if args.dry_run:
        print_dry_run(specs)
        return 0
    store = ResultStore(out / "runs" / STUDY[args.budget])
    writable_directory("--out", out)
    if args.report_only:
        summary = collect(specs, store)
    else:
        writable_directory("--work-dir", work_dir)
        check_store(specs, store)
        ensure_cold_dataset(data_root, ensure_raw(data_path), name, args.fraction)
        summary = run_all(specs, store, work_dir, timeout=args.timeout, progress=not args.no_progress,
                          jobs=args.jobs, device=args.device)
        evaluate_cold(specs, summary, store, work_dir, args.device)
    command = command_string("poserec_experiments.cold_items", argv)
    outputs = write_outputs(out, specs, summary, args, read_meta(data_root, name), name, command)
    print_footer(summary, outputs)
    return exit_status(summary)


if __name__ == "__main__":
    sys.exit(run_main(main))
