"""Mean and standard deviation over seeds, in long format, and CSV writing.

Conventions (shared by ``table1.csv``, ``timings.csv`` and ``ablations/<study>.csv``):

* ``mean`` is the arithmetic mean over the seeds that finished; ``std`` is the **sample** standard
  deviation (``ddof=1``), and ``0`` when only one seed finished; ``seeds`` is that number of seeds.
* Metrics are RecBole's names in the paper's column order ``recall@5, ndcg@5, recall@10, ndcg@10,
  recall@20, ndcg@20``; any other metric follows, sorted.
* Groups (rows) keep the order in which they first appear among the runs (the command's order).
"""

from __future__ import annotations

import csv
import io
import math
import os
import statistics
from pathlib import Path

from poserec_experiments.runner import atomic_write_text

METRIC_ORDER = ("recall@5", "ndcg@5", "recall@10", "ndcg@10", "recall@20", "ndcg@20")
METRIC_LABELS = {"recall": "R", "ndcg": "N"}


def mean_std(values) -> tuple[float, float]:
    """``(mean, sample std)`` of a non-empty sequence (:func:`statistics.fmean`, :func:`statistics.stdev`:
    ddof 1); the std of one value is 0. An empty sequence raises ``statistics.StatisticsError`` (a ValueError)."""
    values = [float(v) for v in values]
    mean = statistics.fmean(values)
    return mean, statistics.stdev(values) if len(values) > 1 else 0.0


def ordered_metrics(names) -> list[str]:
    """The paper's metric order first, then the rest sorted."""
    names = set(names)
    return [m for m in METRIC_ORDER if m in names] + sorted(names - set(METRIC_ORDER))


def metric_label(metric: str) -> str:
    """``recall@5`` -> ``R@5``, ``ndcg@10`` -> ``N@10`` (the paper's column names)."""
    name, _, k = metric.partition("@")
    return f"{METRIC_LABELS.get(name, name)}@{k}" if k else metric


def group_results(results, group_keys) -> dict[tuple, list[dict]]:
    """Results (dicts with a ``spec``) grouped by the spec's ``group_keys``, in first-seen order."""
    groups: dict[tuple, list[dict]] = {}
    for result in results:
        spec = result["spec"]
        groups.setdefault(tuple(spec[k] for k in group_keys), []).append(result)
    return groups


def aggregate_runs(results, group_keys=("level", "variant"), field: str = "test_result") -> list[dict]:
    """Long-format rows ``{<group keys>, metric, mean, std, seeds}`` of the test metrics in each result's
    ``field`` (``test_video_result``: the video level); results without it (null or absent) are left out."""
    rows = []
    for group, members in group_results([r for r in results if r.get(field)], group_keys).items():
        metrics = ordered_metrics({m for r in members for m in r[field]})
        for metric in metrics:
            values = [r[field][metric] for r in members if metric in r[field]]
            mean, std = mean_std(values)
            rows.append(dict(zip(group_keys, group)) | {"metric": metric, "mean": mean, "std": std,
                                                        "seeds": len(values)})
    return rows


def _timing_values(members, getter) -> list[float]:
    values = []
    for result in members:
        value = getter(result)
        if value is not None and math.isfinite(float(value)):
            values.append(float(value))
    return values


TIMING_FIELDS = {
    "train_seconds": lambda r: r.get("train_seconds"),
    "test_seconds": lambda r: r.get("test_seconds"),
    "step_seconds": lambda r: (r.get("timing") or {}).get("train_step_seconds"),
    "epochs": lambda r: (r.get("timing") or {}).get("train_epochs"),
    "wall_seconds": lambda r: r.get("wall_seconds"),
}


def trained_epochs(result: dict) -> int | None:
    """The epochs a stored run trained (``timing.train_epochs``); None when the run did not record it."""
    return (result.get("timing") or {}).get("train_epochs")


def aggregate_timings(results, group_keys=("level", "variant")) -> list[dict]:
    """Per group: ``<name>_mean`` and ``<name>_std`` of each of :data:`TIMING_FIELDS`, and ``seeds``.

    ``train_seconds`` is ``run_recbole``'s wall time of ``fit`` (training and validation passes);
    ``test_seconds`` its test evaluation; ``step_seconds`` the mean time of one training batch (see
    :mod:`poserec_experiments.worker`); ``epochs`` the epochs actually run.
    """
    rows = []
    for group, members in group_results(results, group_keys).items():
        row = dict(zip(group_keys, group))
        for name, getter in TIMING_FIELDS.items():
            values = _timing_values(members, getter)
            mean, std = mean_std(values) if values else (float("nan"), float("nan"))
            row[f"{name}_mean"], row[f"{name}_std"] = mean, std
        row["seeds"] = len(members)
        rows.append(row)
    return rows


def format_cell(value) -> str:
    """CSV cell: floats with 6 significant decimals (``%.6f`` below 1000, ``%.6g`` otherwise)."""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return f"{value:.6f}" if abs(value) < 1000 else f"{value:.6g}"
    return str(value)


def write_csv(path: str | os.PathLike, header: list[str], rows: list[dict]) -> Path:
    """Write ``rows`` (dicts holding at least ``header``'s keys) as CSV, atomically."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([format_cell(row[column]) for column in header])
    atomic_write_text(Path(path), buffer.getvalue())
    return Path(path)
