"""The data's ceilings beside Table 1: oracles that use metadata no model may see (reference rows, never bold).

``subcategory``
    The subcategory oracle: each test unit ranks the items by their number of positive training
    interactions within the test video's *true* subcategory (ties: overall training popularity, then id
    order). It works on any converted dataset: it reads the dataset's own files (the ``.inter`` splits,
    ``<name>.videos.tsv`` for each video's subcategory, split and window count, and the ``.item`` ids), so
    it sees exactly the items, positives and split the models see.
``generator``
    For synthetic data only, the generator's ceiling: P(item is a positive | the video's subcategory and
    hidden style), estimated by re-running the generator's annotation process (Monte Carlo,
    :func:`dataset_conversion.synth.v2.ceiling.generator_ceiling`, :data:`CEILING_DRAWS` draws, its own
    random stream), ranked. It needs the raw synthetic data the dataset was converted from and the
    generator's seed and version, all read from the converted dataset's ``<name>.meta.json``.

Both rank with and are scored by :func:`dataset_conversion.synth.v2.calibration.ranking_metrics` (RecBole's
Recall@K = hits in the top K / positives, and NDCG@K), over the evaluated test units: the window level
weighs each test video by its window count (each of its windows has the video's positives, so this is the
mean over test windows RecBole's window-level evaluator takes); the video level weighs each test video
once. Positives are score > 0 (the converter's ``label``). Where a ceiling cannot be computed (no raw data,
derived or real data, a window-level split), its row says why instead of giving numbers.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from dataset_conversion.layout import ITEM_FIELD, LABEL_FIELD, USER_FIELD, VIDEO_FIELD
from dataset_conversion.synth.v2.calibration import RawTables, popularity_metrics, read_raw_tables
from dataset_conversion.synth.v2.ceiling import generator_ceiling

CEILING_DRAWS = 200  # Monte-Carlo draws per test video (the ceiling module's default)
CEILING_SEED = 0
CEILINGS = {
    "subcategory": "oracle: subcategory frequency",
    "generator": "oracle: generator ceiling",
}
GENERATOR_LEVELS = ("instance", "category")  # meta.json's levels, generator_ceiling's key prefixes
UNITS = {"window": "window", "video": "video"}  # protocol -> calibration's unit
CEILINGS_HEADER = ["level", "protocol", "ceiling", "metric", "value"]


@dataclass
class Ceiling:
    """One reference row at one level: ``figures[protocol][metric]``, or ``reason`` why there are none."""

    name: str
    label: str
    figures: dict = field(default_factory=dict)
    reason: str = ""


def _first_cells(path: Path, cells: int) -> pd.DataFrame:
    """The first ``cells`` tab-separated columns of an atomic file (header without ``:type``), read line by
    line: the ``.user`` / ``.item`` files carry long float sequences nobody here needs."""
    with open(path, encoding="utf-8") as handle:
        header = [name.partition(":")[0] for name in handle.readline().rstrip("\n").split("\t", cells)[:cells]]
        rows = [line.rstrip("\n").split("\t", cells)[:cells] for line in handle]
    return pd.DataFrame(rows, columns=header)


def converted_tables(dataset_dir: Path, name: str) -> RawTables:
    """The converted dataset ``name`` as :class:`RawTables` at its own level: its ``.item`` ids are the
    candidates (``level="instance"`` of the calibration functions then means "this dataset's items"), each
    video's annotations are its windows' ``.inter`` rows with ``label`` as the score (positive iff 1)."""
    videos = pd.read_csv(dataset_dir / f"{name}.videos.tsv", sep="\t", dtype=str, keep_default_na=False)
    videos["n_windows"] = videos["n_windows"].astype(int)
    windows = _first_cells(dataset_dir / f"{name}.user", 2).set_index(USER_FIELD)[VIDEO_FIELD]
    items = _first_cells(dataset_dir / f"{name}.item", 1)
    inter = pd.concat([pd.read_csv(dataset_dir / f"{name}.{part}.inter", sep="\t", dtype=str, keep_default_na=False)
                       .rename(columns=lambda c: c.partition(":")[0]) for part in ("train", "valid", "test")])
    inter[VIDEO_FIELD] = inter[USER_FIELD].map(windows)
    annotations = (inter.assign(score=inter[LABEL_FIELD].astype(float))
                   .groupby([VIDEO_FIELD, ITEM_FIELD], as_index=False, sort=False)["score"].max())
    return RawTables(videos[["video_id", "category", "subcategory", "n_windows", "split"]],
                     items.rename(columns={ITEM_FIELD: "item_id"}), annotations)


def subcategory_oracle(dataset_dir: Path, name: str, meta: dict) -> Ceiling:
    """The subcategory oracle's figures per protocol (module docstring)."""
    ceiling = Ceiling("subcategory", CEILINGS["subcategory"])
    split = (meta.get("split") or {}).get("protocol", "video")
    if split != "video":
        ceiling.reason = f"not defined for the {split!r} split protocol (test videos are not held out)"
        return ceiling
    try:
        tables = converted_tables(dataset_dir, name)
    except (OSError, KeyError, ValueError) as err:
        ceiling.reason = f"cannot read {dataset_dir}: {err}"
        return ceiling
    ceiling.figures = {protocol: popularity_metrics(tables, "instance", unit, within_subcategory=True)
                       for protocol, unit in UNITS.items()}
    return ceiling


def raw_directory(dataset_dir: Path, meta: dict) -> Path | None:
    """The raw data the dataset was converted from: meta.json's ``raw_dir``, else a folder of that name
    beside the dataset (data moved to another machine together); None when neither holds ``videos.csv``."""
    recorded = meta.get("raw_dir")
    if not recorded:
        return None
    for candidate in (Path(recorded), Path(dataset_dir).parent / Path(recorded).name):
        if (candidate / "videos.csv").is_file():
            return candidate
    return None


@functools.lru_cache(maxsize=4)
def _generator_figures(raw_dir: str, seed: int, version: int, window: int, step: int, split_seed: int,
                       draws: int) -> tuple[dict, tuple]:
    """generator_ceiling on ``raw_dir`` (both levels at once; cached: the levels share their raw data), and
    the raw data's split per video (to check it against the converted one)."""
    tables = read_raw_tables(raw_dir, window=window, step=step, split_seed=split_seed)
    figures = generator_ceiling(tables, seed, version, n_draws=draws, ceiling_seed=CEILING_SEED)
    return figures, tuple(zip(tables.videos["video_id"], tables.videos["split"]))


def generator_ceiling_row(dataset_dir: Path, name: str, meta: dict, draws: int = CEILING_DRAWS) -> Ceiling:
    """The generator's ceiling per protocol at the dataset's level, or why there is none (module docstring)."""
    ceiling = Ceiling("generator", CEILINGS["generator"])
    source = meta.get("synthetic_source") or {}
    if not meta.get("synthetic"):
        ceiling.reason = "defined for synthetic data only"
        return ceiling
    if source.get("derived"):
        ceiling.reason = "not defined for derived data (a subset of the generator's output)"
        return ceiling
    level = meta.get("level")
    raw_dir = raw_directory(dataset_dir, meta)
    if raw_dir is None or level not in GENERATOR_LEVELS:
        ceiling.reason = f"the raw synthetic data {meta.get('raw_dir') or '(not recorded)'} is not there"
        return ceiling
    split = meta.get("split") or {}
    try:
        version = int(str(source.get("generator_version", "")).split(".")[0])
        figures, raw_split = _generator_figures(str(Path(raw_dir).resolve()), int(source["seed"]), version,
                                                int(meta["window"]), int(meta["step"]), int(split["seed"]), draws)
        videos = pd.read_csv(dataset_dir / f"{name}.videos.tsv", sep="\t", dtype=str, keep_default_na=False)
    except (KeyError, ValueError, OSError) as err:
        ceiling.reason = f"cannot be computed from {raw_dir}: {err}"
        return ceiling
    if tuple(zip(videos["video_id"], videos["split"])) != raw_split:
        ceiling.reason = f"the raw data {raw_dir} does not split like {name} (converted with other settings)"
        return ceiling
    ceiling.figures = {protocol: {} for protocol in UNITS}
    for key, value in figures.items():  # "<level>_<metric>" (window level), "<level>_<metric>_per_video"
        key_level, _, metric = key.partition("_")
        if key_level == level:
            protocol = "video" if metric.endswith("_per_video") else "window"
            ceiling.figures[protocol][metric.removesuffix("_per_video")] = value
    return ceiling


def dataset_ceilings(data_path: Path, name: str, meta: dict, draws: int = CEILING_DRAWS) -> list[Ceiling]:
    """Both ceilings of the converted dataset ``<data_path>/<name>`` (``meta``: its meta.json)."""
    dataset_dir = Path(data_path) / name
    return [subcategory_oracle(dataset_dir, name, meta), generator_ceiling_row(dataset_dir, name, meta, draws)]


def ceiling_rows(ceilings_by_level: dict[str, list[Ceiling]]) -> list[dict]:
    """:data:`CEILINGS_HEADER` rows (long format) of the ceilings that have figures."""
    return [{"level": level, "protocol": protocol, "ceiling": c.name, "metric": metric, "value": value}
            for level, ceilings in ceilings_by_level.items() for c in ceilings
            for protocol, figures in c.figures.items() for metric, value in figures.items()]
