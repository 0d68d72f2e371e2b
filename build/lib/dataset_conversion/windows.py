"""Cutting a video's pose sequence into fixed-length windows (the users of the RecBole dataset).

The rule is the authors' (reference-release README): windows start at frames 0, step, 2*step, ...
while ``start < n_frames - length``. A window that would end exactly on the last frame is
therefore not produced, and a video needs at least ``length + 1`` frames for one window.

:func:`window_chunks` cuts the same windows a bounded number at a time, so a long (memory-mapped)
sequence is never copied whole.
"""

import numpy as np


def window_starts(n_frames: int, length: int, step: int) -> range:
    """Start frames of the windows of a video with ``n_frames`` frames."""
    if length < 1 or step < 1:
        raise ValueError(f"window length and step must be positive, got {length} and {step}")
    return range(0, n_frames - length, step)


def cut_windows(poses: np.ndarray, length: int, step: int) -> np.ndarray:
    """Windows of a (T, V, C) pose sequence as an (N, length, V, C) array (a view-free copy)."""
    starts = window_starts(len(poses), length, step)
    if len(starts) == 0:
        return np.empty((0, length) + poses.shape[1:], dtype=poses.dtype)
    index = np.asarray(starts)[:, None] + np.arange(length)[None, :]
    return poses[index]


def window_chunks(poses: np.ndarray, length: int, step: int, max_windows: int):
    """Yield ``(first window number, (k, length, V, C) windows)`` for consecutive runs of at most
    ``max_windows`` windows; together they are :func:`cut_windows`'s result, in order."""
    starts = np.asarray(window_starts(len(poses), length, step))
    for first in range(0, len(starts), max_windows):
        index = starts[first : first + max_windows, None] + np.arange(length)[None, :]
        yield first, poses[index]
