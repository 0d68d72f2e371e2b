"""3D human poses from videos with MediaPipe BlazePose (the pose model bundled in mediapipe 0.10.21).

Per video: frames are read with OpenCV (BGR -> RGB) and fed in order to
``mediapipe.solutions.pose.Pose(static_image_mode=False, model_complexity=1)`` (video mode, so the
tracker follows the person from frame to frame). For every frame in which a person is detected the
33 ``results.pose_landmarks.landmark`` entries give x, y (normalised image coordinates), z (depth
relative to the hips, in roughly the same scale as x) and visibility -- the authors' convention.
Frames without a detection are dropped. The result is a float32 (T, 33, 4) array.

:func:`extract_directory` runs that over every video of a folder with a process pool (one
MediaPipe graph per worker, reset between videos), writes ``RAW/poses/<stem>.npy`` atomically,
skips videos whose pose file already exists (resumable) and reports failures by name. Workers
ignore SIGINT: Ctrl-C reaches the parent, which stops the pool (a pose file being written is a
temporary, removed by the next run, :mod:`.atomic`). Each worker uses one OpenCV thread.
:mod:`.ray_extraction` runs the same per-video work (:func:`extract_or_error`) as Ray tasks.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .atomic import atomic_save_npy
from .errors import DataError
from .layout import NUM_CHANNELS, NUM_LANDMARKS, POSES_DIR

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm")
MODEL_COMPLEXITY = 1


def extraction_module(name: str, source):
    """``import name`` (``cv2`` or ``mediapipe``); a missing one is a one-line :class:`DataError` naming ``source``."""
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError as err:
        raise DataError(source, f"pose extraction needs OpenCV and MediaPipe, which are not installed here "
                                f"({err}); install the pinned set with setup.sh") from None


def create_pose_estimator():
    """A BlazePose graph in video mode (the bundled full landmark model; nothing is downloaded)."""
    os.environ.setdefault("GLOG_minloglevel", "2")  # keep MediaPipe's C++ INFO lines off stderr
    mp = extraction_module("mediapipe", "mediapipe")
    return mp.solutions.pose.Pose(
        static_image_mode=False,
        model_complexity=MODEL_COMPLEXITY,
        smooth_landmarks=True,
        enable_segmentation=False,
        min_detection_confidence=0.5,
        min_tracking_confidence=0.5,
    )


def _landmarks_array(landmarks) -> np.ndarray:
    """(33, 4) x, y, z, visibility of one detection."""
    return np.array([(p.x, p.y, p.z, p.visibility) for p in landmarks.landmark], dtype=np.float32)


def extract_video_poses(video_path: str | os.PathLike, estimator=None) -> np.ndarray:
    """Float32 (T, 33, 4) poses of the frames of ``video_path`` in which a person is detected.

    ``estimator``: a graph from :func:`create_pose_estimator` to reuse (it is reset first, so no
    tracking state leaks between videos); by default a fresh one is created and closed.
    Raises :class:`DataError` naming the file if it cannot be read or no person is found in any frame.
    """
    video_path = Path(video_path)
    if not video_path.is_file():
        raise DataError(video_path, "video file not found")
    cv2 = extraction_module("cv2", video_path)
    capture = cv2.VideoCapture(str(video_path))
    if not capture.isOpened():
        capture.release()
        raise DataError(video_path, "unreadable video (OpenCV cannot open it)")
    own_estimator = estimator is None
    if own_estimator:
        estimator = create_pose_estimator()
    else:
        estimator.reset()
    poses, n_frames = [], 0
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            n_frames += 1
            results = estimator.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
            if results.pose_landmarks is not None:
                poses.append(_landmarks_array(results.pose_landmarks))
    finally:
        capture.release()
        if own_estimator:
            estimator.close()
    if n_frames == 0:
        raise DataError(video_path, "unreadable video (no frame could be decoded)")
    if not poses:
        raise DataError(video_path, f"no person detected in any of its {n_frames} frames")
    array = np.stack(poses)
    assert array.shape[1:] == (NUM_LANDMARKS, NUM_CHANNELS)
    return array


# ------------------------------------------------------------------------------------ directories


def list_videos(videos_dir: str | os.PathLike) -> list[Path]:
    """Video files (by extension, case-insensitive) directly in ``videos_dir``, sorted by name."""
    videos_dir = Path(videos_dir)
    if not videos_dir.is_dir():
        raise DataError(videos_dir, "not a directory; expected the folder of videos" if videos_dir.exists()
                        else "videos directory not found")  # fmt: skip
    return sorted(p for p in videos_dir.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS)


@dataclass
class ExtractionReport:
    """What :func:`extract_directory` did."""

    written: list[str]
    skipped: list[str]
    failed: dict[str, str]  # video file name -> one-line error

    @property
    def ok(self) -> bool:
        return not self.failed


_WORKER_ESTIMATOR = None


def limit_threads() -> None:
    """One thread for OpenCV's own work (decoding aside) in an extraction process: each worker or Ray task has one core."""
    extraction_module("cv2", "cv2").setNumThreads(1)


def _init_worker() -> None:
    global _WORKER_ESTIMATOR
    limit_threads()
    _WORKER_ESTIMATOR = create_pose_estimator()


def _init_pool_worker() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and terminates the pool
    _init_worker()


def _close_worker() -> None:
    global _WORKER_ESTIMATOR
    if _WORKER_ESTIMATOR is not None:
        _WORKER_ESTIMATOR.close()
        _WORKER_ESTIMATOR = None


def extract_or_error(video_path: str) -> tuple[str, np.ndarray | None, str | None]:
    """In a worker process: (video file name, poses, None), or (video file name, None, one-line error).

    The process's BlazePose graph is made on first use and reused (reset) for its later videos.
    """
    if _WORKER_ESTIMATOR is None:
        _init_worker()
    name = Path(video_path).name
    try:
        return name, extract_video_poses(video_path, _WORKER_ESTIMATOR), None
    except DataError as err:
        return name, None, str(err)
    except Exception as err:  # noqa: BLE001 -- one bad video must not stop the others
        return name, None, str(DataError(video_path, f"{type(err).__name__}: {err}"))


def write_poses(video_path: str, out_path: str, poses: np.ndarray) -> str | None:
    """Write ``out_path`` atomically; the one-line error naming the video if that fails, else None."""
    try:
        atomic_save_npy(out_path, poses)
    except DataError as err:
        return str(err)
    except Exception as err:  # noqa: BLE001
        return str(DataError(video_path, f"{type(err).__name__}: {err}"))
    return None


def _extract_one(job: tuple[str, str]) -> tuple[str, str | None]:
    """Pool worker: extract one video and write its pose file; return (video name, error or None)."""
    video_path, out_path = job
    name, poses, error = extract_or_error(video_path)
    if poses is not None:
        error = write_poses(video_path, out_path, poses)
    return name, error


def plan_extraction(videos_dir: str | os.PathLike, raw_dir: str | os.PathLike) -> tuple[ExtractionReport,
                                                                                           list[tuple[str, str]]]:
    """The report listing the videos already done (their pose file exists) and the (video, pose file) jobs left.

    A ``raw_dir`` or ``poses`` that is a file is a :class:`DataError`. Nothing is written.
    """
    poses_dir = Path(raw_dir) / POSES_DIR
    videos = list_videos(videos_dir)
    for folder in (Path(raw_dir), poses_dir):
        if folder.exists() and not folder.is_dir():
            raise DataError(folder, "exists and is not a directory")
    report = ExtractionReport(written=[], skipped=[], failed={})
    jobs = []
    for video in videos:
        target = poses_dir / f"{video.stem}.npy"
        if target.exists():
            report.skipped.append(video.name)
        else:
            jobs.append((str(video), str(target)))
    return report, jobs


def make_poses_dir(raw_dir: str | os.PathLike) -> None:
    """Create ``raw_dir/poses/`` (and ``raw_dir``) if missing; a one-line :class:`DataError` if that fails."""
    poses_dir = Path(raw_dir) / POSES_DIR
    try:
        poses_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DataError(poses_dir, f"cannot create this directory ({err.strerror or err})") from None


@contextlib.contextmanager
def extraction_progress(report: ExtractionReport, total: int, progress: bool, stderr):
    """``record(video name, error or None)`` for each finished video: fills ``report``, moves the progress
    bar and prints a failure (one line) as it happens. The bar is closed on leaving, however that happens."""
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc="extracting poses", unit="video", disable=not progress, file=stderr)

    def record(name: str, error: str | None) -> None:
        if error is None:
            report.written.append(name)
        else:
            report.failed[name] = error
            bar.write(f"error: {error}", file=stderr)
        bar.update(1)

    try:
        yield record
    finally:
        bar.close()


def extract_directory(
    videos_dir: str | os.PathLike,
    raw_dir: str | os.PathLike,
    workers: int | None = None,
    progress: bool = True,
    stderr=None,
) -> ExtractionReport:
    """Extract poses of every video in ``videos_dir`` into ``raw_dir/poses/<stem>.npy``.

    Existing pose files are skipped; failures are printed (one line each) to ``stderr`` as they
    happen and collected in the report. ``workers``: processes (default: all cores).
    """
    stderr = stderr or sys.stderr
    report, jobs = plan_extraction(videos_dir, raw_dir)
    if not jobs:
        return report
    make_poses_dir(raw_dir)
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    with extraction_progress(report, len(jobs), progress, stderr) as record:
        if workers == 1:
            _init_worker()
            try:
                for job in jobs:
                    record(*_extract_one(job))
            finally:
                _close_worker()
        else:
            # spawn: a clean interpreter per worker (no forked MediaPipe/torch state)
            with multiprocessing.get_context("spawn").Pool(workers, initializer=_init_pool_worker) as pool:
                for result in pool.imap_unordered(_extract_one, jobs):
                    record(*result)
    return report
