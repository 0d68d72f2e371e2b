"""The cold-item protocol of the converter (``convert --cold-items FRACTION``): effects added after training.

A share of the items gets no interaction in the train and valid files, so that a trained model meets them
for the first time at test time, as it would meet an effect a platform adds after training.

Which items (:func:`choose_cold_items`)
    The *eligible* items are those with at least one positive (label 1) in the test split: an item without
    one would add nothing to the cold evaluation. ``round(FRACTION x eligible)`` of them (at least one when
    FRACTION > 0) are drawn, stratified by item ``group``: each group gets its share of the count by largest
    remainder (ties: group order), and its eligible items, permuted with
    ``numpy.random.default_rng([seed, COLD_STREAM])`` (the split seed, a stream of its own), fill it.
    Deterministic for a fraction, a seed and the converted data. At the category level the items are the
    merged categories, drawn the same way among them.

What changes (:func:`apply_cold_items`)
    Every train and valid row of a cold item is dropped; the test file keeps all its rows, and
    ``<name>.test_cold.inter`` (:data:`COLD_SPLIT`) holds the test rows whose item is cold, in the test
    file's order, so ``benchmark_filename: [train, valid, test_cold]`` evaluates the cold items' positives
    alone. The ``.user`` and ``.item`` files and both PCAs are those of the conversion without the
    protocol (the pose PCA is fitted on the same train windows, the item PCA on all items), and cold items
    stay in the ``.item`` file: a content model can rank them.

A window left without a positive
    A window whose video's positives are all cold keeps its row in ``.user`` but has no positive left in its
    split. RecBole trains on no row of it (it is in no training batch) and, in the valid split, evaluates it
    not at all (full ranking covers the users with a positive). ``meta.json`` counts such windows.

Cold items are still in the catalogue during training: a sampled negative may be one of them (RecBole's
samplers draw from every item); no annotated row of theirs, positive or not, is in train or valid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .layout import ITEM_FIELD, LABEL_FIELD, USER_FIELD

COLD_SPLIT = "test_cold"
COLD_STREAM = 0xC01D  # second entry of the seed sequence: the draw does not repeat the video split's stream
TRAINING_SPLITS = ("train", "valid")
TEST_SPLIT = "test"

if TYPE_CHECKING:  # pandas is not imported by the command line's start-up (this module gives it --cold-items)
    import pandas as pd


def check_cold_fraction(fraction: float) -> float:
    """``fraction`` as a float in [0, 1); ValueError saying what is allowed otherwise."""
    value = float(fraction)
    if not 0.0 <= value < 1.0:  # NaN fails too
        raise ValueError(f"the cold-item fraction must be a number in [0, 1), got {fraction!r}")
    return value


def _group_quotas(sizes: np.ndarray, total: int) -> np.ndarray:
    """``total`` spread over groups of ``sizes`` in proportion, by largest remainder (ties: first group)."""
    exact = sizes * (total / sizes.sum())
    quotas = np.floor(exact).astype(np.int64)
    remainder = exact - quotas
    order = np.lexsort((np.arange(len(sizes)), -remainder))  # largest remainder first, then group order
    quotas[order[: total - int(quotas.sum())]] += 1
    return np.minimum(quotas, sizes)


def eligible_items(inter: pd.DataFrame, item_ids: np.ndarray) -> np.ndarray:
    """The items (in ``item_ids`` order) with at least one positive (label 1) row in the test split."""
    test_positives = inter.loc[(inter["split"] == TEST_SPLIT) & (inter[LABEL_FIELD] > 0), ITEM_FIELD]
    item_ids = np.asarray(item_ids, dtype=object)
    return item_ids[np.isin(item_ids, test_positives.unique())]


def choose_cold_items(inter: pd.DataFrame, item_ids: np.ndarray, groups: np.ndarray, fraction: float,
                      seed: int) -> np.ndarray:
    """The cold item ids (in ``item_ids`` order): ``round(fraction x eligible)`` (at least one when
    ``fraction`` > 0) of the :func:`eligible_items`, stratified by group (see the module docstring).

    ``inter``: the level's interactions with a ``split`` column; ``item_ids`` / ``groups``: its items.
    Empty for fraction 0; ValueError when ``fraction`` > 0 and no item is eligible.
    """
    fraction = check_cold_fraction(fraction)
    if fraction == 0.0:
        return np.empty(0, dtype=object)
    item_ids, groups = np.asarray(item_ids, dtype=object), np.asarray(groups, dtype=object)
    eligible = np.isin(item_ids, eligible_items(inter, item_ids))
    if not eligible.any():
        raise ValueError("no item has a positive in the test split, so no item can be made cold")
    group_names, members = np.unique(groups[eligible].astype(str), return_inverse=True)
    sizes = np.bincount(members, minlength=len(group_names))
    total = max(1, int(round(fraction * int(eligible.sum()))))
    quotas = _group_quotas(sizes, total)
    rng = np.random.default_rng([int(seed), COLD_STREAM])
    eligible_positions = np.flatnonzero(eligible)
    chosen = [rng.permutation(eligible_positions[members == g])[: quotas[g]] for g in range(len(group_names))]
    return item_ids[np.sort(np.concatenate(chosen))]


@dataclass
class ColdItemSplit:
    """The result of :func:`apply_cold_items`: the interactions to write and what the protocol did."""

    inter: pd.DataFrame  # every split, the cold items' train and valid rows dropped
    test_cold: pd.DataFrame  # the test rows of the cold items, in test order
    item_ids: np.ndarray  # the cold items, in item-file order
    n_eligible: int
    dropped_rows: dict  # split -> rows dropped
    windows_left_without_positive: dict  # split -> windows that had a positive before and none after


def _windows_with_positive(inter: pd.DataFrame, split: str) -> set:
    rows = inter[(inter["split"] == split) & (inter[LABEL_FIELD] > 0)]
    return set(rows[USER_FIELD])


def apply_cold_items(inter: pd.DataFrame, item_ids: np.ndarray, groups: np.ndarray, fraction: float,
                     seed: int) -> ColdItemSplit:
    """Choose the cold items (:func:`choose_cold_items`), drop their train and valid rows, and collect their
    test rows; the result is checked (:func:`check_cold_split`) before it is returned."""
    cold = choose_cold_items(inter, item_ids, groups, fraction, seed)
    is_cold = inter[ITEM_FIELD].isin(cold)
    in_training = inter["split"].isin(TRAINING_SPLITS)
    kept = inter[~(is_cold & in_training)].reset_index(drop=True)
    test_cold = inter[is_cold & (inter["split"] == TEST_SPLIT)].reset_index(drop=True)
    split = ColdItemSplit(
        inter=kept,
        test_cold=test_cold,
        item_ids=cold,
        n_eligible=int(len(eligible_items(inter, item_ids))),
        dropped_rows={s: int((is_cold & (inter["split"] == s)).sum()) for s in TRAINING_SPLITS},
        windows_left_without_positive={
            s: len(_windows_with_positive(inter, s) - _windows_with_positive(kept, s)) for s in TRAINING_SPLITS
        },
    )
    check_cold_split(inter, split)
    return split


def check_cold_split(original: pd.DataFrame, split: ColdItemSplit) -> None:
    """The protocol's invariants, checked before anything is written (AssertionError: a bug, not bad input):
    no cold item in train or valid; the test split unchanged; ``test_cold`` = the test rows of the cold items;
    only cold items' train and valid rows dropped."""
    kept, cold = split.inter, split.item_ids
    if kept.loc[kept["split"].isin(TRAINING_SPLITS), ITEM_FIELD].isin(cold).any():
        raise AssertionError("a cold item is left in the train or valid split")
    test = original[original["split"] == TEST_SPLIT].reset_index(drop=True)
    if not test.equals(kept[kept["split"] == TEST_SPLIT].reset_index(drop=True)):
        raise AssertionError("the test split changed")
    if not split.test_cold.equals(test[test[ITEM_FIELD].isin(cold)].reset_index(drop=True)):
        raise AssertionError("test_cold is not the test rows of the cold items")
    warm = original[~(original[ITEM_FIELD].isin(cold) & original["split"].isin(TRAINING_SPLITS))]
    if len(warm) != len(kept):
        raise AssertionError("rows other than the cold items' train and valid rows were dropped")


def cold_items_meta(split: ColdItemSplit, fraction: float, seed: int, name: str, n_items: int) -> dict:
    """The ``cold_items`` entry of ``meta.json``."""
    return {
        "fraction": float(fraction),
        "seed": int(seed),
        "seed_sequence": [int(seed), COLD_STREAM],
        "rule": "round(fraction x eligible) items (at least one) drawn among the eligible ones, stratified by "
                "group (largest remainder); their train and valid rows dropped, the test file unchanged",
        "eligible": "items with at least one positive (label 1) in the test split",
        "stratified_by": "group",
        "items": int(n_items),
        "eligible_items": split.n_eligible,
        "count": int(len(split.item_ids)),
        "item_ids": [str(i) for i in split.item_ids],
        "dropped_rows": dict(split.dropped_rows),
        "windows_left_without_positive": dict(split.windows_left_without_positive),
        "test_cold_rows": int(len(split.test_cold)),
        "test_cold_positives": int((split.test_cold[LABEL_FIELD] > 0).sum()),
        "test_cold_windows": int(split.test_cold.loc[split.test_cold[LABEL_FIELD] > 0, USER_FIELD].nunique()),
        "file": f"{name}.{COLD_SPLIT}.inter",
        "benchmark_filename": [*TRAINING_SPLITS, COLD_SPLIT],
    }


def cold_fraction_argument(text: str) -> float:
    """An argparse ``type`` for ``--cold-items``: a number in [0, 1) (the message says so otherwise)."""
    import argparse

    try:
        return check_cold_fraction(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}") from None


cold_fraction_argument.__name__ = "fraction"
