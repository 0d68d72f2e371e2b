r"""Feature selection for RecBole's context-aware models on pose data.

Why
---
In the Pose-OBE data every user is a 10-frame pose window (``window_id``) and the data are split by
video, so **every valid/test window is a user never seen in training**. RecBole's
:class:`~recbole.model.abstract_recommender.ContextRecommender` always turns every token field of
``dataset.fields(source=[INTERACTION, USER, USER_ID, ITEM, ITEM_ID])`` into a feature field,
the user id included. A context-aware baseline would then score each test window partly through an
embedding row that never received a gradient. This module gives such models a clean way out,
without touching RecBole's model code:

``exclude_feature_fields`` (config key, list of field names)
    :class:`FeatureSelectedDataset` is a read-only *view* of the dataset handed to the model's
    constructor only; its :meth:`~FeatureSelectedDataset.fields` omits the listed fields, so
    ``ContextRecommender`` and its ``FMFirstOrderLinear`` build no embedding table for them and never
    read them from an interaction. Default (key absent or ``~``): ``[USER_ID_FIELD]``. The data
    themselves are not changed (samplers and evaluators still see ``window_id``).

``float_seq_position_embedding`` (config key, bool, default ``True``)
    RecBole 1.2.1 stores a ``float_seq`` field listed in ``numerical_features`` (and not discretised)
    as ``[..., 2]`` pairs ``(value_k, index_k)`` with ``index_k = 1`` for *every* position ``k``
    (see ``Dataset._discretization``), and embeds it as
    :math:`\frac{1}{L}\sum_k v_k\,\mathbf{E}[\text{index}_k] = \bar v\,\mathbf{E}[1]`:
    the whole vector collapses to its mean times one shared embedding. For a 32-d standardised PCA
    of the pose (mean close to 0 for every window) the model would see almost nothing. With this flag
    the view reports ``num(field) = seq_len + 1`` for such fields (the tables get one row per position,
    row 0 stays the padding row RecBole masks out), and :meth:`FeatureSelectionMixin.embed_float_seq_fields`
    (and the first-order part) use the *position* as the index:
    :math:`\mathbf{e} = \frac{1}{L}\sum_k v_k\,\mathbf{E}[k]`, i.e. one field embedding that is a
    learned linear projection of the whole vector. The pooling (RecBole's ``mean``) and every model
    equation are RecBole's; only the row each position looks up changes. For ``mean`` pooling this is
    computed as one matrix product (:func:`positional_mean_embedding`), which is also what keeps a
    full-ranking pass of FM on 3.15 M window-item pairs at seconds rather than minutes.

Usage: put :class:`FeatureSelectionMixin` *first* among the bases,
``class FM(FeatureSelectionMixin, recbole.model.context_aware_recommender.FM)``.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import torch

from recbole.model.layers import FMFirstOrderLinear
from recbole.utils import FeatureType

EXCLUDE_KEY = "exclude_feature_fields"
POSITION_KEY = "float_seq_position_embedding"


def _config_get(config, key, default=None):
    """``config[key]`` for RecBole's ``Config`` (which returns None for a missing key) and plain dicts."""
    try:
        value = config[key]
    except KeyError:
        return default
    return default if value is None else value


class FeatureSelectedDataset:
    """A read-only view of a RecBole ``Dataset`` for building a context-aware model.

    Everything is delegated to the wrapped dataset except

    * :meth:`fields`, which leaves out ``excluded`` fields, and
    * :meth:`num`, which returns ``field2seqlen[field] + 1`` for the ``positional`` float_seq fields.

    The view is only passed to model constructors; RecBole's models do not keep a reference to it.
    """

    def __init__(self, dataset, excluded: Iterable[str] = (), positional: Iterable[str] = ()):
        self._dataset = dataset
        self.excluded_fields = frozenset(excluded)
        self.positional_fields = frozenset(positional)

    def __getattr__(self, name):
        # Only called for attributes not found on the view itself.
        return getattr(self._dataset, name)

    def fields(self, ftype=None, source=None):
        """``dataset.fields(ftype, source)`` without the excluded fields."""
        return [f for f in self._dataset.fields(ftype=ftype, source=source) if f not in self.excluded_fields]

    def num(self, field):
        """``dataset.num(field)``; for a positional float_seq field: its length + 1 (row 0 = padding)."""
        if field in self.positional_fields:
            return int(self._dataset.field2seqlen[field]) + 1
        return self._dataset.num(field)


def positional_float_seq(float_seq_fields: Sequence[torch.Tensor], names: Sequence[str], positional) -> list:
    """Replace the index channel of the positional fields by the 1-based position.

    Args:
        float_seq_fields: RecBole's numerical float_seq tensors, each ``[batch, seq_len, 2]`` with
            ``[..., 0]`` the value and ``[..., 1]`` the index (0 for padding).
        names: the field name of each tensor (same order).
        positional: names of the fields to re-index.

    Returns:
        list of tensors of the same shapes; padded positions keep index 0.
    """
    out = []
    for name, field in zip(names, float_seq_fields):
        if name in positional:
            value, index = field[..., 0], field[..., 1]
            position = torch.arange(1, field.shape[1] + 1, device=field.device, dtype=field.dtype)
            position = position.unsqueeze(0).expand_as(index)
            field = torch.stack([value, torch.where(index != 0, position, torch.zeros_like(position))], dim=-1)
        out.append(field)
    return out


def positional_mean_embedding(field: torch.Tensor, table: torch.nn.Embedding) -> torch.Tensor:
    r"""RecBole's ``mean`` pooling of a position-indexed float_seq field, as one matrix product.

    :math:`\frac{1}{n}\sum_{k \le L,\ \text{index}_k \ne 0} v_k \mathbf E[k]` with
    :math:`n` the number of non-padded positions (RecBole adds ``1e-8`` to :math:`n`): identical to
    :func:`positional_float_seq` followed by RecBole's ``embed_float_seq_fields``, without gathering a
    ``[batch, L, d]`` tensor. ``field``: ``[batch, L, 2]``; returns ``[batch, 1, d]``.
    """
    value, index = field[..., 0], field[..., 1]
    mask = (index != 0).to(value.dtype)
    count = mask.sum(dim=1, keepdim=True)  # [B, 1]
    pooled = torch.matmul(value * mask, table.weight[1 : field.shape[1] + 1])  # [B, d]
    return (pooled / (count + 1e-8)).unsqueeze(1)


def embed_positional_float_seq(fields, names, tables, positional, mode, fallback, sum_fields=False):
    """Embed numerical float_seq fields with position indexing.

    Fast path (every field positional, ``mean`` pooling -- what RecBole's models use):
    :func:`positional_mean_embedding` per field, ``[batch, num_fields, d]`` (summed over the fields,
    ``[batch, 1, d]``, with ``sum_fields`` -- RecBole's first-order part does that). Otherwise the indices
    are rewritten (:func:`positional_float_seq`) and RecBole's own ``embed_float_seq_fields``
    (``fallback``) runs.
    """
    if mode == "mean" and len(fields) > 0 and all(name in positional for name in names):
        out = torch.cat([positional_mean_embedding(f, t) for f, t in zip(fields, tables)], dim=1)
        return out.sum(dim=1, keepdim=True) if sum_fields else out
    return fallback(positional_float_seq(fields, names, positional), mode=mode)


class PositionalFMFirstOrderLinear(FMFirstOrderLinear):
    """RecBole's ``FMFirstOrderLinear`` with position-indexed numerical float_seq fields
    (first-order term :math:`\\frac{1}{L}\\sum_k v_k w_k` instead of :math:`\\bar v\\, w_1`)."""

    def __init__(self, config, dataset, positional: Iterable[str] = (), output_dim=1):
        super().__init__(config, dataset, output_dim=output_dim)
        self.positional_fields = frozenset(positional)

    def embed_float_seq_fields(self, float_seq_fields, mode="mean"):
        return embed_positional_float_seq(
            float_seq_fields,
            self.float_seq_field_names,
            getattr(self, "float_seq_embedding_table", ()),
            self.positional_fields,
            mode,
            super().embed_float_seq_fields,
            sum_fields=True,
        )


class FeatureSelectionMixin:
    """Mixin for RecBole ``ContextRecommender`` subclasses: excluded fields and position-embedded vectors.

    Must come first in the bases so that its ``__init__`` can hand the model a
    :class:`FeatureSelectedDataset`. After construction the model exposes

    * ``excluded_feature_fields`` -- the fields it does not use as features, and
    * ``position_embedded_fields`` -- the float_seq fields embedded per position.
    """

    def __init__(self, config, dataset):
        uid = _config_get(config, "USER_ID_FIELD")
        excluded = list(_config_get(config, EXCLUDE_KEY, [uid] if uid else []))
        label = _config_get(config, "LABEL_FIELD")
        if label in excluded:
            raise ValueError(f"{EXCLUDE_KEY} must not contain the label field '{label}'")
        use_positions = bool(_config_get(config, POSITION_KEY, True))
        numerical = _config_get(config, "numerical_features", []) or []
        discretised = _config_get(config, "discretization", {}) or {}
        positional = []
        if use_positions:
            positional = [
                f
                for f in numerical
                if f not in excluded
                and f not in discretised
                and dataset.field2type.get(f) == FeatureType.FLOAT_SEQ
            ]
        view = FeatureSelectedDataset(dataset, excluded=excluded, positional=positional)
        super().__init__(config, view)
        self.excluded_feature_fields = tuple(excluded)
        self.position_embedded_fields = tuple(positional)
        if positional:
            # RecBole's first-order part reads the same fields; give it the same indexing. It is rebuilt
            # here (after the model's own initialisation) and initialised with the model's own rule.
            self.first_order_linear = PositionalFMFirstOrderLinear(config, view, positional)
            init = getattr(self, "_init_weights", None)
            if init is not None:
                self.first_order_linear.apply(init)

    def embed_float_seq_fields(self, float_seq_fields, mode="mean"):
        return embed_positional_float_seq(
            float_seq_fields,
            self.float_seq_field_names,
            getattr(self, "float_seq_embedding_table", ()),
            frozenset(self.position_embedded_fields),
            mode,
            super().embed_float_seq_fields,
        )

    def feature_field_names(self) -> list:
        """The fields this model embeds (token, token_seq, numerical float, numerical float_seq)."""
        return (
            list(self.token_field_names)
            + list(self.token_seq_field_names)
            + list(self.float_field_names)
            + list(self.float_seq_field_names)
        )
