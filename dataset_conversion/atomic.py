"""Write-then-rename helpers so that a failed run never leaves a half-written output behind."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path


def _current_umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


@contextlib.contextmanager
def atomic_directory(final_dir: str | os.PathLike, overwrite: bool = True):
    """Yield a temporary sibling directory; on success it replaces ``final_dir``, on error it is removed."""
    final_dir = Path(final_dir)
    final_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp_dir = Path(tempfile.mkdtemp(prefix=f".{final_dir.name}.tmp-", dir=final_dir.parent))
    os.chmod(tmp_dir, 0o777 & ~_current_umask())  # mkdtemp makes it private (0700); the result should not be
    try:
        yield tmp_dir
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    if final_dir.exists():
        if not overwrite:
            shutil.rmtree(tmp_dir, ignore_errors=True)
            raise FileExistsError(f"{final_dir}: already exists")
        old = final_dir.with_name(f".{final_dir.name}.old-{os.getpid()}")
        final_dir.rename(old)
        tmp_dir.rename(final_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp_dir.rename(final_dir)


@contextlib.contextmanager
def atomic_file(final_path: str | os.PathLike, mode: str = "w", **open_kwargs):
    """Open a temporary sibling file for writing; it is renamed onto ``final_path`` only on success."""
    final_path = Path(final_path)
    final_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final_path.name}.tmp-", dir=final_path.parent)
    os.close(fd)
    try:
        with open(tmp_name, mode, **open_kwargs) as handle:
            yield handle
        os.replace(tmp_name, final_path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp_name)
        raise


def atomic_save_npy(final_path: str | os.PathLike, array) -> None:
    """``np.save`` through a temporary file and a rename."""
    import numpy as np

    with atomic_file(final_path, "wb") as handle:
        np.save(handle, array)
