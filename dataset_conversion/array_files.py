"""Numpy arrays read from files without running code: plain ``.npy`` files and pickles of numpy arrays.

Pickles (the authors' ``.pkl`` files) are read by :class:`NumpyOnlyUnpickler`, which admits numpy
array reconstruction and nothing else: a pickle that names any other global is refused before it
can run code, and no array is allocated before its size is checked against the data the file
actually holds. ``.npy`` files are read by the one loader, :func:`dataset_conversion.npy_files.load_npy`
(memory-mapped, ``allow_pickle=False``), re-exported here.
"""

from __future__ import annotations

import io
import math
import os
import pickle
import pickletools

import numpy as np

from dataset_conversion.errors import DataError

# A pickle file larger than this is refused before it is read (the release's files are < 1 MB, a
# 300k-frame float32 pose file is 158 MB).
MAX_PICKLE_FILE_BYTES = 1 << 30
# No array rebuilt from a pickle may exceed this, nor (all arrays together) the pickle's own size:
# an array's data has to be in the file.
MAX_PICKLED_ARRAY_BYTES = 1 << 30
# The dtypes a pickled array may have: numpy's builtin bool, integer and float scalars, as
# ``numpy.dtype(spec)`` names them in a pickle. Structured, subarray, string, datetime and object
# dtypes are refused: their pickled state is applied by numpy's C code without checks (a field at
# offset 1e8 inside an 8-byte dtype crashes the interpreter).
PICKLED_DTYPE_SPECS = frozenset({"b1", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8"})
# What ``numpy.dtype.__reduce__`` gives as the state of such a dtype: (version 3, byte order,
# no subarray, no names, no fields, elsize -1, alignment -1, no flags).
_BUILTIN_DTYPE_STATE_TAIL = (None, None, None, -1, -1, 0)


def _latin1_bytes(text: str, encoding: str = "latin1") -> bytes:
    """``_codecs.encode`` as protocol-2 pickles use it for bytes (array data), and nothing more."""
    if not isinstance(text, str) or encoding != "latin1":
        raise pickle.UnpicklingError(f"refused _codecs.encode({type(text).__name__}, {encoding!r})")
    return text.encode("latin1")


class _PickledDtype:
    """``numpy.dtype(spec, align, copy)`` as a pickle asks for it; made real only once the load is checked."""

    def __init__(self, spec, align):
        self.args = (spec, align)
        self.state = None

    def __setstate__(self, state):  # the pickle's BUILD
        self.state = state


class _PickledArray:
    """An array a pickle describes: dtype, shape, order and data; nothing is allocated until it is checked.

    ``_reconstruct(ndarray, shape, dtype)`` + BUILD (protocols 2-4) and ``_frombuffer(buffer, dtype,
    shape, order)`` (protocol 5) both end here; the shape given to ``_reconstruct`` (``(0,)`` in numpy's
    own pickles) is never allocated.
    """

    def __init__(self, data=None, dtype=None, shape=None, order="C"):
        self.data, self.dtype, self.shape, self.order = data, dtype, shape, order

    def __setstate__(self, state):  # ndarray.__setstate__'s (version, shape, dtype, is_fortran, data)
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise pickle.UnpicklingError("array state is not numpy's (version, shape, dtype, is_fortran, data)")
        self.shape, self.dtype, is_fortran, self.data = state[-4:]
        self.order = "F" if is_fortran else "C"


def _empty_bytes(*args) -> bytes:
    """``bytes()`` as protocol 2 writes an empty bytes object (an empty array's data), nothing else."""
    if args:
        raise pickle.UnpicklingError("refused bytes(...) with arguments")
    return b""


def _pickled_dtype(spec, align=False, copy=False) -> _PickledDtype:
    return _PickledDtype(spec, align)


def _pickled_ndarray(*args):
    """``numpy.ndarray`` as a pickle's global: only :func:`_pickled_reconstruct`'s subtype argument."""
    raise pickle.UnpicklingError("refused numpy.ndarray(...) called directly: numpy's pickles never do")


def _pickled_reconstruct(subtype, shape, dtype):
    if subtype is not _pickled_ndarray:
        raise pickle.UnpicklingError("refused _reconstruct of anything but numpy.ndarray")
    return _PickledArray()


def _pickled_frombuffer(buffer, dtype, shape, order="C"):
    return _PickledArray(buffer, dtype, shape, order)


def _numpy_array_globals() -> dict[tuple[str, str], object]:
    """The globals a pickled numpy array names, under numpy 1.x's and numpy 2.x's module names.

    ``_reconstruct``, ``ndarray`` and ``dtype`` (protocols 2-4), ``_frombuffer`` (protocol 5), and for
    protocol 2 ``_codecs.encode`` limited to latin-1 (how that protocol stores the array's bytes) and
    ``bytes()`` without arguments (how it stores no bytes). Each
    resolves to a stand-in that only records what the pickle asks for (none is a class, so NEWOBJ
    cannot use one); :meth:`NumpyOnlyUnpickler.load` builds the arrays after checking their sizes.
    """
    allowed = {("_codecs", "encode"): _latin1_bytes, ("__builtin__", "bytes"): _empty_bytes,
               ("builtins", "bytes"): _empty_bytes}
    for package in ("numpy.core", "numpy._core"):
        allowed[(f"{package}.multiarray", "_reconstruct")] = _pickled_reconstruct
        allowed[(f"{package}.numeric", "_frombuffer")] = _pickled_frombuffer
        allowed[(f"{package}.multiarray", "ndarray")] = _pickled_ndarray
        allowed[(f"{package}.multiarray", "dtype")] = _pickled_dtype
    allowed[("numpy", "ndarray")] = _pickled_ndarray
    allowed[("numpy", "dtype")] = _pickled_dtype
    return allowed


_ALLOWED_GLOBALS = _numpy_array_globals()


def _stream_size(file) -> int | None:
    """Bytes in ``file`` (a regular file or a BytesIO), None if it cannot tell."""
    try:
        return len(file.getbuffer())
    except AttributeError:
        pass
    try:
        return os.fstat(file.fileno()).st_size
    except (AttributeError, OSError, ValueError):
        return None


class NumpyOnlyUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds numpy arrays (and plain lists, tuples, dicts, numbers, strings) only.

    Any other global (a class or function a pickle asks to import) raises ``pickle.UnpicklingError``,
    and so does an array of an object dtype, an array whose data does not fill its shape exactly, or
    arrays larger than the pickle itself (or :data:`MAX_PICKLED_ARRAY_BYTES`): a 30-byte pickle cannot
    make it allocate gigabytes.
    """

    def __init__(self, file, *args, **kwargs):
        super().__init__(file, *args, **kwargs)
        size = _stream_size(file)
        self.array_budget = MAX_PICKLED_ARRAY_BYTES if size is None else min(size, MAX_PICKLED_ARRAY_BYTES)

    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refused global {module}.{name}: only numpy arrays may be unpickled") from None

    def load(self):
        return _ArrayBuilder(self.array_budget).build(super().load())


def _short_repr(value, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


class _ArrayBuilder:
    """Replaces the stand-ins in an unpickled object by real numpy arrays and dtypes, checking each first."""

    def __init__(self, budget: int):
        self.budget = budget
        self.built: dict[int, object] = {}

    def build(self, value):
        try:
            return self._build(value)
        except RecursionError:
            raise pickle.UnpicklingError("objects nested too deeply") from None

    def _build(self, value):
        if isinstance(value, (str, bytes, bytearray, int, float, complex, type(None))):
            return value
        key = id(value)
        if key in self.built:
            return self.built[key]
        if isinstance(value, _PickledArray):
            result = self._array(value)
        elif isinstance(value, _PickledDtype):
            result = self._dtype(value)
        elif isinstance(value, list):
            result = self.built[key] = []
            result.extend(self._build(item) for item in value)
        elif isinstance(value, dict):
            result = self.built[key] = {}
            result.update((self._build(k), self._build(v)) for k, v in value.items())
        elif isinstance(value, (tuple, set, frozenset)):
            result = type(value)(self._build(item) for item in value)
        else:
            raise pickle.UnpicklingError(f"refused object of type {type(value).__name__}")
        self.built[key] = result
        return result

    def _dtype(self, pickled: _PickledDtype) -> np.dtype:
        """A builtin scalar dtype of :data:`PICKLED_DTYPE_SPECS`, built from a checked spec and byte
        order; the pickle's state is compared with numpy's own, never passed to ``dtype.__setstate__``."""
        spec, _align = pickled.args
        if not isinstance(spec, str) or spec not in PICKLED_DTYPE_SPECS:
            raise pickle.UnpicklingError(f"refused numpy.dtype({spec!r}): only bool, integer and float arrays "
                                         "may be unpickled")
        byte_order = "|" if spec[1:] == "1" else "="
        state = pickled.state
        if state is not None:
            if not (isinstance(state, tuple) and len(state) == 8 and state[0] == 3
                    and all(type(a) is type(b) and a == b for a, b in zip(state[2:], _BUILTIN_DTYPE_STATE_TAIL))):
                raise pickle.UnpicklingError(f"refused dtype {spec} with state {_short_repr(state)}: not the state "
                                             "numpy writes for a plain scalar dtype")
            byte_order = state[1]
            if byte_order not in (("|",) if spec[1:] == "1" else ("<", ">", "=")):
                raise pickle.UnpicklingError(f"refused dtype {spec} with byte order {byte_order!r}")
        return np.dtype(spec).newbyteorder(byte_order) if byte_order in "<>" else np.dtype(spec)

    def _array(self, pickled: _PickledArray) -> np.ndarray:
        dtype = self._build(pickled.dtype)
        if not isinstance(dtype, np.dtype):
            raise pickle.UnpicklingError(f"array dtype is a {type(dtype).__name__}, not a numpy dtype")
        shape = pickled.shape
        if not (isinstance(shape, tuple) and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0
                                                 for n in shape)):
            raise pickle.UnpicklingError(f"array shape {shape!r} is not a tuple of non-negative integers")
        data = pickled.data
        if isinstance(data, pickle.PickleBuffer):
            data = data.raw()
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise pickle.UnpicklingError(f"array data is a {type(data).__name__}, not bytes")
        n_bytes = math.prod(shape) * dtype.itemsize  # Python integers: no overflow
        if n_bytes != len(data):
            raise pickle.UnpicklingError(f"array of shape {shape} and dtype {dtype} needs {n_bytes} bytes, "
                                         f"the pickle holds {len(data)}")
        if n_bytes > self.budget:
            raise pickle.UnpicklingError(f"arrays of {n_bytes} bytes exceed what the pickle itself can hold")
        self.budget -= n_bytes  # the same bytes reused for many arrays still count every time
        if pickled.order not in ("C", "F"):
            raise pickle.UnpicklingError(f"array order {pickled.order!r} is not 'C' or 'F'")
        if n_bytes == 0:
            return np.empty(shape, dtype=dtype, order=pickled.order)
        return np.frombuffer(data, dtype=dtype).reshape(shape, order=pickled.order).copy(order=pickled.order)


def load_numpy_pickle(path: str | os.PathLike):
    """Unpickle ``path`` with :class:`NumpyOnlyUnpickler`; any failure is a one-line :class:`DataError`.

    A file above :data:`MAX_PICKLE_FILE_BYTES` is refused unread; a smaller one is read whole and its
    opcodes scanned first, so that no opcode's claimed length can make the reader allocate more than
    the file holds.
    """
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > MAX_PICKLE_FILE_BYTES:
                raise DataError(path, f"{size} bytes: larger than the {MAX_PICKLE_FILE_BYTES} bytes a pickle may have")
            data = handle.read(size)  # read(n) allocates n bytes up front: n is the checked size
        # the C unpickler allocates what a length opcode claims before reading it; pickletools reads
        # each claimed length from the bytes at hand, so a claim beyond the file fails here, unallocated
        for _ in pickletools.genops(data):
            pass
        return NumpyOnlyUnpickler(io.BytesIO(data)).load()
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
            OSError, MemoryError, OverflowError) as err:
        detail = " ".join(str(err).split()) or type(err).__name__
        raise DataError(path, f"not a pickle of numpy arrays ({type(err).__name__}: {detail})") from None


def in_memory(array: np.ndarray) -> np.ndarray:
    """``array`` as a writable in-memory array (a copy of a memory-mapped or read-only one)."""
    return np.array(array) if isinstance(array, np.memmap) or not array.flags.writeable else array
