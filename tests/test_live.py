"""Live recommendation end to end: real MediaPipe on a video made from a real photograph, a trained PoseRec
checkpoint and the authors' release, real threads, real HTTP; checked against the converter's windows and
``recommend``'s mean aggregation."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_assertions import assert_one_error_line

from dataset_conversion.pose_extraction import extract_video_poses
from dataset_conversion.windows import cut_windows
from recbole_poserec.evaluation.aggregation import aggregate_window_scores
from recbole_poserec.inference.loader import load_scorer
from recbole_poserec.live.__main__ import main
from recbole_poserec.live.stream import LiveWindows, PersonFrame, RunningMean
from recbole_poserec.recommend import AGGREGATION, recommend

REPO_ROOT = Path(__file__).resolve().parents[1]
RELEASE = REPO_ROOT.parent / "shared" / "reference-release"
N_FRAMES = 30
GAP = range(12, 18)  # frames without a person: the windows pause
TOP_K = 5


def write_astronaut_video(path: Path, n_frames: int, fps: float, gap=range(0)) -> Path:
    """``skimage.data.astronaut()`` (256 x 256) shifted a few pixels per frame; grey frames in ``gap``."""
    import cv2
    from skimage import data

    image = cv2.resize(data.astronaut(), (256, 256))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (256, 256))
    assert writer.isOpened()
    for k in range(n_frames):
        frame = np.full_like(image, 128) if k in gap else np.roll(image, shift=(k % 40, 2 * (k % 40)), axis=(0, 1))
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def train_tiny_checkpoint(root: Path) -> Path:
    """A PoseRec checkpoint trained for one epoch (one thread) on the tiny hand-made dataset of conftest."""
    from conftest import write_tiny_raw
    from dataset_conversion.convert import convert_raw_dataset
    from recbole_poserec.quick_start import run_recbole

    convert_raw_dataset(write_tiny_raw(root / "raw"), root / "atomic", "live-tiny", cache_dir=root / "text-cache")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = run_recbole(
            model="PoseRec", dataset="live-tiny",
            config_file_list=[str(REPO_ROOT / "properties" / "dataset" / "pose-obe.yaml")],
            config_dict={"data_path": str(root / "atomic"), "epochs": 1, "topk": [5], "valid_metric": "NDCG@5",
                         "show_progress": False, "state": "WARNING", "checkpoint_dir": str(root / "checkpoint")},
        )
    finally:
        torch.set_num_threads(threads)
    return Path(result["checkpoint"])


@pytest.fixture(scope="module")
def live_video(tmp_path_factory) -> Path:
    return write_astronaut_video(tmp_path_factory.mktemp("live") / "astronaut.avi", N_FRAMES, 10.0, GAP)


@pytest.fixture(scope="module")
def person_poses(live_video) -> np.ndarray:
    """The converter's poses of the video: MediaPipe in video mode, person-less frames dropped."""
    return extract_video_poses(live_video)


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> Path:
    return train_tiny_checkpoint(tmp_path_factory.mktemp("live-checkpoint"))


@pytest.fixture(params=["checkpoint", "reference-release"])
def model_args(request) -> list[str]:
    if request.param == "checkpoint":
        return ["--checkpoint", str(request.getfixturevalue("tiny_checkpoint"))]
    if not RELEASE.is_dir():
        pytest.skip(f"the authors' release is not at {RELEASE}")
    return ["--reference-release", str(RELEASE)]


@pytest.fixture(autouse=True)
def restore_thread_settings():
    """The command caps torch's and OpenCV's threads for its process; give other tests theirs back."""
    import cv2

    torch_threads, cv2_threads = torch.get_num_threads(), cv2.getNumThreads()
    yield
    torch.set_num_threads(torch_threads)
    cv2.setNumThreads(cv2_threads)


def run_live(capfd, *args) -> tuple[int, list[dict], str]:
    """Run the command in this process; ``capfd`` also sees what native code writes to fds 1 and 2 (what
    fixtures wrote before is dropped first)."""
    capfd.readouterr()
    code = main([str(arg) for arg in args])
    captured = capfd.readouterr()
    return code, [json.loads(line) for line in captured.out.splitlines()], captured.err


def test_windows_match_the_converter_and_the_running_top_k_is_recommends_mean(
        capfd, live_video, person_poses, model_args):
    code, lines, err = run_live(capfd, "--source", live_video, *model_args, "--top-k", TOP_K)
    assert code == 0, err
    assert err == ""  # MediaPipe's and OpenCV's native logs stay off stderr too (fd 2 was silenced)
    *windows, summary = lines
    assert summary["type"] == "summary" and all(line["type"] == "window" for line in windows)

    expected = cut_windows(person_poses, 10, 5)
    assert len(expected) >= 3
    assert len(windows) == len(expected) == summary["windows"]
    assert summary["frames_read"] == summary["frames_processed"] == N_FRAMES and summary["frames_dropped"] == 0
    assert summary["frames_with_person"] == len(person_poses) <= N_FRAMES - len(GAP)
    assert [line["window"] for line in windows] == list(range(len(windows)))
    # the person-less stretch pauses the windows: no window ends in it, and one spans it (frames are dropped)
    last_frames = [line["frame"] for line in windows]
    assert not set(last_frames) & set(GAP) and last_frames == sorted(last_frames)
    assert any(line["frame"] - 9 < GAP.start and line["frame"] >= GAP.stop for line in windows)
    assert all(line["frame_time"] == pytest.approx(line["frame"] / 10.0) for line in windows)
    assert all(line["latency_ms"] >= line["score_ms"] > 0 for line in windows)

    model = load_scorer(*((model_args[1], None) if model_args[0] == "--checkpoint" else (None, model_args[1])))
    for line in windows:
        so_far = recommend(model, expected[: line["window"] + 1], TOP_K, per_window=True)
        for live_ranking, reference in ((line["video_top_k"], so_far.video),
                                        (line["window_top_k"], so_far.windows[line["window"]])):
            assert [entry["index"] for entry in live_ranking] == [entry.index for entry in reference]
            assert [entry["name"] for entry in live_ranking] == [entry.name for entry in reference]
            np.testing.assert_allclose([entry["score"] for entry in live_ranking],
                                       [entry.score for entry in reference], rtol=1e-5, atol=1e-6)
    assert summary["video_top_k"] == windows[-1]["video_top_k"] and summary["aggregation"] == AGGREGATION


def test_realtime_drops_frames_it_cannot_keep_up_with_and_counts_them(capfd, tmp_path):
    """At 200 frames per second (5 ms a frame) BlazePose cannot keep up: frames are dropped, never queued."""
    if not RELEASE.is_dir():
        pytest.skip(f"the authors' release is not at {RELEASE}")
    video = write_astronaut_video(tmp_path / "fast.avi", 800, 200.0)  # 4 s: windows even on a loaded machine
    code, lines, err = run_live(capfd, "--source", video, "--reference-release", RELEASE, "--realtime")
    assert code == 0, err
    *windows, summary = lines
    assert summary["frames_read"] == 800
    assert summary["frames_dropped"] > 0
    assert summary["frames_processed"] + summary["frames_dropped"] == summary["frames_read"]
    assert summary["elapsed_s"] >= 0.9 * 800 / 200  # paced at the frame rate, not read as fast as possible
    dropped = [line["frames_dropped"] for line in windows]
    assert dropped == sorted(dropped) and dropped[-1] <= summary["frames_dropped"]
    assert len(windows) == len(range(0, summary["frames_with_person"] - 10, 5)) > 0
    # without --realtime the same reader waits for the pipeline: test_windows_match_... sees no drop


def test_live_windows_keep_only_what_is_still_needed_and_mean_like_recommend():
    if not RELEASE.is_dir():
        pytest.skip(f"the authors' release is not at {RELEASE}")
    model = load_scorer(None, str(RELEASE))
    poses = np.random.default_rng(0).random((47, 33, 4), dtype=np.float32)
    live = LiveWindows(model, window=10, step=3, top_k=4)
    scored = []
    for k, pose in enumerate(poses):
        scored += live.add(pose, PersonFrame(k, k / 30, time.perf_counter()))
        assert len(live._poses) <= 10 + 3
    assert [window.start for window in scored] == list(range(0, 47 - 10, 3))
    assert [window.last_frame.number for window in scored] == [s + 9 for s in range(0, 47 - 10, 3)]
    reference = recommend(model, cut_windows(poses, 10, 3), 4)
    assert [entry.index for entry in live.video_top_k] == [entry.index for entry in reference.video]

    rows = torch.from_numpy(np.random.default_rng(1).random((7, 5), dtype=np.float32))
    running = RunningMean(5)
    for row in rows:
        mean = running.add(row)
    expected = aggregate_window_scores(rows, torch.zeros(7, dtype=torch.long), 1, "mean")[0]
    torch.testing.assert_close(mean, expected)


@pytest.fixture
def served_video(live_video):
    """``live_video`` on a local HTTP server, as a stream that stops after its last frame."""
    class QuietHandler(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(live_video.parent)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/{live_video.name}"
    server.shutdown()
    server.server_close()


def test_a_stream_that_stops_is_one_error_line_after_its_windows(capfd, served_video, tiny_checkpoint):
    code, lines, err = run_live(capfd, "--source", served_video, "--checkpoint", tiny_checkpoint)
    assert code == 2
    assert err == f"error: --source {served_video}: the stream stopped after {N_FRAMES} frames\n"
    assert lines[-1]["type"] == "summary" and lines[-1]["frames_read"] == N_FRAMES
    # a live source never waits for the pipeline: what it could not take was dropped and counted
    assert lines[-1]["frames_processed"] + lines[-1]["frames_dropped"] == N_FRAMES


@pytest.mark.parametrize("source, message", [
    ("{tmp}/missing.avi", "video file not found"),
    ("{tmp}", "not a regular file"),
    ("{tmp}/garbage.avi", "unreadable video"),
    ("{tmp}/grey.avi", "0 of the 12 frames posed show a person (0 dropped); at least 11 are needed"),
    ("http://127.0.0.1:9/none.avi", "cannot open the stream"),
])
def test_bad_sources_are_one_line(capfd, tmp_path, tiny_checkpoint, source, message):
    (tmp_path / "garbage.avi").write_bytes(b"not a video at all" * 200)
    import cv2

    writer = cv2.VideoWriter(str(tmp_path / "grey.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 64))
    for _ in range(12):
        writer.write(np.full((64, 64, 3), 128, np.uint8))
    writer.release()
    source = source.format(tmp=tmp_path)
    code, lines, err = run_live(capfd, "--source", source, "--checkpoint", tiny_checkpoint)
    assert code == 2
    assert assert_one_error_line(err, message).startswith(f"error: --source {source}: ")
    assert all(line["type"] == "summary" for line in lines)  # no window line


def test_no_camera_is_one_line_with_no_native_noise(capfd, tiny_checkpoint):
    """OpenCV warns about a missing camera on fd 2; ``capfd`` would see it."""
    code, lines, err = run_live(capfd, "--source", "57", "--checkpoint", tiny_checkpoint)
    assert code == 2
    assert err == "error: --source 57: no camera at index 57\n" and lines == []


def test_ctrl_c_ends_cleanly_with_a_summary(capfd, tmp_path, tiny_checkpoint):
    """SIGINT to this process while a 20 s video plays in real time: ``interrupted``, 130, a summary line."""
    video = write_astronaut_video(tmp_path / "long.avi", 400, 20.0)
    timer = threading.Timer(4.0, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        code, lines, err = run_live(capfd, "--source", video, "--checkpoint", tiny_checkpoint, "--realtime")
    finally:
        timer.cancel()
    assert code == 130
    assert err == "interrupted\n"
    summary = lines[-1]
    assert summary["type"] == "summary" and summary["interrupted"] is True
    assert 0 < summary["frames_read"] < 400
    assert all(line["type"] == "window" for line in lines[:-1])


def test_a_port_in_use_and_a_bad_top_k_are_one_line(capfd, live_video, tiny_checkpoint):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, lines, err = run_live(capfd, "--source", live_video, "--checkpoint", tiny_checkpoint, "--serve", port)
    assert code == 2 and lines == []
    assert assert_one_error_line(err, "cannot listen on 127.0.0.1").startswith(f"error: --serve {port}: ")
    code, lines, err = run_live(capfd, "--source", live_video, "--checkpoint", tiny_checkpoint, "--top-k", 10**6)
    assert code == 2 and lines == []
    assert_one_error_line(err, "--top-k", "catalogue")
