"""Category-level items (the paper's "Cat Rec"): items that share a ``name`` become one item.

* Category id: a slug of the name (lower case, runs of non-word characters -> ``_``); a name whose
  slug is empty, or one RecBole would not read back as written (a missing-value word such as ``nan``
  or ``null``: the rule of :mod:`dataset_conversion.recbole_tokens`), gets ``c<NNNN>`` (its number in
  sorted-name order), and ids that collide get ``_2``, ``_3``, ... in name order.
* ``name`` is kept; ``group`` is the most common group of the merged instances (ties: the order of
  :data:`~dataset_conversion.layout.GROUPS`).
* Each factor embedding of a category is the mean of that factor's embeddings over its instances
  (the paper: "the feature vector of one category is calculated as the mean of all item vectors").
* Annotations are mapped to category ids and de-duplicated per (video, category) keeping the mean
  score; the label (score > 0) is recomputed from that mean by the converter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .layout import GROUPS
from .recbole_tokens import misread


@dataclass
class ItemTable:
    """Items as the converter writes them: ids, names, groups and (n_items, n_factors, hidden) embeddings."""

    item_ids: np.ndarray
    names: np.ndarray
    groups: np.ndarray
    factor_embeddings: np.ndarray

    def __len__(self) -> int:
        return len(self.item_ids)


def slugify(name: str) -> str:
    """``"Tennis Ball (yellow)"`` -> ``"tennis_ball_yellow"``; keeps non-ASCII letters."""
    return re.sub(r"\W+", "_", name.strip().lower()).strip("_")


def category_ids(names: list[str]) -> dict[str, str]:
    """A unique, file-safe id for each distinct name, assigned in sorted-name order."""
    ids: dict[str, str] = {}
    used: set[str] = set()
    ordered = sorted(set(names))
    slugs = [slugify(name) for name in ordered]
    unreadable = misread(slugs)
    for number, (name, slug, bad) in enumerate(zip(ordered, slugs, unreadable), start=1):
        base = f"c{number:04d}" if bad or not slug else slug
        candidate, suffix = base, 2
        while candidate in used:
            candidate, suffix = f"{base}_{suffix}", suffix + 1
        ids[name] = candidate
        used.add(candidate)
    return ids


def _most_common_group(groups: pd.Series) -> str:
    counts = groups.value_counts()
    best = counts.max()
    return next(g for g in GROUPS if counts.get(g, 0) == best)


def merge_items_by_name(items: ItemTable) -> tuple[ItemTable, dict[str, str]]:
    """Merge same-name items; return the category table and the map instance id -> category id."""
    name_to_id = category_ids(items.names.tolist())
    instance_category = np.array([name_to_id[n] for n in items.names])
    categories, inverse = np.unique(instance_category, return_inverse=True)  # sorted category ids
    counts = np.bincount(inverse, minlength=len(categories)).astype(np.float64)

    flat = items.factor_embeddings.reshape(len(items), -1).astype(np.float64)
    sums = np.zeros((len(categories), flat.shape[1]), dtype=np.float64)
    np.add.at(sums, inverse, flat)
    means = (sums / counts[:, None]).astype(np.float32).reshape((len(categories),) + items.factor_embeddings.shape[1:])

    frame = pd.DataFrame({"category": instance_category, "name": items.names, "group": items.groups})
    by_category = frame.groupby("category", sort=True)
    names = by_category["name"].first().reindex(categories).to_numpy()
    groups = by_category["group"].agg(_most_common_group).reindex(categories).to_numpy()
    merged = ItemTable(item_ids=categories.astype(object), names=names, groups=groups, factor_embeddings=means)
    return merged, dict(zip(items.item_ids.tolist(), instance_category.tolist()))


def merge_annotations(annotations: pd.DataFrame, item_to_category: dict[str, str]) -> pd.DataFrame:
    """Map ``item_id`` to category ids; one row per (video, category) with the mean score, first-seen order."""
    mapped = annotations.assign(item_id=annotations["item_id"].map(item_to_category))
    merged = mapped.groupby(["video_id", "item_id"], sort=False, as_index=False)["score"].mean()
    return merged.reset_index(drop=True)
