r"""Layers of FRNet (Wang et al., "Enhancing CTR Prediction with Context-Aware Feature Representation
Learning", SIGIR 2022): the Information Extraction Unit (IEU) and the gate that mixes original and
context-aware (complementary) representations (CSGate; the paper's "Complementary Selection Gate").

Notation: :math:`\mathbf E \in \mathbb R^{f \times d}` the field embeddings of one instance.

IEU (two parts and their integration)
    * Self-attention unit (vector-level, cross-feature relationships):
      :math:`\mathbf Q=\mathbf E\mathbf W_Q,\ \mathbf K=\mathbf E\mathbf W_K,\ \mathbf V=\mathbf E\mathbf W_V`,
      :math:`\mathbf O_{vec} = \mathrm{softmax}(\mathbf Q\mathbf K^\top/\sqrt{a})\,\mathbf V\,\mathbf W_P
      \in \mathbb R^{f\times d}` (:math:`a` = attention size, :math:`\mathbf W_P` projects back to :math:`d`).
    * Contextual information extractor (bit-level, instance context): an MLP on the flattened embeddings,
      :math:`\mathbf v_{bit} = \mathrm{MLP}(\mathrm{flatten}(\mathbf E)) \in \mathbb R^{d}`.
    * Integration: :math:`\mathbf O_{IEU} = \mathbf O_{vec} \odot \mathbf v_{bit}` (the context vector is
      broadcast over the :math:`f` fields); for *vector-level* weights the result is summed over the
      :math:`d` bits, giving :math:`\mathbb R^{f\times 1}`.

CSGate
    :math:`\mathbf E_c = \mathrm{IEU}_G(\mathbf E)` (context-aware representation),
    :math:`\mathbf W = \sigma(\mathrm{IEU}_W(\mathbf E))` (bit- or vector-level weights),
    :math:`\mathbf E_r = \mathbf W \odot \mathbf E_c + (1-\mathbf W) \odot \mathbf E`.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from recbole.model.layers import MLPLayers

WEIGHT_TYPES = ("bit", "vector")


class FieldSelfAttention(nn.Module):
    r"""Scaled dot-product self-attention over the fields: ``[B, f, d] -> [B, f, d]``."""

    def __init__(self, embedding_size: int, attention_size: int):
        super().__init__()
        self.attention_size = attention_size
        self.query = nn.Linear(embedding_size, attention_size, bias=False)
        self.key = nn.Linear(embedding_size, attention_size, bias=False)
        self.value = nn.Linear(embedding_size, attention_size, bias=False)
        self.projection = nn.Linear(attention_size, embedding_size, bias=False)

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        q, k, v = self.query(embeddings), self.key(embeddings), self.value(embeddings)  # [B, f, a]
        scores = torch.matmul(q, k.transpose(1, 2)) / math.sqrt(self.attention_size)  # [B, f, f]
        attention = torch.softmax(scores, dim=-1)
        return self.projection(torch.matmul(attention, v))  # [B, f, d]


class InformationExtractionUnit(nn.Module):
    r"""IEU: :math:`\mathbf O_{vec} \odot \mathbf v_{bit}` (see the module docstring).

    Args:
        num_fields: :math:`f`.
        embedding_size: :math:`d`.
        attention_size: :math:`a`, the width of the self-attention unit.
        cie_hidden_size: hidden sizes of the contextual information extractor's MLP (ReLU).
        dropout_prob: dropout of that MLP.
        weight_type: ``"bit"`` (output ``[B, f, d]``) or ``"vector"`` (summed over bits, ``[B, f, 1]``).
    """

    def __init__(
        self,
        num_fields: int,
        embedding_size: int,
        attention_size: int,
        cie_hidden_size,
        dropout_prob: float = 0.0,
        weight_type: str = "bit",
    ):
        super().__init__()
        if weight_type not in WEIGHT_TYPES:
            raise ValueError(f"weight_type must be one of {WEIGHT_TYPES}, got {weight_type!r}")
        self.weight_type = weight_type
        self.input_size = num_fields * embedding_size
        self.self_attention = FieldSelfAttention(embedding_size, attention_size)
        hidden = list(cie_hidden_size)
        self.cie_mlp = MLPLayers([self.input_size] + hidden, dropout_prob) if hidden else nn.Identity()
        self.cie_output = nn.Linear(hidden[-1] if hidden else self.input_size, embedding_size)

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        o_vec = self.self_attention(embeddings)  # [B, f, d]
        v_bit = self.cie_output(self.cie_mlp(embeddings.reshape(embeddings.shape[0], self.input_size)))  # [B, d]
        out = o_vec * v_bit.unsqueeze(1)  # [B, f, d]
        if self.weight_type == "vector":
            out = out.sum(dim=-1, keepdim=True)  # [B, f, 1]
        return out


class ComplementarySelectionGate(nn.Module):
    r"""CSGate: :math:`\mathbf E_r = \mathbf W \odot \mathbf E_c + (1 - \mathbf W) \odot \mathbf E`.

    ``weights`` are probabilities in ``[0, 1]`` (``[B, f, d]`` or ``[B, f, 1]``, broadcast over bits).
    """

    def forward(self, embeddings: torch.Tensor, context_embeddings: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        return weights * context_embeddings + (1.0 - weights) * embeddings


class FeatureRefinementLayer(nn.Module):
    r"""FRNet module: :math:`\mathbf E \mapsto \mathbf E_r` with an :math:`\mathrm{IEU}_G` (always bit-level)
    for :math:`\mathbf E_c`, an :math:`\mathrm{IEU}_W` (``weight_type``) for :math:`\mathbf W = \sigma(\cdot)`,
    and the :class:`ComplementarySelectionGate`."""

    def __init__(
        self,
        num_fields: int,
        embedding_size: int,
        attention_size: int,
        cie_hidden_size,
        dropout_prob: float = 0.0,
        weight_type: str = "bit",
    ):
        super().__init__()
        self.ieu_context = InformationExtractionUnit(
            num_fields, embedding_size, attention_size, cie_hidden_size, dropout_prob, weight_type="bit"
        )
        self.ieu_weight = InformationExtractionUnit(
            num_fields, embedding_size, attention_size, cie_hidden_size, dropout_prob, weight_type=weight_type
        )
        self.gate = ComplementarySelectionGate()

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        context_embeddings = self.ieu_context(embeddings)  # E_c, [B, f, d]
        weights = torch.sigmoid(self.ieu_weight(embeddings))  # W, [B, f, d] or [B, f, 1]
        return self.gate(embeddings, context_embeddings, weights)
