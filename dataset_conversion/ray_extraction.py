"""Pose extraction on a Ray cluster (``extract-poses --ray [ADDRESS]``): one Ray task per video.

The outputs and rules are those of the local process pool (:func:`.pose_extraction.extract_directory`):
videos whose pose file exists are skipped (:func:`.pose_extraction.plan_extraction`); each task runs
:func:`.pose_extraction.extract_or_error` in a Ray worker process (one CPU per task, one OpenCV thread, one
BlazePose graph per worker process, reset between videos) and returns the poses; the driver writes
``RAW/poses/<stem>.npy`` atomically as each result arrives, so only the driver needs ``RAW`` while every
node reads the videos by the same path. At most ``in_flight`` tasks (default: twice the cluster's CPUs) are
submitted at a time and a result is dropped once written, so the driver holds a bounded number of results
whatever the number of videos. A task whose worker process dies (killed, out of memory, a crash inside
MediaPipe) is retried :data:`TASK_RETRIES` times by Ray, then reported by name like a bad video.

``address``: ``None`` starts a local Ray instance for the run (``num_cpus`` CPUs; shut down afterwards,
Ctrl-C and SIGTERM included), or uses the Ray this process is already connected to (left connected);
``HOST:PORT`` (a ``ray start --head`` node), ``ray://HOST:PORT`` (Ray Client) or ``auto`` (the cluster
``ray start`` made on this machine) connect to a running cluster, which must be reachable. Ctrl-C and
SIGTERM cancel the tasks in flight. ``ray`` is imported only here, only when used.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import socket
import sys
import threading
import warnings

from .atomic import _signals_deferred as ray_signals_held
from .entrypoint import one_line
from .errors import DataError
from .pose_extraction import (
    ExtractionReport, extract_or_error, extraction_progress, make_poses_dir, plan_extraction, write_poses,
)

TASK_RETRIES = 2  # Ray's retries of a task whose worker process died
IN_FLIGHT_PER_CPU = 2  # tasks submitted per cluster CPU: a queue deep enough to keep every CPU busy
CONNECT_TIMEOUT_S = 5.0
ADDRESS_PATTERN = re.compile(r"(?:ray://)?(?P<host>\[[0-9a-fA-F:.]+\]|[^\s:/\[\]]+):(?P<port>\d{1,5})")
OPTION = "--ray"
# ray_signals_held: SIGINT / SIGTERM wait while ray is imported and while it starts or stops a node: cut
# short there, Ray crashes the process at exit; and Ray installs its own SIGTERM handler (sys.exit) on
# import and node start, which this puts back to ours (.entrypoint.run_main: an exception, clean-ups run).


def ray_address(text: str) -> str:
    """An argparse ``type``: ``HOST:PORT``, ``ray://HOST:PORT``, ``auto``, or ``local`` (a local instance)."""
    import argparse

    match = ADDRESS_PATTERN.fullmatch(text)
    if text not in ("auto", "local") and not (match and 0 < int(match["port"]) < 65536):
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, ray://HOST:PORT, auto or local, got {text!r}")
    return text


ray_address.__name__ = "Ray address"


@contextlib.contextmanager
def _sigterm_raised_through_ray():
    """Ray runs Python's signal handlers inside its blocking calls (``ray.wait``, ``ray.get``) and drops any
    exception they raise but ``KeyboardInterrupt``, which it raises again itself. So for the ``with`` block
    an exception of the SIGTERM handler (:class:`.entrypoint.Terminated`) is kept aside and a
    ``KeyboardInterrupt`` raised in its place, and the kept exception is raised again on leaving."""
    previous = signal.getsignal(signal.SIGTERM) if threading.current_thread() is threading.main_thread() else None
    if not callable(previous):
        yield
        return
    kept: list[BaseException] = []

    def handler(signum, frame):
        try:
            previous(signum, frame)
        except KeyboardInterrupt:
            raise
        except BaseException as err:  # noqa: BLE001 -- Terminated, SystemExit: passed on below
            kept.append(err)
            raise KeyboardInterrupt from None

    signal.signal(signal.SIGTERM, handler)
    try:
        yield
    except KeyboardInterrupt:
        if kept:
            raise kept[0] from None
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)


def import_ray():
    """``import ray``, quietly; a missing ray is a one-line :class:`DataError` naming ``--ray``."""
    with ray_signals_held(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ray 2.6.3 imports pkg_resources, which warns
        try:
            import ray
        except ImportError as err:
            raise DataError(OPTION, f"needs ray, which is not installed here ({err}); install the pinned set "
                                    "with setup.sh, or extract with the local pool (--workers)") from None
    return ray


def check_reachable(address: str) -> None:
    """A :class:`DataError` naming ``--ray`` and ``address`` unless something listens there (Ray itself would
    retry for minutes before giving up). ``auto`` is left to Ray."""
    match = ADDRESS_PATTERN.fullmatch(address)
    if match is None:
        return
    host = match["host"].strip("[]")
    try:
        with socket.create_connection((host, int(match["port"])), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise DataError(OPTION, f"no Ray cluster reachable at {address} ({reason}); start one there with "
                                "`ray start --head`, or give --ray without an address for a local instance") from None


@contextlib.contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None):
    """Connected to Ray for the ``with`` block (see the module docstring for ``address``); yields ``ray``.

    A local instance started here is shut down on leaving, however that happens; a connection made here is
    closed. A cluster that cannot be reached is a one-line :class:`DataError` naming ``--ray`` and the address.
    """
    ray = import_ray()
    if address is not None:
        check_reachable(address)
    if ray.is_initialized():
        if address is not None:
            raise DataError(OPTION, f"this process is already connected to Ray; cannot also connect to {address}")
        yield ray
        return
    options = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.CRITICAL)
    if address is None:
        options.update(address="local", num_cpus=num_cpus or os.cpu_count() or 1)
    else:
        options.update(address=address)
    try:
        with ray_signals_held():
            try:
                ray.init(**options)
            except (ConnectionError, RuntimeError, ValueError, TimeoutError) as err:
                where = f"at {address}" if address else "(a local instance)"
                raise DataError(OPTION, f"cannot connect to Ray {where}: {one_line(err)}") from None
        yield ray
    finally:
        with ray_signals_held():
            ray.shutdown()


def run_tasks(ray, task, jobs: list[tuple[str, str]], in_flight: int, record) -> None:
    """Run ``task`` (a Ray remote function: video path -> (name, poses or None, error or None)) on every
    (video, pose file) job, at most ``in_flight`` at a time; write each result's poses as it arrives and
    ``record(name, error or None)`` it. Leaving early (Ctrl-C) cancels the tasks still in flight."""
    queue = iter(jobs)
    pending: dict = {}  # ObjectRef -> job

    def submit_next() -> None:
        job = next(queue, None)
        if job is not None:
            pending[task.remote(job[0])] = job

    try:
        for _ in range(in_flight):
            submit_next()
        while pending:
            [ready], _ = ray.wait(list(pending), num_returns=1)
            video_path, out_path = pending.pop(ready)
            submit_next()
            try:
                name, poses, error = ray.get(ready)
            except ray.exceptions.RayError as err:
                name, poses = os.path.basename(video_path), None
                error = str(DataError(video_path, f"its Ray task failed ({type(err).__name__}; a task whose worker "
                                                  f"process dies is retried {TASK_RETRIES} times); the Ray logs say why"))
            del ready
            if poses is not None:
                error = write_poses(video_path, out_path, poses)
                del poses  # the result leaves the driver once written
            record(name, error)
    finally:
        for ref in pending:
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)


def extraction_task(ray):
    """The Ray remote function of one video: :func:`.pose_extraction.extract_or_error` on one CPU."""
    return ray.remote(num_cpus=1, max_retries=TASK_RETRIES)(extract_or_error)


def extract_directory_ray(
    videos_dir,
    raw_dir,
    address: str | None = None,
    num_cpus: int | None = None,
    progress: bool = True,
    stderr=None,
    in_flight: int | None = None,
) -> ExtractionReport:
    """:func:`.pose_extraction.extract_directory` with one Ray task per video (see the module docstring).

    ``num_cpus``: CPUs of a local instance started here (default: all cores); ``in_flight``: tasks
    submitted at a time (default: :data:`IN_FLIGHT_PER_CPU` per CPU of the cluster).
    """
    stderr = stderr or sys.stderr
    report, jobs = plan_extraction(videos_dir, raw_dir)
    if not jobs:
        return report
    with ray_session(address, num_cpus) as ray:
        make_poses_dir(raw_dir)  # once connected: an unreachable cluster leaves nothing behind
        cpus = int(ray.cluster_resources().get("CPU", 1))
        in_flight = max(1, min(in_flight or IN_FLIGHT_PER_CPU * cpus, len(jobs)))
        with _sigterm_raised_through_ray(), extraction_progress(report, len(jobs), progress, stderr) as record:
            run_tasks(ray, extraction_task(ray), jobs, in_flight, record)
    return report
