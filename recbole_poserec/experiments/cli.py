"""Command-line pieces shared by ``recbole_poserec.benchmark`` and ``recbole_poserec.ablate``."""

from __future__ import annotations

import argparse
import shlex
import sys

import yaml

from recbole_poserec.experiments.report import format_duration

LEVEL_LABELS = {"ins": "Ins Rec", "cat": "Cat Rec"}
DEFAULT_DATASETS = {"ins": "pose-obe", "cat": "pose-obe-cat"}
FIRST_SEED = 2022


def parse_overrides(pairs) -> dict:
    """``["eval_batch_size=4096", "topk=[1, 3]"]`` -> a dict; values are parsed as YAML."""
    overrides = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise argparse.ArgumentTypeError(f"--set expects key=value, got {pair!r}")
        overrides[key.strip()] = yaml.safe_load(value)
    return overrides


def seed_list(count: int, first: int = FIRST_SEED) -> list[int]:
    """``count`` consecutive RecBole seeds from ``first`` (2022, 2023, 2024 by default)."""
    if count < 1:
        raise ValueError(f"--seeds must be at least 1, got {count}")
    return [first + k for k in range(count)]


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """Options both commands take."""
    parser.add_argument("--seeds", type=int, default=None, help="number of seeds (RecBole `seed` 2022, 2023, ...)")
    parser.add_argument("--first-seed", type=int, default=FIRST_SEED, help="first seed (default 2022)")
    parser.add_argument("--epochs", type=int, default=None, help="maximum training epochs (overrides the YAML)")
    parser.add_argument("--stopping-step", type=int, default=None, help="early-stopping patience in validations")
    parser.add_argument("--eval-step", type=int, default=None, help="validate every N epochs")
    parser.add_argument("--quick", action="store_true", help="smoke profile: 1 seed, 1 epoch (see --help text)")
    parser.add_argument("--data-path", default="dataset/", help="RecBole data_path (default dataset/)")
    parser.add_argument("--ins-dataset", default=DEFAULT_DATASETS["ins"], help="instance-level dataset name")
    parser.add_argument("--cat-dataset", default=DEFAULT_DATASETS["cat"], help="category-level dataset name")
    parser.add_argument("--work-dir", default="benchmark_runs/",
                        help="per-run logs and checkpoints (gitignored; default benchmark_runs/)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="extra RecBole setting for every run (YAML value); repeatable")
    parser.add_argument("--timeout", type=float, default=None, help="seconds after which one run is killed")
    parser.add_argument("--delete-checkpoints", action="store_true", help="remove each run's checkpoint after its test")
    parser.add_argument("--report-only", action="store_true", help="only rebuild the tables/plots from stored runs")
    parser.add_argument("--dry-run", action="store_true", help="list the runs and exit")
    parser.add_argument("--no-progress", action="store_true", help="no tqdm bar")


def command_string(module: str, argv) -> str:
    """``python -m <module> <argv>``, shell-quoted: the command that regenerates the outputs."""
    return " ".join(["python", "-m", module] + [shlex.quote(a) for a in argv])


def budget_overrides(epochs, stopping_step, eval_step) -> dict:
    """The budget keys given on the command line (None = keep the YAML's / the study's)."""
    chosen = {"epochs": epochs, "stopping_step": stopping_step, "eval_step": eval_step}
    return {k: v for k, v in chosen.items() if v is not None}


def print_footer(summary, outputs) -> None:
    """Final lines: runs done / reused / failed, compute time, outputs."""
    print(f"runs: {len(summary.ran)} run now, {len(summary.skipped)} reused from the store, "
          f"{len(summary.failed)} failed", flush=True)
    for key, log in summary.failed.items():
        print(f"  FAILED {key}: see {log}", file=sys.stderr)
    print(f"total compute (sum of run wall times, all stored runs): {format_duration(summary.compute_seconds)}")
    print(f"this invocation: {format_duration(summary.elapsed_seconds)}")
    for path in outputs:
        print(f"wrote {path}")
