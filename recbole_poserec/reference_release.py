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
nothing else: a pickle that names any other global is refused before it can run code.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from dataset_conversion.errors import DataError
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


def _latin1_bytes(text: str, encoding: str = "latin1") -> bytes:
    """``_codecs.encode`` as protocol-2 pickles use it for bytes (array data), and nothing more."""
    if not isinstance(text, str) or encoding != "latin1":
        raise pickle.UnpicklingError(f"refused _codecs.encode({type(text).__name__}, {encoding!r})")
    return text.encode("latin1")


def _numpy_array_globals() -> dict[tuple[str, str], object]:
    """The globals a pickled numpy array names, under numpy 1.x's and numpy 2.x's module names.

    ``_reconstruct``, ``ndarray`` and ``dtype`` (protocols 2-4), ``_frombuffer`` (protocol 5), and for
    protocol 2 ``_codecs.encode`` limited to latin-1 (how that protocol stores the array's bytes).
    """
    try:  # numpy >= 2 (numpy 1.26 has it too)
        from numpy._core import multiarray, numeric
    except ImportError:  # older numpy 1.x
        from numpy.core import multiarray, numeric

    allowed = {("_codecs", "encode"): _latin1_bytes}
    for package in ("numpy.core", "numpy._core"):
        allowed[(f"{package}.multiarray", "_reconstruct")] = multiarray._reconstruct
        allowed[(f"{package}.numeric", "_frombuffer")] = numeric._frombuffer
        allowed[(f"{package}.multiarray", "ndarray")] = np.ndarray
        allowed[(f"{package}.multiarray", "dtype")] = np.dtype
    allowed[("numpy", "ndarray")] = np.ndarray
    allowed[("numpy", "dtype")] = np.dtype
    return allowed


class NumpyOnlyUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds numpy arrays (and plain lists, tuples, dicts, numbers, strings) only.

    Any other global (a class or function a pickle asks to import) raises ``pickle.UnpicklingError``.
    The allowed names resolve to fixed objects, never through an import of the pickle's choosing.
    """

    _ALLOWED = None

    def find_class(self, module: str, name: str):
        if NumpyOnlyUnpickler._ALLOWED is None:
            NumpyOnlyUnpickler._ALLOWED = _numpy_array_globals()
        try:
            return NumpyOnlyUnpickler._ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refused global {module}.{name}: only numpy arrays may be unpickled") from None


def load_numpy_pickle(path: str | os.PathLike):
    """Unpickle ``path`` with :class:`NumpyOnlyUnpickler`; any failure is a one-line :class:`DataError`."""
    try:
        with open(path, "rb") as handle:
            return NumpyOnlyUnpickler(handle).load()
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, OSError) as err:
        raise DataError(path, f"not a pickle of numpy arrays ({type(err).__name__}: {err})") from None


def _is_numeric(array: np.ndarray) -> bool:
    return array.dtype.kind in "biuf"


def finite_float_array(path, array, expected_ndim: int, what: str) -> np.ndarray:
    """``array`` as float32 after checking it is a finite numeric ndarray of ``expected_ndim`` dims."""
    if not isinstance(array, np.ndarray) or not _is_numeric(array):
        raise DataError(path, f"{what}: expected a numeric numpy array, got {type(array).__name__}"
                              + (f" of dtype {array.dtype}" if isinstance(array, np.ndarray) else ""))
    if array.ndim != expected_ndim:
        raise DataError(path, f"{what}: expected {expected_ndim} dimensions, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise DataError(path, f"{what}: contains NaN or infinite values")
    return np.ascontiguousarray(array, dtype=np.float32)


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
    chunks = [finite_float_array(feature_path, a, 2, f"item_feature[{k}]") for k, a in enumerate(features)]
    if len({chunk.shape for chunk in chunks}) != 1:
        raise DataError(feature_path, f"the K arrays differ in shape: {[chunk.shape for chunk in chunks]}")
    item_chunks = np.stack(chunks, axis=1)
    try:
        omega = np.load(weights_path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise DataError(weights_path, f"not a plain .npy array ({type(err).__name__}: {err})") from None
    omega = finite_float_array(weights_path, omega, 2, "omega")
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
