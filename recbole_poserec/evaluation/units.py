"""Per-unit metric values: RecBole's own metric classes, before they average over the units (windows or videos)."""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np
import torch
from recbole.evaluator import Evaluator
from recbole.evaluator.base_metric import TopkMetric

# Collected keys with one row per unit (a user / window, or a video), and the per-interaction ones.
UNIT_ROW_KEYS = ("rec.topk", "rec.meanrank", "rec.items")
INTERACTION_ROW_KEYS = ("rec.score", "data.label")


def gather_units(dataobject, positions: np.ndarray):
    """Under DDP: ``dataobject`` (this rank's collected ``DataStruct``, whose unit rows are the units at
    ``positions``) with every rank's unit rows, placed in unit order (0, 1, ...), on every rank.

    Raises ``ValueError`` when the ranks' positions are not each unit exactly once, or for value metrics
    (per-interaction rows: AUC, LogLoss, ...), which this does not gather.
    """
    if any(key in dataobject for key in INTERACTION_ROW_KEYS):
        raise ValueError("distributed evaluation gathers the ranking metrics (Recall, NDCG, ...), not value metrics")
    local = {key: dataobject.get(key).numpy() for key in UNIT_ROW_KEYS if key in dataobject}
    gathered = [None] * torch.distributed.get_world_size()
    torch.distributed.all_gather_object(gathered, (np.asarray(positions, dtype=np.int64), local))
    order = np.concatenate([rank_positions for rank_positions, _ in gathered])
    if not np.array_equal(np.sort(order), np.arange(len(order))):
        raise ValueError(f"the ranks evaluated {len(order)} units, not each of {len(np.unique(order))} once")
    for key in sorted({key for _, rows in gathered for key in rows}):
        rows = np.concatenate([rank_rows[key] for _, rank_rows in gathered if key in rank_rows])
        if len(rows) != len(order):
            raise ValueError(f"the ranks collected {len(rows)} rows of {key} for {len(order)} units")
        placed = np.empty_like(rows)
        placed[order] = rows
        dataobject.set(key, torch.from_numpy(placed))
    return dataobject


@dataclass
class UnitEvaluation:
    """One protocol's test figures: ``result`` as RecBole's evaluator gives it ({"ndcg@10": value, ...}),
    and, per unit, its token (``ids``) and each top-k metric's values (``values``: {"ndcg@10": array}),
    row ``j`` of every array being unit ``ids[j]``."""

    result: dict
    ids: list[str]
    values: dict[str, np.ndarray]

    def per_unit(self) -> dict:
        """``{"ids": [...], "<metric>@<k>": [float, ...], ...}`` (plain data)."""
        return {"ids": list(self.ids)} | {name: [float(v) for v in values] for name, values in self.values.items()}


class UnitEvaluator(Evaluator):
    """RecBole's :class:`~recbole.evaluator.Evaluator`, which also keeps the data of its last evaluation so that
    :meth:`per_unit` can give each unit's values of the same metrics.

    A unit is a row of the collected ``rec.topk`` (a window in RecBole's full ranking, a video in the
    video-level one). Only top-k metrics (Recall, NDCG, Hit, MRR, Precision, MAP) have per-unit values; the
    mean of a unit column is the figure RecBole reports (before its rounding to ``metric_decimal_place``).
    """

    def __init__(self, config):
        super().__init__(config)
        self.last_struct = None
        self.shard_positions = None

    def evaluate(self, dataobject):
        """RecBole's evaluation; under DDP (``shard_positions``, this rank's units, set by the trainer) of the
        units of every rank (:func:`gather_units`), so that every rank gets the figures over all units."""
        if self.shard_positions is not None:
            dataobject = gather_units(dataobject, self.shard_positions)
        self.last_struct = dataobject
        return super().evaluate(dataobject)

    def per_unit(self, dataobject=None) -> dict[str, np.ndarray]:
        """``{"<metric>@<k>": (n_units,) float array}`` for every top-k metric and every ``k`` of ``topk``,
        from ``dataobject`` (default: the last evaluated one) through each metric's own ``metric_info``."""
        dataobject = self.last_struct if dataobject is None else dataobject
        values = {}
        for name, metric in self.metric_class.items():
            if not isinstance(metric, TopkMetric):
                continue
            pos_index, pos_len = metric.used_info(dataobject)
            takes_lengths = len(inspect.signature(metric.metric_info).parameters) > 1
            table = metric.metric_info(pos_index, pos_len) if takes_lengths else metric.metric_info(pos_index)
            for k in metric.topk:
                values[f"{name}@{k}"] = np.asarray(table[:, k - 1], dtype=np.float64)
        return values
