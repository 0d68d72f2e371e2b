"""Run specifications, one subprocess per run, and the resumable per-run result store.

A :class:`RunSpec` names everything that decides a run's numbers: model, dataset, RecBole ``seed`` and
the configuration overrides (a ``config_dict`` layered over the plug-in's YAML files). :func:`run_all`
runs each spec not yet in the :class:`ResultStore` in its own Python process
(``python -m poserec_experiments.worker``), so that RecBole's logging handlers, global seeds and
memory never leak from one run into the next and a crash fails one run, not the sweep.

Store layout: ``<store root>/<key>.json``, one small JSON per finished run, written atomically
(temporary sibling + ``os.replace``). A stored result is reused only when its ``fingerprint`` (a hash of
the spec without machine-specific paths) equals the current spec's; a changed budget or override re-runs.
A file in the store that is not a stored result (not JSON, not an object with the fields the reports read,
a bare ``NaN``) is a :class:`~dataset_conversion.errors.DataError` naming it: never dropped, never re-run
over (:func:`read_stored_result`).

Numbers: every JSON written here is RFC 8259 JSON (``allow_nan=False``). A run whose result holds a value
that is not a finite number (a diverged model's NaN metrics) fails with the offending fields named; it is
not stored, so no table, CSV or JSON ever shows NaN (:func:`non_finite_fields`).

Process lifetime: each worker runs in its own session (its own process group) and, on Linux, with
``PR_SET_PDEATHSIG`` = SIGKILL, so that it dies with the sweep even when the sweep is killed with SIGKILL.
When the sweep stops otherwise (Ctrl-C, SIGTERM, ``--timeout``), the worker's whole process group gets
SIGTERM, then SIGKILL after :data:`STOP_GRACE_SECONDS`, and is waited for.

Concurrency and threads (``run_all(jobs=N)``, ``--jobs N``): up to ``N`` workers run at once, each exactly
as a single one does (own process group, ``PR_SET_PDEATHSIG``, its lock, the result checks); a signal or
error stops every running worker's group (:func:`stop_process_groups`) and each result is stored as its
run finishes. With ``N`` > 1 every worker gets a share of the cores, ``max(1, cores // N)`` threads with
``cores = len(os.sched_getaffinity(0))`` (:func:`thread_share`): ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``
and ``OPENBLAS_NUM_THREADS`` in its environment (:data:`THREAD_VARIABLES`; ``OPENBLAS_CORETYPE`` and the
rest are passed on untouched) and ``torch.set_num_threads`` in the worker (``threads`` of ``spec.json``).
Default-sized thread pools in N processes oversubscribe the machine (seven runs on 16 cores: 201 s an
epoch each, against 4.5 s with three threads each). With ``N`` = 1 nothing is capped. Runs with the same
``reuse_key`` are never started side by side: the second waits and reuses the first's result.

Device (``device="cpu"|"cuda"``, ``--device``): RecBole's ``use_gpu`` / ``gpu_id`` for every run
(:func:`device_settings`; ``cpu`` sets ``gpu_id`` '' so that RecBole hides any GPU). Like the thread
share, the device says how a run is computed, not what: it is not in the fingerprint (a result made on
the CPU is reused on a GPU machine) but the worker records the device RecBole actually used as the
result's ``device``, and the reports state it and never put timings of different devices in one row.

Locks: a run is executed by one process at a time. The sweep holds ``flock`` on ``<run dir>/lock`` while
the run is in progress, and the worker inherits the descriptor, so the lock stays held while either lives;
another sweep reaching the run reports it as running elsewhere (:class:`RunBusy`) and leaves it alone.

Work directory (``<work_dir>/<study>/<key>/``, meant to be gitignored): ``lock``, ``spec.json``, ``run.log``
(the run's stdout and stderr), RecBole's own ``log/`` and ``log_tensorboard/`` (the subprocess runs there)
and ``saved/`` (the checkpoint RecBole selects on validation and evaluates on test).
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import datetime as _dt
import fcntl
import hashlib
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from dataset_conversion.atomic import atomic_file
from dataset_conversion.errors import DataError

REPO_ROOT = Path(__file__).resolve().parents[1]
WORKER_MODULE = "poserec_experiments.worker"
# Settings that say where things are on this machine, not what is computed: left out of the fingerprint.
ENVIRONMENT_KEYS = frozenset({"data_path", "checkpoint_dir", "state", "show_progress", "log_wandb"})
# Settings every run gets from its spec and the runner (RunSpec.run_config), whatever the overrides say.
RUNNER_KEYS = ("seed", "data_path", "checkpoint_dir", "show_progress", "use_gpu", "gpu_id")
KEY_METRIC = "ndcg@10"  # the plug-in's valid_metric; printed in the per-run progress line
STOP_GRACE_SECONDS = 5.0  # a stopped worker's group gets SIGTERM, then SIGKILL after this long
LOCK_NAME = "lock"
DEVICES = ("cpu", "cuda")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")  # the per-run thread share
POLL_SECONDS = 0.05  # how often run_all looks at its running workers
MAX_RESULT_BYTES = 16 * 1024 * 1024  # a stored result is a few hundred kB; anything this large is not one
# The evaluation protocols of a run and where its stored result holds each one's aggregated test metrics.
PROTOCOLS = ("window", "video")
PROTOCOL_RESULTS = {"window": "test_result", "video": "test_video_result"}
PER_UNIT_FIELD = "test_per_unit"  # {protocol: {"ids": [unit ids], "<metric>": [value per unit]}}
PER_UNIT_MEAN_TOLERANCE = 1e-4  # a per-unit list's mean against its aggregated figure (RecBole rounds to 4 places)


@dataclass
class RunSpec:
    """One training + evaluation run.

    ``data_path`` is kept as given (a relative path is resolved against the current directory when the
    run starts). ``config`` is RecBole's ``config_dict`` (highest priority after the command line; the
    worker clears the command line). ``config_files`` are extra YAML files (e.g. the dataset YAML for a
    dataset name without its own YAML). ``variant`` is the row label (the model for the benchmark).
    """

    study: str
    level: str
    variant: str
    model: str
    dataset: str
    seed: int
    data_path: str
    config: dict = field(default_factory=dict)
    config_files: tuple[str, ...] = ()
    data_recipe: dict = field(default_factory=dict)  # how a derived dataset was built (e.g. item subset seed)
    reuse_key: str = ""  # equivalence_key(...) set by the sweep; equal keys = the same run under another name

    @property
    def key(self) -> str:
        """File-name-safe identifier, unique within a study: ``<level>-<variant>-seed<seed>``."""
        return f"{self.level}-{slug(self.variant)}-seed{self.seed}"

    def fingerprint(self) -> str:
        """SHA-256 (16 hex digits) of what decides the numbers (paths excluded)."""
        config = {k: v for k, v in self.config.items() if k not in ENVIRONMENT_KEYS}
        return _digest(self._identity(config) | {"variant": self.variant})

    def equivalence_key(self, defaults: dict) -> str:
        """Like :meth:`fingerprint`, but without the row label and with overrides equal to the model's
        ``defaults`` dropped: two studies' names for PoseRec as configured (``L=3``, ``K=4 w L_pro``, ...)
        get the same key, so one can reuse the other's finished run (:func:`find_reusable_in`)."""
        config = {k: v for k, v in self.config.items() if k not in defaults or defaults[k] != v}
        return _digest(self._identity(config))

    def _identity(self, config: dict) -> dict:
        return {
            "model": self.model,
            "dataset": self.dataset,
            "level": self.level,
            "seed": self.seed,
            "config": dict(sorted(config.items())),
            "config_files": [Path(p).name for p in self.config_files],
            "data_recipe": dict(sorted(self.data_recipe.items())),
        }

    def to_dict(self) -> dict:
        """The spec as stored with a result (config files relative to the repository when inside it)."""
        files = [os.path.relpath(p, REPO_ROOT) if Path(p).resolve().is_relative_to(REPO_ROOT) else str(p)
                 for p in self.config_files]
        return dataclasses.asdict(self) | {"config_files": files, "key": self.key, "fingerprint": self.fingerprint()}

    def run_config(self, checkpoint_dir: Path, device: str = "cpu") -> dict:
        """The ``config_dict`` the worker passes to ``run_recbole`` (:data:`RUNNER_KEYS` over the overrides)."""
        return {
            **self.config,
            "seed": int(self.seed),
            "data_path": str(Path(self.data_path).resolve()),
            "checkpoint_dir": str(checkpoint_dir),
            "show_progress": False,
            **device_settings(device),
        }


def device_settings(device: str) -> dict:
    """RecBole's ``use_gpu`` and ``gpu_id`` for ``device`` (one of :data:`DEVICES`). RecBole sets
    ``CUDA_VISIBLE_DEVICES`` to ``gpu_id``: '' hides every GPU; for ``cuda`` the first GPU already visible
    to this process (by number) is kept, else GPU 0."""
    if device not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    if device == "cpu":
        return {"use_gpu": False, "gpu_id": ""}
    first_visible = os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")[0].strip()
    return {"use_gpu": True, "gpu_id": first_visible if first_visible.isdigit() else "0"}


def available_cores() -> int:
    """The cores this process may run on (its affinity mask, not the machine's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def thread_share(jobs: int, cores: int | None = None) -> int | None:
    """Threads per run when ``jobs`` run at once: ``max(1, cores // jobs)``; None (not capped) for one job."""
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    return None if jobs == 1 else max(1, (cores or available_cores()) // jobs)


def worker_environment(threads: int | None) -> dict:
    """The worker's environment: this one, the repository on ``PYTHONPATH`` and, when ``threads`` is
    given, :data:`THREAD_VARIABLES` set to it."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    if threads is not None:
        env.update({name: str(threads) for name in THREAD_VARIABLES})
    return env


def result_device(result: dict) -> str:
    """The device a stored result was computed on (``unrecorded`` for results stored before it was)."""
    return result.get("device") or "unrecorded"


def _digest(content: dict) -> str:
    """SHA-256 (16 hex digits) of ``content`` as canonical JSON."""
    text = json.dumps(content, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def slug(text: str) -> str:
    """A file-name-safe form of a label: letters, digits, ``._=-`` kept, ``%`` -> ``pct``, others ``_``."""
    cleaned = "".join(c if c.isalnum() or c in "._=-" else "_" for c in text.strip().replace("%", "pct"))
    return "_".join(part for part in cleaned.split("_") if part) or "_"


# ------------------------------------------------------------------------------------------ JSON


def non_finite_fields(value, where: str = "") -> list[str]:
    """Dotted paths (``test_result.ndcg@10``) of the floats in ``value`` that are NaN or infinite."""
    if isinstance(value, float):
        return [] if math.isfinite(value) else [where or "value"]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in non_finite_fields(v, f"{where}.{k}" if where else str(k))]
    if isinstance(value, (list, tuple)):
        return [p for i, v in enumerate(value) for p in non_finite_fields(v, f"{where}[{i}]")]
    return []


def finite_or_null(value):
    """A copy of ``value`` with every NaN / infinite float replaced by None (JSON ``null``)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_or_null(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_null(v) for v in value]
    return value


def dumps_json(content) -> str:
    """``content`` as RFC 8259 JSON (objects indented, sorted keys, newline-terminated); NaN raises ValueError.

    A list of numbers or strings is written on one line: a result's per-unit lists (thousands of test
    windows) would otherwise take a line per value.
    """
    return _json_text(content, 0) + "\n"


def _json_text(value, depth: int) -> str:
    if isinstance(value, dict) and value:
        inner = "  " * (depth + 1)
        members = [f"{inner}{json.dumps(str(k))}: {_json_text(v, depth + 1)}" for k, v in sorted(value.items())]
        return "{\n" + ",\n".join(members) + "\n" + "  " * depth + "}"
    if isinstance(value, (list, tuple)) and any(isinstance(v, (dict, list, tuple)) for v in value):
        inner = "  " * (depth + 1)
        return "[\n" + ",\n".join(inner + _json_text(v, depth + 1) for v in value) + "\n" + "  " * depth + "]"
    return json.dumps(value, allow_nan=False)


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a JSON value")


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to a temporary sibling and rename it onto ``path``."""
    with atomic_file(path, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)


# ------------------------------------------------------------------------------------------ store


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def stored_result_problem(result) -> str | None:
    """What keeps ``result`` from being a stored run result the reports can read, or None.

    Required: ``status`` "ok", ``fingerprint`` and ``key`` (strings), ``spec`` (an object with string
    ``level``, ``variant`` and ``model``), ``test_result`` (metric name -> finite number). Optional, but
    of their type when present: the wall times (finite numbers), ``timing`` / ``budget`` /
    ``best_valid_result`` (objects), ``reused_from`` and ``device`` (strings), ``test_video_result``
    (metric name -> finite number, or null when the run did not evaluate videos) and ``test_per_unit``
    (:func:`per_unit_problem`, or null). A result stored before the video-level protocol existed has neither.
    """
    if not isinstance(result, dict):
        return "not a JSON object"
    for name, kind in (("status", str), ("fingerprint", str), ("key", str), ("spec", dict), ("test_result", dict)):
        if name not in result:
            return f"missing field '{name}'"
        if not isinstance(result[name], kind):
            return f"field '{name}' is not a JSON {'object' if kind is dict else 'string'}"
    if result["status"] != "ok":
        return f"field 'status' is {result['status']!r}, not 'ok'"
    for name in ("level", "variant", "model"):
        if not isinstance(result["spec"].get(name), str):
            return f"field 'spec.{name}' is missing or not a string"
    for metric, value in result["test_result"].items():
        if not _is_number(value):
            return f"field 'test_result.{metric}' is {value!r}, not a finite number"
    for name in ("train_seconds", "test_seconds", "test_video_seconds", "wall_seconds", "best_valid_score"):
        if name in result and not _is_number(result[name]):
            return f"field '{name}' is {result[name]!r}, not a finite number"
    for name in ("timing", "budget", "best_valid_result"):
        if name in result and not isinstance(result[name], dict):
            return f"field '{name}' is not a JSON object"
    for name, value in (result.get("timing") or {}).items():
        if value is not None and not _is_number(value):
            return f"field 'timing.{name}' is {value!r}, not a finite number or null"
    for name in ("reused_from", "device", "data_digest"):
        if name in result and result[name] is not None and not isinstance(result[name], str):
            return f"field '{name}' is not a string"
    video = result.get(PROTOCOL_RESULTS["video"])
    if video is not None:
        if not isinstance(video, dict):
            return f"field '{PROTOCOL_RESULTS['video']}' is not a JSON object or null"
        for metric, value in video.items():
            if not _is_number(value):
                return f"field '{PROTOCOL_RESULTS['video']}.{metric}' is {value!r}, not a finite number"
    if result.get(PER_UNIT_FIELD) is not None:
        return per_unit_problem(result)
    return None


def per_unit_problem(result: dict) -> str | None:
    """What is wrong with ``result``'s ``test_per_unit``, or None.

    An object whose keys are :data:`PROTOCOLS`; each value an object with ``ids`` (distinct strings) and,
    per metric, a list of finite numbers as long as ``ids``, whose mean is the protocol's aggregated figure
    (:data:`PROTOCOL_RESULTS`; within :data:`PER_UNIT_MEAN_TOLERANCE`) where the result has one.
    """
    per_unit = result[PER_UNIT_FIELD]
    if not isinstance(per_unit, dict):
        return f"field '{PER_UNIT_FIELD}' is not a JSON object"
    for protocol, units in per_unit.items():
        where = f"{PER_UNIT_FIELD}.{protocol}"
        if protocol not in PROTOCOLS:
            return f"field '{where}' is not a protocol (one of {', '.join(PROTOCOLS)})"
        if not isinstance(units, dict) or not isinstance(units.get("ids"), list):
            return f"field '{where}' is not a JSON object with an 'ids' list"
        ids = units["ids"]
        if not all(isinstance(i, str) for i in ids) or len(set(ids)) != len(ids):
            return f"field '{where}.ids' is not a list of distinct strings"
        aggregated = result.get(PROTOCOL_RESULTS[protocol]) or {}
        for metric, values in units.items():
            if metric == "ids":
                continue
            if not isinstance(values, list) or len(values) != len(ids):
                return f"field '{where}.{metric}' is not a list of {len(ids)} values (one per id)"
            bad = [v for v in values if not _is_number(v)]
            if bad:
                return f"field '{where}.{metric}' holds {bad[0]!r}, not a finite number"
            if values and metric in aggregated and \
                    abs(math.fsum(values) / len(values) - aggregated[metric]) > PER_UNIT_MEAN_TOLERANCE:
                return (f"field '{where}.{metric}' has mean {math.fsum(values) / len(values):.6f}, not "
                        f"{PROTOCOL_RESULTS[protocol]}.{metric} = {aggregated[metric]:.6f}")
    return None


def read_stored_result(path: Path) -> dict:
    """The stored result in ``path``; DataError naming the file when it is not one (see
    :func:`stored_result_problem`), so a damaged store is never silently dropped or re-run over."""
    remedy = "(move it away to run this run again)"
    try:
        if path.stat().st_size > MAX_RESULT_BYTES:
            raise DataError(path, f"is over {MAX_RESULT_BYTES // 2**20} MiB, not a stored run result {remedy}")
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DataError(path, f"is not UTF-8 text, not a stored run result {remedy}") from None
    except OSError as err:
        raise DataError(path, f"cannot be read as a stored run result ({err.strerror or err})") from None
    try:
        result = json.loads(text, parse_constant=_reject_constant)
    except ValueError as err:
        raise DataError(path, f"is not valid JSON ({err}) {remedy}") from None
    problem = stored_result_problem(result)
    if problem is not None:
        raise DataError(path, f"is not a stored run result: {problem} {remedy}")
    return result


class ResultStore:
    """One JSON file per finished run under ``root`` (e.g. ``results/runs/benchmark``)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def path(self, spec: RunSpec) -> Path:
        return self.root / f"{spec.key}.json"

    def load(self, spec: RunSpec) -> dict | None:
        """The stored result of ``spec``; None when absent or of a different fingerprint (then it is run
        again and replaced); DataError when the file is there but not a stored result."""
        path = self.path(spec)
        if not os.path.lexists(path):
            return None
        result = read_stored_result(path)
        return result if result["fingerprint"] == spec.fingerprint() else None

    def save(self, spec: RunSpec, result: dict) -> Path:
        path = self.path(spec)
        atomic_write_text(path, dumps_json(result))
        return path


# ------------------------------------------------------------------------------- process lifetime


def _prctl():
    """libc's ``prctl`` (Linux), else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _prctl()
PR_SET_PDEATHSIG = 1


def _die_with(parent_pid: int) -> Callable[[], None]:
    """A ``preexec_fn``: the child gets SIGKILL when its parent dies (Linux; elsewhere only the process
    group is stopped on a catchable signal). The parent may die before ``prctl`` takes effect: checked."""

    def preexec() -> None:
        if _PRCTL is None:
            return
        _PRCTL(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != parent_pid:
            os.kill(os.getpid(), signal.SIGKILL)

    return preexec


@contextlib.contextmanager
def _signals_ignored():
    """SIGINT / SIGTERM ignored inside (main thread only): a second Ctrl-C must not cut a bounded clean-up
    short and leave the worker behind."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def stop_process_groups(processes, grace: float | None = None) -> None:
    """SIGTERM to each of ``processes``' groups, SIGKILL to them all after ``grace`` seconds (default
    :data:`STOP_GRACE_SECONDS`) or as soon as every leader has exited, then reap the leaders.

    The leaders are left unreaped (``WNOWAIT``) until the SIGKILL, so no group id can have been reused
    by an unrelated process; an already reaped process is left alone for the same reason. The groups
    are stopped together, so N workers that ignore SIGTERM cost one grace period, not N.
    """
    live = [p for p in processes if p.returncode is None]
    if not live:
        return
    grace = STOP_GRACE_SECONDS if grace is None else grace
    with _signals_ignored():
        for process in live:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        waiting = list(live)
        while waiting and time.monotonic() < deadline:
            waiting = [p for p in waiting if not _has_exited(p)]
            time.sleep(0.02)
        for process in live:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        for process in live:
            process.wait()


def stop_process_group(process: subprocess.Popen, grace: float | None = None) -> None:
    """:func:`stop_process_groups` of one process."""
    stop_process_groups([process], grace)


def _has_exited(process: subprocess.Popen) -> bool:
    """Whether ``process`` has exited, without reaping it."""
    try:
        return os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


# ------------------------------------------------------------------------------------------- locks


class RunBusy(RuntimeError):
    """The run is in progress in another process (its lock is held); ``holder`` says which."""

    def __init__(self, spec: RunSpec, holder: str):
        super().__init__(f"{spec.study}/{spec.key}: running in another process ({holder})")
        self.spec, self.holder = spec, holder


class RunLock:
    """An exclusive, non-blocking ``flock`` on ``<run_dir>/lock``; raises :class:`RunBusy` when held.

    The file holds the holder's pids (for the message another process prints). The lock belongs to the
    open file description: a worker started with ``pass_fds=(lock.fd,)`` keeps it held after the sweep
    is gone, and the kernel releases it when the last holder exits, however it ends.
    """

    def __init__(self, run_dir: Path, spec: RunSpec):
        run_dir.mkdir(parents=True, exist_ok=True)
        self.path = run_dir / LOCK_NAME
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "pid unknown"
            os.close(fd)
            raise RunBusy(spec, holder) from None
        except BaseException:
            os.close(fd)
            raise
        self.fd: int | None = fd
        self.note(f"pid {os.getpid()}")

    def note(self, holder: str) -> None:
        """Record who holds the lock (``pid 12, worker pid 13``)."""
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, f"{holder}\n".encode("utf-8"), 0)

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> "RunLock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


# ----------------------------------------------------------------------------------------- running


@dataclass
class SweepSummary:
    """What :func:`run_all` did: results by key (stored and new), the keys it ran, skipped, failed, and
    those it left to another process running them (``busy``: key -> holder)."""

    results: dict = field(default_factory=dict)
    ran: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    failed: dict = field(default_factory=dict)  # key -> log path
    busy: dict = field(default_factory=dict)  # key -> "pid 12, worker pid 13"
    elapsed_seconds: float = 0.0  # wall time of this invocation

    @property
    def not_done(self) -> list:
        """Keys that have no result from this invocation: failed or running elsewhere."""
        return sorted(self.failed) + sorted(self.busy)

    @property
    def compute_seconds(self) -> float:
        """Sum of the runs' wall times over every result (this invocation's and earlier ones), runs reused
        from another study left out (their compute is counted there)."""
        return float(sum(r.get("wall_seconds", 0.0) for r in self.results.values() if not r.get("reused_from")))


def run_directory(spec: RunSpec, work_dir: str | os.PathLike) -> Path:
    """``<work_dir>/<study>/<key>`` (absolute): the run's logs, checkpoint and lock."""
    return Path(work_dir).resolve() / slug(spec.study) / spec.key


class StartedRun:
    """A run whose worker is executing (made by :func:`start_run`, which holds its ``lock``).

    :meth:`ended` / :meth:`wait` until the worker exits or its timeout passes, then :meth:`result`;
    :meth:`close` (or leaving the ``with`` block) stops the worker's group if it still runs and closes
    the log. The lock stays the caller's.
    """

    def __init__(self, spec: RunSpec, run_dir: Path, process: subprocess.Popen, log, timeout: float | None):
        self.spec, self.run_dir, self.process, self.log, self.timeout = spec, run_dir, process, log, timeout
        self.started = time.perf_counter()
        self.deadline = None if timeout is None else time.monotonic() + timeout

    @property
    def log_path(self) -> Path:
        return self.run_dir / "run.log"

    @property
    def result_file(self) -> Path:
        return self.run_dir / "result.json"

    def timed_out(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def ended(self) -> bool:
        """Whether the worker has exited (it is reaped then) or run past its timeout."""
        return self.process.poll() is not None or self.timed_out()

    def wait(self) -> None:
        """Block until :meth:`ended`."""
        remaining = None if self.deadline is None else max(0.0, self.deadline - time.monotonic())
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(remaining)

    def close(self) -> None:
        stop_process_group(self.process)
        self.log.close()

    def __enter__(self) -> "StartedRun":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def result(self, keep_checkpoint: bool = True) -> dict:
        """Once :meth:`ended`: the checked result (``status`` "ok"), or RunFailed (timed out, exit status,
        unreadable or non-finite result). A timed-out worker's group is stopped first."""
        spec, log_path = self.spec, self.log_path
        if self.process.poll() is None:
            self.close()
            raise RunFailed(spec, log_path, f"timed out after {self.timeout} s")
        self.close()
        wall = time.perf_counter() - self.started
        if self.process.returncode != 0 or not self.result_file.is_file():
            raise RunFailed(spec, log_path, f"exit status {self.process.returncode}")
        result = _worker_result(spec, self.result_file, log_path)
        if not keep_checkpoint and result.get("checkpoint"):
            Path(result["checkpoint"]).unlink(missing_ok=True)
            result["checkpoint_removed"] = True
        if result.get("checkpoint"):
            result["checkpoint"] = portable_path(result["checkpoint"])
        result.update(
            status="ok",
            spec=spec.to_dict(),
            key=spec.key,
            fingerprint=spec.fingerprint(),
            wall_seconds=wall,
            finished_at=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            log=portable_path(log_path),
        )
        problem = stored_result_problem(result)
        if problem is not None:
            raise RunFailed(spec, log_path, f"its result {self.result_file} cannot be stored: {problem}")
        return result


def start_run(spec: RunSpec, work_dir: str | os.PathLike, lock: RunLock, timeout: float | None = None,
              python: str | None = None, device: str = "cpu", threads: int | None = None) -> StartedRun:
    """Write the run's ``spec.json`` and start its worker in its own session (process group), dying with
    this process (``PR_SET_PDEATHSIG``) and holding ``lock`` with it; RunFailed when it cannot start.

    ``device``: :func:`device_settings`; ``threads``: the per-run thread cap (None: not capped), set in the
    worker's environment (:func:`worker_environment`) and passed to ``torch.set_num_threads``.
    """
    run_dir = run_directory(spec, work_dir)
    (run_dir / "result.json").unlink(missing_ok=True)
    payload = {
        "model": spec.model,
        "dataset": spec.dataset,
        "config_file_list": [str(p) for p in spec.config_files] or None,
        "config_dict": spec.run_config(run_dir / "saved", device),
        "threads": threads,
    }
    atomic_write_text(run_dir / "spec.json", dumps_json(payload))
    command = [python or sys.executable, "-m", WORKER_MODULE, str(run_dir / "spec.json"), str(run_dir / "result.json")]
    log = open(run_dir / "run.log", "w", encoding="utf-8")
    try:
        process = subprocess.Popen(command, cwd=run_dir, stdout=log, stderr=subprocess.STDOUT,
                                   env=worker_environment(threads), start_new_session=True, pass_fds=(lock.fd,),
                                   preexec_fn=_die_with(os.getpid()))
    except OSError as err:
        log.close()
        raise RunFailed(spec, run_dir / "run.log", f"cannot start the worker {command[0]}: {err.strerror or err}") \
            from None
    except BaseException:
        log.close()
        raise
    started = StartedRun(spec, run_dir, process, log, timeout)
    try:
        lock.note(f"pid {os.getpid()}, worker pid {process.pid}")
    except BaseException:
        started.close()
        raise
    return started


def run_one(spec: RunSpec, work_dir: Path, timeout: float | None = None, python: str | None = None,
            keep_checkpoint: bool = True, lock: RunLock | None = None, device: str = "cpu",
            threads: int | None = None) -> dict:
    """Run ``spec`` in a subprocess and wait for it; return the result dict (``status`` "ok") or raise
    RunFailed. Whatever ends the wait early (Ctrl-C, SIGTERM) stops the worker's whole group first.

    ``lock``: the run's :class:`RunLock`, already held by the caller; else it is taken here (RunBusy when
    another process holds it) and released on return.
    """
    with contextlib.ExitStack() as stack:
        if lock is None:
            lock = stack.enter_context(RunLock(run_directory(spec, work_dir), spec))
        with start_run(spec, work_dir, lock, timeout, python, device, threads) as started:
            started.wait()
            return started.result(keep_checkpoint)


def _worker_result(spec: RunSpec, result_file: Path, log_path: Path) -> dict:
    """The worker's result; RunFailed when it is unreadable or holds non-finite numbers (the worker
    writes those as null and lists them in ``non_finite``; a bare NaN is caught as well)."""
    try:
        result = json.loads(result_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise RunFailed(spec, log_path, f"unreadable result {result_file}: {err}") from None
    if not isinstance(result, dict):
        raise RunFailed(spec, log_path, f"its result {result_file} is not a JSON object")
    bad = list(dict.fromkeys(non_finite_fields(result) + [str(f) for f in result.get("non_finite") or []]))
    if bad:
        raise RunFailed(spec, log_path, f"not a finite number: {', '.join(bad)} (a diverged model has no "
                                        "ranking); not stored")
    return result


def portable_path(path) -> str:
    """``path`` relative to the current directory when it lies inside it (stored results hold no home paths)."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


class RunFailed(RuntimeError):
    """A run's subprocess failed; ``log_path`` holds its output."""

    def __init__(self, spec: RunSpec, log_path: Path, reason: str):
        super().__init__(f"{spec.study}/{spec.key}: {reason} (log: {log_path})")
        self.spec, self.log_path, self.reason = spec, log_path, reason


def log_tail(path: Path, lines: int = 15) -> str:
    """The last ``lines`` lines of a log file."""
    try:
        return "".join(Path(path).read_text(encoding="utf-8", errors="replace").splitlines(True)[-lines:])
    except OSError:
        return ""


def describe_result(result: dict, metric: str = KEY_METRIC) -> str:
    """``312.4 s (train 250.1 s, test 12.3 s), ndcg@10=0.1234``."""
    test = result.get("test_result") or {}
    name = metric if metric in test else next(iter(test), None)
    valid = result.get("best_valid_result") or {}
    score = f", {name}={test[name]:.4f}" if name else (f", valid {metric}={valid[metric]:.4f}" if metric in valid else "")
    return (f"{result.get('wall_seconds', 0.0):.1f} s (train {result.get('train_seconds', 0.0):.1f} s, "
            f"test {result.get('test_seconds', 0.0):.1f} s){score}")


def with_current_reuse_key(store: ResultStore, spec: RunSpec, stored: dict) -> dict:
    """A stored result (same fingerprint) whose spec lacks ``spec.reuse_key`` gets it and is saved again,
    so that runs stored before the key existed can still be found by :func:`find_reusable_in`."""
    stored_spec = stored.get("spec") or {}
    if not spec.reuse_key or stored_spec.get("reuse_key") == spec.reuse_key:
        return stored
    stored["spec"] = stored_spec | {"reuse_key": spec.reuse_key}
    store.save(spec, stored)
    return stored


def stored_result_files(root: Path) -> list[Path]:
    """The stored results of every study under ``root`` (``root/<study>/*.json``)."""
    return sorted(Path(root).glob("*/*.json"))


def check_stored_tree(root: str | os.PathLike) -> None:
    """Read every stored result under ``root/<study>/``: DataError on the first that is not one."""
    for path in stored_result_files(Path(root)):
        read_stored_result(path)


def find_reusable_in(root: str | os.PathLike) -> Callable[[RunSpec], dict | None]:
    """A lookup of finished runs under ``root/<study>/*.json`` with the spec's ``reuse_key``, made on the data
    there now (:func:`dataset_digest`; None if none); a file there that is not a stored result is a DataError
    (:func:`read_stored_result`)."""
    root = Path(root)

    def find(spec: RunSpec) -> dict | None:
        if not spec.reuse_key:
            return None
        # Read afresh on every lookup: another study may be running beside this one and finish the run.
        for path in stored_result_files(root):
            result = read_stored_result(path)
            same = result["spec"].get("reuse_key") == spec.reuse_key
            same_data = result.get("data_digest") == dataset_digest(spec.data_path, spec.dataset)
            if same and same_data and not result.get("reused_from"):
                return result | {"reused_from": f"{path.parent.name}/{path.stem}"}
        return None

    return find


def run_all(specs: list[RunSpec], store: ResultStore, work_dir: str | os.PathLike, timeout: float | None = None,
            keep_checkpoints: bool = True, progress: bool = True, echo: Callable[[str], None] | None = None,
            python: str | None = None, find_reusable: Callable[[RunSpec], dict | None] | None = None,
            jobs: int = 1, device: str = "cpu") -> SweepSummary:
    """Run every spec that the store does not hold yet, up to ``jobs`` at once, started in order; skip
    the others.

    ``find_reusable``: a lookup of the same run finished under another name (e.g. another study's base
    variant, :func:`find_reusable_in`); a hit is stored under this spec with ``reused_from`` and not re-run.
    ``jobs`` and ``device``: see the module's "Concurrency and threads" and "Device".

    Every stored result is read first, so a damaged store stops the sweep (DataError) before any run.
    Prints one line per run as it finishes (time and ``ndcg@10``) above a tqdm bar over the runs. A
    failed run is reported with the tail of its log and left out of the store (so it is retried next
    time); a run whose lock another process holds is reported and left to it (``summary.busy``); the sweep
    goes on. Anything that ends the sweep early (Ctrl-C, SIGTERM, an error) stops every running worker's
    group before it propagates. Keys must be unique.
    """
    from tqdm.auto import tqdm

    keys = [s.key for s in specs]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise ValueError(f"duplicate run keys: {duplicates}")
    check_store(specs, store)
    threads = thread_share(jobs)
    device_settings(device)  # an unknown device fails here, before any run
    started_at = time.perf_counter()
    bar = tqdm(total=len(specs), desc="runs", unit="run", disable=not progress, dynamic_ncols=True)
    sweep = _Sweep(store, Path(work_dir), SweepSummary(), echo or bar.write, find_reusable, keep_checkpoints,
                   dict(timeout=timeout, python=python, device=device, threads=threads))
    pending = [(f"[{index}/{len(specs)}] {spec.study} {spec.key}", spec) for index, spec in enumerate(specs, start=1)]
    running: list[tuple[str, StartedRun, RunLock]] = []
    shown_running = ""  # the keys in the bar's postfix, redrawn only when they change
    try:
        while pending or running:
            while len(running) < jobs:
                item = next((i for i in pending if not _same_run_running(i[1], running)), None)
                if item is None:
                    break
                pending.remove(item)
                launched = sweep.launch(*item)
                if launched is None:
                    bar.update()
                else:
                    running.append((item[0], *launched))
            now_running = " ".join(started.spec.key for _, started, _ in running)
            if now_running != shown_running:
                bar.set_postfix_str(shown_running := now_running)
            ended = [entry for entry in running if entry[1].ended()]
            if not ended:
                time.sleep(POLL_SECONDS)
            for entry in ended:
                sweep.settle(*entry)
                running.remove(entry)
                bar.update()
    except BaseException:
        stop_process_groups([started.process for _, started, _ in running])
        raise
    finally:
        for _, started, lock in running:
            started.close()
            lock.release()
        bar.close()
    sweep.summary.elapsed_seconds = time.perf_counter() - started_at
    return sweep.summary


def _same_run_running(spec: RunSpec, running) -> bool:
    """Whether a run with ``spec``'s ``reuse_key`` is running: ``spec`` waits for it and reuses its result."""
    return bool(spec.reuse_key) and any(started.spec.reuse_key == spec.reuse_key for _, started, _ in running)


@dataclass
class _Sweep:
    """What :func:`run_all` starts runs with and records them in; ``start_options``: :func:`start_run`'s."""

    store: ResultStore
    work_dir: Path
    summary: SweepSummary
    say: Callable[[str], None]
    find_reusable: Callable[[RunSpec], dict | None] | None
    keep_checkpoints: bool
    start_options: dict

    def launch(self, tag: str, spec: RunSpec) -> tuple[StartedRun, RunLock] | None:
        """Start ``spec``'s worker, holding its lock; None when it is settled without running (stored,
        reused from another name, running elsewhere, or its worker could not start)."""
        if _reuse_stored(spec, self.store, self.summary, self.say, tag):
            return None
        reused = self.find_reusable(spec) if self.find_reusable else None
        if reused is not None:
            reused.update(spec=spec.to_dict(), key=spec.key, fingerprint=spec.fingerprint())
            self.store.save(spec, reused)
            self.summary.results[spec.key] = reused
            self.summary.skipped.append(spec.key)
            self.say(f"{tag}: same run as {reused['reused_from']}, its result reused")
            return None
        try:
            lock = RunLock(run_directory(spec, self.work_dir), spec)
        except RunBusy as busy:
            self.summary.busy[spec.key] = busy.holder
            self.say(f"{tag}: running in another process ({busy.holder}); skipped here")
            return None
        try:
            if _reuse_stored(spec, self.store, self.summary, self.say, tag, quiet=True):  # finished elsewhere meanwhile
                lock.release()
                return None
            return start_run(spec, self.work_dir, lock, **self.start_options), lock
        except RunFailed as err:
            lock.release()
            self._failed(tag, err)
            return None
        except BaseException:
            lock.release()
            raise

    def settle(self, tag: str, started: StartedRun, lock: RunLock) -> None:
        """Check an ended run's result and store it (or report it failed), then release its lock."""
        spec = started.spec
        with lock:
            try:
                result = started.result(self.keep_checkpoints)
            except RunFailed as err:
                self._failed(tag, err)
                return
            self.store.save(spec, result)
        self.summary.results[spec.key] = result
        self.summary.ran.append(spec.key)
        self.say(f"{tag}: {describe_result(result)}")

    def _failed(self, tag: str, err: RunFailed) -> None:
        self.summary.failed[err.spec.key] = str(err.log_path)
        self.say(f"{tag}: FAILED, {err.reason}; last lines of {err.log_path}:\n{log_tail(err.log_path)}")


def dataset_digest(data_path: str | os.PathLike, dataset: str) -> str | None:
    """SHA-256 of ``<data_path>/<dataset>/<dataset>.meta.json`` (the converter's provenance: raw data, generator
    and version, split, encoder, counts), or None when the dataset has none. A fingerprint names the dataset,
    not its contents; this says whether a stored result was made on the data there now."""
    try:
        return hashlib.sha256((Path(data_path) / dataset / f"{dataset}.meta.json").read_bytes()).hexdigest()
    except OSError:
        return None


def _reuse_stored(spec: RunSpec, store: ResultStore, summary: SweepSummary, say, tag: str, quiet: bool = False) -> bool:
    """Take ``spec``'s stored result into ``summary`` if the store holds it, made on the data there now
    (:func:`dataset_digest`; a result stored before the digest was recorded is run again)."""
    stored = store.load(spec)
    if stored is None:
        return False
    if stored.get("data_digest") != dataset_digest(spec.data_path, spec.dataset):
        if not quiet:
            say(f"{tag}: the stored result was made on other data (or before data digests were recorded): run again")
        return False
    summary.results[spec.key] = with_current_reuse_key(store, spec, stored)
    summary.skipped.append(spec.key)
    say(f"{tag}: stored result reused ({store.path(spec)})")
    return True


def check_store(specs: list[RunSpec], store: ResultStore) -> None:
    """Read every stored result of ``specs``: DataError on the first file that is not a stored result,
    before anything is built or run."""
    for spec in specs:
        store.load(spec)


def collect(specs: list[RunSpec], store: ResultStore) -> SweepSummary:
    """The stored results of ``specs`` without running anything (for ``--report-only``); DataError on the
    first stored file that is not a stored result."""
    summary = SweepSummary()
    for spec in specs:
        stored = store.load(spec)
        if stored is not None:
            summary.results[spec.key] = with_current_reuse_key(store, spec, stored)
            summary.skipped.append(spec.key)
    return summary
