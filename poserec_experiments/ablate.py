"""The paper's ablations and studies of PoseRec, each variant trained and tested with N seeds.

``python -m poserec_experiments.ablate <study> [--seeds N] [--base-seeds N] [--epochs N] [--window-step K] [--quick]
[--data-path dataset/] [--out results/ablations/] [--levels ins cat] [--variants NAME ...]``

Studies (variants, the paper's reported direction and the findings judged: :mod:`poserec_experiments.studies`):

``triplet``     with / without L_triple, and the mining variants pose_threshold, pose_fraction, random, hard,
                with each variant's training step time (Table 2)
``prototypes``  K in {1, 2, 4, 8}, with and without L_pro, K x d = 256 (Fig. 3)
``frames``      windows of 10, 25, 50 frames, with relative step time (Table 5)
``layers``      gcn_layers 1-4 at both levels (Table 6 / Fig. 6)
``factors``     leave one of the nine item factors out, and none removed (Fig. 4)
``pose2d``      3D poses vs the same poses without z (Table 4)
``items``       20, 40, 60, 80, 100 % of the items (Fig. 5)
``improvements`` the tuned profile with each of its search candidates left out (not in the paper)

Every run is a real RecBole run of PoseRec in its own process (RecBole ``seed`` 2022, 2023, ...), model
selected on the validation NDCG@10, test metrics reported. One training budget for every variant of every
study, ``poserec_experiments/budgets/ablations.yaml`` (``--epochs``, ``--stopping-step``, ``--eval-step``
override it). ``--set KEY=VALUE`` applies to every run, but a variant's own keys win over it.

Data: the base datasets are ``--ins-dataset`` / ``--cat-dataset`` re-converted with a window every
``--window-step`` frames (default: the budget's ``window_step``, 20: every video and the same split, a
quarter of the windows of the default step 5; ``--window-step 5`` uses the default datasets as they are).
The study's base variant (PoseRec as configured) runs with ``--base-seeds`` seeds when that is more than
``--seeds``; its spread is the noise yardstick of the verdicts (:mod:`poserec_experiments.verdicts`). A run
that another study already finished under another name (the base variant) is reused, not trained again.

Outputs under ``--out`` (default ``results/ablations/``): ``<study>.csv`` (long format
``study,level,variant,metric,mean,std,seeds`` followed by the timing columns ``train_seconds_mean,
test_seconds_mean,step_seconds_mean,step_seconds_std,epochs_mean`` repeated on each metric row of a
variant), ``<study>.md``, ``<study>.png`` and ``runs/<study>/<level>-<variant>-seed<k>.json`` (resumable);
when ``--out`` is the repository's ``results/ablations/``, also the study's part of the README's "Ablations"
section (between ``<!-- ablation-<study>:start -->`` and ``<!-- ablation-<study>:end -->``).
``--quick``: 1 seed, 1 epoch, the study's first two variants unless ``--variants`` is given, output under
``benchmark_runs/quick-ablations/`` unless ``--out`` is given.

Bad input and interruptions: as for ``python -m poserec_experiments.benchmark`` (one ``error:`` line and exit 2
for a bad argument, e.g. an unknown study or a ``--variants`` name the study does not have, or for a
damaged stored result of any study under ``--out``/runs; exit 130 / 143 on Ctrl-C / SIGTERM, the worker
stopped with the command; a run in progress elsewhere is skipped and reported, exit 1). ``--jobs N`` and
``--device cpu|cuda``: as for the benchmark (N runs at once with a share of the cores each; the device is
recorded in each result and stated in ``<study>.md``, and is not part of a run's identity).
"""

from __future__ import annotations

from dataset_conversion.entrypoint import install_startup_signal_handlers

install_startup_signal_handlers()  # before the heavy imports: a signal during them is one line too

import argparse
import sys
from pathlib import Path

import yaml

from dataset_conversion.entrypoint import ArgumentParser, int_at_least, positive_int, run_main
from dataset_conversion.errors import DataError
from dataset_conversion.layout import DEFAULT_STEP, DEFAULT_WINDOW
from recbole_poserec.config import PROPERTIES_DIR
from poserec_experiments.aggregate import aggregate_runs, aggregate_timings, trained_epochs, write_csv
from poserec_experiments.arguments import (
    LEVEL_LABELS,
    MAX_SEED,
    MAX_SEEDS,
    add_common_arguments,
    print_dry_run,
    budget_overrides,
    check_common_arguments,
    command_string,
    devices_text,
    exit_status,
    parse_overrides,
    print_footer,
    seed_list,
    unique_values,
    writable_directory,
)
from poserec_experiments.budgets import read_budget
from poserec_experiments.derived_datasets import (
    CONVERTER_LEVELS,
    ITEM_SUBSET_SEED,
    dataset_config_files,
    ensure_dataset,
    ensure_items_dataset,
    ensure_raw,
    ensure_window_dataset,
    read_meta,
)
from poserec_experiments.report import (
    format_duration,
    format_number,
    grouped_bars,
    line_plot,
    provenance_lines,
    wide_table,
    write_markdown,
)
from poserec_experiments.readme import README, replace_section, writes_repository_results
from poserec_experiments.runner import (
    ResultStore,
    RunSpec,
    check_store,
    check_stored_tree,
    collect,
    find_reusable_in,
    result_device,
    run_all,
)
from poserec_experiments.studies import DEFAULT_SEEDS, STUDIES, Study, Variant
from poserec_experiments.verdicts import StudyResults, verdicts

MODEL = "PoseRec"
BUDGET = read_budget("ablations")
CSV_HEADER = ["study", "level", "variant", "metric", "mean", "std", "seeds", "train_seconds_mean",
              "test_seconds_mean", "step_seconds_mean", "step_seconds_std", "epochs_mean"]


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="python -m poserec_experiments.ablate", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("study", choices=sorted(STUDIES), help="which study")
    parser.add_argument("--levels", nargs="+", default=None, choices=["ins", "cat"],
                        help="levels (default: the study's, e.g. both for triplet and layers)")
    parser.add_argument("--variants", nargs="+", default=None, help="run only these variants (names as in the table)")
    parser.add_argument("--out", default=None, help="output directory (default results/ablations/)")
    parser.add_argument("--raw-dir", default=None,
                        help="raw data of the derived datasets (default: the one --ins-dataset was converted from, "
                             "else <data-path>/raw-synthetic, generated if missing)")
    parser.add_argument("--window-step", type=positive_int, default=BUDGET["window_step"],
                        help=f"a window every N frames in the base and derived datasets (default {BUDGET['window_step']}; "
                             f"{DEFAULT_STEP} = the default datasets as they are)")
    parser.add_argument("--frames-step", type=positive_int, default=None,
                        help="window step of the frames study's datasets (default: --window-step)")
    parser.add_argument("--base-seeds", type=int_at_least(1, MAX_SEEDS), default=None,
                        help="seeds of the study's base variant when more than --seeds (its spread is the noise yardstick)")
    parser.add_argument("--item-seed", type=int_at_least(0, MAX_SEED), default=ITEM_SUBSET_SEED, help="seed of the item subsets (2022)")
    add_common_arguments(parser)
    return parser


def check_required_keys(study: Study) -> None:
    """Fail early when PoseRec does not declare a key the study varies (else both variants would be equal)."""
    if not study.requires_keys:
        return
    declared = model_defaults()
    missing = [key for key in study.requires_keys if key not in declared]
    if missing:
        raise DataError(Path(PROPERTIES_DIR, "model", f"{MODEL}.yaml"),
                        f"does not declare {missing}, which study {study.name} varies; PoseRec would ignore it")


class DatasetResolver:
    """Names (and, on demand, builds) the dataset of each (variant, level).

    The base dataset of a level is ``--ins-dataset`` / ``--cat-dataset`` when its window step is
    ``--window-step``, else ``<that name>-step<k>``: the same raw data converted with a window every k frames
    (same videos, same split). Derived datasets (other T, item subsets) use the same step.
    """

    def __init__(self, args, data_path: Path):
        self.args, self.data_path = args, data_path
        self.given = {"ins": args.ins_dataset, "cat": args.cat_dataset}
        self._raw_dir = None

    @property
    def step(self) -> int:
        return self.args.window_step

    def base(self, level: str) -> str:
        given = self.given[level]
        if read_meta(self.data_path, given).get("step", DEFAULT_STEP) == self.step:
            return given
        return f"{given}-step{self.step}"

    def name(self, variant: Variant, level: str) -> str:
        derived = variant.dataset
        if derived is None:
            return self.base(level)
        if level != "ins":
            raise DataError("--levels", f"variant {variant.name!r} of study {self.args.study} uses a derived "
                                        "instance-level dataset; use --levels ins")
        base = self.base("ins")
        if derived.kind == "window":
            same = derived.value == DEFAULT_WINDOW and self.args.frames_step == self.step
            return base if same else f"{base}-w{derived.value}"
        if derived.kind == "items":
            return base if derived.value == 100 else f"{base}-items{derived.value}"
        raise ValueError(f"unknown derived dataset kind {derived.kind!r}")

    def raw_dir(self) -> Path:
        """``--raw-dir``, else the raw data the given instance-level dataset was converted from (its meta),
        else the default synthetic raw data (generated if missing)."""
        if self._raw_dir is None:
            recorded = read_meta(self.data_path, self.given["ins"]).get("raw_dir")
            if self.args.raw_dir is None and recorded and Path(recorded).is_dir():
                self._raw_dir = Path(recorded)
            else:
                self._raw_dir = ensure_raw(self.data_path, self.args.raw_dir)
        return self._raw_dir

    def ensure_base(self, level: str) -> str:
        name = self.base(level)
        if name == self.given[level]:
            ensure_dataset(self.data_path, name)
        else:
            ensure_window_dataset(self.data_path, self.raw_dir(), name, DEFAULT_WINDOW, self.step,
                                  level=CONVERTER_LEVELS[level])
        return name

    def ensure(self, variant: Variant, level: str) -> str:
        name = self.name(variant, level)
        derived = variant.dataset
        if name == self.base(level):
            return self.ensure_base(level)
        if derived.kind == "window":
            ensure_window_dataset(self.data_path, self.raw_dir(), name, derived.value, self.args.frames_step)
        else:
            ensure_items_dataset(self.data_path, self.raw_dir(), name, derived.value / 100, self.args.item_seed,
                                 step=self.step)
        return name


def check_variant_names(parser, study: Study, names) -> None:
    """A usage error naming the study's variants when ``--variants`` names another or one twice."""
    known = [v.name for v in study.variants]
    for name in names or []:
        if name not in known:
            parser.error(f"argument --variants: study {study.name} has no variant {name!r}; it has "
                         + ", ".join(repr(k) for k in known))
    unique_values(parser, "--variants", names)


def selected_variants(study: Study, args) -> list[Variant]:
    if args.variants:
        return [study.variant(name) for name in args.variants]
    return list(study.variants[:2] if args.quick else study.variants)


def data_recipe(variant: Variant, args, on_base: bool) -> dict:
    """The parameters the run's dataset was built with (part of the run's fingerprint)."""
    recipe = {"window_step": args.window_step}
    if on_base or variant.dataset is None:
        return recipe
    if variant.dataset.kind == "window":
        return recipe | {"window": variant.dataset.value, "step": args.frames_step}
    return recipe | {"keep_items_percent": variant.dataset.value, "item_subset_seed": args.item_seed}


def model_defaults() -> dict:
    """``properties/model/PoseRec.yaml`` as loaded."""
    return yaml.safe_load(Path(PROPERTIES_DIR, "model", f"{MODEL}.yaml").read_text(encoding="utf-8")) or {}


def base_seed_count(args) -> int:
    """Seeds of the study's base variant: ``--base-seeds`` when more than ``--seeds``."""
    return max(args.seeds, args.base_seeds or 0)


def build_specs(study: Study, args, data_path: Path, resolver: DatasetResolver, build: bool) -> list[RunSpec]:
    """One spec per (level, variant, seed); the datasets are built first when ``build``.

    The study's base variant runs with ``max(--seeds, --base-seeds)`` seeds, the others with ``--seeds``.
    """
    budget = training_budget(args)
    overrides = parse_overrides(args.overrides)
    defaults = model_defaults()
    specs = []
    for level in args.levels:
        for variant in selected_variants(study, args):
            dataset = resolver.ensure(variant, level) if build else resolver.name(variant, level)
            config = budget | overrides | variant.config
            recipe = data_recipe(variant, args, on_base=dataset == resolver.base(level))
            count = base_seed_count(args) if variant.name == study.base else args.seeds
            for seed in seed_list(count, args.first_seed):
                spec = RunSpec(study=study.name, level=level, variant=variant.name, model=MODEL, dataset=dataset,
                               seed=seed, data_path=str(args.data_path), config=config,
                               config_files=dataset_config_files(dataset, level), data_recipe=recipe)
                spec.reuse_key = spec.equivalence_key(defaults)
                specs.append(spec)
    return specs


def training_budget(args) -> dict:
    """The RecBole settings of ``budgets/ablations.yaml`` with the command line's budget options over them."""
    return BUDGET["train"] | budget_overrides(args.epochs, args.stopping_step, args.eval_step)


def _ms(mean, std) -> str:
    return "–" if mean != mean else f"{format_number(mean, 1, 1000)} ± {format_number(std, 1, 1000)}"


def extra_columns(study: Study, timings) -> list:
    """Timing columns of the markdown table (per variant, first level that has it)."""
    by_variant = {}
    for row in timings:
        by_variant.setdefault(row["variant"], row)
    step = {v: _ms(r["step_seconds_mean"], r["step_seconds_std"]) for v, r in by_variant.items()}
    columns = [("train step [ms]", step), ("epochs run", {v: format_number(r["epochs_mean"]) for v, r in by_variant.items()})]
    reference = by_variant.get(study.relative_time_to) if study.relative_time_to else None
    if reference is not None and reference["step_seconds_mean"] > 0:
        base = reference["step_seconds_mean"]
        columns.append(("Time (rel.)", {v: format_number(r["step_seconds_mean"] / base, 4) for v, r in by_variant.items()}))
    return columns


def learning_rate(budget: dict, args) -> float:
    """The learning rate every run used: the budget's unless ``--set learning_rate=...`` overrides it."""
    return (budget | parse_overrides(args.overrides))["learning_rate"]


def base_seed_text(study: Study, args) -> str:
    count = base_seed_count(args)
    if count == args.seeds:
        return ""
    return (f" (the base variant `{study.base}`: {', '.join(map(str, seed_list(count, args.first_seed)))}; "
            "its spread over seeds is the yardstick for the other rows' differences)")


def write_outputs(study: Study, out: Path, specs, summary, args, data_path: Path, command: str) -> list[Path]:
    """``<study>.csv``, ``<study>.md`` and ``<study>.png`` from the stored results of ``specs``."""
    results = [summary.results[s.key] for s in specs if s.key in summary.results]
    rows = aggregate_runs(results, ("level", "variant"))
    timings = aggregate_timings(results, ("level", "variant"))
    timing_of = {(t["level"], t["variant"]): t for t in timings}
    csv_rows = [r | {"study": study.name} | {k: timing_of[(r["level"], r["variant"])][k] for k in CSV_HEADER[7:]}
                for r in rows]
    outputs = [write_csv(out / f"{study.name}.csv", CSV_HEADER, csv_rows)]
    groups = [(level, LEVEL_LABELS[level]) for level in args.levels]
    variants = selected_variants(study, args)
    datasets = list(dict.fromkeys(s.dataset for s in specs))
    devices = {result_device(r) for r in results}
    budget = training_budget(args)
    tables = []
    for level, label in groups:
        level_rows = [r for r in rows if r["level"] == level]
        if level_rows:
            level_timings = [t for t in timings if t["level"] == level]
            tables += [f"### {label}", "",
                       wide_table(level_rows, "variant", [(level, label)], first_header="variant",
                                  extra_columns=extra_columns(study, level_timings),
                                  row_order=[v.name for v in variants])]
    text = [
        f"# Ablation `{study.name}`: {study.title} ({study.paper_ref})",
        "",
        f"Regenerate: `{command}`",
        "",
        "**Data.**",
        *[line for name in datasets for line in provenance_lines(read_meta(data_path, name), name)],
        "",
        f"**Model.** {MODEL} (`properties/model/{MODEL}.yaml`) with each variant's overrides (listed below); "
        "the checkpoint with the best validation NDCG@10 is tested (`saved=True`), full ranking over all items.",
        "",
        f"**Training budget (every variant).** max epochs {budget['epochs']}, learning rate "
        f"{learning_rate(budget, args)}, early stopping after "
        f"{budget['stopping_step']} validations without improvement, validation every {budget['eval_step']} "
        f"epoch(s){'; extra settings ' + str(parse_overrides(args.overrides)) if args.overrides else ''}.",
        "",
        f"**Seeds.** RecBole `seed` {', '.join(map(str, seed_list(args.seeds, args.first_seed)))}"
        f"{base_seed_text(study, args)}; cells are mean ± "
        "sample standard deviation (ddof = 1; a single value: one seed); best mean per column in **bold**.",
        "",
        "**Timing.** train step = mean wall seconds of one training batch inside RecBole's `_train_epoch` "
        "(data loading, sampling, forward, backward, optimiser step) over all epochs run; see "
        f"`recbole_poserec/trainer.py` (the timing the trainer records). Devices: {devices_text(results)}"
        + ("; the timings mix devices, compare them only within one device." if len(devices) > 1 else "."),
        "",
        f"**Compute.** Sum of the runs' wall times: {format_duration(summary.compute_seconds)} ({len(results)} runs; "
        f"this invocation {format_duration(summary.elapsed_seconds)}).",
        "",
        f"**Early stopping.** {early_stopping_text(results, budget)}",
        "",
        *[f"Note: {note}" + "\n" for note in study.notes],
        f"> Paper's reported direction: {study.direction}",
        "",
        *tables,
        "**Variants** (PoseRec overrides):",
        "",
        *[f"- `{v.name}`: `{v.config}`" + (f", dataset `{v.dataset.kind}={v.dataset.value}`" if v.dataset else "")
          for v in variants],
        "",
    ]
    if summary.not_done:
        text += ["**Runs not done** (failed or running in another process; left out above): "
                 + ", ".join(summary.not_done), ""]
    findings = verdicts(StudyResults(study, rows, timings))
    text += ["**The paper's findings on this data** (rules: `poserec_experiments/studies.py`):", "",
             *[f"- {line}" for line in findings or ["no finding can be judged from these runs yet"]], ""]
    outputs.append(write_markdown(out / f"{study.name}.md", "\n".join(text)))
    if writes_repository_results(out):
        replace_section(f"ablation-{study.name}",
                        readme_section(study, rows, timings, groups, variants, findings, budget, args, command,
                                       summary))
        outputs.append(README)
    if rows:
        png = out / f"{study.name}.png"
        title = f"{study.name}: {study.paper_ref}"
        if study.plot_kind == "lines":
            x_of = {v.name: v.x for v in variants}
            series_of = {v.name: v.series for v in variants}
            outputs.append(line_plot(png, rows, "variant", groups, x_of, series_of, list(study.plot_metrics),
                                     study.x_label, title))
        else:
            outputs.append(grouped_bars(png, rows, "variant", groups, list(study.plot_metrics), title,
                                        reference=study.reference))
    return outputs


def early_stopping_text(results, budget: dict) -> str:
    """How many runs stopped early, and which reached the budget's maximum epochs instead."""
    recorded = [r for r in results if trained_epochs(r) is not None]
    at_max = [r["key"] for r in recorded if trained_epochs(r) >= budget["epochs"]]
    text = (f"{len(recorded) - len(at_max)} of {len(recorded)} runs stopped early, after {budget['stopping_step']} "
            "validations without a better validation NDCG@10")
    return text + (f"; at the maximum of {budget['epochs']} epochs: {', '.join(at_max)}" if at_max else "")


def readme_section(study: Study, rows, timings, groups, variants, findings, budget, args, command,
                   summary) -> str:
    """The study's part of the README's "Ablations" section: NDCG@10 / Recall@10 table and the verdicts."""
    columns = extra_columns(study, [t for t in timings if t["level"] == "ins"])
    timing = [c for c in columns if c[0] in ("train step [ms]", "Time (rel.)")] if study.judges_step_time else []
    seeds = f"{args.seeds} seed{'s' if args.seeds > 1 else ''}" + (
        f", base variant `{study.base}` {base_seed_count(args)} seeds" if base_seed_count(args) > args.seeds else "")
    lines = [
        f"#### `{study.name}`: {study.title} ({study.paper_ref})",
        "",
        f"> Paper: {study.direction}",
        "",
        f"Here: test metrics on `{'`, `'.join(dict.fromkeys(r['level'] for r in rows)) or '-'}` level data with a "
        f"window every {args.window_step} frames, at most {budget['epochs']} epochs at learning rate "
        f"{learning_rate(budget, args)} ({early_stopping_text(summary.results.values(), budget)}), {seeds}; "
        f"compute {format_duration(summary.compute_seconds)}. "
        f"Full table, data and budget: [`results/ablations/{study.name}.md`](results/ablations/{study.name}.md); "
        f"regenerate: `{command}`.",
        "",
        wide_table(rows, "variant", [g for g in groups if any(r["level"] == g[0] for r in rows)],
                   metrics=["recall@10", "ndcg@10"], first_header="variant", extra_columns=timing,
                   row_order=[v.name for v in variants]),
        *[f"- {line}" for line in findings or ["no finding can be judged from these runs yet"]],
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    study = STUDIES[args.study]
    check_common_arguments(parser, args, seed_counts=[args.base_seeds])
    check_variant_names(parser, study, args.variants)
    if args.quick:
        args.seeds = args.seeds or 1
        args.epochs = args.epochs or 1
        args.out = args.out or "benchmark_runs/quick-ablations/"
    args.seeds = args.seeds or len(DEFAULT_SEEDS)
    args.levels = args.levels or list(study.levels)
    args.out = args.out or "results/ablations/"
    args.frames_step = args.frames_step or args.window_step
    check_required_keys(study)
    data_path = Path(args.data_path).resolve()
    out = Path(args.out)
    resolver = DatasetResolver(args, data_path)
    specs = build_specs(study, args, data_path, resolver, build=False)  # names only: checks come first
    if args.dry_run:
        print_dry_run(specs)
        return 0
    store = ResultStore(out / "runs" / study.name)
    if args.report_only:
        summary = collect(specs, store)
        writable_directory("--out", out)
    else:
        writable_directory("--out", out)
        writable_directory("--work-dir", Path(args.work_dir))
        check_store(specs, store)
        check_stored_tree(out / "runs")  # the other studies' runs, looked up for reuse
        specs = build_specs(study, args, data_path, resolver, build=True)
        summary = run_all(specs, store, args.work_dir, timeout=args.timeout,
                          keep_checkpoints=not args.delete_checkpoints, progress=not args.no_progress,
                          find_reusable=find_reusable_in(out / "runs"), jobs=args.jobs, device=args.device)
    command = command_string("poserec_experiments.ablate", argv)
    outputs = write_outputs(study, out, specs, summary, args, data_path, command)
    print_footer(summary, outputs)
    return exit_status(summary)


if __name__ == "__main__":
    sys.exit(run_main(main))
