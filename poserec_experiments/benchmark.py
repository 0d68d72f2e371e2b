"""Table 1 benchmark: every model on both levels with N seeds, same files, split and evaluator.

``python -m poserec_experiments.benchmark [--seeds 3] [--models Random Pop PoseKNN FM DeepFM NeuMF AFN FRNet
PoseRec] [--levels ins cat] [--protocols window video] [--budget cpu|converged] [--data-path dataset/]
[--out results/] [--quick] [--epochs N]``

Levels: ``ins`` = dataset ``pose-obe`` (Ins Rec), ``cat`` = ``pose-obe-cat`` (Cat Rec); both are generated
(synthetic stand-in) when missing. Each (level, model, seed) is one RecBole run in its own process
(:mod:`poserec_experiments.runner`) with RecBole ``seed`` = 2022, 2023, ...; the model is selected
on the validation NDCG@10 (window level) and its test metrics are reported (``saved=True``).

Protocols: every run is tested at the window level (RecBole's full ranking per 10-frame window) and the
video level (per test video, its item scores aggregating its windows' scores by ``video_aggregation``),
the plug-in's ``eval_protocols``; ``--protocols`` chooses which of them the outputs report (default both).
A stored result made before video-level evaluation existed has no video-level figures: its video cells
are missing and ``table1.md`` lists it.

Training budget (``--budget``; default ``converged`` with ``--device cuda``, else ``cpu``), per model,
layered over each model's YAML (``properties/model/<Model>.yaml``; ``eval_step`` from
``properties/overall.yaml``), unless ``--epochs`` / ``--stopping-step`` / ``--eval-step`` override it:
``cpu`` = ``poserec_experiments/budgets/benchmark.yaml`` (fits this project's 2-core machines), ``converged``
= ``benchmark-converged.yaml`` (every model validated every epoch, early stopping). Random, Pop and PoseKNN
have nothing to train and always keep their YAML's single epoch. The budgets keep their runs apart
(``runs/benchmark/`` and ``runs/benchmark-converged/``), and a table is never made of runs of different
budgets: stored runs that disagree are one ``error:`` line and nothing is written.

Outputs (under ``--out``, default ``results/``):

``table1.csv``        ``level,protocol,model,metric,mean,std,seeds`` (long format; std = sample std, ddof 1; 0
                      for one seed; ``protocol`` ``window`` or ``video``)
``ceilings.csv``      ``level,protocol,ceiling,metric,value``: the oracles of :mod:`poserec_experiments.ceilings`
``significance.csv``  PoseRec (tuned), else PoseRec, vs every other model (:mod:`poserec_experiments.significance`)
``timings.csv``       ``level,model,device,train_seconds_mean,test_seconds_mean,seeds``
``table1.md``         the paper's layout per protocol (mean ± std, best per column bold; the ceilings below a
                      rule, never bold), the p-values, a provenance / budget header
``table1.png``        grouped bars of the 12 metrics per model and protocol; ``timings.png`` wall times
``runs/<study>/<level>-<model>-seed<k>.json``  one stored result per run (resumable: reused next time);
                      ``<study>`` = ``benchmark`` (cpu budget) or ``benchmark-converged``

Per-run logs and checkpoints go to ``--work-dir`` (default ``benchmark_runs/``, gitignored).

``--jobs N``: up to N runs at once, each with ``max(1, cores // N)`` threads (torch, OpenMP, MKL, OpenBLAS);
``--device cpu|cuda`` (default cpu): where they train and test (an error when torch sees no CUDA device).
Neither changes a run's identity: stored runs are reused whatever the device. Each result records its
``device``; ``table1.md`` states the devices, and timings of different devices are never one row
(``timings.csv`` has a ``device`` column).

``--quick``: 1 seed, 1 epoch, the cpu budget unless ``--budget`` is given, models Pop FM PoseRec unless
``--models`` is given, output under
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
from dataset_conversion.errors import DataError
from poserec_experiments.aggregate import (
    METRIC_ORDER,
    aggregate_runs,
    aggregate_timings,
    write_csv,
)
from poserec_experiments.arguments import (
    LEVEL_LABELS,
    add_common_arguments,
    print_dry_run,
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
from poserec_experiments.budgets import BUDGETS_DIR, read_budget
from poserec_experiments.ceilings import CEILINGS_HEADER, ceiling_rows, dataset_ceilings
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
from poserec_experiments.runner import (
    PROTOCOL_RESULTS,
    PROTOCOLS,
    ResultStore,
    RunSpec,
    check_store,
    collect,
    result_device,
    run_all,
)
from poserec_experiments.significance import (
    REFERENCE_MODEL,
    SIGNIFICANCE_HEADER,
    compare_models,
    method_lines,
    row_label,
    significance_markdown,
)
from poserec_experiments.candidates import profile_overrides, profile_path

# --budget -> its study: the name of its budget file (budgets/<study>.yaml) and of its store (runs/<study>/)
BUDGETS = {"cpu": "benchmark", "converged": "benchmark-converged"}
MODELS = ("Random", "Pop", "PoseKNN", "FM", "DeepFM", "NeuMF", "AFN", "FRNet", "PoseRec")
TUNED_SUFFIX = "-tuned"  # --models FM-tuned: FM with properties/model/FM-tuned.yaml (poserec_experiments.tune)
TUNED_REFERENCE = f"{REFERENCE_MODEL} (tuned)"  # the significance tests' reference when that row is run
QUICK_MODELS = ("Pop", "FM", "PoseRec")
FIXED_BUDGET_MODELS = frozenset({"Random", "Pop", "PoseKNN"})  # nothing to train: their YAML's one epoch is kept
RUN_BUDGET_KEYS = ("epochs", "stopping_step", "eval_step")  # a run's budget as run (worker's ``budget``)
DEFAULT_SEEDS = 3
TABLE1_HEADER = ["level", "protocol", "model", "metric", "mean", "std", "seeds"]
PROTOCOL_LABELS = {"window": "window level", "video": "video level"}
PROTOCOL_TEXT = {
    "window": "each test window (10 frames) is a unit; RecBole's full ranking over all items of the level",
    "video": "each test video is a unit; its score for an item aggregates its windows' scores "
             "(`video_aggregation`); full ranking against the video's positives",
}
ORACLE_HEADING = "oracles: use metadata no model may see (reference, never bold)"
TIMINGS_HEADER = ["level", "model", "device", "train_seconds_mean", "test_seconds_mean", "seeds"]


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="python -m poserec_experiments.benchmark", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=None, type=benchmark_row, metavar="MODEL",
                        help=f"plug-in or RecBole models, or <model>{TUNED_SUFFIX} for a model with the profile "
                             f"the validation search chose (default: {' '.join(MODELS)} and every "
                             f"<model>{TUNED_SUFFIX} whose profile exists)")
    parser.add_argument("--levels", nargs="+", default=["ins", "cat"], choices=["ins", "cat"])
    parser.add_argument("--protocols", nargs="+", default=list(PROTOCOLS), choices=PROTOCOLS,
                        help="evaluation protocols reported (default both; every run evaluates both)")
    parser.add_argument("--budget", choices=sorted(BUDGETS), default=None,
                        help="training budget (default: converged with --device cuda, else cpu)")
    parser.add_argument("--out", default=None, help="output directory (default results/; --quick: benchmark_runs/quick/)")
    add_common_arguments(parser)
    return parser


def tuned_profile(name: str) -> tuple[str, Path | None]:
    """``("FM", properties/model/FM-tuned.yaml)`` for ``FM-tuned``; ``(name, None)`` for a plain model."""
    if name.endswith(TUNED_SUFFIX):
        model = name[:-len(TUNED_SUFFIX)]
        return model, profile_path(model)
    return name, None


def benchmark_row(text: str) -> str:
    """An argparse ``type``: a model name, or ``<model>-tuned`` whose profile file exists."""
    model, profile = tuned_profile(text)
    model_name(model)
    if profile is not None and not profile.is_file():
        raise argparse.ArgumentTypeError(f"{text}: no profile {profile} (run python -m poserec_experiments.tune "
                                         f"--model {model} first)")
    return text


def default_rows() -> list[str]:
    """:data:`MODELS`, each followed by its tuned row when the search wrote a profile with overrides."""
    rows = []
    for model in MODELS:
        rows.append(model)
        if profile_overrides(profile_path(model)):
            rows.append(model + TUNED_SUFFIX)
    return rows


def row_variant(name: str) -> str:
    """The table row of a ``--models`` entry: ``PoseRec (tuned)`` for ``PoseRec-tuned``."""
    model, profile = tuned_profile(name)
    return model if profile is None else f"{model} (tuned)"


def budget_name(args) -> str:
    """``--budget`` as given, else ``converged`` with ``--device cuda`` and ``cpu`` otherwise."""
    return args.budget or ("converged" if args.device == "cuda" else "cpu")


def build_specs(args, data_path: Path) -> list[RunSpec]:
    """One spec per (seed, level, model), seed outermost: a complete one-seed table exists early."""
    seeds = seed_list(args.seeds, args.first_seed)
    budget = budget_overrides(args.epochs, args.stopping_step, args.eval_step)
    overrides = parse_overrides(args.overrides)
    datasets = {"ins": args.ins_dataset, "cat": args.cat_dataset}
    study = BUDGETS[budget_name(args)]
    per_model = read_budget(study)
    specs = []
    for seed in seeds:
        for level in args.levels:
            for name in args.models:
                model, profile = tuned_profile(name)
                trained = model not in FIXED_BUDGET_MODELS
                tuned = profile_overrides(profile) if profile is not None else {}
                # a profile's setting wins over the budget's (its learning rate, say), as it did in the search
                config = (dict(per_model.get(model, {})) | budget if trained else {}) | tuned | overrides
                specs.append(RunSpec(study=study, level=level, variant=row_variant(name), model=model,
                                     dataset=datasets[level],
                                     seed=seed, data_path=str(args.data_path), config=config,
                                     config_files=dataset_config_files(datasets[level], level)))
    return specs


def budget_table(results, models) -> str:
    """Markdown: per model the budget as run (epochs / stopping_step / eval_step), the epochs actually run
    (mean, min-max over its runs) and the mean wall time of a run."""
    lines = ["| model | max epochs | stopping_step | eval_step | epochs run (mean, range) | wall time per run (mean) |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for model in models:
        members = [r for r in results if row_label(r) == model]
        if not members:
            continue

        def values(key):
            return ", ".join(str(v) for v in sorted({str(r.get("budget", {}).get(key, "?")) for r in members}))

        epochs_run = [r.get("timing", {}).get("train_epochs") for r in members]
        epochs_run = [e for e in epochs_run if e is not None]
        mean_run = (f"{statistics.fmean(epochs_run):.1f} ({min(epochs_run)}-{max(epochs_run)})" if epochs_run
                    else "?")
        walls = [r["wall_seconds"] for r in members if "wall_seconds" in r]
        wall = f"{statistics.fmean(walls):.1f} s" if walls else "?"
        lines.append(f"| {model} | {values('epochs')} | {values('stopping_step')} | {values('eval_step')} | "
                     f"{mean_run} | {wall} |")
    return "\n".join(lines) + "\n"


def check_one_budget(results, study: str, store_root: Path) -> None:
    """DataError (one line) unless the stored runs of one table were made under one budget: each stored
    under ``study`` (the budget's own store) and each trained model's runs with the same
    :data:`RUN_BUDGET_KEYS` as run (the worker's ``budget``: a model YAML edited between runs changes them
    without changing the runs' fingerprints); a key that the model's tuned profile sets (the validation search
    chose it, ``eval_step`` say) needs to agree within each row only."""
    for result in results:
        stored_under = result["spec"].get("study", study)
        if stored_under != study:
            raise DataError(store_root / f"{result['key']}.json",
                            f"was run under the '{stored_under}' budget, not '{study}': one table never mixes "
                            "budgets (move it away to run it again)")
    for model in dict.fromkeys(r["spec"]["model"] for r in results):
        if model in FIXED_BUDGET_MODELS:
            continue
        runs = [r for r in results if r["spec"]["model"] == model]
        tuned = any(r["spec"].get("variant") == f"{model} (tuned)" for r in runs)
        chosen = set(profile_overrides(profile_path(model))) if tuned else set()
        for variant in dict.fromkeys(r["spec"].get("variant") for r in runs):
            _refuse_two_budgets(model, [r for r in runs if r["spec"].get("variant") == variant], RUN_BUDGET_KEYS,
                                store_root)
        _refuse_two_budgets(model, runs, [key for key in RUN_BUDGET_KEYS if key not in chosen], store_root)


def _refuse_two_budgets(model: str, runs, keys, store_root: Path) -> None:
    seen = {}
    for result in runs:
        seen.setdefault(tuple((result.get("budget") or {}).get(key) for key in keys), result["key"])
    if len(seen) > 1:
        (first, a), (second, b) = list(seen.items())[:2]
        as_text = lambda budget: ", ".join(f"{k} {v}" for k, v in zip(keys, budget))  # noqa: E731
        raise DataError(store_root, f"{model}'s stored runs ran under different budgets ({a}: {as_text(first)}; "
                                    f"{b}: {as_text(second)}): one table never mixes budgets (move the "
                                    "stale runs away to run them again)")


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
    return {m: next((s.config for s in specs if s.variant == m), {}) for m in models}


def protocol_rows(results, protocols) -> list[dict]:
    """:func:`aggregate_runs` rows per protocol (``protocol`` and ``model`` added), in ``protocols`` order."""
    return [r | {"model": r["variant"], "protocol": protocol}
            for protocol in protocols
            for r in aggregate_runs(results, ("level", "variant"), PROTOCOL_RESULTS[protocol])]


def reference_rows(ceilings_by_level: dict, protocol: str) -> list[tuple[str, dict]]:
    """:func:`~poserec_experiments.report.wide_table`'s ``reference_rows`` of the ceilings under ``protocol``."""
    labels = list(dict.fromkeys(c.label for ceilings in ceilings_by_level.values() for c in ceilings))
    return [(label, {(level, metric): value
                     for level, ceilings in ceilings_by_level.items() for c in ceilings if c.label == label
                     for metric, value in c.figures.get(protocol, {}).items()})
            for label in labels]


def protocol_tables(rows, ceilings_by_level, groups, protocols, models_run) -> dict[str, str]:
    """One markdown table per protocol: the models (best per column bold), then the ceilings below a rule."""
    return {protocol: wide_table([r for r in rows if r["protocol"] == protocol], "model", groups, list(METRIC_ORDER),
                                 first_header="model", row_order=models_run,
                                 reference_rows=reference_rows(ceilings_by_level, protocol),
                                 reference_heading=ORACLE_HEADING)
            for protocol in protocols}


def ceiling_notes(ceilings_by_level: dict) -> list[str]:
    """Markdown bullets: what each oracle is, and why one has no figures at a level."""
    notes = [
        "- *oracle: subcategory frequency*: ranks items by their positive training interactions within the test "
        "video's **true subcategory** (ties: overall popularity).",
        "- *oracle: generator ceiling* (synthetic data only): P(item is a positive | the video's subcategory and "
        "hidden style), estimated by re-running the generator's annotation process (Monte Carlo), ranked.",
    ]
    for level, ceilings in ceilings_by_level.items():
        notes += [f"- {c.label}, {LEVEL_LABELS[level]}: {c.reason}" for c in ceilings if c.reason]
    return notes


def missing_video_note(results, protocols) -> list[str]:
    """A line naming the runs without video-level figures (stored before video-level evaluation existed)."""
    if "video" not in protocols:
        return []
    missing = [r["key"] for r in results if not r.get(PROTOCOL_RESULTS["video"])]
    if not missing:
        return []
    return [f"**No video-level figures** stored for {len(missing)} run(s) (made before video-level evaluation "
            f"existed, or without `video` in `eval_protocols`): {', '.join(missing)}; their video-level cells "
            "are left out (`seeds` says how many runs a cell averages).", ""]


def video_aggregation_text(results) -> str:
    """``mean`` (or ``max``, or ``mean, max`` when the runs differ): the ``video_aggregation`` the runs used."""
    values = sorted({str(r["budget"]["video_aggregation"]) for r in results
                     if "video_aggregation" in (r.get("budget") or {})})
    return ", ".join(values) or "not recorded"


def readme_section(tables: dict[str, str], notes: list[str], significance: str, provenance: list[str],
                   command: str, budget: str, reference: str = REFERENCE_MODEL) -> str:
    """The README's results section: this repository's tables (both protocols, the ceilings below a rule)
    and the p-values, beside the paper's table (labelled as such)."""
    body = ["### Table 1 on the default data (written by the benchmark)", "", *provenance, "",
            f"Regenerated by `{command}` (training budget `{budget}`); details, budgets and timings in "
            "[results/table1.md](results/table1.md), plot in [results/table1.png](results/table1.png).", ""]
    for protocol, table in tables.items():
        body += [f"**{PROTOCOL_LABELS[protocol].capitalize()}** ({PROTOCOL_TEXT[protocol]}):", "", table]
    body += ["The rows below the rule are ceilings, not models:", "", *notes, "",
             f"**{reference} vs every other model** (test NDCG@10, Wilcoxon signed-rank over test units, Holm-corrected; "
             "method in [results/table1.md](results/table1.md)):", "", significance]
    return "\n".join(body + [
        "### The paper's Table 1 (real Pose-OBE; the authors' figures, not reproduced here)",
        "",
        "Quoted from the paper for orientation only: different data (real videos and expert annotations, "
        "BERT-base factor embeddings), so the two tables are not comparable cell by cell. NCF = NeuMF; "
        "the paper's video-feature baselines (C3D, P3D, CSN) are not part of this plug-in; — = not reported.",
        "",
        paper_table1_markdown(),
    ])


def write_outputs(out: Path, specs, summary, args, data_path: Path, command: str) -> list[Path]:
    """table1.csv, ceilings.csv, significance.csv, timings.csv, table1.md, table1.png, timings.png from the
    stored results of ``specs``; nothing is written when they mix budgets (:func:`check_one_budget`)."""
    results = [summary.results[s.key] for s in specs if s.key in summary.results]
    study = BUDGETS[budget_name(args)]
    check_one_budget(results, study, out / "runs" / study)
    groups = [(level, LEVEL_LABELS[level]) for level in args.levels]
    rows = protocol_rows(results, args.protocols)
    timings = device_timings(results)
    seeds = seed_list(args.seeds, args.first_seed)
    datasets = {"ins": args.ins_dataset, "cat": args.cat_dataset}
    metas = {level: read_meta(data_path, datasets[level]) for level in args.levels}
    provenance = [line for level in args.levels for line in provenance_lines(metas[level], datasets[level])]
    ceilings = {level: dataset_ceilings(data_path, datasets[level], metas[level]) for level in args.levels}
    models_run = [v for v in map(row_variant, args.models) if any(row_label(r) == v for r in results)]
    reference = TUNED_REFERENCE if TUNED_REFERENCE in models_run else REFERENCE_MODEL
    comparisons = compare_models(results, args.levels, args.protocols, models_run, reference=reference)
    significance = significance_markdown(comparisons, LEVEL_LABELS, PROTOCOL_LABELS, reference)
    tables = protocol_tables(rows, ceilings, groups, args.protocols, models_run)
    notes = ceiling_notes(ceilings)
    budget_file = BUDGETS_DIR / f"{study}.yaml"
    outputs = [write_csv(out / "table1.csv", TABLE1_HEADER, rows),
               write_csv(out / "ceilings.csv", CEILINGS_HEADER,
                         [r for r in ceiling_rows(ceilings) if r["protocol"] in args.protocols]),
               write_csv(out / "significance.csv", SIGNIFICANCE_HEADER, [c.row() for c in comparisons]),
               write_csv(out / "timings.csv", TIMINGS_HEADER, timings)]
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
        "positives are the score > 0 annotations; the checkpoint with the best validation NDCG@10 (window "
        "level) is tested (`saved=True`). Two test protocols: "
        + "; ".join(f"**{PROTOCOL_LABELS[p]}**: {PROTOCOL_TEXT[p]}" for p in args.protocols)
        + f". Video aggregation of the runs: {video_aggregation_text(results)}.",
        "",
        f"**Seeds.** RecBole `seed` {', '.join(map(str, seeds))}; cells are mean ± sample standard deviation "
        "(ddof = 1; 0 with one seed) over the finished seeds (`seeds` column of `table1.csv`). Best mean per "
        "column in **bold**; the rows below the rule are oracles (`ceilings.csv`), never bold.",
        "",
        f"**Training budget: `{budget_name(args)}`** (`poserec_experiments/budgets/{budget_file.name}`, layered "
        "over each model's YAML unless overridden on the command line; Random, Pop and PoseKNN have nothing "
        "to train; every run of this table was made under it):",
        "",
        budget_table(results, models_run),
        f"Per-model settings of `{budget_file.name}` used (layered over the model's YAML): "
        + "; ".join(f"{m}: `{overrides}`" for m, overrides in run_overrides(specs, models_run).items()) + ".",
        "",
        f"**Compute.** Sum of the runs' wall times: {format_duration(summary.compute_seconds)} "
        f"({len(results)} runs; this invocation {format_duration(summary.elapsed_seconds)}).",
        "",
        f"**Devices.** {devices_text(results)}; timings of different devices are separate rows.",
        "",
        *missing_video_note(results, args.protocols),
    ]
    for protocol, table in tables.items():
        text += [f"## {PROTOCOL_LABELS[protocol].capitalize()}", "", table]
    text += ["**Ceilings** (rows below the rule):", "", *notes, "",
             "## Significance", "", *method_lines(reference=reference), "", significance,
             "**Wall time per run** (mean over seeds; train = RecBole `fit`, i.e. training and validation passes; "
             "test = the window-level test evaluation):", "", timing_table(timings, args.levels)]
    if summary.not_done:
        text += ["**Runs not done** (failed or running in another process; left out above): "
                 + ", ".join(summary.not_done), ""]
    outputs.append(write_markdown(out / "table1.md", "\n".join(text)))
    if rows:
        plot_rows = [r | {"level": f"{r['level']}:{r['protocol']}"} for r in rows]
        plot_groups = [(f"{level}:{protocol}", f"{label}, {PROTOCOL_LABELS[protocol]}")
                       for level, label in groups for protocol in args.protocols]
        outputs.append(grouped_bars(out / "table1.png", plot_rows, "model", plot_groups, list(METRIC_ORDER),
                                    title="Table 1 (mean ± std over seeds)"))
        outputs.append(timing_bars(out / "timings.png", timings, "variant", groups))
    if rows and writes_repository_results(out):
        replace_section("results", readme_section(tables, notes, significance, provenance, command,
                                                  budget_name(args), reference))
        outputs.append(README)
    return outputs


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    check_common_arguments(parser, args)
    unique_values(parser, "--models", args.models)
    unique_values(parser, "--protocols", args.protocols)
    if args.quick:
        args.seeds = args.seeds or 1
        args.epochs = args.epochs or 1
        args.budget = args.budget or "cpu"
        args.models = args.models or list(QUICK_MODELS)
        args.out = args.out or "benchmark_runs/quick/"
    args.seeds = args.seeds or DEFAULT_SEEDS
    args.models = args.models or default_rows()
    args.out = args.out or "results/"
    data_path = Path(args.data_path).resolve()
    out = Path(args.out)
    specs = build_specs(args, data_path)
    if args.dry_run:
        print_dry_run(specs)
        return 0
    store = ResultStore(out / "runs" / BUDGETS[budget_name(args)])
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
    command = command_string("poserec_experiments.benchmark", argv)
    if args.budget is None:  # the default follows --device, which the command leaves out: state it
        command += f" --budget {budget_name(args)}"
    outputs = write_outputs(out, specs, summary, args, data_path, command)
    print_footer(summary, outputs)
    return exit_status(summary)


if __name__ == "__main__":
    sys.exit(run_main(main))
