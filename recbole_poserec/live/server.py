"""The live page: the latest frame with its skeleton and the current top-k, served on a local port.

Standard library only (``http.server``, one thread per connection):

* ``GET /`` -- ``page.html`` (next to this module);
* ``GET /frame.jpg`` -- the latest frame as a JPEG, with the detected skeleton drawn on it
  (``mp.solutions.pose.POSE_CONNECTIONS``); drawn and encoded on the request's thread, once per frame, so
  the pose thread only hands over references;
* ``GET /events`` -- server-sent events: a JSON object ``{"frame", "frames_read", "frames_dropped",
  "window"}`` (``window`` is the latest window line, ``null`` before the first) at most every
  :data:`EVENT_INTERVAL` seconds while anything changes, then ``{"ended": true}`` when the source ends.

The default host is 127.0.0.1: the page is not reachable from other machines unless ``--host`` says so.
"""

from __future__ import annotations

import json
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources

import numpy as np

from dataset_conversion.errors import DataError

EVENT_INTERVAL = 0.1  # seconds between two events of one connection
JPEG_QUALITY = 80
PAGE = "page.html"


class LiveState:
    """What the page shows, shared between the pose thread (writer) and the request threads (readers)."""

    def __init__(self):
        self._changed = threading.Condition()
        self.version = 0
        self.ended = False
        self._frame = None  # (frame number, BGR image, pose landmarks or None)
        self._jpeg = (None, b"")  # (frame number, JPEG bytes) of the last encoded frame
        self._jpeg_lock = threading.Lock()
        self._status = {"frame": None, "frames_read": 0, "frames_dropped": 0, "window": None}

    def show_frame(self, number: int, image: np.ndarray, landmarks, frames_read: int, dropped: int) -> None:
        with self._changed:
            self._frame = (number, image, landmarks)
            self._status.update(frame=number, frames_read=frames_read, frames_dropped=dropped)
            self.version += 1
            self._changed.notify_all()

    def show_window(self, line: dict) -> None:
        with self._changed:
            self._status["window"] = line
            self.version += 1
            self._changed.notify_all()

    def end(self) -> None:
        with self._changed:
            self.ended = True
            self.version += 1
            self._changed.notify_all()

    def wait_for_change(self, seen: int, timeout: float) -> tuple[int, dict | None]:
        """The version and status after ``seen`` changed (or ``timeout`` passed: status None)."""
        with self._changed:
            self._changed.wait_for(lambda: self.version != seen, timeout)
            if self.version == seen:
                return seen, None
            return self.version, ({"ended": True} if self.ended else dict(self._status))

    def jpeg(self) -> bytes | None:
        """The latest frame with its skeleton as JPEG bytes (None before the first frame)."""
        with self._changed:
            frame = self._frame
        if frame is None:
            return None
        number, image, landmarks = frame
        with self._jpeg_lock:
            if self._jpeg[0] != number:
                self._jpeg = (number, encode_frame(image, landmarks))
            return self._jpeg[1]


def encode_frame(image: np.ndarray, landmarks) -> bytes:
    """``image`` (BGR, left untouched) with BlazePose's 35 connections drawn from ``landmarks``, as JPEG."""
    import cv2
    import mediapipe as mp

    picture = image.copy()
    if landmarks is not None:
        mp.solutions.drawing_utils.draw_landmarks(picture, landmarks, mp.solutions.pose.POSE_CONNECTIONS)
    ok, encoded = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError("OpenCV could not encode the frame as JPEG")
    return encoded.tobytes()


def _handler(state: LiveState, page: bytes):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format, *args):  # noqa: A002 -- stdout is the JSON lines, stderr the errors
            pass

        def _send(self, status: HTTPStatus, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):  # noqa: N802 -- http.server's name
            path = self.path.split("?", 1)[0]
            try:
                if path in ("/", "/index.html"):
                    self._send(HTTPStatus.OK, "text/html; charset=utf-8", page)
                elif path == "/frame.jpg":
                    jpeg = state.jpeg()
                    if jpeg is None:
                        self._send(HTTPStatus.SERVICE_UNAVAILABLE, "text/plain", b"no frame yet")
                    else:
                        self._send(HTTPStatus.OK, "image/jpeg", jpeg)
                elif path == "/events":
                    self._events()
                else:
                    self._send(HTTPStatus.NOT_FOUND, "text/plain", b"not found")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the browser went away

        def _events(self) -> None:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            seen = -1
            while True:
                seen, status = state.wait_for_change(seen, timeout=1.0)
                message = ": keep-alive\n\n" if status is None else f"data: {json.dumps(status)}\n\n"
                self.wfile.write(message.encode())
                self.wfile.flush()
                if status is not None and status.get("ended"):
                    return
                time.sleep(EVENT_INTERVAL)

    return Handler


class LiveServer:
    """An HTTP server on ``host:port`` (port 0: any free one) showing ``state``, on a daemon thread."""

    def __init__(self, state: LiveState, host: str, port: int):
        page = resources.files(__package__).joinpath(PAGE).read_bytes()
        try:
            self.server = ThreadingHTTPServer((host, port), _handler(state, page))
        except (OSError, OverflowError) as err:
            reason = getattr(err, "strerror", None) or str(err)
            raise DataError(f"--serve {port}", f"cannot listen on {host}:{port} ({reason})") from None
        self.server.daemon_threads = True
        self.state = state
        self._thread = threading.Thread(target=self.server.serve_forever, name="live-page", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/"

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        """Tell the pages the source ended, then stop serving."""
        self.state.end()
        if self._thread.is_alive():
            time.sleep(2 * EVENT_INTERVAL)  # let open event streams send the end
            self.server.shutdown()
        self.server.server_close()
