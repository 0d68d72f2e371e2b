"""Item side of PoseRec: factor merging, projection and item-aware implicit prototypes (Eqs. 3, 4, 6)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ItemSide(nn.Module):
    """Maps the F factor embeddings of each item to K chunks e_i^(k) and prototype weights omega_i.

    - Eq. 3: s_i = sum_j w_j f_{i,j}, with one learned weight w_j per factor;
    - Eq. 4: e_i = W_2 s_i + b_2 in R^{K x d}, read as K chunks of d;
    - Eq. 6: e_{i,c} = W_c s_i + b_c in R^d, omega'_{i,k} = cos(e_{i,c}, r_k), omega_i = softmax_k(omega'_i),
      with K learned prototypes r_k in R^d.
    """

    def __init__(self, num_factors: int, factor_size: int, num_prototypes: int, chunk_size: int):
        super().__init__()
        self.num_prototypes = num_prototypes
        self.factor_weights = nn.Parameter(torch.full((num_factors,), 1.0 / num_factors))
        self.projection = nn.Linear(factor_size, num_prototypes * chunk_size)
        self.prototype_projection = nn.Linear(factor_size, chunk_size)
        self.prototypes = nn.Parameter(torch.empty(num_prototypes, chunk_size))
        nn.init.normal_(self.prototypes, std=1.0)

    def merge_factors(self, factors: torch.Tensor) -> torch.Tensor:
        """Eq. 3: (N, F, D) factor embeddings -> (N, D) item descriptions s_i."""
        return torch.einsum("nfd,f->nd", factors, self.factor_weights)

    def prototype_weights(self, descriptions: torch.Tensor) -> torch.Tensor:
        """Eq. 6: (N, D) descriptions -> (N, K) softmax over the cosine to each prototype."""
        item_codes = F.normalize(self.prototype_projection(descriptions), dim=-1)
        return torch.softmax(item_codes @ F.normalize(self.prototypes, dim=-1).T, dim=-1)

    def forward(self, factors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, F, D) -> (e_i as (N, K*d), omega as (N, K))."""
        descriptions = self.merge_factors(factors)
        return self.projection(descriptions), self.prototype_weights(descriptions)
