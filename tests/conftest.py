"""Shared fixtures: a small synthetic raw dataset, its converted RecBole datasets, a tiny raw builder.

``small_dataset_dir`` returns a :class:`SmallDataset` (``data_path``, ``name``, ``cat_name``) -- pass
``data_path`` as RecBole's ``data_path`` and ``name`` / ``cat_name`` as the dataset name.
"""

from __future__ import annotations

import csv
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from dataset_conversion.layout import ANNOTATION_COLUMNS, FACTORS, GROUPS, ITEM_COLUMNS, VIDEO_COLUMNS

SMALL_N_VIDEOS = 24
SMALL_N_ITEMS = 120
SMALL_SEED = 0
SMALL_NAME = "pose-obe-small"
SMALL_CAT_NAME = "pose-obe-small-cat"


@dataclass(frozen=True)
class SmallDataset:
    """Where the converted small datasets are: ``data_path / name`` and ``data_path / cat_name``."""

    data_path: Path
    name: str
    cat_name: str
    raw_dir: Path
    cache_dir: Path

    @property
    def instance_dir(self) -> Path:
        return self.data_path / self.name

    @property
    def category_dir(self) -> Path:
        return self.data_path / self.cat_name


@pytest.fixture(autouse=True, scope="session")
def no_command_line_settings():
    """RecBole's Config reads ``--key=value`` settings from ``sys.argv``: pytest's own arguments are none
    (session scope, so that the session fixtures that build datasets see no arguments either)."""
    saved = sys.argv[:]
    sys.argv[:] = saved[:1]
    yield
    sys.argv[:] = saved


# ---------------------------------------------------------------------------- hand-made raw data


def write_csv(path: Path, header, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def tiny_raw_tables(n_videos: int = 6, n_items: int = 12, frames: int = 23, seed: int = 0) -> dict:
    """Rows of a tiny, valid raw dataset: videos, items (names repeat, for category merges),
    annotations (3 per video), and a pose array per video."""
    rng = np.random.default_rng(seed)
    subcategories = ["basketball", "tennis", "violin"]
    videos = [[f"v{k:03d}", "sports" if k % 3 < 2 else "art", subcategories[k % 3]] for k in range(n_videos)]
    names = ["basketball", "tennis racket", "violin bow", "hat"]
    items = []
    for k in range(n_items):
        name = names[k % len(names)]
        factors = {f: f"{f} of {name} number {k}" for f in FACTORS}
        factors["name"] = name
        items.append([f"i{k:03d}"] + [factors[f] for f in FACTORS] + [GROUPS[k % len(GROUPS)]])
    annotations = []
    for v in range(n_videos):
        for j in range(3):
            annotations.append([f"v{v:03d}", f"i{(v + 4 * j) % n_items:03d}", f"{rng.uniform(-1, 1):.3f}"])
    poses = {row[0]: rng.random((frames + (k % 3), 33, 4)).astype(np.float32) for k, row in enumerate(videos)}
    return {"videos": videos, "items": items, "annotations": annotations, "poses": poses}


def write_tiny_raw(root: Path, tables: dict | None = None, **kwargs) -> Path:
    """Write a tiny raw dataset (``tables`` from :func:`tiny_raw_tables`, possibly edited) under ``root``."""
    tables = tables or tiny_raw_tables(**kwargs)
    root = Path(root)
    write_csv(root / "videos.csv", VIDEO_COLUMNS, tables["videos"])
    write_csv(root / "items.csv", ITEM_COLUMNS, tables["items"])
    write_csv(root / "annotations.csv", ANNOTATION_COLUMNS, tables["annotations"])
    (root / "poses").mkdir(parents=True, exist_ok=True)
    for video_id, array in tables["poses"].items():
        np.save(root / "poses" / f"{video_id}.npy", array)
    return root


@pytest.fixture
def tiny_raw_factory(tmp_path):
    """``make(edit=None) -> raw dir``: a fresh tiny raw dataset; ``edit(tables)`` may break it first."""
    counter = iter(range(10**6))

    def make(edit=None, **kwargs) -> Path:
        tables = tiny_raw_tables(**kwargs)
        if edit is not None:
            edit(tables)
        return write_tiny_raw(tmp_path / f"raw{next(counter)}", tables)

    return make


# --------------------------------------------------------------------------- synthetic datasets


@pytest.fixture(scope="session")
def text_cache_dir(tmp_path_factory) -> Path:
    """A session-wide text-embedding cache (so tests never touch ~/.cache)."""
    return tmp_path_factory.mktemp("text-cache")


@pytest.fixture(scope="session")
def small_raw_dir(tmp_path_factory) -> Path:
    """Synthetic raw data: 24 videos, 120 items, seed 0."""
    from dataset_conversion.synth import generate_raw_dataset

    raw_dir = tmp_path_factory.mktemp("small-raw") / "raw"
    generate_raw_dataset(raw_dir, seed=SMALL_SEED, n_videos=SMALL_N_VIDEOS, n_items=SMALL_N_ITEMS)
    return raw_dir


@pytest.fixture(scope="session")
def small_dataset_dir(tmp_path_factory, small_raw_dir, text_cache_dir) -> SmallDataset:
    """``small_raw_dir`` converted with the default text encoder at both levels."""
    from dataset_conversion.convert import convert_both_levels

    data_path = tmp_path_factory.mktemp("small-atomic")
    convert_both_levels(small_raw_dir, data_path, SMALL_NAME, SMALL_CAT_NAME, cache_dir=text_cache_dir)
    return SmallDataset(data_path, SMALL_NAME, SMALL_CAT_NAME, small_raw_dir, text_cache_dir)


def copy_converted(source: Path, target: Path) -> Path:
    """Copy a converted dataset folder without the pose store that other tests' runs may have written into it."""
    from recbole_poserec.data.pose_store import STORED_SUFFIXES, store_files

    name = source.name
    stored = {path.name for suffix in STORED_SUFFIXES for path in store_files(source / f"{name}.{suffix}")}
    shutil.copytree(source, target, ignore=lambda folder, names: [n for n in names if n in stored])
    return target


@pytest.fixture
def copy_of(tmp_path):
    """``copy_of(dir) -> a private copy`` for tests that modify a shared directory."""

    def copy(source: Path) -> Path:
        target = tmp_path / f"copy-{source.name}"
        shutil.copytree(source, target)
        return target

    return copy
