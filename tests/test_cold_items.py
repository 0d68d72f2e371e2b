"""The cold-item protocol: the converter's split (``--cold-items``), the evaluation of a checkpoint on the
cold items' positives alone, and ``python -m poserec_experiments.cold_items`` end to end."""

from __future__ import annotations

import filecmp
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cli_assertions import assert_one_error_line
from conftest import copy_converted
from dataset_conversion.cold_items import COLD_SPLIT, apply_cold_items, choose_cold_items
from dataset_conversion.convert import convert_raw_dataset

REPO = Path(__file__).resolve().parents[1]
DATASET_YAML = str(REPO / "properties" / "dataset" / "pose-obe.yaml")
FRACTION = 0.3
NAME = "pose-obe-cold30"  # poserec_experiments.cold_items.dataset_name(0.3): the command reuses this conversion


def _read(folder: Path, name: str, part: str) -> pd.DataFrame:
    frame = pd.read_csv(folder / f"{name}.{part}.inter", sep="\t", dtype=str, keep_default_na=False)
    return frame.rename(columns=lambda c: c.split(":")[0])


@pytest.fixture(scope="module")
def cold_data(tmp_path_factory, small_dataset_dir):
    """``small_raw_dir`` converted with --cold-items 0.3 into ``<data path>/cold-items/<NAME>``."""
    data_path = tmp_path_factory.mktemp("cold-data")
    (data_path / "raw-synthetic").symlink_to(small_dataset_dir.raw_dir, target_is_directory=True)
    folder = convert_raw_dataset(small_dataset_dir.raw_dir, data_path / "cold-items", NAME,
                                 cache_dir=small_dataset_dir.cache_dir, cold_items=FRACTION)
    return data_path, folder


# ------------------------------------------------------------------------------------------ converter


def test_cold_split_integrity(cold_data, small_dataset_dir):
    _, folder = cold_data
    warm_dir, warm = small_dataset_dir.instance_dir, small_dataset_dir.name
    meta = json.loads((folder / f"{NAME}.meta.json").read_text())["cold_items"]
    cold = set(meta["item_ids"])
    assert meta["fraction"] == FRACTION and meta["seed"] == 2022 and meta["file"] == f"{NAME}.{COLD_SPLIT}.inter"
    assert len(cold) == meta["count"] == max(1, round(FRACTION * meta["eligible_items"])) > 0
    for part in ("train", "valid"):  # no cold item in training or validation; only their rows dropped
        rows, before = _read(folder, NAME, part), _read(warm_dir, warm, part)
        assert not rows["item_id"].isin(cold).any()
        assert rows.equals(before[~before["item_id"].isin(cold)].reset_index(drop=True))
        assert meta["dropped_rows"][part] == int(before["item_id"].isin(cold).sum())
    assert meta["dropped_rows"]["train"] > 0
    test, test_cold = _read(folder, NAME, "test"), _read(folder, NAME, COLD_SPLIT)
    assert test.equals(_read(warm_dir, warm, "test"))  # the test file keeps all its rows
    assert test_cold.equals(test[test["item_id"].isin(cold)].reset_index(drop=True))
    positives = test_cold[test_cold["label"].astype(float) > 0]
    assert set(positives["item_id"]) == cold  # every cold item has a test positive (the eligibility rule)
    assert meta["test_cold_positives"] == len(positives) and meta["test_cold_windows"] == positives["window_id"].nunique()
    for suffix in ("user", "item"):  # the catalogue keeps the cold items; features unchanged
        assert filecmp.cmp(folder / f"{NAME}.{suffix}", warm_dir / f"{warm}.{suffix}", shallow=False)


def test_zero_fraction_writes_the_same_files(small_dataset_dir, tmp_path):
    folder = convert_raw_dataset(small_dataset_dir.raw_dir, tmp_path, small_dataset_dir.name,
                                 cache_dir=small_dataset_dir.cache_dir, cold_items=0.0)
    written = sorted(p.name for p in folder.iterdir())
    assert f"{small_dataset_dir.name}.{COLD_SPLIT}.inter" not in written
    for name in written:
        assert filecmp.cmp(folder / name, small_dataset_dir.instance_dir / name, shallow=False), name


def _interactions(n_items=60, n_windows=40, seed=0) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    items = np.array([f"i{k:02d}" for k in range(n_items)], dtype=object)
    groups = np.array(["sports", "clothes", "others"] * (n_items // 3), dtype=object)
    rows = [(f"w{w}", items[i], split, float(rng.random() < 0.7))
            for w in range(n_windows) for split in [("train", "valid", "test")[w % 3]]
            for i in rng.choice(n_items, 5, replace=False)]
    inter = pd.DataFrame(rows, columns=["window_id", "split_placeholder", "split", "label"]).rename(
        columns={"split_placeholder": "item_id"})
    return inter.assign(score=inter["label"] - 0.5), items, groups


def test_choice_is_seeded_reproducible_and_stratified():
    inter, items, groups = _interactions()
    first = choose_cold_items(inter, items, groups, 0.25, seed=2022)
    assert list(first) == list(choose_cold_items(inter, items, groups, 0.25, seed=2022))
    assert list(first) != list(choose_cold_items(inter, items, groups, 0.25, seed=2023))
    eligible = set(inter.loc[(inter["split"] == "test") & (inter["label"] > 0), "item_id"])
    assert set(first) <= eligible and len(first) == round(0.25 * len(eligible))
    chosen_groups = pd.Series(groups[np.isin(items, first)]).value_counts()
    eligible_groups = pd.Series(groups[np.isin(items, list(eligible))]).value_counts()
    assert all(abs(chosen_groups.get(g, 0) - 0.25 * n) < 1 for g, n in eligible_groups.items())  # largest remainder
    assert len(choose_cold_items(inter, items, groups, 0.0, seed=2022)) == 0
    split = apply_cold_items(inter, items, groups, 0.25, seed=2022)
    assert not split.inter.loc[split.inter["split"] != "test", "item_id"].isin(first).any()


@pytest.mark.parametrize("value", ["1", "1.5", "-0.1", "nan", "abc"])
def test_bad_cold_fraction_is_one_usage_line(value, small_dataset_dir, tmp_path, capsys):
    from dataset_conversion.__main__ import main

    code = main(["convert", "--raw", str(small_dataset_dir.raw_dir), "--out", str(tmp_path / "out"), "--name", "x",
                 "--cold-items", value])
    assert code == 2 and not (tmp_path / "out").exists()
    assert_one_error_line(capsys.readouterr().err, "argument --cold-items", "[0, 1)", value)


# ----------------------------------------------------------------------------------------- evaluation


def _settings(data_root: Path, tmp_path: Path, **extra) -> dict:
    return {"data_path": str(data_root), "checkpoint_dir": str(tmp_path / "saved"), "state": "ERROR",
            "show_progress": False, "log_wandb": False, "epochs": 1, "eval_protocols": ["window"],
            "metric_decimal_place": 12} | extra


def test_poserec_cold_evaluation_end_to_end(cold_data, tmp_path):
    from recbole_poserec.evaluation.cold import evaluate_cold_items
    from recbole_poserec.quick_start import run_recbole

    data_path, folder = cold_data
    settings = _settings(data_path / "cold-items", tmp_path, gcn_layers=1, temporal_kernel=3, embedding_size=32)
    run = run_recbole(model="PoseRec", dataset=NAME, config_file_list=[DATASET_YAML], config_dict=settings,
                      saved=True, command_line=[])
    cold = evaluate_cold_items(run["checkpoint"], "PoseRec", NAME, [DATASET_YAML], settings)
    meta = json.loads((folder / f"{NAME}.meta.json").read_text())["cold_items"]
    assert len(cold.windows.ids) == meta["test_cold_windows"] and cold.positives == meta["test_cold_positives"]
    assert set(cold.result) == set(run["test_result"])
    for metric, value in cold.result.items():  # RecBole's figure = the mean over the cold windows
        assert 0.0 <= value <= 1.0 and value == pytest.approx(float(np.mean(cold.windows.values[metric])), abs=1e-9)

    # The same path on a test_cold file that lists the whole test split gives the run's own test figures:
    # windows, items and the checkpoint's item-indexed weights are aligned as in training.
    whole = data_path / "whole-test"
    whole.mkdir()
    copy_converted(folder, whole / NAME)  # without the pose store the first run wrote
    shutil.copyfile(folder / f"{NAME}.test.inter", whole / NAME / f"{NAME}.{COLD_SPLIT}.inter")
    again = evaluate_cold_items(run["checkpoint"], "PoseRec", NAME, [DATASET_YAML], settings | {"data_path": str(whole)})
    assert again.result == pytest.approx(run["test_result"], abs=1e-9)


def test_models_that_cannot_rank_unseen_items_are_declared(cold_data, tmp_path):
    from recbole_poserec.evaluation.cold import CANNOT_RANK, cold_item_support, content_only_settings, \
        evaluate_cold_items

    for model in ("Pop", "NeuMF", "PoseKNN", "FM", "DeepFM", "AFN", "FRNet"):
        assert not cold_item_support(model).ranks_unseen_items and cold_item_support(model).reason
    for model in ("FM", "DeepFM", "AFN", "FRNet"):
        settings = content_only_settings(model)
        assert {"item_id", "name", "window_id"} <= set(settings["exclude_feature_fields"])
        assert cold_item_support(model, settings).ranks_unseen_items
    assert cold_item_support("PoseRec").ranks_unseen_items and cold_item_support("Random").ranks_unseen_items
    with pytest.raises(ValueError, match="no cold-item support is declared"):
        cold_item_support("BPR")
    data_path, _ = cold_data
    with pytest.raises(ValueError, match=CANNOT_RANK):  # decided from the declaration, before any data is loaded
        evaluate_cold_items(tmp_path / "none.pth", "FM", NAME, [DATASET_YAML], _settings(data_path / "cold-items", tmp_path))


def test_cold_items_command_end_to_end(cold_data, tmp_path, capsys):
    from poserec_experiments import cold_items

    data_path, _ = cold_data
    out, work = tmp_path / "out", tmp_path / "work"
    argv = ["--fraction", str(FRACTION), "--models", "Pop", "Random", "--data-path", str(data_path), "--out", str(out),
            "--work-dir", str(work), "--no-progress", "--jobs", "2"]
    assert cold_items.main(argv) == 0
    capsys.readouterr()
    runs = out / "runs" / "cold-items"
    pop, random = (json.loads((runs / f"ins-{m}-seed2022.json").read_text()) for m in ("Pop", "Random"))
    assert pop["cold_evaluation"]["ranks_unseen_items"] is False and "test_cold_result" not in pop
    assert random["cold_evaluation"]["ranks_unseen_items"] is True and set(random["test_cold_result"]) == set(
        random["test_result"])
    md = (out / "cold_items.md").read_text()
    assert md.startswith("# Effects added after training") and "(SYNTHETIC data)" in md.splitlines()[0]
    pop_row = next(line for line in md.splitlines() if line.startswith("| Pop |"))
    assert "cannot rank unseen items" in pop_row and pop_row.count("–") == 6
    assert f"{random['test_cold_result']['ndcg@10']:.4f}" in next(
        line for line in md.splitlines() if line.startswith("| Random |"))
    assert (out / "cold_items.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert cold_items.main(argv + ["--report-only"]) == 0  # the stored runs, cold figures included, are reused
    assert (out / "cold_items.md").read_text() == md


@pytest.mark.parametrize("argv, expected", [
    (["--fraction", "1"], "argument --fraction"),
    (["--models", "BPR"], "no cold-item support is declared for model 'BPR'"),
])
def test_cold_items_command_bad_arguments(argv, expected, tmp_path, capsys):
    from poserec_experiments import cold_items

    with pytest.raises(SystemExit) as stopped:
        cold_items.main(argv + ["--out", str(tmp_path / "out"), "--data-path", str(tmp_path)])
    assert stopped.value.code == 2 and not (tmp_path / "out").exists()
    assert_one_error_line(capsys.readouterr().err, expected)
