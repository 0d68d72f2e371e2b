"""Recommend object effects while a video is being filmed: ``python -m recbole_poserec.live``.

Usage::

    python -m recbole_poserec.live --source CAMERA_INDEX|VIDEO_FILE|STREAM_URL
                                   (--checkpoint CKPT | --reference-release DIR)
                                   [--top-k 5] [--window 10] [--step 5] [--realtime]
                                   [--serve PORT [--host 127.0.0.1]]

Frames (:mod:`.source`) go one by one through MediaPipe BlazePose in video mode, the converter's graph
(:func:`dataset_conversion.pose_extraction.create_pose_estimator`, the full model); frames without a
detected person are dropped as the converter drops them. The person frames are cut into the converter's
windows as they arrive and each window is scored once with the same
:class:`~recbole_poserec.inference.scorer.WindowScorer` as ``recommend`` (:mod:`.stream`).

Output (stdout), one JSON object per line:

* per window: ``{"type": "window", "window", "frame", "frame_time", "latency_ms", "score_ms",
  "frames_dropped", "n_windows", "aggregation": "mean", "window_top_k": [...], "video_top_k": [...]}``;
  ``frame`` / ``frame_time`` are the source frame number and time (s) of the window's last frame,
  ``latency_ms`` the time from that frame being read to the window's top-k (by the converter's rule a
  window is cut once the next person frame is there, so this includes one person frame), ``score_ms``
  scoring and ranking alone; ``video_top_k`` ranks by the mean of the window scores so far
  (``recommend``'s aggregation); entries are ``{"rank", "index", "name", "score"[, "token"]}`` as in
  ``recommend --format json``;
* at the end (also after Ctrl-C or a stream that stopped): ``{"type": "summary", "frames_read",
  "frames_processed", "frames_with_person", "frames_dropped", "windows", "elapsed_s", "fps",
  "interrupted", "video_top_k"}``; ``fps`` = frames processed per second of wall time.

``--realtime`` paces a video file at its frame rate; frames the pipeline cannot keep up with are dropped
(a camera or stream always drops rather than waits). ``--serve PORT`` serves a page with the latest frame,
its skeleton and the top-k (:mod:`.server`; port 0 picks a free one; the address is printed on stderr).

Errors: one line ``error: --source X: ...`` (no camera at that index, a missing or unreadable file, a
stream that cannot be opened or stops, no window in a whole file) or ``error: <file>: ...`` (a bad
checkpoint or release), exit code 2, no traceback; Ctrl-C: ``interrupted``, 130; SIGTERM: 143.
"""

from __future__ import annotations

from dataset_conversion.entrypoint import install_startup_signal_handlers

install_startup_signal_handlers()  # before the heavy imports: a signal during them is one line too

import argparse
import contextlib
import json
import sys
import time

import torch

from dataset_conversion.entrypoint import ArgumentParser, Terminated, int_at_least, positive_int, run_main
from dataset_conversion.errors import DataError
from dataset_conversion.layout import DEFAULT_STEP, DEFAULT_WINDOW
from dataset_conversion.pose_extraction import _landmarks_array, create_pose_estimator, extraction_module
from recbole_poserec.command_line import EXIT_BROKEN_PIPE, print_output
from recbole_poserec.inference.loader import load_scorer
from recbole_poserec.live.server import LiveServer, LiveState
from recbole_poserec.live.source import FILE, FrameReader
from recbole_poserec.live.stream import LiveWindows, PersonFrame, ScoredWindow
from recbole_poserec.recommend import AGGREGATION, DEFAULT_TOP_K, check_top_k, native_stderr_silenced

# One window at a time is a small product: more torch threads would only contend with MediaPipe for the cores.
TORCH_THREADS = 1
DEFAULT_HOST = "127.0.0.1"
QUIET_PERSON_FRAMES = 2  # person frames posed before stderr is open again (see LiveRun.run)


class OutputClosed(Exception):
    """The reader of stdout went away (``| head``)."""


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="python -m recbole_poserec.live",
        description="Recommend object effects while a video plays or is filmed: MediaPipe BlazePose frame by "
                    "frame, the converter's windows scored as they complete, and the video's top-k by the MEAN "
                    "of the window scores so far (as recommend). One JSON line per window, then a summary.",
    )
    parser.add_argument("--source", required=True,
                        help="a camera index (0), a video file or a stream URL (rtsp://..., http://...)")
    model = parser.add_mutually_exclusive_group(required=True)
    model.add_argument("--checkpoint", help="a PoseRec checkpoint written by run_recbole.py")
    model.add_argument("--reference-release", metavar="DIR", help="the authors' release directory")
    parser.add_argument("--top-k", type=positive_int, default=DEFAULT_TOP_K,
                        help="items to list, 1..catalogue size (default 5)")
    parser.add_argument("--window", type=positive_int, default=DEFAULT_WINDOW, help="frames per window (default 10)")
    parser.add_argument("--step", type=positive_int, default=DEFAULT_STEP, help="frames between window starts (default 5)")
    parser.add_argument("--realtime", action="store_true",
                        help="pace a video file at its frame rate, dropping (and counting) frames the pipeline "
                             "cannot keep up with")
    parser.add_argument("--serve", metavar="PORT", type=int_at_least(0, 65535),
                        help="serve a page with the latest frame, its skeleton and the top-k on this port "
                             "(0: any free port)")
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help="address to serve on with --serve (default 127.0.0.1: this machine only)")
    return parser


def emit(line: dict) -> None:
    """Print one JSON line now; a closed stdout raises :class:`OutputClosed`."""
    if print_output(json.dumps(line, allow_nan=False)) == EXIT_BROKEN_PIPE:
        raise OutputClosed()


def window_line(window: ScoredWindow, dropped: int) -> dict:
    return {
        "type": "window",
        "window": window.index,
        "frame": window.last_frame.number,
        "frame_time": round(window.last_frame.time, 4),
        "latency_ms": round(window.latency_ms, 2),
        "score_ms": round(window.score_seconds * 1000.0, 2),
        "frames_dropped": dropped,
        "n_windows": window.index + 1,
        "aggregation": AGGREGATION,
        "window_top_k": [entry.as_dict() for entry in window.window_top_k],
        "video_top_k": [entry.as_dict() for entry in window.video_top_k],
    }


class LiveRun:
    """One run of the pipeline: reader thread -> BlazePose (this thread) -> windows -> lines (and the page)."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.cv2 = extraction_module("cv2", f"--source {args.source}")
        self.cv2.setNumThreads(1)  # decoding and colour conversion of one frame: no thread pool needed
        torch.set_num_threads(TORCH_THREADS)
        self.model = load_scorer(args.checkpoint, args.reference_release)
        check_top_k(args.top_k, len(self.model.item_names))
        self.windows = LiveWindows(self.model, args.window, args.step, args.top_k)
        self.frames_processed = 0
        self.frames_with_person = 0
        self.started = None
        self._mediapipe_start = contextlib.ExitStack()

    def run(self) -> int:
        reader = FrameReader(self.args.source, realtime=self.args.realtime)
        state = server = estimator = None
        try:
            if self.args.serve is not None:
                state = LiveState()
                server = LiveServer(state, self.args.host, self.args.serve)
                server.start()
                print(f"serving {server.url}", file=sys.stderr, flush=True)
            # MediaPipe logs on stderr from its own threads while its graph starts and while it works on
            # its first person (also after process() returned): fd 2 stays closed until that is surely over
            self._mediapipe_start.enter_context(native_stderr_silenced())
            estimator = create_pose_estimator()
            self.started = time.perf_counter()
            reader.start()
            try:
                self._process(reader, estimator, state)
            except (KeyboardInterrupt, Terminated):
                reader.close()
                self._summary(reader, interrupted=True)  # Ctrl-C is how a camera run ends
                raise
            reader.close()
            self._summary(reader, interrupted=False)
            reader.check_ended_well()
            if self.windows.n_windows == 0 and reader.kind == FILE:
                raise DataError(f"--source {self.args.source}",
                                f"{self.frames_with_person} of the {self.frames_processed} frames posed show a "
                                f"person ({reader.dropped} dropped); at least {self.args.window + 1} are needed "
                                f"for one window of {self.args.window}")
        except OutputClosed:
            return EXIT_BROKEN_PIPE
        finally:
            self._mediapipe_start.close()
            reader.close()
            if estimator is not None:
                estimator.close()
            if server is not None:
                server.close()
        return 0

    def _process(self, reader: FrameReader, estimator, state: LiveState | None) -> None:
        cv2 = self.cv2
        for frame in reader.frames():
            results = estimator.process(cv2.cvtColor(frame.image, cv2.COLOR_BGR2RGB))
            self.frames_processed += 1
            landmarks = results.pose_landmarks
            if state is not None:
                state.show_frame(frame.number, frame.image, landmarks, reader.frames_read, reader.dropped)
            if landmarks is None:
                continue  # no person: the converter drops the frame, and the windows wait
            self.frames_with_person += 1
            if self.frames_with_person == QUIET_PERSON_FRAMES:
                self._mediapipe_start.close()
            person_frame = PersonFrame(frame.number, frame.time, frame.read_at)
            for window in self.windows.add(_landmarks_array(landmarks), person_frame):
                line = window_line(window, reader.dropped)
                emit(line)
                if state is not None:
                    state.show_window(line)

    def _summary(self, reader: FrameReader, interrupted: bool) -> None:
        elapsed = time.perf_counter() - self.started if self.started is not None else 0.0
        emit({
            "type": "summary",
            "source": self.args.source,
            "frames_read": reader.frames_read,
            "frames_processed": self.frames_processed,
            "frames_with_person": self.frames_with_person,
            "frames_dropped": reader.dropped,
            "windows": self.windows.n_windows,
            "elapsed_s": round(elapsed, 3),
            "fps": round(self.frames_processed / elapsed, 2) if elapsed > 0 else None,
            "interrupted": interrupted,
            "aggregation": AGGREGATION,
            "video_top_k": [entry.as_dict() for entry in self.windows.video_top_k],
        })


def run(args: argparse.Namespace) -> int:
    """Do what ``args`` asks, printing as it goes; bad input raises :class:`DataError`."""
    return LiveRun(args).run()


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit code (0 done, 2 bad usage or input, 130/143 interrupted)."""
    return run_main(lambda arguments: run(build_parser().parse_args(arguments)), argv)


if __name__ == "__main__":
    sys.exit(main())
