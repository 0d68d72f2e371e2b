"""Raw Pose-OBE -> RecBole atomic files, at the instance or the category level.

Output ``<out>/<name>/`` (written to a temporary sibling and renamed, so an error leaves nothing):

``<name>.user``
    ``window_id:token  video_id:token  pose:float_seq  pose_pca:float_seq`` -- one row per window.
    Window id ``<video_id>_w<start:05d>``. ``pose`` is the window's (T, V, C) = (10, 33, 4) array
    flattened in C order (frame-major, then landmark, then channel x, y, z, visibility): 1,320
    space-separated values printed with ``%.5g``. ``pose_pca`` is a compact feature for baselines:
    an exact PCA (numpy eigendecomposition, deterministic, so no seed is needed) of the flattened
    windows fitted on the **train split's windows only**, applied to every window and standardised
    by the train components' standard deviations.
``<name>.item``
    ``item_id:token  name:token  group:token  f_name:float_seq ... f_description:float_seq
    factors_pca:float_seq`` -- one embedding per factor (the text encoder's hidden size), and a PCA
    of the nine concatenated embeddings fitted on all items (items are shared by every split),
    standardised; values printed with ``%.6g``.
``<name>.train.inter``, ``.valid.inter``, ``.test.inter``
    ``window_id:token  item_id:token  score:float  label:float``; every window carries its video's
    annotated items; label = 1.0 if score > 0 else 0.0.
``<name>.test_cold.inter``
    Only with ``cold_items`` > 0 (``--cold-items FRACTION``, :mod:`.cold_items`): the test rows of the cold
    items, whose train and valid rows are then dropped; ``meta.json`` records them under ``cold_items``.
``<name>.videos.tsv``
    Report-only metadata (video_id, category, subcategory, split, n_windows); not a RecBole suffix.
``<name>.meta.json``
    Provenance: level, windowing, split, text encoder, pose layout, PCA, counts, synthetic or not.
    Converted from an embedding-cache file (``embedding_cache``), the text encoder is the model the
    file records, with ``embedding_cache``: the file's path added.

What is written (the last line of defence behind :mod:`.raw_reader`'s checks)
    * No number that is not finite: every pose, ``pose_pca``, embedding, ``factors_pca`` and score
      value is checked just before it is formatted; otherwise a one-line :class:`DataError` names
      the output file, the row and the field, and nothing is written.
    * Token cells (``window_id``, ``video_id``, ``item_id``, ``name``, ``group``) are cells RecBole
      reads back exactly (:mod:`.recbole_tokens`): written as they are, a name CSV-quoted where only
      quoting makes it read back; a value no cell can carry is a one-line :class:`DataError`.

Memory is bounded by the input's size, not by what is formatted
    The windows are cut from memory-mapped pose files into one preallocated float32 array (about
    twice the pose data for step = window / 2). The pose PCA accumulates its mean and covariance over
    chunks of rows, and applies itself chunk by chunk. The ``.user`` file is formatted and written a
    chunk of rows at a time, once; ``--level both`` copies it for the second level. ``.item`` rows
    are formatted a chunk of items at a time. The bytes are those of formatting everything at once.

Split protocols
    ``video`` (default): videos are split 6:2:2 with ``seed``, stratified by subcategory, and all
    windows of a video follow it. Stratification (:func:`stratified_split`): each subcategory gets
    per-split counts close to 6:2:2 (one with 4 or more videos reaches all three splits), the counts
    are nudged until the totals are exactly round(0.6 N) / round(0.2 N) / the rest, and the
    subcategory's videos, shuffled with the seed, fill them.
    ``window``: the same procedure over the windows of each video, so every video contributes to
    every split (the windows of one video overlap, so this leaks; it is never the default).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .atomic import atomic_directory
from .category import ItemTable, merge_annotations, merge_items_by_name
from .cold_items import COLD_SPLIT, apply_cold_items, check_cold_fraction, cold_items_meta
from .embedding_cache import CachedTextEncoder, TextNotInCache
from .errors import DataError
from .layout import (
    DEFAULT_STEP,
    DEFAULT_WINDOW,
    FACTOR_FIELDS,
    FACTORS,
    ITEM_FIELD,
    ITEMS_FILE,
    ITEM_GROUP_FIELD,
    ITEM_NAME_FIELD,
    LABEL_FIELD,
    NUM_CHANNELS,
    NUM_LANDMARKS,
    POSE_FIELD,
    SCORE_FIELD,
    USER_FIELD,
    VIDEO_FIELD,
)
from .raw_reader import RawDataset, read_raw_dataset
from .recbole_tokens import token_cells
from .text_encoder import TextEncoder
from .windows import window_chunks, window_starts

LEVELS = ("instance", "category")
SPLIT_PROTOCOLS = ("video", "window")
SPLITS = ("train", "valid", "test")
SPLIT_RATIOS = (0.6, 0.2, 0.2)
DEFAULT_SEED = 2022
DEFAULT_PCA_DIM = 32
POSE_FORMAT = "%.5g"
EMBEDDING_FORMAT = "%.6g"
SCORE_FORMAT = "%.6g"
POSE_PCA_FIELD = "pose_pca"
FACTORS_PCA_FIELD = "factors_pca"
SYNTHETIC_FILE = "SYNTHETIC.json"
FORMAT_VERSION = 1
WINDOW_CHUNK = 4096  # windows cut from a pose file at a time
PCA_CHUNK_ROWS = 4096  # rows cast to float64 at a time by the PCA
USER_CHUNK_ROWS = 1024  # .user rows formatted at a time (a row is 1,320 numbers)
ITEM_CHUNK_ROWS = 256  # .item rows formatted at a time (a row is 10 sequences of embeddings)


# ------------------------------------------------------------------------------------------ splits


def _stratum_counts(size: int, ratios) -> np.ndarray:
    """Per-split counts of one stratum: centred positions (k + 0.5) / size cut at the cumulative ratios."""
    position = (np.arange(size) + 0.5) / size
    bounds = np.cumsum(ratios)[:-1]
    return np.bincount(np.searchsorted(bounds, position, side="right"), minlength=len(ratios))


def _rebalance(counts: np.ndarray, targets: np.ndarray, ratios) -> None:
    """Move single elements between splits (in place) until the column sums equal ``targets``.

    Each move takes from a split above its target and gives to one below it, in the stratum where
    the source split is most over-represented relative to the destination, preferring strata that
    keep at least one element in the source split.
    """
    ratios = np.asarray(ratios, dtype=np.float64)
    sizes = counts.sum(axis=1)
    while True:
        surplus = counts.sum(axis=0) - targets
        if not surplus.any():
            return
        source, dest = int(np.argmax(surplus)), int(np.argmin(surplus))
        share = counts / sizes[:, None] - ratios
        gain = share[:, source] - share[:, dest]
        gain[counts[:, source] < 1] = -np.inf
        gain[counts[:, source] == 1] -= 10.0  # emptying a split of this stratum: only as a last resort
        stratum = int(np.argmax(gain))
        counts[stratum, source] -= 1
        counts[stratum, dest] += 1


def stratified_split(strata: np.ndarray, seed: int, ratios=SPLIT_RATIOS) -> np.ndarray:
    """Assign each element a split name, 6:2:2 overall, spread over the splits within each stratum.

    Each stratum first gets the counts of its centred positions (k + 0.5) / size cut at 0.6 and 0.8
    (a stratum of 4 or more reaches every split); single elements are then moved between splits
    until the totals are exactly round(0.6 N), round(0.2 N) and the rest; finally each stratum's
    members, shuffled with ``seed``, fill its counts. Deterministic for a seed and input order.
    """
    strata = np.asarray(strata)
    n = len(strata)
    names, inverse = np.unique(strata, return_inverse=True)
    counts = np.stack([_stratum_counts(int(size), ratios) for size in np.bincount(inverse)])
    n_train, n_valid = int(round(ratios[0] * n)), int(round(ratios[1] * n))
    _rebalance(counts, np.array([n_train, n_valid, n - n_train - n_valid]), ratios)
    rng = np.random.default_rng(seed)
    split = np.empty(n, dtype=object)
    for k in range(len(names)):  # one step per stratum, not per element
        members = rng.permutation(np.flatnonzero(inverse == k))
        split[members] = np.repeat(np.array(SPLITS, dtype=object), counts[k])
    return split


# ----------------------------------------------------------------------------------------- windows


@dataclass
class WindowTable:
    """All windows of all videos, in video-file order then start order."""

    window_ids: np.ndarray  # (N,) str
    video_ids: np.ndarray  # (N,) str
    starts: np.ndarray  # (N,) int
    poses: np.ndarray  # (N, window * 33 * 4) float32, flattened (T, V, C)
    split: np.ndarray = field(default=None)  # (N,) "train" / "valid" / "test"


def build_windows(raw: RawDataset, window: int, step: int, progress: bool = False) -> WindowTable:
    """Cut every video's pose sequence into windows (the authors' rule, :mod:`.windows`).

    The windows go straight from each memory-mapped pose file into one preallocated float32 array.
    """
    from tqdm.auto import tqdm

    video_order = raw.videos["video_id"].tolist()
    counts = [len(window_starts(raw.n_frames[v], window, step)) for v in video_order]
    width = window * NUM_LANDMARKS * NUM_CHANNELS
    poses = np.empty((sum(counts), width), dtype=np.float32)
    video_ids = np.repeat(np.array(video_order, dtype=object), counts)
    starts = np.concatenate([np.arange(n) * step for n in counts]) if counts else np.zeros(0, dtype=int)
    row = 0
    for video_id, n_windows in tqdm(list(zip(video_order, counts)), desc="cutting windows", unit="video",
                                    disable=not progress):
        for first, cut in window_chunks(raw.open_pose(video_id), window, step, WINDOW_CHUNK):
            poses[row + first : row + first + len(cut)] = cut.reshape(len(cut), width)
        row += n_windows
    window_ids = np.char.add(video_ids.astype(str), np.char.add("_w", np.char.zfill(starts.astype(str), 5)))
    return WindowTable(window_ids.astype(object), video_ids, starts, poses)


def assign_splits(raw: RawDataset, windows: WindowTable, protocol: str, seed: int) -> None:
    """Fill ``windows.split`` by the chosen protocol."""
    if protocol == "video":
        video_split = stratified_split(raw.videos["subcategory"].to_numpy(), seed)
        lookup = dict(zip(raw.videos["video_id"], video_split))
        windows.split = np.array([lookup[v] for v in windows.video_ids], dtype=object)
    elif protocol == "window":
        windows.split = stratified_split(windows.video_ids, seed)
    else:
        raise ValueError(f"unknown split protocol {protocol!r}; expected one of {SPLIT_PROTOCOLS}")


# --------------------------------------------------------------------------------------------- PCA


def _row_chunks(rows: np.ndarray, index: np.ndarray):
    """``rows[index]`` as float64, :data:`PCA_CHUNK_ROWS` rows at a time."""
    for start in range(0, len(index), PCA_CHUNK_ROWS):
        yield rows[index[start : start + PCA_CHUNK_ROWS]].astype(np.float64)


def principal_axes(
    rows: np.ndarray, n_components: int, fit_index: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Mean, top principal axes (d, k), their variances and the total variance of ``rows[fit_index]``.

    An exact PCA through a symmetric eigendecomposition (of the d x d covariance when there are more
    rows than columns, else of the n x n Gram matrix): much faster than a full SVD here and
    deterministic. Each axis's sign is fixed so that its largest-magnitude loading is positive.
    With more rows than columns, the mean (a row-by-row sum, as numpy's) and the covariance are
    accumulated over chunks of rows, so memory stays at d x d plus one chunk; with fewer, the rows
    (fewer than d) are taken at once.
    """
    fit_index = np.arange(len(rows)) if fit_index is None else np.asarray(fit_index)
    n, d = len(fit_index), rows.shape[1]
    if n >= d:
        total_sum = np.zeros(d, dtype=np.float64)
        for chunk in _row_chunks(rows, fit_index):
            total_sum = np.add.reduce(np.concatenate([total_sum[None], chunk]), axis=0)
        mean = total_sum / n
        scatter = np.zeros((d, d), dtype=np.float64)
        for chunk in _row_chunks(rows, fit_index):
            chunk -= mean
            scatter += chunk.T @ chunk
        eigenvalues, vectors = np.linalg.eigh(scatter)
        order = np.argsort(eigenvalues)[::-1][:n_components]
        axes, eigenvalues = vectors[:, order], eigenvalues[order]
        total = float(np.trace(scatter) / n)
    else:
        centred = rows[fit_index].astype(np.float64)
        mean = centred.mean(axis=0)
        centred -= mean
        eigenvalues, vectors = np.linalg.eigh(centred @ centred.T)
        order = np.argsort(eigenvalues)[::-1][:n_components]
        eigenvalues = np.clip(eigenvalues[order], 0.0, None)
        axes = centred.T @ vectors[:, order]
        axes /= np.maximum(np.linalg.norm(axes, axis=0), 1e-300)
        total = float((centred**2).sum() / n)
    signs = np.sign(axes[np.abs(axes).argmax(axis=0), np.arange(axes.shape[1])])
    axes *= np.where(signs == 0, 1.0, signs)
    variances = np.clip(eigenvalues, 0.0, None) / n
    return mean, axes, variances, total


def standardized_pca(rows: np.ndarray, dim: int, fit_index: np.ndarray | None = None) -> tuple[np.ndarray, dict]:
    """PCA fitted on ``rows[fit_index]`` (default: all rows), applied to every row chunk by chunk, each
    component divided by its fit-set std.

    The number of components is ``min(dim, n_fit_rows - 1, n_columns)`` (centring leaves no more
    directions); a component without variance becomes all zeros.
    """
    n_fit = len(rows) if fit_index is None else len(fit_index)
    n_components = int(max(1, min(dim, n_fit - 1, rows.shape[1])))
    mean, axes, variances, total = principal_axes(rows, n_components, fit_index)
    scale = np.sqrt(variances)
    scale[scale <= 1e-9 * max(scale.max(), 1e-300)] = np.inf
    transformed = np.empty((len(rows), n_components), dtype=np.float32)
    for start, chunk in zip(range(0, len(rows), PCA_CHUNK_ROWS), _row_chunks(rows, np.arange(len(rows)))):
        transformed[start : start + len(chunk)] = ((chunk - mean) @ axes) / scale
    info = {
        "method": "exact PCA (eigendecomposition, deterministic signs); each component divided by "
        "its std on the fitted rows",
        "n_components": n_components,
        "requested_dim": int(dim),
        "note": "fewer components than requested when there are fewer fitted rows than that",
        "explained_variance_ratio": round(float(variances.sum() / total), 6) if total > 0 else 0.0,
    }
    return transformed, info


# ------------------------------------------------------------------------------------------- items


def encode_item_factors(
    items: pd.DataFrame, encoder: TextEncoder | CachedTextEncoder, items_path: Path = Path(ITEMS_FILE)
) -> np.ndarray:
    """(n_items, 9, hidden) embeddings of every item's nine factor texts (unique texts encoded once).

    With a :class:`.embedding_cache.CachedTextEncoder`, a text its file lacks is a one-line
    :class:`DataError` naming ``items_path``, the item's row and the factor.
    """
    texts = items[list(FACTORS)].to_numpy().ravel()  # item-major, factor-minor
    try:
        embeddings = encoder.encode(texts.tolist())
    except TextNotInCache as err:
        row, factor = divmod(err.position, len(FACTORS))
        raise DataError(
            items_path,
            f"text not in the embedding-cache file {encoder.path} (model {encoder.model['name']}); embed this "
            f"dataset's texts with that model: python -m dataset_conversion embed --raw {items_path.parent} "
            f"--out {encoder.path} [--text-encoder MODEL]",
            row=row + 1, field=FACTORS[factor],
        ) from None
    return embeddings.reshape(len(items), len(FACTORS), encoder.hidden_size)


def instance_items(raw: RawDataset, embeddings: np.ndarray) -> ItemTable:
    """The raw items, in file order."""
    return ItemTable(
        item_ids=raw.items["item_id"].to_numpy(dtype=object),
        names=raw.items["name"].to_numpy(dtype=object),
        groups=raw.items["group"].to_numpy(dtype=object),
        factor_embeddings=embeddings,
    )


# ------------------------------------------------------------------------------------- formatting


def require_finite(rows: np.ndarray, path: Path, field_name: str, first_row: int = 0) -> None:
    """Raise a one-line :class:`DataError` (output file, 1-based data row, field) at the first NaN or inf."""
    rows = np.asarray(rows)
    bad = ~np.isfinite(rows.reshape(len(rows), -1)).all(axis=1) if rows.size else np.zeros(0, dtype=bool)
    if bad.any():
        row = int(np.argmax(bad))
        raise DataError(path, "would hold a value that is not a finite number (NaN or inf); nothing is written",
                        row=first_row + row + 1, field=field_name)


def format_float_rows(rows: np.ndarray, fmt: str, path: Path, field_name: str, first_row: int = 0) -> list[str]:
    """Each row of a 2-D array as space-separated numbers (a RecBole ``float_seq`` cell), after
    :func:`require_finite`; ``first_row`` (0-based) places ``rows`` in the file for the message."""
    require_finite(rows, path, field_name, first_row)
    row_format = " ".join([fmt] * rows.shape[1])
    return [row_format % tuple(v) for v in rows.astype(np.float64).tolist()]


def token_column(values, path: Path, field_name: str) -> list[str]:
    """Cells RecBole reads back as ``values`` (:func:`.recbole_tokens.token_cells`), or a one-line
    :class:`DataError` naming the first value no cell can carry."""
    cells, unrepresentable = token_cells(list(values))
    if unrepresentable.any():
        row = int(np.argmax(unrepresentable))
        raise DataError(path, f"'{cells[row]}' would be read back by RecBole as a missing value; nothing is written",
                        row=row + 1, field=field_name)
    return cells


def write_user_file(path: Path, windows: WindowTable, pose_pca: np.ndarray, progress: bool = False) -> None:
    """``.user``: header, then one row per window, formatted and written :data:`USER_CHUNK_ROWS` at a time."""
    from tqdm.auto import tqdm

    header = [f"{USER_FIELD}:token", f"{VIDEO_FIELD}:token", f"{POSE_FIELD}:float_seq", f"{POSE_PCA_FIELD}:float_seq"]
    window_cells = token_column(windows.window_ids, path, USER_FIELD)
    video_cells = token_column(windows.video_ids, path, VIDEO_FIELD)
    n_rows = len(window_cells)
    with open(path, "w", encoding="utf-8", newline="\n") as handle, tqdm(
        total=n_rows, desc="formatting poses", unit="row", disable=not progress, leave=False
    ) as bar:
        handle.write("\t".join(header) + "\n")
        for start in range(0, n_rows, USER_CHUNK_ROWS):
            stop = min(start + USER_CHUNK_ROWS, n_rows)
            pose = format_float_rows(windows.poses[start:stop], POSE_FORMAT, path, POSE_FIELD, start)
            pca = format_float_rows(pose_pca[start:stop], POSE_FORMAT, path, POSE_PCA_FIELD, start)
            handle.writelines(
                f"{w}\t{v}\t{p}\t{q}\n"
                for w, v, p, q in zip(window_cells[start:stop], video_cells[start:stop], pose, pca)
            )
            bar.update(stop - start)


def write_item_file(path: Path, items: ItemTable, factors_pca: np.ndarray) -> None:
    """``.item``: header, then one row per item, formatted and written :data:`ITEM_CHUNK_ROWS` at a time."""
    header = [f"{ITEM_FIELD}:token", f"{ITEM_NAME_FIELD}:token", f"{ITEM_GROUP_FIELD}:token"]
    header += [f"{f}:float_seq" for f in FACTOR_FIELDS] + [f"{FACTORS_PCA_FIELD}:float_seq"]
    tokens = [
        token_column(items.item_ids, path, ITEM_FIELD),
        token_column(items.names, path, ITEM_NAME_FIELD),
        token_column(items.groups, path, ITEM_GROUP_FIELD),
    ]
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        handle.write("\t".join(header) + "\n")
        for start in range(0, len(items), ITEM_CHUNK_ROWS):
            stop = min(start + ITEM_CHUNK_ROWS, len(items))
            floats = [
                format_float_rows(items.factor_embeddings[start:stop, k], EMBEDDING_FORMAT, path, field_name, start)
                for k, field_name in enumerate(FACTOR_FIELDS)
            ]
            floats.append(format_float_rows(factors_pca[start:stop], EMBEDDING_FORMAT, path, FACTORS_PCA_FIELD, start))
            columns = [column[start:stop] for column in tokens] + floats
            handle.writelines("\t".join(cells) + "\n" for cells in zip(*columns))


def interactions(annotations: pd.DataFrame, windows: WindowTable) -> pd.DataFrame:
    """Every window x its video's annotated items, in window order then annotation order."""
    window_frame = pd.DataFrame(
        {
            USER_FIELD: windows.window_ids,
            "video_id": windows.video_ids,
            "split": windows.split,
            "_w": np.arange(len(windows.window_ids)),
        }
    )
    annotation_frame = annotations.assign(_a=np.arange(len(annotations)))
    merged = window_frame.merge(annotation_frame, on="video_id", how="inner").sort_values(["_w", "_a"], kind="stable")
    merged[LABEL_FIELD] = (merged["score"] > 0).astype(np.float64)
    return merged.rename(columns={"item_id": ITEM_FIELD, "score": SCORE_FIELD}).reset_index(drop=True)


# --------------------------------------------------------------------------------------- prepared


@dataclass
class PreparedData:
    """Everything shared by the two levels: validated raw data, windows with splits, pose PCA, encodings."""

    raw: RawDataset
    windows: WindowTable
    pose_pca: np.ndarray
    pose_pca_info: dict
    encoder: TextEncoder | CachedTextEncoder
    factor_embeddings: np.ndarray
    window: int
    step: int
    seed: int
    split_protocol: str
    pca_dim: int
    synthetic: dict | None
    progress: bool
    user_file: Path | None = None  # a ``.user`` file already written from this data (the levels share it)
    cold_items: float = 0.0  # share of the eligible items made cold (:mod:`.cold_items`); 0: no protocol

    def write_user_file(self, path: Path) -> None:
        """``.user`` at ``path``: a copy of :attr:`user_file` when there is one, else formatted anew."""
        if self.user_file is not None and self.user_file.is_file():
            shutil.copyfile(self.user_file, path)
        else:
            write_user_file(path, self.windows, self.pose_pca, self.progress)


def read_synthetic_provenance(raw_dir: Path) -> dict | None:
    """Content of ``RAW/SYNTHETIC.json`` if present."""
    path = raw_dir / SYNTHETIC_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise DataError(path, f"unreadable provenance file ({err})") from None


def make_encoder(
    text_encoder, cache_dir=None, progress: bool = False, embedding_cache=None
) -> TextEncoder | CachedTextEncoder:
    """A :class:`TextEncoder` from an instance, a path / hub name, or ``None`` (the default model).

    With ``embedding_cache`` (an embedding-cache file): a :class:`.embedding_cache.CachedTextEncoder`
    reading only that file, so neither the model nor ``transformers`` / ``torch`` are needed;
    ``text_encoder``, if given, must name the file's model (one-line :class:`DataError` otherwise).
    """
    if embedding_cache is not None:
        encoder = CachedTextEncoder(embedding_cache)
        if text_encoder is not None:
            encoder.check_model(text_encoder.model_ref if isinstance(text_encoder, TextEncoder) else text_encoder)
        return encoder
    if isinstance(text_encoder, TextEncoder):
        return text_encoder
    return TextEncoder(text_encoder, cache_dir=cache_dir, progress=progress)


def prepare(
    raw_dir,
    window: int = DEFAULT_WINDOW,
    step: int = DEFAULT_STEP,
    seed: int = DEFAULT_SEED,
    text_encoder=None,
    pca_dim: int = DEFAULT_PCA_DIM,
    split_protocol: str = "video",
    cache_dir=None,
    progress: bool = False,
    embedding_cache=None,
    cold_items: float = 0.0,
) -> PreparedData:
    """Validate the raw data and compute everything that does not depend on the level.

    ``embedding_cache``: an embedding-cache file to take every factor embedding from instead of the
    model (:func:`make_encoder`). ``cold_items``: the cold-item share in [0, 1) (:mod:`.cold_items`).
    """
    cold_items = check_cold_fraction(cold_items)
    if split_protocol not in SPLIT_PROTOCOLS:
        raise ValueError(f"unknown split protocol {split_protocol!r}; expected one of {SPLIT_PROTOCOLS}")
    if pca_dim < 1:
        raise ValueError(f"pca_dim must be positive, got {pca_dim}")
    raw_dir = Path(raw_dir)
    raw = read_raw_dataset(raw_dir, window, step)
    synthetic = read_synthetic_provenance(raw_dir)
    encoder = make_encoder(text_encoder, cache_dir, progress, embedding_cache)
    windows = build_windows(raw, window, step, progress)
    assign_splits(raw, windows, split_protocol, seed)
    train = np.flatnonzero(windows.split == SPLITS[0])
    pose_pca, pose_pca_info = standardized_pca(windows.poses, pca_dim, fit_index=train)
    pose_pca_info["fitted_on"] = "train split windows only"
    embeddings = encode_item_factors(raw.items, encoder, raw_dir / ITEMS_FILE)
    return PreparedData(
        raw, windows, pose_pca, pose_pca_info, encoder, embeddings, window, step, seed, split_protocol, pca_dim,
        synthetic, progress, cold_items=cold_items,
    )


# ----------------------------------------------------------------------------------------- writing


def _meta(
    prepared: PreparedData, name: str, level: str, items: ItemTable, inter: pd.DataFrame, factors_pca_info: dict
) -> dict:
    windows = prepared.windows
    counts = {
        "videos": int(len(prepared.raw.videos)),
        "windows": int(len(windows.window_ids)),
        "items": int(len(items)),
        "raw_items": int(len(prepared.raw.items)),
        "interactions": int(len(inter)),
    }
    for split in SPLITS:
        in_split = windows.split == split
        counts[f"{split}_windows"] = int(in_split.sum())
        counts[f"{split}_videos"] = int(len(np.unique(windows.video_ids[in_split])))
        counts[f"{split}_interactions"] = int((inter["split"] == split).sum())
    meta = {
        "format_version": FORMAT_VERSION,
        "dataset": name,
        "level": level,
        "window": prepared.window,
        "step": prepared.step,
        "windowing_rule": "starts 0, step, 2*step, ... while start < n_frames - window",
        "split": {
            "protocol": prepared.split_protocol,
            "seed": prepared.seed,
            "ratios": list(SPLIT_RATIOS),
            "stratified_by": "subcategory" if prepared.split_protocol == "video" else "video",
            "files": [f"{name}.{s}.inter" for s in SPLITS],
        },
        "text_encoder": prepared.encoder.describe(),
        "pose_layout": (
            f"(T, V, C) = ({prepared.window}, {NUM_LANDMARKS}, {NUM_CHANNELS}) flattened, channels x, y, z, visibility"
        ),
        "pose_field": POSE_FIELD,
        "pose_values": prepared.window * NUM_LANDMARKS * NUM_CHANNELS,
        "float_formats": {
            "pose": POSE_FORMAT,
            "pose_pca": POSE_FORMAT,
            "embeddings": EMBEDDING_FORMAT,
            "score": SCORE_FORMAT,
        },
        "factors": list(FACTORS),
        "factor_fields": list(FACTOR_FIELDS),
        "pca": {POSE_PCA_FIELD: prepared.pose_pca_info, FACTORS_PCA_FIELD: factors_pca_info},
        "label_rule": "label = 1.0 if score > 0 else 0.0",
        "counts": counts,
        "raw_dir": str(prepared.raw.raw_dir.resolve()),
        "synthetic": prepared.synthetic is not None,
    }
    if level == "category":
        meta["category_merge"] = (
            "items with the same name merged; factor embeddings averaged; group = most common; "
            "interactions de-duplicated per (window, category) with the mean score"
        )
    if prepared.synthetic is not None:
        meta["synthetic_source"] = prepared.synthetic
    return meta


def write_level(prepared: PreparedData, out_dir, name: str, level: str = "instance") -> Path:
    """Write ``<out_dir>/<name>/`` for one level from prepared data; return that directory."""
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}; expected one of {LEVELS}")
    items = instance_items(prepared.raw, prepared.factor_embeddings)
    annotations = prepared.raw.annotations
    if level == "category":
        items, item_to_category = merge_items_by_name(items)
        annotations = merge_annotations(annotations, item_to_category)
    for k, field_name in enumerate(FACTOR_FIELDS):  # before the PCA, which a NaN would spread to every item
        require_finite(items.factor_embeddings[:, k], Path(out_dir) / name / f"{name}.item", field_name)
    flat_factors = items.factor_embeddings.reshape(len(items), -1)
    factors_pca, factors_pca_info = standardized_pca(flat_factors, prepared.pca_dim)
    factors_pca_info["fitted_on"] = "all items (items are shared by every split)"
    inter = interactions(annotations, prepared.windows)
    cold = None
    if prepared.cold_items > 0:
        try:
            cold = apply_cold_items(inter, items.item_ids, items.groups, prepared.cold_items, prepared.seed)
        except ValueError as err:  # no item with a test positive
            raise DataError(Path(out_dir) / name / f"{name}.test.inter", str(err)) from None
        inter = cold.inter

    from .dataset_names import check_dataset_name, written_by_convert

    final_dir = Path(out_dir) / check_dataset_name(name)
    with atomic_directory(final_dir, replaces=written_by_convert(name)) as tmp:
        prepared.write_user_file(tmp / f"{name}.user")
        write_item_file(tmp / f"{name}.item", items, factors_pca)

        for split in SPLITS:
            write_inter_file(tmp / f"{name}.{split}.inter", inter[inter["split"] == split])
        if cold is not None:
            write_inter_file(tmp / f"{name}.{COLD_SPLIT}.inter", cold.test_cold)

        _write_videos_tsv(tmp / f"{name}.videos.tsv", prepared)
        meta = _meta(prepared, name, level, items, inter, factors_pca_info)
        if cold is not None:
            meta["cold_items"] = cold_items_meta(cold, prepared.cold_items, prepared.seed, name, len(items))
        (tmp / f"{name}.meta.json").write_text(json.dumps(meta, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    prepared.user_file = final_dir / f"{name}.user"
    return final_dir


def write_inter_file(path: Path, rows: pd.DataFrame) -> None:
    """An ``.inter`` file: ``window_id:token item_id:token score:float label:float``, one row per interaction."""
    require_finite(rows[SCORE_FIELD].to_numpy(), path, SCORE_FIELD)
    header = [f"{USER_FIELD}:token", f"{ITEM_FIELD}:token", f"{SCORE_FIELD}:float", f"{LABEL_FIELD}:float"]
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        handle.write("\t".join(header) + "\n")
        rows[[USER_FIELD, ITEM_FIELD, SCORE_FIELD, LABEL_FIELD]].to_csv(
            handle, sep="\t", header=False, index=False, float_format=SCORE_FORMAT, lineterminator="\n"
        )


def _write_videos_tsv(path: Path, prepared: PreparedData) -> None:
    videos = prepared.raw.videos
    windows = prepared.windows
    frame = pd.DataFrame({"video_id": windows.video_ids, "split": windows.split})
    n_windows = frame.groupby("video_id", sort=False).size()
    splits = frame.groupby("video_id", sort=False)["split"].agg(lambda s: s.iloc[0] if s.nunique() == 1 else "mixed")
    table = pd.DataFrame(
        {
            "video_id": videos["video_id"],
            "category": videos["category"],
            "subcategory": videos["subcategory"],
            "split": videos["video_id"].map(splits),
            "n_windows": videos["video_id"].map(n_windows).astype(int),
        }
    )
    table.to_csv(path, sep="\t", index=False, lineterminator="\n")


# ------------------------------------------------------------------------------------------- API


def convert_raw_dataset(
    raw_dir,
    out_dir,
    name: str,
    level: str = "instance",
    window: int = DEFAULT_WINDOW,
    step: int = DEFAULT_STEP,
    seed: int = DEFAULT_SEED,
    text_encoder=None,
    pca_dim: int = DEFAULT_PCA_DIM,
    split_protocol: str = "video",
    cache_dir=None,
    progress: bool = False,
    embedding_cache=None,
    cold_items: float = 0.0,
) -> Path:
    """Convert ``raw_dir`` into ``<out_dir>/<name>/`` (RecBole atomic files); return that directory.

    ``text_encoder``: ``None`` (packaged all-MiniLM-L6-v2), a local model dir or cached hub name, or a
    :class:`TextEncoder`. ``cache_dir``: text-embedding cache (default: see :mod:`.text_encoder`).
    ``embedding_cache``: an embedding-cache file holding every factor text (``python -m
    dataset_conversion embed``); then no model runs and ``cache_dir`` is not used.
    ``cold_items``: the cold-item share in [0, 1) (:mod:`.cold_items`, seeded by ``seed``); 0 writes the
    files of a conversion without the protocol, byte for byte.
    Raises :class:`DataError` for bad input; then nothing is written.
    """
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}; expected one of {LEVELS}")
    prepared = prepare(
        raw_dir, window, step, seed, text_encoder, pca_dim, split_protocol, cache_dir, progress, embedding_cache,
        cold_items,
    )
    return write_level(prepared, out_dir, name, level)


def convert_both_levels(
    raw_dir,
    out_dir,
    name: str,
    cat_name: str | None = None,
    window: int = DEFAULT_WINDOW,
    step: int = DEFAULT_STEP,
    seed: int = DEFAULT_SEED,
    text_encoder=None,
    pca_dim: int = DEFAULT_PCA_DIM,
    split_protocol: str = "video",
    cache_dir=None,
    progress: bool = False,
    embedding_cache=None,
    cold_items: float = 0.0,
) -> tuple[Path, Path]:
    """Instance level into ``<out>/<name>`` and category level into ``<out>/<cat_name>`` (default
    ``<name>-cat``), sharing the windows, the split, the pose PCA and the formatted ``.user`` file.
    ``cold_items``: each level draws its own cold items among its own items (:mod:`.cold_items`)."""
    from .dataset_names import category_dataset_name

    cat_name = category_dataset_name(name, cat_name)  # default <name>-cat; both names checked, distinct
    prepared = prepare(
        raw_dir, window, step, seed, text_encoder, pca_dim, split_protocol, cache_dir, progress, embedding_cache,
        cold_items,
    )
    instance_dir = write_level(prepared, out_dir, name, "instance")
    category_dir = write_level(prepared, out_dir, cat_name, "category")
    return instance_dir, category_dir

