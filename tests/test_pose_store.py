"""The binary pose store (recbole_poserec.data.pose_store) behind the plug-in's create_dataset: the same dataset
with and without it, used on the second load, rebuilt when stale or damaged, harmless when it cannot be written."""

from __future__ import annotations

import json
import logging
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from recbole.data.dataset import Dataset, SequentialDataset
from recbole.utils import ModelType

from dataset_conversion.convert import convert_raw_dataset
from recbole_poserec.config import Config
from recbole_poserec.data.dataset import StoredDataset, create_dataset, dataset_class
from recbole_poserec.data.pose_store import STORED_SUFFIXES, store_files, store_paths

from conftest import copy_converted


@pytest.fixture
def data_path(small_dataset_dir, tmp_path) -> Path:
    """A private copy of the small instance-level dataset (the store is written beside its files)."""
    root = tmp_path / "data"
    copy_converted(small_dataset_dir.instance_dir, root / small_dataset_dir.name)
    return root


@pytest.fixture
def parses(monkeypatch) -> list[str]:
    """The sources (inter, user, item) whose text RecBole's ``Dataset._load_feat`` parses, in call order."""
    calls = []
    original = Dataset._load_feat

    def counted(self, filepath, source):
        calls.append(getattr(source, "value", str(source)))
        return original(self, filepath, source)

    monkeypatch.setattr(Dataset, "_load_feat", counted)
    return calls


def config_for(data_path: Path, name: str, model: str = "PoseRec", **settings) -> Config:
    return Config(model=model, dataset=name, command_line=[],
                  config_dict={"data_path": str(data_path), "checkpoint_dir": str(data_path.parent / "saved"),
                               "state": "WARNING", **settings})


def feature_files(data_path: Path, name: str) -> list[Path]:
    return [data_path / name / f"{name}.{suffix}" for suffix in STORED_SUFFIXES]


def all_store_files(data_path: Path, name: str) -> list[Path]:
    return [path for file in feature_files(data_path, name) for path in store_files(file)]


def assert_same_interaction(a, b) -> None:
    assert list(a.interaction) == list(b.interaction)
    for field in a.interaction:
        assert a[field].dtype == b[field].dtype and torch.equal(a[field], b[field]), field


def assert_same_dataset(a, *others) -> None:
    """The same field properties, feature tables and train/valid/test interactions (after ``build``, which
    each dataset goes through once)."""
    splits_a = None
    for b in others:
        for table in ("field2type", "field2source", "field2seqlen", "field2bucketnum", "field2id_token"):
            assert list(getattr(a, table)) == list(getattr(b, table)), table
            for field, value in getattr(a, table).items():
                other = getattr(b, table)[field]
                same = np.array_equal(value, other) if isinstance(value, np.ndarray) else value == other
                assert same, (table, field)
        splits_a = splits_a or a.build()
        splits_b = b.build()
        assert_same_interaction(a.user_feat, b.user_feat)
        assert_same_interaction(a.item_feat, b.item_feat)
        assert len(splits_a) == len(splits_b) == 3
        for part_a, part_b in zip(splits_a, splits_b):
            assert_same_interaction(part_a.inter_feat, part_b.inter_feat)


EVERY_COLUMN = {"load_col": {"inter": "*", "user": "*", "item": "*"}}  # pose_pca, group, factors_pca too


@pytest.mark.parametrize("settings", [{}, EVERY_COLUMN], ids=["PoseRec's columns", "every column"])
def test_the_dataset_is_the_same_with_and_without_the_store(settings, data_path, small_dataset_dir, parses):
    name = small_dataset_dir.name
    plain = create_dataset(config_for(data_path, name, pose_store=False, **settings))
    assert all_store_files(data_path, name) == []  # pose_store: False writes nothing
    assert type(plain) is StoredDataset and isinstance(plain, Dataset)

    first = create_dataset(config_for(data_path, name, **settings))
    written = {path: path.stat().st_mtime_ns for path in all_store_files(data_path, name)}
    user_store, _ = store_paths(data_path / name / f"{name}.user", "pose")
    assert user_store in written
    del parses[:]
    second = create_dataset(config_for(data_path, name, **settings))
    assert parses == ["inter"] * 3  # the .user and .item files came from the store, not their text
    assert {path: path.stat().st_mtime_ns for path in all_store_files(data_path, name)} == written  # not rewritten
    assert_same_dataset(plain, first, second)


def test_the_store_records_its_source_and_shape(data_path, small_dataset_dir):
    name = small_dataset_dir.name
    user_file = data_path / name / f"{name}.user"
    create_dataset(config_for(data_path, name))
    array_path, record_path = store_paths(user_file, "pose")
    record = json.loads(record_path.read_text(encoding="utf-8"))
    rows = sum(1 for _ in open(user_file, encoding="utf-8")) - 1
    assert record["source"]["name"] == user_file.name and record["source"]["size"] == user_file.stat().st_size
    assert record["source"]["mtime_ns"] == user_file.stat().st_mtime_ns and len(record["source"]["sha256"]) == 64
    assert record["field"] == "pose" and record["type"] == "float_seq"
    assert record["array"]["shape"] == [rows, 1320] and record["array"]["dtype"] == "<f8"
    assert np.load(array_path, allow_pickle=False).shape == (rows, 1320)


def first_pose_value(user_file: Path) -> tuple[str, str]:
    """(the first window's first pose value as written, the same with one digit changed, equally long)."""
    header, first = user_file.read_text(encoding="utf-8").split("\n", 2)[:2]
    column = header.split("\t").index("pose:float_seq")
    value = first.split("\t")[column].split(" ")[0]
    digit = next(i for i in range(len(value) - 1, -1, -1) if value[i].isdigit())
    changed = value[:digit] + str((int(value[digit]) + 1) % 10) + value[digit + 1:]
    return value, changed


def first_window_pose(dataset, user_file: Path) -> float:
    """The first pose value of the .user file's first window, as the dataset holds it."""
    token = user_file.read_text(encoding="utf-8").split("\n", 2)[1].split("\t")[0]
    feat = dataset.user_feat
    row = feat[feat[dataset.uid_field] == dataset.token2id(dataset.uid_field, token)]
    return float(row["pose"].iloc[0][0])


def test_a_changed_user_file_is_parsed_again(data_path, small_dataset_dir, parses):
    name = small_dataset_dir.name
    user_file = data_path / name / f"{name}.user"
    create_dataset(config_for(data_path, name))
    value, changed = first_pose_value(user_file)
    text = user_file.read_text(encoding="utf-8")
    header, first, rest = text.split("\n", 2)
    before = user_file.stat()
    user_file.write_text("\n".join([header, first.replace(value, changed, 1), rest]), encoding="utf-8")
    os.utime(user_file, ns=(before.st_atime_ns, before.st_mtime_ns))  # same size and mtime: only the content differs
    assert user_file.stat().st_size == before.st_size

    del parses[:]
    dataset = create_dataset(config_for(data_path, name))
    assert "user" in parses
    assert first_window_pose(dataset, user_file) == float(changed) != float(value)
    del parses[:]
    again = create_dataset(config_for(data_path, name))  # the rebuilt store holds the new value
    assert "user" not in parses and first_window_pose(again, user_file) == float(changed)


def test_a_touched_user_file_keeps_its_store(data_path, small_dataset_dir, parses):
    name = small_dataset_dir.name
    user_file = data_path / name / f"{name}.user"
    create_dataset(config_for(data_path, name))
    os.utime(user_file, ns=(1, user_file.stat().st_mtime_ns + 10**9))  # new mtime, same bytes: the hash decides
    del parses[:]
    create_dataset(config_for(data_path, name))
    assert "user" not in parses


def damage(kind: str, array_path: Path, record_path: Path) -> None:
    if kind == "truncated array":
        data = array_path.read_bytes()
        array_path.write_bytes(data[: len(data) // 2])
    elif kind == "array replaced":
        np.save(array_path, np.zeros((3, 1320)))
    elif kind == "record not json":
        record_path.write_text("{not json", encoding="utf-8")
    elif kind == "record of another shape":
        record = json.loads(record_path.read_text(encoding="utf-8"))
        record["array"]["shape"] = [1, 1320]
        record_path.write_text(json.dumps(record), encoding="utf-8")


@pytest.mark.parametrize("kind", ["truncated array", "array replaced", "record not json", "record of another shape"])
def test_a_damaged_store_is_rebuilt(kind, data_path, small_dataset_dir, parses):
    name = small_dataset_dir.name
    reference = create_dataset(config_for(data_path, name, pose_store=False))
    create_dataset(config_for(data_path, name))
    damage(kind, *store_paths(data_path / name / f"{name}.user", "pose"))
    del parses[:]
    rebuilt = create_dataset(config_for(data_path, name))
    assert "user" in parses
    del parses[:]
    again = create_dataset(config_for(data_path, name))
    assert "user" not in parses  # the store was rewritten
    assert_same_dataset(reference, rebuilt, again)


def test_a_store_that_cannot_be_written_only_costs_speed(data_path, small_dataset_dir, parses, caplog):
    name = small_dataset_dir.name
    reference = create_dataset(config_for(data_path, name, pose_store=False))
    blocked, _ = store_paths(data_path / name / f"{name}.user", "pose")
    blocked.mkdir()  # a directory where the array would go: the write fails, even for root
    with caplog.at_level(logging.WARNING):
        dataset = create_dataset(config_for(data_path, name))
    warnings = [record for record in caplog.records if "pose store" in record.getMessage()]
    assert len(warnings) == 1 and str(blocked) in warnings[0].getMessage()
    assert "\n" not in warnings[0].getMessage()
    assert_same_dataset(reference, dataset)


def test_a_read_only_folder_still_loads(data_path, small_dataset_dir, caplog):
    name = small_dataset_dir.name
    folder = data_path / name
    reference = create_dataset(config_for(data_path, name, pose_store=False))
    folder.chmod(0o555)
    try:
        probe = folder / "probe"
        try:
            probe.touch()
        except PermissionError:
            pass
        else:
            probe.unlink()
            pytest.skip("chmod does not stop this user (root) from writing")
        with caplog.at_level(logging.WARNING):
            dataset = create_dataset(config_for(data_path, name))
        assert sum("pose store" in record.getMessage() for record in caplog.records) == 1
        assert all_store_files(data_path, name) == []
        assert_same_dataset(reference, dataset)
    finally:
        folder.chmod(0o755)


def test_reconverting_over_a_folder_with_a_store(small_dataset_dir, tmp_path, parses):
    name = small_dataset_dir.name
    convert = dict(cache_dir=small_dataset_dir.cache_dir)
    convert_raw_dataset(small_dataset_dir.raw_dir, tmp_path, name, **convert)
    create_dataset(config_for(tmp_path, name))
    assert all_store_files(tmp_path, name)
    old_windows = sum(1 for _ in open(tmp_path / name / f"{name}.user", encoding="utf-8")) - 1

    # the store files do not stop the converter from replacing its own output (it recognises <name>.meta.json)
    convert_raw_dataset(small_dataset_dir.raw_dir, tmp_path, name, step=3, **convert)
    new_windows = sum(1 for _ in open(tmp_path / name / f"{name}.user", encoding="utf-8")) - 1
    assert new_windows > old_windows
    del parses[:]
    dataset = create_dataset(config_for(tmp_path, name))
    assert "user" in parses and len(dataset.user_feat) == new_windows + 1  # and RecBole's padding row


def test_the_class_is_recboles_choice():
    assert dataset_class({"model": "PoseRec", "MODEL_TYPE": ModelType.GENERAL}) is StoredDataset
    sequential = dataset_class({"model": "GRU4Rec", "MODEL_TYPE": ModelType.SEQUENTIAL})
    assert issubclass(sequential, SequentialDataset) and sequential.__name__ == "StoredSequentialDataset"
    assert dataset_class({"model": "KSR", "MODEL_TYPE": ModelType.SEQUENTIAL}).__name__ == "StoredKSRDataset"
    assert pickle.loads(pickle.dumps(sequential)) is sequential  # RecBole's save_dataloaders pickles datasets
