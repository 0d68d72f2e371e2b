"""The plug-in's Random (a hash per (seed, window, item), independent of batching) and PoseKNN (label-free
nearest neighbours), on the converter's small dataset (``small_dataset_dir``).

PoseKNN's scores are checked against a brute-force oracle that reads the atomic files itself (pandas,
one query at a time), so the model's reading of the dataset (ids, labels, features) is checked too.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from recbole.data.interaction import Interaction

from test_baselines import _dataset_settings

KNN_LOAD_COL = {"inter": ["window_id", "item_id", "score", "label"], "user": ["window_id", "pose", "pose_pca"],
                "item": ["item_id"]}


def _prepare(model_name, small_dataset_dir, tmp_path, **extra):
    """(config, train, valid, test) of the small dataset for ``model_name`` through the plug-in's loaders."""
    from recbole_poserec.config import Config
    from recbole_poserec.data.dataloader import data_preparation
    from recbole_poserec.data.dataset import create_dataset

    settings = _dataset_settings(small_dataset_dir.data_path, checkpoint_dir=str(tmp_path), **extra)
    config = Config(model=model_name, dataset=small_dataset_dir.name, config_dict=settings, command_line=[])
    return (config, *data_preparation(config, create_dataset(config)))


def _eval_windows(loader) -> torch.Tensor:
    """Every window id the full-sort loader ``loader`` evaluates, in its order."""
    return torch.cat([batch[0]["window_id"] for batch in loader])


def _pairs(windows: torch.Tensor, n_items: int) -> Interaction:
    """Every (window, item) pair, row-major by window (the order of ``full_sort_predict``)."""
    return Interaction({"window_id": windows.repeat_interleave(n_items),
                        "item_id": torch.arange(n_items).repeat(len(windows))})


# ------------------------------------------------------------------------------------------------ Random


@pytest.fixture(scope="module")
def random_data(small_dataset_dir, tmp_path_factory):
    return _prepare("Random", small_dataset_dir, tmp_path_factory.mktemp("random"))


def _random_model(random_data, seed):
    from recbole_poserec.utils import get_model

    config, train, _, _ = random_data
    config["seed"] = seed
    model = get_model("Random")(config, train._dataset)
    assert type(model).__module__ == "recbole_poserec.model.random"  # the plug-in's, found before RecBole's
    return model.eval()


def test_random_figures_do_not_depend_on_eval_batch_size(small_dataset_dir, tmp_path):
    """Through RecBole's evaluator: 33 windows a batch (eval_batch_size 4096) and 3 windows a batch give
    identical figures (RecBole's own Random gives each batch one score vector, so its figures differ)."""
    from recbole_poserec.quick_start import run_recbole

    items = pd.read_csv(small_dataset_dir.instance_dir / f"{small_dataset_dir.name}.item", sep="\t", usecols=[0])
    n_items = len(items) + 1  # RecBole's padding item
    results = []
    for batch_size in (4096, 3 * n_items):
        settings = _dataset_settings(small_dataset_dir.data_path, eval_batch_size=batch_size,
                                     checkpoint_dir=str(tmp_path / str(batch_size)))
        results.append(run_recbole(model="Random", dataset=small_dataset_dir.name, config_dict=settings,
                                   saved=False, command_line=[]))
    for part in ("best_valid_result", "test_result"):
        assert results[0][part] == results[1][part]
        assert all(math.isfinite(value) for value in results[0][part].values())


def test_random_full_sort_is_the_same_in_any_batching(random_data):
    _, _, _, test = random_data
    model = _random_model(random_data, 2022)
    windows = _eval_windows(test)
    with torch.no_grad():
        whole = model.full_sort_predict(Interaction({"window_id": windows}))
        pieces = torch.cat([model.full_sort_predict(Interaction({"window_id": part}))
                            for part in torch.split(windows.flip(0), 7)])
    n_items = model.n_items
    torch.testing.assert_close(pieces.view(-1, n_items).flip(0), whole.view(-1, n_items), rtol=0, atol=0)
    # a window's scores are not repeated for another window of the batch (RecBole's Random repeats them)
    assert not torch.equal(whole.view(-1, n_items)[0], whole.view(-1, n_items)[1])


def test_random_predict_equals_full_sort(random_data):
    _, _, _, test = random_data
    model = _random_model(random_data, 2022)
    windows = _eval_windows(test)[:50]
    with torch.no_grad():
        full = model.full_sort_predict(Interaction({"window_id": windows}))
        pairs = model.predict(_pairs(windows, model.n_items))
    torch.testing.assert_close(pairs, full, rtol=0, atol=0)
    assert pairs.dtype == torch.float64


def test_random_seed_changes_scores_and_fixes_them(random_data):
    _, _, _, test = random_data
    windows = Interaction({"window_id": _eval_windows(test)})
    with torch.no_grad():
        first = _random_model(random_data, 2022).full_sort_predict(windows)
        again = _random_model(random_data, 2022).full_sort_predict(windows)
        other = _random_model(random_data, 7).full_sort_predict(windows)
    torch.testing.assert_close(first, again, rtol=0, atol=0)
    assert (first != other).float().mean() > 0.999
    assert abs(np.corrcoef(first.numpy(), other.numpy())[0, 1]) < 0.02


def test_random_scores_are_uniform_on_the_unit_interval(random_data):
    """All 1,577 x 121 = 190,817 pairs of the small dataset. Under uniformity the mean's standard error is
    0.289 / sqrt(190817) = 0.00066 and a decile's share's is 0.00069; the tolerances are 0.005 (> 7 standard
    errors), so the test fails only for a non-uniform score."""
    model = _random_model(random_data, 2022)
    with torch.no_grad():
        scores = model.full_sort_predict(Interaction({"window_id": torch.arange(model.n_users)}))
    scores = scores.view(model.n_users, model.n_items).numpy()
    assert scores.min() >= 0.0 and scores.max() < 1.0
    assert abs(scores.mean() - 0.5) < 0.005
    assert abs(scores.std() - math.sqrt(1 / 12)) < 0.005
    deciles = np.histogram(scores, bins=10, range=(0.0, 1.0))[0] / scores.size
    assert np.abs(deciles - 0.1).max() < 0.005
    # consecutive windows and consecutive items are uncorrelated
    assert abs(np.corrcoef(scores[:-1].ravel(), scores[1:].ravel())[0, 1]) < 0.02
    assert abs(np.corrcoef(scores[:, :-1].ravel(), scores[:, 1:].ravel())[0, 1]) < 0.02


# ------------------------------------------------------------------------------------------------ PoseKNN


@pytest.fixture(scope="module")
def knn_data(small_dataset_dir, tmp_path_factory):
    return _prepare("PoseKNN", small_dataset_dir, tmp_path_factory.mktemp("knn"), load_col=KNN_LOAD_COL)


def _knn_model(knn_data, **settings):
    from recbole_poserec.utils import get_model

    config, train, _, _ = knn_data
    for key, value in {"knn_k": 5, "knn_feature": "pose_pca", "knn_weighting": "cosine", "knn_power": 1.0,
                       **settings}.items():
        config[key] = value
    model = get_model("PoseKNN")(config, train._dataset)
    assert type(model).__module__ == "recbole_poserec.model.poseknn"
    return model.eval()


@pytest.fixture(scope="module")
def atomic_tables(small_dataset_dir):
    """The small dataset's files as the oracle reads them: features by window token, train rows."""
    folder = small_dataset_dir.instance_dir
    users = pd.read_csv(folder / f"{small_dataset_dir.name}.user", sep="\t", dtype=str)
    users.columns = [column.split(":")[0] for column in users.columns]
    features = {field: {window: np.array(values.split(), dtype=np.float64)
                        for window, values in zip(users["window_id"], users[field])}
                for field in ("pose_pca", "pose")}
    train = pd.read_csv(folder / f"{small_dataset_dir.name}.train.inter", sep="\t", dtype={0: str, 1: str})
    train.columns = [column.split(":")[0] for column in train.columns]
    return features, train


def brute_force_scores(atomic_tables, queries, item_ids, k, weighting, feature, power=1.0) -> np.ndarray:
    """PoseKNN by its definition, one query and one neighbour at a time: ``[len(queries), len(item_ids)]``."""
    features, train = atomic_tables
    train = train[train["score"] > 0]  # the positive rule: the train split holds the score > 0 rows only
    train_windows = sorted(set(train["window_id"]))
    positives = {window: set(rows.loc[rows["label"] == 1, "item_id"]) for window, rows in train.groupby("window_id")}
    column = {item: j for j, item in enumerate(item_ids)}
    scores = np.zeros((len(queries), len(item_ids)))
    for row, query in enumerate(queries):
        q = features[feature][query]
        candidates = []
        for window in train_windows:
            if window == query:
                continue
            w = features[feature][window]
            candidates.append((float(q @ w / (np.linalg.norm(q) * np.linalg.norm(w))), window))
        candidates.sort(key=lambda pair: -pair[0])
        if k < len(candidates):  # the k nearest are well defined (no tie at the boundary)
            assert candidates[k - 1][0] - candidates[k][0] > 1e-6
        for similarity, window in candidates[:k]:
            weight = max(similarity, 0.0) ** power if weighting == "cosine" else 1.0
            for item in positives[window]:
                scores[row, column[item]] += weight
    return scores


def _tokens(dataset, field, ids) -> list[str]:
    return [str(token) for token in dataset.field2id_token[field][ids.numpy()]]


@pytest.mark.parametrize(("k", "weighting", "feature"), [(1, "cosine", "pose_pca"), (5, "cosine", "pose_pca"),
                                                         (1, "uniform", "pose_pca"), (5, "uniform", "pose_pca"),
                                                         (6, "cosine", "pose")])  # raw pose: k=5 has a 2e-7 tie at its boundary
def test_pose_knn_equals_brute_force(knn_data, atomic_tables, k, weighting, feature):
    _, train, _, test = knn_data
    dataset = train._dataset
    model = _knn_model(knn_data, knn_k=k, knn_weighting=weighting, knn_feature=feature)
    # 60 test windows and 20 training windows (which must not count themselves)
    windows = torch.cat([_eval_windows(test)[::5][:60], torch.unique(dataset.inter_feat["window_id"])[::40][:20]])
    with torch.no_grad():
        scores = model.full_sort_predict(Interaction({"window_id": windows})).view(len(windows), -1)
    items = torch.arange(1, model.n_items)  # internal item 0 is RecBole's padding
    expected = brute_force_scores(atomic_tables, _tokens(dataset, "window_id", windows),
                                  _tokens(dataset, "item_id", items), k, weighting, feature)
    np.testing.assert_allclose(scores[:, 1:].numpy(), expected, rtol=1e-4, atol=1e-5)
    assert (scores[:, 0] == 0).all()
    assert (expected > 0).any(axis=1).mean() > 0.5  # most windows get some credit: the comparison is not vacuous


def test_pose_knn_power_sharpens_the_weights(knn_data, atomic_tables):
    _, train, _, test = knn_data
    dataset = train._dataset
    model = _knn_model(knn_data, knn_k=5, knn_power=3.0)
    windows = _eval_windows(test)[:30]
    with torch.no_grad():
        scores = model.full_sort_predict(Interaction({"window_id": windows})).view(len(windows), -1)
    expected = brute_force_scores(atomic_tables, _tokens(dataset, "window_id", windows),
                                  _tokens(dataset, "item_id", torch.arange(1, model.n_items)), 5, "cosine",
                                  "pose_pca", power=3.0)
    np.testing.assert_allclose(scores[:, 1:].numpy(), expected, rtol=1e-4, atol=1e-5)


def test_pose_knn_gives_no_credit_for_non_positive_annotations(knn_data, atomic_tables):
    """Items annotated in training only with score <= 0 (label 0) score 0 for every window, even with every
    training window a neighbour; each of them would score > 0 if every annotation counted."""
    _, train, _, test = knn_data
    dataset = train._dataset
    _, table = atomic_tables
    weak_only = set(table["item_id"]) - set(table.loc[table["label"] == 1, "item_id"])
    assert weak_only, "the small dataset has no item annotated only with score <= 0 in training"
    assert (table.loc[table["item_id"].isin(weak_only), "score"] <= 0).all()
    weak_ids = torch.tensor([dataset.field2token_id["item_id"][item] for item in sorted(weak_only)])
    model = _knn_model(knn_data, knn_k=10**6, knn_weighting="uniform")
    windows = _eval_windows(test)
    with torch.no_grad():
        scores = model.full_sort_predict(Interaction({"window_id": windows})).view(len(windows), -1)
    assert (scores[:, weak_ids] == 0).all()
    # an item's score with all windows as neighbours is its number of positive training windows
    positive = dataset.inter_feat["label"] > 0
    counts = torch.bincount(dataset.inter_feat["item_id"][positive], minlength=model.n_items).float()
    torch.testing.assert_close(scores, counts.expand_as(scores))


def test_pose_knn_predict_equals_full_sort(knn_data):
    _, _, valid, _ = knn_data
    model = _knn_model(knn_data, knn_k=5)
    windows = _eval_windows(valid)[:40]
    with torch.no_grad():
        full = model.full_sort_predict(Interaction({"window_id": windows}))
        pairs = model.predict(_pairs(windows.flip(0), model.n_items))
    torch.testing.assert_close(pairs.view(len(windows), -1).flip(0), full.view(len(windows), -1))


def test_pose_knn_rejects_bad_settings(knn_data):
    for settings, message in [({"knn_k": 0}, "knn_k"), ({"knn_weighting": "gaussian"}, "knn_weighting"),
                              ({"knn_power": 0.0}, "knn_power"), ({"knn_feature": "video_id"}, "knn_feature")]:
        with pytest.raises(ValueError, match=message):
            _knn_model(knn_data, **settings)


def test_pose_knn_end_to_end(small_dataset_dir, tmp_path):
    """run_recbole with the shipped YAML: the one-epoch trainer, a checkpoint saved and reloaded, finite
    figures; the test figures differ from Random's (PoseKNN is not a constant ranking)."""
    from recbole_poserec.quick_start import run_recbole

    settings = _dataset_settings(small_dataset_dir.data_path, checkpoint_dir=str(tmp_path))
    result = run_recbole(model="PoseKNN", dataset=small_dataset_dir.name, config_dict=settings, saved=True,
                         command_line=[])
    assert result["checkpoint"] and result["timing"]["train_epochs"] == 1
    for part in ("best_valid_result", "test_result"):
        assert result[part].keys() >= {"recall@10", "ndcg@10"}
        assert all(math.isfinite(value) and 0.0 <= value <= 1.0 for value in result[part].values())
    assert result["config"]["knn_feature"] == "pose_pca" and result["config"]["knn_k"] >= 1
