"""PoseRec's network without RecBole: video side, item side and Eq. 7 scoring.

Kept apart from the RecBole model class so that a trained checkpoint can recommend for a new
video from its state_dict and hyper-parameters alone (the item factor embeddings are a buffer).
The hyper-parameters' defaults are those of ``properties/model/PoseRec.yaml``.
"""

from __future__ import annotations

import torch
from torch import nn

from dataset_conversion.layout import NUM_CHANNELS, NUM_LANDMARKS
from recbole_poserec.model.item_side import ItemSide
from recbole_poserec.model.scoring import chunk_normalize, item_score_matrix, score_embeddings
from recbole_poserec.model.stgcn import LAYER_PLANS, STGCN
from recbole_poserec.property_files import model_properties

# The settings (properties/model/PoseRec.yaml) that define the network's shapes.
ARCHITECTURE_KEYS = ("gcn_layers", "num_prototypes", "embedding_size", "temporal_kernel", "dropout",
                     "pose_input_channels", "item_bias")
# item_bias: none (Eq. 7, the paper) | text (Eq. 7 plus b_i = u^T s_i + c, a linear read of the merged factors s_i of
# Eq. 3) | item (Eq. 7 plus a free b_i per catalogue item; an item added after training gets the catalogue's mean)
ITEM_BIASES = ("none", "text", "item")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_architecture(*, gcn_layers, num_prototypes, embedding_size, temporal_kernel, dropout,
                       pose_input_channels, item_bias) -> None:
    """Raise ``ValueError`` naming the first hyper-parameter that no network can be built from."""
    if not (_is_int(gcn_layers) and gcn_layers in LAYER_PLANS):
        raise ValueError(f"gcn_layers must be one of {sorted(LAYER_PLANS)}, got {gcn_layers!r}")
    for name, value in (("num_prototypes", num_prototypes), ("embedding_size", embedding_size),
                        ("temporal_kernel", temporal_kernel)):
        if not (_is_int(value) and value >= 1):
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if embedding_size % num_prototypes:
        raise ValueError(f"embedding_size ({embedding_size}) must be a multiple of num_prototypes ({num_prototypes})")
    if not (isinstance(dropout, (int, float)) and not isinstance(dropout, bool) and 0 <= dropout < 1):
        raise ValueError(f"dropout must be a number in [0, 1), got {dropout!r}")
    if not (isinstance(pose_input_channels, (list, tuple)) and pose_input_channels
            and all(_is_int(c) and 0 <= c < NUM_CHANNELS for c in pose_input_channels)
            and len(set(pose_input_channels)) == len(pose_input_channels)):
        raise ValueError("pose_input_channels must be distinct indices into (x, y, z, visibility) = 0..3, "
                         f"got {pose_input_channels!r}")
    if item_bias not in ITEM_BIASES:
        raise ValueError(f"item_bias must be one of {', '.join(ITEM_BIASES)}, got {item_bias!r}")


class PoseRecNetwork(nn.Module):
    """Video side (ST-GCN, Eqs. 1-2) and item side (Eqs. 3, 4, 6) sharing K prototype chunks (Eq. 7).

    ``item_factors`` is (n_items, F, D): the text embeddings of each item's F factors. With
    ``item_bias="text"`` every score adds the item's bias b_i = u^T s_i + c, read from the same text
    (so an item added after training has one too); u and c start at zero, so training starts at Eq. 7.
    With ``item_bias="item"`` b_i is a free parameter of each catalogue item (``free_bias``, (n_items,)), also
    starting at zero; :func:`recbole_poserec.inference.new_items.with_item_factors` gives a new item the mean.
    """

    def __init__(self, item_factors: torch.Tensor, *, gcn_layers: int, num_prototypes: int, embedding_size: int,
                 temporal_kernel: int, dropout: float, pose_input_channels, item_bias: str):
        super().__init__()
        check_architecture(gcn_layers=gcn_layers, num_prototypes=num_prototypes, embedding_size=embedding_size,
                           temporal_kernel=temporal_kernel, dropout=dropout, pose_input_channels=pose_input_channels,
                           item_bias=item_bias)
        self.pose_input_channels = list(pose_input_channels)
        self.num_prototypes = num_prototypes
        self.video_side = STGCN(gcn_layers, len(self.pose_input_channels), embedding_size, temporal_kernel, dropout)
        _, num_factors, factor_size = item_factors.shape
        self.item_side = ItemSide(num_factors, factor_size, num_prototypes, embedding_size // num_prototypes)
        self.register_buffer("item_factors", item_factors.float())
        self.text_bias = nn.Linear(factor_size, 1) if item_bias == "text" else None
        if self.text_bias is not None:
            nn.init.zeros_(self.text_bias.weight)
            nn.init.zeros_(self.text_bias.bias)
        self.free_bias = nn.Parameter(torch.zeros(item_factors.shape[0])) if item_bias == "item" else None

    @classmethod
    def from_hyper_parameters(cls, item_factors: torch.Tensor, params: dict) -> "PoseRecNetwork":
        """Build from a configuration (a RecBole ``Config`` or a checkpoint's plain one): each of
        :data:`ARCHITECTURE_KEYS` it lacks or sets to None is read from ``properties/model/PoseRec.yaml``
        (an older checkpoint may predate a key)."""
        chosen = {key: params[key] for key in ARCHITECTURE_KEYS if key in params and params[key] is not None}
        if len(chosen) < len(ARCHITECTURE_KEYS):
            defaults = model_properties("PoseRec")
            chosen = {key: defaults[key] for key in ARCHITECTURE_KEYS} | chosen
        return cls(item_factors, **chosen)

    def video_embeddings(self, poses: torch.Tensor) -> torch.Tensor:
        """e_v (Eq. 2) of windows (N, T, V, 4) or flattened (N, T*V*4) -> (N, K*d).

        Only ``pose_input_channels`` are fed to the ST-GCN (e.g. x, y, visibility for the 2D-pose study).
        """
        if poses.dim() == 2:
            poses = poses.reshape(poses.shape[0], -1, NUM_LANDMARKS, NUM_CHANNELS)
        if len(self.pose_input_channels) != NUM_CHANNELS:
            poses = poses[..., self.pose_input_channels]
        return self.video_side.encode_windows(poses)

    def item_representations(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalized item chunks (n_items, K, d) and prototype weights omega (n_items, K) of every item."""
        item_vectors, omega = self.item_side(self.item_factors)
        return chunk_normalize(item_vectors, self.num_prototypes), omega

    def item_matrix(self) -> torch.Tensor:
        """The (n_items, K*d) matrix M with y = e_v M^T (Eq. 7), computed once per evaluation pass."""
        return item_score_matrix(*self.item_representations())

    def item_bias(self) -> torch.Tensor | None:
        """Each item's score bias b_i (n_items,) with ``item_bias`` text or item; None without one (Eq. 7 alone)."""
        if self.free_bias is not None:
            return self.free_bias
        if self.text_bias is None:
            return None
        return self.text_bias(self.item_side.merge_factors(self.item_factors)).squeeze(-1)

    def score_windows(self, poses: torch.Tensor, item_matrix: torch.Tensor | None = None,
                      item_bias: torch.Tensor | None = None) -> torch.Tensor:
        """Scores of windows against every item, (N, n_items): Eq. 7, plus the item bias where the network has one.

        Without ``item_matrix`` both M and the bias are the network's own; a caller that passes M (a subset of
        the items, or M cached for an evaluation pass) passes the matching bias too.
        """
        if item_matrix is None:
            item_matrix, item_bias = self.item_matrix(), self.item_bias()
        return score_embeddings(self.video_embeddings(poses), item_matrix, self.num_prototypes, item_bias)
