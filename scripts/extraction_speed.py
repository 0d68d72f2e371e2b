"""Pose extraction: the local process pool against ``--ray`` (a local Ray instance), in one run.

``OMP_NUM_THREADS=1 .venv/bin/python scripts/extraction_speed.py [--videos 6] [--frames 90] [--work DIR]``

Writes ``--videos`` real-image videos (skimage's astronaut, shifted each frame; ``--frames`` frames at 30 fps,
480x480) into ``--work``, extracts them twice with each path through the real command (best of 2, interleaved),
checks the outputs are byte-equal, then times the Ray tasks alone in this process on a started instance (fresh
workers, then the same workers again: a long run's steady state). Prints videos per minute and frames per second.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from skimage import data

FPS, SIZE = 30, 480


def write_videos(folder: Path, count: int, frames: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    image = cv2.resize(data.astronaut(), (SIZE, SIZE))
    for v in range(count):
        base = image[:, ::-1] if v % 2 else image
        writer = cv2.VideoWriter(str(folder / f"v{v}.avi"), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (SIZE, SIZE))
        for k in range(frames):
            writer.write(cv2.cvtColor(np.roll(base, (k * (v % 3), k * (1 + v // 3)), (0, 1)), cv2.COLOR_RGB2BGR))
        writer.release()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=6)
    parser.add_argument("--frames", type=int, default=90)
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="extraction-speed-"))
    videos = work / "videos"
    write_videos(videos, args.videos, args.frames)
    frames = args.videos * args.frames
    walls = {}
    for repeat in range(2):
        for mode, extra in (("pool", ["--workers", "2"]), ("ray", ["--ray", "--workers", "2"])):
            raw = work / f"raw_{mode}"
            shutil.rmtree(raw, ignore_errors=True)
            start = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "dataset_conversion", "extract-poses", "--videos", str(videos),
                                   "--raw", str(raw), "--quiet", *extra], capture_output=True, text=True)
            wall = time.perf_counter() - start
            if done.returncode:
                raise SystemExit(f"{mode}: exit {done.returncode}: {done.stderr.strip()[-300:]}")
            walls.setdefault(mode, []).append(wall)
            print(f"{mode} run {repeat}: {wall:.1f} s = {args.videos / wall * 60:.1f} videos/min, "
                  f"{frames / wall:.1f} frames/s", flush=True)
    same = all((work / "raw_pool/poses" / p.name).read_bytes() == p.read_bytes()
               for p in (work / "raw_ray/poses").iterdir())
    best = {mode: min(w) for mode, w in walls.items()}
    print(f"outputs byte-equal: {same}; best of 2: pool {best['pool']:.1f} s, ray {best['ray']:.1f} s; "
          f"ray/pool videos-per-minute ratio {best['pool'] / best['ray']:.2f}")
    from dataset_conversion.ray_extraction import extract_directory_ray, ray_session

    with ray_session(num_cpus=2):
        for phase in ("fresh workers", "warm workers"):
            raw = work / "raw_inprocess"
            shutil.rmtree(raw, ignore_errors=True)
            start = time.perf_counter()
            report = extract_directory_ray(videos, raw, progress=False)
            wall = time.perf_counter() - start
            if not report.ok:
                raise SystemExit(f"ray tasks failed: {report}")
            print(f"ray tasks only, {phase}: {wall:.1f} s = {args.videos / wall * 60:.1f} videos/min, "
                  f"{frames / wall:.1f} frames/s -> {frames / wall * 3600 / args.frames:.0f} videos/h of "
                  f"{args.frames} frames", flush=True)
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
