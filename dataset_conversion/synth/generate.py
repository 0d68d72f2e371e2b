"""Writing a complete synthetic raw Pose-OBE directory (see ``layout.py`` for the format).

Sizes are checked before anything is generated (:func:`check_sizes`): at least one video, at most
:data:`MAX_VIDEOS` (about 180 kB of pose files per video, so about 1.8 GB); at least enough items that every
subcategory among the videos has :data:`~.annotate.MIN_ITEMS` suitable items (:func:`minimum_items`; 41 once
all 14 subcategories occur, fewer for a handful of videos), at most :data:`MAX_ITEMS`.

An existing directory is replaced only if it is empty or an earlier output of this generator (its
``SYNTHETIC.json`` names ``dataset_conversion.synth``), unless ``force``.

Two generator versions (:data:`GENERATOR_VERSIONS`): 2, the default (:mod:`.v2`: staples, persistent
appeal, an unseen context, the v2 pose renderer), and 1 (the modules of this package, byte-identical to
its first release for a seed). ``SYNTHETIC.json`` and every ``videos.csv`` row name the version.
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

GENERATOR_VERSIONS = {1: "1.0.0", 2: "2.0.0"}  # --generator-version -> the version string written
DEFAULT_GENERATOR_VERSION = 2
GENERATOR_VERSION = GENERATOR_VERSIONS[DEFAULT_GENERATOR_VERSION]  # the default's version string
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


def check_generator_version(generator_version) -> int:
    """``generator_version`` as an int; :class:`SizeError` (argument ``generator_version``) unless 1 or 2."""
    if isinstance(generator_version, bool) or generator_version not in GENERATOR_VERSIONS:
        raise SizeError("generator_version", f"must be one of {sorted(GENERATOR_VERSIONS)}, got {generator_version!r}")
    return int(generator_version)


def _pools_suffice(seed: int, n_items: int, subcategories: set[str], generator_version: int = 1) -> bool:
    if generator_version == 2:  # v2 also offers the staples, which suit every subcategory
        from .v2.catalogue import build_catalogue as build_v2, core_candidates

        items = build_v2(seed, n_items)
        staples = sum(item.is_staple for item in items)
        return all(len(core_candidates(items, sub)) + staples >= MIN_ITEMS for sub in subcategories)
    pools = candidates_by_subcategory(build_catalogue(seed, n_items))
    return all(len(pools[sub]) >= MIN_ITEMS for sub in subcategories)


def minimum_items(seed: int, n_videos: int, generator_version: int = DEFAULT_GENERATOR_VERSION) -> int:
    """The smallest number of items for which every subcategory among the ``n_videos`` videos of ``seed``
    gets enough suitable items for the simulated annotators."""
    subcategories = {plan.subcategory for plan in plan_videos(seed, n_videos)}
    return next(n for n in range(len(GROUPS), MAX_ITEMS + 1)
                if _pools_suffice(seed, n, subcategories, generator_version))  # fmt: skip


def check_sizes(seed: int, n_videos: int, n_items: int, generator_version: int = DEFAULT_GENERATOR_VERSION) -> None:
    """Raise :class:`SizeError` unless the generator can produce ``n_videos`` videos with ``n_items`` items."""
    generator_version = check_generator_version(generator_version)
    for argument, value, high in (("n_videos", n_videos, MAX_VIDEOS), ("n_items", n_items, MAX_ITEMS)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or not 1 <= value <= high:
            raise SizeError(argument, f"must be an integer in 1..{high}, got {value!r}")
    subcategories = {plan.subcategory for plan in plan_videos(seed, n_videos)}
    if n_items < len(GROUPS) or not _pools_suffice(seed, n_items, subcategories, generator_version):
        low = minimum_items(seed, n_videos, generator_version)
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


def _v1_contents(seed: int, n_videos: int, n_items: int):
    """v1's videos.csv rows, items, annotations and pose renderer (one video's plan and rng -> poses)."""
    plans = plan_videos(seed, n_videos)
    items = build_catalogue(seed, n_items)
    annotations = annotate_videos(plans, items, seed)
    video_rows = [(p.video_id, p.category, p.subcategory, "synthetic") for p in plans]
    return plans, video_rows, items, annotations, render_poses


def _v2_contents(seed: int, n_videos: int, n_items: int):
    """The same for v2 (:mod:`.v2`); the context of each plan is used here and written nowhere."""
    from .v2.annotate import annotate_videos as annotate_v2
    from .v2.catalogue import build_catalogue as build_v2
    from .v2.plan import plan_videos as plan_v2
    from .v2.poses import render_poses as render_v2

    plans = plan_v2(seed, n_videos)
    items = build_v2(seed, n_items)
    annotations = annotate_v2(plans, items, seed)
    source = f"synthetic v{GENERATOR_VERSIONS[2]}"
    video_rows = [(p.video_id, p.category, p.subcategory, source) for p in plans]
    return plans, video_rows, items, annotations, lambda p, rng: render_v2(p.subcategory, p.style, p.n_frames, rng)


def generate_raw_dataset(raw_dir: str | os.PathLike, seed: int = 0, n_videos: int = 212, n_items: int = 1087,
                         window: int = 10, step: int = 5, force: bool = False,
                         generator_version: int = DEFAULT_GENERATOR_VERSION) -> dict:  # fmt: skip
    """Generate a synthetic Pose-OBE raw dataset into ``raw_dir`` and return its summary.

    The directory is written atomically (an existing one is replaced only once everything has been
    written, and only if it is empty or an earlier output of this generator, unless ``force``;
    otherwise :class:`~dataset_conversion.errors.DataError`). Bad sizes raise :class:`SizeError`.
    The same arguments always give byte-identical files. ``window`` and ``step`` only enter the
    reported window count (the authors' windowing rule, ``windows.window_starts``). The summary is
    also written to ``SYNTHETIC.json``. ``generator_version`` is 2 (default) or 1 (see the module docstring).
    """
    for name, value in (("window", window), ("step", step)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise SizeError(name, f"must be a positive integer, got {value!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise SizeError("seed", f"must be an integer >= 0, got {seed!r}")
    seed = int(seed)
    generator_version = check_generator_version(generator_version)
    check_sizes(seed, n_videos, n_items, generator_version)
    replaces = (lambda folder: True) if force else is_synth_output
    not_ours = f"{NOT_OURS} (synth --force replaces it)"
    check_replaceable(raw_dir, replaces, not_ours)  # before the work, not only after it
    contents = _v1_contents if generator_version == 1 else _v2_contents
    plans, video_rows, items, annotations, render = contents(seed, n_videos, n_items)
    summary = {
        "synthetic": True,
        "generator": GENERATOR_NAME,
        "generator_version": GENERATOR_VERSIONS[generator_version],
        "seed": seed,
        "n_videos": int(n_videos),
        "n_items": int(n_items),
        "n_windows": count_windows(seed, n_videos, window, step),
        "window": int(window),
        "step": int(step),
    }
    pose_streams = random_streams(seed).poses.spawn(n_videos)
    with atomic_directory(raw_dir, replaces=replaces, not_ours=not_ours) as tmp:
        _write_csv(tmp / VIDEOS_FILE, VIDEO_COLUMNS + ("source",), video_rows)
        _write_csv(tmp / ITEMS_FILE, ITEM_COLUMNS,
                   [(item.item_id, *(item.factors[f] for f in FACTORS), item.group) for item in items])  # fmt: skip
        _write_csv(tmp / ANNOTATIONS_FILE, ANNOTATION_COLUMNS, [(v, i, f"{s:.4f}") for v, i, s in annotations])
        (tmp / POSES_DIR).mkdir()
        for plan, stream in zip(plans, pose_streams):
            np.save(tmp / POSES_DIR / f"{plan.video_id}.npy", render(plan, np.random.default_rng(stream)))
        (tmp / MARKER_FILE).write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return summary
