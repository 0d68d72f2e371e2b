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
                 has_negative: torch.Tensor, margin: float) -> torch.Tensor:
    """Eq. 11 as a hinge: mean over windows of max(0, margin - min_pos y + y_neg).

    The printed Eq. 11 (max over positives minus min over negatives, no margin) would be minimised
    by pushing positives *away*; the intended triplet objective is the hinge above, with the hardest
    positive (lowest score) against the mined negative. ``scores`` (U, N) are Eq. 7 scores of each
    window against every item; ``positive_mask`` (U, N) marks the window's positives in the batch.
    Windows without a positive or without a mined negative do not contribute.
    """
    hardest_positive = scores.masked_fill(~positive_mask, math.inf).min(dim=1).values
    valid = has_negative & positive_mask.any(dim=1)
    if not bool(valid.any()):
        return scores.sum() * 0.0
    hinge = F.relu(margin - hardest_positive + negative_scores)
    return hinge[valid].mean()
