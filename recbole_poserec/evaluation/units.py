"""Per-unit metric values: RecBole's own metric classes, before they average over the units (windows or videos)."""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np
from recbole.evaluator import Evaluator
from recbole.evaluator.base_metric import TopkMetric


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

    def evaluate(self, dataobject):
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
