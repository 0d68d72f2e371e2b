"""Effects added after training: ``recommend --items NEW_ITEMS.csv [--items-only]`` and the checkpoint's
text-encoder record (:mod:`recbole_poserec.inference.new_items`, :mod:`recbole_poserec.checkpoint`).

One PoseRec checkpoint is trained for one epoch on a tiny raw dataset converted by the real converter
with the bundled MiniLM (offline). Every command runs with ``RECBOLE_POSEREC_CACHE`` in ``tmp_path``: the
text encoder finds no cached text there, so the new items really go through the model.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from cli_assertions import assert_one_error_line
from conftest import tiny_raw_tables, write_tiny_raw
from dataset_conversion.convert import convert_raw_dataset
from dataset_conversion.layout import FACTORS, ITEM_COLUMNS
from recbole_poserec.checkpoint import TEXT_ENCODER_KEY, load_checkpoint, save_checkpoint
from recbole_poserec.recommend import main as recommend_main

NAME = "newitems"
REPO_ROOT = Path(__file__).resolve().parents[1]
RELEASE_DIR = (REPO_ROOT / ".." / "shared" / "reference-release").resolve()
NEW_ROWS = [
    ["n001", "skateboard", "riding on streets", "about 80 cm long", "long flat deck", "black",
     "maple wood", "street", "grip tape", "a black street skateboard with grip tape", "sports"],
    ["n002", "ukulele", "strumming songs", "about 55 cm long", "small guitar", "yellow",
     "spruce wood", "cheerful", "plain", "a small yellow ukulele for strumming", "instruments"],
    ["n003", "sunglasses", "shading the eyes", "about 14 cm wide", "two round lenses", "dark brown",
     "plastic", "retro", "tortoiseshell", "retro round sunglasses", "clothes"],
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, text_cache_dir):
    """(raw dir, converted dataset dir, checkpoint path): PoseRec trained one epoch on a tiny dataset."""
    from recbole_poserec.quick_start import run_recbole
    from test_baselines import _dataset_settings

    root = tmp_path_factory.mktemp("new-items")
    raw = write_tiny_raw(root / "raw", tiny_raw_tables(n_videos=10, n_items=12))
    convert_raw_dataset(raw, root / "data", NAME, cache_dir=text_cache_dir)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = run_recbole(model="PoseRec", dataset=NAME, command_line=[],
                             config_dict=_dataset_settings(root / "data", epochs=1, topk=[1, 3], valid_metric="NDCG@3",
                                                         checkpoint_dir=str(root / "saved")))
    finally:
        torch.set_num_threads(threads)
    return raw, root / "data" / NAME, Path(result["checkpoint"])


@pytest.fixture(autouse=True)
def private_text_cache(tmp_path, monkeypatch) -> Path:
    """The text encoder's default cache, empty and in ``tmp_path`` (never ``~/.cache``)."""
    monkeypatch.setenv("RECBOLE_POSEREC_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def poses_file(tmp_path) -> Path:
    path = tmp_path / "poses.npy"
    np.save(path, np.random.default_rng(5).random((42, 33, 4), dtype=np.float32))
    return path


def write_items(path: Path, rows, header=ITEM_COLUMNS) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = recommend_main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def catalogue_tokens(checkpoint_path: Path) -> list[str]:
    """The checkpoint's item tokens without RecBole's padding item (row r = index r)."""
    return load_checkpoint(checkpoint_path)["catalogue"]["item_tokens"][1:]


# ------------------------------------------------------------------------------ the record


def test_checkpoint_records_the_datasets_text_encoder(trained):
    _, dataset_dir, checkpoint_path = trained
    meta = json.loads((dataset_dir / f"{NAME}.meta.json").read_text(encoding="utf-8"))
    checkpoint = load_checkpoint(checkpoint_path)  # weights only
    assert checkpoint[TEXT_ENCODER_KEY] == meta["text_encoder"]
    assert checkpoint[TEXT_ENCODER_KEY]["hidden_size"] == checkpoint["state_dict"]["network.item_factors"].shape[-1]


def test_save_checkpoint_adds_the_record_only_where_a_meta_file_has_one(trained, tmp_path):
    _, dataset_dir, _ = trained
    config = {"data_path": str(dataset_dir), "dataset": NAME}
    base = {"model": "PoseRec", "state_dict": {"w": torch.zeros(1)}}
    cases = {
        "from-meta": (dict(base, config=config), json.loads((dataset_dir / f"{NAME}.meta.json").read_text())["text_encoder"]),
        "root-data-path": (dict(base, config={"data_path": str(dataset_dir.parent), "dataset": NAME}), "same"),
        "no-meta": (dict(base, config={"data_path": str(tmp_path), "dataset": NAME}), None),
        "kept": (dict(base, config=config, text_encoder={"name": "given"}), {"name": "given"}),
    }
    expected_meta = cases["from-meta"][1]
    for label, (payload, expected) in cases.items():
        save_checkpoint(tmp_path / f"{label}.pth", payload)
        saved = torch.load(tmp_path / f"{label}.pth", weights_only=True)
        assert saved.get(TEXT_ENCODER_KEY) == (expected_meta if expected == "same" else expected), label


# ---------------------------------------------------------------------------- ranking new items


def test_new_items_are_ranked_with_the_catalogue(trained, poses_file, tmp_path, capsys, private_text_cache):
    _, _, checkpoint = trained
    tokens = catalogue_tokens(checkpoint)
    n_catalogue, n_all = len(tokens), len(tokens) + len(NEW_ROWS)
    items = write_items(tmp_path / "new.csv", NEW_ROWS)
    code, out, err = run_cli(capsys, "--poses", poses_file, "--checkpoint", checkpoint, "--items", items,
                             "--format", "json", "--top-k", n_all, "--per-window")
    assert code == 0, err
    result = json.loads(out)
    video = result["video"]
    assert [entry["rank"] for entry in video] == list(range(1, n_all + 1))
    assert all(math.isfinite(entry["score"]) for entry in video)
    new = sorted((entry for entry in video if entry["new"]), key=lambda entry: entry["index"])
    assert [(e["index"], e["token"], e["name"]) for e in new] == [
        (n_catalogue + j, row[0], row[1]) for j, row in enumerate(NEW_ROWS)]
    old = [entry for entry in video if entry["new"] is False]
    assert sorted(entry["index"] for entry in old) == list(range(n_catalogue))
    assert all(entry["token"] == tokens[entry["index"]] for entry in old)
    assert all("new" in entry for window in result["windows"] for entry in window)
    assert not private_text_cache.exists() or not any(private_text_cache.rglob("*"))  # the cache is not written

    # the same ranking as a table: the three new items marked
    code, out, err = run_cli(capsys, "--poses", poses_file, "--checkpoint", checkpoint, "--items", items,
                             "--top-k", n_all)
    assert code == 0, err
    marked = [line for line in out.splitlines() if line.endswith("(new)")]
    assert sorted(line.split()[1] for line in marked) == [str(n_catalogue + j) for j in range(len(NEW_ROWS))]


def test_items_only_ranks_just_the_new_items_with_the_same_scores(trained, poses_file, tmp_path, capsys):
    _, _, checkpoint = trained
    n_catalogue = len(catalogue_tokens(checkpoint))
    items = write_items(tmp_path / "new.csv", NEW_ROWS)
    common = ("--poses", poses_file, "--checkpoint", checkpoint, "--items", items, "--format", "json")
    code, out, err = run_cli(capsys, *common, "--items-only", "--top-k", len(NEW_ROWS))
    assert code == 0, err
    alone = json.loads(out)["video"]
    assert {entry["token"] for entry in alone} == {row[0] for row in NEW_ROWS}
    assert all(entry["new"] is True and entry["index"] >= n_catalogue for entry in alone)
    code, out, err = run_cli(capsys, *common, "--top-k", n_catalogue + len(NEW_ROWS))
    assert code == 0, err
    together = {entry["token"]: entry for entry in json.loads(out)["video"]}
    for entry in alone:
        assert entry["score"] == pytest.approx(together[entry["token"]]["score"], abs=1e-6)
        assert entry["index"] == together[entry["token"]]["index"]
    code, _, err = run_cli(capsys, *common, "--items-only", "--top-k", len(NEW_ROWS) + 1)
    assert code == 2
    assert_one_error_line(err, "--top-k", f"1..{len(NEW_ROWS)}")


def test_reembedding_the_training_items_gives_the_checkpoints_factors_and_scores(trained, poses_file, capsys):
    from recbole_poserec.inference.new_items import (embed_new_items, load_recorded_text_encoder, read_new_items)

    raw, _, checkpoint_path = trained
    checkpoint = load_checkpoint(checkpoint_path)
    frame = read_new_items(raw / "items.csv")
    encoder = load_recorded_text_encoder(checkpoint_path, checkpoint[TEXT_ENCODER_KEY])
    factors = embed_new_items(raw / "items.csv", frame, encoder)
    assert encoder.n_encoded == len(set(frame[list(FACTORS)].to_numpy().ravel()))  # every text ran through the model
    rows = [catalogue_tokens(checkpoint_path).index(token) + 1 for token in frame["item_id"]]
    stored = checkpoint["state_dict"]["network.item_factors"][rows]
    assert factors.shape == stored.shape
    torch.testing.assert_close(factors, stored, rtol=1e-5, atol=1e-6)

    # the catalogue's own rows as new items (--items-only: their ids are the catalogue's) score as the catalogue
    n = len(frame)
    argv = ("--poses", poses_file, "--checkpoint", checkpoint_path, "--format", "json", "--top-k", n)
    code, out, err = run_cli(capsys, *argv)
    assert code == 0, err
    catalogue = {entry["token"]: entry["score"] for entry in json.loads(out)["video"]}
    code, out, err = run_cli(capsys, *argv, "--items", raw / "items.csv", "--items-only")
    assert code == 0, err
    again = {entry["token"]: entry["score"] for entry in json.loads(out)["video"]}
    assert again.keys() == catalogue.keys()
    for token, score in catalogue.items():
        assert again[token] == pytest.approx(score, abs=1e-6), token


# ------------------------------------------------------------------------------------ bad input


def _drop_color(rows):
    position = ITEM_COLUMNS.index("color")
    return [c for c in ITEM_COLUMNS if c != "color"], [row[:position] + row[position + 1:] for row in rows]


BAD_FILES = {
    "missing factor": (lambda: _drop_color(NEW_ROWS), ["field 'color'", "missing column"]),
    "empty description": (lambda: (ITEM_COLUMNS, [NEW_ROWS[0], NEW_ROWS[1][:9] + ["  ", NEW_ROWS[1][10]]]),
                          ["row 2", "field 'description'", "empty value"]),
    "id in the catalogue": (lambda: (ITEM_COLUMNS, [NEW_ROWS[0], ["i003"] + NEW_ROWS[1][1:]]),
                            ["row 2", "field 'item_id'", "'i003'", "already in the checkpoint's catalogue", "--items-only"]),
    "duplicate new id": (lambda: (ITEM_COLUMNS, [NEW_ROWS[0], NEW_ROWS[0]]), ["row 2", "duplicate item id 'n001'"]),
    "unknown group": (lambda: (ITEM_COLUMNS, [NEW_ROWS[0][:10] + ["toys"]]), ["row 1", "field 'group'", "unknown group"]),
    "no data rows": (lambda: (ITEM_COLUMNS, []), ["header but no data rows"]),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_item_rows_are_one_line_and_nothing_is_written(case, trained, poses_file, tmp_path, capsys):
    _, _, checkpoint = trained
    make, expected = BAD_FILES[case]
    header, rows = make()
    items = write_items(tmp_path / "bad.csv", rows, header)
    plot = tmp_path / "top.png"
    code, out, err = run_cli(capsys, "--poses", poses_file, "--checkpoint", checkpoint, "--items", items,
                             "--plot", plot)
    assert code == 2 and out == ""
    assert_one_error_line(err, str(items), *expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv", "poses.npy"]  # no plot, no cache


def test_an_empty_file_and_a_missing_file_are_one_line(trained, poses_file, tmp_path, capsys):
    _, _, checkpoint = trained
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    for items, expected in ((empty, "file is empty"), (tmp_path / "absent.csv", "file not found")):
        code, out, err = run_cli(capsys, "--poses", poses_file, "--checkpoint", checkpoint, "--items", items)
        assert code == 2 and out == ""
        assert_one_error_line(err, str(items), expected)


def test_a_catalogue_id_is_allowed_with_items_only(trained, poses_file, tmp_path, capsys):
    _, _, checkpoint = trained
    items = write_items(tmp_path / "new.csv", [["i003"] + NEW_ROWS[1][1:]])
    code, out, err = run_cli(capsys, "--poses", poses_file, "--checkpoint", checkpoint, "--items", items,
                             "--items-only", "--top-k", 1, "--format", "json")
    assert code == 0, err
    [entry] = json.loads(out)["video"]
    assert entry["token"] == "i003" and entry["name"] == "ukulele" and entry["new"] is True


def _rewritten_checkpoint(source: Path, target: Path, edit) -> Path:
    """``source`` with ``edit(checkpoint)`` applied, written with torch.save (save_checkpoint would add the record)."""
    checkpoint = load_checkpoint(source)
    edit(checkpoint)
    torch.save(checkpoint, target)
    return target


def test_a_checkpoint_without_the_record_is_one_line(trained, poses_file, tmp_path, capsys):
    _, _, checkpoint = trained
    old = _rewritten_checkpoint(checkpoint, tmp_path / "old.pth", lambda c: c.pop(TEXT_ENCODER_KEY))
    items = write_items(tmp_path / "new.csv", NEW_ROWS)
    code, out, err = run_cli(capsys, "--poses", poses_file, "--checkpoint", old, "--items", items)
    assert code == 2 and out == ""
    assert_one_error_line(err, str(old), "predates the text-encoder record", "re-train")
    code, out, err = run_cli(capsys, "--poses", poses_file, "--checkpoint", old)  # without --items it still works
    assert code == 0, err


def test_another_text_encoder_is_one_line_naming_the_mismatch(trained, poses_file, tmp_path, capsys):
    _, _, checkpoint = trained

    def other_files(checkpoint):
        checkpoint[TEXT_ENCODER_KEY]["identity"]["files_sha256"] = "0" * 64

    changed = _rewritten_checkpoint(checkpoint, tmp_path / "changed.pth", other_files)
    items = write_items(tmp_path / "new.csv", NEW_ROWS)
    code, out, err = run_cli(capsys, "--poses", poses_file, "--checkpoint", changed, "--items", items)
    assert code == 2 and out == ""
    assert_one_error_line(err, str(changed), "SHA-256", "000000000000...", "not the one it was trained with")


def test_items_only_needs_items(trained, poses_file, capsys):
    _, _, checkpoint = trained
    code, out, err = run_cli(capsys, "--poses", poses_file, "--checkpoint", checkpoint, "--items-only")
    assert code == 2 and out == ""
    assert_one_error_line(err, "--items-only", "needs --items")


@pytest.mark.skipif(not RELEASE_DIR.is_dir(), reason=f"{RELEASE_DIR} is absent")
def test_the_reference_release_cannot_rank_new_items(poses_file, tmp_path, capsys):
    items = write_items(tmp_path / "new.csv", NEW_ROWS)
    code, out, err = run_cli(capsys, "--poses", poses_file, "--reference-release", RELEASE_DIR, "--items", items)
    assert code == 2 and out == ""
    assert_one_error_line(err, "--items", "item side", "bert-base-uncased", "--checkpoint")


def test_the_default_encoder_is_found_again_where_it_is_installed_now(trained, poses_file, tmp_path, capsys):
    """A checkpoint trained in another virtualenv records a model path that is not here: the packaged
    MiniLM (same files, same SHA-256) is used; an encoder that is nowhere here is one line."""
    _, _, checkpoint = trained
    items = write_items(tmp_path / "new.csv", NEW_ROWS)

    def moved(checkpoint):
        checkpoint[TEXT_ENCODER_KEY]["path_or_hub_name"] = str(tmp_path / "old-venv" / "model")

    def elsewhere(checkpoint):
        moved(checkpoint)
        checkpoint[TEXT_ENCODER_KEY]["name"] = "my-encoder"

    argv = ("--poses", poses_file, "--items", items, "--items-only", "--format", "json", "--top-k", len(NEW_ROWS))
    code, out, err = run_cli(capsys, *argv, "--checkpoint", checkpoint)
    assert code == 0, err
    expected = json.loads(out)["video"]
    code, out, err = run_cli(capsys, *argv, "--checkpoint", _rewritten_checkpoint(checkpoint, tmp_path / "moved.pth", moved))
    assert code == 0, err
    assert json.loads(out)["video"] == expected
    missing = _rewritten_checkpoint(checkpoint, tmp_path / "elsewhere.pth", elsewhere)
    code, out, err = run_cli(capsys, *argv, "--checkpoint", missing)
    assert code == 2 and out == ""
    assert_one_error_line(err, str(missing), "my-encoder", "not available offline")
