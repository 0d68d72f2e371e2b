r"""Layers of AFN (Cheng, Shen and Huang, "Adaptive Factorization Network: Learning Adaptive-Order
Feature Interactions", AAAI 2020).

Logarithmic transformation layer (the paper's core). For field embeddings
:math:`\mathbf e_1,\dots,\mathbf e_m \in \mathbb R^d` (made positive), logarithmic neuron
:math:`j = 1..L` outputs, element-wise over the :math:`d` embedding dimensions,

.. math::

    \mathbf y_j = \exp\Big(\sum_{i=1}^{m} w_{ij} \ln |\mathbf e_i|\Big) = \prod_{i=1}^{m} |\mathbf e_i|^{w_{ij}},

a cross feature of *learned, arbitrary (even fractional)* order :math:`\sum_i w_{ij}` whose powers are the
coefficients :math:`w_{ij}`. Zeros are avoided by adding a small :math:`\varepsilon` to :math:`|\mathbf e_i|`
before the logarithm. As in the paper, batch normalisation is applied to the logarithms
(per field) and to the exponentiated outputs (per neuron); with batch norm on the logarithms a neuron is
still a product of powers of the :math:`|\mathbf e_i|`, times a constant. The :math:`L` neurons are
flattened and fed to feed-forward layers (see ``recbole_poserec/model/afn.py``).
"""

from __future__ import annotations

import torch
import torch.nn as nn
from torch.nn.init import normal_


class LogarithmicTransformation(nn.Module):
    r"""The logarithmic transformation layer: ``[batch, m, d] -> [batch, L, d]``.

    Args:
        num_fields: :math:`m`, the number of field embeddings.
        num_neurons: :math:`L`, the number of logarithmic neurons.
        eps: added to :math:`|\mathbf e_i|` before the logarithm (keeps it finite).
        batch_norm: apply batch normalisation to the logarithms and to the neuron outputs (paper: yes).
        init_std: standard deviation of the normal initialisation of :math:`w_{ij}`.

    Attributes:
        weight: ``[L, m]`` tensor of the orders :math:`w_{ij}` (row ``j`` = neuron ``j``).
    """

    def __init__(self, num_fields: int, num_neurons: int, eps: float = 1e-7, batch_norm: bool = True, init_std: float = 0.1):
        super().__init__()
        if num_fields < 1 or num_neurons < 1:
            raise ValueError(f"need at least one field and one neuron, got m={num_fields}, L={num_neurons}")
        self.num_fields = num_fields
        self.num_neurons = num_neurons
        self.eps = float(eps)
        self.weight = nn.Parameter(torch.empty(num_neurons, num_fields))
        normal_(self.weight, mean=0.0, std=init_std)
        self.log_batch_norm = nn.BatchNorm1d(num_fields) if batch_norm else nn.Identity()
        self.exp_batch_norm = nn.BatchNorm1d(num_neurons) if batch_norm else nn.Identity()

    def forward(self, field_embeddings: torch.Tensor) -> torch.Tensor:
        """``field_embeddings``: ``[batch, m, d]`` -> cross features ``[batch, L, d]``."""
        log_embeddings = torch.log(field_embeddings.abs() + self.eps)  # ln|e_i|, [B, m, d]
        log_embeddings = self.log_batch_norm(log_embeddings)
        # sum_i w_ij ln|e_i| for every neuron j and embedding dimension
        log_cross = torch.einsum("lm,bmd->bld", self.weight, log_embeddings)  # [B, L, d]
        cross = torch.exp(log_cross)
        return self.exp_batch_norm(cross)

    def extra_repr(self) -> str:
        return f"num_fields={self.num_fields}, num_neurons={self.num_neurons}, eps={self.eps}"
