"""Windows cut as person frames arrive, each scored once, and the video's running top-k.

The windows are the converter's (:func:`dataset_conversion.windows.window_starts`, the rule of
:func:`~dataset_conversion.windows.cut_windows`): over the frames in which a person was detected, windows
start at 0, step, 2*step, ... while ``start < n_frames - window``. So window ``w`` (start ``s = w * step``)
exists once person frame ``s + window`` has arrived, one person frame after its last one; when the
source ends, the windows scored are exactly ``cut_windows`` of all its person frames. Frames without a
person never reach this module: a person leaving the picture pauses the windows, and no empty window is
scored.

Each window is scored once by the :class:`~recbole_poserec.inference.scorer.WindowScorer` (Eq. 7). The
video's score of an item is the MEAN of its window scores, ``recommend``'s aggregation
(:mod:`recbole_poserec.evaluation.aggregation`), kept as a running sum: after ``n`` windows the video
top-k is the one ``recommend`` gives for those ``n`` windows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from dataset_conversion.errors import DataError
from dataset_conversion.windows import window_starts
from recbole_poserec.inference.scorer import WindowScorer
from recbole_poserec.recommend import AGGREGATION, Recommendation, ranking, top_k_indices

if AGGREGATION != "mean":  # the running sum below is the mean's incremental form
    raise ImportError(f"live recommendation keeps a running mean, but recommend aggregates by {AGGREGATION!r}")


@dataclass
class PersonFrame:
    """Where a person frame came from: its source frame number, video time (s) and read time (perf_counter)."""

    number: int
    time: float
    read_at: float


@dataclass
class ScoredWindow:
    """One window, scored: ``index`` (0-based), its person frames ``start .. start + window - 1``, its
    last frame (:class:`PersonFrame`), its own top-k and the video's top-k over windows ``0 .. index``.
    ``ready_at``: perf_counter when both top-k were known; ``score_seconds``: scoring and ranking alone."""

    index: int
    start: int
    last_frame: PersonFrame
    window_top_k: list[Recommendation]
    video_top_k: list[Recommendation]
    ready_at: float
    score_seconds: float

    @property
    def latency_ms(self) -> float:
        """Milliseconds from the window's last frame being read from the source to its top-k."""
        return (self.ready_at - self.last_frame.read_at) * 1000.0


class RunningMean:
    """The mean of the score rows added so far: ``recommend``'s video aggregation, one window at a time.

    The sum is float32 and grows in window order, as :func:`~recbole_poserec.evaluation.aggregation.
    aggregate_window_scores` accumulates it; past windows are never scored again.
    """

    def __init__(self, n_items: int):
        self.total = torch.zeros(n_items, dtype=torch.float32)
        self.count = 0

    def add(self, scores: torch.Tensor) -> torch.Tensor:
        """Add one window's ``(n_items,)`` scores; return the mean over all windows so far."""
        self.total += scores
        self.count += 1
        return self.total / self.count


class LiveWindows:
    """Person poses in (:meth:`add`), :class:`ScoredWindow` objects out, as each window completes.

    Only the frames that a window still to come needs are kept, so a long stream holds at most
    ``window + step`` poses.
    """

    def __init__(self, scorer: WindowScorer, window: int, step: int, top_k: int):
        self.scorer = scorer
        self.window = window
        self.step = step
        self.top_k = top_k
        self.n_person_frames = 0
        self.n_windows = 0
        self.video = RunningMean(len(scorer.item_names))
        self.video_top_k: list[Recommendation] = []
        self._poses: list[np.ndarray] = []  # person frames first_kept .. n_person_frames - 1
        self._frames: list[PersonFrame] = []
        self._first_kept = 0

    def add(self, pose: np.ndarray, frame: PersonFrame) -> list[ScoredWindow]:
        """Add the (33, 4) pose of the next person frame; return the windows it completes (zero or one)."""
        self._poses.append(pose)
        self._frames.append(frame)
        self.n_person_frames += 1
        starts = window_starts(self.n_person_frames, self.window, self.step)
        scored = [self._score(start) for start in starts[self.n_windows:]]
        keep_from = self.n_windows * self.step  # the next window's start
        if keep_from > self._first_kept:
            del self._poses[: keep_from - self._first_kept]
            del self._frames[: keep_from - self._first_kept]
            self._first_kept = keep_from
        return scored

    def _score(self, start: int) -> ScoredWindow:
        began = time.perf_counter()
        first = start - self._first_kept
        window = torch.from_numpy(np.stack(self._poses[first: first + self.window]))[None]
        scores = self.scorer.score_windows(window)[0]
        self._check_finite(scores)
        video_scores = self.video.add(scores)
        scores, video_scores = scores.numpy(), video_scores.numpy()
        names, tokens = self.scorer.item_names, self.scorer.item_tokens
        window_top_k = ranking(scores, top_k_indices(scores, self.top_k), names, tokens)
        self.video_top_k = ranking(video_scores, top_k_indices(video_scores, self.top_k), names, tokens)
        ready = time.perf_counter()
        result = ScoredWindow(self.n_windows, start, self._frames[first + self.window - 1], window_top_k,
                              self.video_top_k, ready, ready - began)
        self.n_windows += 1
        return result

    def _check_finite(self, scores: torch.Tensor) -> None:
        bad = torch.nonzero(~torch.isfinite(scores))
        if len(bad):
            item = int(bad[0])
            raise DataError(self.scorer.source, f"the Eq. 7 score of live window {self.n_windows} for item {item} "
                                                f"({self.scorer.item_names[item]!r}) is {float(scores[item])}: "
                                                "the model's weights or the poses overflow float32")
