"""Pose normalisation (``pose_normalisation``): the function's invariants, every model's dataset reading the same
normalised poses (PoseRec's ``pose``, the baselines' refitted ``pose_pca``), ``none`` changing nothing, and a
checkpoint scoring a new video normalised as its training data were."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from recbole.data.dataset import Dataset

from dataset_conversion.convert import standardized_pca
from dataset_conversion.errors import DataError
from dataset_conversion.windows import cut_windows
from dataset_conversion.pose_normalisation import (
    LEFT_HIP,
    LEFT_SHOULDER,
    POSE_NORMALISATIONS,
    RIGHT_HIP,
    RIGHT_SHOULDER,
    normalise_windows,
)
from recbole_poserec.config import Config
from recbole_poserec.data import dataset as plugin_dataset
from recbole_poserec.data.dataset import create_dataset
from recbole_poserec.data.pose_store import store_paths
from recbole_poserec.recommend import main as recommend_main

from cli_assertions import assert_one_error_line
from conftest import copy_converted

SHAPE = (10, 33, 4)


def random_windows(n: int = 6, seed: int = 0, dtype=np.float64) -> np.ndarray:
    """Windows of a body-like layout: landmarks scattered round a torso that moves from frame to frame."""
    rng = np.random.default_rng(seed)
    windows = rng.normal(0.0, 0.1, size=(n, *SHAPE))
    windows[..., :3] += rng.uniform(0.2, 0.8, size=(n, SHAPE[0], 1, 3))  # where the person stands, per frame
    windows[..., [LEFT_SHOULDER, RIGHT_SHOULDER], 1] -= 0.25  # shoulders above the hips (image y grows down)
    windows[..., 3] = rng.uniform(0.0, 1.0, size=(n, SHAPE[0], 33))
    return windows.astype(dtype)


def hip_midpoint(windows: np.ndarray) -> np.ndarray:
    return windows[..., [LEFT_HIP, RIGHT_HIP], :3].mean(axis=-2)


def mean_torso_length(windows: np.ndarray) -> np.ndarray:
    shoulders = windows[..., [LEFT_SHOULDER, RIGHT_SHOULDER], :3].mean(axis=-2)
    return np.linalg.norm(shoulders - hip_midpoint(windows), axis=-1).mean(axis=-1)


def rotated_about_y(windows: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Each window turned about the vertical axis by its angle (a real rotation of x and z)."""
    cos, sin = np.cos(angles)[:, None, None], np.sin(angles)[:, None, None]
    out = windows.copy()
    out[..., 0] = cos * windows[..., 0] - sin * windows[..., 2]
    out[..., 2] = sin * windows[..., 0] + cos * windows[..., 2]
    return out


def moved_and_scaled(windows: np.ndarray, seed: int = 1) -> np.ndarray:
    """Every frame translated on its own, every window scaled on its own (another place, another camera distance)."""
    rng = np.random.default_rng(seed)
    out = windows.copy()
    scale = rng.uniform(0.3, 3.0, size=(len(windows), 1, 1, 1))
    out[..., :3] = windows[..., :3] * scale + rng.uniform(-2.0, 2.0, size=(len(windows), SHAPE[0], 1, 3))
    return out


# ------------------------------------------------------------------------------------------ the function


@pytest.mark.parametrize("mode", ["hip_torso", "hip_torso_yaw"])
def test_hips_at_the_origin_torso_of_length_one_visibility_untouched(mode):
    windows = random_windows()
    before = windows.copy()
    normalised = normalise_windows(windows, mode)
    np.testing.assert_allclose(hip_midpoint(normalised), 0.0, atol=1e-12)
    np.testing.assert_allclose(mean_torso_length(normalised), 1.0, rtol=1e-12)
    assert np.array_equal(normalised[..., 3], windows[..., 3])
    assert np.array_equal(windows, before)  # the input is not modified
    assert not np.allclose(normalised[..., :3], windows[..., :3])


@pytest.mark.parametrize("mode", ["hip_torso", "hip_torso_yaw"])
def test_invariant_to_where_the_person_stands_and_the_camera_distance(mode):
    windows = random_windows()
    np.testing.assert_allclose(normalise_windows(moved_and_scaled(windows), mode), normalise_windows(windows, mode),
                               atol=1e-10)


def test_yaw_puts_the_hips_along_x_and_undoes_a_turn_about_the_vertical():
    windows = random_windows()
    normalised = normalise_windows(windows, "hip_torso_yaw")
    across = (normalised[..., LEFT_HIP, :3] - normalised[..., RIGHT_HIP, :3]).mean(axis=1)
    np.testing.assert_allclose(across[:, 2], 0.0, atol=1e-12)
    assert np.all(across[:, 0] > 0)
    turned = rotated_about_y(moved_and_scaled(windows), np.linspace(-3.0, 3.0, len(windows)))
    np.testing.assert_allclose(normalise_windows(turned, "hip_torso_yaw"), normalised, atol=1e-10)
    # hip_torso alone keeps the turn: the yaw step is what removes it
    assert not np.allclose(normalise_windows(turned, "hip_torso"), normalise_windows(windows, "hip_torso"), atol=1e-3)


def test_none_is_the_input_itself_and_dtypes_and_shapes_are_kept():
    windows = random_windows()
    assert normalise_windows(windows, "none") is windows
    for mode in ("hip_torso", "hip_torso_yaw"):
        as32 = normalise_windows(windows.astype(np.float32), mode)
        assert as32.dtype == np.float32 and normalise_windows(windows, mode).dtype == np.float64
        np.testing.assert_allclose(as32, normalise_windows(windows, mode), atol=1e-4)
        one = normalise_windows(windows[2], mode)  # a single (T, 33, 4) window
        assert one.shape == SHAPE
        np.testing.assert_allclose(one, normalise_windows(windows, mode)[2], atol=1e-12)


def test_a_degenerate_window_stays_finite_and_bad_arguments_are_refused():
    flat = np.full((1, *SHAPE), 0.5)  # every landmark at one point: no torso
    assert np.all(np.isfinite(normalise_windows(flat, "hip_torso_yaw")))
    np.testing.assert_allclose(normalise_windows(flat, "hip_torso_yaw")[..., :3], 0.0)
    with pytest.raises(ValueError, match="none, hip_torso, hip_torso_yaw, got 'hips'"):
        normalise_windows(flat, "hips")
    with pytest.raises(ValueError, match=r"\(\.\.\., T, 33, 4\)"):
        normalise_windows(np.zeros((2, 10, 17, 4)), "hip_torso")


# ------------------------------------------------------------------------------------------ the datasets


@pytest.fixture
def data_path(small_dataset_dir, tmp_path) -> Path:
    root = tmp_path / "data"
    copy_converted(small_dataset_dir.instance_dir, root / small_dataset_dir.name)
    return root


def config_for(data_path: Path, name: str, model: str, **settings) -> Config:
    return Config(model=model, dataset=name, command_line=[],
                  config_dict={"data_path": str(data_path), "checkpoint_dir": str(data_path.parent / "saved"),
                               "state": "WARNING", **settings})


def user_file_rows(data_path: Path, name: str) -> tuple[pd.Series, np.ndarray, np.ndarray, np.ndarray]:
    """Independently of the plug-in: window tokens, raw poses (N, 1320), the file's pose_pca, and the rows of
    the converter's train split (videos.tsv)."""
    folder = data_path / name
    frame = pd.read_csv(folder / f"{name}.user", sep="\t", dtype=str)
    frame.columns = [column.split(":")[0] for column in frame.columns]
    poses = np.array([np.array(cell.split(), dtype=float) for cell in frame["pose"]])
    pose_pca = np.array([np.array(cell.split(), dtype=float) for cell in frame["pose_pca"]])
    videos = pd.read_csv(folder / f"{name}.videos.tsv", sep="\t", dtype=str)
    train_videos = set(videos.loc[videos["split"] == "train", "video_id"])
    train = np.flatnonzero(frame["video_id"].isin(train_videos).to_numpy())
    return frame["window_id"], poses, pose_pca, train


def feature_by_token(dataset, field: str) -> dict[str, np.ndarray]:
    """``field`` of every window of a loaded (not yet built) dataset, by window token."""
    uid = dataset.uid_field
    tokens = dataset.field2id_token[uid][dataset.user_feat[uid].to_numpy()]
    values = [value[0] if isinstance(value, tuple) else value for value in dataset.user_feat[field]]  # FM: (x, 1)
    return {token: np.asarray(value) for token, value in zip(tokens, values) if token != "[PAD]"}


def test_poserec_reads_normalised_poses_and_the_store_keeps_the_raw_ones(data_path, small_dataset_dir):
    name = small_dataset_dir.name
    tokens, raw, _, _ = user_file_rows(data_path, name)
    dataset = create_dataset(config_for(data_path, name, "PoseRec", pose_normalisation="hip_torso"))
    expected = normalise_windows(raw.reshape(-1, *SHAPE), "hip_torso").reshape(len(raw), -1)
    got = feature_by_token(dataset, "pose")
    assert len(got) == len(tokens)
    np.testing.assert_allclose(np.stack([got[token] for token in tokens]), expected, rtol=0, atol=1e-12)
    stored = np.load(store_paths(data_path / name / f"{name}.user", "pose")[0], allow_pickle=False)
    np.testing.assert_allclose(stored, raw, rtol=0, atol=0)  # the store caches what the text says


@pytest.mark.parametrize("model", ["NeuMF", "FM"])
def test_baselines_pose_pca_is_refitted_on_the_normalised_train_windows(model, data_path, small_dataset_dir):
    name = small_dataset_dir.name
    tokens, raw, file_pca, train = user_file_rows(data_path, name)
    dataset = create_dataset(config_for(data_path, name, model, pose_normalisation="hip_torso"))
    normalised = normalise_windows(raw.reshape(-1, *SHAPE), "hip_torso").reshape(len(raw), -1)
    expected, _ = standardized_pca(normalised, file_pca.shape[1], fit_index=train)
    got = feature_by_token(dataset, "pose_pca")
    np.testing.assert_allclose(np.stack([got[token] for token in tokens]), expected, rtol=1e-6, atol=1e-6)
    assert not np.allclose(expected, file_pca, atol=1e-2)  # the raw windows' PCA would fail the check above
    assert "pose" not in dataset.user_feat and "pose" not in dataset.field2type  # read for the refit, then dropped
    assert dataset.field2seqlen["pose_pca"] == file_pca.shape[1]


class TodaysDataset(plugin_dataset.BenchmarkFilteringMixin, plugin_dataset.PoseStoreMixin, Dataset):
    """The plug-in's dataset before pose normalisation existed."""


def assert_same_built_dataset(a, b) -> None:
    for table in ("field2type", "field2source", "field2seqlen", "field2bucketnum", "field2id_token"):
        assert list(getattr(a, table)) == list(getattr(b, table)), table
        for field, value in getattr(a, table).items():
            other = getattr(b, table)[field]
            assert np.array_equal(value, other) if isinstance(value, np.ndarray) else value == other, (table, field)
    for part_a, part_b in zip(a.build(), b.build(), strict=True):
        for feat_a, feat_b in ((part_a.inter_feat, part_b.inter_feat), (a.user_feat, b.user_feat)):
            assert list(feat_a.interaction) == list(feat_b.interaction)
            for field in feat_a.interaction:
                assert feat_a[field].dtype == feat_b[field].dtype and torch.equal(feat_a[field], feat_b[field]), field


@pytest.mark.parametrize("model", ["PoseRec", "NeuMF"])
def test_none_is_todays_dataset(model, data_path, small_dataset_dir):
    config = config_for(data_path, small_dataset_dir.name, model, pose_normalisation="none")
    assert config["pose_normalisation"] == "none"
    assert_same_built_dataset(create_dataset(config), TodaysDataset(config))


def test_an_unknown_normalisation_is_a_one_line_error(data_path, small_dataset_dir):
    with pytest.raises(DataError) as caught:
        create_dataset(config_for(data_path, small_dataset_dir.name, "NeuMF", pose_normalisation="hips"))
    message = str(caught.value)
    assert len(message.splitlines()) == 1
    assert "pose_normalisation" in message and "none, hip_torso, hip_torso_yaw" in message and "'hips'" in message


def test_known_negatives_are_allowed_for_a_model_that_learns_them(data_path, small_dataset_dir, monkeypatch):
    from recbole_poserec.utils import get_model

    name = small_dataset_dir.name
    config = config_for(data_path, name, "PoseRec", train_nonpositive_as_negatives=True)
    poserec = get_model("PoseRec")
    monkeypatch.setattr(poserec, "learns_known_negatives", False, raising=False)
    with pytest.raises(DataError, match="train_nonpositive_as_negatives"):
        plugin_dataset.check_nonpositive_setting(config)
    monkeypatch.setattr(poserec, "learns_known_negatives", True, raising=False)
    plugin_dataset.check_nonpositive_setting(config)
    with pytest.raises(DataError, match="not BPR"):  # every other model keeps its refusal
        plugin_dataset.check_nonpositive_setting(config_for(data_path, name, "BPR", train_nonpositive_as_negatives=True))


# ----------------------------------------------------------------------------------------- checkpoints


def handmade_checkpoint(path: Path, pose_normalisation) -> Path:
    """A small PoseRec checkpoint written as the trainer writes one (config, state_dict, catalogue)."""
    from recbole_poserec.checkpoint import save_checkpoint
    from recbole_poserec.model.network import PoseRecNetwork

    torch.manual_seed(0)
    config = {"gcn_layers": 1, "num_prototypes": 2, "embedding_size": 32, "temporal_kernel": 3, "dropout": 0.0,
              "pose_input_channels": [0, 1, 2, 3], "pose_normalisation": pose_normalisation}
    network = PoseRecNetwork.from_hyper_parameters(torch.randn(9, 9, 8), config).eval()
    tokens = ["[PAD]"] + [f"item{i}" for i in range(8)]
    save_checkpoint(path, {"model": "PoseRec", "dataset": "handmade", "config": config,
                           "state_dict": {f"network.{key}": value for key, value in network.state_dict().items()},
                           "catalogue": {"item_tokens": tokens, "item_names": tokens}})
    return path


def recommend_scores(capsys, checkpoint: Path, poses: Path) -> np.ndarray:
    code = recommend_main(["--poses", str(poses), "--checkpoint", str(checkpoint), "--format", "json",
                           "--top-k", "8", "--per-window"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    result = json.loads(captured.out)
    return np.array([[entry["score"] for entry in sorted(window, key=lambda entry: entry["index"])]
                     for window in result["windows"]])


def test_a_checkpoint_trained_normalised_scores_a_moved_and_scaled_video_the_same(tmp_path, capsys):
    video = random_windows(n=1, seed=5, dtype=np.float32)[0]
    video = np.concatenate([video, random_windows(n=1, seed=6, dtype=np.float32)[0]])  # 20 frames
    rng = np.random.default_rng(2)
    moved = video.copy()
    moved[..., :3] = video[..., :3] * 2.5 + rng.uniform(-1.0, 1.0, size=(len(video), 1, 3)).astype(np.float32)
    np.save(tmp_path / "video.npy", video)
    np.save(tmp_path / "moved.npy", moved)

    normalised = handmade_checkpoint(tmp_path / "hip_torso.pth", "hip_torso")
    scores = recommend_scores(capsys, normalised, tmp_path / "video.npy")
    windows = torch.from_numpy(cut_windows(video, 10, 5))
    assert scores.shape == (len(windows), 8) and len(windows) >= 2
    np.testing.assert_allclose(recommend_scores(capsys, normalised, tmp_path / "moved.npy"), scores, atol=1e-4)

    from recbole_poserec.inference.checkpoint_scorer import load_checkpoint_scorer

    scorer = load_checkpoint_scorer(normalised)
    assert scorer.pose_normalisation == "hip_torso"
    with torch.no_grad():
        direct = scorer.network.score_windows(torch.from_numpy(normalise_windows(windows.numpy(), "hip_torso")))
    np.testing.assert_allclose(scorer.score_windows(windows).numpy(), direct[:, 1:].numpy(), atol=1e-6)

    raw = handmade_checkpoint(tmp_path / "none.pth", "none")  # the same weights, raw coordinates: not invariant
    assert not np.allclose(recommend_scores(capsys, raw, tmp_path / "moved.npy"),
                           recommend_scores(capsys, raw, tmp_path / "video.npy"), atol=1e-3)


@pytest.mark.parametrize("value", ["hips", 3])
def test_a_checkpoint_with_an_unknown_normalisation_is_a_one_line_error(tmp_path, capsys, value):
    np.save(tmp_path / "video.npy", random_windows(n=1, dtype=np.float32)[0])
    checkpoint = handmade_checkpoint(tmp_path / "bad.pth", value)
    code = recommend_main(["--poses", str(tmp_path / "video.npy"), "--checkpoint", str(checkpoint)])
    assert code != 0
    assert_one_error_line(capsys.readouterr().err, str(checkpoint), "config", "pose_normalisation",
                          "none, hip_torso, hip_torso_yaw")


def test_a_trained_checkpoint_records_the_setting():
    from recbole_poserec.checkpoint import plain_config

    config = Config(model="PoseRec", dataset="pose-obe", command_line=[],
                    config_dict={"pose_normalisation": "hip_torso_yaw", "state": "WARNING"})
    assert plain_config(config)["pose_normalisation"] == "hip_torso_yaw"
    assert Config(model="PoseRec", dataset="pose-obe", command_line=[])["pose_normalisation"] == "none"
    assert set(POSE_NORMALISATIONS) == {"none", "hip_torso", "hip_torso_yaw"}
