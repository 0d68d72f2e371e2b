"""The positive rule (docs/evaluation.md): with ``benchmark_filename`` the plug-in's dataset classes apply the
dataset YAML's ``val_interval`` (score > 0) to every split, as RecBole does for one ``.inter`` file.

The crafted dataset (tiny raw data, converted by the real converter; 3 windows a video) makes the rule visible:

* item ``X`` is the positive of 5 train videos (score 0 in the sixth): the plug-in's Pop ranks it first;
* item ``Y`` is annotated in every train video, always with a score <= 0: it must not count as popular;
* in test video ``T0`` ``X`` has score -0.3, so Pop's first item is not a hit there; ``B`` (rank 2) and ``C``
  (never in train) are its positives. In test video ``T1`` ``X``, ``D`` (rank 3) and ``E`` are positives.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import tiny_raw_tables, write_tiny_raw
from dataset_conversion.convert import DEFAULT_SEED, SPLITS, convert_raw_dataset, stratified_split
from dataset_conversion.errors import DataError
from test_baselines import _dataset_settings

NAME = "posrule"
X, Y, B, C, D, E = "i000", "i001", "i002", "i003", "i004", "i005"
TOPK = [1, 2, 3]
# Pop counts every item of its training batches, sampled negatives included (Pop.yaml samples one per row):
# without sampling its counts are exactly the train split's rows, so the ranking below is known
POP_COUNTS_ROWS = {"train_neg_sample_args": None}


def _annotations(videos) -> tuple[list, dict]:
    """The crafted annotations (see the module docstring) for ``videos``, and the videos of each role."""
    split = stratified_split(np.array([row[2] for row in videos]), DEFAULT_SEED)
    ids = {part: [row[0] for row, s in zip(videos, split) if s == part] for part in SPLITS}
    assert [len(ids[part]) for part in SPLITS] == [6, 2, 2]
    rows = []
    for k, video in enumerate(ids["train"]):
        rows += [[video, X, "0.800" if k < 5 else "0.000"], [video, Y, "-0.500"], [video, B if k < 4 else D, "0.600"]]
    for video in ids["valid"]:
        rows += [[video, X, "0.500"], [video, B, "0.500"], [video, Y, "-0.200"]]
    t0, t1 = ids["test"]
    rows += [[t0, X, "-0.300"], [t0, B, "0.700"], [t0, C, "0.400"]]
    rows += [[t1, X, "0.900"], [t1, D, "0.200"], [t1, E, "0.500"]]
    return rows, {"train": ids["train"], "valid": ids["valid"], "T0": t0, "T1": t1}


@pytest.fixture(scope="module")
def crafted(tmp_path_factory, text_cache_dir):
    """(data_path, roles): the crafted raw data converted into ``data_path / NAME``."""
    tables = tiny_raw_tables(n_videos=10, n_items=12)
    tables["annotations"], roles = _annotations(tables["videos"])
    root = tmp_path_factory.mktemp("positive-rule")
    write_tiny_raw(root / "raw", tables)
    convert_raw_dataset(root / "raw", root / "data", NAME, cache_dir=text_cache_dir)
    return root / "data", roles


def _split_file(data_path: Path, part: str) -> pd.DataFrame:
    frame = pd.read_csv(data_path / NAME / f"{NAME}.{part}.inter", sep="\t")
    return frame.rename(columns=lambda c: c.split(":")[0])


def _config(model, data_path, **extra):
    from recbole_poserec.config import Config

    settings = _dataset_settings(data_path, topk=TOPK, metrics=["Recall", "NDCG"], valid_metric="NDCG@2", **extra)
    return Config(model=model, dataset=NAME, config_dict=settings, command_line=[])


def _prepared(model, data_path, **extra):
    """(config, dataset, train, valid, test loaders) through the plug-in's dataset and data preparation."""
    from recbole_poserec.data.dataloader import data_preparation
    from recbole_poserec.data.dataset import create_dataset

    config = _config(model, data_path, **extra)
    dataset = create_dataset(config)
    return (config, dataset, *data_preparation(config, dataset))


def _pairs(dataset, inter) -> set:
    """The (window token, item token) pairs of an interaction table of ``dataset``."""
    windows = dataset.id2token(dataset.uid_field, inter[dataset.uid_field].numpy())
    items = dataset.id2token(dataset.iid_field, inter[dataset.iid_field].numpy())
    return set(zip(windows.tolist(), items.tolist()))


def _file_pairs(frame: pd.DataFrame) -> set:
    return set(zip(frame["window_id"], frame["item_id"]))


@pytest.fixture(scope="module")
def pop_data(crafted, tmp_path_factory):
    data_path, _ = crafted
    return _prepared("Pop", data_path, checkpoint_dir=str(tmp_path_factory.mktemp("saved")), **POP_COUNTS_ROWS)


def test_every_split_is_exactly_the_positive_rows_of_its_file(crafted, pop_data):
    data_path, _ = crafted
    _, dataset, *loaders = pop_data
    for part, loader in zip(SPLITS, loaders):
        frame = _split_file(data_path, part)
        assert (frame["score"] <= 0).any()  # the crafted files have non-positive rows in every split
        positives = frame[frame["score"] > 0]
        split = loader._dataset.inter_feat
        assert len(split) == len(positives)  # file_size_list recounted: no row moved to another split
        assert _pairs(dataset, split) == _file_pairs(positives)
        assert (split["score"] > 0).all() and (split["label"] == 1).all()
    assert dataset.file_size_list == [len(loader._dataset) for loader in loaders]


def test_rows_a_filter_reorders_go_back_to_their_files(crafted, tmp_path):
    """RecBole's rm_dup_inter sorts the rows by TIME_FIELD first (here: the score), mixing the files."""
    data_path, _ = crafted
    _, dataset, *loaders = _prepared("Pop", data_path, checkpoint_dir=str(tmp_path), TIME_FIELD="score",
                                     rm_dup_inter="first")
    for part, loader in zip(SPLITS, loaders):
        positives = _split_file(data_path, part).query("score > 0")
        assert _pairs(dataset, loader._dataset.inter_feat) == _file_pairs(positives)
        assert len(loader._dataset) == len(positives)


def test_the_evaluators_ground_truth_is_the_positive_rows(crafted, pop_data):
    data_path, _ = crafted
    _, dataset, _, valid, test = pop_data
    for part, loader in (("valid", valid), ("test", test)):
        positives = _split_file(data_path, part).query("score > 0")
        truth = set()
        for uid in np.unique(loader._dataset.inter_feat[dataset.uid_field].numpy()):
            window = dataset.id2token(dataset.uid_field, uid)
            truth |= {(window, item) for item in dataset.id2token(dataset.iid_field,
                                                                    loader.uid2positive_item[uid].numpy())}
        assert truth == _file_pairs(positives)


def test_a_nonpositive_item_ranked_first_is_no_hit(crafted, tmp_path):
    from recbole_poserec.quick_start import run_recbole

    data_path, roles = crafted
    settings = _dataset_settings(data_path, topk=TOPK, metrics=["Recall", "NDCG"], valid_metric="NDCG@2",
                                 checkpoint_dir=str(tmp_path), **POP_COUNTS_ROWS)
    result = run_recbole(model="Pop", dataset=NAME, config_dict=settings, saved=False, command_line=[])
    # Pop's order from the train positives only: X (15 rows), B (12), D (6); Y's 18 non-positive rows count 0.
    # T0 (3 windows): positives {B, C}, X at rank 1 is no hit; T1 (3 windows): positives {X, D, E}.
    dcg = [1 / math.log2(rank + 1) for rank in (1, 2, 3)]
    expected = {
        "recall@1": (0 + 1 / 3) / 2,
        "recall@2": (1 / 2 + 1 / 3) / 2,
        "recall@3": (1 / 2 + 2 / 3) / 2,
        "ndcg@1": (0 + 1) / 2,
        "ndcg@2": (dcg[1] / (dcg[0] + dcg[1]) + dcg[0] / (dcg[0] + dcg[1])) / 2,
        "ndcg@3": (dcg[1] / (dcg[0] + dcg[1]) + (dcg[0] + dcg[2]) / sum(dcg)) / 2,
    }
    for metric, value in expected.items():
        assert result["test_result"][metric] == pytest.approx(value, abs=1e-4), metric


def test_pop_ranks_the_trap_first_and_ignores_nonpositive_train_rows(crafted, pop_data):
    import torch

    from recbole_poserec.utils import get_model

    config, dataset, train, _, _ = pop_data
    model = get_model("Pop")(config, train._dataset)
    for batch in train:
        model.calculate_loss(batch)
    order = torch.argsort(model.item_cnt.squeeze(1), descending=True)[:3]
    counts = dict(zip(dataset.id2token(dataset.iid_field, order.numpy()).tolist(),
                      model.item_cnt.squeeze(1)[order].tolist()))
    assert counts == {X: 15, B: 12, D: 6}  # 3 windows a video; X's score-0 video and all of Y's rows dropped
    assert int(model.item_cnt[dataset.token2id(dataset.iid_field, Y)]) == 0


def test_nonpositive_train_rows_as_known_negatives(crafted, pop_data, tmp_path):
    data_path, _ = crafted
    _, default_dataset, _, default_valid, default_test = pop_data
    config, dataset, train, valid, test = _prepared("FM", data_path, checkpoint_dir=str(tmp_path),
                                                    train_nonpositive_as_negatives=True, train_neg_sample_args=None)
    frame = _split_file(data_path, "train")
    split = train._dataset.inter_feat
    assert len(split) == len(frame)  # every train row, the non-positive ones with label 0
    assert _pairs(dataset, split[split["label"] == 0]) == _file_pairs(frame[frame["score"] <= 0])
    assert _pairs(dataset, split[split["label"] == 1]) == _file_pairs(frame[frame["score"] > 0])
    # the known negatives reach FM's pointwise loss with label 0 (no sampled negatives relabel them)
    batch_labels = np.concatenate([batch["label"].numpy() for batch in train])
    assert sorted(batch_labels.tolist()) == sorted(split["label"].numpy().tolist())
    for loader, reference in ((valid, default_valid), (test, default_test)):
        assert _pairs(dataset, loader._dataset.inter_feat) == _pairs(default_dataset, reference._dataset.inter_feat)
        assert (loader._dataset.inter_feat["label"] == 1).all()


@pytest.mark.parametrize("model, extra, needle", [
    ("Pop", {}, "not Pop"),
    ("FM", {}, "with sampled negatives"),
    ("FM", {"train_neg_sample_args": None, "benchmark_filename": None}, "needs benchmark_filename"),
    # not a boolean: the plug-in Config's type check refuses it first
    ("FM", {"train_neg_sample_args": None, "train_nonpositive_as_negatives": "yes"}, "is a boolean"),
])
def test_known_negatives_are_refused_where_a_model_would_learn_them_as_positives(crafted, model, extra, needle):
    from recbole_poserec.data.dataset import create_dataset

    data_path, _ = crafted
    extra = {"train_nonpositive_as_negatives": True, **extra}
    with pytest.raises(DataError, match=needle) as caught:
        create_dataset(_config(model, data_path, **extra))
    assert "train_nonpositive_as_negatives" in str(caught.value) and "\n" not in str(caught.value)


def _copy_with(crafted, tmp_path, part, edit) -> Path:
    """A copy of the crafted dataset whose ``part`` file is rewritten by ``edit(lines) -> lines``."""
    import shutil

    data_path, _ = crafted
    shutil.copytree(data_path / NAME, tmp_path / NAME)
    path = tmp_path / NAME / f"{NAME}.{part}.inter"
    path.write_text("".join(edit(path.read_text().splitlines(keepends=True))))
    return tmp_path


def test_a_label_that_contradicts_the_score_is_a_one_line_error(crafted, tmp_path):
    from recbole_poserec.data.dataset import create_dataset

    positive_row = int(np.flatnonzero(_split_file(crafted[0], "valid")["score"] > 0)[1]) + 1  # 1-based data row

    def zero_label(lines):
        cells = lines[positive_row].rstrip("\n").split("\t")
        cells[3] = "0"
        return lines[:positive_row] + ["\t".join(cells) + "\n"] + lines[positive_row + 1:]

    data_path = _copy_with(crafted, tmp_path, "valid", zero_label)
    with pytest.raises(DataError) as caught:
        create_dataset(_config("Pop", data_path))
    message = str(caught.value)
    assert message.startswith(f"{data_path / NAME / f'{NAME}.valid.inter'}, row {positive_row}, field 'label': "
                              f"label 0.0 on a positive")
    assert "\n" not in message


def test_a_split_without_positives_is_a_one_line_error(crafted, tmp_path):
    from recbole_poserec.data.dataset import create_dataset

    def no_positive(lines):
        rows = [line.split("\t") for line in lines[1:]]
        return lines[:1] + ["\t".join([w, i, "-0.1", "0\n"]) for w, i, *_ in rows]

    data_path = _copy_with(crafted, tmp_path, "test", no_positive)
    with pytest.raises(DataError, match=r"posrule\.test\.inter: no row is left .* the split would be empty"):
        create_dataset(_config("Pop", data_path))
