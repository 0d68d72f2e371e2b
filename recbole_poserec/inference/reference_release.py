"""The PoseRec authors' released model (video side weights, item side outputs), loaded safely, as a
:class:`~recbole_poserec.inference.scorer.WindowScorer`.

A release directory holds (see ``../shared/reference-release/README.md``):

* ``best_model_pose.pt`` -- the ST-GCN ``state_dict``; it loads strictly into this project's
  :class:`~recbole_poserec.model.stgcn.STGCN` (``torch.load(weights_only=True)``);
* ``item_feature.pkl`` -- a pickled list of K float arrays, each (n_items, d): e_i^(k);
* ``prototype_dis.npy`` -- float (n_items, K): omega, each item's weights over the K prototypes;
* ``item_data.csv`` -- no header, one item name per line; line i names item i.

Scoring is the authors' (and the paper's Eq. 7): y[v, i] = sum_k omega[i, k] cos(e_v^(k), e_i^(k)),
with e_v^(1..K) the K equal chunks of the ST-GCN output (Eq. 2). All windows are scored against
all items as one matrix product (:func:`~recbole_poserec.model.scoring.score_embeddings`).

The pickle is read by :func:`~dataset_conversion.array_files.load_numpy_pickle` (numpy arrays
only, sizes checked before allocation). Every numeric array (item features, omega) passes the one
rule of :func:`dataset_conversion.pose_values.as_finite_float32`; weights must be finite; no item
chunk e_i^(k) may be a zero vector (its cosine is undefined).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from dataset_conversion.errors import DataError
from dataset_conversion.npy_files import load_npy
from dataset_conversion.pose_values import as_finite_float32, require_float_dtype
from recbole_poserec.checkpoint import check_finite_weights, load_weights_only
from dataset_conversion.array_files import in_memory, load_numpy_pickle
from recbole_poserec.inference.scorer import WindowScorer, score_in_slices
from recbole_poserec.model.scoring import item_score_matrix, score_embeddings
from recbole_poserec.model.stgcn import STGCN

VIDEO_SIDE_FILE = "best_model_pose.pt"
ITEM_FEATURE_FILE = "item_feature.pkl"
PROTOTYPE_WEIGHTS_FILE = "prototype_dis.npy"
ITEM_NAMES_FILE = "item_data.csv"
RELEASE_FILES = (VIDEO_SIDE_FILE, ITEM_FEATURE_FILE, PROTOTYPE_WEIGHTS_FILE, ITEM_NAMES_FILE)


def float32_array(path, array, ndim: int, what: str, axes: tuple[str, ...] = ()) -> np.ndarray:
    """``array`` as finite float32 (:func:`~dataset_conversion.pose_values.as_finite_float32`) of ``ndim`` dims."""
    require_float_dtype(path, array, what)
    if array.ndim != ndim:
        raise DataError(path, f"{what}: expected {ndim} dimensions, got shape {array.shape}")
    return in_memory(as_finite_float32(path, array, what, axes))


@dataclass
class ReferenceRelease(WindowScorer):
    """The authors' video side (an eval-mode ST-GCN) and item side outputs, with item names.

    ``item_chunks``: normalized e_i^(k), (n_items, K, d); ``omega``: (n_items, K).
    """

    directory: Path
    video_side: STGCN
    item_chunks: torch.Tensor
    omega: torch.Tensor
    item_names: list[str]

    @property
    def item_tokens(self) -> None:
        """The release names its items but has no dataset item ids."""
        return None

    @property
    def source(self) -> str:
        return f"reference release {self.directory}"

    def item_representations(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.item_chunks, self.omega

    @torch.no_grad()
    def score_windows(self, windows: torch.Tensor) -> torch.Tensor:
        item_matrix = item_score_matrix(self.item_chunks, self.omega)
        num_prototypes = self.item_chunks.shape[1]
        return score_in_slices(
            lambda part: score_embeddings(self.video_side.encode_windows(part), item_matrix, num_prototypes), windows)


def _require_files(directory: Path) -> None:
    if not directory.is_dir():
        raise DataError(directory, "reference release directory not found")
    missing = [name for name in RELEASE_FILES if not (directory / name).is_file()]
    if missing:
        raise DataError(directory, f"not a reference release: missing {', '.join(missing)}")


def load_video_side(path: Path) -> STGCN:
    """The released ``state_dict`` loaded strictly into a default :class:`STGCN`, in eval mode."""
    state_dict = load_weights_only(path, "state_dict")
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
    omega = float32_array(weights_path, load_npy(weights_path, "prototype weights file"), 2, "omega",
                          ("item", "prototype"))
    if omega.shape != item_chunks.shape[:2]:
        raise DataError(weights_path, f"shape {omega.shape} does not match item_feature's "
                                      f"(n_items, K) = {item_chunks.shape[:2]}")
    return item_chunks, omega


def normalized_chunks(path: Path, item_chunks: np.ndarray) -> np.ndarray:
    """e_i^(k) / |e_i^(k)| (float32), the norms taken in float64 so that no finite float32 vector
    overflows or underflows; a zero vector, whose cosine in Eq. 7 is undefined, is refused."""
    norms = np.linalg.norm(item_chunks.astype(np.float64), axis=-1, keepdims=True)
    zero = np.argwhere(norms[..., 0] == 0)
    if len(zero):
        item, chunk = (int(i) for i in zero[0])
        raise DataError(path, f"item_feature[{chunk}]: item {item} is a zero vector; the cosine of Eq. 7 "
                              "is undefined for it")
    return (item_chunks / norms).astype(np.float32)


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
        item_chunks=torch.from_numpy(normalized_chunks(directory / ITEM_FEATURE_FILE, item_chunks)),
        omega=torch.from_numpy(omega),
        item_names=names,
    )
