"""Does each paper finding hold on the data used? A rule per study, computed from the study's results.

Every verdict compares test NDCG@10 (the plug-in's validation metric) of variants trained with one seed
against a noise yardstick: twice the sample standard deviation of the study's base variant (PoseRec as
configured) over its seeds at the same budget and level. A difference larger than the yardstick in the
paper's direction "holds", one larger in the other direction "contradicts", anything smaller is "not
seen" (the data cannot tell). Timing findings compare mean training-step seconds the same way, with twice
the base variant's step-time spread over seeds as the yardstick.

The sentences go to the README's "Ablations" section through :func:`poserec_experiments.ablate.write_outputs`;
nothing in them is typed in by hand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from poserec_experiments.studies import FACTOR_FIELDS, Study

METRIC = "ndcg@10"
PAPER_TOP_FACTORS = ("name", "size", "material")  # Fig. 4: "the most important factor is item name, size, and material"


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


def _compare(results: StudyResults, level: str, better: str, worse: str, claim: str) -> str | None:
    high, low = results.score(level, better), results.score(level, worse)
    if high is None or low is None:
        return None
    tolerance = results.tolerance(level)
    verdict = judge(high - low, tolerance)
    return (f"**{verdict}** ({level}): {claim}: `{better}` {high:.4f} vs `{worse}` {low:.4f} "
            f"(difference {high - low:+.4f}; {_yardstick(tolerance)})")


def _yardstick(tolerance: float | None) -> str:
    return "no seed spread to compare with" if tolerance is None else f"yardstick ±{tolerance:.4f}"


def _triplet(results: StudyResults) -> list[str]:
    base = results.study.base
    lines = [_compare(results, level, base, "w/o L_triple", "L_triple helps") for level in results.levels()]
    lines += [_compare(results, level, base, "w L_triple (hard)", "negatives from dissimilar-pose windows avoid "
                       "false negatives (pose-aware beats classic hard mining)") for level in results.levels()]
    hard = results.step_seconds("ins", "w L_triple (hard)")
    tolerance = results.step_tolerance("ins")
    for name in ("w L_triple (pose_threshold p=0.5)", "w L_triple (pose_fraction 0.5)"):
        mine = results.step_seconds("ins", name)
        if hard and mine:
            verdict = judge(hard - mine, tolerance)
            lines.append(f"**{verdict}** (ins): pose-aware mining is cheaper than classic hard-negative mining: "
                         f"training step `{name}` {1000 * mine:.0f} ms vs `w L_triple (hard)` {1000 * hard:.0f} ms "
                         f"(ratio {mine / hard:.2f}; {_step_yardstick(tolerance)})")
    return lines


def _step_yardstick(tolerance: float | None) -> str:
    """The timing yardstick: the base variant's step-time spread over seeds (runs under the same load)."""
    return "no seed spread to compare with" if tolerance is None else f"yardstick ±{1000 * tolerance:.0f} ms"


def _prototypes(results: StudyResults) -> list[str]:
    lines = []
    for k in (2, 4, 8):
        lines.append(_compare(results, "ins", f"K={k} w L_pro", f"K={k} w/o L_pro", f"L_pro helps at K={k}"))
    lines.append(_compare(results, "ins", "K=4 w L_pro", "K=1 w L_pro", "more prototypes help (K=4 over K=1)"))
    lines.append(_compare(results, "ins", "K=4 w L_pro", "K=8 w L_pro", "K too large over-fits (K=8 below K=4)"))
    return lines


def _frames(results: StudyResults) -> list[str]:
    lines = []
    base_time = results.step_seconds("ins", "T=10")
    for t in (25, 50):
        lines.append(_compare(results, "ins", f"T={t}", "T=10", f"more frames give more information (T={t})"))
        step = results.step_seconds("ins", f"T={t}")
        if base_time and step:
            tolerance = results.step_tolerance("ins")
            verdict = judge(step - base_time, tolerance)
            lines.append(f"**{verdict}** (ins): more frames take more time: training step T={t} is "
                         f"{step / base_time:.2f}x that of T=10 (paper, T=25: 1.55x; {_step_yardstick(tolerance)})")
    return lines


def _layers(results: StudyResults) -> list[str]:
    lines = []
    for level in results.levels():
        scores = {n: results.score(level, f"L={n}") for n in (1, 2, 3, 4)}
        scores = {n: s for n, s in scores.items() if s is not None}
        if 3 not in scores or len(scores) < 2:
            continue
        others = {n: s for n, s in scores.items() if n != 3}
        rival = max(others, key=others.get)
        gap = scores[3] - others[rival]  # > 0: L = 3 is the best
        tolerance = results.tolerance(level)
        lines.append(f"**{judge(gap, tolerance)}** ({level}): L = 3 is the best: L = 3 {scores[3]:.4f} vs the best "
                     f"other depth, L = {rival}, {others[rival]:.4f} (difference {gap:+.4f}; {_yardstick(tolerance)}; "
                     f"NDCG@10 {', '.join(f'L={n} {s:.4f}' for n, s in scores.items())})")
    return lines


def _factors(results: StudyResults) -> list[str]:
    reference = results.score("ins", results.study.base)
    if reference is None:
        return []
    drops = {}
    for field in FACTOR_FIELDS:
        score = results.score("ins", f"-{field[2:]}")
        if score is not None:
            drops[field[2:]] = reference - score
    if not drops:
        return []
    tolerance = results.tolerance("ins")
    ranked = sorted(drops, key=drops.get, reverse=True)
    important = [f for f in ranked if judge(drops[f], tolerance) == "holds"]
    confirmed = [f for f in PAPER_TOP_FACTORS if f in ranked[:3] and f in important]
    verdict = "holds" if len(confirmed) >= 2 else "not seen" if not important else "contradicts"
    lines = [f"**{verdict}** (ins): the most important factors are name, size and material: the three largest "
             f"drops when removed are {', '.join(f'{f} {-drops[f]:+.4f}' for f in ranked[:3])} "
             f"({_yardstick(tolerance)}; drops beyond it: {', '.join(important) or 'none'})"]
    if "shape" in drops:
        lines.append(_compare(results, "ins", "-shape", results.study.base, "shape is a misleading factor "
                              "(removing it helps)"))
    return lines


def _pose2d(results: StudyResults) -> list[str]:
    return [_compare(results, "ins", "3D (x y z visibility)", "2D (x y visibility)", "3D poses beat 2D poses")]


def _items(results: StudyResults) -> list[str]:
    points = [(p, results.score("ins", f"{p}%")) for p in (20, 40, 60, 80, 100)]
    points = [(p, s) for p, s in points if s is not None]
    if len(points) < 2:
        return []
    rho = spearman([p for p, _ in points], [s for _, s in points])
    line = _compare(results, "ins", f"{points[0][0]}%", f"{points[-1][0]}%",
                    "a larger item space is harder (fewer items, higher scores)")
    return [f"{line}; Spearman rank correlation of share and NDCG@10 {rho:+.2f} over {len(points)} shares"]


def spearman(x, y) -> float:
    """Spearman's rho (no ties expected: shares are distinct; tied scores get their order of appearance)."""
    def ranks(values):
        order = sorted(range(len(values)), key=lambda i: values[i])
        result = [0.0] * len(values)
        for rank, index in enumerate(order):
            result[index] = float(rank)
        return result

    rx, ry = ranks(list(x)), ranks(list(y))
    n = len(rx)
    mx, my = sum(rx) / n, sum(ry) / n
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    sx = math.sqrt(sum((a - mx) ** 2 for a in rx))
    sy = math.sqrt(sum((b - my) ** 2 for b in ry))
    return cov / (sx * sy) if sx and sy else float("nan")


RULES = {"triplet": _triplet, "prototypes": _prototypes, "frames": _frames, "layers": _layers,
         "factors": _factors, "pose2d": _pose2d, "items": _items}


def verdicts(results: StudyResults) -> list[str]:
    """One markdown sentence per finding the paper reports for this study (findings without data left out)."""
    return [line for line in RULES[results.study.name](results) if line]
