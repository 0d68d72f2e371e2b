"""Throughput and latency of live recommendation against MediaPipe alone, on a real-image video, in one run.

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python scripts/live_throughput.py [--frames 300] [--fps 30]
        [--reference-release ../shared/reference-release | --checkpoint FILE] [--json]

A video of ``--frames`` frames at ``--fps`` is made from a real photograph (skimage's astronaut on a
640 x 576 canvas, moving a few pixels per frame; MJPG ``.avi``). Then, in this order:

1. **MediaPipe alone**: the frames, decoded beforehand, through a fresh BlazePose graph in video mode with
   the full model (``create_pose_estimator``; ``process`` per frame) -- frames per second of ``process``;
2. **live, as fast as it goes**: ``python -m recbole_poserec.live --source VIDEO`` run in this process
   (reader thread, BlazePose, windows, scoring, JSON lines): frames per second from its summary line, and
   each window's latency (its last frame read -> its top-k) and scoring time;
3. **live, --realtime**: the same video paced at its frame rate, as a camera delivers it: latency and drops.

Ratios are to MediaPipe alone in the same run: live fps / MediaPipe fps, and latency / MediaPipe's time
per frame. Targets (issue 17): >= 25 fps with the full model on 2 cores, <= 100 ms from a window's last
frame to its top-k. The load average is printed before and after: other processes share the cores.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from dataset_conversion.pose_extraction import create_pose_estimator  # noqa: E402
from recbole_poserec.live.__main__ import main as live_main  # noqa: E402
from recbole_poserec.recommend import native_stderr_silenced  # noqa: E402
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling script's video maker
from recommend_latency import astronaut_video  # noqa: E402

DEFAULT_RELEASE = REPO_ROOT / ".." / "shared" / "reference-release"
TARGET_FPS = 25.0
TARGET_LATENCY_MS = 100.0


def mediapipe_alone_fps(frames: list[np.ndarray]) -> float:
    """Frames per second of BlazePose's ``process`` over ``frames`` (graph creation not counted)."""
    with native_stderr_silenced():
        estimator = create_pose_estimator()
        estimator.process(frames[0])  # the graph's first frame (model set-up) is not throughput
        estimator.reset()
        started = time.perf_counter()
        for frame in frames:
            estimator.process(frame)
        seconds = time.perf_counter() - started
        estimator.close()
    return len(frames) / seconds


def run_live(arguments: list[str]) -> tuple[list[dict], dict]:
    """The live command in this process; its window lines and its summary line."""
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        code = live_main(arguments)
    if code != 0:
        raise SystemExit(f"the live command failed with exit code {code}")
    lines = [json.loads(line) for line in output.getvalue().splitlines()]
    return lines[:-1], lines[-1]


def percentiles(values: list[float]) -> dict:
    array = np.asarray(values, dtype=float)
    return {"median": float(np.median(array)), "p95": float(np.percentile(array, 95)), "n": len(values)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--fps", type=float, default=30.0, help="the video's frame rate (--realtime paces at it)")
    model_group = parser.add_mutually_exclusive_group()
    model_group.add_argument("--reference-release", default=str(DEFAULT_RELEASE.resolve()))
    model_group.add_argument("--checkpoint")
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    args = parser.parse_args(argv)

    model_args = ["--checkpoint", args.checkpoint] if args.checkpoint else ["--reference-release", args.reference_release]
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "astronaut.avi"
        frames = astronaut_video(video, args.frames, args.fps)
        alone_fps = mediapipe_alone_fps(frames)
        fast_windows, fast = run_live(["--source", str(video), *model_args])
        paced_windows, paced = run_live(["--source", str(video), *model_args, "--realtime"])
    load_after = os.getloadavg()

    per_frame_ms = 1000.0 / alone_fps
    fast_latency = percentiles([line["latency_ms"] for line in fast_windows])
    paced_latency = percentiles([line["latency_ms"] for line in paced_windows])
    scoring = percentiles([line["score_ms"] for line in fast_windows + paced_windows])
    report = {
        "frames": len(frames),
        "frame_size": f"{frames[0].shape[1]}x{frames[0].shape[0]}",
        "video_fps": args.fps,
        "cpu_cores": os.cpu_count(),
        "torch_threads_in_live": 1,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "model": model_args[0].lstrip("-"),
        "mediapipe_alone_fps": alone_fps,
        "mediapipe_alone_ms_per_frame": per_frame_ms,
        "live_fps": fast["fps"],
        "ratio_live_fps_vs_mediapipe_alone": fast["fps"] / alone_fps,
        "live_windows": fast["windows"],
        "live_latency_ms_median": fast_latency["median"],
        "live_latency_ms_p95": fast_latency["p95"],
        "realtime_latency_ms_median": paced_latency["median"],
        "realtime_latency_ms_p95": paced_latency["p95"],
        "ratio_realtime_latency_median_vs_mediapipe_frame": paced_latency["median"] / per_frame_ms,
        "ratio_realtime_latency_p95_vs_mediapipe_frame": paced_latency["p95"] / per_frame_ms,
        "realtime_frames_dropped": paced["frames_dropped"],
        "realtime_frames_processed": paced["frames_processed"],
        "scoring_ms_median": scoring["median"],
        "scoring_ms_p95": scoring["p95"],
        "target_fps_met": fast["fps"] >= TARGET_FPS,
        "target_latency_met": paced_latency["p95"] <= TARGET_LATENCY_MS,
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for key, value in report.items():
            print(f"{key:>50}: {value:.2f}" if isinstance(value, float) else f"{key:>50}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
