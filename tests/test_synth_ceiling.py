"""The generator's Monte-Carlo ceiling (``synth/v2/ceiling.py``) and the shared ranking metric."""

import numpy as np
import pytest

from dataset_conversion.synth.v2 import calibration
from dataset_conversion.synth.v2.ceiling import generator_ceiling, positive_probabilities

SMALL = dict(seed=0, n_videos=60, n_items=300)


@pytest.fixture(scope="module")
def default_v2():
    """Seed 0 at the default size (in memory), its ceilings and its Pop/oracle measurements."""
    tables = calibration.generated_tables(seed=0)
    return {
        "tables": tables,
        "ceiling": generator_ceiling(tables, 0, 2, n_draws=100),
        "context": generator_ceiling(tables, 0, 2, n_draws=100, know_context=True),
        "measured": calibration.measure(tables),
    }


def test_ranking_metrics_by_hand():
    # Unit a (weight 3): keys rank columns 2, 0, 1, 3; positives {0, 3}. Unit b (weight 1): ranks 0, 1, 2, 3
    # (a tie between 1 and 2 keeps column order); positives {1}.
    keys = np.array([[0.5, 0.1, 0.9, 0.0], [0.8, 0.3, 0.3, 0.1]])
    positives = np.array([[1, 0, 0, 1], [0, 1, 0, 0]])
    metrics = calibration.ranking_metrics(keys, positives, np.array([3.0, 1.0]), ks=(1, 2, 4))
    recall_a = {1: 0.0, 2: 0.5, 4: 1.0}
    recall_b = {1: 0.0, 2: 1.0, 4: 1.0}
    ndcg_a = {1: 0.0, 2: (1 / np.log2(3)) / (1 + 1 / np.log2(3)),
              4: (1 / np.log2(3) + 1 / np.log2(5)) / (1 + 1 / np.log2(3))}  # fmt: skip
    ndcg_b = {1: 0.0, 2: 1 / np.log2(3), 4: 1 / np.log2(3)}
    for k in (1, 2, 4):
        assert metrics[f"recall@{k}"] == pytest.approx((3 * recall_a[k] + recall_b[k]) / 4)
        assert metrics[f"ndcg@{k}"] == pytest.approx((3 * ndcg_a[k] + ndcg_b[k]) / 4)
    video_level = calibration.ranking_metrics(keys, positives, np.ones(2), ks=(2,))
    assert video_level["recall@2"] == pytest.approx(0.75)


def test_positive_probabilities_use_the_mean_score_per_column():
    # Items 0 and 1 share column 0; item 2 is column 1. Draw 1: mean(0.4, -0.6) < 0 -> column 0 not positive.
    draws = [(np.array([0, 2]), np.array([0.5, 0.2])), (np.array([0, 1, 2]), np.array([0.4, -0.6, -0.1]))]
    assert positive_probabilities(draws, np.array([0, 0, 1]), 3).tolist() == [0.5, 0.5, 0.0]


def test_ceiling_is_deterministic_for_a_seed_and_its_own_stream():
    tables = calibration.generated_tables(**SMALL)
    first = generator_ceiling(tables, 0, 2, n_draws=40)
    assert generator_ceiling(tables, 0, 2, n_draws=40) == first
    other = generator_ceiling(tables, 0, 2, n_draws=40, ceiling_seed=1)
    assert other != first
    assert max(abs(other[k] - first[k]) for k in first) < 0.25  # a different Monte-Carlo sample, same ceiling
    # The ceiling draws from its own stream: the generated data are unchanged by it.
    again = calibration.generated_tables(**SMALL)
    assert again.annotations.equals(tables.annotations)


def test_ceiling_rejects_tables_of_another_seed():
    tables = calibration.generated_tables(**SMALL)
    with pytest.raises(ValueError, match="not generator v2's output for seed 1"):
        generator_ceiling(tables, 1, 2, n_draws=2)


def test_v1_ceiling_runs_and_is_below_one():
    tables = calibration.generated_tables(**SMALL, generator_version=1)
    ceiling = generator_ceiling(tables, 0, 1, n_draws=20)
    assert 0.0 < ceiling["instance_ndcg@10"] < 1.0 and 0.0 < ceiling["category_ndcg@10"] <= 1.0


def test_ceiling_beats_the_oracle_and_context_raises_it(default_v2):
    ceiling, context, measured = default_v2["ceiling"], default_v2["context"], default_v2["measured"]
    for level in ("instance", "category"):
        for suffix in ("", "_per_video"):
            for metric in ("recall@10", "ndcg@10", "ndcg@5"):
                name = f"{level}_{metric}{suffix}"
                # The ceiling knows the true positive probabilities; the oracle estimates them from ~9
                # training videos of the subcategory, ignoring the style.
                assert ceiling[name] > measured[f"oracle_{name}"], name
                # Knowing the context (which no pose shows) raises it: the pose alone cannot reach it.
                assert context[name] > ceiling[name] + 0.02, name
                assert ceiling[name] < 1.0


def test_pose_visible_ceiling_meets_the_paper_video_only_bound(default_v2):
    ceiling = default_v2["ceiling"]
    for level, bound in calibration.PAPER_VIDEO_ONLY_BOUND.items():
        for metric, value in bound.items():
            assert ceiling[f"{level}_{metric}"] >= value + 0.05, (level, metric, ceiling[f"{level}_{metric}"], value)
