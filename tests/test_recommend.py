"""Recommending for a new video: the authors' release reproduced, the CLI's output and errors, a real video.

The reference-release tests read the authors' files in place from ``../shared/reference-release``
(relative to the repository root) and are skipped only when that directory is absent.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import shutil
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch

from recbole_poserec.model.stgcn import STGCN
from recbole_poserec.recommend import main as recommend_main
from dataset_conversion.array_files import NumpyOnlyUnpickler, load_numpy_pickle
from cli_assertions import assert_one_error_line

REPO_ROOT = Path(__file__).resolve().parents[1]
RELEASE_DIR = (REPO_ROOT / ".." / "shared" / "reference-release").resolve()
SAMPLE = RELEASE_DIR / "sample.pkl"
N_RELEASE_ITEMS = 221

needs_release = pytest.mark.skipif(not RELEASE_DIR.is_dir(), reason=f"{RELEASE_DIR} is absent")


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    """``recommend.main(argv)`` in-process: (exit code, stdout, stderr)."""
    code = recommend_main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_cli_subprocess(*argv, module: str = "recbole_poserec.recommend") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *map(str, argv)], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=300)


def assert_one_line_error(code: int, stderr: str, names: str) -> None:
    assert code != 0
    assert_one_error_line(stderr, names)


def assert_ranking_shape(ranking: list[dict], k: int, n_items: int) -> None:
    assert [entry["rank"] for entry in ranking] == list(range(1, k + 1))
    assert all({"rank", "index", "name", "score"} <= set(entry) for entry in ranking)
    assert all(0 <= entry["index"] < n_items for entry in ranking)
    assert len({entry["index"] for entry in ranking}) == k
    scores = [entry["score"] for entry in ranking]
    assert scores == sorted(scores, reverse=True)


# ------------------------------------------------------------------------------ restricted unpickler


def test_unpickler_rebuilds_arrays_and_lists_of_arrays():
    arrays = [np.arange(6, dtype=np.float32).reshape(2, 3), np.ones((2, 2))]
    for protocol in (2, 3, pickle.HIGHEST_PROTOCOL):
        loaded = NumpyOnlyUnpickler(io.BytesIO(pickle.dumps(arrays, protocol=protocol))).load()
        assert all(np.array_equal(a, b) and a.dtype == b.dtype for a, b in zip(loaded, arrays))


@pytest.mark.parametrize("payload", [os.getcwd, shutil.rmtree, slice(1, 2), OrderedDict(a=1), np.float64(1.0)])
def test_unpickler_refuses_any_other_global(payload):
    with pytest.raises(pickle.UnpicklingError):
        NumpyOnlyUnpickler(io.BytesIO(pickle.dumps(payload))).load()


# ------------------------------------------------------------------------- the authors' release


def independent_release_scores(windows: np.ndarray) -> np.ndarray:
    """The README's formula from the raw files: sum_k omega[i, k] cos(e_v^(k), item_feature[k][i]).

    e_v comes from the project's STGCN with the released weights; the rest is plain numpy, chunk by chunk.
    """
    video_side = STGCN()
    video_side.load_state_dict(torch.load(RELEASE_DIR / "best_model_pose.pt", weights_only=True))
    video_side.eval()
    with torch.no_grad():
        network_input = torch.from_numpy(windows).float().permute(0, 3, 1, 2).unsqueeze(-1)  # (N, C, T, V, M)
        video = video_side(network_input).double().numpy()
    item_feature = load_numpy_pickle(RELEASE_DIR / "item_feature.pkl")
    omega = np.load(RELEASE_DIR / "prototype_dis.npy", allow_pickle=False).astype(np.float64)
    d = video.shape[1] // len(item_feature)
    scores = np.zeros((len(video), omega.shape[0]))
    for k, items in enumerate(item_feature):
        video_k = video[:, k * d:(k + 1) * d]
        video_k = video_k / np.linalg.norm(video_k, axis=1, keepdims=True)
        items_k = items.astype(np.float64) / np.linalg.norm(items, axis=1, keepdims=True)
        scores += omega[:, k] * (video_k @ items_k.T)
    return scores


@needs_release
def test_release_window_scores_and_rankings_equal_the_readme_formula(capsys):
    code, out, err = run_cli(capsys, "--poses", SAMPLE, "--reference-release", RELEASE_DIR, "--per-window",
                             "--format", "json", "--top-k", N_RELEASE_ITEMS)
    assert code == 0, err
    result = json.loads(out)
    windows = load_numpy_pickle(SAMPLE)
    expected = independent_release_scores(windows)
    assert result["n_windows"] == len(windows) == 81
    assert len(result["windows"]) == len(windows)

    cli_scores = np.zeros_like(expected)
    cli_order = np.zeros(expected.shape, dtype=int)
    for v, window_ranking in enumerate(result["windows"]):
        for entry in window_ranking:
            cli_scores[v, entry["index"]] = entry["score"]
        cli_order[v] = [entry["index"] for entry in window_ranking]
    np.testing.assert_allclose(cli_scores, expected, atol=2e-5, rtol=0)
    # the same ranking: identical orders except where two items' scores are within float noise
    expected_order = np.argsort(-expected, axis=1, kind="stable")
    gaps = -np.diff(np.take_along_axis(expected, expected_order, axis=1), axis=1)
    clear = np.concatenate([gaps > 1e-5, np.ones((len(gaps), 1), bool)], axis=1) & np.concatenate(
        [np.ones((len(gaps), 1), bool), gaps > 1e-5], axis=1)
    assert np.array_equal(cli_order[clear], expected_order[clear])
    assert np.array_equal(cli_order[:, 0], expected_order[:, 0])  # every window's top item

    video_expected = expected.mean(axis=0)
    video_scores = np.array([entry["score"] for entry in result["video"]])
    video_indices = np.array([entry["index"] for entry in result["video"]])
    np.testing.assert_allclose(video_scores, video_expected[video_indices], atol=2e-5, rtol=0)
    assert list(video_indices[:5]) == list(np.argsort(-video_expected, kind="stable")[:5])


@needs_release
def test_release_json_shape_top_k_and_per_window(capsys):
    code, out, _ = run_cli(capsys, "--poses", SAMPLE, "--reference-release", RELEASE_DIR, "--format", "json")
    assert code == 0
    result = json.loads(out)
    assert set(result) == {"n_windows", "aggregation", "video", "windows"}
    assert result["aggregation"] == "mean" and result["windows"] == []
    assert_ranking_shape(result["video"], 5, N_RELEASE_ITEMS)
    names = (RELEASE_DIR / "item_data.csv").read_text().splitlines()
    assert all(entry["name"] == names[entry["index"]].strip() for entry in result["video"])

    code, out, _ = run_cli(capsys, "--poses", SAMPLE, "--reference-release", RELEASE_DIR, "--format", "json",
                           "--per-window", "--top-k", 3)
    result = json.loads(out)
    assert len(result["windows"]) == result["n_windows"] == 81
    for window_ranking in result["windows"]:
        assert_ranking_shape(window_ranking, 3, N_RELEASE_ITEMS)


@needs_release
def test_text_table_lists_the_top_k(capsys):
    code, out, _ = run_cli(capsys, "--poses", SAMPLE, "--reference-release", RELEASE_DIR, "--top-k", 4)
    assert code == 0
    lines = out.strip().splitlines()
    assert "mean" in lines[0] and "81 windows" in lines[0]
    assert lines[1].split() == ["rank", "index", "score", "name"]
    assert [line.split()[0] for line in lines[2:6]] == ["1", "2", "3", "4"]


@needs_release
def test_whole_video_poses_are_windowed_like_the_converter(tmp_path, capsys):
    """Frames rebuilt from sample.pkl's overlapping windows give back the same 81 windows and ranking."""
    windows = load_numpy_pickle(SAMPLE)
    assert np.array_equal(windows[1:, :5], windows[:-1, 5:])  # step 5 over 10-frame windows
    frames = np.concatenate([windows[:, :5].reshape(-1, 33, 4), windows[-1, 5:], windows[-1, -1:]])
    np.save(tmp_path / "frames.npy", frames)  # 81*5 + 5 + 1 frames: exactly 81 windows by the authors' rule
    runs = [run_cli(capsys, "--poses", path, "--reference-release", RELEASE_DIR, "--format", "json")
            for path in (SAMPLE, tmp_path / "frames.npy")]
    from_windows, from_frames = (json.loads(out) for _, out, _ in runs)
    assert from_frames["n_windows"] == 81
    assert [e["index"] for e in from_frames["video"]] == [e["index"] for e in from_windows["video"]]


# ------------------------------------------------------------------------------------- bad input


def _malformed_release(tmp_path: Path, breakage: str) -> Path:
    release = tmp_path / f"release-{breakage}"
    release.mkdir()
    for name in ("best_model_pose.pt", "item_feature.pkl", "prototype_dis.npy", "item_data.csv"):
        (release / name).symlink_to(RELEASE_DIR / name)
    if breakage == "missing":
        (release / "item_feature.pkl").unlink()
    elif breakage == "names":
        (release / "item_data.csv").unlink()
        (release / "item_data.csv").write_text("\n".join(["hat"] * 220) + "\n")
    elif breakage == "omega":
        (release / "prototype_dis.npy").unlink()
        np.save(release / "prototype_dis.npy", np.full((221, 3), 1 / 3, np.float32))
    elif breakage == "weights":
        (release / "best_model_pose.pt").unlink()
        torch.save({"fc.weight": torch.zeros(3, 3)}, release / "best_model_pose.pt")
    return release


@needs_release
@pytest.mark.parametrize("breakage, named", [("missing", "item_feature.pkl"), ("names", "item_data.csv"),
                                             ("omega", "prototype_dis.npy"), ("weights", "best_model_pose.pt")])
def test_malformed_release_is_one_line_error(tmp_path, capsys, breakage, named):
    release = _malformed_release(tmp_path, breakage)
    code, _, err = run_cli(capsys, "--poses", SAMPLE, "--reference-release", release)
    assert_one_line_error(code, err, named)


def _bad_pose_file(tmp_path: Path, kind: str) -> Path:
    rng = np.random.default_rng(0)
    path = tmp_path / f"{kind}.npy"
    if kind == "channels":
        np.save(path, rng.random((30, 33, 3), dtype=np.float32))
    elif kind == "nan":
        poses = rng.random((30, 33, 4), dtype=np.float32)
        poses[7, 3, 1] = np.nan
        np.save(path, poses)
    elif kind == "inf":
        poses = rng.random((4, 10, 33, 4))
        poses[0, 0, 0, 0] = np.inf
        np.save(path, poses)
    elif kind == "too-short":
        np.save(path, rng.random((10, 33, 4), dtype=np.float32))  # 10 frames: no window by the authors' rule
    elif kind == "window-length":
        np.save(path, rng.random((3, 12, 33, 4), dtype=np.float32))
    elif kind == "object-array":
        np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    elif kind == "not-numpy":
        path.write_bytes(b"definitely not an array")
    elif kind == "evil-pickle":
        path = tmp_path / "evil.pkl"
        path.write_bytes(pickle.dumps(os.getcwd))
    elif kind == "text-pickle":
        path = tmp_path / "text.pkl"
        path.write_bytes(pickle.dumps("poses"))
    elif kind == "suffix":
        path = tmp_path / "poses.txt"
        path.write_text("1 2 3")
    return path


@needs_release
@pytest.mark.parametrize("kind", ["channels", "nan", "inf", "too-short", "window-length", "object-array",
                                  "not-numpy", "evil-pickle", "text-pickle", "suffix"])
def test_bad_pose_file_is_one_line_error(tmp_path, capsys, kind):
    path = _bad_pose_file(tmp_path, kind)
    code, out, err = run_cli(capsys, "--poses", path, "--reference-release", RELEASE_DIR)
    assert_one_line_error(code, err, str(path))
    assert out == ""


@needs_release
@pytest.mark.parametrize("top_k", [0, -1, N_RELEASE_ITEMS + 1])
def test_top_k_outside_the_catalogue_is_one_line_error(capsys, top_k):
    code, _, err = run_cli(capsys, "--poses", SAMPLE, "--reference-release", RELEASE_DIR, "--top-k", top_k)
    assert_one_line_error(code, err, "--top-k")


@needs_release
def test_unreadable_and_missing_video_are_one_line_errors(tmp_path, capsys):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x01 not a video" * 100)
    for video in (broken, tmp_path / "missing.mp4"):
        code, _, err = run_cli(capsys, "--video", video, "--reference-release", RELEASE_DIR)
        assert_one_line_error(code, err, str(video))


@needs_release
def test_bad_input_in_a_real_subprocess(tmp_path):
    path = _bad_pose_file(tmp_path, "channels")
    completed = run_cli_subprocess("--poses", path, "--reference-release", RELEASE_DIR)
    assert_one_line_error(completed.returncode, completed.stderr, str(path))
    assert "(T, 33, 4)" in completed.stderr or "33 landmarks x 4 channels" in completed.stderr


# ------------------------------------------------------------------------------ a real video, end to end


def write_video(path: Path, frames: list[np.ndarray], fps: int = 25) -> Path:
    cv2 = pytest.importorskip("cv2", reason="video tests need the extraction stack (OpenCV, MediaPipe)")

    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    assert writer.isOpened()
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def astronaut_frames(n_frames: int) -> list[np.ndarray]:
    """skimage's astronaut photograph (a real person) on a wider canvas, shifted a few pixels a frame."""
    from skimage import data

    person = data.astronaut()
    frames = []
    for t in range(n_frames):
        canvas = np.full((576, 640, 3), 235, np.uint8)
        dx, dy = 30 + 3 * t, 32 + (t % 4)
        canvas[dy:dy + 512, dx:dx + 512] = person
        frames.append(canvas)
    return frames


@needs_release
def test_real_video_end_to_end_json_and_plot(tmp_path):
    video = write_video(tmp_path / "astronaut.avi", astronaut_frames(18))
    plot = tmp_path / "plots" / "astronaut.png"
    completed = run_cli_subprocess("--video", video, "--reference-release", RELEASE_DIR, "--format", "json",
                                   "--per-window", "--plot", plot)
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout)
    assert result["n_windows"] >= 1 and len(result["windows"]) == result["n_windows"]
    assert_ranking_shape(result["video"], 5, N_RELEASE_ITEMS)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from matplotlib.image import imread

    image = imread(plot)
    assert image.shape[0] > 200 and image.shape[1] > 600
    assert not [p for p in plot.parent.iterdir() if p.name.startswith(".")]  # no temporary file left


@needs_release
def test_video_without_a_person_is_one_line_error(tmp_path, capsys):
    frames = [np.full((240, 320, 3), 40 + 10 * t, np.uint8) for t in range(12)]
    video = write_video(tmp_path / "empty-room.avi", frames)
    code, _, err = run_cli(capsys, "--video", video, "--reference-release", RELEASE_DIR)
    assert_one_line_error(code, err, str(video))
    assert "no person" in err


# ------------------------------------------------------------------------------ a trained checkpoint


@pytest.fixture(scope="session")
def poserec_checkpoint(small_dataset_dir, tmp_path_factory) -> Path:
    """A PoseRec checkpoint trained for one epoch on the small synthetic dataset.

    Trained on one thread: on the shared 2-core machine under load that epoch took 31 s instead of 54 s.
    """
    from recbole_poserec.quick_start import run_recbole

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = run_recbole(
            model="PoseRec",
            dataset=small_dataset_dir.name,
            config_file_list=[str(REPO_ROOT / "properties" / "dataset" / "pose-obe.yaml")],
            config_dict={"data_path": str(small_dataset_dir.data_path), "epochs": 1, "show_progress": False,
                         "state": "WARNING", "checkpoint_dir": str(tmp_path_factory.mktemp("poserec-checkpoint"))},
        )
    finally:
        torch.set_num_threads(threads)
    return Path(result["checkpoint"])


@pytest.fixture
def video_poses_file(tmp_path) -> Path:
    path = tmp_path / "video-poses.npy"
    np.save(path, np.random.default_rng(3).random((42, 33, 4), dtype=np.float32))
    return path


def test_checkpoint_recommends_from_its_catalogue_never_padding(poserec_checkpoint, video_poses_file, capsys):
    from recbole_poserec.checkpoint import load_checkpoint
    from recbole_poserec.model.network import PoseRecNetwork

    checkpoint = load_checkpoint(poserec_checkpoint)
    tokens, names = checkpoint["catalogue"]["item_tokens"], checkpoint["catalogue"]["item_names"]
    n_items = len(tokens) - 1
    code, out, err = run_cli(capsys, "--poses", video_poses_file, "--checkpoint", poserec_checkpoint,
                             "--format", "json", "--top-k", n_items, "--per-window")
    assert code == 0, err
    result = json.loads(out)
    assert_ranking_shape(result["video"], n_items, n_items)
    assert all(entry["token"] == tokens[entry["index"] + 1] and entry["name"] == names[entry["index"] + 1]
               for entry in result["video"])
    assert "[PAD]" not in {entry["token"] for entry in result["video"]}

    # independently: the network rebuilt by hand, scored with its own score_windows, padding column dropped
    state = checkpoint["state_dict"]
    network = PoseRecNetwork.from_hyper_parameters(state["network.item_factors"], checkpoint["config"])
    network.load_state_dict({k[len("network."):]: v for k, v in state.items() if k.startswith("network.")})
    from dataset_conversion.windows import cut_windows

    windows = cut_windows(np.load(video_poses_file), 10, 5)
    with torch.no_grad():
        expected = network.eval().score_windows(torch.from_numpy(windows))[:, 1:].numpy()
    assert result["n_windows"] == len(windows) == 7  # 42 frames: starts 0, 5, ..., 30
    got = np.array([entry["score"] for entry in result["video"]])
    np.testing.assert_allclose(got, expected.mean(0)[[entry["index"] for entry in result["video"]]], atol=1e-5)
    assert result["video"][0]["index"] == int(np.argmax(expected.mean(0)))


def test_checkpoint_plot_and_text(poserec_checkpoint, video_poses_file, tmp_path, capsys):
    plot = tmp_path / "recommendation.png"
    code, out, err = run_cli(capsys, "--poses", video_poses_file, "--checkpoint", poserec_checkpoint, "--plot", plot)
    assert code == 0, err
    assert "checkpoint" in out.splitlines()[0]
    assert plot.read_bytes()[:4] == b"\x89PNG"


def _edited_checkpoint(source: Path, target: Path, edit) -> Path:
    checkpoint = torch.load(source, weights_only=True)
    edit(checkpoint)
    torch.save(checkpoint, target)
    return target


def _drop_catalogue(checkpoint):
    del checkpoint["catalogue"]


def _other_model(checkpoint):
    checkpoint["model"] = "BPR"


def _shorter_catalogue(checkpoint):
    checkpoint["catalogue"] = {key: values[:-3] for key, values in checkpoint["catalogue"].items()}


def _other_item_factors(checkpoint):
    factors = checkpoint["state_dict"]["network.item_factors"]
    checkpoint["state_dict"]["network.item_factors"] = factors[..., :-8]  # another text encoder's width


@pytest.mark.parametrize("edit, named", [(_drop_catalogue, "catalogue"), (_other_model, "model"),
                                         (_shorter_catalogue, "catalogue"), (_other_item_factors, "state_dict")])
def test_bad_checkpoint_is_one_line_error(poserec_checkpoint, video_poses_file, tmp_path, capsys, edit, named):
    bad = _edited_checkpoint(poserec_checkpoint, tmp_path / "bad.pth", edit)
    code, _, err = run_cli(capsys, "--poses", video_poses_file, "--checkpoint", bad)
    assert_one_line_error(code, err, str(bad))
    assert named in err


def test_garbage_checkpoint_is_one_line_error(video_poses_file, tmp_path, capsys):
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"PK\x03\x04 not really a zip")
    code, _, err = run_cli(capsys, "--poses", video_poses_file, "--checkpoint", garbage)
    assert_one_line_error(code, err, str(garbage))


def test_plot_items_from_a_checkpoint(poserec_checkpoint, tmp_path):
    from recbole_poserec.plot_items import main as plot_items_main

    out = tmp_path / "items.png"
    assert plot_items_main(["--checkpoint", str(poserec_checkpoint), "--out", str(out), "--annotate", "6"]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_plot_items_items_to_annotate_takes_prototypes_in_turn():
    from recbole_poserec.plot_items import items_to_annotate

    omega = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.4, 0.6], [0.95, 0.05]])
    names = ["hat", "hat", "ball", "bow", "cap"]
    assert items_to_annotate(names, omega, 3) == [4, 2, 0]


def _nan_in_a_gcn_weight(checkpoint):
    state = checkpoint["state_dict"]
    key = next(k for k, v in state.items() if v.is_floating_point() and v.dim() > 1 and k != "network.item_factors")
    state[key].view(-1)[3] = float("nan")
    checkpoint["bad_key"] = key


def _inf_in_item_factors(checkpoint):
    checkpoint["state_dict"]["network.item_factors"][2, 0, 0] = float("inf")
    checkpoint["bad_key"] = "network.item_factors"


@pytest.mark.parametrize("edit", [_nan_in_a_gcn_weight, _inf_in_item_factors])
def test_checkpoint_with_non_finite_weights_names_the_tensor(poserec_checkpoint, video_poses_file, tmp_path, capsys,
                                                             edit):
    bad = _edited_checkpoint(poserec_checkpoint, tmp_path / "bad.pth", edit)
    key = torch.load(bad, weights_only=True)["bad_key"]
    code, out, err = run_cli(capsys, "--poses", video_poses_file, "--checkpoint", bad, "--format", "json")
    assert_one_line_error(code, err, str(bad))
    assert code == 2 and f"weight tensor {key} holds" in err and out == ""


def test_scores_that_overflow_are_one_line_error_never_nan_output(poserec_checkpoint, video_poses_file, tmp_path,
                                                                  capsys):
    """Finite float32 poses near its maximum overflow inside the network: a one-line error, no NaN output."""
    huge = tmp_path / "huge.npy"
    np.save(huge, np.load(video_poses_file) * np.float32(3e38))
    plot = tmp_path / "plot.png"
    code, out, err = run_cli(capsys, "--poses", huge, "--checkpoint", poserec_checkpoint, "--format", "json",
                             "--plot", plot)
    assert_one_line_error(code, err, f"checkpoint {poserec_checkpoint}")
    assert "overflow float32" in err and out == "" and not plot.exists()


# ------------------------------------------------------------------------------ one scorer interface


def _handmade_checkpoint(path: Path, pose_input_channels: list[int]) -> tuple[Path, torch.nn.Module]:
    """A small PoseRec checkpoint written like the trainer writes one (no training): 6 items + [PAD]."""
    from recbole_poserec.checkpoint import save_checkpoint
    from recbole_poserec.model.network import PoseRecNetwork

    torch.manual_seed(0)
    config = {"gcn_layers": 1, "num_prototypes": 2, "embedding_size": 32, "temporal_kernel": 3, "dropout": 0.0,
              "pose_input_channels": pose_input_channels}
    network = PoseRecNetwork.from_hyper_parameters(torch.randn(7, 9, 8), config).eval()
    tokens = ["[PAD]"] + [f"item{i}" for i in range(6)]
    save_checkpoint(path, {"model": "PoseRec", "dataset": "handmade", "config": config,
                           "state_dict": {f"network.{key}": value for key, value in network.state_dict().items()},
                           "catalogue": {"item_tokens": tokens, "item_names": [t.upper() for t in tokens]}})
    return path, network


def test_checkpoint_and_release_are_the_same_window_scorer(tmp_path):
    from recbole_poserec.inference.checkpoint_scorer import load_checkpoint_scorer
    from recbole_poserec.inference.reference_release import load_reference_release
    from recbole_poserec.inference.scorer import WindowScorer

    scorer = load_checkpoint_scorer(_handmade_checkpoint(tmp_path / "handmade.pth", [0, 1, 2, 3])[0])
    assert isinstance(scorer, WindowScorer)
    assert scorer.item_tokens == [f"item{i}" for i in range(6)] and scorer.item_names[0] == "ITEM0"
    item_chunks, omega = scorer.item_representations()
    assert item_chunks.shape == (6, 2, 16) and omega.shape == (6, 2)
    if RELEASE_DIR.is_dir():
        release = load_reference_release(RELEASE_DIR)
        assert isinstance(release, WindowScorer) and release.item_tokens is None
        assert release.score_windows(torch.from_numpy(load_numpy_pickle(SAMPLE)[:3]).float()).shape == (3, N_RELEASE_ITEMS)


def test_scoring_in_slices_equals_scoring_at_once(tmp_path):
    from recbole_poserec.inference.scorer import score_in_slices

    _, network = _handmade_checkpoint(tmp_path / "handmade.pth", [0, 1, 2, 3])
    windows = torch.from_numpy(np.random.default_rng(1).random((7, 10, 33, 4), dtype=np.float32))
    with torch.no_grad():
        whole = network.score_windows(windows)
        sliced = score_in_slices(network.score_windows, windows, size=3)
    assert sliced.shape == (7, 7)
    torch.testing.assert_close(sliced, whole, rtol=0, atol=1e-6)


def test_checkpoint_of_2d_poses_scores_stored_4_channel_poses(tmp_path, video_poses_file, capsys):
    """A network fed x, y, visibility only (Table 4) takes the stored (T, 33, 4) layout and picks its channels."""
    path, network = _handmade_checkpoint(tmp_path / "pose2d.pth", [0, 1, 3])
    code, out, err = run_cli(capsys, "--poses", video_poses_file, "--checkpoint", path, "--format", "json",
                             "--top-k", 6)
    assert code == 0, err
    from dataset_conversion.windows import cut_windows

    with torch.no_grad():
        expected = network.score_windows(torch.from_numpy(cut_windows(np.load(video_poses_file), 10, 5)))[:, 1:]
    expected = expected.mean(0).numpy()
    result = json.loads(out)["video"]
    assert [entry["index"] for entry in result] == list(np.argsort(-expected, kind="stable"))
    np.testing.assert_allclose([entry["score"] for entry in result], np.sort(expected)[::-1], atol=1e-6)


def test_the_one_checkpoint_loader_refuses_what_the_trainer_must_not_load(tmp_path):
    """recbole_poserec.checkpoint.load_checkpoint (the trainer's best-model reload, and recommend's): one-line errors."""
    from dataset_conversion.errors import DataError
    from recbole_poserec.checkpoint import load_checkpoint

    path, _ = _handmade_checkpoint(tmp_path / "handmade.pth", [0, 1, 2, 3])
    assert load_checkpoint(path)["model"] == "PoseRec"
    checkpoint = torch.load(path, weights_only=True)
    checkpoint["state_dict"]["network.item_side.prototypes"][1, 2] = float("nan")
    torch.save(checkpoint, tmp_path / "nan.pth")
    del checkpoint["format"]
    torch.save(checkpoint, tmp_path / "unformatted.pth")
    (tmp_path / "garbage.pth").write_bytes(b"not a checkpoint")
    for name, message in (("nan.pth", "weight tensor network.item_side.prototypes holds nan at index [1, 2]"),
                          ("unformatted.pth", "not a recbole-poserec/1 checkpoint"),
                          ("garbage.pth", "cannot load as a weights-only checkpoint"),
                          ("missing.pth", "checkpoint file not found")):
        with pytest.raises(DataError) as caught:
            load_checkpoint(tmp_path / name)
        assert str(caught.value).startswith(str(tmp_path / name)) and message in str(caught.value)
        assert "\n" not in str(caught.value)
