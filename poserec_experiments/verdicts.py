"""Does a paper finding hold on the data used? The kinds of finding a study declares, and how each is judged.

A study (:mod:`poserec_experiments.studies`) lists its findings as rules of the kinds below, each naming the
claim, the variants it compares, the level and the direction the paper reports; :func:`verdicts` applies
them, in order, to the study's aggregated results.

Every score verdict compares test NDCG@10 (the plug-in's validation metric) of variants trained with one
seed against a noise yardstick: twice the sample standard deviation of the study's base variant (PoseRec as
configured) over its seeds at the same budget and level. A difference larger than the yardstick in the
paper's direction "holds", one larger in the other direction "contradicts", anything smaller is "not
seen" (the data cannot tell). Timing findings (:class:`CheaperStep`) compare mean training-step seconds
the same way, with twice the base variant's step-time spread over seeds as the yardstick.

The sentences go to the study's markdown and to the README's "Ablations" section through
:func:`poserec_experiments.ablate.write_outputs`; nothing in them is typed in by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from scipy.stats import spearmanr

if TYPE_CHECKING:
    from poserec_experiments.studies import Study

METRIC = "ndcg@10"


@dataclass
class StudyResults:
    """Aggregated rows (:func:`aggregate_runs`) and timings (:func:`aggregate_timings`) of one study."""

    study: Study
    rows: list
    timings: list

    def score(self, level: str, variant: str) -> float | None:
        for row in self.rows:
            if row["level"] == level and row["variant"] == variant and row["metric"] == METRIC:
                return row["mean"]
        return None

    def step_seconds(self, level: str, variant: str) -> float | None:
        for row in self.timings:
            if row["level"] == level and row["variant"] == variant:
                value = row["step_seconds_mean"]
                return None if value != value else value
        return None

    def step_tolerance(self, level: str) -> float | None:
        """2 x the standard deviation of the base variant's mean step time over its seeds (None without)."""
        for row in self.timings:
            if row["level"] == level and row["variant"] == self.study.base:
                std = row.get("step_seconds_std", float("nan"))
                return 2.0 * std if std == std and std > 0 else None
        return None

    def tolerance(self, level: str) -> float | None:
        """2 x the base variant's seed standard deviation (None with fewer than 2 seeds)."""
        for row in self.rows:
            if (row["level"] == level and row["variant"] == self.study.base and row["metric"] == METRIC
                    and row["seeds"] >= 2):
                return 2.0 * row["std"]
        return None

    def levels(self) -> list[str]:
        return list(dict.fromkeys(row["level"] for row in self.rows))


def judge(difference: float, tolerance: float | None) -> str:
    """``difference`` is (expected better) - (expected worse): holds / contradicts / not seen."""
    if tolerance is None:
        return "holds" if difference > 0 else "contradicts" if difference < 0 else "not seen"
    if difference > tolerance:
        return "holds"
    if difference < -tolerance:
        return "contradicts"
    return "not seen"


def yardstick(tolerance: float | None) -> str:
    return "no seed spread to compare with" if tolerance is None else f"yardstick ±{tolerance:.4f}"


def step_yardstick(tolerance: float | None) -> str:
    """The timing yardstick: the base variant's step-time spread over seeds (runs under the same load)."""
    return "no seed spread to compare with" if tolerance is None else f"yardstick ±{1000 * tolerance:.0f} ms"


def compare(results: StudyResults, level: str, better: str, worse: str, claim: str) -> str | None:
    """The verdict on "``better`` scores higher than ``worse``" at ``level`` (None when one has no score)."""
    high, low = results.score(level, better), results.score(level, worse)
    if high is None or low is None:
        return None
    tolerance = results.tolerance(level)
    return (f"**{judge(high - low, tolerance)}** ({level}): {claim}: `{better}` {high:.4f} vs `{worse}` {low:.4f} "
            f"(difference {high - low:+.4f}; {yardstick(tolerance)})")


@dataclass(frozen=True)
class Better:
    """The paper finds ``better`` above ``worse``: one verdict per level of ``levels`` (default the instance
    level; None: every level that has results)."""

    claim: str
    better: str
    worse: str
    levels: tuple[str, ...] | None = ("ins",)

    @property
    def variants(self) -> tuple[str, ...]:
        return self.better, self.worse

    def sentences(self, results: StudyResults) -> list[str | None]:
        levels = results.levels() if self.levels is None else self.levels
        return [compare(results, level, self.better, self.worse, self.claim) for level in levels]


@dataclass(frozen=True)
class CheaperStep:
    """The paper finds a training step of ``cheaper`` faster than one of ``dearer`` (mean step seconds at
    ``level``, judged against the base variant's step-time yardstick).

    ``detail`` is formatted with ``cheaper`` / ``dearer`` (the names), ``cheaper_ms`` / ``dearer_ms``,
    ``ratio`` (cheaper / dearer), ``times`` (dearer / cheaper) and ``yardstick``.
    """

    claim: str
    cheaper: str
    dearer: str
    detail: str
    level: str = "ins"

    @property
    def variants(self) -> tuple[str, ...]:
        return self.cheaper, self.dearer

    def sentences(self, results: StudyResults) -> list[str | None]:
        cheap, dear = results.step_seconds(self.level, self.cheaper), results.step_seconds(self.level, self.dearer)
        if not (cheap and dear):
            return []
        tolerance = results.step_tolerance(self.level)
        detail = self.detail.format(cheaper=self.cheaper, dearer=self.dearer, cheaper_ms=1000 * cheap,
                                    dearer_ms=1000 * dear, ratio=cheap / dear, times=dear / cheap,
                                    yardstick=step_yardstick(tolerance))
        return [f"**{judge(dear - cheap, tolerance)}** ({self.level}): {self.claim}: {detail}"]


@dataclass(frozen=True)
class Best:
    """The paper finds ``best`` the highest of ``candidates``: per level with results, judged on the gap
    to the best other candidate.

    ``detail`` is formatted with ``best_score``, ``rival`` (the best other candidate), ``rival_x`` (its
    plot position, e.g. the depth), ``rival_score``, ``difference``, ``yardstick`` and ``scores`` (every
    candidate's name and score).
    """

    claim: str
    best: str
    candidates: tuple[str, ...]
    detail: str

    @property
    def variants(self) -> tuple[str, ...]:
        return self.candidates

    def sentences(self, results: StudyResults) -> list[str | None]:
        lines = []
        for level in results.levels():
            scores = {name: results.score(level, name) for name in self.candidates}
            scores = {name: s for name, s in scores.items() if s is not None}
            if self.best not in scores or len(scores) < 2:
                continue
            others = {name: s for name, s in scores.items() if name != self.best}
            rival = max(others, key=others.get)
            gap = scores[self.best] - others[rival]  # > 0: best is the best
            tolerance = results.tolerance(level)
            detail = self.detail.format(best_score=scores[self.best], rival=rival,
                                        rival_x=results.study.variant(rival).x, rival_score=others[rival],
                                        difference=gap, yardstick=yardstick(tolerance),
                                        scores=", ".join(f"{name} {s:.4f}" for name, s in scores.items()))
            lines.append(f"**{judge(gap, tolerance)}** ({level}): {self.claim}: {detail}")
        return lines


@dataclass(frozen=True)
class Ranking:
    """The paper names ``top`` as the most important of the ``removed`` parts (``(label, variant)`` pairs,
    each the ``reference`` variant without that part): ranked by the score drop when removed, it holds when
    most of ``top`` are among the ``len(top)`` largest drops and beyond the yardstick, is not seen when no
    drop is beyond it, and contradicts otherwise.

    ``detail`` is formatted with ``largest`` (the largest drops, label and score change), ``yardstick`` and
    ``beyond`` (the labels whose drop is beyond the yardstick).
    """

    claim: str
    reference: str
    removed: tuple[tuple[str, str], ...]
    top: tuple[str, ...]
    detail: str
    level: str = "ins"

    @property
    def variants(self) -> tuple[str, ...]:
        return (self.reference,) + tuple(variant for _, variant in self.removed)

    def sentences(self, results: StudyResults) -> list[str | None]:
        reference = results.score(self.level, self.reference)
        if reference is None:
            return []
        drops = {}
        for label, variant in self.removed:
            score = results.score(self.level, variant)
            if score is not None:
                drops[label] = reference - score
        if not drops:
            return []
        tolerance = results.tolerance(self.level)
        ranked = sorted(drops, key=drops.get, reverse=True)
        largest = ranked[:len(self.top)]
        beyond = [label for label in ranked if judge(drops[label], tolerance) == "holds"]
        confirmed = [label for label in self.top if label in largest and label in beyond]
        verdict = "holds" if 2 * len(confirmed) > len(self.top) else "not seen" if not beyond else "contradicts"
        detail = self.detail.format(largest=", ".join(f"{label} {-drops[label]:+.4f}" for label in largest),
                                    yardstick=yardstick(tolerance), beyond=", ".join(beyond) or "none")
        return [f"**{verdict}** ({self.level}): {self.claim}: {detail}"]


@dataclass(frozen=True)
class Falls:
    """The paper finds the score falling along ``variants`` (in the order of their plot position x): judged
    as ``Better(first, last)`` over the first and last variant with results (at least two), and followed by
    ``detail``, formatted with ``rho`` (Spearman's rank correlation of x and score, :func:`scipy.stats.spearmanr`:
    tied scores share their mean rank) and ``count`` (the variants with results)."""

    claim: str
    variants: tuple[str, ...]
    detail: str
    level: str = "ins"

    def sentences(self, results: StudyResults) -> list[str | None]:
        points = [(name, results.score(self.level, name)) for name in self.variants]
        points = [(name, s) for name, s in points if s is not None]
        if len(points) < 2:
            return []
        rho = spearmanr([results.study.variant(name).x for name, _ in points], [s for _, s in points]).statistic
        line = compare(results, self.level, points[0][0], points[-1][0], self.claim)
        return [f"{line}; {self.detail.format(rho=rho, count=len(points))}"]


Finding = Better | CheaperStep | Best | Ranking | Falls


def verdicts(results: StudyResults) -> list[str]:
    """One markdown sentence per finding of the study that these results can judge, in the study's order."""
    return [line for finding in results.study.findings for line in finding.sentences(results) if line]
