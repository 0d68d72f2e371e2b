"""Writing a complete synthetic raw Pose-OBE directory (see ``layout.py`` for the format)."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np

from ..atomic import atomic_directory
from ..layout import (
    ANNOTATION_COLUMNS, ANNOTATIONS_FILE, FACTORS, ITEM_COLUMNS, ITEMS_FILE, POSES_DIR, VIDEO_COLUMNS, VIDEOS_FILE,
)
from .annotate import annotate_videos
from .catalogue import build_catalogue
from .plan import count_windows, plan_videos, random_streams
from .poses import render_poses

GENERATOR_VERSION = "1.0.0"
GENERATOR_NAME = "dataset_conversion.synth"
MARKER_FILE = "SYNTHETIC.json"


def _write_csv(path: Path, header, rows) -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def generate_raw_dataset(raw_dir: str | os.PathLike, seed: int = 0, n_videos: int = 212, n_items: int = 1087,
                         window: int = 10, step: int = 5) -> dict:  # fmt: skip
    """Generate a synthetic Pose-OBE raw dataset into ``raw_dir`` and return its summary.

    The directory is written atomically (an existing one is replaced only once everything has been
    written). The same arguments always give byte-identical files. ``window`` and ``step`` only
    enter the reported window count (the authors' windowing rule, ``windows.window_starts``).
    The summary is also written to ``SYNTHETIC.json``.
    """
    for name, value in (("n_videos", n_videos), ("n_items", n_items), ("window", window), ("step", step)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    seed = int(seed)
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
    with atomic_directory(raw_dir) as tmp:
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
