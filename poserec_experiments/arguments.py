"""Command-line pieces shared by ``poserec_experiments.benchmark`` and ``poserec_experiments.ablate``.

Both parse with :class:`dataset_conversion.entrypoint.ArgumentParser` and run through
:func:`~dataset_conversion.entrypoint.run_main`: a bad argument is one ``error: argument --x: ...`` line and
exit 2 before any run starts; Ctrl-C / SIGTERM stop every running worker's process group and exit 130 / 143.
``--jobs`` and ``--device`` say how the runs execute (:func:`poserec_experiments.runner.run_all`), not what
they compute: they are in no fingerprint and not in the command that regenerates the outputs.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

import yaml

from dataset_conversion.dataset_names import dataset_name_type
from dataset_conversion.entrypoint import (
    EXIT_OK,
    EXIT_PARTIAL_FAILURE,
    float_at_least,
    int_at_least,
    positive_int,
)
from dataset_conversion.errors import DataError
from poserec_experiments.derived_datasets import DEFAULT_DATASETS
from poserec_experiments.report import format_duration
from poserec_experiments.runner import DEVICES, RUNNER_KEYS, available_cores, non_finite_fields, result_device

LEVEL_LABELS = {"ins": "Ins Rec", "cat": "Cat Rec"}
FIRST_SEED = 2022
MAX_SEED = 2**32 - 1  # numpy's seed range; RecBole seeds numpy, torch and random with it
MAX_SEEDS = 1000
BUDGET_KEYS = ("epochs", "stopping_step", "eval_step")  # --set of these: positive integers, like --epochs
RUNNER_KEY_OPTIONS = {"seed": "--first-seed / --seeds", "data_path": "--data-path", "checkpoint_dir": "--work-dir",
                      "show_progress": "(always off in a worker)", "use_gpu": "--device", "gpu_id": "--device"}
assert set(RUNNER_KEY_OPTIONS) == set(RUNNER_KEYS)


def split_override(text: str) -> tuple[str, object]:
    """``"topk=[1, 3]"`` -> ``("topk", [1, 3])`` (the value parsed as YAML); ArgumentTypeError saying what
    is allowed when it is not ``key=value`` with a finite YAML value, or sets what the runner decides."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE with a RecBole setting name as KEY, got {text!r}")
    if key in RUNNER_KEY_OPTIONS:
        raise argparse.ArgumentTypeError(f"{key} is set by the runner for every run, use {RUNNER_KEY_OPTIONS[key]}")
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError as err:
        raise argparse.ArgumentTypeError(f"the value of {key} is not YAML ({getattr(err, 'problem', None) or err})") from None
    if non_finite_fields(parsed):
        raise argparse.ArgumentTypeError(f"the value of {key} must be finite, got {value!r}")
    if key in BUDGET_KEYS and (not isinstance(parsed, int) or isinstance(parsed, bool) or parsed < 1):
        raise argparse.ArgumentTypeError(f"{key} expects an integer >= 1, got {value!r}")
    return key, parsed


def override_setting(text: str) -> str:
    """An argparse ``type`` for ``--set``: the text itself once :func:`split_override` accepts it."""
    split_override(text)
    return text


override_setting.__name__ = "setting"


def model_name(text: str) -> str:
    """An argparse ``type``: a model the plug-in or RecBole has (the lookup of ``run_recbole.py``)."""
    from recbole_poserec.utils import get_model

    try:
        get_model(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


model_name.__name__ = "model name"


def parse_overrides(pairs) -> dict:
    """``["eval_batch_size=4096", "topk=[1, 3]"]`` -> a dict; values are parsed as YAML."""
    return dict(split_override(pair) for pair in pairs or [])


def seed_list(count: int, first: int = FIRST_SEED) -> list[int]:
    """``count`` consecutive RecBole seeds from ``first`` (2022, 2023, 2024 by default)."""
    if count < 1:
        raise ValueError(f"--seeds must be at least 1, got {count}")
    return [first + k for k in range(count)]


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """Options both commands take."""
    parser.add_argument("--seeds", type=int_at_least(1, MAX_SEEDS), default=None,
                        help="number of seeds (RecBole `seed` 2022, 2023, ...)")
    parser.add_argument("--first-seed", type=int_at_least(0, MAX_SEED), default=FIRST_SEED,
                        help="first seed (default 2022)")
    parser.add_argument("--epochs", type=positive_int, default=None, help="maximum training epochs (overrides the YAML)")
    parser.add_argument("--stopping-step", type=positive_int, default=None,
                        help="early-stopping patience in validations")
    parser.add_argument("--eval-step", type=positive_int, default=None, help="validate every N epochs")
    parser.add_argument("--quick", action="store_true", help="smoke profile: 1 seed, 1 epoch (see --help text)")
    parser.add_argument("--data-path", default="dataset/", help="RecBole data_path (default dataset/)")
    parser.add_argument("--ins-dataset", type=dataset_name_type, default=DEFAULT_DATASETS["ins"],
                        help="instance-level dataset name")
    parser.add_argument("--cat-dataset", type=dataset_name_type, default=DEFAULT_DATASETS["cat"],
                        help="category-level dataset name")
    parser.add_argument("--work-dir", default="benchmark_runs/",
                        help="per-run logs and checkpoints (gitignored; default benchmark_runs/)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        type=override_setting, help="extra RecBole setting for every run (YAML value); repeatable")
    parser.add_argument("--timeout", type=float_at_least(0, inclusive=False), default=None,
                        help="seconds after which one run is killed")
    parser.add_argument("--delete-checkpoints", action="store_true", help="remove each run's checkpoint after its test")
    parser.add_argument("--report-only", action="store_true", help="only rebuild the tables/plots from stored runs")
    parser.add_argument("--dry-run", action="store_true", help="list the runs and exit")
    parser.add_argument("--no-progress", action="store_true", help="no tqdm bar")
    parser.add_argument("--jobs", type=positive_int, default=1,
                        help="runs at once (default 1); with N > 1 each gets max(1, cores // N) threads "
                             f"(cores here: {available_cores()})")
    parser.add_argument("--device", choices=DEVICES, default="cpu",
                        help="where the runs train and test (default cpu; not part of a run's identity)")


def check_common_arguments(parser: argparse.ArgumentParser, args, seed_counts=()) -> None:
    """Checks across arguments (usage errors): the last seed in range, each level once, the directories
    not files. ``seed_counts``: further seed counts that start at ``--first-seed`` (``--base-seeds``)."""
    last = args.first_seed + max([args.seeds or 1, *[c for c in seed_counts if c]]) - 1
    if last > MAX_SEED:
        parser.error(f"argument --first-seed: the last seed {last} is over {MAX_SEED}")
    unique_values(parser, "--levels", args.levels)
    if args.device == "cuda" and not args.report_only:
        missing = cuda_missing()
        if missing:
            parser.error(f"argument --device: cuda asked for, but {missing}")
    for option, value in (("--out", args.out), ("--work-dir", args.work_dir), ("--data-path", args.data_path)):
        if value is None:
            continue
        blocking = next((p for p in [Path(value), *Path(value).parents] if os.path.lexists(p)), None)
        if value == "" or (blocking is not None and not blocking.is_dir()):
            parser.error(f"argument {option}: expected a directory, got {value!r}"
                         + (f" ({blocking} is a file)" if value else ""))


def cuda_missing() -> str | None:
    """Why torch cannot run on a CUDA device here, or None when it can."""
    import torch

    if torch.cuda.is_available():
        return None
    return f"torch {torch.__version__} sees no CUDA device" + ("" if torch.version.cuda else " (built without CUDA)")


def unique_values(parser: argparse.ArgumentParser, option: str, values) -> None:
    """A usage error when a value of a list option is given twice (it would name the same runs twice)."""
    seen = set()
    for value in values or []:
        if value in seen:
            parser.error(f"argument {option}: {value!r} is given twice")
        seen.add(value)


def writable_directory(option: str, path: Path) -> Path:
    """``path`` if it is a directory or can be made one; DataError naming ``option`` otherwise."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DataError(option, f"cannot create directory {str(path)!r}: {err.strerror or err}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise DataError(option, f"directory {str(path)!r} is not writable")
    return path


# Options that change how a command runs, not what it writes: left out of the command that regenerates it.
PRESENTATION_OPTIONS = ("--report-only", "--no-progress")
EXECUTION_OPTIONS = ("--jobs", "--device", "--work-dir")  # the same, with a value


def command_string(module: str, argv) -> str:
    """``python -m <module> <argv>``, shell-quoted: the command that regenerates the outputs (the stored runs
    make a rerun report-only by itself; :data:`PRESENTATION_OPTIONS` and :data:`EXECUTION_OPTIONS` with
    their values are left out)."""
    kept, value_follows = [], False
    for arg in argv:
        if value_follows:
            value_follows = False
        elif arg in EXECUTION_OPTIONS:
            value_follows = True
        elif arg not in PRESENTATION_OPTIONS and arg.partition("=")[0] not in EXECUTION_OPTIONS:
            kept.append(arg)
    return " ".join(["python", "-m", module] + [shlex.quote(a) for a in kept])


def devices_text(results) -> str:
    """``cpu (6 runs)`` or ``cuda (4 runs), cpu (2 runs)``: the devices the results were computed on."""
    counts: dict[str, int] = {}
    for result in results:
        counts[result_device(result)] = counts.get(result_device(result), 0) + 1
    return ", ".join(f"{device} ({n} run{'s' if n != 1 else ''})" for device, n in counts.items()) or "none"


def budget_overrides(epochs, stopping_step, eval_step) -> dict:
    """The budget keys given on the command line (None = keep the YAML's / the study's)."""
    chosen = {"epochs": epochs, "stopping_step": stopping_step, "eval_step": eval_step}
    return {k: v for k, v in chosen.items() if v is not None}


def print_footer(summary, outputs) -> None:
    """Final lines: runs done / reused / failed / running elsewhere, compute time, outputs."""
    busy = f", {len(summary.busy)} running in another process" if summary.busy else ""
    print(f"runs: {len(summary.ran)} run now, {len(summary.skipped)} reused from the store, "
          f"{len(summary.failed)} failed{busy}", flush=True)
    for key, log in summary.failed.items():
        print(f"  FAILED {key}: see {log}", file=sys.stderr)
    for key, holder in summary.busy.items():
        print(f"  NOT RUN {key}: running in another process ({holder})", file=sys.stderr)
    print(f"total compute (sum of run wall times, all stored runs): {format_duration(summary.compute_seconds)}")
    print(f"this invocation: {format_duration(summary.elapsed_seconds)}")
    print(f"devices: {devices_text(summary.results.values())}")
    for path in outputs:
        print(f"wrote {path}")


def exit_status(summary) -> int:
    """0 when every run has a result, 1 when some failed or are running in another process."""
    return EXIT_PARTIAL_FAILURE if summary.not_done else EXIT_OK


def print_dry_run(specs) -> None:
    """``--dry-run``: one line per run (key, model, dataset, seed, config overrides)."""
    for spec in specs:
        print(f"{spec.key}: {spec.model} on {spec.dataset}, seed {spec.seed}, config {spec.config}")
