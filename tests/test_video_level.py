"""Video-level evaluation (recbole_poserec.evaluation): aggregation, RecBole's metrics per video against a plain
numpy computation, per-unit values, and both protocols through run_recbole."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from recbole.data.interaction import Interaction
from recbole.evaluator import Collector

from dataset_conversion.errors import DataError
from recbole_poserec.data.dataloader import data_preparation
from recbole_poserec.data.dataset import create_dataset
from recbole_poserec.evaluation import UnitEvaluator, VideoFullSortEvalDataLoader, aggregate_window_scores
from recbole_poserec.evaluation.video import video_full_sort_scores
from recbole_poserec.quick_start import prepare_config, run_recbole
from recbole_poserec.utils import get_model, get_trainer

REPO = Path(__file__).resolve().parents[1]
METRICS = {f"{m}@{k}" for m in ("recall", "ndcg") for k in (5, 10, 20)}


def _settings(data_path, tmp_path, **extra) -> dict:
    settings = yaml.safe_load((REPO / "properties" / "dataset" / "pose-obe.yaml").read_text())
    settings.update(data_path=str(data_path), checkpoint_dir=str(tmp_path), state="ERROR", show_progress=False,
                    log_wandb=False)
    return settings | extra


def _prepared(model_name, data_path, dataset, tmp_path, **extra):
    """Config, test loaders (window and video) and a trainer of ``model_name``, as run_recbole builds them."""
    config = prepare_config(model_name, dataset, config_dict=_settings(data_path, tmp_path, **extra), command_line=[])
    train_data, valid_data, test_data = data_preparation(config, create_dataset(config))
    model = get_model(model_name)(config, train_data._dataset).to(config["device"])
    trainer = get_trainer(config["MODEL_TYPE"], model_name)(config, model)
    videos = VideoFullSortEvalDataLoader(config, test_data._dataset, test_data._sampler)
    return config, (train_data._dataset, valid_data._dataset), test_data, videos, model, trainer


# ------------------------------------------------------------------------------- hand computations


def test_aggregation_mean_and_max_by_hand():
    scores = torch.tensor([[1.0, 2.0], [3.0, 0.0], [5.0, -5.0], [-1.0, 4.0]])
    video = torch.tensor([0, 0, 1, 0])
    assert torch.equal(aggregate_window_scores(scores, video, 2, "mean"), torch.tensor([[1.0, 2.0], [5.0, -5.0]]))
    assert torch.equal(aggregate_window_scores(scores, video, 2, "max"), torch.tensor([[3.0, 4.0], [5.0, -5.0]]))
    with pytest.raises(ValueError, match="median"):
        aggregate_window_scores(scores, video, 2, "median")


# Two videos, items 1..5 (0 is RecBole's [PAD]). Video 0: windows a, b; positives {2, 5}. Video 1: window c,
# positive {4}, history {2} (masked). mean of video 0: [.5, .4, .45, .05, .35] -> ranking 1 3 2 5 4;
# max: [.9, .6, .5, .1, .7] -> 1 5 2 3 4. Video 1 without item 2: 4 first.
WINDOW_SCORES = torch.tensor([[0, .9, .2, .5, .1, .0], [0, .1, .6, .4, .0, .7], [0, .3, .8, .1, .6, .2]],
                             dtype=torch.float64)
L2, L3, L4 = 1 / math.log2(2), 1 / math.log2(3), 1 / math.log2(4)
HAND = {  # metric -> (video 0, video 1)
    "mean": {"recall@1": (0, 1), "recall@2": (0, 1), "recall@3": (.5, 1),
             "ndcg@1": (0, 1), "ndcg@2": (0, 1), "ndcg@3": (L4 / (L2 + L3), 1)},
    "max": {"recall@1": (0, 1), "recall@2": (.5, 1), "recall@3": (1, 1),
            "ndcg@1": (0, 1), "ndcg@2": (L3 / (L2 + L3), 1), "ndcg@3": ((L3 + L4) / (L2 + L3), 1)},
}


@pytest.mark.parametrize("how", ["mean", "max"])
def test_video_metrics_of_a_crafted_case_by_hand(how, small_dataset_dir, tmp_path):
    config = prepare_config("Pop", small_dataset_dir.name, command_line=[], config_dict=_settings(
        small_dataset_dir.data_path, tmp_path, topk=[1, 2, 3], valid_metric="NDCG@3", metric_decimal_place=12))
    collector, evaluator = Collector(config), UnitEvaluator(config)
    history = (torch.tensor([1]), torch.tensor([2]))
    scores = video_full_sort_scores(WINDOW_SCORES, torch.tensor([0, 0, 1]), history, how)
    assert torch.isinf(scores[:, 0]).all() and scores[1, 2] == -torch.inf
    collector.eval_batch_collect(scores, Interaction({}), torch.tensor([0, 0, 1]), torch.tensor([2, 5, 4]))
    struct = collector.get_data_struct()
    result, per_video = evaluator.evaluate(struct), evaluator.per_unit(struct)
    assert set(result) == set(per_video) == set(HAND[how])
    for metric, expected in HAND[how].items():
        np.testing.assert_allclose(per_video[metric], expected, atol=1e-12, err_msg=metric)
        assert result[metric] == pytest.approx(np.mean(expected), abs=1e-12)


# --------------------------------------------------------------------- a real dataset against numpy


def _numpy_video_metrics(window_scores, window_video_tokens, positives, history, topk, how):
    """Per video (sorted by token): Recall/NDCG@k of the aggregated scores, in plain numpy."""
    values = {f"{m}@{k}": [] for m in ("recall", "ndcg") for k in topk}
    tokens = sorted(set(window_video_tokens))
    for token in tokens:
        rows = window_scores[np.asarray(window_video_tokens) == token]
        scores = rows.mean(axis=0) if how == "mean" else rows.max(axis=0)
        scores[0] = -np.inf
        scores[list(history.get(token, ()))] = -np.inf
        ranked = np.argsort(-scores, kind="stable")
        hits = np.isin(ranked, list(positives[token]))
        for k in topk:
            dcg = (hits[:k] / np.log2(np.arange(2, k + 2))).sum()
            idcg = (1 / np.log2(np.arange(2, min(k, len(positives[token])) + 2))).sum()
            values[f"recall@{k}"].append(hits[:k].sum() / len(positives[token]))
            values[f"ndcg@{k}"].append(dcg / idcg)
    return tokens, {name: np.asarray(v) for name, v in values.items()}


def _check_against_numpy(config, test_data, videos, model, trainer, how, earlier_splits=()):
    dataset = test_data._dataset
    uid, iid, vid = dataset.uid_field, dataset.iid_field, "video_id"
    users = dataset.inter_feat[uid].numpy()
    windows = np.unique(users)
    video_of = dataset.user_feat[vid].numpy()
    token = lambda field, ids: [str(t) for t in dataset.id2token(field, ids)]  # noqa: E731
    positives, history = {}, {}
    for v, i in zip(token(vid, video_of[users]), dataset.inter_feat[iid].numpy()):
        positives.setdefault(v, set()).add(int(i))
    for split in earlier_splits:  # train/valid items of any window of a test video, not its positives
        for v, i in zip(token(vid, video_of[split.inter_feat[uid].numpy()]), split.inter_feat[iid].numpy()):
            if v in positives and int(i) not in positives[v]:
                history.setdefault(v, set()).add(int(i))
    model.eval()
    with torch.no_grad():
        scores = model.full_sort_predict(dataset.join(Interaction({uid: torch.from_numpy(windows)})))
    scores = scores.view(len(windows), -1).double().numpy()
    tokens, expected = _numpy_video_metrics(scores, token(vid, video_of[windows]), positives, history,
                                            config["topk"], how)
    got = trainer.evaluate_videos(videos, load_best_model=False)
    assert sorted(got.ids) == tokens and len(set(got.ids)) == len(got.ids)  # every test video once
    order = [got.ids.index(t) for t in tokens]
    for name, values in expected.items():
        np.testing.assert_allclose(got.values[name][order], values, atol=1e-9, err_msg=name)
        assert got.result[name] == pytest.approx(values.mean(), abs=0.5 * 10 ** -config["metric_decimal_place"])
    return got, history


@pytest.mark.parametrize("how", ["mean", "max"])
def test_video_metrics_equal_a_numpy_computation(how, small_dataset_dir, tmp_path):
    config, _, test_data, videos, model, trainer = _prepared(
        "Random", small_dataset_dir.data_path, small_dataset_dir.name, tmp_path, video_aggregation=how,
        eval_batch_size=121 * 100)  # 100 windows a batch (121 items with [PAD]): several batches of whole videos
    assert videos.windows_per_batch == 100 and len(videos) > 1
    batches = list(videos)
    assert sum(len(b[1]) for b in batches) == len(np.unique(test_data._dataset.inter_feat["window_id"].numpy()))
    assert all(len(window_video) <= 100 or int(window_video.max()) == 0 for _, window_video, *_ in batches)
    assert videos.history_item.size == 0  # split by video: no test video has train or valid items
    test_videos = {line.split("\t")[0].split("_")[0] for line in (small_dataset_dir.instance_dir / (
        f"{small_dataset_dir.name}.test.inter")).read_text().splitlines()[1:]}
    got, _ = _check_against_numpy(config, test_data, videos, model, trainer, how)
    assert set(got.ids) == test_videos


def test_a_videos_history_is_masked_as_recbole_masks_a_windows(small_dataset_dir, tmp_path):
    from dataset_conversion.convert import convert_raw_dataset

    name = "pose-obe-small-window-split"
    folder = convert_raw_dataset(small_dataset_dir.raw_dir, tmp_path / "data", name, split_protocol="window",
                                 cache_dir=small_dataset_dir.cache_dir)
    # every window carries its video's items: drop one item of each test video from its test rows, so that the
    # video has it in train/valid only (its history)
    test_file = folder / f"{name}.test.inter"
    header, *rows = test_file.read_text().splitlines()
    first_item = {}
    for row in rows:
        first_item.setdefault(row.split("\t")[0].split("_")[0], row.split("\t")[1])
    kept = [row for row in rows if row.split("\t")[1] != first_item[row.split("\t")[0].split("_")[0]]]
    assert len(kept) < len(rows)
    test_file.write_text("\n".join([header, *kept]) + "\n")
    config, train_valid, test_data, videos, model, trainer = _prepared("Random", tmp_path / "data", name, tmp_path)
    assert videos.history_item.size > 0  # windows of a test video are in train and valid too
    _, history = _check_against_numpy(config, test_data, videos, model, trainer, "mean", train_valid)
    assert sum(len(items) for items in history.values()) == videos.history_item.size


# ------------------------------------------------------------------------------------ run_recbole


def _check_per_unit(result, protocols):
    per_unit = result["test_per_unit"]
    assert set(per_unit) == set(protocols)
    figures = {"window": result["test_result"], "video": result["test_video_result"]}
    for protocol in protocols:
        units, figure = per_unit[protocol], figures[protocol]
        assert set(units) == {"ids"} | set(figure) and set(figure) == METRICS
        assert len(set(units["ids"])) == len(units["ids"]) > 0
        for metric, value in figure.items():
            assert len(units[metric]) == len(units["ids"])
            assert math.isfinite(value) and 0.0 <= value <= 1.0
            assert abs(np.mean(units[metric]) - value) <= 1e-6, (protocol, metric)


@pytest.mark.parametrize("model_name", ["PoseRec", "FM"])
def test_both_protocols_through_run_recbole(model_name, small_dataset_dir, tmp_path):
    settings = _settings(small_dataset_dir.data_path, tmp_path, epochs=1, metric_decimal_place=12,
                         train_batch_size=2048)
    if model_name == "PoseRec":  # a small network: this test is about the evaluation, not the training
        settings.update(gcn_layers=1, temporal_kernel=3, embedding_size=32)
    result = run_recbole(model=model_name, dataset=small_dataset_dir.name, config_dict=settings, saved=True,
                         command_line=[])
    _check_per_unit(result, ("window", "video"))
    windows = result["test_per_unit"]["window"]["ids"]
    videos = result["test_per_unit"]["video"]["ids"]
    assert sorted({w.split("_")[0] for w in windows}) == sorted(videos)  # converter's tokens: <video>_w<start>
    assert result["test_video_seconds"] > 0 and result["config"]["video_aggregation"] == "mean"
    if model_name == "FM":  # loaded for the evaluation only, never a feature
        assert "video_id" in result["config"]["load_col"]["user"]
        assert "video_id" in result["config"]["exclude_feature_fields"]


def test_window_protocol_only_and_the_default_rounding(small_dataset_dir, tmp_path):
    settings = _settings(small_dataset_dir.data_path, tmp_path, eval_protocols=["window"])
    result = run_recbole(model="Pop", dataset=small_dataset_dir.name, config_dict=settings, saved=False,
                         command_line=[])
    assert result["test_video_result"] is None and result["test_video_seconds"] is None
    assert set(result["test_per_unit"]) == {"window"}
    for metric, value in result["test_result"].items():  # metric_decimal_place 4: the mean, rounded
        assert round(float(np.mean(result["test_per_unit"]["window"][metric])), 4) == pytest.approx(value, abs=1e-12)
    assert result["config"]["load_col"].get("user") is None  # Pop reads no user file without the video level


def test_no_protocol_evaluates_validation_only(small_dataset_dir, tmp_path):
    """eval_protocols: [] (a search selecting on validation): no test figure is computed."""
    settings = _settings(small_dataset_dir.data_path, tmp_path, eval_protocols=[])
    result = run_recbole(model="Pop", dataset=small_dataset_dir.name, config_dict=settings, saved=False,
                         command_line=[])
    assert result["test_result"] is None and result["test_video_result"] is None
    assert result["test_per_unit"] == {} and result["test_seconds"] is None
    assert result["best_valid_result"]["ndcg@10"] >= 0


@pytest.mark.parametrize("key, value, message", [
    ("eval_protocols", ["window", "frame"], "unknown protocol 'frame'"),
    ("eval_protocols", "window", "eval_protocols is a list"),
    ("eval_protocols", ["video", "video"], "listed twice"),
    ("video_aggregation", "median", "unknown aggregation 'median'"),
])
def test_bad_evaluation_settings_are_one_line_errors(key, value, message, small_dataset_dir, tmp_path):
    with pytest.raises(DataError, match=message) as caught:
        prepare_config("Pop", small_dataset_dir.name, command_line=[],
                       config_dict=_settings(small_dataset_dir.data_path, tmp_path, **{key: value}))
    assert "\n" not in str(caught.value)
