"""Random streams and the per-video latent plan (subcategory, style, length).

Everything random in the generator comes from one ``np.random.SeedSequence(seed)`` split into
independent, named streams, so that e.g. the per-video lengths can be recomputed cheaply without
building the catalogue or rendering any pose.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ..windows import window_starts
from .taxonomy import CATEGORY_OF, SUBCATEGORIES

MIN_FRAMES = 150
MAX_FRAMES = 600
# Beta(2.2, 2.9) stretched over [150, 600] has mean ~344 frames, which gives ~14,281 windows of
# length 10 / step 5 for 212 videos (the paper's count), with a right-skewed spread of lengths.
_LENGTH_BETA = (2.2, 2.9)


class Streams(NamedTuple):
    """Independent seed sequences, one per part of the generator."""

    plan: np.random.SeedSequence
    catalogue: np.random.SeedSequence
    annotation: np.random.SeedSequence
    poses: np.random.SeedSequence


def random_streams(seed: int) -> Streams:
    """The generator's named random streams for ``seed`` (always the same for the same seed)."""
    return Streams(*np.random.SeedSequence(seed).spawn(4))


def pose_rng(seed: int, n_videos: int, index: int) -> np.random.Generator:
    """The random generator used to render the poses of video number ``index`` (0-based)."""
    children = random_streams(seed).poses.spawn(n_videos)
    return np.random.default_rng(children[index])


@dataclass(frozen=True)
class VideoPlan:
    """The latent description of one synthetic video.

    ``style`` in [0, 1] is the video's latent motion style: 0 is slow, small and calm (e.g. ballet,
    fine dining, classical guitar), 1 is fast, large and intense (street dance, fast food, rock).
    It drives the motion parameters (tempo, amplitude, posture) and, with the subcategory, which
    items the simulated annotators choose. It is not written to any file.
    """

    video_id: str
    category: str
    subcategory: str
    style: float
    n_frames: int


def video_id(index: int, n_videos: int) -> str:
    """``v0001``-style id of the 0-based video ``index`` (wider when there are 10,000+ videos)."""
    return f"v{index + 1:0{max(4, len(str(n_videos)))}d}"


def plan_videos(seed: int, n_videos: int) -> list[VideoPlan]:
    """Subcategory, latent style and frame count of every video; cheap (no poses are rendered).

    Subcategories are balanced (each gets ``n_videos // 14`` videos, the remainder goes to randomly
    chosen ones) and the videos are shuffled so that ids do not reveal the subcategory.
    """
    if n_videos < 1:
        raise ValueError(f"n_videos must be at least 1, got {n_videos}")
    rng = np.random.default_rng(random_streams(seed).plan)
    n_sub = len(SUBCATEGORIES)
    counts = np.full(n_sub, n_videos // n_sub)
    counts[rng.permutation(n_sub)[: n_videos % n_sub]] += 1
    subcategory_index = rng.permutation(np.repeat(np.arange(n_sub), counts))
    styles = rng.uniform(0.0, 1.0, n_videos)
    lengths = MIN_FRAMES + np.rint((MAX_FRAMES - MIN_FRAMES) * rng.beta(*_LENGTH_BETA, n_videos)).astype(int)
    plans = []
    for i in range(n_videos):
        sub = SUBCATEGORIES[subcategory_index[i]]
        plans.append(VideoPlan(video_id(i, n_videos), CATEGORY_OF[sub], sub, float(styles[i]), int(lengths[i])))
    return plans


def count_windows(seed: int, n_videos: int, window: int, step: int) -> int:
    """Number of pose windows the dataset for (``seed``, ``n_videos``) yields, without generating it."""
    return sum(len(window_starts(plan.n_frames, window, step)) for plan in plan_videos(seed, n_videos))
