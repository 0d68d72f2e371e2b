"""The v2 video plan: v1's subcategory, style and length, plus a context the poses never show.

Subcategory, latent style and frame count are exactly v1's (:func:`..plan.plan_videos`), so v2 has
v1's sizes and window count. The *context* (setting and occasion of the clip: at home, outdoors, in a
studio, on a stage, at a party) is drawn from its own stream, independently of everything else: it
shifts which items the simulated experts choose (:mod:`.annotate`) but never reaches the poses, and
it is never written to any file.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..plan import plan_videos as plan_videos_v1
from .calibration import CONTEXT_SHARES

CONTEXTS: tuple[str, ...] = tuple(CONTEXT_SHARES)
_CONTEXT_STREAM = 4  # v1 spawns streams 0-3 of SeedSequence(seed); the context stream is the next child


@dataclass(frozen=True)
class VideoPlan:
    """The latent description of one v2 video (``style`` in [0, 1] as in v1; ``context`` in :data:`CONTEXTS`)."""

    video_id: str
    category: str
    subcategory: str
    style: float
    context: str
    n_frames: int


def context_rng(seed: int) -> np.random.Generator:
    """The generator of the per-video contexts for ``seed`` (a stream v1 never uses)."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_CONTEXT_STREAM,)))


def plan_videos(seed: int, n_videos: int) -> list[VideoPlan]:
    """v1's plans with a context each, drawn with :data:`~.calibration.CONTEXT_SHARES`; cheap, deterministic."""
    plans = plan_videos_v1(seed, n_videos)
    shares = np.array(list(CONTEXT_SHARES.values()), dtype=float)
    contexts = context_rng(seed).choice(len(CONTEXTS), size=len(plans), p=shares / shares.sum())
    return [VideoPlan(p.video_id, p.category, p.subcategory, p.style, CONTEXTS[c], p.n_frames)
            for p, c in zip(plans, contexts)]  # fmt: skip
