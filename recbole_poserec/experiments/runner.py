"""Run specifications, one subprocess per run, and the resumable per-run result store.

A :class:`RunSpec` names everything that decides a run's numbers: model, dataset, RecBole ``seed`` and
the configuration overrides (a ``config_dict`` layered over the plug-in's YAML files). :func:`run_all`
runs each spec not yet in the :class:`ResultStore` in its own Python process
(``python -m recbole_poserec.experiments.worker``), so that RecBole's logging handlers, global seeds and
memory never leak from one run into the next and a crash fails one run, not the sweep.

Store layout: ``<store root>/<key>.json``, one small JSON per finished run, written atomically
(temporary sibling + ``os.replace``). A stored result is reused only when its ``fingerprint`` (a hash of
the spec without machine-specific paths) equals the current spec's; a changed budget or override re-runs.

Work directory (``<work_dir>/<study>/<key>/``, meant to be gitignored): ``spec.json``, ``run.log`` (the
run's stdout and stderr), RecBole's own ``log/`` and ``log_tensorboard/`` (the subprocess runs there) and
``saved/`` (the checkpoint RecBole selects on validation and evaluates on test).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKER_MODULE = "recbole_poserec.experiments.worker"
# Settings that say where things are on this machine, not what is computed: left out of the fingerprint.
ENVIRONMENT_KEYS = frozenset({"data_path", "checkpoint_dir", "state", "show_progress", "log_wandb"})
KEY_METRIC = "ndcg@10"  # the plug-in's valid_metric; printed in the per-run progress line


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

    def run_config(self, checkpoint_dir: Path) -> dict:
        """The ``config_dict`` the worker passes to ``run_recbole``."""
        return {
            **self.config,
            "seed": int(self.seed),
            "data_path": str(Path(self.data_path).resolve()),
            "checkpoint_dir": str(checkpoint_dir),
            "show_progress": False,
        }


def _digest(content: dict) -> str:
    """SHA-256 (16 hex digits) of ``content`` as canonical JSON."""
    text = json.dumps(content, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def slug(text: str) -> str:
    """A file-name-safe form of a label: letters, digits, ``._=-`` kept, ``%`` -> ``pct``, others ``_``."""
    cleaned = "".join(c if c.isalnum() or c in "._=-" else "_" for c in text.strip().replace("%", "pct"))
    return "_".join(part for part in cleaned.split("_") if part) or "_"


# ------------------------------------------------------------------------------------------ store


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to a temporary sibling and rename it onto ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp_name)
        raise


class ResultStore:
    """One JSON file per finished run under ``root`` (e.g. ``results/runs/benchmark``)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def path(self, spec: RunSpec) -> Path:
        return self.root / f"{spec.key}.json"

    def load(self, spec: RunSpec) -> dict | None:
        """The stored result of ``spec``, or None when absent, unreadable or of a different fingerprint."""
        path = self.path(spec)
        if not path.is_file():
            return None
        try:
            result = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if result.get("fingerprint") != spec.fingerprint() or result.get("status") != "ok":
            return None
        return result

    def save(self, spec: RunSpec, result: dict) -> Path:
        path = self.path(spec)
        atomic_write_text(path, json.dumps(result, indent=2, sort_keys=True, allow_nan=True) + "\n")
        return path


# ----------------------------------------------------------------------------------------- running


@dataclass
class SweepSummary:
    """What :func:`run_all` did: results by key (stored and new), the keys it ran, skipped, failed."""

    results: dict = field(default_factory=dict)
    ran: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    failed: dict = field(default_factory=dict)  # key -> log path
    elapsed_seconds: float = 0.0  # wall time of this invocation

    @property
    def compute_seconds(self) -> float:
        """Sum of the runs' wall times over every result (this invocation's and earlier ones), runs reused
        from another study left out (their compute is counted there)."""
        return float(sum(r.get("wall_seconds", 0.0) for r in self.results.values() if not r.get("reused_from")))


def run_one(spec: RunSpec, work_dir: Path, timeout: float | None = None, python: str | None = None,
            keep_checkpoint: bool = True) -> dict:
    """Run ``spec`` in a subprocess; return the result dict (``status`` "ok") or raise RunFailed."""
    run_dir = Path(work_dir).resolve() / slug(spec.study) / spec.key
    run_dir.mkdir(parents=True, exist_ok=True)
    result_file = run_dir / "result.json"
    result_file.unlink(missing_ok=True)
    payload = {
        "model": spec.model,
        "dataset": spec.dataset,
        "config_file_list": [str(p) for p in spec.config_files] or None,
        "config_dict": spec.run_config(run_dir / "saved"),
    }
    atomic_write_text(run_dir / "spec.json", json.dumps(payload, indent=2, sort_keys=True) + "\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    command = [python or sys.executable, "-m", WORKER_MODULE, str(run_dir / "spec.json"), str(result_file)]
    log_path = run_dir / "run.log"
    started = time.perf_counter()
    with open(log_path, "w", encoding="utf-8") as log:
        try:
            done = subprocess.run(command, cwd=run_dir, stdout=log, stderr=subprocess.STDOUT, env=env,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            raise RunFailed(spec, log_path, f"timed out after {timeout} s") from None
    wall = time.perf_counter() - started
    if done.returncode != 0 or not result_file.is_file():
        raise RunFailed(spec, log_path, f"exit status {done.returncode}")
    result = json.loads(result_file.read_text(encoding="utf-8"))
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
    score = f", {name}={test[name]:.4f}" if name else ""
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


def find_reusable_in(root: str | os.PathLike) -> Callable[[RunSpec], dict | None]:
    """A lookup of finished runs under ``root/<study>/*.json`` with the spec's ``reuse_key`` (None if none)."""
    root = Path(root)

    def find(spec: RunSpec) -> dict | None:
        if not spec.reuse_key:
            return None
        # Read afresh on every lookup: another study may be running beside this one and finish the run.
        for path in sorted(root.glob("*/*.json")):
            try:
                result = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            same = (result.get("spec") or {}).get("reuse_key") == spec.reuse_key
            if same and result.get("status") == "ok" and not result.get("reused_from"):
                return result | {"reused_from": f"{path.parent.name}/{path.stem}"}
        return None

    return find


def run_all(specs: list[RunSpec], store: ResultStore, work_dir: str | os.PathLike, timeout: float | None = None,
            keep_checkpoints: bool = True, progress: bool = True, echo: Callable[[str], None] | None = None,
            python: str | None = None, find_reusable: Callable[[RunSpec], dict | None] | None = None) -> SweepSummary:
    """Run every spec that the store does not hold yet, in order; skip the others.

    ``find_reusable``: a lookup of the same run finished under another name (e.g. another study's base
    variant, :func:`find_reusable_in`); a hit is stored under this spec with ``reused_from`` and not re-run.

    Prints one line per run (time and ``ndcg@10``) above a tqdm bar over the runs. A failed run is
    reported with the tail of its log and left out of the store (so it is retried next time); the
    sweep goes on. Keys must be unique.
    """
    from tqdm.auto import tqdm

    keys = [s.key for s in specs]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise ValueError(f"duplicate run keys: {duplicates}")
    summary = SweepSummary()
    started = time.perf_counter()
    bar = tqdm(specs, desc="runs", unit="run", disable=not progress, dynamic_ncols=True)
    say = echo or bar.write
    for index, spec in enumerate(bar, start=1):
        tag = f"[{index}/{len(specs)}] {spec.study} {spec.key}"
        stored = store.load(spec)
        if stored is not None:
            summary.results[spec.key] = with_current_reuse_key(store, spec, stored)
            summary.skipped.append(spec.key)
            say(f"{tag}: stored result reused ({store.path(spec)})")
            continue
        reused = find_reusable(spec) if find_reusable else None
        if reused is not None:
            reused.update(spec=spec.to_dict(), key=spec.key, fingerprint=spec.fingerprint())
            store.save(spec, reused)
            summary.results[spec.key] = reused
            summary.skipped.append(spec.key)
            say(f"{tag}: same run as {reused['reused_from']}, its result reused")
            continue
        bar.set_postfix_str(spec.key)
        try:
            result = run_one(spec, Path(work_dir), timeout, python, keep_checkpoints)
        except RunFailed as err:
            summary.failed[spec.key] = str(err.log_path)
            say(f"{tag}: FAILED, {err.reason}; last lines of {err.log_path}:\n{log_tail(err.log_path)}")
            continue
        store.save(spec, result)
        summary.results[spec.key] = result
        summary.ran.append(spec.key)
        say(f"{tag}: {describe_result(result)}")
    bar.close()
    summary.elapsed_seconds = time.perf_counter() - started
    return summary


def collect(specs: list[RunSpec], store: ResultStore) -> SweepSummary:
    """The stored results of ``specs`` without running anything (for ``--report-only``)."""
    summary = SweepSummary()
    for spec in specs:
        stored = store.load(spec)
        if stored is not None:
            summary.results[spec.key] = with_current_reuse_key(store, spec, stored)
            summary.skipped.append(spec.key)
    return summary
