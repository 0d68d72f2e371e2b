"""PoseRec's loss terms (paper Eqs. 8-11)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def label_loss(positive_scores: torch.Tensor, negative_scores: torch.Tensor) -> torch.Tensor:
    """Eq. 9: binary cross-entropy of sigmoid(y) against the label (1 for annotated, 0 for sampled negatives).

    The paper sums over the batch; the mean is used so that the weight does not depend on batch size.
    """
    scores = torch.cat([positive_scores, negative_scores])
    labels = torch.cat([torch.ones_like(positive_scores), torch.zeros_like(negative_scores)])
    return F.binary_cross_entropy_with_logits(scores, labels)


def prototype_loss(prototypes: torch.Tensor) -> torch.Tensor:
    """Eq. 10: sum over pairs k1 < k2 of cos(r_k1, r_k2); pushes the K prototypes apart (0 when K = 1)."""
    unit = F.normalize(prototypes, dim=-1)
    similarity = unit @ unit.T
    return torch.triu(similarity, diagonal=1).sum()


def triplet_loss(scores: torch.Tensor, positive_mask: torch.Tensor, negative_scores: torch.Tensor,
                 has_negative: torch.Tensor, margin: float, hinge: bool = True) -> torch.Tensor:
    """Eq. 11 as a hinge: mean over windows of max(0, margin - min_pos y + y_neg).

    The printed Eq. 11 (max over positives minus min over negatives, no margin) would be minimised
    by pushing positives *away*; the intended triplet objective is the hinge above, with the hardest
    positive (lowest score) against the mined negative. ``scores`` (U, N) are Eq. 7 scores of each
    window against every item; ``positive_mask`` (U, N) marks the window's positives in the batch.
    Windows without a positive or without a mined negative do not contribute.

    ``hinge=False`` is the authors' code's term: the mean of (y_neg - min_pos y + margin) itself, which
    can go negative. Its margin only shifts the value, not the gradient; their 2.0 keeps it >= 0, as
    Eq. 7 scores lie in [-1, 1].
    """
    hardest_positive = scores.masked_fill(~positive_mask, math.inf).min(dim=1).values
    valid = has_negative & positive_mask.any(dim=1)
    if not bool(valid.any()):
        return scores.sum() * 0.0
    gap = margin - hardest_positive + negative_scores
    return (F.relu(gap) if hinge else gap)[valid].mean()


def softmax_label_loss(scores: torch.Tensor, positive_mask: torch.Tensor, row_windows: torch.Tensor,
                       row_items: torch.Tensor, excluded_items: torch.Tensor | None = None) -> torch.Tensor:
    """L_label as a cross-entropy over the whole catalogue: per (window, positive) row, -log softmax of the
    row's item among the window's scores, averaged over the rows.

    ``scores`` (U, N) are the (scaled) scores of each window against every item, ``positive_mask`` (U, N)
    marks each window's positives, and row r is the pair (``row_windows[r]``, ``row_items[r]``). The
    window's *other* positives are removed from the row's denominator (a row competes with the negatives
    only, not with its window's other annotated items), and so are ``excluded_items`` (RecBole's padding
    item 0, which evaluation never ranks).
    """
    rows = scores[row_windows]
    removed = positive_mask[row_windows].clone()
    removed[torch.arange(len(row_items), device=scores.device), row_items] = False
    if excluded_items is not None:
        removed[:, excluded_items] = True
    return F.cross_entropy(rows.masked_fill(removed, -math.inf), row_items)
