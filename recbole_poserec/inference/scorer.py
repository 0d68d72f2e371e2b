"""The one interface between a scoring model and the commands that use it (recommend, plot_items).

A :class:`WindowScorer` has a catalogue of items and scores pose windows against all of them with
the paper's Eq. 7, y[v, i] = sum_k omega_ik cos(e_v^(k), e_i^(k)), as one matrix product with the
item matrix M (:mod:`recbole_poserec.model.scoring`). A trained checkpoint
(:class:`~recbole_poserec.inference.checkpoint_scorer.CheckpointScorer`) and the authors' release
(:class:`~recbole_poserec.inference.reference_release.ReferenceRelease`) implement it.
"""

from __future__ import annotations

from typing import Callable, Protocol, runtime_checkable

import torch

# Windows pushed through the ST-GCN at once; bounds memory for long videos, not the result.
WINDOWS_PER_SLICE = 1024


@runtime_checkable
class WindowScorer(Protocol):
    """A catalogue of items and Eq. 7 scores of (N, T, 33, 4) pose windows against every item in it.

    Row or column ``i`` of every result is item ``i`` of the catalogue: ``item_names[i]``, and
    ``item_tokens[i]`` (the dataset's item id) where the catalogue has tokens, else ``item_tokens``
    is None. ``source`` names the model in messages and titles.
    """

    item_names: list[str]
    item_tokens: list[str] | None

    @property
    def source(self) -> str: ...

    def item_representations(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalized item chunks e_i^(k)/|e_i^(k)| (n, K, d) and prototype weights omega (n, K) (Eqs. 4, 6)."""

    def score_windows(self, windows: torch.Tensor) -> torch.Tensor:
        """Eq. 7 scores (N, n) of every window against every item (plus a checkpoint's item bias, where it has one),
        in eval mode and without gradients."""


def score_in_slices(score: Callable[[torch.Tensor], torch.Tensor], windows: torch.Tensor,
                    size: int = WINDOWS_PER_SLICE) -> torch.Tensor:
    """``score(windows)`` computed ``size`` windows at a time (in eval mode each window is independent)."""
    if len(windows) <= size:
        return score(windows)
    return torch.cat([score(part) for part in torch.split(windows, size)])
