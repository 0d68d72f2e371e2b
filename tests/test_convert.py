"""Raw -> RecBole atomic files: layout, split integrity, shapes, determinism, category merge, RecBole load."""

from __future__ import annotations

import filecmp
import json

import numpy as np
import pandas as pd
import pytest

from dataset_conversion.convert import SPLITS, convert_raw_dataset, stratified_split
from dataset_conversion.layout import FACTOR_FIELDS, FACTORS
from dataset_conversion.raw_reader import read_raw_dataset
from dataset_conversion.windows import window_starts
from recbole_poserec.data.pose_store import STORED_SUFFIXES, store_files

USER_HEADER = ["window_id:token", "video_id:token", "pose:float_seq", "pose_pca:float_seq"]
ITEM_HEADER = (
    ["item_id:token", "name:token", "group:token"]
    + [f"{f}:float_seq" for f in FACTOR_FIELDS]
    + ["factors_pca:float_seq"]
)
SUFFIXES = ("user", "item", "train.inter", "valid.inter", "test.inter", "videos.tsv", "meta.json")
INTER_HEADER = ["window_id:token", "item_id:token", "score:float", "label:float"]


def read_atomic(path) -> pd.DataFrame:
    """An atomic file with its typed header stripped to bare field names."""
    frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    frame.columns = [c.split(":")[0] for c in frame.columns]
    return frame


def header(path) -> list[str]:
    with open(path, encoding="utf-8") as handle:
        return handle.readline().rstrip("\n").split("\t")


def floats(cell: str) -> np.ndarray:
    return np.array(cell.split(" "), dtype=np.float64)


def inter_frames(dataset_dir, name) -> dict[str, pd.DataFrame]:
    return {split: read_atomic(dataset_dir / f"{name}.{split}.inter") for split in SPLITS}


# ----------------------------------------------------------------------------------------- layout


def converted_files(directory, name) -> list[str]:
    """The files of a converted dataset folder, less the pose store that a run on it may have written."""
    stored = {p.name for suffix in STORED_SUFFIXES for p in store_files(directory / f"{name}.{suffix}")}
    return sorted(p.name for p in directory.iterdir() if p.name not in stored)


def test_layout_and_headers(small_dataset_dir):
    for name in (small_dataset_dir.name, small_dataset_dir.cat_name):
        directory = small_dataset_dir.data_path / name
        expected = {f"{name}.{suffix}" for suffix in SUFFIXES}
        assert set(converted_files(directory, name)) == expected
        assert header(directory / f"{name}.user") == USER_HEADER
        assert header(directory / f"{name}.item") == ITEM_HEADER
        for split in SPLITS:
            assert header(directory / f"{name}.{split}.inter") == INTER_HEADER
        assert header(directory / f"{name}.videos.tsv") == ["video_id", "category", "subcategory", "split", "n_windows"]
    # nothing temporary left next to the datasets
    assert sorted(p.name for p in small_dataset_dir.data_path.iterdir()) == sorted(
        [small_dataset_dir.name, small_dataset_dir.cat_name]
    )


def test_windows_follow_the_authors_rule(small_dataset_dir, small_raw_dir):
    raw = read_raw_dataset(small_raw_dir)
    users = read_atomic(small_dataset_dir.instance_dir / f"{small_dataset_dir.name}.user")
    expected = [f"{v}_w{s:05d}" for v in raw.videos["video_id"] for s in window_starts(raw.n_frames[v], 10, 5)]
    assert users["window_id"].tolist() == expected
    # the pose cell is exactly the window's (10, 33, 4) slice, flattened (T, V, C)
    first = users.iloc[1]
    video, start = first["video_id"], int(first["window_id"].rsplit("_w", 1)[1])
    expected_pose = raw.load_pose(video)[start : start + 10].ravel()
    np.testing.assert_allclose(floats(first["pose"]), expected_pose, rtol=1e-4, atol=1e-5)


# -------------------------------------------------------------------------------------- the split


def test_split_by_video(small_dataset_dir, small_raw_dir):
    directory, name = small_dataset_dir.instance_dir, small_dataset_dir.name
    raw = read_raw_dataset(small_raw_dir)
    users = read_atomic(directory / f"{name}.user")
    window_video = dict(zip(users["window_id"], users["video_id"]))
    inters = inter_frames(directory, name)

    videos_in = {split: {window_video[w] for w in frame["window_id"]} for split, frame in inters.items()}
    assert not (videos_in["train"] & videos_in["valid"]) and not (videos_in["train"] & videos_in["test"])
    assert not (videos_in["valid"] & videos_in["test"])
    n = len(raw.videos)
    assert [len(videos_in[s]) for s in SPLITS] == [round(0.6 * n), round(0.2 * n), n - round(0.6 * n) - round(0.2 * n)]

    # all windows of a video are in the video's split, and each carries exactly its video's items
    annotated = raw.annotations.groupby("video_id")["item_id"].apply(set).to_dict()
    windows_in = {split: set(frame["window_id"]) for split, frame in inters.items()}
    for split, frame in inters.items():
        expected_windows = {w for w, v in window_video.items() if v in videos_in[split]}
        assert windows_in[split] == expected_windows
        carried = frame.groupby("window_id")["item_id"].apply(set)
        assert all(items == annotated[window_video[w]] for w, items in carried.items())
        labels = frame["label"].astype(float)
        assert ((frame["score"].astype(float) > 0) == (labels == 1.0)).all()

    table = pd.read_csv(directory / f"{name}.videos.tsv", sep="\t", dtype={"n_windows": int})
    assert dict(zip(table["video_id"], table["split"])) == {v: s for s in SPLITS for v in videos_in[s]}
    assert table["n_windows"].sum() == len(users)


def test_stratified_split_is_exact_and_spreads_each_stratum():
    strata = np.repeat(np.array(["a", "b", "c", "d"]), [10, 5, 4, 7])
    split = stratified_split(strata, seed=7)
    assert [int((split == s).sum()) for s in SPLITS] == [16, 5, 5]  # round(15.6), round(5.2), rest
    for stratum in np.unique(strata):
        assert set(split[strata == stratum]) == set(SPLITS)
    assert (stratified_split(strata, seed=7) == split).all()
    assert not (stratified_split(strata, seed=8) == split).all()


def test_window_protocol_is_available_but_not_default(small_dataset_dir, tmp_path):
    directory = convert_raw_dataset(
        small_dataset_dir.raw_dir, tmp_path, "win", split_protocol="window", cache_dir=small_dataset_dir.cache_dir
    )
    users = read_atomic(directory / "win.user")
    inters = inter_frames(directory, "win")
    windows_in = {split: set(frame["window_id"]) for split, frame in inters.items()}
    n = len(users)
    assert [len(windows_in[s]) for s in SPLITS] == [round(0.6 * n), round(0.2 * n), n - round(0.6 * n) - round(0.2 * n)]
    assert not (windows_in["train"] & windows_in["test"])
    table = pd.read_csv(directory / "win.videos.tsv", sep="\t")
    assert set(table["split"]) == {"mixed"}  # a video's windows are spread over the splits
    meta = json.loads((directory / "win.meta.json").read_text())
    assert meta["split"]["protocol"] == "window"


# ----------------------------------------------------------------------------------------- shapes


def test_shapes_and_meta(small_dataset_dir):
    directory, name = small_dataset_dir.instance_dir, small_dataset_dir.name
    meta = json.loads((directory / f"{name}.meta.json").read_text())
    hidden = meta["text_encoder"]["hidden_size"]
    assert hidden == 384
    users = read_atomic(directory / f"{name}.user")
    pose_lengths = {len(cell.split(" ")) for cell in users["pose"]}
    assert pose_lengths == {1320}
    pca = np.stack([floats(c) for c in users["pose_pca"]])
    assert pca.shape[1] == meta["pca"]["pose_pca"]["n_components"] <= 32 and np.isfinite(pca).all()

    items = read_atomic(directory / f"{name}.item")
    for field in FACTOR_FIELDS:
        assert {len(cell.split(" ")) for cell in items[field]} == {hidden}

    assert meta["synthetic"] is True and "seed" in meta["synthetic_source"]
    assert meta["level"] == "instance" and meta["window"] == 10 and meta["step"] == 5
    assert meta["split"]["seed"] == 2022 and meta["split"]["protocol"] == "video"
    assert meta["pose_layout"] == "(T, V, C) = (10, 33, 4) flattened, channels x, y, z, visibility"
    assert meta["factor_fields"] == list(FACTOR_FIELDS)
    assert meta["counts"]["windows"] == len(users) and meta["counts"]["items"] == len(items)


def test_pose_pca_is_fitted_on_train_windows_only(small_dataset_dir):
    directory, name = small_dataset_dir.instance_dir, small_dataset_dir.name
    users = read_atomic(directory / f"{name}.user")
    train_windows = set(read_atomic(directory / f"{name}.train.inter")["window_id"])
    pca = np.stack([floats(c) for c in users["pose_pca"]])
    train = users["window_id"].isin(train_windows).to_numpy()
    # standardised on the train rows: mean 0, std 1 there (to the printed precision), not elsewhere
    np.testing.assert_allclose(pca[train].mean(axis=0), 0.0, atol=1e-3)
    np.testing.assert_allclose(pca[train].std(axis=0), 1.0, atol=1e-3)


# ------------------------------------------------------------------------------------ determinism


def test_conversion_is_deterministic(small_dataset_dir, tmp_path):
    again = convert_raw_dataset(
        small_dataset_dir.raw_dir, tmp_path, small_dataset_dir.name, cache_dir=small_dataset_dir.cache_dir
    )
    files = converted_files(small_dataset_dir.instance_dir, small_dataset_dir.name)
    match, mismatch, errors = filecmp.cmpfiles(small_dataset_dir.instance_dir, again, files, shallow=False)
    assert mismatch == [] and errors == [] and match == files


# ---------------------------------------------------------------------------------- category level


def test_category_merge(small_dataset_dir):
    inst_dir, cat_dir = small_dataset_dir.instance_dir, small_dataset_dir.category_dir
    instance_items = read_atomic(inst_dir / f"{small_dataset_dir.name}.item")
    category_items = read_atomic(cat_dir / f"{small_dataset_dir.cat_name}.item")
    assert len(category_items) == instance_items["name"].nunique() < len(instance_items)
    assert category_items["name"].is_unique and category_items["item_id"].is_unique

    # each factor embedding of a category is the mean over its instances (to the printed precision)
    name_to_category = dict(zip(category_items["name"], category_items["item_id"]))
    merged_name = instance_items["name"].value_counts().index[0]  # a name with several instances
    instances = instance_items[instance_items["name"] == merged_name]
    category = category_items[category_items["name"] == merged_name].iloc[0]
    for field in ("f_usage", "f_description", "f_name"):
        mean = np.mean([floats(c) for c in instances[field]], axis=0)
        np.testing.assert_allclose(floats(category[field]), mean, rtol=1e-4, atol=1e-5)

    # interactions: mapped to categories, one row per (window, category), mean score, label recomputed
    item_to_category = dict(zip(instance_items["item_id"], instance_items["name"].map(name_to_category)))
    inst = pd.concat(inter_frames(inst_dir, small_dataset_dir.name).values())
    cat = pd.concat(inter_frames(cat_dir, small_dataset_dir.cat_name).values())
    assert not cat.duplicated(["window_id", "item_id"]).any()
    expected = (
        inst.assign(item_id=inst["item_id"].map(item_to_category), score=inst["score"].astype(float))
        .groupby(["window_id", "item_id"])["score"]
        .mean()
    )
    got = cat.assign(score=cat["score"].astype(float)).set_index(["window_id", "item_id"])["score"].sort_index()
    assert got.index.equals(expected.sort_index().index)
    np.testing.assert_allclose(got.to_numpy(), expected.sort_index().to_numpy(), atol=1e-5)
    assert ((cat["score"].astype(float) > 0) == (cat["label"].astype(float) == 1.0)).all()

    # same windows and split at both levels
    for split in SPLITS:
        a = read_atomic(inst_dir / f"{small_dataset_dir.name}.{split}.inter")["window_id"]
        b = read_atomic(cat_dir / f"{small_dataset_dir.cat_name}.{split}.inter")["window_id"]
        assert set(a) == set(b)
    cat_meta = json.loads((cat_dir / f"{small_dataset_dir.cat_name}.meta.json").read_text())
    assert cat_meta["level"] == "category" and cat_meta["counts"]["items"] == len(category_items)


# ---------------------------------------------------------------------------------- RecBole loads it


@pytest.mark.skipif(int(np.__version__.split(".")[0]) >= 2,
                    reason="RecBole 1.2.1's own Config reads np.float_, which numpy 2 removed (the plug-in's Config does not)")
@pytest.mark.parametrize("level", ["instance", "category"])
def test_recbole_loads_the_dataset(small_dataset_dir, level, tmp_path):
    from recbole.config import Config
    from recbole.data import create_dataset

    name = small_dataset_dir.name if level == "instance" else small_dataset_dir.cat_name
    directory = small_dataset_dir.data_path / name
    config = Config(
        model="BPR",
        dataset=name,
        config_dict={
            "data_path": str(small_dataset_dir.data_path),
            "USER_ID_FIELD": "window_id",
            "ITEM_ID_FIELD": "item_id",
            "benchmark_filename": ["train", "valid", "test"],
            "load_col": None,
            "checkpoint_dir": str(tmp_path / "saved"),
            "log_wandb": False,
            "show_progress": False,
            "save_dataset": False,
            "save_dataloaders": False,
        },
    )
    dataset = create_dataset(config)
    users = read_atomic(directory / f"{name}.user")
    items = read_atomic(directory / f"{name}.item")
    inters = inter_frames(directory, name)
    assert dataset.user_num == len(users) + 1  # + [PAD]
    assert dataset.item_num == len(items) + 1
    assert dataset.inter_num == sum(len(f) for f in inters.values())
    train, valid, test = dataset.build()
    assert [len(train), len(valid), len(test)] == [len(inters[s]) for s in SPLITS]
    assert dataset.user_feat["pose"].shape[1] == 1320
    assert dataset.item_feat["f_name"].shape[1] == 384
    assert set(FACTORS) and all(f in dataset.item_feat for f in FACTOR_FIELDS)
