"""A real MediaPipe BlazePose run on a short video made from a real photograph, and the CLI around it."""

from __future__ import annotations

import numpy as np
import pytest

from dataset_conversion.__main__ import main
from dataset_conversion.errors import DataError
from dataset_conversion.pose_extraction import extract_video_poses

N_FRAMES = 12


def write_video(path, frames) -> None:
    import cv2

    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (width, height))
    assert writer.isOpened()
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()


@pytest.fixture(scope="module")
def astronaut_video(tmp_path_factory):
    """12 frames of ``skimage.data.astronaut()`` (a person, half-size) shifted a few pixels each frame."""
    import cv2
    from skimage import data

    image = cv2.resize(data.astronaut(), (256, 256))
    frames = [np.roll(image, shift=(k, 2 * k), axis=(0, 1)) for k in range(N_FRAMES)]
    path = tmp_path_factory.mktemp("videos") / "astronaut.avi"
    write_video(path, frames)
    return path


def test_extract_video_poses_on_a_real_person(astronaut_video):
    poses = extract_video_poses(astronaut_video)
    assert poses.dtype == np.float32 and poses.ndim == 3 and poses.shape[1:] == (33, 4)
    assert 1 <= len(poses) <= N_FRAMES and len(poses) >= N_FRAMES - 2  # a person in (nearly) every frame
    assert np.isfinite(poses).all()
    visibility = poses[..., 3]
    assert ((visibility >= 0) & (visibility <= 1)).all()
    # normalised image coordinates of a person standing in the picture
    nose = poses[:, 0, :2]
    assert ((nose > 0) & (nose < 1)).all()


def test_unreadable_video_and_no_person(tmp_path):
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"this is not a video at all" * 100)
    with pytest.raises(DataError, match="garbage.mp4"):
        extract_video_poses(garbage)
    empty_scene = tmp_path / "grey.avi"
    write_video(empty_scene, [np.full((64, 64, 3), 128, np.uint8)] * 3)
    with pytest.raises(DataError, match="no person detected"):
        extract_video_poses(empty_scene)


def test_cli_reports_bad_videos_and_resumes(astronaut_video, tmp_path, capsys):
    videos = tmp_path / "videos"
    videos.mkdir()
    (videos / "dance.avi").write_bytes(astronaut_video.read_bytes())
    (videos / "broken.mp4").write_bytes(b"\x00\x01garbage" * 500)
    (videos / "notes.txt").write_text("not a video extension: ignored")
    raw = tmp_path / "raw"

    code = main(["extract-poses", "--videos", str(videos), "--raw", str(raw), "--workers", "2", "--quiet"])
    captured = capsys.readouterr()
    assert code != 0
    assert "broken.mp4" in captured.err and "dance.avi" not in captured.err
    written = sorted(p.name for p in (raw / "poses").iterdir())
    assert written == ["dance.npy"]  # nothing for the broken one, no temporary files
    poses = np.load(raw / "poses" / "dance.npy", allow_pickle=False)
    assert poses.shape[1:] == (33, 4) and poses.dtype == np.float32
    mtime = (raw / "poses" / "dance.npy").stat().st_mtime_ns

    (videos / "broken.mp4").unlink()  # second run: the finished video is skipped
    code = main(["extract-poses", "--videos", str(videos), "--raw", str(raw), "--workers", "2", "--quiet"])
    captured = capsys.readouterr()
    assert code == 0 and "skipped (already done): 1" in captured.out
    assert (raw / "poses" / "dance.npy").stat().st_mtime_ns == mtime
