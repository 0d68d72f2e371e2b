"""PoseRec against every other model: Wilcoxon signed-rank tests on the per-unit test NDCG@10, Holm-corrected.

For each level and protocol, PoseRec (:data:`REFERENCE_MODEL`; the benchmark passes ``PoseRec (tuned)`` when
that row is in the table) is compared with every other row of the table on :data:`TEST_METRIC`, paired over the test units (windows for the window-level protocol, videos for
the video-level one) by unit id, from the per-unit values each stored run holds (``test_per_unit``, see
:mod:`poserec_experiments.worker`).

Pooling over seeds
    Each model's value of a unit is the mean of that unit's values over the model's seeds; then one test per
    (level, protocol, model). Every seed evaluates the same test units (the split does not depend on the
    RecBole seed), so a unit's values under different seeds are not independent observations: testing the
    ``seeds x units`` pairs as one sample would count each unit several times and overstate the evidence;
    averaging first keeps one observation per unit and averages the training noise out of it.
Missing units
    Only units present in every run of both models are paired (:func:`paired_unit_means`); the number of
    units left out is reported with each test (0 when every run evaluated the same test split). Runs without
    per-unit values (stored before they were recorded) are not used; the seeds used are reported.
Window-level units are not independent
    The windows of one video share its positives and overlap in frames, so the window-level tests treat
    thousands of strongly correlated units as independent and overstate the evidence; the video-level tests
    (one unit per test video) are the ones to read. Both are reported, as asked for each protocol.
The test
    :func:`scipy.stats.wilcoxon` of the paired differences PoseRec - model, ``alternative="two-sided"``,
    ``zero_method="wilcox"`` (units where both models score the same are dropped, scipy's default), scipy's
    automatic choice between the exact and the normal-approximation distribution. The direction is the sign
    of the mean paired difference (the difference of the two models' means over the paired units); the
    median difference is reported beside it. All differences zero: no test, p = 1.
Multiple comparisons
    Holm's step-down correction (:func:`holm`) across the compared models within one (level, protocol).
RecBole's ``significance_test.py``
    (the repository's top-level script, not in the ``recbole`` 1.2.1 package) runs ``scipy.stats.ttest_rel
    (ours, baseline, alternative="less")`` on the seed-level figures: its alternative hypothesis is that
    *ours is worse* than the baseline, so a small p-value there says the proposed model loses, not that it
    wins, and its sample is the handful of seeds, not the test units. Not used here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from poserec_experiments.runner import PER_UNIT_FIELD

REFERENCE_MODEL = "PoseRec"
TEST_METRIC = "ndcg@10"
SIGNIFICANCE_HEADER = ["level", "protocol", "metric", "reference", "model", "units", "units_left_out",
                       "seeds_reference", "seeds_model", "mean_difference", "median_difference", "better",
                       "statistic", "p_value", "p_holm", "note"]


def row_label(result: dict) -> str:
    """A stored run's table row: its spec's ``variant`` (the model, or e.g. ``PoseRec (tuned)``)."""
    return result["spec"].get("variant") or result["spec"]["model"]


@dataclass
class Comparison:
    """One test: ``reference`` against ``model`` on ``metric`` at ``level`` under ``protocol``.

    Differences are ``reference - model`` over the paired units; ``p_value`` / ``statistic`` are None when
    no test ran (``note`` says why); ``p_holm`` is the Holm-adjusted p-value within its (level, protocol).
    """

    level: str
    protocol: str
    metric: str
    reference: str
    model: str
    units: int = 0
    units_left_out: int = 0
    seeds_reference: int = 0
    seeds_model: int = 0
    mean_difference: float = math.nan
    median_difference: float = math.nan
    better: str = ""
    statistic: float | None = None
    p_value: float | None = None
    p_holm: float | None = None
    note: str = ""

    def row(self) -> dict:
        """The comparison as a :data:`SIGNIFICANCE_HEADER` row (no test: empty p-value cells; p-values with 6
        significant digits, so that a small one is not written as 0)."""
        row = {k: math.nan if v is None else v for k, v in self.__dict__.items()}
        for name in ("p_value", "p_holm"):
            row[name] = "" if getattr(self, name) is None else f"{getattr(self, name):.6g}"
        return {k: row[k] for k in SIGNIFICANCE_HEADER}


def unit_values(result: dict, protocol: str, metric: str) -> pd.Series | None:
    """``metric`` per unit id of one stored result under ``protocol``; None when it has no such values."""
    units = (result.get(PER_UNIT_FIELD) or {}).get(protocol)
    if not units or metric not in units:
        return None
    return pd.Series(units[metric], index=pd.Index(units["ids"], name="unit"), dtype=float)


def paired_unit_means(reference_runs: list[dict], model_runs: list[dict], protocol: str,
                      metric: str) -> tuple[pd.DataFrame, int, int, int]:
    """Per unit, each model's mean ``metric`` over its runs (columns ``reference``, ``model``), on the units
    present in every run of both; the number of units left out; the runs used of each model.

    Runs without per-unit values are not used; the frame is empty when either model has none.
    """
    reference = [v for v in (unit_values(r, protocol, metric) for r in reference_runs) if v is not None]
    model = [v for v in (unit_values(r, protocol, metric) for r in model_runs) if v is not None]
    if not reference or not model:
        return pd.DataFrame(columns=["reference", "model"], dtype=float), 0, len(reference), len(model)
    every = reference + model
    common = every[0].index
    for values in every[1:]:
        common = common.intersection(values.index, sort=False)
    seen = every[0].index
    for values in every[1:]:
        seen = seen.union(values.index, sort=False)
    means = pd.DataFrame({
        "reference": pd.concat([v.loc[common] for v in reference], axis=1).mean(axis=1),
        "model": pd.concat([v.loc[common] for v in model], axis=1).mean(axis=1),
    })
    return means.sort_index(), len(seen) - len(common), len(reference), len(model)


def signed_rank_test(reference: pd.Series, model: pd.Series) -> dict:
    """Two-sided Wilcoxon signed-rank test of ``reference - model``, paired by index (unit id).

    Returns ``units`` (paired), ``mean_difference``, ``median_difference``, ``better`` ("reference",
    "model" or "tie", by the mean difference), ``statistic`` and ``p_value`` (1 and no statistic when every
    difference is zero). Units of only one side are not paired (:func:`paired_unit_means` counts them).
    """
    paired = pd.concat([reference.rename("reference"), model.rename("model")], axis=1, join="inner")
    difference = (paired["reference"] - paired["model"]).to_numpy(dtype=float)
    if len(difference) == 0:
        raise ValueError("no paired units")
    mean = float(np.mean(difference))
    outcome = {"units": len(difference), "mean_difference": mean, "median_difference": float(np.median(difference)),
               "better": "reference" if mean > 0 else "model" if mean < 0 else "tie"}
    if not np.any(difference):
        return outcome | {"statistic": None, "p_value": 1.0}
    test = stats.wilcoxon(difference, alternative="two-sided", zero_method="wilcox")
    return outcome | {"statistic": float(test.statistic), "p_value": float(test.pvalue)}


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjusted p-values (same order as given): the i-th smallest of m is multiplied by
    ``m - i`` (i from 0), made non-decreasing along that order and capped at 1."""
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p, kind="stable")
    steps = (len(p) - np.arange(len(p))) * p[order]
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(1.0, np.maximum.accumulate(steps))
    return adjusted


def compare_models(results: list[dict], levels, protocols, models, metric: str = TEST_METRIC,
                   reference: str = REFERENCE_MODEL) -> list[Comparison]:
    """:class:`Comparison` of ``reference`` with each other of ``models`` per level and protocol (module
    docstring), Holm-adjusted within each (level, protocol); empty when ``reference`` has no runs."""
    comparisons = []
    for level in levels:
        runs = {m: [r for r in results if r["spec"]["level"] == level and row_label(r) == m] for m in models}
        if not runs.get(reference):
            continue
        for protocol in protocols:
            family = []
            for model in models:
                if model == reference or not runs[model]:
                    continue
                comparison = Comparison(level, protocol, metric, reference, model)
                means, left_out, comparison.seeds_reference, comparison.seeds_model = paired_unit_means(
                    runs[reference], runs[model], protocol, metric)
                comparison.units_left_out = left_out
                if means.empty:
                    comparison.note = (f"no per-unit values stored for {reference}" if not comparison.seeds_reference
                                       else "no per-unit values stored for the model" if not comparison.seeds_model
                                       else "no unit evaluated in every run of both models")
                else:
                    outcome = signed_rank_test(means["reference"], means["model"])
                    outcome["better"] = {"reference": reference, "model": model, "tie": "tie"}[outcome["better"]]
                    comparison.__dict__.update(outcome)
                family.append(comparison)
            tested = [c for c in family if c.p_value is not None]
            for comparison, adjusted in zip(tested, holm([c.p_value for c in tested])):
                comparison.p_holm = float(adjusted)
            comparisons += family
    return comparisons


def format_p(value: float | None) -> str:
    """``0.0123``, ``3.1e-05`` below 0.001, ``–`` for no test."""
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:.4f}" if value >= 1e-3 else f"{value:.1e}"


def significance_markdown(comparisons: list[Comparison], level_labels: dict, protocol_labels: dict,
                          reference: str = REFERENCE_MODEL) -> str:
    """A markdown table of the comparisons that were tested (level, protocol, model, units, differences,
    direction, p-values), then one line per reason the others were not."""
    if not comparisons:
        return f"No test: {reference} has no stored runs among these results.\n"
    header = ["level", "protocol", f"{reference} vs", "units (left out)", "seeds", "mean diff", "median diff",
              "better", "W", "p", "p (Holm)"]
    align = [" --- "] * 3 + [" ---: "] * 4 + [" --- "] + [" ---: "] * 3
    lines = []
    tested = [c for c in comparisons if c.units]
    if tested:
        lines += ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    for c in tested:
        cells = [level_labels.get(c.level, c.level), protocol_labels.get(c.protocol, c.protocol), c.model,
                 f"{c.units} ({c.units_left_out})", f"{c.seeds_reference} / {c.seeds_model}",
                 f"{c.mean_difference:+.4f}", f"{c.median_difference:+.4f}", c.better,
                 "–" if c.statistic is None else f"{c.statistic:.1f}", format_p(c.p_value), format_p(c.p_holm)]
        lines.append("| " + " | ".join(cells) + " |")
    untested: dict[str, list[str]] = {}
    for c in comparisons:
        if not c.units:
            untested.setdefault(c.note, []).append(
                f"{level_labels.get(c.level, c.level)} {protocol_labels.get(c.protocol, c.protocol)} {c.model}")
    if tested and untested:
        lines.append("")
    lines += [f"No test ({note}): {', '.join(which)}." for note, which in untested.items()]
    return "\n".join(lines) + "\n"


def method_lines(metric: str = TEST_METRIC, reference: str = REFERENCE_MODEL) -> list[str]:
    """The markdown paragraph that says how the tests were made (the module docstring, short)."""
    return [
        f"**Significance** ({reference} vs every other model, test {metric}; `significance.csv`). "
        "Wilcoxon signed-rank test (`scipy.stats.wilcoxon`, two-sided, zero differences dropped) on the paired "
        f"per-unit differences {reference} - model, paired by unit id: test windows for the window "
        "level, test videos for the video level. Seeds are pooled by averaging each unit's value over a "
        "model's seeds first, then one test per level, protocol and model: every seed evaluates the same test "
        "units, so testing seeds x units as one sample would count each unit several times. Only units "
        "present in every run of both models are paired (left out: in brackets). Holm's correction across "
        "the compared models within each level and protocol. `better` is the sign of the mean paired "
        "difference. **Read the video-level rows**: the windows of one video share its positives and overlap, "
        "so the window-level tests count strongly correlated windows as independent units and overstate the "
        "evidence. (RecBole's own `significance_test.py`, a script in its repository, not in the 1.2.1 "
        "package, runs a paired t-test over seed-level figures with `alternative=\"less\"`, whose "
        "alternative is that the proposed model is *worse* than the baseline; not used here.)",
    ]
