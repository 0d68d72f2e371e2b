"""The one reader of ``.npy`` files: the converter's pose files and ``recommend``'s and the
reference release's arrays all come through :func:`load_npy`.

A file is memory-mapped with ``allow_pickle=False``: nothing in it can run code, and a header that
claims more data than the file holds is refused instead of allocated. Every failure -- a missing
file, a pickle, a ``.npz``, a truncated or malformed header -- is one :class:`DataError` line.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .errors import DataError

MAX_DETAIL_CHARS = 200  # numpy quotes the whole (up to 10 000-character) header in some messages


def load_npy(path: str | os.PathLike, what: str = "array file") -> np.ndarray:
    """The array of the ``.npy`` file ``path``, memory-mapped read-only; ``what`` names it in messages."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, f"{what} not found" if not path.exists() else "not a regular file")
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    # numpy parses the header with tokenize and ast.literal_eval: a malformed one raises TokenError,
    # SyntaxError, ValueError, TypeError, KeyError, RecursionError, MemoryError ... any of which means
    # "not a .npy file numpy can read safely".
    except Exception as err:  # noqa: BLE001
        detail = " ".join(str(err).split()) or type(err).__name__
        if len(detail) > MAX_DETAIL_CHARS:
            detail = detail[:MAX_DETAIL_CHARS] + "..."
        raise DataError(path, f"unreadable {what}: not a plain .npy array ({type(err).__name__}: {detail})") from None
    if not isinstance(array, np.ndarray):  # np.load reads a .npz archive whatever its name
        if hasattr(array, "close"):
            array.close()
        raise DataError(path, f"unreadable {what}: not a plain .npy array (an archive of {type(array).__name__})")
    return array
