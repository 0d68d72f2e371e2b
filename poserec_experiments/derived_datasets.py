"""Datasets for the sweeps: the default ones, the ablations' derived ones, and their provenance.

Derived datasets are built from the same raw data as the default ones (``<data_path>/raw-synthetic``,
generated with the default synth seed when missing, as :mod:`recbole_poserec.data.default_datasets` does):

* the base datasets at a sparser window step (``--window-step`` of the ablate command; the ablations in
  ``results/ablations`` use every 20th frame instead of every 5th to fit a 2-core CPU):
  ``<default name>-step<k>``, both levels, same videos, same split.
* other window lengths (Table 5): ``convert_raw_dataset(raw, data_path, "<base>-w<T>", window=T, step=step)``,
  instance level; the split seed and protocol are the converter's defaults, so the same videos land in
  the same splits for every T.
* item subsets (Fig. 5): :func:`subset_items_raw` writes ``<raw>-items<P>/`` keeping P % of the items
  (a seeded random subset; the subsets are nested: 20 % is inside 40 % and so on) with only their
  annotations; a video left without any annotation is dropped (the raw reader requires at least one),
  and so are its windows. It is then converted to ``<base>-items<P>``. 100 % is the base dataset itself.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from dataset_conversion.convert import read_synthetic_provenance
from dataset_conversion.layout import DEFAULT_STEP
from recbole_poserec.config import PROPERTIES_DIR
from recbole_poserec.data.default_datasets import (
    DEFAULT_DATASETS as DEFAULT_DATASET_LEVELS,
    DEFAULT_SYNTH_SEED,
    RAW_DIR_NAME,
    dataset_provenance,
    dataset_ready,
    ensure_default_dataset,
)

CONVERTER_LEVELS = {"ins": "instance", "cat": "category"}  # the sweeps' level names -> the converter's
# The default dataset of each level (``pose-obe``, ``pose-obe-cat``), named by the plug-in.
DEFAULT_DATASETS = {level: name for level, converter_level in CONVERTER_LEVELS.items()
                    for name, of in DEFAULT_DATASET_LEVELS.items() if of == converter_level}
DERIVED_FILE = "DERIVED.json"
ITEM_SUBSET_SEED = 2022


def dataset_config_files(name: str, level: str) -> tuple[str, ...]:
    """Extra YAML for a dataset without its own ``properties/dataset/<name>.yaml``: the level's default one."""
    if os.path.isfile(os.path.join(PROPERTIES_DIR, "dataset", f"{name}.yaml")):
        return ()
    return (os.path.join(PROPERTIES_DIR, "dataset", f"{DEFAULT_DATASETS[level]}.yaml"),)


def read_meta(data_path: str | os.PathLike, name: str) -> dict:
    """The converter's ``<data_path>/<name>/<name>.meta.json`` (empty dict if absent)."""
    return dataset_provenance(Path(data_path) / name, name)


def ensure_dataset(data_path: str | os.PathLike, name: str) -> Path:
    """Make sure ``<data_path>/<name>`` exists (a default dataset is generated when missing)."""
    ensure_default_dataset(data_path, name)
    if not dataset_ready(data_path, name):
        raise FileNotFoundError(f"dataset '{name}' not found under {data_path} (no {name}.train/valid/test.inter)")
    return Path(data_path) / name


def ensure_raw(data_path: str | os.PathLike, raw_dir: str | os.PathLike | None = None) -> Path:
    """The raw data the derived datasets come from; the default synthetic raw data is generated if missing."""
    if raw_dir is not None:
        raw_dir = Path(raw_dir)
        if not raw_dir.is_dir():
            raise FileNotFoundError(f"raw data directory {raw_dir} not found")
        return raw_dir
    raw_dir = Path(data_path) / RAW_DIR_NAME
    if not (raw_dir / "SYNTHETIC.json").is_file():
        from dataset_conversion.synth import generate_raw_dataset

        print(f"generating the SYNTHETIC raw stand-in (seed {DEFAULT_SYNTH_SEED}) into {raw_dir}", flush=True)
        generate_raw_dataset(raw_dir, seed=DEFAULT_SYNTH_SEED)
    return raw_dir


def converted_from(meta: dict, raw_dir: str | os.PathLike) -> bool:
    """Whether a converted dataset's ``meta`` records the raw data now at ``raw_dir``: its path and, for
    synthetic data, its ``SYNTHETIC.json`` (generator version, seed...), so data regenerated in place is
    converted again instead of reused."""
    return (meta.get("raw_dir") == str(Path(raw_dir).resolve())
            and meta.get("synthetic_source") == read_synthetic_provenance(Path(raw_dir)))


def ensure_window_dataset(data_path, raw_dir, name: str, window: int, step: int, level: str = "instance") -> Path:
    """``<data_path>/<name>``: the raw data converted at ``level`` with ``window`` frames per window every ``step``."""
    meta = read_meta(data_path, name)
    if (dataset_ready(data_path, name) and meta.get("window") == window and meta.get("step") == step
            and converted_from(meta, raw_dir)):
        return Path(data_path) / name
    from dataset_conversion.convert import convert_raw_dataset

    print(f"converting {raw_dir} ({level} level) with window={window}, step={step} into {Path(data_path) / name}",
          flush=True)
    return convert_raw_dataset(raw_dir, data_path, name, level=level, window=window, step=step)


def _read_table(path: Path):
    import pandas as pd

    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def subset_items_raw(raw_dir, out_dir, fraction: float, seed: int = ITEM_SUBSET_SEED) -> dict:
    """Write a raw dataset keeping ``fraction`` of ``raw_dir``'s items; return what was kept.

    Items: a permutation of the item list drawn with ``numpy.random.default_rng(seed)``; the first
    ``max(1, round(fraction * n_items))`` are kept (so the subsets of one seed are nested), in file
    order. Annotations of dropped items are dropped; a video left without annotations is dropped with
    its pose file. Pose files are hard-linked (copied where linking fails). ``SYNTHETIC.json`` (if any)
    is copied with a ``derived`` entry; ``DERIVED.json`` records the same entry in any case.
    """
    from dataset_conversion.atomic import atomic_directory
    from dataset_conversion.layout import ANNOTATIONS_FILE, ITEMS_FILE, POSES_DIR, VIDEOS_FILE

    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    videos, items, annotations = (_read_table(raw_dir / f) for f in (VIDEOS_FILE, ITEMS_FILE, ANNOTATIONS_FILE))
    n_keep = max(1, int(round(fraction * len(items))))
    order = np.random.default_rng(seed).permutation(len(items))
    keep_items = set(items["item_id"].iloc[np.sort(order[:n_keep])])
    items = items[items["item_id"].isin(keep_items)]
    annotations = annotations[annotations["item_id"].isin(keep_items)]
    dropped_videos = int((~videos["video_id"].isin(annotations["video_id"])).sum())
    videos = videos[videos["video_id"].isin(annotations["video_id"])]
    derived = {
        "from": str(raw_dir.resolve()),
        "keep_items_fraction": fraction,
        "item_subset_seed": seed,
        "rule": "nested seeded item subset; annotations of dropped items removed; videos left without "
        "annotations dropped",
        "items": int(len(items)),
        "videos": int(len(videos)),
        "dropped_videos": dropped_videos,
        "annotations": int(len(annotations)),
    }
    with atomic_directory(out_dir, replaces=lambda folder: (folder / DERIVED_FILE).is_file()) as tmp:
        videos.to_csv(tmp / VIDEOS_FILE, index=False, lineterminator="\n")
        items.to_csv(tmp / ITEMS_FILE, index=False, lineterminator="\n")
        annotations.to_csv(tmp / ANNOTATIONS_FILE, index=False, lineterminator="\n")
        (tmp / POSES_DIR).mkdir()
        for video_id in videos["video_id"]:
            _link_or_copy(raw_dir / POSES_DIR / f"{video_id}.npy", tmp / POSES_DIR / f"{video_id}.npy")
        marker = raw_dir / "SYNTHETIC.json"
        if marker.is_file():
            synthetic = json.loads(marker.read_text(encoding="utf-8"))
            synthetic["derived"] = derived
            (tmp / "SYNTHETIC.json").write_text(json.dumps(synthetic, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        (tmp / DERIVED_FILE).write_text(json.dumps(derived, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return derived


def _source_provenance(sub_raw: Path) -> dict | None:
    """A subset's ``SYNTHETIC.json`` without its ``derived`` entry: that of the raw data it was made from."""
    synthetic = read_synthetic_provenance(sub_raw)
    return None if synthetic is None else {k: v for k, v in synthetic.items() if k != "derived"}


def ensure_items_dataset(data_path, raw_dir, name: str, fraction: float, seed: int = ITEM_SUBSET_SEED,
                         step: int = DEFAULT_STEP) -> Path:
    """``<data_path>/<name>``: ``fraction`` of the items (:func:`subset_items_raw`), converted at instance level
    with the default window and a window every ``step`` frames."""
    raw_dir = Path(raw_dir)
    sub_raw = raw_dir.with_name(f"{raw_dir.name}-items{int(round(fraction * 100))}")
    wanted = {"keep_items_fraction": fraction, "item_subset_seed": seed, "from": str(raw_dir.resolve())}
    marker = sub_raw / DERIVED_FILE
    current = json.loads(marker.read_text(encoding="utf-8")) if marker.is_file() else {}
    fresh = (any(current.get(k) != v for k, v in wanted.items())
             or _source_provenance(sub_raw) != read_synthetic_provenance(raw_dir))
    if fresh:
        print(f"writing {sub_raw}: {fraction:.0%} of the items of {raw_dir} (seed {seed})", flush=True)
        subset_items_raw(raw_dir, sub_raw, fraction, seed)
    meta = read_meta(data_path, name)
    if not fresh and dataset_ready(data_path, name) and converted_from(meta, sub_raw) and meta.get("step") == step:
        return Path(data_path) / name
    from dataset_conversion.convert import convert_raw_dataset

    print(f"converting {sub_raw} (window step {step}) into {Path(data_path) / name}", flush=True)
    return convert_raw_dataset(sub_raw, data_path, name, level="instance", step=step)
