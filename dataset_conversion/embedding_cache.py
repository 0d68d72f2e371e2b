"""The embedding-cache file: texts, their embeddings and the model they came from, in one ``.npz``.

One format for two uses: the text encoder's own per-model cache (``<cache dir>/<model key>.npz``,
:mod:`.text_encoder`) and a file written by ``python -m dataset_conversion embed`` that a later
``convert --embedding-cache FILE`` reads instead of running the model, on a machine that may not
have it (nor ``transformers`` or ``torch``) installed: embed once, convert anywhere.

Members, all read with ``allow_pickle=False``:

``text_bytes``
    uint8, the texts' UTF-8 bytes one after another (texts sorted, each once).
``text_offsets``
    int64, the n + 1 boundaries of the texts in ``text_bytes`` (0 first, ``len(text_bytes)`` last).
``embeddings``
    float32 (n, hidden), finite; row k is the embedding of text k.
``model``
    a 0-d unicode array holding a JSON object: the text encoder's ``describe()`` (name, path or hub
    name, identity = name and SHA-256 of its files, hidden size, pooling, max_length, library). It is
    the ``text_encoder`` provenance a conversion from this file writes into its meta.json.

Older caches are read too (only by the text encoder, which rewrites them): ones without ``model``,
and the first format (``texts``, a padded unicode array, instead of ``text_bytes`` / ``text_offsets``).
Anything else -- an unreadable archive, pickled objects, wrong dtypes or shapes, offsets out of
range, invalid UTF-8, repeated texts, non-finite embeddings, a missing or incomplete model record --
is a one-line :class:`~dataset_conversion.errors.DataError` naming the file and what is wrong.
"""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from .atomic import atomic_file, check_replaceable_file
from .errors import DataError

TEXT_BYTES, TEXT_OFFSETS, EMBEDDINGS, MODEL = "text_bytes", "text_offsets", "embeddings", "model"
FIRST_FORMAT_TEXTS = "texts"
# What a model record must hold, with the type of each value (the rest of describe() is kept as it is).
MODEL_RECORD_FIELDS = {"name": str, "identity": dict, "hidden_size": int, "pooling": str, "max_length": int}
NOT_A_CACHE = "exists and is not an embedding-cache file; choose another name or remove it"
_READ_ERRORS = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error, MemoryError)


@dataclass
class EmbeddingCache:
    """The contents of an embedding-cache file.

    ``texts``: the texts, each once (a ``pandas.Index``, so a lookup of many texts is one call).
    ``embeddings``: float32 (n, hidden). ``model``: the recorded ``describe()`` of the model, or
    ``None`` for a cache written before the model was recorded.
    """

    texts: pd.Index
    embeddings: np.ndarray
    model: dict | None

    @property
    def hidden_size(self) -> int:
        return int(self.embeddings.shape[1])

    def positions(self, texts: Sequence[str]) -> np.ndarray:
        """Row of each of ``texts`` in :attr:`embeddings`, -1 where a text is not in the cache."""
        return self.texts.get_indexer(pd.Index(list(texts), dtype=object))

    def as_dict(self) -> dict[str, np.ndarray]:
        """``{text: embedding}``."""
        return dict(zip(self.texts, self.embeddings))


def shorten(text: str, width: int = 60) -> str:
    """``text`` cut to ``width`` characters for a message (an ellipsis marks the cut)."""
    return text if len(text) <= width else text[: width - 3] + "..."


def pack_texts(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The texts' UTF-8 bytes one after another (uint8) and the n + 1 offsets of their boundaries."""
    encoded = [t.encode("utf-8") for t in texts]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)), out=offsets[1:])
    return np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets


def unpack_texts(text_bytes: np.ndarray, text_offsets: np.ndarray) -> list[str]:
    """Inverse of :func:`pack_texts`; ``ValueError`` saying what is wrong if the members are not such a pair."""
    if text_bytes.dtype != np.uint8 or text_bytes.ndim != 1:
        raise ValueError(f"'{TEXT_BYTES}' is not a 1-D uint8 array (got {text_bytes.dtype}, {text_bytes.ndim}-D)")
    if text_offsets.dtype.kind not in "iu" or text_offsets.ndim != 1 or len(text_offsets) < 1:
        raise ValueError(f"'{TEXT_OFFSETS}' is not a non-empty 1-D integer array (got {text_offsets.dtype}, "
                         f"{text_offsets.ndim}-D)")
    if text_offsets[0] != 0 or text_offsets[-1] != len(text_bytes) or (np.diff(text_offsets) < 0).any():
        raise ValueError(f"'{TEXT_OFFSETS}' do not cut the {len(text_bytes)} bytes of '{TEXT_BYTES}' into texts "
                         "(they must rise from 0 to its length)")
    blob = text_bytes.tobytes()
    try:
        return [blob[a:b].decode("utf-8") for a, b in zip(text_offsets[:-1].tolist(), text_offsets[1:].tolist())]
    except UnicodeDecodeError as err:
        raise ValueError(f"'{TEXT_BYTES}' holds a text that is not UTF-8 ({err.reason})") from None


def _check_model_record(record: dict, hidden_size: int) -> dict:
    """``record`` if it is a complete model record for embeddings of ``hidden_size``; else ValueError."""
    if not isinstance(record, dict):
        raise ValueError(f"'{MODEL}' is not a JSON object")
    for key, kind in MODEL_RECORD_FIELDS.items():
        value = record.get(key)
        if not isinstance(value, kind) or isinstance(value, bool) or (kind is not dict and not value):
            raise ValueError(f"model record lacks a valid '{key}'")
    identity = record["identity"]
    if not isinstance(identity.get("name"), str) or not isinstance(identity.get("files_sha256"), str):
        raise ValueError("model record's 'identity' lacks 'name' / 'files_sha256'")
    if record["hidden_size"] != hidden_size:
        raise ValueError(f"model record says hidden size {record['hidden_size']}, the embeddings have {hidden_size}")
    return record


def _read_members(path: Path, require_model: bool) -> EmbeddingCache:
    """The checked contents of ``path``; ValueError (or a read error) saying what is wrong."""
    loaded = np.load(path, allow_pickle=False)  # a pickle: ValueError
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise ValueError("a single .npy array, not an .npz archive")
    with loaded as data:
        members = set(data.files)
        if EMBEDDINGS not in members:
            raise ValueError(f"no '{EMBEDDINGS}' member (holds: {', '.join(sorted(members)) or 'nothing'})")
        if {TEXT_BYTES, TEXT_OFFSETS} <= members:
            texts = unpack_texts(data[TEXT_BYTES], data[TEXT_OFFSETS])
        elif FIRST_FORMAT_TEXTS in members and not require_model:
            first_format = data[FIRST_FORMAT_TEXTS]
            if first_format.dtype.kind != "U" or first_format.ndim != 1:
                raise ValueError(f"'{FIRST_FORMAT_TEXTS}' is not a 1-D unicode array")
            texts = first_format.tolist()
        else:
            raise ValueError(f"no '{TEXT_BYTES}' / '{TEXT_OFFSETS}' members")
        embeddings = data[EMBEDDINGS]
        record = data[MODEL] if MODEL in members else None
    if embeddings.dtype != np.float32 or embeddings.ndim != 2 or embeddings.shape[1] < 1:
        raise ValueError(f"'{EMBEDDINGS}' is not a float32 (n, hidden) array (got {embeddings.dtype}, "
                         f"shape {embeddings.shape})")
    if len(embeddings) != len(texts):
        raise ValueError(f"{len(texts)} texts but {len(embeddings)} embeddings")
    finite = np.isfinite(embeddings).all(axis=1)
    if not finite.all():
        raise ValueError(f"the embedding of text {int(np.argmin(finite)) + 1} is not finite")
    index = pd.Index(texts, dtype=object)
    if not index.is_unique:
        raise ValueError(f"the text '{shorten(index[index.duplicated()][0])}' appears more than once")
    if record is None:
        if require_model:
            raise ValueError(f"no '{MODEL}' member: it does not record the model its embeddings came from")
        return EmbeddingCache(index, embeddings, None)
    if record.dtype.kind != "U" or record.ndim != 0:
        raise ValueError(f"'{MODEL}' is not a JSON text (got {record.dtype}, {record.ndim}-D)")
    try:
        model = json.loads(str(record))
    except ValueError:
        raise ValueError(f"'{MODEL}' is not valid JSON") from None
    return EmbeddingCache(index, embeddings, _check_model_record(model, embeddings.shape[1]))


def read_embedding_cache(path: str | os.PathLike, require_model: bool = True) -> EmbeddingCache:
    """Read and check the embedding-cache file ``path``; a one-line :class:`DataError` naming it and
    what is wrong otherwise. ``require_model=False`` also reads the older caches (module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "embedding-cache file not found" if not path.exists() else "is not a file")
    try:
        return _read_members(path, require_model)
    except _READ_ERRORS as err:
        what = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataError(path, f"not a valid embedding-cache file: {what}") from None


def is_embedding_cache(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a readable embedding-cache file of any version (one this project wrote)."""
    try:
        read_embedding_cache(path, require_model=False)
    except DataError:
        return False
    return True


def write_embedding_cache(
    path: str | os.PathLike, entries: dict[str, np.ndarray], hidden_size: int, model: dict,
    replaces=None, not_ours: str = NOT_A_CACHE,
) -> None:
    """Write ``{text: embedding}`` and the ``model`` record to ``path`` atomically (texts sorted).

    ``replaces``: what an existing file must be to be replaced (:func:`.atomic.atomic_file`).
    """
    texts = sorted(entries)
    embeddings = np.zeros((len(texts), hidden_size), dtype=np.float32)
    if texts:
        embeddings[:] = np.stack([entries[t] for t in texts])
    _check_model_record(model, hidden_size)
    text_bytes, text_offsets = pack_texts(texts)
    with atomic_file(path, "wb", replaces=replaces, not_ours=not_ours) as handle:
        np.savez(handle, **{TEXT_BYTES: text_bytes, TEXT_OFFSETS: text_offsets, EMBEDDINGS: embeddings,
                            MODEL: np.array(json.dumps(model))})  # describe()'s order


class TextNotInCache(DataError):
    """A text looked up in an embedding-cache file is not there; ``position`` is its index in the query."""

    def __init__(self, file, message: str, position: int):
        super().__init__(file, message)
        self.position = position


class CachedTextEncoder:
    """A text encoder that only looks texts up in an embedding-cache file: no model, no ``transformers``,
    no ``torch``. Its :meth:`describe` is the model record of the file, plus where the file is.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.cache = read_embedding_cache(self.path)
        self.model = self.cache.model
        self.n_encoded = 0  # never runs a model

    @property
    def hidden_size(self) -> int:
        """Dimension of one embedding."""
        return self.cache.hidden_size

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of ``texts`` as a float32 (len(texts), hidden_size) array; :class:`TextNotInCache`
        for the first text the file does not hold."""
        positions = self.cache.positions(texts)
        missing = positions < 0
        if missing.any():
            first = int(np.argmax(missing))
            raise TextNotInCache(self.path, f"the text '{shorten(texts[first])}' is not in this embedding-cache file "
                                 f"(model {self.model['name']})", first)
        return self.cache.embeddings[positions]

    def check_model(self, model_ref: str | os.PathLike) -> None:
        """One-line :class:`DataError` unless ``model_ref`` (a local model directory, compared by its
        files' identity, or a name) is the model the file's embeddings came from."""
        directory = Path(model_ref).expanduser()
        if directory.is_dir():
            from .text_encoder import model_identity

            same = model_identity(str(directory.resolve())) == self.model["identity"]
        else:
            same = os.fspath(model_ref) in (self.model["name"], self.model.get("path_or_hub_name"))
        if not same:
            raise DataError("--text-encoder", f"{os.fspath(model_ref)} is not the model the embeddings of "
                            f"{self.path} came from ({self.model['name']}, files sha256 "
                            f"{self.model['identity']['files_sha256'][:12]}...); leave --text-encoder out or "
                            "embed the texts with this model")

    def describe(self) -> dict:
        """The file's model record (a normal conversion's ``text_encoder`` provenance) plus the file."""
        return dict(self.model, embedding_cache=str(self.path.resolve()))


def embed_raw_items(raw_dir: str | os.PathLike, out_file: str | os.PathLike, text_encoder=None, cache_dir=None,
                    progress: bool = False) -> tuple[int, dict]:
    """Embed every factor text of ``raw_dir``/items.csv and write them to the embedding-cache file
    ``out_file`` (replacing only an embedding-cache file); return the number of texts and the model record.

    The texts are those a conversion of ``raw_dir`` looks up (the raw reader's validation and
    whitespace folding). They go through the encoder's own cache, so texts already embedded, by an
    earlier conversion for instance, do not run the model again.
    """
    from .layout import FACTORS, ITEMS_FILE
    from .raw_reader import _read_items
    from .text_encoder import TextEncoder

    raw_dir = Path(raw_dir)
    if not raw_dir.is_dir():
        raise DataError(raw_dir, "raw dataset directory not found")
    check_replaceable_file(out_file, is_embedding_cache, NOT_A_CACHE)  # before the model runs
    items = _read_items(raw_dir / ITEMS_FILE)
    texts = sorted(set(items[list(FACTORS)].to_numpy().ravel().tolist()))
    encoder = text_encoder if isinstance(text_encoder, TextEncoder) else TextEncoder(
        text_encoder, cache_dir=cache_dir, progress=progress)
    embeddings = encoder.encode(texts)
    model = encoder.describe()
    write_embedding_cache(out_file, dict(zip(texts, embeddings)), encoder.hidden_size, model,
                          replaces=is_embedding_cache)
    return len(texts), model
