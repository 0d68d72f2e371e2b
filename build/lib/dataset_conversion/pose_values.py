"""The one rule for numeric arrays read from files: a float dtype, and finite once cast to float32.

The converter (pose files), ``recommend`` (pose files) and the reference-release loader (item features)
all go through :func:`as_finite_float32`. A float64 value beyond float32's range (1e300, say) is finite
before the cast and ``inf`` after it, so finiteness is checked on the cast values. Integer, boolean,
complex and object arrays are refused: poses are measurements, not counts.
"""

from __future__ import annotations

import numpy as np

from .errors import DataError

STORED_DTYPE = np.float32
CHUNK_ROWS = 4096  # rows along the first axis cast at a time: bounds the memory of a check


def require_float_dtype(source, array, what: str) -> None:
    """Raise a :class:`DataError` unless ``array`` is a numpy array of a real floating dtype."""
    if not isinstance(array, np.ndarray):
        raise DataError(source, f"{what}: expected a numpy float array, got {type(array).__name__}")
    if array.dtype.kind != "f":
        raise DataError(source, f"{what}: dtype {array.dtype}, expected a float dtype (float32 is stored)")


def first_non_finite(array: np.ndarray) -> tuple[int, ...] | None:
    """Index of the first value that is NaN or infinite after the cast to float32, or None.

    Works in slices of :data:`CHUNK_ROWS` along the first axis, so a memory-mapped file is never
    cast whole.
    """
    if array.ndim == 0:
        array = array.reshape(1)
    for start in range(0, max(len(array), 1), CHUNK_ROWS):
        with np.errstate(over="ignore", invalid="ignore"):
            part = np.asarray(array[start : start + CHUNK_ROWS], dtype=STORED_DTYPE)
        bad = ~np.isfinite(part)
        if bad.any():
            index = np.unravel_index(int(np.argmax(bad.ravel())), part.shape)
            return (start + int(index[0]),) + tuple(int(i) for i in index[1:])
    return None


def describe_non_finite(array: np.ndarray, index: tuple[int, ...]) -> str:
    """``NaN`` / ``inf`` / ``1e+300 (beyond float32's range)`` for the value at ``index``."""
    value = float(array[index])
    if np.isfinite(value):
        return f"{value:g} (beyond float32's range)"
    return "NaN" if np.isnan(value) else "inf"


def check_finite_float(source, array, what: str, axes: tuple[str, ...] = ()) -> None:
    """Raise a :class:`DataError` naming the first non-finite value (after the float32 cast) of ``array``.

    ``axes`` name the dimensions for the message (e.g. ``("frame", "landmark", "channel")``).
    """
    require_float_dtype(source, array, what)
    index = first_non_finite(array)
    if index is None:
        return
    names = axes if len(axes) == len(index) else tuple(f"axis {k}" for k in range(len(index)))
    where = ", ".join(f"{name} {i}" for name, i in zip(names, index))
    raise DataError(source, f"{what}: {describe_non_finite(array, index)} at {where}; values must be finite float32")


def as_finite_float32(source, array, what: str, axes: tuple[str, ...] = ()) -> np.ndarray:
    """``array`` as a contiguous float32 array, after :func:`check_finite_float`."""
    check_finite_float(source, array, what, axes)
    return np.ascontiguousarray(array, dtype=STORED_DTYPE)
