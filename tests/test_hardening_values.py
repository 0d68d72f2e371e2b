"""Issue #10, groups 4-6 on the converter side: numbers that are not numbers, values RecBole cannot read
back, and memory that grows with what is formatted rather than with the input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dataset_conversion import convert as convert_module
from dataset_conversion.__main__ import main
from dataset_conversion.category import ItemTable, category_ids
from dataset_conversion.convert import (
    EMBEDDING_FORMAT,
    POSE_FORMAT,
    convert_both_levels,
    convert_raw_dataset,
    prepare,
    principal_axes,
    standardized_pca,
    write_item_file,
    write_level,
)
from dataset_conversion.errors import DataError
from dataset_conversion.layout import FACTOR_FIELDS, GROUPS, ITEM_COLUMNS
from dataset_conversion.recbole_tokens import misread, read_as_recbole, token_cells

REPO = Path(__file__).resolve().parents[1]
NAME_COLUMN = ITEM_COLUMNS.index("name")


def one_line(message: str, *parts: str) -> None:
    assert "\n" not in message.strip() and "Traceback" not in message
    for part in parts:
        assert part in message, (part, message)


# ------------------------------------------------------------------------ group 4: numbers


def test_float64_pose_beyond_float32_range_names_file_frame_landmark_channel(tiny_raw_factory, tmp_path):
    def edit(tables):
        pose = tables["poses"]["v002"].astype(np.float64)
        pose[6, 11, 1] = 1e300  # finite in float64, inf once stored as float32
        tables["poses"]["v002"] = pose

    raw_dir = tiny_raw_factory(edit)
    with pytest.raises(DataError) as caught:
        convert_raw_dataset(raw_dir, tmp_path / "out", "bad", cache_dir=tmp_path / "cache")
    one_line(str(caught.value), "v002.npy", "frame 6", "landmark 11", "channel 1", "1e+300")
    assert not (tmp_path / "out").exists()


def test_float64_pose_within_range_converts_like_float32(tiny_raw_factory, tmp_path, text_cache_dir):
    """A float64 file is cast to float32 exactly as a float32 file would have stored it."""
    as32 = tiny_raw_factory()
    as64 = tiny_raw_factory(lambda t: t["poses"].update({k: v.astype(np.float64) for k, v in t["poses"].items()}))
    a = convert_raw_dataset(as32, tmp_path / "a", "d", cache_dir=text_cache_dir)
    b = convert_raw_dataset(as64, tmp_path / "b", "d", cache_dir=text_cache_dir)
    assert (a / "d.user").read_bytes() == (b / "d.user").read_bytes()


@pytest.fixture
def prepared_tiny(tiny_raw_factory, text_cache_dir):
    return prepare(tiny_raw_factory(), cache_dir=text_cache_dir)


def poison_pose(prepared):
    prepared.windows.poses[3, 5] = np.inf
    return "d.user", 4, "pose"


def poison_pose_pca(prepared):
    prepared.pose_pca[7, 0] = np.nan
    return "d.user", 8, "pose_pca"


def poison_embedding(prepared):
    prepared.factor_embeddings[2, 1, 9] = np.nan  # item 3, factor "usage"
    return "d.item", 3, "f_usage"


def poison_score(prepared):
    prepared.raw.annotations.loc[0, "score"] = np.nan  # the first window's first interaction
    return ".inter", None, "score"


@pytest.mark.parametrize("poison", [poison_pose, poison_pose_pca, poison_embedding, poison_score])
def test_writer_never_writes_a_non_finite_number(prepared_tiny, tmp_path, poison):
    """The last line of defence: whatever slipped through, no NaN / inf reaches an atomic file."""
    file, row, field = poison(prepared_tiny)
    with pytest.raises(DataError) as caught:
        write_level(prepared_tiny, tmp_path / "out", "d")
    one_line(str(caught.value), file, f"field '{field}'", "not a finite number")
    if row is not None:
        assert f"row {row}," in str(caught.value)
    assert not (tmp_path / "out" / "d").exists()
    out = tmp_path / "out"
    assert not out.exists() or [p.name for p in out.iterdir()] == []  # no temporary left either


def test_writer_refuses_non_finite_factors_pca(tmp_path):
    items = ItemTable(np.array(["a", "b"], dtype=object), np.array(["x", "y"], dtype=object),
                      np.array(["sports", "others"], dtype=object), np.zeros((2, 9, 4), np.float32))
    pca = np.array([[0.5], [np.inf]], dtype=np.float32)
    with pytest.raises(DataError) as caught:
        write_item_file(tmp_path / "d.item", items, pca)
    one_line(str(caught.value), "d.item", "row 2", "field 'factors_pca'")


# ------------------------------------------------------------- group 5: values RecBole reads back


def test_missing_value_words_come_from_pandas_itself():
    """The rule is pandas' own: every default NA word is caught, ordinary look-alikes are not."""
    from pandas._libs.parsers import STR_NA_VALUES  # only to check the derived rule against the source

    words = sorted(STR_NA_VALUES - {""})
    cells, unrepresentable = token_cells(words)
    assert unrepresentable.all(), [w for w, bad in zip(words, unrepresentable) if not bad]
    fine = ["na", "none", "NAN!", "nil", "0", "-", "N", "NA_w00000", "12\" ruler", "a\"b", "x\""]
    assert not misread(fine).any()
    assert token_cells(fine)[0] == fine  # written as they are: no quoting where none is needed
    assert all(not bad for bad in misread(list(GROUPS)))


def test_leading_quote_is_quoted_and_reads_back():
    values = ['"Pro" racket', '"', 'plain', '""', '"a" "b"']
    assert misread(values).tolist() == [True, True, False, True, True]
    cells, unrepresentable = token_cells(values)
    assert not unrepresentable.any()
    assert cells[2] == "plain" and cells[0] == '"""Pro"" racket"'
    assert read_as_recbole(cells) == values


def test_category_ids_avoid_missing_value_words():
    ids = category_ids(["NaN!", "null", "-nan-", "basketball", "Tennis Ball"])
    assert ids["basketball"] == "basketball" and ids["Tennis Ball"] == "tennis_ball"
    assert not misread(list(ids.values())).any()
    assert ids["NaN!"].startswith("c") and ids["null"].startswith("c") and len(set(ids.values())) == 5


def quoted_tables(tables):
    """Names with quotes, ids with inner quotes, a name whose slug is a missing-value word."""
    names = ['"Pro" racket', '12" ruler', 'say "hi"', "NaN!"]
    for k, row in enumerate(tables["items"]):
        row[NAME_COLUMN] = names[k % len(names)]
    old_item, new_item = tables["items"][5][0], 'i"005'
    tables["items"][5][0] = new_item
    old_video, new_video = tables["videos"][1][0], 'v"001'
    tables["videos"][1][0] = new_video
    tables["poses"][new_video] = tables["poses"].pop(old_video)
    for row in tables["annotations"]:
        row[0] = new_video if row[0] == old_video else row[0]
        row[1] = new_item if row[1] == old_item else row[1]


def recbole_dataset(data_path: Path, name: str, checkpoint_dir: Path):
    from recbole.data import create_dataset

    from recbole_poserec.config import Config

    config = Config(model="Pop", dataset=name, config_dict={
        "data_path": str(data_path), "load_col": None, "USER_ID_FIELD": "window_id", "ITEM_ID_FIELD": "item_id",
        "benchmark_filename": ["train", "valid", "test"], "checkpoint_dir": str(checkpoint_dir),
        "show_progress": False, "save_dataset": False, "save_dataloaders": False, "state": "WARNING",
    })
    return create_dataset(config)


def loaded_tokens(dataset, field: str, rows) -> list[str]:
    """The tokens RecBole holds for internal ids ``rows`` (a padding row, if any, gives ``[PAD]``)."""
    return [str(t) for t in dataset.field2id_token[field][np.asarray(rows, dtype=np.int64)]]


def test_every_id_and_name_round_trips_through_recbole(tiny_raw_factory, tmp_path, text_cache_dir):
    raw_dir = tiny_raw_factory(quoted_tables)
    out = tmp_path / "out"
    convert_both_levels(raw_dir, out, "q", "q-cat", cache_dir=text_cache_dir)
    items = pd.read_csv(raw_dir / "items.csv", dtype=str, keep_default_na=False)
    videos = pd.read_csv(raw_dir / "videos.csv", dtype=str, keep_default_na=False)
    annotations = pd.read_csv(raw_dir / "annotations.csv", dtype=str, keep_default_na=False)

    # instance level: every raw item id with its raw name, every raw video id, every annotation
    dataset = recbole_dataset(out, "q", tmp_path / "saved")
    item_ids = loaded_tokens(dataset, "item_id", dataset.item_feat["item_id"])
    names = loaded_tokens(dataset, "name", dataset.item_feat["name"])
    loaded = {i: n for i, n in zip(item_ids, names) if i != "[PAD]"}
    assert loaded == dict(zip(items["item_id"], items["name"]))
    window_video = loaded_tokens(dataset, "video_id", dataset.user_feat["video_id"][1:])
    assert set(window_video) == set(videos["video_id"])
    users = loaded_tokens(dataset, "window_id", dataset.user_feat["window_id"][1:])
    written = pd.read_csv(out / "q" / "q.user", sep="\t", dtype=str, keep_default_na=False)["window_id:token"]
    assert sorted(users) == sorted(written) and all(u.rsplit("_w", 1)[0] == v for u, v in zip(users, window_video))
    inter_pairs = set(zip(
        (w.rsplit("_w", 1)[0] for w in loaded_tokens(dataset, "window_id", dataset.inter_feat["window_id"])),
        loaded_tokens(dataset, "item_id", dataset.inter_feat["item_id"]),
    ))
    assert inter_pairs == set(zip(annotations["video_id"], annotations["item_id"]))

    # category level: one item per raw name, each name read back exactly
    cat = recbole_dataset(out, "q-cat", tmp_path / "saved-cat")
    cat_names = [n for n in loaded_tokens(cat, "name", cat.item_feat["name"]) if n != "[PAD]"]
    assert sorted(cat_names) == sorted(set(items["name"]))
    assert cat.item_num == items["name"].nunique() + 1  # + [PAD]; the "nan" slug became a c<NNNN> id

    # the .user file is written once and shared by both levels
    assert (out / "q" / "q.user").read_bytes() == (out / "q-cat" / "q-cat.user").read_bytes()


def set_item_id(value):
    return lambda tables: tables["items"][2].__setitem__(0, value)


def set_video_id(value):
    return lambda tables: tables["videos"][3].__setitem__(0, value)


def set_name(value):
    return lambda tables: tables["items"][4].__setitem__(NAME_COLUMN, value)


# (case, edit, file, row, field) -- values no atomic-file cell can carry, or ids that would not read back
UNREADABLE = [
    ("item-id-NA", set_item_id("NA"), "items.csv", 3, "item_id"),
    ("item-id-null", set_item_id("null"), "items.csv", 3, "item_id"),
    ("item-id-nan", set_item_id("nan"), "items.csv", 3, "item_id"),
    ("item-id-leading-quote", set_item_id('"i002'), "items.csv", 3, "item_id"),
    ("video-id-None", set_video_id("None"), "videos.csv", 4, "video_id"),
    ("video-id-#N/A", set_video_id("#N/A"), "videos.csv", 4, "video_id"),
    ("name-N/A", set_name("N/A"), "items.csv", 5, "name"),
    ("name-null-padded", set_name("  null "), "items.csv", 5, "name"),
]


@pytest.mark.parametrize("case, edit, file, row, field", UNREADABLE, ids=[c[0] for c in UNREADABLE])
def test_values_recbole_cannot_read_back_are_rejected(tiny_raw_factory, tmp_path, capsys, case, edit, file, row,
                                                      field):
    raw_dir = tiny_raw_factory(edit)
    out = tmp_path / "out"
    code = main(["convert", "--raw", str(raw_dir), "--out", str(out), "--name", "bad", "--quiet",
                 "--cache-dir", str(tmp_path / "cache")])
    err = capsys.readouterr().err
    assert code == 2
    one_line(err, file, f"row {row},", f"field '{field}'")
    assert err.count("\n") == 1 and not out.exists()


@pytest.mark.parametrize("value", ["NA", "null", "nan"])
def test_cli_rejects_missing_value_item_ids_with_exit_2(tiny_raw_factory, tmp_path, value):
    raw_dir = tiny_raw_factory(set_item_id(value))
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "dataset_conversion", "convert", "--raw", str(raw_dir), "--out", str(out),
         "--name", "bad", "--quiet", "--cache-dir", str(tmp_path / "cache")],
        capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(REPO)), cwd=tmp_path, timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and result.stdout == ""
    one_line(result.stderr, "items.csv", "row 3,", "field 'item_id'", f"'{value}'")
    assert not out.exists()


# -------------------------------------------------------- group 6: memory bounded, bytes unchanged


def reference_user_bytes(prepared) -> bytes:
    """The ``.user`` file as the converter formatted it before streaming: all rows at once."""
    def rows(array):
        row_format = " ".join([POSE_FORMAT] * array.shape[1])
        return [row_format % tuple(v) for v in array.astype(np.float64).tolist()]

    header = "window_id:token\tvideo_id:token\tpose:float_seq\tpose_pca:float_seq\n"
    lines = [f"{w}\t{v}\t{p}\t{q}\n" for w, v, p, q in zip(
        prepared.windows.window_ids, prepared.windows.video_ids, rows(prepared.windows.poses), rows(prepared.pose_pca))]
    return (header + "".join(lines)).encode("utf-8")


def reference_item_lines(items, factors_pca) -> list[str]:
    def rows(array):
        row_format = " ".join([EMBEDDING_FORMAT] * array.shape[1])
        return [row_format % tuple(v) for v in array.astype(np.float64).tolist()]

    columns = [items.item_ids, items.names, items.groups]
    columns += [rows(items.factor_embeddings[:, k]) for k in range(len(FACTOR_FIELDS))] + [rows(factors_pca)]
    return ["\t".join(cells) + "\n" for cells in zip(*columns)]


def test_streamed_files_equal_formatting_everything_at_once(prepared_tiny, tmp_path, monkeypatch):
    for constant, value in (("USER_CHUNK_ROWS", 4), ("ITEM_CHUNK_ROWS", 5), ("WINDOW_CHUNK", 2)):
        monkeypatch.setattr(convert_module, constant, value)
    directory = write_level(prepared_tiny, tmp_path, "d")
    assert (directory / "d.user").read_bytes() == reference_user_bytes(prepared_tiny)

    items = convert_module.instance_items(prepared_tiny.raw, prepared_tiny.factor_embeddings)
    flat = items.factor_embeddings.reshape(len(items), -1)
    factors_pca, _ = standardized_pca(flat, prepared_tiny.pca_dim)
    lines = (directory / "d.item").read_text(encoding="utf-8").splitlines(keepends=True)
    assert lines[1:] == reference_item_lines(items, factors_pca)

    # windows cut a couple at a time from the memory map equal the whole-array cut
    rebuilt = convert_module.build_windows(prepared_tiny.raw, 10, 5)
    np.testing.assert_array_equal(rebuilt.poses, prepared_tiny.windows.poses)


def test_chunked_pca_equals_the_whole_matrix_computation(monkeypatch):
    rng = np.random.default_rng(3)
    rows = (rng.standard_normal((700, 24)) @ rng.standard_normal((24, 24))).astype(np.float32)
    fit = np.flatnonzero(rng.random(700) < 0.6)
    monkeypatch.setattr(convert_module, "PCA_CHUNK_ROWS", 64)
    mean, axes, variances, total = principal_axes(rows, 5, fit)

    whole = rows[fit].astype(np.float64)
    np.testing.assert_array_equal(mean, whole.mean(axis=0))  # the same row-by-row sum as numpy's
    centred = whole - whole.mean(axis=0)
    eigenvalues, vectors = np.linalg.eigh(centred.T @ centred)
    order = np.argsort(eigenvalues)[::-1][:5]
    np.testing.assert_allclose(variances, eigenvalues[order] / len(fit), rtol=1e-10)
    np.testing.assert_allclose(np.abs(axes), np.abs(vectors[:, order]), atol=1e-9)
    assert total == pytest.approx((centred**2).sum() / len(fit), rel=1e-12)

    transformed, _ = standardized_pca(rows, 5, fit_index=fit)
    np.testing.assert_allclose(transformed[fit].std(axis=0), 1.0, atol=1e-4)


def test_an_empty_split_converts_to_a_header_only_file(tiny_raw_factory, tmp_path, text_cache_dir):
    """Three videos split 6:2:2 leave the test split empty: its file holds the header, nothing crashes."""
    raw = tiny_raw_factory(n_videos=3)
    out = convert_raw_dataset(raw, tmp_path / "out", "three", cache_dir=text_cache_dir)
    lines = (out / "three.test.inter").read_text(encoding="utf-8").splitlines()
    assert lines == ["window_id:token\titem_id:token\tscore:float\tlabel:float"]
    assert len((out / "three.train.inter").read_text(encoding="utf-8").splitlines()) > 1
