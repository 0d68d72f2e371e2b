"""Reading and validating a raw Pose-OBE dataset (the layout in :mod:`dataset_conversion.layout`).

Everything a converter needs is checked here, before any output is written, and every problem is
reported as a one-line :class:`~dataset_conversion.errors.DataError` naming the file and the row
(1-based data row; the header is row 0) or field:

* a CSV file that is empty, has no data rows, or lacks a required column (item factors included);
* an empty id / name / category, an unknown item ``group``;
* a video or item id with whitespace or a path separator (ids become file names and tab-separated
  cells), or one that RecBole would not read back as written (below);
* an item name that no atomic-file cell can carry (below);
* a duplicate video id, item id or (video, item) annotation;
* an annotation naming an unknown video or item, a score that is not a number or outside [-1, 1];
* a video without any annotated item;
* a missing or unreadable pose file, a pose array that is not float (T, 33, 4), a value that is NaN
  or infinite once cast to float32 (1e300 in a float64 file; the one rule of
  :mod:`dataset_conversion.pose_values`, message naming frame, landmark and channel), or fewer than
  ``window + 1`` frames (the windowing rule in :mod:`dataset_conversion.windows`).

Values RecBole must read back (the rule of :mod:`dataset_conversion.recbole_tokens`, asked of pandas):

* ids (``video_id``, ``item_id``) are rejected unless the id, written as it is, reads back unchanged:
  pandas' missing-value words (``NA``, ``null``, ``nan``, ``None``, ...) and a leading ``"`` are
  refused. Ids are keys shared by several files and name pose files, so they are never quoted or
  rewritten; window ids (``<video_id>_w<start>``) read back whenever their video id does.
* item names are written CSV-quoted where only quoting makes them read back (``"Pro" racket`` is
  fine); a name that reads as missing even when quoted (``NA``, ``null``, ...) is rejected.
* ``group`` is one of a fixed vocabulary, all of which read back.

Pose files are read by :func:`dataset_conversion.npy_files.load_npy` (the one ``.npy`` reader) and
validated one at a time through a memory map and in chunks, so neither the whole set nor one whole
cast copy of a file is ever in memory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DataError
from .layout import (
    ANNOTATION_COLUMNS,
    ANNOTATIONS_FILE,
    DEFAULT_STEP,
    DEFAULT_WINDOW,
    GROUPS,
    ITEM_COLUMNS,
    ITEMS_FILE,
    NUM_CHANNELS,
    NUM_LANDMARKS,
    POSES_DIR,
    VIDEO_COLUMNS,
    VIDEOS_FILE,
)
from .npy_files import load_npy
from .pose_values import as_finite_float32, check_finite_float
from .recbole_tokens import misread, token_cells
from .windows import window_starts

SCORE_RANGE = (-1.0, 1.0)


@dataclass
class RawDataset:
    """A validated raw dataset.

    ``videos``: one row per video (``video_id``, ``category``, ``subcategory`` and any extra column),
    in file order. ``items``: one row per item (``item_id``, the nine factors, ``group``), in file
    order. ``annotations``: ``video_id``, ``item_id``, ``score`` (float) in file order.
    ``n_frames`` maps each video id to the number of frames of its pose file.
    """

    raw_dir: Path
    videos: pd.DataFrame
    items: pd.DataFrame
    annotations: pd.DataFrame
    n_frames: dict[str, int] = field(default_factory=dict)

    def pose_path(self, video_id: str) -> Path:
        """Path of the pose file of ``video_id``."""
        return pose_path(self.raw_dir, video_id)

    def load_pose(self, video_id: str) -> np.ndarray:
        """The (T, 33, 4) float32 pose sequence of ``video_id`` (validated again on load)."""
        return load_pose(self.pose_path(video_id))

    def open_pose(self, video_id: str) -> np.ndarray:
        """The pose sequence of ``video_id``, memory-mapped in its stored dtype (validated again on open)."""
        return open_pose(self.pose_path(video_id))


def pose_path(raw_dir: str | os.PathLike, video_id: str) -> Path:
    """``<raw>/poses/<video_id>.npy``."""
    return Path(raw_dir) / POSES_DIR / f"{video_id}.npy"


def read_raw_dataset(
    raw_dir: str | os.PathLike, window: int = DEFAULT_WINDOW, step: int = DEFAULT_STEP
) -> RawDataset:
    """Read and validate ``raw_dir``; raise :class:`DataError` on the first problem found."""
    raw_dir = Path(raw_dir)
    if not raw_dir.is_dir():
        raise DataError(raw_dir, "raw dataset directory not found")
    videos = _read_videos(raw_dir / VIDEOS_FILE)
    items = _read_items(raw_dir / ITEMS_FILE)
    annotations = _read_annotations(raw_dir / ANNOTATIONS_FILE, videos, items)
    n_frames = {}
    for video_id in videos["video_id"]:
        n_frames[video_id] = validate_pose_file(pose_path(raw_dir, video_id), window, step)
    return RawDataset(raw_dir, videos, items, annotations, n_frames)


# --------------------------------------------------------------------------------------- CSV files


def read_csv_strict(path: Path, required: tuple[str, ...]) -> pd.DataFrame:
    """Read a CSV file as strings (no NA guessing), checking it exists, has rows and ``required`` columns."""
    if not path.is_file():
        raise DataError(path, "file not found")
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as err:
        raise DataError(path, f"cannot be read ({err.strerror or err})") from None
    if b"\x00" in data:  # pandas' C parser silently cuts a value at a NUL byte; its Python one keeps it
        message = "contains a NUL byte (\\x00), which would silently cut the value short"
        try:
            cells = pd.read_csv(path, dtype=str, header=None, keep_default_na=False, na_filter=False, engine="python")
        except (pd.errors.ParserError, UnicodeDecodeError, ValueError):
            line = data.split(b"\x00", 1)[0].count(b"\n") + 1
            raise DataError(path, f"line {line} {message}") from None
        row, column = (int(i[0]) for i in np.nonzero(cells.apply(lambda c: c.str.contains("\x00", regex=False))))
        name = str(cells.iat[0, column]).strip()
        raise DataError(path, message, row=row, field=name.replace("\x00", "\\x00"))  # row 0: the header
    del data
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False, skipinitialspace=False)
    except pd.errors.EmptyDataError:
        raise DataError(path, "file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise DataError(path, f"cannot be parsed as CSV: {err}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    for column in required:
        if column not in frame.columns:
            raise DataError(path, f"missing column (expected columns: {', '.join(required)})", field=column)
    if len(frame) == 0:
        raise DataError(path, "file has a header but no data rows")
    for column in required:
        frame[column] = frame[column].str.strip()
    return frame.reset_index(drop=True)


def _row(index: int) -> int:
    """1-based data row of a 0-based frame index (the header is row 0)."""
    return int(index) + 1


def _fail_at_first(path: Path, bad, field: str, describe) -> None:
    """Raise a :class:`DataError` for the first row where the boolean array ``bad`` holds.

    ``describe(index)`` gives the message for that 0-based frame index.
    """
    rows = np.flatnonzero(np.asarray(bad))
    if len(rows):
        raise DataError(path, describe(rows[0]), row=_row(rows[0]), field=field)


def _require_non_empty(path: Path, frame: pd.DataFrame, columns: tuple[str, ...]) -> None:
    for column in columns:
        _fail_at_first(path, frame[column].to_numpy() == "", column, lambda _: "empty value")


def _require_unique(path: Path, frame: pd.DataFrame, columns: list[str], what: str) -> None:
    def describe(index):
        return f"duplicate {what} '{', '.join(str(frame.at[index, c]) for c in columns)}'"

    _fail_at_first(path, frame.duplicated(subset=columns, keep="first").to_numpy(), columns[-1], describe)


def _require_file_safe_ids(path: Path, frame: pd.DataFrame, column: str) -> None:
    """Ids end up in file names and tab-separated files: no path separators or whitespace, and
    RecBole must read each one back unchanged from an atomic file."""
    bad = frame[column].str.contains(r"[\s/\\]", regex=True).to_numpy()
    _fail_at_first(path, bad, column, lambda _: "id contains whitespace or a path separator")
    _fail_at_first(path, misread(frame[column].tolist()), column, lambda i: (
        f"id '{frame.at[i, column]}' would not be read back as written by RecBole (pandas reads it as a "
        "missing value or a quoted field); ids may not be a missing-value word such as NA, null or nan, "
        "nor start with '\"'"))


def _require_recbole_names(path: Path, frame: pd.DataFrame, column: str) -> None:
    """Names are quoted where that makes them read back; a name read as missing even quoted is refused."""
    _, unrepresentable = token_cells(frame[column].tolist())
    _fail_at_first(path, unrepresentable, column, lambda i: (
        f"name '{frame.at[i, column]}' would be read by RecBole (pandas) as a missing value, quoted or not; "
        "choose another name"))


def _read_videos(path: Path) -> pd.DataFrame:
    frame = read_csv_strict(path, VIDEO_COLUMNS)
    _require_non_empty(path, frame, VIDEO_COLUMNS)
    _require_file_safe_ids(path, frame, "video_id")
    _require_unique(path, frame, ["video_id"], "video id")
    return frame


def _read_items(path: Path) -> pd.DataFrame:
    frame = read_csv_strict(path, ITEM_COLUMNS)
    _require_non_empty(path, frame, ("item_id", "name", "group"))
    _require_file_safe_ids(path, frame, "item_id")
    _require_unique(path, frame, ["item_id"], "item id")
    _fail_at_first(path, ~frame["group"].isin(GROUPS).to_numpy(), "group",
                   lambda i: f"unknown group '{frame.at[i, 'group']}' (expected one of {', '.join(GROUPS)})")
    # Factor texts go into a tab-separated world later: fold any whitespace run into one space.
    for column in ITEM_COLUMNS[1:]:
        frame[column] = frame[column].str.split().str.join(" ")
    _require_recbole_names(path, frame, "name")
    return frame[list(ITEM_COLUMNS)]


def _read_annotations(path: Path, videos: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    frame = read_csv_strict(path, ANNOTATION_COLUMNS)
    _require_non_empty(path, frame, ("video_id", "item_id"))
    for column, known, what in (("video_id", videos["video_id"], "video"), ("item_id", items["item_id"], "item")):
        _fail_at_first(path, ~frame[column].isin(known).to_numpy(), column,
                       lambda i, column=column, what=what: f"unknown {what} '{frame.at[i, column]}'")
    scores = pd.to_numeric(frame["score"], errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(scores) | (scores < SCORE_RANGE[0]) | (scores > SCORE_RANGE[1])
    _fail_at_first(path, bad, "score", lambda i: (
        f"score '{frame.at[i, 'score']}' is not a number in [{SCORE_RANGE[0]:g}, {SCORE_RANGE[1]:g}]"))
    _require_unique(path, frame, ["video_id", "item_id"], "annotation (video_id, item_id)")
    _fail_at_first(path.with_name(VIDEOS_FILE), ~videos["video_id"].isin(frame["video_id"]).to_numpy(), "video_id",
                   lambda i: f"video '{videos.at[i, 'video_id']}' has no annotated item in {ANNOTATIONS_FILE}")
    result = frame[list(ANNOTATION_COLUMNS)].copy()
    result["score"] = scores
    return result


# -------------------------------------------------------------------------------------- pose files


POSE_AXES = ("frame", "landmark", "channel")


def _check_pose_array(path: Path, array: np.ndarray) -> None:
    """Shape (T, 33, 4), a float dtype, finite after the cast to float32 (checked in chunks)."""
    expected = f"(T, {NUM_LANDMARKS}, {NUM_CHANNELS})"
    if array.ndim != 3 or array.shape[1:] != (NUM_LANDMARKS, NUM_CHANNELS):
        raise DataError(path, f"pose array has shape {tuple(array.shape)}, expected {expected}")
    check_finite_float(path, array, "pose", POSE_AXES)


def validate_pose_file(path: Path, window: int = DEFAULT_WINDOW, step: int = DEFAULT_STEP) -> int:
    """Check one pose file through a memory map; return its number of frames."""
    array = load_npy(path, "pose file")
    _check_pose_array(path, array)
    n_frames = int(array.shape[0])
    if len(window_starts(n_frames, window, step)) == 0:
        raise DataError(
            path,
            f"video has {n_frames} frames, shorter than one window (needs at least {window + 1} frames "
            f"for window {window})",
        )
    return n_frames


def open_pose(path: str | os.PathLike) -> np.ndarray:
    """One checked (T, 33, 4) pose file, memory-mapped, in its stored float dtype."""
    path = Path(path)
    array = load_npy(path, "pose file")
    _check_pose_array(path, array)
    return array


def load_pose(path: str | os.PathLike) -> np.ndarray:
    """Load and check one (T, 33, 4) pose file as float32 (an in-memory copy of the memory map)."""
    path = Path(path)
    array = load_npy(path, "pose file")
    _check_pose_array(path, array)
    array = as_finite_float32(path, array, "pose", POSE_AXES)
    return array if array.flags.writeable else np.array(array)  # a float32 file's cast is the map itself
