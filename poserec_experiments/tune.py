"""Choose PoseRec's tuned profile on the validation split: a documented, staged search.

``python -m poserec_experiments.tune [--model PoseRec] [--jobs N] [--seeds N] [--base-seeds 3] [--window-step 20]
[--data-path dataset/] [--out results/tuning/] [--profile FILE] [--check] [--dry-run] [--report-only]``

Every run is the model as its YAML configures it (``properties/model/<model>.yaml``; for PoseRec the paper's
settings) with one candidate's overrides, on the instance-level dataset with a window every ``--window-step``
frames, and **evaluated on the validation split only** (``eval_protocols: []``: no test figure is computed during
the search). PoseRec trains with the search budget (``budgets/tuning.yaml``: its learning rate unless a candidate sets one,
at most 40 epochs and early stopping; the log gives each run's epochs, so a run that did not stop early shows) and searches
:data:`CANDIDATES`; any other model trains with its benchmark budget (``budgets/benchmark.yaml``) and searches
the pose normalisations (:data:`POSE_CANDIDATES`): whatever preprocessing of the pose PoseRec is offered,
every model that reads a pose feature is offered too; and a model whose budget validates once, after its last
epoch, is offered validation every epoch (:data:`EPOCH_VALIDATION`), as PoseRec may choose its checkpoint. The search:

1. *One change at a time*: each entry of :data:`CANDIDATES` alone over the paper's settings (and the paper's
   settings themselves, on ``--base-seeds`` training seeds: their spread is what a reseed moves).
2. *Combinations*: in every group of :data:`CANDIDATES` (changes that replace one another, e.g. two pose
   normalisations) the candidate of stage 1 with the best validation NDCG@10 is the group's best; it is a
   winner if it beats the model as configured by more than one standard deviation of the model as configured
   over its seeds (by anything, with one seed), so that a change within reseed noise does not enter every
   combination. Stage 2 runs all winners together, the combination with each
   winner left out in turn (when there are more than two), and the winners with each other group's best
   added in turn (a change that does not help alone may help with the others: a normalised pose, say, with
   another loss).
3. *Refinement* (stages 3 to :data:`LAST_STAGE`): the same two moves around the best run so far (each of its
   changes left out, each other group's stage-1 best added), skipping combinations already run in any order,
   repeated until the best run's neighbours have all been run. Stage 2 starts from the winners; the best
   combination may be a neighbour of it (a change that helped alone may not help once another one is in).
4. *Confirmation*: the :data:`FINALISTS` best runs of all stages are re-run on the ``--base-seeds`` training
   seeds (one seed moves a run by about as much as the finalists differ), and the profile chosen is the
   finalist with the best mean validation NDCG@10.

Outputs under ``--out``: ``<model>-search.csv`` / ``.md`` (every run sorted by validation
NDCG@10; the search log) and ``runs/tune-<model>/`` (the stored runs, resumable); the chosen overrides are
written to ``--profile`` (default ``properties/model/<model>-tuned.yaml``), which the benchmark's
``<model>-tuned`` row layers over the model's YAML. Test figures of a chosen profile are computed once, by the
benchmark.

``--check``: no search; the model as configured and with the profile already in ``--profile``, on the data
given (``--data-path`` / ``--ins-dataset``: other synthetic seeds, say), same budget, validation only, written
to ``<model>-check-<dataset>.csv`` / ``.md`` (runs under ``runs/tune-<model>-check-<dataset>/``). It tells
whether a profile chosen on one dataset also helps on another; it changes no profile.

Bad input and interruptions: as for ``python -m poserec_experiments.ablate``.
"""

from __future__ import annotations

from dataset_conversion.entrypoint import install_startup_signal_handlers

install_startup_signal_handlers()  # before the heavy imports: a signal during them is one line too

import argparse
import csv
import math
import sys
from pathlib import Path

import yaml

from dataset_conversion.entrypoint import ArgumentParser, int_at_least, positive_int, run_main
from dataset_conversion.errors import DataError
from poserec_experiments.ablate import DatasetResolver, model_defaults
from poserec_experiments.aggregate import aggregate_runs, trained_epochs, write_csv
from poserec_experiments.arguments import (
    MAX_SEEDS,
    add_common_arguments,
    check_common_arguments,
    command_string,
    exit_status,
    parse_overrides,
    print_dry_run,
    print_footer,
    seed_list,
    writable_directory,
)
from poserec_experiments.budgets import read_budget
from poserec_experiments.candidates import CANDIDATES, EPOCH_VALIDATION, POSE_CANDIDATES, Candidate, profile_path
from poserec_experiments.derived_datasets import dataset_config_files, read_meta
from poserec_experiments.readme import README, replace_section, writes_repository_results
from poserec_experiments.report import format_duration, format_number, provenance_lines, write_markdown
from poserec_experiments.runner import (
    ResultStore,
    RunSpec,
    atomic_write_text,
    check_store,
    collect,
    portable_path,
    run_all,
)

STUDY = "tune"
LEVEL = "ins"
METRIC = "ndcg@10"
BASE = "as configured"  # the base variant: the model as its YAML configures it (PoseRec: the paper's settings)
TUNED = "tuned profile"  # the profile under check (--check)
CSV_HEADER = ["stage", "variant", "overrides", "seeds", "valid_ndcg@10", "valid_ndcg@10_std", "valid_recall@10",
              "epochs", "chosen"]
BUDGET = read_budget("tuning")
BASE_SEEDS = 3  # PoseRec's default --base-seeds
PROFILE_BUDGET_KEYS = ("learning_rate",)  # search-budget settings a profile keeps (profile_settings)
FINALISTS = 3  # the search's best runs re-run on --base-seeds seeds before one is chosen
LAST_STAGE = 6  # stages 3 to 6: at most four rounds of refinement after stage 2, a bound on the search's compute




def candidates_of(model: str) -> tuple[Candidate, ...]:
    """:data:`CANDIDATES` for PoseRec; else the pose normalisations, and :data:`EPOCH_VALIDATION` for a model
    whose benchmark budget validates less often than every epoch."""
    if model == "PoseRec":
        return CANDIDATES
    validates_rarely = (read_budget("benchmark").get(model) or {}).get("eval_step", 1) > 1
    return POSE_CANDIDATES + ((EPOCH_VALIDATION,) if validates_rarely else ())


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="python -m poserec_experiments.tune", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="PoseRec", help="the model searched (default PoseRec)")
    parser.add_argument("--out", default="results/tuning/", help="output directory (default results/tuning/)")
    parser.add_argument("--profile", default=None,
                        help="where the chosen overrides are written (default properties/model/<model>-tuned.yaml)")
    parser.add_argument("--raw-dir", default=None, help="raw data of the sparser-step dataset (as for ablate)")
    parser.add_argument("--window-step", type=positive_int, default=BUDGET["window_step"],
                        help=f"a window every N frames (default {BUDGET['window_step']}, budgets/tuning.yaml)")
    parser.add_argument("--base-seeds", type=int_at_least(1, MAX_SEEDS), default=None,
                        help="seeds of the model as configured in the search's stage 1 and of the finalists when "
                             "more than --seeds; a winner must beat the model as configured's mean by more than its "
                             f"standard deviation, the profile is the finalist with the best mean (default {BASE_SEEDS} for "
                             "PoseRec; 1 for a baseline, whose one group of candidates has no stage 2)")
    parser.add_argument("--check", action="store_true",
                        help="no search: the model as configured and with the profile --profile on the data given")
    add_common_arguments(parser)
    return parser


def training_config(args) -> dict:
    """The model's budget (see the module docstring), ``--set`` overrides, and no test evaluation."""
    budget = dict(BUDGET["train"]) if args.model == "PoseRec" else dict(read_budget("benchmark").get(args.model, {}))
    for key, value in (("epochs", args.epochs), ("stopping_step", args.stopping_step), ("eval_step", args.eval_step)):
        if value is not None:
            budget[key] = value
    return budget | parse_overrides(args.overrides) | {"eval_protocols": []}


def study_name(args, dataset: str) -> str:
    """``tune-<model>`` for the search, ``tune-<model>-check-<dataset>`` for a check (its runs and store)."""
    return f"{STUDY}-{args.model}-check-{dataset}" if getattr(args, "check", False) else f"{STUDY}-{args.model}"


def seeds_of(variant: str, args) -> int:
    """``--seeds``, or for the search's model as configured ``max(--seeds, --base-seeds)``."""
    searched_base = variant == BASE and not getattr(args, "check", False)
    return max(args.seeds, getattr(args, "base_seeds", None) or 0) if searched_base else args.seeds


def specs_for(variants: list[tuple[str, str, dict]], args, dataset: str, seeds: int | None = None) -> list[RunSpec]:
    """One spec per (variant, seed); ``variants`` are ``(stage, name, overrides)``; ``seeds`` (default
    :func:`seeds_of`) training seeds each."""
    base = training_config(args)
    defaults = model_defaults() if args.model == "PoseRec" else {}
    specs = []
    for stage, name, overrides in variants:
        for seed in seed_list(seeds or seeds_of(name, args), args.first_seed):
            spec = RunSpec(study=study_name(args, dataset), level=LEVEL, variant=name, model=args.model,
                           dataset=dataset, seed=seed,
                           data_path=str(args.data_path), config=base | overrides,
                           config_files=dataset_config_files(dataset, LEVEL),
                           data_recipe={"window_step": args.window_step, "stage": stage})
            spec.reuse_key = spec.equivalence_key(defaults)
            specs.append(spec)
    return specs


def stage_one(model: str) -> list[tuple[str, str, dict]]:
    return [("1", BASE, {})] + [("1", c.name, dict(c.config)) for c in candidates_of(model)]


def validation_scores(specs, summary) -> dict[str, tuple[float, float, float, int]]:
    """Per variant: (mean valid NDCG@10, its std, mean valid Recall@10, seeds)."""
    results = [summary.results[s.key] for s in specs if s.key in summary.results]
    rows = aggregate_runs(results, ("variant",), field="best_valid_result")
    scores = {}
    for variant in dict.fromkeys(r["variant"] for r in rows):
        of = {r["metric"]: r for r in rows if r["variant"] == variant}
        if METRIC in of:
            recall = of.get("recall@10", {}).get("mean", float("nan"))
            scores[variant] = (of[METRIC]["mean"], of[METRIC]["std"], recall, of[METRIC]["seeds"])
    return scores


def epochs_trained(specs, summary, budget: dict) -> dict[str, str]:
    """Per variant: the epochs each seed's run trained, ``(max)`` marking a run that did not stop early."""
    epochs: dict[str, list[str]] = {}
    for spec in specs:
        trained = trained_epochs(summary.results.get(spec.key) or {})
        if trained is not None:
            at_max = trained >= budget.get("epochs", math.inf)
            epochs.setdefault(spec.variant, []).append(f"{trained}{' (max)' if at_max else ''}")
    return {variant: ", ".join(values) for variant, values in epochs.items()}


def winner_threshold(scores) -> float:
    """The validation NDCG@10 a group's best must exceed to be a winner: the model as configured's mean plus its
    standard deviation over seeds (the mean alone with one seed)."""
    mean, std, _, seeds = scores[BASE]
    return mean + (std if seeds > 1 and math.isfinite(std) else 0.0)


def group_bests(scores, model: str) -> list[Candidate]:
    """Per group of candidates (in their order), the one with the best validation NDCG@10 among those run."""
    candidates = candidates_of(model)
    bests = []
    for group in dict.fromkeys(c.group for c in candidates):
        members = [c for c in candidates if c.group == group and c.name in scores]
        if members:
            bests.append(max(members, key=lambda c: scores[c.name][0]))
    return bests


def as_variant(stage: str, combo: list[Candidate]) -> tuple[str, str, dict]:
    """``(stage, name, overrides)`` of a combination of candidates: the names joined with `` + ``."""
    return stage, " + ".join(c.name for c in combo), {k: v for c in combo for k, v in c.config.items()}


def ranked_variants(scores, variants: list[tuple[str, str, dict]]) -> list[tuple[str, str, dict]]:
    """The variants that have a score, best validation NDCG@10 first (ties in their order)."""
    return sorted((v for v in variants if v[1] in scores), key=lambda v: -scores[v[1]][0])


def stage_two(scores, model: str) -> list[tuple[str, str, dict]]:
    """All winners together and, with several, each left out in turn (see the module docstring)."""
    if BASE not in scores:
        return []
    threshold = winner_threshold(scores)
    bests = group_bests(scores, model)
    winners = [c for c in bests if scores[c.name][0] > threshold]
    runners_up = [c for c in bests if scores[c.name][0] <= threshold]
    if not winners:
        return []
    combos = [winners] if len(winners) > 1 else []
    if len(winners) > 2:
        combos += [[w for w in winners if w is not left] for left in winners]
    combos += [winners + [best] for best in runners_up]
    return [as_variant("2", combo) for combo in combos]


def combination_of(variant: str, model: str) -> list[Candidate]:
    """The candidates a search variant's name joins with `` + `` ([] for the model as configured)."""
    by_name = {c.name: c for c in candidates_of(model)}
    return [] if variant == BASE else [by_name[name] for name in variant.split(" + ")]


def refinement(scores, model: str, variants: list[tuple[str, str, dict]], stage: str) -> list[tuple[str, str, dict]]:
    """One round of the local search after stage 2: stage 2's two moves around the best run so far (each of its
    changes left out, each other group's stage-1 best added), without a combination already run (in any order).
    Empty when the best run is the model as configured or all its neighbours have been run."""
    ranked = ranked_variants(scores, variants)
    if not ranked or ranked[0][1] == BASE:
        return []
    best = combination_of(ranked[0][1], model)
    held_groups = {c.group for c in best}
    added = [c for c in group_bests(scores, model) if c.group not in held_groups]
    neighbours = [[c for c in best if c is not left] for left in best] + [best + [c] for c in added]
    tried = {frozenset(c.name for c in combination_of(name, model)) for _, name, _ in variants}
    fresh = []
    for combo in neighbours:
        members = frozenset(c.name for c in combo)
        if members not in tried:
            tried.add(members)
            fresh.append(as_variant(stage, combo))
    return fresh


def finalists(scores, variants: list[tuple[str, str, dict]]) -> list[tuple[str, str, dict]]:
    """The :data:`FINALISTS` variants with the best validation NDCG@10 (the model as configured among them when it
    is one of the best: then the profile may stay empty)."""
    return ranked_variants(scores, variants)[:FINALISTS]


def profile_settings(budget: dict, overrides: dict) -> dict:
    """What a profile holds: the chosen run's overrides, and the search budget's learning rate where they set
    none. The learning rate is a setting of the run chosen (PoseRec.yaml's is the paper's 1e-4), so the profile
    trains what was chosen wherever it is layered; epochs and early stopping stay the budget's."""
    return {key: budget[key] for key in PROFILE_BUDGET_KEYS if key in budget} | overrides


def choose(scores, variants: list[tuple[str, str, dict]], confirmed) -> tuple[str, str, dict] | None:
    """The variant with the best mean validation NDCG@10 among the ``confirmed`` finalists (among all, without
    finalists); None when no variant has a score."""
    ranked = ranked_variants(scores, variants)
    eligible = [v for v in ranked if v[1] in confirmed] or ranked
    return eligible[0] if eligible else None


def winner_threshold_text(scores) -> str:
    if BASE not in scores:
        return "n/a"
    mean, std, _, seeds = scores[BASE]
    spread = f" ± {format_number(std, 4)} over {seeds} seeds" if seeds > 1 else " (one seed)"
    return f"{format_number(winner_threshold(scores), 4)}, the model as configured's {format_number(mean, 4)}{spread}"


def write_profile(path: Path, model: str, name: str, overrides: dict, score: float, command: str) -> Path:
    header = [
        f"# {model} (tuned): the overrides over {model}.yaml chosen on the validation split by",
        f"#   {command}",
        f"# (variant {name!r}, validation NDCG@10 {score:.4f}; search log results/tuning/{model}-search.md).",
        "# Written by poserec_experiments/tune.py; do not edit by hand, rerun the search.",
    ]
    body = yaml.safe_dump(overrides, sort_keys=True, default_flow_style=False) if overrides else "{}\n"
    atomic_write_text(path, "\n".join(header) + "\n" + body)
    return path


def write_outputs(args, specs, summary, variants, data_path: Path, dataset: str, command: str,
                  confirmed: list[str] = ()) -> list[Path]:
    """The search log (or the check's) and, for a search, the profile: the best of the ``confirmed`` finalists
    (by their mean over the base seeds), or the best run when there are none."""
    scores = validation_scores(specs, summary)
    budget = training_config(args)
    epochs = epochs_trained(specs, summary, budget)
    ranked = ranked_variants(scores, variants)
    chosen = None if args.check else choose(scores, variants, confirmed)
    rows = [{"stage": stage, "variant": name, "overrides": yaml.safe_dump(cfg, default_flow_style=True,
                                                                           width=math.inf).strip(),
             "seeds": scores[name][3], "valid_ndcg@10": scores[name][0], "valid_ndcg@10_std": scores[name][1],
             "valid_recall@10": scores[name][2], "epochs": epochs.get(name, ""),
             "chosen": chosen is not None and name == chosen[1]}
            for stage, name, cfg in ranked]
    out = Path(args.out)
    stem = f"{args.model}-check-{dataset}" if args.check else f"{args.model}-search"
    outputs = [write_csv(out / f"{stem}.csv", CSV_HEADER, rows)]
    table = ["| stage | variant | overrides | valid NDCG@10 | valid Recall@10 | epochs trained |",
             "| --- | --- | --- | ---: | ---: | ---: |"]
    for row in rows:
        mark = "**" if row["chosen"] else ""
        spread = f" ± {format_number(row['valid_ndcg@10_std'], 4)}" if row["seeds"] > 1 else ""
        table.append(f"| {row['stage']} | {mark}{row['variant']}{mark} | `{row['overrides']}` | "
                     f"{mark}{format_number(row['valid_ndcg@10'], 4)}{spread}{mark} | "
                     f"{format_number(row['valid_recall@10'], 4)} | {row['epochs']} |")
    seeds = ", ".join(map(str, seed_list(args.seeds, args.first_seed)))
    base_count = seeds_of(BASE, args)
    base_seeds_text = ("" if base_count == args.seeds else
                       f" (the model as configured: {', '.join(map(str, seed_list(base_count, args.first_seed)))})")
    settings = {k: v for k, v in budget.items() if k != "eval_protocols"}
    if args.check:
        title = f"# {args.model}'s tuned profile checked on `{dataset}` (validation split)"
        how = ("**Check** (`poserec_experiments/tune.py --check`): the model as configured and with the profile "
               f"`{portable_path(Path(args.profile).resolve())}` (chosen by the search on other data), nothing "
               "else searched, nothing chosen.")
    else:
        title = f"# {args.model}'s tuned profile: the search on the validation split"
        how = ("**Search** (`poserec_experiments/tune.py`): stage 1 changes one thing at a time; stage 2 combines "
               "the best change of every group that beat the model as configured in stage 1 by more than its "
               f"standard deviation over seeds (the winners: above {winner_threshold_text(scores)}), leaves "
               "each out in turn when there are more than two, and adds each other group's best to the winners "
               f"in turn; stages 3 to {LAST_STAGE} make the same two moves around the best run so far, until its "
               "neighbours have all been run.")
        if base_count > args.seeds:
            how += (f" The {FINALISTS} best runs are then re-run on the model as configured's {base_count} seeds, "
                    "and the finalist with the best mean is chosen.")
    text = [
        title,
        "",
        f"Regenerate: `{command}`",
        "",
        "**Data.**", *provenance_lines(read_meta(data_path, dataset), dataset), "",
        f"**Runs.** {args.model} (`properties/model/{args.model}.yaml`) with each variant's overrides; "
        f"instance level, a window every {args.window_step} frames; settings over the YAML `{settings}`; "
        f"RecBole seed {seeds}{base_seeds_text}. Selection metric: the best validation NDCG@10 of each run (its best epoch); "
        "*epochs trained* per seed, `(max)` where a run reached the maximum instead of stopping early. "
        "**No test figure was computed** (`eval_protocols: []`).",
        "",
        how,
        "",
        f"**Compute.** Sum of the runs' wall times: {format_duration(summary.compute_seconds)} ({len(specs)} runs).",
        "",
        *table,
        "",
    ]
    if confirmed:
        text += [f"Finalists, re-run on {base_count} seeds: " + "; ".join(confirmed) + ".", ""]
    if chosen is not None:
        text.append(f"Chosen: **{chosen[1]}**, written to `{portable_path(Path(args.profile).resolve())}`.")
        outputs.append(write_profile(Path(args.profile), args.model, chosen[1], profile_settings(budget, chosen[2]),
                                     scores[chosen[1]][0], command))
    if summary.not_done:
        text += ["", "**Runs not done** (failed or running elsewhere; left out above): " + ", ".join(summary.not_done)]
    outputs.append(write_markdown(out / f"{stem}.md", "\n".join(text) + "\n"))
    if writes_repository_results(out):
        replace_section("tuning", readme_section(out))
        outputs.append(README)
    return outputs


def readme_section(out: Path) -> str:
    """The README's summary of every search logged under ``out``: per model, the model as configured and the
    chosen profile, on validation NDCG@10 (read back from each ``<model>-search.csv``)."""
    lines = ["| model | as configured, valid NDCG@10 | chosen profile | its overrides | valid NDCG@10 | runs |",
             "| --- | ---: | --- | --- | ---: | ---: |"]
    for path in sorted(out.glob("*-search.csv"), key=lambda p: (p.name != "PoseRec-search.csv", p.name)):
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        base = next((r for r in rows if r["variant"] == BASE), None)
        chosen = next((r for r in rows if r["chosen"] == "True"), None)
        if base is None or chosen is None:
            continue
        lines.append(f"| {path.name[:-len('-search.csv')]} | {float(base['valid_ndcg@10']):.4f} | {chosen['variant']} | "
                     f"`{chosen['overrides']}` | {float(chosen['valid_ndcg@10']):.4f} | {len(rows)} |")
    checks = []
    for path in sorted(out.glob("*-check-*.csv")):
        with open(path, newline="", encoding="utf-8") as handle:
            scores = {r["variant"]: float(r["valid_ndcg@10"]) for r in csv.DictReader(handle)}
        if BASE in scores and TUNED in scores:
            model, dataset = path.stem.split("-check-", 1)
            checks.append(f"| {model} | `{dataset}` | {scores[BASE]:.4f} | {scores[TUNED]:.4f} |")
    if checks:
        checks = ["", "Each profile checked on other data (`python -m poserec_experiments.tune --check`, same budget):",
                  "", "| model | data | as configured, valid NDCG@10 | tuned profile, valid NDCG@10 |",
                  "| --- | --- | ---: | ---: |", *checks]
    return "\n".join(["Written by `python -m poserec_experiments.tune [--model M]` (validation figures only; the test "
                      "figures of the chosen profiles are Table 1's `(tuned)` rows):", "", *lines, *checks, ""])


def check_variants(args) -> list[tuple[str, str, dict]]:
    """``--check``: the model as configured and with the overrides already written to ``--profile``."""
    path = Path(args.profile)
    try:
        overrides = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise DataError(path, f"cannot be read ({error.strerror}); --check needs a profile the search wrote") from None
    except yaml.YAMLError:
        raise DataError(path, "is not valid YAML") from None
    if not isinstance(overrides, dict):
        raise DataError(path, "is not a YAML mapping of overrides")
    return [("check", BASE, {}), ("check", TUNED, overrides)]


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    args.levels = [LEVEL]
    check_common_arguments(parser, args, seed_counts=[args.base_seeds])
    args.seeds = args.seeds or 1
    if args.base_seeds is None:
        args.base_seeds = BASE_SEEDS if args.model == "PoseRec" else 1
    args.profile = args.profile or str(profile_path(args.model))
    args.study, args.frames_step = STUDY, args.window_step
    data_path = Path(args.data_path).resolve()
    resolver = DatasetResolver(args, data_path)
    dataset = resolver.base(LEVEL)
    store = ResultStore(Path(args.out) / "runs" / study_name(args, dataset))
    first = check_variants(args) if args.check else stage_one(args.model)
    specs = specs_for(first, args, dataset)
    if args.dry_run:
        print_dry_run(specs)
        return 0
    writable_directory("--out", Path(args.out))
    command = command_string("poserec_experiments.tune", argv)
    if args.report_only:
        summary = collect(specs, store)
    else:
        writable_directory("--work-dir", Path(args.work_dir))
        check_store(specs, store)
        resolver.ensure_base(LEVEL)
        summary = run_all(specs, store, args.work_dir, timeout=args.timeout, keep_checkpoints=False,
                          progress=not args.no_progress, jobs=args.jobs, device=args.device)

    def run_more(more: list[RunSpec]) -> None:
        """Run ``more`` (``--report-only``: read their stored results) and add their results to ``summary``."""
        if args.report_only:
            extra = collect(more, store)
        else:
            check_store(more, store)
            extra = run_all(more, store, args.work_dir, timeout=args.timeout, keep_checkpoints=False,
                            progress=not args.no_progress, jobs=args.jobs, device=args.device)
        summary.results.update(extra.results)
        summary.failed.update(extra.failed)
        summary.busy.update(extra.busy)

    variants, searched = first, specs
    later = [] if args.check else stage_two(validation_scores(specs, summary), args.model)
    stage = 2
    while later:  # stage 2, then rounds of refinement around the best run so far (stage 3 to LAST_STAGE)
        more = specs_for(later, args, dataset)
        run_more(more)
        variants, searched, stage = variants + later, searched + more, stage + 1
        scores = validation_scores(searched, summary)
        later = refinement(scores, args.model, variants, str(stage)) if stage <= LAST_STAGE else []
    confirming = not args.check and seeds_of(BASE, args) > args.seeds
    confirmed = finalists(validation_scores(searched, summary), variants) if confirming else []
    if confirmed:  # the finalists on the base seeds (their first seed's runs are the ones already stored)
        keys = {spec.key for spec in searched}
        more = [s for s in specs_for(confirmed, args, dataset, seeds_of(BASE, args)) if s.key not in keys]
        run_more(more)
        searched = searched + more
    outputs = write_outputs(args, searched, summary, variants, data_path, dataset, command,
                            [name for _, name, _ in confirmed])
    print_footer(summary, outputs)
    return exit_status(summary)


if __name__ == "__main__":
    sys.exit(run_main(main))
