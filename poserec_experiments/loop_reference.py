"""A straightforward per-window-loop implementation of PoseRec's loss: the oracle and speed baseline.

It computes the same three terms as :meth:`PoseRec.calculate_loss`, the obvious way: each
interaction's window is encoded on its own, and the mining walks over windows and items in Python.
Used by the tests (the vectorised loss must equal it for deterministic mining) and by
``scripts/train_step_speed.py`` (the speed of one training step against it). Not used in training.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from recbole_poserec.model.losses import label_loss, prototype_loss
from recbole_poserec.model.scoring import chunk_normalize


def loop_losses(model, interaction) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(L_triple, L_pro, L_label), weighted, for ``mining`` in {"hard", "pose_threshold"} with all candidates."""
    if model.mining not in ("hard", "pose_threshold") or model.mining_candidates:
        raise ValueError("the loop reference covers deterministic mining only (hard / pose_threshold, mining_candidates 0)")
    network = model.network
    K = network.num_prototypes
    item_chunks, omega = network.item_representations()

    def score(chunks, item):
        return sum(omega[item, k] * torch.dot(chunks[k], item_chunks[item, k]) for k in range(K))

    users = interaction[model.USER_ID].tolist()
    items = interaction[model.ITEM_ID].tolist()
    negatives = interaction[model.NEG_ITEM_ID].tolist()
    videos = model.window_videos[interaction[model.USER_ID]].tolist()
    poses = model.window_poses[interaction[model.USER_ID]]

    row_embeddings, row_chunks = [], []
    for row in range(len(users)):  # every interaction re-encodes its window
        embedding = network.video_embeddings(poses[row:row + 1])[0]
        row_embeddings.append(embedding)
        row_chunks.append(chunk_normalize(embedding, K))

    positive_scores = torch.stack([score(row_chunks[r], items[r]) for r in range(len(users))])
    negative_scores = torch.stack([score(row_chunks[r], negatives[r]) for r in range(len(users))])
    loss_label = label_loss(positive_scores, negative_scores)
    loss_prototype = prototype_loss(network.item_side.prototypes)

    windows = list(dict.fromkeys(users))
    first_row = {w: users.index(w) for w in windows}
    positives_of = {w: {items[r] for r in range(len(users)) if users[r] == w} for w in windows}
    video_of = {w: videos[first_row[w]] for w in windows}
    hinges = []
    for w in windows:
        chunks = row_chunks[first_row[w]]
        own_video_items = set().union(*(positives_of[o] for o in windows if video_of[o] == video_of[w]))
        candidates = set()
        for other in windows:
            if video_of[other] == video_of[w]:
                continue
            if model.mining == "pose_threshold":
                similarity = F.cosine_similarity(row_embeddings[first_row[w]].detach(),
                                                 row_embeddings[first_row[other]].detach(), dim=0)
                if similarity >= model.mining_threshold:
                    continue
            candidates |= positives_of[other] - own_video_items
        if not candidates:
            continue
        hardest_positive = min((score(chunks, i) for i in positives_of[w]), key=float)
        hardest_negative = max((score(chunks, i) for i in candidates), key=float)
        hinges.append(F.relu(model.margin - hardest_positive + hardest_negative))
    loss_triplet = torch.stack(hinges).mean() if hinges else positive_scores.sum() * 0.0
    return (model.triplet_weight * loss_triplet, model.prototype_weight * loss_prototype,
            model.label_weight * loss_label)


__all__ = ["loop_losses"]
