"""Simulated expert annotation: which items suit a video, and how well (paper, Pose-OBE appendix).

The true suitability of an item for a video is

    relevance = kind weight for the video's subcategory  x  style affinity(video style, item tier)

where the style affinity is a Gaussian bump around the item tier's centre on the style axis
(calm 1/6, moderate 1/2, intense 5/6). Items whose kind does not suit the subcategory are never
candidates. Each of 3-5 experts perceives the relevance with their own noise, picks their top 5-11
items and scores each picked item in [-1, 1]. As in the paper, the items all experts picked are
kept and the final score is the mean of the experts' scores. Where the intersection has more than
10 items the 10 with the highest mean perceived relevance are kept; where it has fewer than 3 it is
topped up with the items most experts picked (the paper keeps 3 to 10 items per video).
"""

from __future__ import annotations

import numpy as np

from ..layout import GROUPS
from .catalogue import Item, candidates_by_subcategory
from .plan import VideoPlan, random_streams

TIER_CENTRES = (1.0 / 6.0, 0.5, 5.0 / 6.0)
STYLE_WIDTH = 0.2
MIN_ITEMS, MAX_ITEMS = 3, 10
CONSENSUS_NOISE = 0.35  # log-normal spread of the video-specific fit that all experts see
EXPERT_NOISE = 0.12  # log-normal spread of one expert's judgement
SUITABLE = 0.2  # an expert ignores items they perceive as less suitable than this
SCORE_GAIN, SCORE_NEUTRAL = 2.2, 0.3  # an expert's score is tanh(gain * (perceived - neutral)) + noise


def style_affinity(style: float, tiers: np.ndarray) -> np.ndarray:
    """How well items of the given style tiers fit a video of latent ``style`` (1 = perfectly)."""
    centres = np.asarray(TIER_CENTRES)[np.asarray(tiers)]
    return np.exp(-0.5 * ((style - centres) / STYLE_WIDTH) ** 2)


def true_relevance(plan: VideoPlan, items: list[Item], candidates: list[int]) -> np.ndarray:
    """Noise-free suitability in [0, 1] of the candidate items for one video."""
    weights = np.array([items[i].kind.suits[plan.subcategory] for i in candidates])
    tiers = np.array([items[i].tier for i in candidates])
    return weights * style_affinity(plan.style, tiers)


def _annotate_one(relevance: np.ndarray, groups: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Positions (into ``relevance``) of the kept items and their mean scores.

    ``groups`` holds each candidate's Table 3 group: an expert composes a scene, picking their
    2-3 best items of every group (equipment, clothes, props, background) among those they find
    suitable at all.
    """
    n_candidates = len(relevance)
    n_experts = int(rng.integers(3, 6))
    # What makes this particular video suit an item beyond subcategory and style (shared by all
    # experts), then each expert's own judgement noise.
    consensus = relevance * np.exp(rng.normal(0.0, CONSENSUS_NOISE, n_candidates))
    perceived = consensus[None, :] * np.exp(rng.normal(0.0, EXPERT_NOISE, (n_experts, n_candidates)))
    perceived += rng.normal(0.0, 0.03, (n_experts, n_candidates))
    chosen = np.zeros((n_experts, n_candidates), dtype=bool)
    for group in GROUPS:
        members = np.flatnonzero(groups == group)
        if len(members) == 0:
            continue
        picks = rng.integers(2, 4, n_experts)
        for expert in range(n_experts):
            best = members[np.argsort(-perceived[expert, members], kind="stable")]
            best = best[perceived[expert, best] >= SUITABLE]
            chosen[expert, best[: picks[expert]]] = True
    votes = chosen.sum(axis=0)
    mean_perceived = perceived.mean(axis=0)
    ranking = np.lexsort((-mean_perceived, -votes))  # most votes first, then highest mean perception
    n_kept = int(np.clip((votes == n_experts).sum(), MIN_ITEMS, MAX_ITEMS))
    kept = ranking[:n_kept]
    harshness = rng.normal(0.0, 0.1, (n_experts, 1))
    expert_scores = np.tanh(SCORE_GAIN * (perceived[:, kept] - SCORE_NEUTRAL)) - harshness
    expert_scores += rng.normal(0.0, 0.1, (n_experts, n_kept))
    return kept, np.clip(expert_scores, -1.0, 1.0).mean(axis=0)


def annotate_videos(plans: list[VideoPlan], items: list[Item], seed: int) -> list[tuple[str, str, float]]:
    """``(video_id, item_id, score)`` rows for all videos, sorted by video then item id."""
    rng = np.random.default_rng(random_streams(seed).annotation)
    candidates = candidates_by_subcategory(items)
    rows = []
    for plan in plans:
        pool = candidates[plan.subcategory]
        if len(pool) < MIN_ITEMS:
            raise ValueError(f"the catalogue has only {len(pool)} items for '{plan.subcategory}'; use more items")
        groups = np.array([items[i].group for i in pool])
        kept, scores = _annotate_one(true_relevance(plan, items, pool), groups, rng)
        for position, score in zip(kept, scores):
            rows.append((plan.video_id, items[pool[position]].item_id, round(float(score), 4)))
    rows.sort(key=lambda row: (row[0], row[1]))
    return rows
