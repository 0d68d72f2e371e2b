"""Recommend object effects for a new video from its 3D BlazePose poses (PoseRec, paper Sec. 3 and Fig. 7).

Usage::

    python -m recbole_poserec.recommend (--video FILE | --poses FILE)
                                        (--checkpoint FILE | --reference-release DIR)
                                        [--top-k 5] [--per-window] [--format text|json]
                                        [--plot OUT.png] [--window 10] [--step 5]
                                        [--items NEW_ITEMS.csv [--items-only]]

Input
    ``--video``: poses are extracted with MediaPipe BlazePose exactly as the dataset converter does
    (:func:`dataset_conversion.pose_extraction.extract_video_poses`: frames without a detected person
    are dropped) and cut into windows by the authors' rule (:func:`dataset_conversion.windows.cut_windows`:
    starts 0, step, 2*step, ... while start < n_frames - window).
    ``--poses``: a ``.npy`` (read with ``allow_pickle=False``) or an authors'-style ``.pkl`` (read with
    a numpy-only unpickler) holding either a whole video's poses (T, 33, 4) -- windowed as above -- or
    ready windows (N, window, 33, 4). Channels are x, y, z, visibility.

Model
    ``--checkpoint``: a PoseRec checkpoint written by ``run_recbole.py``; its ``catalogue`` names the items.
    ``--reference-release``: the authors' released files (:mod:`recbole_poserec.inference.reference_release`).
    Both are a :class:`~recbole_poserec.inference.scorer.WindowScorer`, the only thing this command uses.

New items
    ``--items NEW_ITEMS.csv`` (raw ``items.csv`` layout; checkpoints only): effects added after training,
    embedded from their nine factor texts with the text encoder the checkpoint records and mapped by its
    item side (:mod:`recbole_poserec.inference.new_items`), ranked with the catalogue (an id already in
    it is an error naming the row) or, with ``--items-only``, instead of it. Their ``index`` continues
    after the catalogue's (n_catalogue + j for the j-th row); entries carry ``"new": true`` (catalogue
    entries ``false``) in JSON and ``(new)`` in the table. Its rows get the converter's one-line errors.

Scoring
    Every window is scored against every item with Eq. 7, y[v, i] = sum_k omega_ik cos(e_v^(k), e_i^(k)):
    all windows go through the ST-GCN together (in slices of 1024), then one matrix product with the
    item matrix M (y = e_v M^T). **The video's score of an item is the mean of its window scores**
    (every window weighs the same); the video's top-k ranks items by that mean. Ties keep catalogue order.

Item index
    ``index`` is the item's row in the catalogue used: for the reference release the 0-based line of
    ``item_data.csv``; for a checkpoint the position in its catalogue *without* RecBole's padding item,
    i.e. RecBole's internal item id - 1 (the padding item, internal id 0, is never recommended).
    Checkpoint entries also carry ``token``, the dataset's item id.

Output
    ``--format text`` (default): a table. ``--format json``: one object
    ``{"n_windows": N, "aggregation": "mean", "video": [{"rank", "index", "name", "score"}, ...],
    "windows": [[...top-k of window 0...], ...]}``; ``windows`` is always present and is ``[]``
    unless ``--per-window`` is given.
    ``--plot OUT.png``: a strip of skeleton frames of the video beside its top-k with scores (written
    atomically).

Errors
    Bad input ends the program with one line ``error: <file or argument>: <what>`` on stderr, no
    traceback and nothing on stdout (:mod:`dataset_conversion.entrypoint`):

    * exit code 2: bad usage (an unknown option, a non-integer or a value below 1 for ``--top-k``,
      ``--window`` or ``--step``) or bad input: an unreadable video, no person detected, a wrong array
      shape, a pose array that is not of a float dtype or not finite once cast to float32 (NaN, inf,
      1e300), a checkpoint of another model, with an inconsistent catalogue or with NaN/inf weights
      (the tensor is named), a malformed release directory, a pickle that names anything but numpy
      arrays or whose arrays are larger than the data it holds, a top-k above the catalogue size, a
      score that is not finite, a plot that cannot be written, an empty ``--plot`` or one naming an
      existing file that is not a PNG (or a symbolic link, directory, device or FIFO: it is never replaced);
    * exit code 130 on Ctrl-C (``interrupted``), 143 on SIGTERM (``terminated``).

    No output ever holds NaN: JSON is RFC 8259-valid. ``--plot`` writes through a temporary file and
    a rename, so an interrupted or failed run leaves no PNG (and no temporary file) behind.
"""

from __future__ import annotations

from dataset_conversion.entrypoint import install_startup_signal_handlers

install_startup_signal_handlers()  # before the heavy imports: a signal during them is one line too

import argparse
import contextlib
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from dataset_conversion.atomic import atomic_save_figure, check_figure_path
from dataset_conversion.entrypoint import ArgumentParser, path_argument, positive_int
from dataset_conversion.errors import DataError
from dataset_conversion.layout import DEFAULT_STEP, DEFAULT_WINDOW, NUM_CHANNELS, NUM_LANDMARKS
from dataset_conversion.pose_values import as_finite_float32, require_float_dtype
from dataset_conversion.windows import cut_windows
from recbole_poserec.command_line import run_command
from recbole_poserec.evaluation.aggregation import DEFAULT_AGGREGATION, aggregate_window_scores
from dataset_conversion.npy_files import load_npy
from dataset_conversion.array_files import in_memory, load_numpy_pickle
from recbole_poserec.inference.loader import load_scorer
from recbole_poserec.inference.new_items import add_new_items
from recbole_poserec.inference.scorer import WindowScorer
from recbole_poserec.model.graph import BLAZEPOSE_EDGES

AGGREGATION = DEFAULT_AGGREGATION  # the video-level evaluation's rule (recbole_poserec.evaluation.aggregation)
DEFAULT_TOP_K = 5


# ------------------------------------------------------------------------------------- pose input


@dataclass
class VideoPoses:
    """A video's windows (N, window, 33, 4) for scoring and poses (T, 33, 4) to draw.

    ``frames`` are the video's frames, or the first frame of each window when only windows are given
    (``frame_label`` says which); ``aspect`` = frame width / height (1 when unknown).
    """

    source: Path
    windows: np.ndarray
    frames: np.ndarray
    aspect: float = 1.0
    frame_label: str = "frame"


def windows_from_array(path: Path, array, window: int, step: int) -> VideoPoses:
    """Validate a pose array and window it: (T, 33, 4) frames are cut, (N, window, 33, 4) windows kept."""
    require_float_dtype(path, array, "poses")
    if array.ndim not in (3, 4):
        raise DataError(path, f"expected (T, {NUM_LANDMARKS}, {NUM_CHANNELS}) frames or (N, {window}, "
                              f"{NUM_LANDMARKS}, {NUM_CHANNELS}) windows, got shape {array.shape}")
    axes = ("frame", "landmark", "channel") if array.ndim == 3 else ("window", "frame", "landmark", "channel")
    array = in_memory(as_finite_float32(path, array, "poses", axes))
    if array.shape[-2:] != (NUM_LANDMARKS, NUM_CHANNELS):
        raise DataError(path, f"expected {NUM_LANDMARKS} landmarks x {NUM_CHANNELS} channels per frame, "
                              f"got shape {array.shape}")
    if array.ndim == 4:
        if array.shape[1] != window or array.shape[0] == 0:
            raise DataError(path, f"expected windows of {window} frames (--window), got shape {array.shape}")
        # frames to draw: the first frame of each window
        return VideoPoses(path, array, array[:, 0], frame_label="window")
    windows = cut_windows(array, window, step)
    if len(windows) == 0:
        raise DataError(path, f"{len(array)} frames with a person; at least {window + 1} are needed for "
                              f"one window of {window}")
    return VideoPoses(path, windows, array)


def load_pose_file(path: str | os.PathLike, window: int, step: int) -> VideoPoses:
    """Poses from a ``.npy`` (no pickles) or an authors'-style ``.pkl`` (numpy arrays only)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "pose file not found" if not path.exists() else "not a regular file")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        array = load_npy(path)
    elif suffix == ".pkl":
        array = load_numpy_pickle(path)
    else:
        raise DataError(path, f"unknown pose file type {suffix!r} (expected .npy or .pkl)")
    return windows_from_array(path, array, window, step)


@contextlib.contextmanager
def native_stderr_silenced():
    """Send file descriptor 2 to /dev/null (MediaPipe's C++ logs), restoring it afterwards."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def video_aspect(path: Path) -> float:
    """Frame width / height of a video (1.0 if OpenCV cannot tell)."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    try:
        width, height = capture.get(cv2.CAP_PROP_FRAME_WIDTH), capture.get(cv2.CAP_PROP_FRAME_HEIGHT)
    finally:
        capture.release()
    return float(width / height) if width > 0 and height > 0 else 1.0


def load_video(path: str | os.PathLike, window: int, step: int, quiet: bool = True) -> VideoPoses:
    """Extract BlazePose poses from a video like the converter does, then window them."""
    from dataset_conversion.pose_extraction import extract_video_poses

    path = Path(path)
    with native_stderr_silenced() if quiet else contextlib.nullcontext():
        frames = extract_video_poses(path)
    poses = windows_from_array(path, frames, window, step)
    poses.aspect = video_aspect(path)
    return poses


# ---------------------------------------------------------------------------------------- ranking


@dataclass
class Recommendation:
    """One ranked item. ``index``: row in the catalogue used (see the module docstring)."""

    rank: int
    index: int
    name: str
    score: float
    token: str | None = None
    new: bool | None = None  # with --items: whether the item was added after training

    def as_dict(self) -> dict:
        entry = {"rank": self.rank, "index": self.index, "name": self.name, "score": self.score}
        if self.token is not None:
            entry["token"] = self.token
        if self.new is not None:
            entry["new"] = self.new
        return entry


@dataclass
class RecommendationResult:
    """The video's top-k (by the mean window score) and, optionally, each window's top-k."""

    n_windows: int
    video: list[Recommendation]
    windows: list[list[Recommendation]] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "n_windows": self.n_windows,
            "aggregation": AGGREGATION,
            "video": [entry.as_dict() for entry in self.video],
            "windows": [[entry.as_dict() for entry in ranking] for ranking in self.windows],
        }


def top_k_indices(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest scores along the last axis, best first (ties: lower index first)."""
    return np.argsort(-scores, axis=-1, kind="stable")[..., :k]


def ranking(scores: np.ndarray, indices: np.ndarray, names: list[str], tokens: list[str] | None,
            shown: list[int] | None = None, new: list[bool] | None = None) -> list[Recommendation]:
    """Entries for the columns ``indices`` of ``scores``; ``shown[i]`` is column i's index where it is not i
    (new items), ``new[i]`` whether it is a new item."""
    return [
        Recommendation(rank + 1, shown[i] if shown is not None else int(i), names[i], float(scores[i]),
                       tokens[i] if tokens is not None else None, new[i] if new is not None else None)
        for rank, i in enumerate(indices)
    ]


def check_finite_scores(model: WindowScorer, window_scores: np.ndarray) -> None:
    """Raise a :class:`DataError` if any Eq. 7 score is NaN or infinite (weights or poses overflowed)."""
    bad = ~np.isfinite(window_scores)
    if bad.any():
        window, item = (int(i) for i in np.argwhere(bad)[0])
        raise DataError(model.source, f"the Eq. 7 score of window {window} for item {item} "
                                      f"({model.item_names[item]!r}) is {window_scores[window, item]}: "
                                      "the model's weights or the poses overflow float32")


def recommend(model: WindowScorer, windows: np.ndarray, top_k: int, per_window: bool = False) -> RecommendationResult:
    """Score all ``windows`` against all items (Eq. 7) and rank by the mean over windows.

    A score that is not finite is a :class:`DataError`: no ranking (text, JSON or plot) holds NaN.
    """
    scores = model.score_windows(torch.from_numpy(np.ascontiguousarray(windows, dtype=np.float32)))
    window_scores = scores.numpy()
    check_finite_scores(model, window_scores)
    video_scores = aggregate_window_scores(scores, torch.zeros(len(scores), dtype=torch.long), 1, AGGREGATION)[0].numpy()
    tokens = model.item_tokens
    shown, new = getattr(model, "item_indices", None), getattr(model, "item_new", None)  # NewItemsScorer's
    result = RecommendationResult(len(windows), ranking(video_scores, top_k_indices(video_scores, top_k),
                                                        model.item_names, tokens, shown, new))
    if per_window:
        best = top_k_indices(window_scores, top_k)
        result.windows = [ranking(scores, indices, model.item_names, tokens, shown, new)
                          for scores, indices in zip(window_scores, best)]
    return result


def check_top_k(top_k: int, n_items: int) -> None:
    if not 1 <= top_k <= n_items:
        raise DataError("--top-k", f"{top_k} is outside 1..{n_items} (the catalogue's size)")


# ----------------------------------------------------------------------------------------- output


def format_text(result: RecommendationResult, video: Path, source: str) -> str:
    """A readable table of the video's top-k, then one line per window with ``--per-window``."""
    lines = [f"Top {len(result.video)} object effects for {video} ({AGGREGATION} score over "
             f"{result.n_windows} windows; {source})",
             f"{'rank':>4}  {'index':>5}  {'score':>8}  name"]
    for entry in result.video:
        token = f"  [{entry.token}]" if entry.token is not None else ""
        new = "  (new)" if entry.new else ""
        lines.append(f"{entry.rank:>4}  {entry.index:>5}  {entry.score:>8.4f}  {entry.name}{token}{new}")
    if result.windows:
        lines.append("")
        lines.append("Per window (name score):")
        for number, window_ranking in enumerate(result.windows):
            items = ", ".join(f"{entry.name} {entry.score:.3f}" for entry in window_ranking)
            lines.append(f"  window {number:>3}: {items}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ plots

SKELETON_COLORS = {"left": "#1f77b4", "right": "#d62728", "centre": "#555555"}


def _side(landmark: int) -> str:
    """BlazePose numbering: odd landmarks are on the person's left, even ones (but the nose, 0) on the right."""
    if landmark == 0:
        return "centre"
    return "left" if landmark % 2 else "right"


def edge_side(i: int, j: int) -> str:
    sides = {_side(i), _side(j)}
    return sides.pop() if len(sides) == 1 else "centre"


def frames_to_draw(frames: np.ndarray, count: int) -> np.ndarray:
    """Indices of ``count`` evenly spaced frames (all if there are fewer)."""
    return np.unique(np.linspace(0, len(frames) - 1, min(count, len(frames))).round().astype(int))


def draw_skeleton(axes, pose: np.ndarray, aspect: float = 1.0) -> None:
    """The 35 BlazePose edges and 33 landmarks of one (33, C) pose from x, y (y downwards, x scaled by ``aspect``)."""
    x, y = pose[:, 0] * aspect, pose[:, 1]
    visibility = np.clip(pose[:, 3], 0.2, 1.0) if pose.shape[1] > 3 else np.ones(len(pose))
    for i, j in BLAZEPOSE_EDGES:
        axes.plot([x[i], x[j]], [y[i], y[j]], color=SKELETON_COLORS[edge_side(i, j)], linewidth=2,
                  alpha=float(min(visibility[i], visibility[j])), solid_capstyle="round")
    colors = [SKELETON_COLORS[_side(v)] for v in range(len(pose))]
    axes.scatter(x, y, s=9, c=colors, alpha=visibility, zorder=3, linewidths=0)


def plot_recommendation(poses: VideoPoses, result: RecommendationResult, out: str | os.PathLike,
                        title: str, n_frames: int = 5) -> Path:
    """Write a PNG: skeleton frames of the video (left) beside its top-k with scores (right), paper Fig. 7.

    Every skeleton panel has the same scale (the largest skeleton extent among the frames shown),
    centred on its own skeleton, so that poses compare while a moving person stays in view. Frame
    numbers count the frames with a detected person (the ones the poses come from); with windows as
    input, each panel is the first frame of the numbered window.
    """
    from matplotlib.figure import Figure

    shown = frames_to_draw(poses.frames, n_frames)
    figure = Figure(figsize=(2.0 * len(shown) + 5.2, 3.6), layout="constrained")
    grid = figure.add_gridspec(1, len(shown) + 1, width_ratios=[1] * len(shown) + [2.6])
    xy = poses.frames[shown][..., :2] * np.array([poses.aspect, 1.0])
    extent = float((xy.max(axis=1) - xy.min(axis=1)).max())
    half = max(extent / 2 * 1.15, 1e-3)
    for column, frame in enumerate(shown):
        axes = figure.add_subplot(grid[0, column])
        draw_skeleton(axes, poses.frames[frame], poses.aspect)
        centre = (xy[column].min(axis=0) + xy[column].max(axis=0)) / 2
        axes.set_xlim(centre[0] - half, centre[0] + half)
        axes.set_ylim(centre[1] + half, centre[1] - half)  # image coordinates: y grows downwards
        axes.set_aspect("equal")
        axes.set_xticks([])
        axes.set_yticks([])
        axes.set_title(f"{poses.frame_label} {frame}", fontsize=9)
        for spine in axes.spines.values():
            spine.set_color("#cccccc")

    chart = figure.add_subplot(grid[0, -1])
    scores = np.array([entry.score for entry in result.video])
    positions = np.arange(len(scores))
    labels = [f"{entry.rank}. {entry.name} (#{entry.index})" for entry in result.video]
    low, high = float(scores.min()), float(scores.max())
    span = max(high - low, 0.02 * max(abs(high), 1e-3), 1e-4)
    left = low - 0.35 * span
    chart.hlines(positions, left, scores, color="#9bb3d6", linewidth=2)
    chart.plot(scores, positions, "o", color="#2c5aa0", markersize=7)
    for position, score in zip(positions, scores):
        chart.text(score + 0.06 * span, position, f"{score:.4f}", va="center", fontsize=9)
    chart.set_yticks(positions, labels, fontsize=9)
    chart.set_ylim(len(scores) - 0.5, -0.5)
    chart.set_xlim(left, high + 0.45 * span)
    chart.set_xlabel(f"{AGGREGATION} Eq. 7 score over {result.n_windows} windows", fontsize=9)
    chart.set_title(f"top {len(scores)} object effects", fontsize=10)
    chart.tick_params(axis="x", labelsize=8)
    for side in ("top", "right"):
        chart.spines[side].set_visible(False)
    figure.suptitle(title, fontsize=11)
    figure.supxlabel("skeleton: blue = person's left, red = right, grey = centre; faint = low visibility",
                     fontsize=8, color="#666666")

    return atomic_save_figure(figure, out, format="png", dpi=130)


# -------------------------------------------------------------------------------------------- CLI


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="python -m recbole_poserec.recommend",
        description="Recommend object effects for a video from its 3D BlazePose poses (PoseRec). "
                    "Each window is scored with Eq. 7; the video's score of an item is the MEAN of its "
                    "window scores. Item 'index' = line of item_data.csv (reference release) or RecBole "
                    "internal item id - 1 (checkpoint; the [PAD] item is never recommended).",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--video", help="a video file; poses are extracted with MediaPipe BlazePose")
    source.add_argument("--poses", help="a .npy or .pkl of (T, 33, 4) frames or (N, window, 33, 4) windows")
    model = parser.add_mutually_exclusive_group(required=True)
    model.add_argument("--checkpoint", help="a PoseRec checkpoint written by run_recbole.py")
    model.add_argument("--reference-release", metavar="DIR", help="the authors' release directory")
    parser.add_argument("--top-k", type=positive_int, default=DEFAULT_TOP_K,
                        help="items to list, 1..catalogue size (default 5)")
    parser.add_argument("--per-window", action="store_true", help="also list each window's top-k")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format (default text)")
    parser.add_argument("--plot", metavar="OUT.png", type=path_argument,
                        help="write skeleton frames beside the top-k to this PNG (an existing file is replaced "
                             "only if it is a PNG)")
    parser.add_argument("--window", type=positive_int, default=DEFAULT_WINDOW, help="frames per window (default 10)")
    parser.add_argument("--step", type=positive_int, default=DEFAULT_STEP, help="frames between window starts (default 5)")
    parser.add_argument("--items", metavar="NEW_ITEMS.csv",
                        help="effects added after training (raw items.csv layout), embedded with the checkpoint's "
                             "text encoder and ranked with its catalogue; index continues after the catalogue's")
    parser.add_argument("--items-only", action="store_true", help="with --items: rank the new items only")
    return parser


def run(args: argparse.Namespace) -> str:
    """Do what ``args`` asks; return the text to print. Bad input raises :class:`DataError`."""
    if args.plot is not None:
        check_figure_path(args.plot)  # before the work, not only when writing
    if args.items_only and args.items is None:
        raise DataError("--items-only", "needs --items NEW_ITEMS.csv")
    model = load_scorer(args.checkpoint, args.reference_release)
    if args.items is not None:
        model = add_new_items(model, args.items, args.items_only)
    check_top_k(args.top_k, len(model.item_names))
    if args.video is not None:
        poses = load_video(args.video, args.window, args.step)
    else:
        poses = load_pose_file(args.poses, args.window, args.step)
    result = recommend(model, poses.windows, args.top_k, args.per_window)
    if args.plot is not None:
        try:
            plot_recommendation(poses, result, args.plot, title=f"{poses.source.name}  ({model.source})")
        except OSError as err:
            raise DataError(args.plot, f"cannot write the plot ({err.strerror or type(err).__name__})") from None
    if args.format == "json":
        return json.dumps(result.as_dict(), allow_nan=False)
    return format_text(result, poses.source, model.source)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit code (0 ok, 2 bad usage or input, 130/143 interrupted)."""
    return run_command(build_parser, run, argv)


if __name__ == "__main__":
    sys.exit(main())
