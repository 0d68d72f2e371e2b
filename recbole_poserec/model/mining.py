"""Pose-aware transductive hard-negative mining (paper, "Pose-aware transductive hard-negative mining").

For every window of a batch, negatives may come only from the positive items of *dissimilar*
windows: windows whose pose embeddings are far from its own (cosine below a threshold p, or the
least similar fraction of the batch), never a window of the same video, and never an item of
its own video. Among those candidates a random subset is drawn and the hardest (highest score)
is used by the triplet loss. Two baselines of the mining itself are selectable for the ablation:
``random`` (a uniformly random in-batch negative) and ``hard`` (classic in-batch hard-negative
mining over the items of all other videos' windows). ``authors`` is the rule of the authors' loss
code: per window ONE random donor among the least similar ``fraction`` (their: half) of the batch's
other videos' windows, and the hardest of that donor's positives (their triplet takes ``max`` over
the negatives' scores); as for every strategy, items of the window's own video are never
candidates, so a window whose donor holds nothing else gets no negative. Everything is
(U, U) / (U, N) mask algebra: no Python loop over windows.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

MINING_STRATEGIES = ("pose_threshold", "pose_fraction", "random", "hard", "authors")


def _least_similar_fraction(similarity: torch.Tensor, eligible: torch.Tensor, fraction: float) -> torch.Tensor:
    """Per row, the ``ceil(fraction * #eligible)`` eligible columns of lowest similarity."""
    masked = similarity.masked_fill(~eligible, math.inf)
    ranks = masked.argsort(dim=1).argsort(dim=1)
    quota = torch.ceil(fraction * eligible.sum(dim=1, keepdim=True).float())
    return (ranks < quota) & eligible


def _one_random_column(mask: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Per row, one uniformly random column of ``mask`` (an all-False row stays all False)."""
    keys = torch.rand(mask.shape, device=mask.device, generator=generator).masked_fill(~mask, -1.0)
    chosen = torch.zeros_like(mask).scatter_(1, keys.argmax(dim=1, keepdim=True), True)
    return chosen & mask


def donor_windows(window_videos: torch.Tensor, pose_embeddings: torch.Tensor | None, strategy: str,
                  threshold: float = 0.5, fraction: float = 0.5,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """(U, U) mask: window j may donate its positive items as negatives of window i (``authors``: one j per i)."""
    if strategy not in MINING_STRATEGIES:
        raise ValueError(f"mining must be one of {MINING_STRATEGIES}, got {strategy!r}")
    other_video = window_videos[:, None] != window_videos[None, :]
    if strategy in ("random", "hard"):
        return other_video
    embeddings = F.normalize(pose_embeddings.detach(), dim=-1)
    similarity = embeddings @ embeddings.T
    if strategy == "pose_threshold":
        return (similarity < threshold) & other_video
    least_similar = _least_similar_fraction(similarity, other_video, fraction)
    if strategy == "authors":
        return _one_random_column(least_similar, generator)
    return least_similar


def negative_candidates(window_videos: torch.Tensor, positive_mask: torch.Tensor, donors: torch.Tensor) -> torch.Tensor:
    """(U, N) mask of candidate negatives: positives of donor windows, minus every item of the window's video."""
    positives = positive_mask.float()
    same_video = (window_videos[:, None] == window_videos[None, :]).float()
    own_video_items = (same_video @ positives) > 0
    return ((donors.float() @ positives) > 0) & ~own_video_items


def select_negative_scores(scores: torch.Tensor, candidates: torch.Tensor, strategy: str,
                           num_random: int = 0, generator: torch.Generator | None = None):
    """Score of the mined negative per window, and whether the window has any candidate.

    ``random``: one uniformly random candidate. ``hard`` and ``authors`` (whose candidates are one
    donor's positives): the highest-scoring candidate. The other pose-aware strategies: a random subset
    of ``num_random`` candidates (all if 0), then the hardest.
    """
    has_candidate = candidates.any(dim=1)
    if strategy in ("hard", "authors"):
        pool = candidates
    else:
        keys = torch.rand(candidates.shape, device=scores.device, generator=generator)
        keys = keys.masked_fill(~candidates, -1.0)
        take = 1 if strategy == "random" else (num_random or candidates.shape[1])
        take = min(take, candidates.shape[1])
        chosen = keys.topk(take, dim=1).indices
        pool = torch.zeros_like(candidates).scatter_(1, chosen, True) & candidates
    negative = scores.masked_fill(~pool, -math.inf).max(dim=1).values
    return negative, has_candidate
