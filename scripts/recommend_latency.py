"""Latency of recommending for one video (pose extraction + scoring) against MediaPipe alone on the same frames.

Usage::

    .venv/bin/python scripts/recommend_latency.py [--frames 60] [--repeats 3]
        [--reference-release ../shared/reference-release | --checkpoint FILE] [--json]

A video of ``--frames`` frames is made from a real photograph (skimage's astronaut on a wider canvas,
shifted a few pixels per frame) and written as MJPG ``.avi``. Then, ``--repeats`` times, alternating:

* **MediaPipe alone**: the frames, decoded beforehand, go through a fresh BlazePose graph
  (``create_pose_estimator`` + ``process`` per frame + ``close``) -- the least any pose-based
  recommender must spend; the time of ``process`` alone is reported too;
* **recommend**: what the CLI does per video once its model is loaded --
  :func:`recbole_poserec.recommend.load_video` (decode, BlazePose, windowing) then
  :func:`recbole_poserec.recommend.recommend` (ST-GCN on all windows, one matrix product, mean, top-k).

Medians are reported with the ratio recommend / MediaPipe alone, all measured in one run. The model's
load time and one whole CLI subprocess (imports included) are reported separately.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from dataset_conversion.layout import DEFAULT_STEP, DEFAULT_WINDOW  # noqa: E402
from dataset_conversion.pose_extraction import create_pose_estimator  # noqa: E402
from recbole_poserec.inference.loader import load_scorer  # noqa: E402
from recbole_poserec.recommend import load_video, native_stderr_silenced, recommend  # noqa: E402

DEFAULT_RELEASE = REPO_ROOT / ".." / "shared" / "reference-release"


def astronaut_video(path: Path, n_frames: int, fps: float = 25) -> list[np.ndarray]:
    """Write an MJPG video of a real photograph moving slowly; return its RGB frames as decoded back."""
    import cv2
    from skimage import data

    person = data.astronaut()
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (640, 576))
    for t in range(n_frames):
        canvas = np.full((576, 640, 3), 235, np.uint8)
        dx, dy = 20 + (t % 30) * 3, 32 + (t % 4)
        canvas[dy:dy + 512, dx:dx + 512] = person
        writer.write(cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
    writer.release()
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    capture.release()
    return frames


def time_mediapipe_alone(frames: list[np.ndarray]) -> tuple[float, float, int]:
    """(seconds with graph creation and close, seconds of ``process`` calls only, frames with a person)."""
    started = time.perf_counter()
    with native_stderr_silenced():
        estimator = create_pose_estimator()
        process_started = time.perf_counter()
        detected = sum(estimator.process(frame).pose_landmarks is not None for frame in frames)
        process_seconds = time.perf_counter() - process_started
        estimator.close()
    return time.perf_counter() - started, process_seconds, detected


def time_recommend(model, video: Path, top_k: int = 5) -> tuple[float, float, int]:
    """(seconds for extraction + windowing, seconds for scoring + ranking, number of windows)."""
    started = time.perf_counter()
    poses = load_video(video, DEFAULT_WINDOW, DEFAULT_STEP)
    extracted = time.perf_counter()
    recommend(model, poses.windows, top_k)
    return extracted - started, time.perf_counter() - extracted, len(poses.windows)


def time_cli(video: Path, model_args: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "recbole_poserec.recommend", "--video", str(video), *model_args,
                    "--format", "json"], cwd=REPO_ROOT, check=True, capture_output=True)
    return time.perf_counter() - started


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    model_group = parser.add_mutually_exclusive_group()
    model_group.add_argument("--reference-release", default=str(DEFAULT_RELEASE.resolve()))
    model_group.add_argument("--checkpoint")
    parser.add_argument("--no-cli", action="store_true", help="skip the whole-CLI subprocess timing")
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    args = parser.parse_args(argv)

    import torch

    started = time.perf_counter()
    model = load_scorer(args.checkpoint, None if args.checkpoint else args.reference_release)
    load_seconds = time.perf_counter() - started
    model_args = ["--checkpoint", args.checkpoint] if args.checkpoint else ["--reference-release", args.reference_release]

    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "astronaut.avi"
        frames = astronaut_video(video, args.frames)
        time_recommend(model, video)  # warm-up: first-call costs (allocators, lazy imports) out of the figures
        alone, process_only, pipeline_extract, pipeline_score = [], [], [], []
        for _ in range(args.repeats):
            total, process, detected = time_mediapipe_alone(frames)
            alone.append(total)
            process_only.append(process)
            extract, score, n_windows = time_recommend(model, video)
            pipeline_extract.append(extract)
            pipeline_score.append(score)
        cli_seconds = None if args.no_cli else time_cli(video, model_args)

    pipeline = [e + s for e, s in zip(pipeline_extract, pipeline_score)]
    report = {
        "frames": len(frames),
        "frames_with_person": detected,
        "windows": n_windows,
        "repeats": args.repeats,
        "torch_threads": torch.get_num_threads(),
        "load_average_1min": os.getloadavg()[0],
        "model": model.source,
        "model_load_s": load_seconds,
        "mediapipe_alone_s": statistics.median(alone),
        "mediapipe_process_only_s": statistics.median(process_only),
        "recommend_extraction_s": statistics.median(pipeline_extract),
        "recommend_scoring_s": statistics.median(pipeline_score),
        "recommend_total_s": statistics.median(pipeline),
        "ratio_recommend_vs_mediapipe_alone": statistics.median(pipeline) / statistics.median(alone),
        "ratio_recommend_vs_mediapipe_process_only": statistics.median(pipeline) / statistics.median(process_only),
        "cli_subprocess_s": cli_seconds,
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for key, value in report.items():
            print(f"{key:>42}: {value:.4f}" if isinstance(value, float) else f"{key:>42}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
