"""Frames from a camera, a video file or a stream, read on their own thread into a bounded queue.

``--source`` is a camera index (digits: ``0``), a stream URL (anything with ``://``: ``rtsp://...``,
``http://...``) or a video file. A :class:`FrameReader` decodes frames with OpenCV on a reader thread
and hands them to the pose thread through a queue of at most :data:`QUEUE_SIZE` frames:

* a video file (without ``--realtime``) is read as fast as the pipeline takes frames: the reader waits
  for room in the queue and no frame is dropped;
* a camera or stream, or a file with ``--realtime`` (paced at its frame rate, to simulate a camera),
  never waits: when the queue is full its oldest frame is dropped (the pipeline always gets the freshest
  frame) and counted in :attr:`FrameReader.dropped`.

A camera or stream that ends has stopped (a live source has no end of its own): that is an error after
the frames it gave, as is a file from which no frame can be decoded.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dataset_conversion.errors import DataError
from dataset_conversion.pose_extraction import extraction_module
from recbole_poserec.recommend import native_stderr_silenced

QUEUE_SIZE = 1  # frames between the reader and the pose thread: one waits while one is being posed
CAMERA, STREAM, FILE = "camera", "stream", "file"
_END = None  # queued after the last frame


@dataclass
class Frame:
    """One decoded frame: ``number`` counts every frame the source gave (dropped ones too), ``time`` is its
    time in the video (seconds: ``number / fps`` for a file, since the first frame for a camera or stream),
    ``read_at`` the ``time.perf_counter()`` at which the reader had it, ``image`` the BGR pixels."""

    number: int
    time: float
    read_at: float
    image: np.ndarray


def source_kind(source: str) -> str:
    """:data:`CAMERA` for an index (``0``), :data:`STREAM` for a URL (``scheme://...``), else :data:`FILE`."""
    if source.strip().isdigit():
        return CAMERA
    return STREAM if "://" in source else FILE


def open_capture(source: str):
    """An opened ``cv2.VideoCapture`` for ``source`` and its kind; a source that cannot be opened is a
    :class:`DataError` naming ``--source``."""
    where = f"--source {source}"
    cv2 = extraction_module("cv2", where)
    kind = source_kind(source)
    if kind == FILE:
        path = Path(source)
        if not path.exists():
            raise DataError(where, "video file not found (expected a camera index, a stream URL or a video file)")
        if not path.is_file():
            raise DataError(where, "not a regular file")
    with native_stderr_silenced():  # OpenCV warns on stderr for a missing camera or a bad file
        capture = cv2.VideoCapture(int(source) if kind == CAMERA else source)
        opened = capture.isOpened()
    if not opened:
        capture.release()
        reasons = {CAMERA: f"no camera at index {source.strip()}", STREAM: "cannot open the stream",
                   FILE: "unreadable video (OpenCV cannot open it)"}
        raise DataError(where, reasons[kind])
    return capture, kind


class FrameReader:
    """The frames of ``source``, decoded on a reader thread (see the module docstring).

    Use :meth:`start`, iterate :meth:`frames` until it ends, :meth:`check_ended_well`, and always
    :meth:`close`. ``frames_read`` counts decoded frames, ``dropped`` those the pipeline never got.
    """

    def __init__(self, source: str, realtime: bool = False, queue_size: int = QUEUE_SIZE):
        self.source = source
        self.capture, self.kind = open_capture(source)
        cv2 = extraction_module("cv2", source)
        fps = self.capture.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and np.isfinite(fps) and fps > 0 else None
        self.paced = realtime and self.kind == FILE
        if self.paced and self.fps is None:
            self.capture.release()
            raise DataError(f"--source {source}", "the video has no frame rate, so --realtime cannot pace it")
        self.drops_frames = realtime or self.kind != FILE  # a live source is never made to wait
        self.frames_read = 0
        self.dropped = 0
        self.failure: str | None = None
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="frame-reader", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _put(self, item) -> None:
        """Queue ``item``; a full queue drops its oldest frame (live sources) or waits for room (a file)."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, block=not self.drops_frames, timeout=0.1)
                return
            except queue.Full:
                if self.drops_frames:
                    with contextlib.suppress(queue.Empty):
                        self._queue.get_nowait()
                        self.dropped += 1

    def _read(self) -> None:
        started = None
        try:
            while not self._stop.is_set():
                ok, image = self.capture.read()
                if not ok:
                    break
                read_at = time.perf_counter()
                if started is None:
                    started = read_at
                number = self.frames_read
                if self.fps is not None and self.kind == FILE:
                    frame_time = number / self.fps
                    if self.paced:  # a camera delivers frame n at started + n / fps
                        delay = started + frame_time - time.perf_counter()
                        if delay > 0:
                            time.sleep(delay)
                        read_at = time.perf_counter()
                else:
                    frame_time = read_at - started
                self.frames_read += 1
                self._put(Frame(number, frame_time, read_at, image))
        except Exception as err:  # noqa: BLE001 -- reported by check_ended_well as one line
            self.failure = f"reading frame {self.frames_read} failed ({type(err).__name__}: {err})"
        finally:
            self._put(_END)

    def frames(self):
        """Yield the queued :class:`Frame` objects until the source ends (interruptible: short waits)."""
        while True:
            try:
                frame = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            if frame is _END:
                return
            yield frame

    def check_ended_well(self) -> None:
        """After :meth:`frames` ended: a :class:`DataError` if the source failed, gave no frame, or is a
        camera or stream that stopped."""
        where = f"--source {self.source}"
        if self.failure is not None:
            raise DataError(where, self.failure)
        if self.frames_read == 0:
            raise DataError(where, "unreadable video (no frame could be decoded)" if self.kind == FILE
                            else f"the {self.kind} gave no frame")
        if self.kind != FILE:
            raise DataError(where, f"the {self.kind} stopped after {self.frames_read} frames")

    def close(self) -> None:
        """Stop the reader thread and release the capture (safe to call more than once)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self.capture.release()
