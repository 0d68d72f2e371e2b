"""Writing a complete synthetic raw Pose-OBE directory (see ``layout.py`` for the format).

Sizes are checked before anything is generated (:func:`check_sizes`): at least one video, at most
:data:`MAX_VIDEOS` (about 180 kB of pose files per video, so about 1.8 GB); at least enough items that every
subcategory among the videos has :data:`~.annotate.MIN_ITEMS` suitable items (:func:`minimum_items`; 41 once
all 14 subcategories occur, fewer for a handful of videos), at most :data:`MAX_ITEMS`.

An existing directory is replaced only if it is empty or an earlier output of this generator (its
``SYNTHETIC.json`` names ``dataset_conversion.synth``), unless ``force``.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np

from ..atomic import NOT_OURS, atomic_directory, check_replaceable
from ..layout import (
    ANNOTATION_COLUMNS, ANNOTATIONS_FILE, FACTORS, GROUPS, ITEM_COLUMNS, ITEMS_FILE, POSES_DIR, VIDEO_COLUMNS,
    VIDEOS_FILE,
)
from .annotate import MIN_ITEMS, annotate_videos
from .catalogue import build_catalogue, candidates_by_subcategory
from .plan import count_windows, plan_videos, random_streams
from .poses import render_poses

GENERATOR_VERSION = "1.0.0"
GENERATOR_NAME = "dataset_conversion.synth"
MARKER_FILE = "SYNTHETIC.json"
MAX_VIDEOS = 10_000  # 47 x Pose-OBE; pose files take about 180 kB per video
MAX_ITEMS = 100_000  # 92 x Pose-OBE; the converter encodes 9 texts per item


class SizeError(ValueError):
    """A dataset size the generator cannot produce; ``argument`` is the parameter at fault."""

    def __init__(self, argument: str, message: str):
        self.argument = argument
        super().__init__(message)


def is_synth_output(directory: str | os.PathLike) -> bool:
    """Whether ``directory`` is an earlier output of this generator (its ``SYNTHETIC.json`` says so)."""
    try:
        marker = json.loads((Path(directory) / MARKER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(marker, dict) and marker.get("generator") == GENERATOR_NAME


def _pools_suffice(seed: int, n_items: int, subcategories: set[str]) -> bool:
    pools = candidates_by_subcategory(build_catalogue(seed, n_items))
    return all(len(pools[sub]) >= MIN_ITEMS for sub in subcategories)


def minimum_items(seed: int, n_videos: int) -> int:
    """The smallest number of items for which every subcategory among the ``n_videos`` videos of ``seed``
    gets enough suitable items for the simulated annotators."""
    subcategories = {plan.subcategory for plan in plan_videos(seed, n_videos)}
    return next(n for n in range(len(GROUPS), MAX_ITEMS + 1) if _pools_suffice(seed, n, subcategories))


def check_sizes(seed: int, n_videos: int, n_items: int) -> None:
    """Raise :class:`SizeError` unless the generator can produce ``n_videos`` videos with ``n_items`` items."""
    for argument, value, high in (("n_videos", n_videos, MAX_VIDEOS), ("n_items", n_items, MAX_ITEMS)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or not 1 <= value <= high:
            raise SizeError(argument, f"must be an integer in 1..{high}, got {value!r}")
    subcategories = {plan.subcategory for plan in plan_videos(seed, n_videos)}
    if n_items < len(GROUPS) or not _pools_suffice(seed, n_items, subcategories):
        low = minimum_items(seed, n_videos)
        raise SizeError(
            "n_items",
            f"{n_videos} video(s) of seed {seed} need at least {low} items, so that each of the "
            f"{len(subcategories)} subcategories among them has {MIN_ITEMS} suitable items; got {n_items}; "
            f"allowed: {low}..{MAX_ITEMS}",
        )


def _write_csv(path: Path, header, rows) -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def generate_raw_dataset(raw_dir: str | os.PathLike, seed: int = 0, n_videos: int = 212, n_items: int = 1087,
                         window: int = 10, step: int = 5, force: bool = False) -> dict:  # fmt: skip
    """Generate a synthetic Pose-OBE raw dataset into ``raw_dir`` and return its summary.

    The directory is written atomically (an existing one is replaced only once everything has been
    written, and only if it is empty or an earlier output of this generator, unless ``force``;
    otherwise :class:`~dataset_conversion.errors.DataError`). Bad sizes raise :class:`SizeError`.
    The same arguments always give byte-identical files. ``window`` and ``step`` only enter the
    reported window count (the authors' windowing rule, ``windows.window_starts``). The summary is
    also written to ``SYNTHETIC.json``.
    """
    for name, value in (("window", window), ("step", step)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise SizeError(name, f"must be a positive integer, got {value!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise SizeError("seed", f"must be an integer >= 0, got {seed!r}")
    seed = int(seed)
    check_sizes(seed, n_videos, n_items)
    replaces = (lambda folder: True) if force else is_synth_output
    not_ours = f"{NOT_OURS} (synth --force replaces it)"
    check_replaceable(raw_dir, replaces, not_ours)  # before the work, not only after it
    plans = plan_videos(seed, n_videos)
    items = build_catalogue(seed, n_items)
    annotations = annotate_videos(plans, items, seed)
    summary = {
        "synthetic": True,
        "generator": GENERATOR_NAME,
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "n_videos": int(n_videos),
        "n_items": int(n_items),
        "n_windows": count_windows(seed, n_videos, window, step),
        "window": int(window),
        "step": int(step),
    }
    pose_streams = random_streams(seed).poses.spawn(n_videos)
    with atomic_directory(raw_dir, replaces=replaces, not_ours=not_ours) as tmp:
        _write_csv(tmp / VIDEOS_FILE, VIDEO_COLUMNS + ("source",),
                   [(p.video_id, p.category, p.subcategory, "synthetic") for p in plans])  # fmt: skip
        _write_csv(tmp / ITEMS_FILE, ITEM_COLUMNS,
                   [(item.item_id, *(item.factors[f] for f in FACTORS), item.group) for item in items])  # fmt: skip
        _write_csv(tmp / ANNOTATIONS_FILE, ANNOTATION_COLUMNS, [(v, i, f"{s:.4f}") for v, i, s in annotations])
        (tmp / POSES_DIR).mkdir()
        for plan, stream in zip(plans, pose_streams):
            np.save(tmp / POSES_DIR / f"{plan.video_id}.npy", render_poses(plan, np.random.default_rng(stream)))
        (tmp / MARKER_FILE).write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return summary
