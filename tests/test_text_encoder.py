"""The real all-MiniLM-L6-v2 through transformers: shape, determinism, semantics, cache behaviour."""

from __future__ import annotations

import numpy as np
import pytest

from dataset_conversion.text_encoder import CACHE_ENV, TextEncoder, TextEncoderNotFound, default_model_path

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


def test_missing_model_is_a_one_line_error(tmp_path):
    with pytest.raises(TextEncoderNotFound) as caught:
        TextEncoder(str(tmp_path / "no-model"), cache_dir=tmp_path)
    assert "\n" not in str(caught.value) and "no-model" in str(caught.value)
