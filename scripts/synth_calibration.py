"""Print generator v1 and v2 side by side against the calibration targets (numpy and pandas only; no model).

    .venv/bin/python scripts/synth_calibration.py [--seed S] [--out-md FILE]

Generates both versions at the default size (212 videos, 1,087 items) into a temporary directory, reads
the written files back (:func:`dataset_conversion.synth.v2.calibration.read_raw_tables`: the
converter's 6:2:2 video split, seed 2022) and prints:

* every target of :data:`~dataset_conversion.synth.v2.calibration.CALIBRATION_TARGETS` and of the pose
  renderer's :data:`~dataset_conversion.synth.v2.pose_calibration.POSE_TARGETS` (measured with
  ``measure_pose_statistics`` on a seeded sample of windows), with its tolerance, source and the v1 and v2 values;
* Pop's profile (training-popularity ranking, recall@5/10/20 at instance and category level, per test
  window and per test video) beside the paper's Table 1 Pop and Random rows;
* the subcategory-frequency oracle (training popularity within the test video's true subcategory);
* Recall@K and NDCG@K of Pop, the oracle and the generator's ceiling
  (:func:`~dataset_conversion.synth.v2.ceiling.generator_ceiling`: Monte Carlo, ``--draws`` draws per test
  video; v2 also with the context known) beside the bound from the paper's best video-only rows.

``--out-md FILE`` also writes the tables as Markdown (``docs/synthetic-data.md`` quotes them).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dataset_conversion.layout import DEFAULT_STEP, DEFAULT_WINDOW, POSES_DIR  # noqa: E402
from dataset_conversion.npy_files import load_npy  # noqa: E402
from dataset_conversion.synth import generate_raw_dataset  # noqa: E402
from dataset_conversion.synth.v2 import calibration  # noqa: E402
from dataset_conversion.synth.v2.ceiling import DEFAULT_DRAWS, generator_ceiling  # noqa: E402
from dataset_conversion.synth.v2.pose_calibration import POSE_TARGETS, measure_pose_statistics  # noqa: E402
from dataset_conversion.windows import cut_windows  # noqa: E402

POSE_SAMPLE = 2000  # windows drawn (seeded) for the pose statistics


def sample_windows(raw_dir: Path, video_ids, n: int, seed: int) -> np.ndarray:
    """``n`` windows drawn without replacement from all of ``raw_dir``'s videos."""
    windows = np.concatenate([cut_windows(np.asarray(load_npy(raw_dir / POSES_DIR / f"{v}.npy", "pose file")),
                                          DEFAULT_WINDOW, DEFAULT_STEP) for v in video_ids])  # fmt: skip
    pick = np.random.default_rng(seed).choice(len(windows), size=min(n, len(windows)), replace=False)
    return windows[np.sort(pick)]


def measure_version(root: Path, version: int, seed: int, n_draws: int = DEFAULT_DRAWS) -> tuple[dict[str, float], float]:
    """Generate one version into ``root``; return its measurements and the generation time (s)."""
    start = time.perf_counter()
    generate_raw_dataset(root, seed=seed, generator_version=version)
    elapsed = time.perf_counter() - start
    tables = calibration.read_raw_tables(root)
    values = calibration.measure(tables)
    start = time.perf_counter()
    for prefix, know_context in (("ceiling", False), ("ceiling_context", True))[: 2 if version == 2 else 1]:
        ceiling = generator_ceiling(tables, seed, version, n_draws=n_draws, know_context=know_context)
        values.update({f"{prefix}_{name}": value for name, value in ceiling.items()})
    values["ceiling_seconds"] = time.perf_counter() - start
    values.update(measure_pose_statistics(sample_windows(root, tables.videos["video_id"], POSE_SAMPLE, seed)))
    return values, elapsed


def _cell(value) -> str:
    return "-" if value is None else f"{value:.4g}"


def _ok(value: float, target: float, tolerance: float) -> str:
    return "yes" if abs(value - target) <= tolerance else "no"


def tables_markdown(values: dict[int, dict[str, float]], times: dict[int, float], seed: int) -> str:
    """The three tables (targets, Pop profile, oracle) as Markdown."""
    lines = [f"Seed {seed}, default size; generation took {times[1]:.1f} s (v1) and {times[2]:.1f} s (v2); "
             f"the ceilings {values[1]['ceiling_seconds']:.1f} s (v1) and {values[2]['ceiling_seconds']:.1f} s (v2).", "",
             "| target | value | tolerance | source | v1 | v1 ok | v2 | v2 ok |", "|---|---|---|---|---|---|---|---|"]
    targets = {**calibration.CALIBRATION_TARGETS, **POSE_TARGETS}
    for name, (target, tolerance, source) in targets.items():
        v1, v2 = values[1].get(name), values[2].get(name)
        lines.append(f"| {name} | {_cell(target)} | ±{_cell(tolerance)} | {source} | {_cell(v1)} | "
                     f"{'-' if v1 is None else _ok(v1, target, tolerance)} | {_cell(v2)} | "
                     f"{'-' if v2 is None else _ok(v2, target, tolerance)} |")  # fmt: skip
    for title, prefix in (("Pop (training popularity)", "pop"), ("Subcategory-frequency oracle", "oracle")):
        lines += ["", f"{title}: test recall@K, per window (per video in brackets)", "",
                  "| level | K | paper Pop | paper Random | v1 | v2 |", "|---|---|---|---|---|---|"]  # fmt: skip
        for level, paper_random in (("instance", calibration.PAPER_RANDOM_INSTANCE),
                                    ("category", calibration.PAPER_RANDOM_CATEGORY)):  # fmt: skip
            for k in calibration.TOP_K:
                paper_pop = calibration.PAPER_POP_CATEGORY[k] if level == "category" and prefix == "pop" else None
                cells = [f"{values[v][f'{prefix}_{level}_recall@{k}']:.3f} "
                         f"({values[v][f'{prefix}_{level}_recall@{k}_per_video']:.3f})" for v in (1, 2)]  # fmt: skip
                lines.append(f"| {level} | {k} | {_cell(paper_pop)} | {_cell(paper_random[k])} | {cells[0]} | {cells[1]} |")
    lines += ["", "Recall@K / NDCG@K per test window (per test video in brackets). Bound: "
              f"{calibration.VIDEO_ONLY_BOUND_SOURCE}, a lower bound on the pose-visible ceiling", "",
              "| ranking | level | K | bound R / N | v1 R | v1 N | v2 R | v2 N |", "|---|---|---|---|---|---|---|---|"]
    for title, prefix in RANKINGS:
        for level in ("instance", "category"):
            for k in calibration.TOP_K:
                bound = calibration.PAPER_VIDEO_ONLY_BOUND[level]
                paper = f"{bound[f'recall@{k}']} / {bound[f'ndcg@{k}']}" if prefix == "ceiling" and k == 10 else "-"
                cells = [_pair(values[v], f"{prefix}_{level}_{metric}@{k}") for v in (1, 2) for metric in ("recall", "ndcg")]
                lines.append(f"| {title} | {level} | {k} | {paper} | {' | '.join(cells)} |")
    return "\n".join(lines) + "\n"


RANKINGS = (("Pop", "pop"), ("subcategory-frequency oracle", "oracle"),
            ("generator ceiling (subcategory, style)", "ceiling"),
            ("generator ceiling + context", "ceiling_context"))  # fmt: skip


def _pair(values: dict[str, float], name: str) -> str:
    if name not in values:
        return "-"
    return f"{values[name]:.3f} ({values[name + '_per_video']:.3f})"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    parser.add_argument("--out-md", type=Path, default=None, help="also write the tables as Markdown here")
    parser.add_argument("--draws", type=int, default=DEFAULT_DRAWS,
                        help=f"Monte-Carlo draws per test video for the generator's ceiling (default {DEFAULT_DRAWS})")
    args = parser.parse_args(argv)
    if args.seed < 0:
        parser.error(f"argument --seed: must be >= 0, got {args.seed}")
    if args.draws < 1:
        parser.error(f"argument --draws: must be >= 1, got {args.draws}")
    values, times = {}, {}
    with tempfile.TemporaryDirectory(prefix="synth-calibration-") as tmp:
        for version in (1, 2):
            values[version], times[version] = measure_version(Path(tmp) / f"v{version}", version, args.seed, args.draws)
    text = tables_markdown(values, times, args.seed)
    print(text, end="")
    if args.out_md is not None:
        from dataset_conversion.atomic import atomic_file

        with atomic_file(args.out_md, encoding="utf-8") as handle:
            handle.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
