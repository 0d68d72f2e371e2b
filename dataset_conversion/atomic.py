"""Write-then-rename helpers: a failed, interrupted or killed run never leaves a half-written output behind,
and a command only ever replaces what it created itself.

* Output is written to a temporary sibling named ``.<final name>.tmp-<pid>-<random>`` and renamed onto the
  final path only once complete; a replaced directory is first moved to ``.<final name>.old-<pid>-<random>``.
  SIGINT / SIGTERM are held back during that swap (their handlers run right after it), so it is never
  left half done by a signal.
* A kill -9 leaves its temporary behind; the next run on the same final path removes temporaries of that
  naming whose process (the ``<pid>``) no longer runs -- only those. If a killed swap had already moved the
  previous output aside, that output is put back.
* :func:`atomic_directory` refuses (:class:`DataError`) a target that is not a plain directory name
  (empty, ``.``, ``..``), the current directory or one above it, a symbolic link, an existing file, or an
  existing non-empty directory that the caller's ``replaces`` predicate does not recognise as its own output.
* :func:`atomic_file` refuses an empty path and a target that exists and is not a regular file (a
  symbolic link, a directory, a device, a FIFO, a socket), or one that its ``replaces`` predicate does
  not recognise (:func:`atomic_save_figure`: a figure of the format written), before any temporary
  exists, and checks again right before the rename.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import stat
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Callable

from .errors import DataError

NOT_OURS = "exists and was not written by this command; choose another name or remove it"
_DEFERRED_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _current_umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _temporary_prefix(final: Path, kind: str) -> str:
    return f".{final.name}.{kind}-{os.getpid()}-"


def _temporary_pattern(final: Path) -> re.Pattern:
    return re.compile(rf"\.{re.escape(final.name)}\.(tmp|old)-(\d+)-\w+")


def process_alive(pid: int) -> bool:
    """Whether a process with this id runs (on this machine); one we may not signal counts as running."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        return True
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def remove_stale_temporaries(final_path: str | os.PathLike) -> list[Path]:
    """Remove the temporaries of ``final_path`` (our naming) left by processes that no longer run.

    Returns what was removed. If ``final_path`` is missing while such a process had moved the previous
    output aside (a kill between the two renames of a swap), the newest moved-aside copy is put back
    (and not listed).
    """
    final = Path(final_path)
    pattern = _temporary_pattern(final)
    try:
        entries = list(final.parent.iterdir())
    except OSError:
        return []
    stale, moved_aside = [], []
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match is None or process_alive(int(match[2])):
            continue
        (moved_aside if match[1] == "old" else stale).append(entry)
    if moved_aside and not os.path.lexists(final):
        moved_aside.sort(key=lambda p: p.lstat().st_mtime_ns)
        moved_aside.pop().rename(final)
    for entry in stale + moved_aside:
        _remove(entry)
    return stale + moved_aside


@contextlib.contextmanager
def _signals_deferred():
    """Hold back SIGINT / SIGTERM until the block is done (then their handlers run), so that a multi-step
    rename is never cut in half. Python runs signal handlers in the main thread only; elsewhere no
    signal can interrupt the block."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []
    previous = {signum: signal.signal(signum, lambda signum, frame: received.append(signum))
                for signum in _DEFERRED_SIGNALS}  # fmt: skip
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for signum in received:
            if callable(previous[signum]):
                previous[signum](signum, None)
            elif previous[signum] == signal.SIG_DFL:
                signal.raise_signal(signum)


def _make_parent(parent: Path) -> None:
    existing = next((p for p in (parent, *parent.parents) if os.path.lexists(p)), None)
    if existing is not None and not existing.is_dir():
        raise DataError(existing, "is not a directory" if existing == parent else f"is not a directory (in {parent})")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DataError(parent, f"cannot create this directory ({err.strerror or err})") from None


def check_replaceable(
    final_dir: str | os.PathLike, replaces: Callable[[Path], bool], not_ours: str = NOT_OURS
) -> Path:
    """``final_dir`` as a Path if :func:`atomic_directory` may write it, else :class:`DataError`.

    ``replaces(existing_dir) -> bool`` says whether an existing non-empty directory is an earlier output of
    the caller. An empty directory may always be replaced.
    """
    final = Path(final_dir)
    if final.name in ("", ".", ".."):
        raise DataError(os.fspath(final_dir) or "''", "is not a directory name that can be written (empty, '.', '..')")
    resolved = final.resolve()
    with contextlib.suppress(OSError):
        cwd = Path.cwd().resolve()
        if resolved == cwd or resolved in cwd.parents:
            raise DataError(final, "is the current directory or one above it; refusing to replace it")
    if final.is_symlink():
        raise DataError(final, "is a symbolic link; refusing to replace it (choose another name or remove the link)")
    if not os.path.lexists(final):
        return final
    if not final.is_dir():
        raise DataError(final, "exists and is not a directory; choose another name or remove it")
    try:
        empty = next(final.iterdir(), None) is None
    except OSError as err:
        raise DataError(final, f"exists and cannot be read ({err.strerror or err})") from None
    if not empty and not replaces(final):
        raise DataError(final, not_ours)
    return final


@contextlib.contextmanager
def atomic_directory(final_dir: str | os.PathLike, *, replaces: Callable[[Path], bool], not_ours: str = NOT_OURS):
    """Yield a temporary sibling directory; on success it replaces ``final_dir``, on error it is removed.

    ``replaces`` is required: every caller says what an earlier output of its own looks like. See
    :func:`check_replaceable` for what may be replaced (checked before and again after the work).
    """
    final = check_replaceable(final_dir, replaces, not_ours)
    _make_parent(final.parent)
    remove_stale_temporaries(final)
    tmp_dir = old = None
    try:
        with _signals_deferred():  # a signal right after mkdtemp must not strand the new directory
            tmp_dir = Path(tempfile.mkdtemp(prefix=_temporary_prefix(final, "tmp"), dir=final.parent))
        os.chmod(tmp_dir, 0o777 & ~_current_umask())  # mkdtemp makes it private (0700); the result should not be
        yield tmp_dir
        check_replaceable(final, replaces, not_ours)  # something may have appeared there meanwhile
        with _signals_deferred():
            if os.path.lexists(final):
                old = final.with_name(f"{_temporary_prefix(final, 'old')}{uuid.uuid4().hex[:12]}")
                final.rename(old)
                try:
                    tmp_dir.rename(final)
                except BaseException:
                    old.rename(final)
                    old = None
                    raise
            else:
                tmp_dir.rename(final)
    except BaseException:
        if tmp_dir is not None:
            shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def check_replaceable_file(
    final_path: str | os.PathLike, replaces: Callable[[Path], bool] | None = None, not_ours: str = NOT_OURS
) -> Path:
    """``final_path`` as a Path if :func:`atomic_file` may write it, else :class:`DataError`.

    A missing path may be written; an existing one only if it is a regular file (not followed through a
    symbolic link) and ``replaces(existing_file)`` says it is an earlier output of the caller (no
    ``replaces``: any regular file).
    """
    if not os.fspath(final_path):
        raise DataError("''", "is not a file name that can be written (empty)")
    final = Path(final_path)
    try:
        mode = final.lstat().st_mode
    except FileNotFoundError:
        return final
    except OSError as err:
        raise DataError(final, f"cannot be checked ({err.strerror or err})") from None
    if stat.S_ISLNK(mode):
        raise DataError(final, "is a symbolic link; refusing to replace it (choose another name or remove the link)")
    if stat.S_ISDIR(mode):
        raise DataError(final, "is a directory; expected a file path")
    if not stat.S_ISREG(mode):
        raise DataError(final, "is not a regular file (a device, FIFO or socket); refusing to replace it")
    if replaces is not None and not replaces(final):
        raise DataError(final, not_ours)
    return final


@contextlib.contextmanager
def atomic_file(final_path: str | os.PathLike, mode: str = "w", *, replaces: Callable[[Path], bool] | None = None,
                not_ours: str = NOT_OURS, **open_kwargs):
    """Open a temporary sibling file for writing; it is renamed onto ``final_path`` only on success.

    What may be replaced: :func:`check_replaceable_file` (checked before the temporary is made and again
    right before the rename).
    """
    final = check_replaceable_file(final_path, replaces, not_ours)
    _make_parent(final.parent)
    remove_stale_temporaries(final)
    tmp_name = None
    try:
        with _signals_deferred():  # a signal right after mkstemp must not strand the new file
            fd, tmp_name = tempfile.mkstemp(prefix=_temporary_prefix(final, "tmp"), dir=final.parent)
            os.close(fd)
        os.chmod(tmp_name, 0o666 & ~_current_umask())  # mkstemp makes it private (0600)
        with open(tmp_name, mode, **open_kwargs) as handle:
            yield handle
        check_replaceable_file(final, replaces, not_ours)  # something may have appeared there meanwhile
        os.replace(tmp_name, final)
    except BaseException:
        if tmp_name is not None:
            with contextlib.suppress(FileNotFoundError):
                os.remove(tmp_name)
        raise


def atomic_save_npy(final_path: str | os.PathLike, array) -> None:
    """``np.save`` through a temporary file and a rename."""
    import numpy as np

    with atomic_file(final_path, "wb") as handle:
        np.save(handle, array)


# how each figure format matplotlib writes begins; a file that does not was not written by us
FIGURE_SIGNATURES = {"png": b"\x89PNG\r\n\x1a\n", "pdf": b"%PDF-", "svg": b"<?xml", "eps": b"%!PS", "ps": b"%!PS"}


def has_signature(path: Path, signature: bytes) -> bool:
    """Whether the file at ``path`` begins with ``signature``."""
    try:
        with open(path, "rb") as handle:
            return handle.read(len(signature)) == signature
    except OSError:
        return False


def _figure_rule(format: str) -> tuple[Callable[[Path], bool], str]:
    """What an earlier figure of ``format`` looks like, and the refusal for anything else."""
    signature = FIGURE_SIGNATURES.get(format.lower())

    def replaces(existing: Path) -> bool:
        return signature is not None and has_signature(existing, signature)

    return replaces, f"exists and is not a {format.upper()}; choose another name or remove it"


def check_figure_path(final_path: str | os.PathLike, format: str = "png") -> Path:
    """``final_path`` as a Path if :func:`atomic_save_figure` may write it there, else :class:`DataError`
    (for commands that check their output path before the work)."""
    return check_replaceable_file(final_path, *_figure_rule(format))


def atomic_save_figure(figure, final_path: str | os.PathLike, *, format: str = "png", **savefig_kwargs) -> Path:
    """Render a matplotlib figure in memory, then write it through a temporary file and a rename.

    An existing file is replaced only if it is a figure of the same ``format`` (its signature,
    :data:`FIGURE_SIGNATURES`): a figure never overwrites notes, data or anything else.
    Rendering first keeps the temporary's life to one write, and runs matplotlib's lazy imports of C
    extensions before it exists (a Ctrl-C inside such an import surfaces as an ImportError, not as
    KeyboardInterrupt).
    """
    import io

    replaces, not_ours = _figure_rule(format)
    check_replaceable_file(final_path, replaces, not_ours)  # before the (slow) rendering
    buffer = io.BytesIO()
    figure.savefig(buffer, format=format, **savefig_kwargs)
    with atomic_file(final_path, "wb", replaces=replaces, not_ours=not_ours) as handle:
        handle.write(buffer.getbuffer())
    return Path(final_path)
