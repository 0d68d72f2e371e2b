"""A video's score of an item from its windows' scores: the one rule of the video-level evaluation and ``recommend``."""

from __future__ import annotations

import torch

AGGREGATIONS = ("mean", "max")
DEFAULT_AGGREGATION = "mean"


def aggregate_window_scores(window_scores: torch.Tensor, window_video: torch.Tensor, n_videos: int,
                            how: str = DEFAULT_AGGREGATION) -> torch.Tensor:
    """Item scores of ``n_videos`` videos from the scores of their windows.

    Args:
        window_scores (torch.Tensor): ``(n_windows, n_items)`` scores of every window for every item.
        window_video (torch.Tensor): ``(n_windows,)`` int64, the video (``0 .. n_videos - 1``) of each window.
        n_videos (int): the number of videos; every one must have at least one window.
        how (str): ``mean`` (every window weighs the same) or ``max`` (the best window's score).

    Returns:
        torch.Tensor: ``(n_videos, n_items)``, row ``v`` aggregating the rows of ``window_scores`` whose
        ``window_video`` is ``v``, in the dtype of ``window_scores``.
    """
    if how not in AGGREGATIONS:
        raise ValueError(f"unknown video aggregation {how!r} (allowed: {', '.join(AGGREGATIONS)})")
    index = window_video.to(device=window_scores.device, dtype=torch.long)
    shape = (n_videos, window_scores.shape[1])
    if how == "max":
        out = torch.full(shape, -torch.inf, dtype=window_scores.dtype, device=window_scores.device)
        return out.scatter_reduce_(0, index.unsqueeze(1).expand_as(window_scores), window_scores, reduce="amax",
                                   include_self=False)
    sums = torch.zeros(shape, dtype=window_scores.dtype, device=window_scores.device).index_add_(0, index, window_scores)
    counts = torch.bincount(index, minlength=n_videos).to(window_scores.dtype)
    return sums / counts.unsqueeze(1)
