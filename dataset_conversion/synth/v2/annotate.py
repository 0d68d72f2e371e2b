"""Simulated v2 experts: which items a video gets, and their scores.

For one video (subcategory ``s``, style, context ``c``) the experts first agree on item *kinds*:

* a **staple** kind with chance :data:`~.calibration.STAPLE_RATES` ``[c][kind]`` (the context, not the pose)
  times :func:`staple_lean` (everyday staples lean a little to one video category);
* a **core** kind (one that suits ``s``, weight ``w``) with chance
  ``CORE_RATE[c] * w ** CORE_SHAPE * CONTEXT_GROUP_SHIFT[c][group]`` (clipped to [0, 0.95]).

Agreement is the paper's intersection: each of 3-5 experts includes a kind when the shared logit of its
chance plus their own logistic noise (scale :data:`~.calibration.EXPERT_AGREEMENT`) is positive, and a
kind is kept when all of them include it. For each kept kind the experts pick one instance: the highest
``log style affinity + APPEAL_GAIN * appeal + Gumbel(INSTANCE_NOISE)`` (the Gumbel draw is the video's
taste, shared by the experts). As in v1, fewer than 3 kept items are topped up with the likeliest core
kinds and more than 10 are cut to the 10 most relevant; each expert scores an item
``tanh(2.2 (perceived - 0.3)) - harshness + noise`` (v1's rule) with ``perceived`` the item's relevance
(core weight or :data:`~.calibration.STAPLE_RELEVANCE`, times style affinity, times ``exp(0.3 appeal)``)
under the expert's own noise, and the final score is the mean, clipped to [-1, 1].
"""

from __future__ import annotations

import numpy as np

from ..annotate import EXPERT_NOISE, MAX_ITEMS, MIN_ITEMS, SCORE_GAIN, SCORE_NEUTRAL, style_affinity
from ..plan import random_streams
from ..taxonomy import CATEGORIES
from .calibration import (
    APPEAL_GAIN, CONTEXT_GROUP_SHIFT, CORE_RATE, CORE_SHAPE, EXPERT_AGREEMENT, INSTANCE_NOISE, STAPLE_LEAN,
    STAPLE_LEAN_CATEGORY, STAPLE_RATES, STAPLE_RELEVANCE,
)
from .catalogue import STAPLES, Item, core_candidates
from .plan import VideoPlan

APPEAL_SCORE = 0.3  # how much an instance's appeal raises the experts' perceived fit
MAX_CHANCE = 0.95


class _Catalogue:
    """Per-item arrays of a catalogue, and per-subcategory candidate kinds."""

    def __init__(self, items: list[Item]):
        self.items = items
        self.kind_names = sorted({it.kind.name for it in items})
        index = {name: k for k, name in enumerate(self.kind_names)}
        self.kind = np.array([index[it.kind.name] for it in items])
        self.tier = np.array([it.tier for it in items])
        self.appeal = np.array([it.appeal for it in items])
        self.group_of_kind = {index[it.kind.name]: it.group for it in items}
        self.kind_of_name = {it.kind.name: it.kind for it in items}
        self.staple_kinds = np.array([index[name] for name in STAPLES if name in index], dtype=int)
        self.core_kinds = {}
        for sub in {s for it in items for s in it.kind.suits}:
            kinds = np.unique(self.kind[core_candidates(items, sub)])
            self.core_kinds[sub] = (kinds, np.array([self.kind_of_name[self.kind_names[k]].suits[sub] for k in kinds]))


def staple_lean(kind: str, category: str) -> float:
    """The factor on a staple's chance in a video of ``category`` (:data:`~.calibration.STAPLE_LEAN`)."""
    lean = STAPLE_LEAN_CATEGORY.get(kind)
    if lean is None:
        return 1.0
    return STAPLE_LEAN if lean == category else (len(CATEGORIES) - STAPLE_LEAN) / (len(CATEGORIES) - 1)


def _kind_chances(plan: VideoPlan, catalogue: _Catalogue):
    """Candidate kinds of a video, their chance of being agreed on, their base relevance and which are core."""
    core, weights = catalogue.core_kinds.get(plan.subcategory, (np.zeros(0, int), np.zeros(0)))
    shift = np.array([CONTEXT_GROUP_SHIFT[plan.context].get(catalogue.group_of_kind[k], 1.0) for k in core])
    core_chance = CORE_RATE[plan.context] * weights**CORE_SHAPE * shift
    staples = catalogue.staple_kinds
    staple_chance = np.array([STAPLE_RATES[plan.context][catalogue.kind_names[k]] * staple_lean(catalogue.kind_names[k],
                                                                                                 plan.category)
                              for k in staples])  # fmt: skip
    kinds = np.concatenate([core, staples])
    chances = np.clip(np.concatenate([core_chance, staple_chance]), 0.0, MAX_CHANCE)
    relevance = np.concatenate([weights, np.full(len(staples), STAPLE_RELEVANCE)])
    return kinds, chances, relevance, np.arange(len(kinds)) < len(core)


def _annotate_one(plan: VideoPlan, catalogue: _Catalogue, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Indices (into the catalogue) of one video's items and their mean scores."""
    kinds, chances, relevance, is_core = _kind_chances(plan, catalogue)
    n_experts = int(rng.integers(3, 6))
    logit = np.log(chances) - np.log1p(-chances)
    consensus = logit + rng.logistic(0.0, EXPERT_AGREEMENT, len(kinds))
    votes = (consensus[None, :] + rng.logistic(0.0, EXPERT_AGREEMENT, (n_experts, len(kinds))) > 0).sum(axis=0)
    kept = votes == n_experts
    order = np.lexsort((-chances, -votes, ~is_core))  # for top-ups: core kinds, most votes, then likeliest
    n_kept = int(np.clip(kept.sum(), MIN_ITEMS, min(MAX_ITEMS, len(kinds))))
    chosen = np.flatnonzero(kept)
    if len(chosen) < n_kept:
        chosen = np.concatenate([chosen, [k for k in order if not kept[k]][: n_kept - len(chosen)]]).astype(int)
    # One instance per chosen kind: the best of style affinity, appeal and the video's taste.
    taste = np.log(style_affinity(plan.style, catalogue.tier)) + APPEAL_GAIN * catalogue.appeal
    taste = taste + rng.gumbel(0.0, INSTANCE_NOISE, len(taste))
    by_kind = np.lexsort((-taste, catalogue.kind))
    first = by_kind[np.unique(catalogue.kind[by_kind], return_index=True)[1]]  # best instance of each kind present
    best_of_kind = dict(zip(catalogue.kind[first], first))
    picked = np.array([best_of_kind[kinds[k]] for k in chosen], dtype=int)
    affinity = style_affinity(plan.style, catalogue.tier[picked])
    fit = relevance[chosen] * affinity * np.exp(APPEAL_SCORE * catalogue.appeal[picked])
    if len(picked) > n_kept:
        top = np.argsort(-fit, kind="stable")[:n_kept]
        picked, fit = picked[top], fit[top]
    perceived = fit[None, :] * np.exp(rng.normal(0.0, EXPERT_NOISE, (n_experts, len(picked))))
    harshness = rng.normal(0.0, 0.1, (n_experts, 1))
    scores = np.tanh(SCORE_GAIN * (perceived - SCORE_NEUTRAL)) - harshness + rng.normal(0.0, 0.1, perceived.shape)
    return picked, np.clip(scores, -1.0, 1.0).mean(axis=0)


def annotate_videos(plans: list[VideoPlan], items: list[Item], seed: int) -> list[tuple[str, str, float]]:
    """``(video_id, item_id, score)`` rows for all videos, sorted by video then item id."""
    rng = np.random.default_rng(random_streams(seed).annotation)
    catalogue = _Catalogue(items)
    rows = []
    for plan in plans:
        picked, scores = _annotate_one(plan, catalogue, rng)
        if len(picked) < MIN_ITEMS:
            raise ValueError(f"the catalogue has only {len(picked)} items for '{plan.subcategory}'; use more items")
        rows.extend((plan.video_id, items[i].item_id, round(float(s), 4)) for i, s in zip(picked, scores))
    rows.sort(key=lambda row: (row[0], row[1]))
    return rows
