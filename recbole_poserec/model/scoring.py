"""Prototype-weighted cosine scoring (paper Eqs. 5 and 7), for pairs and as one matrix product."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def chunk_normalize(vectors: torch.Tensor, num_chunks: int) -> torch.Tensor:
    """Split the last dimension into ``num_chunks`` chunks and L2-normalize each: (..., K*d) -> (..., K, d)."""
    chunks = vectors.reshape(*vectors.shape[:-1], num_chunks, -1)
    return F.normalize(chunks, dim=-1)


def pair_scores(video_chunks: torch.Tensor, item_chunks: torch.Tensor, omega: torch.Tensor) -> torch.Tensor:
    """Eq. 7 for aligned pairs: y = sum_k omega_k cos(e_i^(k), e_v^(k)).

    ``video_chunks`` and ``item_chunks`` are normalized (P, K, d); ``omega`` is (P, K). Returns (P,).
    """
    return ((video_chunks * item_chunks).sum(-1) * omega).sum(-1)


def item_score_matrix(item_chunks: torch.Tensor, omega: torch.Tensor) -> torch.Tensor:
    """The item matrix M of the paper's inference ("y = e_v M^T") for Eq. 7: row i = [omega_ik e_i^(k)/|e_i^(k)|]_k.

    ``item_chunks`` are normalized (N, K, d), ``omega`` (N, K). Returns (N, K*d).
    """
    return (item_chunks * omega.unsqueeze(-1)).reshape(item_chunks.shape[0], -1)


def score_all_items(video_chunks: torch.Tensor, item_matrix: torch.Tensor,
                    item_bias: torch.Tensor | None = None) -> torch.Tensor:
    """Eq. 7 for every (video, item) as one matrix product: (B, K, d) normalized x (N, K*d) -> (B, N);
    with ``item_bias`` (N,), b_i is added to column i in the same product (``addmm``)."""
    flat = video_chunks.reshape(video_chunks.shape[0], -1)
    if item_bias is None:
        return flat @ item_matrix.T
    return torch.addmm(item_bias.unsqueeze(0), flat, item_matrix.T)


def score_embeddings(video_embeddings: torch.Tensor, item_matrix: torch.Tensor, num_chunks: int,
                     item_bias: torch.Tensor | None = None) -> torch.Tensor:
    """Eq. 7 for every (video, item) from video embeddings e_v (B, K*d): chunk-normalize, then y = e_v M^T (+ b) -> (B, N)."""
    return score_all_items(chunk_normalize(video_embeddings, num_chunks), item_matrix, item_bias)
