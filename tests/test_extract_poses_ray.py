"""``extract-poses --ray``: real MediaPipe in the tasks of a real local Ray instance (one per module, shut down
at its end), against the local process pool on the same videos made from a real photograph."""

from __future__ import annotations

import os
import socket

import numpy as np
import pytest

from cli_assertions import assert_one_error_line
from dataset_conversion.__main__ import main
from dataset_conversion.pose_extraction import extract_directory, extract_or_error
from dataset_conversion.ray_extraction import TASK_RETRIES, extract_directory_ray, ray_session, run_tasks
from test_extract_poses import write_video

N_FRAMES = 10


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """Three short videos of ``skimage.data.astronaut()``: moving right, moving down, mirrored."""
    import cv2
    from skimage import data

    image = cv2.resize(data.astronaut(), (224, 224))
    folder = tmp_path_factory.mktemp("videos")
    motions = {"right": (0, 3), "down": (3, 0), "mirror": (1, 1)}
    for name, (dy, dx) in motions.items():
        base = image[:, ::-1] if name == "mirror" else image
        write_video(folder / f"{name}.avi", [np.roll(base, (k * dy, k * dx), (0, 1)) for k in range(N_FRAMES)])
    return folder


@pytest.fixture(scope="module")
def pool_poses(videos, tmp_path_factory) -> dict[str, bytes]:
    """Pose files (bytes) written by the local process pool, 2 workers."""
    raw = tmp_path_factory.mktemp("pool_raw")
    report = extract_directory(videos, raw, workers=2, progress=False)
    assert report.ok and len(report.written) == 3
    return {p.name: p.read_bytes() for p in (raw / "poses").iterdir()}


@pytest.fixture(scope="module")
def ray(pool_poses):  # after the pool: the two do not share the 2 cores
    with ray_session(num_cpus=2) as ray:
        assert ray.cluster_resources()["CPU"] == 2
        yield ray
    assert not ray.is_initialized()  # the local instance started by ray_session is shut down


def extract(videos, raw, *extra) -> int:
    return main(["extract-poses", "--videos", str(videos), "--raw", str(raw), "--ray", *extra, "--quiet"])


def test_ray_writes_the_local_pools_bytes_and_resumes(ray, videos, pool_poses, tmp_path, capsys):
    raw = tmp_path / "raw"
    assert extract(videos, raw) == 0
    assert "poses written: 3, skipped (already done): 0, failed: 0" in capsys.readouterr().out
    written = {p.name: p.read_bytes() for p in (raw / "poses").iterdir()}
    assert sorted(written) == ["down.npy", "mirror.npy", "right.npy"]  # nothing else: no temporaries
    assert written == pool_poses  # bit for bit
    poses = np.load(raw / "poses" / "right.npy", allow_pickle=False)
    assert poses.dtype == np.float32 and poses.shape[1:] == (33, 4) and len(poses) >= N_FRAMES - 2
    assert not np.array_equal(poses[:, :, 0], np.load(raw / "poses" / "mirror.npy")[: len(poses), :, 0])

    mtimes = {p.name: p.stat().st_mtime_ns for p in (raw / "poses").iterdir()}
    (raw / "poses" / "down.npy").unlink()  # an interrupted run: one video left to do
    report = extract_directory_ray(videos, raw, progress=False, in_flight=1)
    assert report.skipped == ["mirror.avi", "right.avi"] and report.written == ["down.avi"]
    assert (raw / "poses" / "down.npy").read_bytes() == pool_poses["down.npy"]
    assert all((raw / "poses" / n).stat().st_mtime_ns == mtimes[n] for n in ("mirror.npy", "right.npy"))


def test_a_bad_video_is_named_and_not_written(ray, videos, tmp_path, capsys):
    folder = tmp_path / "videos"
    folder.mkdir()
    (folder / "right.avi").write_bytes((videos / "right.avi").read_bytes())
    (folder / "broken.mp4").write_bytes(b"\x00\x01garbage" * 500)
    raw = tmp_path / "raw"
    assert extract(folder, raw) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "broken.mp4" in err[0] and "unreadable video" in err[0]
    assert err[1] == "failed videos: broken.mp4"
    assert sorted(p.name for p in (raw / "poses").iterdir()) == ["right.npy"]


def test_a_dying_task_is_retried_then_named(ray, videos, pool_poses, tmp_path):
    attempts_dir = tmp_path / "attempts"
    attempts_dir.mkdir()

    def die_first(video_path):  # a worker process that dies: on every attempt for crash.avi, on the first for right
        name = os.path.basename(video_path)
        attempt = len(list(attempts_dir.glob(f"{name}.*")))
        (attempts_dir / f"{name}.{attempt}").touch()
        if name == "crash.avi" or attempt == 0:
            os._exit(1)
        return extract_or_error(video_path)

    raw_poses = tmp_path / "raw" / "poses"
    raw_poses.mkdir(parents=True)
    jobs = [(str(videos / n), str(raw_poses / f"{n[:-4]}.npy")) for n in ("right.avi", "crash.avi")]
    recorded = {}
    task = ray.remote(num_cpus=1, max_retries=TASK_RETRIES)(die_first)
    run_tasks(ray, task, jobs, in_flight=2, record=recorded.__setitem__)
    assert recorded["right.avi"] is None and (raw_poses / "right.npy").read_bytes() == pool_poses["right.npy"]
    assert "crash.avi" in recorded["crash.avi"] and "\n" not in recorded["crash.avi"]
    assert len(list(attempts_dir.glob("crash.avi.*"))) == 1 + TASK_RETRIES
    assert sorted(p.name for p in raw_poses.iterdir()) == ["right.npy"]


def test_an_unreachable_cluster_is_one_line(videos, tmp_path, capsys):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert extract(videos, tmp_path / "raw", f"127.0.0.1:{port}") == 2
    assert_one_error_line(capsys.readouterr().err, "error: --ray:", f"127.0.0.1:{port}", "ray start --head")
    assert not (tmp_path / "raw").exists()  # nothing written
