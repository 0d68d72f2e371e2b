"""The PoseRec authors' released model (video side weights, item side outputs), loaded safely.

A release directory holds (see ``../shared/reference-release/README.md``):

* ``best_model_pose.pt`` -- the ST-GCN ``state_dict``; it loads strictly into this project's
  :class:`~recbole_poserec.model.stgcn.STGCN` (``torch.load(weights_only=True)``);
* ``item_feature.pkl`` -- a pickled list of K float arrays, each (n_items, d): e_i^(k);
* ``prototype_dis.npy`` -- float (n_items, K): omega, each item's weights over the K prototypes;
* ``item_data.csv`` -- no header, one item name per line; line i names item i.

Scoring is the authors' (and the paper's Eq. 7): y[v, i] = sum_k omega[i, k] cos(e_v^(k), e_i^(k)),
with e_v^(1..K) the K equal chunks of the ST-GCN output (Eq. 2). All windows are scored against
all items as one matrix product (:func:`~recbole_poserec.model.scoring.score_all_items`).

Pickles are read by :class:`NumpyOnlyUnpickler`, which admits numpy array reconstruction and
nothing else: a pickle that names any other global is refused before it can run code, and no array
is allocated before its size is checked against the data the file actually holds. Every numeric
array (item features, omega, poses) passes the one rule of
:func:`dataset_conversion.pose_values.as_finite_float32`; weights must be finite.
"""

from __future__ import annotations

import io
import math
import os
import pickle
import pickletools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from dataset_conversion.errors import DataError
from dataset_conversion.pose_values import as_finite_float32, require_float_dtype
from recbole_poserec.checkpoint import check_finite_weights
from recbole_poserec.model.scoring import chunk_normalize, item_score_matrix, score_all_items
from recbole_poserec.model.stgcn import STGCN

VIDEO_SIDE_FILE = "best_model_pose.pt"
ITEM_FEATURE_FILE = "item_feature.pkl"
PROTOTYPE_WEIGHTS_FILE = "prototype_dis.npy"
ITEM_NAMES_FILE = "item_data.csv"
RELEASE_FILES = (VIDEO_SIDE_FILE, ITEM_FEATURE_FILE, PROTOTYPE_WEIGHTS_FILE, ITEM_NAMES_FILE)

# Windows pushed through the ST-GCN at once; bounds memory for long videos, not the result.
ENCODING_CHUNK = 1024


# ------------------------------------------------------------------------------ safe unpickling

# A pickle file larger than this is refused before it is read (the release's files are < 1 MB, a
# 300k-frame float32 pose file is 158 MB).
MAX_PICKLE_FILE_BYTES = 1 << 30
# No array rebuilt from a pickle may exceed this, nor (all arrays together) the pickle's own size:
# an array's data has to be in the file.
MAX_PICKLED_ARRAY_BYTES = 1 << 30


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
        spec, align = pickled.args
        if not isinstance(spec, str):
            raise pickle.UnpicklingError(f"refused numpy.dtype({type(spec).__name__})")
        dtype = np.dtype(spec, bool(align), True)  # a fresh dtype: setting its state changes no other
        if pickled.state is not None:
            dtype.__setstate__(self._build(pickled.state))
        if dtype.hasobject:
            raise pickle.UnpicklingError(f"refused dtype {dtype}: arrays of Python objects may not be unpickled")
        return dtype

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


def load_npy(path: str | os.PathLike) -> np.ndarray:
    """A plain ``.npy`` array, memory-mapped (no pickles; a header claiming more data than the file holds
    is refused instead of allocated)."""
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError, MemoryError, OverflowError) as err:
        detail = " ".join(str(err).split()) or type(err).__name__
        raise DataError(path, f"not a plain .npy array ({type(err).__name__}: {detail})") from None


def float32_array(path, array, ndim: int, what: str, axes: tuple[str, ...] = ()) -> np.ndarray:
    """``array`` as finite float32 (:func:`~dataset_conversion.pose_values.as_finite_float32`) of ``ndim`` dims."""
    require_float_dtype(path, array, what)
    if array.ndim != ndim:
        raise DataError(path, f"{what}: expected {ndim} dimensions, got shape {array.shape}")
    return in_memory(as_finite_float32(path, array, what, axes))


def in_memory(array: np.ndarray) -> np.ndarray:
    """``array`` as a writable in-memory array (a copy of a memory-mapped or read-only one)."""
    return np.array(array) if isinstance(array, np.memmap) or not array.flags.writeable else array


# ---------------------------------------------------------------------------- the release itself


@dataclass
class ReferenceRelease:
    """The authors' video side (an eval-mode ST-GCN) and item side outputs, with item names.

    ``item_chunks``: normalized e_i^(k), (n_items, K, d); ``omega``: (n_items, K).
    """

    directory: Path
    video_side: STGCN
    item_chunks: torch.Tensor
    omega: torch.Tensor
    item_names: list[str]

    @property
    def num_prototypes(self) -> int:
        return self.item_chunks.shape[1]

    @property
    def source(self) -> str:
        return f"reference release {self.directory}"

    def item_representations(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalized item chunks (n_items, K, d) and omega (n_items, K)."""
        return self.item_chunks, self.omega

    def item_matrix(self) -> torch.Tensor:
        """M with rows [omega_ik e_i^(k)/|e_i^(k)|]_k, so that y = e_v_normalized M^T (Eq. 7)."""
        return item_score_matrix(self.item_chunks, self.omega)

    @torch.no_grad()
    def video_embeddings(self, windows: torch.Tensor) -> torch.Tensor:
        """e_v (Eq. 2) of (N, T, 33, C) windows, encoded ``ENCODING_CHUNK`` windows at a time."""
        return encode_in_chunks(self.video_side, windows)

    @torch.no_grad()
    def score_windows(self, windows: torch.Tensor) -> torch.Tensor:
        """Eq. 7 scores (N, n_items) of every window against every item, one matrix product."""
        video_chunks = chunk_normalize(self.video_embeddings(windows), self.num_prototypes)
        return score_all_items(video_chunks, self.item_matrix())


def encode_in_chunks(video_side: STGCN, windows: torch.Tensor, chunk: int = ENCODING_CHUNK) -> torch.Tensor:
    """``video_side.encode_windows`` over (N, T, V, C) windows in slices of ``chunk`` (eval mode: independent)."""
    if len(windows) <= chunk:
        return video_side.encode_windows(windows)
    return torch.cat([video_side.encode_windows(part) for part in torch.split(windows, chunk)])


def _require_files(directory: Path) -> None:
    if not directory.is_dir():
        raise DataError(directory, "reference release directory not found")
    missing = [name for name in RELEASE_FILES if not (directory / name).is_file()]
    if missing:
        raise DataError(directory, f"not a reference release: missing {', '.join(missing)}")


def load_video_side(path: Path) -> STGCN:
    """The released ``state_dict`` loaded strictly into a default :class:`STGCN`, in eval mode."""
    try:
        state_dict = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 -- any failure here means the file is not a weights-only state_dict
        raise DataError(path, f"cannot load as a weights-only state_dict ({type(err).__name__}: {err})") from None
    if not isinstance(state_dict, dict):
        raise DataError(path, f"expected a state_dict, got {type(state_dict).__name__}")
    check_finite_weights(path, state_dict)
    model = STGCN()
    try:
        model.load_state_dict(state_dict, strict=True)
    except RuntimeError as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else "mismatch"
        raise DataError(path, f"does not match the ST-GCN video side: {first_line}") from None
    return model.eval()


def load_item_side(feature_path: Path, weights_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """e_i^(k) as (n_items, K, d) from the pickled list, and omega (n_items, K) from the ``.npy``."""
    features = load_numpy_pickle(feature_path)
    if not isinstance(features, (list, tuple)) or not features:
        raise DataError(feature_path, f"expected a non-empty list of K arrays, got {type(features).__name__}")
    chunks = [float32_array(feature_path, a, 2, f"item_feature[{k}]", ("item", "dimension"))
              for k, a in enumerate(features)]
    if len({chunk.shape for chunk in chunks}) != 1:
        raise DataError(feature_path, f"the K arrays differ in shape: {[chunk.shape for chunk in chunks]}")
    item_chunks = np.stack(chunks, axis=1)
    omega = float32_array(weights_path, load_npy(weights_path), 2, "omega", ("item", "prototype"))
    if omega.shape != item_chunks.shape[:2]:
        raise DataError(weights_path, f"shape {omega.shape} does not match item_feature's "
                                      f"(n_items, K) = {item_chunks.shape[:2]}")
    return item_chunks, omega


def load_item_names(path: Path, n_items: int) -> list[str]:
    """One name per line, no header (CRLF or LF); there must be exactly ``n_items`` lines."""
    try:
        names = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(path, f"cannot read item names ({type(err).__name__})") from None
    names = [name.strip() for name in names]
    if len(names) != n_items:
        raise DataError(path, f"{len(names)} item names, but the item side has {n_items} items")
    if not all(names):
        raise DataError(path, f"line {names.index('') + 1} is empty")
    return names


def load_reference_release(directory: str | os.PathLike) -> ReferenceRelease:
    """Load and cross-check the four release files of ``directory``; errors are :class:`DataError`."""
    directory = Path(directory)
    _require_files(directory)
    video_side = load_video_side(directory / VIDEO_SIDE_FILE)
    item_chunks, omega = load_item_side(directory / ITEM_FEATURE_FILE, directory / PROTOTYPE_WEIGHTS_FILE)
    n_items, num_chunks, chunk_size = item_chunks.shape
    if num_chunks * chunk_size != video_side.fc.out_features:
        raise DataError(directory / ITEM_FEATURE_FILE,
                        f"K x d = {num_chunks} x {chunk_size} does not match the video embedding size "
                        f"{video_side.fc.out_features}")
    names = load_item_names(directory / ITEM_NAMES_FILE, n_items)
    return ReferenceRelease(
        directory=directory,
        video_side=video_side,
        item_chunks=torch.nn.functional.normalize(torch.from_numpy(item_chunks), dim=-1),
        omega=torch.from_numpy(omega),
        item_names=names,
    )
