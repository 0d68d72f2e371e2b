"""The generator's ceiling: how well the best ranking that knows what the pose can show can do.

For every evaluated test video (:func:`~.calibration.evaluated_units`: the converter's 6:2:2 split),
P(item is a positive | the video's subcategory and hidden style) is estimated by running the
generator's own annotation step for that video ``n_draws`` times (v2: :func:`.annotate._annotate_one`;
v1: :func:`..annotate._annotate_one`), each time with fresh draws of everything the pose cannot see:
the context (v2; drawn with :data:`~.calibration.CONTEXT_SHARES`), the number of experts, their
consensus and own noise, the video's taste in instances, harshness and score noise. The catalogue
(kinds, tiers, appeal) is the dataset's own. An item is a positive of a draw when it is chosen with a
score > 0; a category when the mean score of its chosen instances is > 0 (the converter's rule). Items
(categories) are ranked by their estimated probability (ties: id order) and scored against the video's
real positives with :func:`~.calibration.ranking_metrics`, the metric the Pop and subcategory-frequency
oracle rows use, per window (videos weighted by their window count) and per video.

``know_context=True`` gives the ceiling that also knows the video's context (v2 only; v1 has none),
which no pose-only model can reach. Each draw runs the generator's annotation function itself, so the
ceiling cannot drift from the generator; the loop is over draws of one video, the counting over draws
and items is vectorised.

Randomness comes from its own stream, ``SeedSequence(seed, spawn_key=(CEILING_STREAM, ceiling_seed))``
(the generator uses spawn keys 0-4), one child per video: the ceiling never changes the generated files,
and it is the same for a seed whatever the order of the videos.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .calibration import (
    CONTEXT_SHARES, TOP_K, RawTables, evaluated_units, item_columns, positive_matrix, ranking_metrics,
)

CEILING_STREAM = 1000  # spawn key of the ceiling's random stream; the generator's streams are 0-4
DEFAULT_DRAWS = 200
LEVELS = ("instance", "category")


def ceiling_streams(seed: int, n_videos: int, ceiling_seed: int = 0) -> list[np.random.SeedSequence]:
    """One seed sequence per video of the dataset of generator ``seed``, for the ceiling's ``ceiling_seed``."""
    return np.random.SeedSequence(seed, spawn_key=(CEILING_STREAM, ceiling_seed)).spawn(n_videos)


def _v2_annotator(seed: int, n_videos: int, n_items: int):
    """v2's plans, item ids and ``draw(index, rng, know_context) -> (item indices, scores)`` of one video."""
    from .annotate import _annotate_one, _Catalogue
    from .catalogue import build_catalogue
    from .plan import CONTEXTS, plan_videos

    plans, items = plan_videos(seed, n_videos), build_catalogue(seed, n_items)
    catalogue = _Catalogue(items)
    shares = np.array([CONTEXT_SHARES[c] for c in CONTEXTS], dtype=float)

    def draws(index: int, rng: np.random.Generator, n_draws: int, know_context: bool):
        plan = plans[index]
        contexts = [plan.context] * n_draws if know_context else \
            [CONTEXTS[c] for c in rng.choice(len(CONTEXTS), size=n_draws, p=shares / shares.sum())]  # fmt: skip
        return [_annotate_one(replace(plan, context=context), catalogue, rng) for context in contexts]

    return plans, [(it.item_id, it.factors["name"]) for it in items], draws


def _v1_annotator(seed: int, n_videos: int, n_items: int):
    """The same for v1 (no context: ``know_context`` changes nothing)."""
    from ..annotate import _annotate_one, true_relevance
    from ..catalogue import build_catalogue, candidates_by_subcategory
    from ..plan import plan_videos

    plans, items = plan_videos(seed, n_videos), build_catalogue(seed, n_items)
    pools = {sub: np.array(pool, dtype=int) for sub, pool in candidates_by_subcategory(items).items()}

    def draws(index: int, rng: np.random.Generator, n_draws: int, know_context: bool):
        plan = plans[index]
        pool = pools[plan.subcategory]
        relevance = true_relevance(plan, items, list(pool))
        groups = np.array([items[i].group for i in pool])
        return [(pool[kept], scores) for kept, scores in (_annotate_one(relevance, groups, rng) for _ in range(n_draws))]

    return plans, [(it.item_id, it.factors["name"]) for it in items], draws


def positive_probabilities(draws, columns: np.ndarray, n_columns: int) -> np.ndarray:
    """(n_columns,) share of ``draws`` (``(item indices, scores)`` pairs) in which each column is a
    positive: the mean score of the draw's items in that column (``columns[item]``) is > 0."""
    n_draws = len(draws)
    draw_of = np.concatenate([np.full(len(picked), d) for d, (picked, _) in enumerate(draws)])
    picked = np.concatenate([np.asarray(p, dtype=int) for p, _ in draws])
    scores = np.concatenate([np.asarray(s, dtype=float) for _, s in draws])
    cell = draw_of * n_columns + columns[picked]
    total = np.bincount(cell, weights=scores, minlength=n_draws * n_columns)
    count = np.bincount(cell, minlength=n_draws * n_columns)
    positive = (count > 0) & (total > 0)  # mean > 0 where the column was chosen at all
    return positive.reshape(n_draws, n_columns).mean(axis=0)


def generator_ceiling(tables: RawTables, seed: int, generator_version: int = 2, n_draws: int = DEFAULT_DRAWS,
                      ceiling_seed: int = 0, know_context: bool = False, ks=TOP_K) -> dict[str, float]:  # fmt: skip
    """Recall@K and NDCG@K of the generator's ceiling (module docstring) on ``tables``, the tables of
    ``generate_raw_dataset(seed=seed, generator_version=generator_version)`` at their own size.

    Returns:
        dict: ``{"<level>_<metric>@<K>": ..., "<level>_<metric>@<K>_per_video": ...}`` for ``level`` in
        instance, category and ``metric`` in recall, ndcg (window level without a suffix).
    """
    if n_draws < 1:
        raise ValueError(f"n_draws must be at least 1, got {n_draws}")
    annotator = {1: _v1_annotator, 2: _v2_annotator}[generator_version]
    plans, item_names, draw = annotator(seed, len(tables.videos), len(tables.items))
    videos = [(p.video_id, p.subcategory) for p in plans]
    if videos != list(zip(tables.videos["video_id"], tables.videos["subcategory"])) or \
            item_names != list(zip(tables.items["item_id"], tables.items["name"])):  # fmt: skip
        raise ValueError(f"the tables are not generator v{generator_version}'s output for seed {seed}")
    positives = {level: positive_matrix(tables, level) for level in LEVELS}
    columns = {level: item_columns(tables, level) for level in LEVELS}
    evaluated = np.flatnonzero(evaluated_units(tables, positives["instance"], "video")[0])
    streams = ceiling_streams(seed, len(plans), ceiling_seed)
    probability = {level: np.zeros((len(evaluated), positives[level].shape[1])) for level in LEVELS}
    for row, index in enumerate(evaluated):
        samples = draw(int(index), np.random.default_rng(streams[index]), n_draws, know_context)
        for level in LEVELS:
            probability[level][row] = positive_probabilities(samples, columns[level], positives[level].shape[1])
    figures = {}
    for level in LEVELS:
        for unit, suffix in (("window", ""), ("video", "_per_video")):
            test, weight = evaluated_units(tables, positives[level], unit)
            keep = test[evaluated]  # the same videos at both levels (a video's positives exist at both or neither)
            metrics = ranking_metrics(probability[level][keep], positives[level][evaluated[keep]], weight, ks)
            figures.update({f"{level}_{name}{suffix}": value for name, value in metrics.items()})
    return figures
