"""Every kind of bad raw input -> one-line DataError naming file and row/field, CLI exit != 0, no output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dataset_conversion.__main__ import main
from dataset_conversion.convert import convert_raw_dataset
from dataset_conversion.errors import DataError
from dataset_conversion.layout import ITEM_COLUMNS, VIDEO_COLUMNS

REPO = Path(__file__).resolve().parents[1]


# --- edits of a valid tiny dataset (see conftest.tiny_raw_tables): each breaks exactly one thing ---


def drop_video_column(tables):
    tables["drop_column"] = ("videos.csv", VIDEO_COLUMNS.index("subcategory"))


def drop_factor_column(tables):
    tables["drop_column"] = ("items.csv", ITEM_COLUMNS.index("material"))


def set_pose(video_id, array):
    def edit(tables):
        tables["poses"][video_id] = array

    return edit


def pose_with(value):
    def edit(tables):
        tables["poses"]["v001"][4, 7, 2] = value

    return edit


def pose_as_float64_with(value):
    def edit(tables):
        pose = tables["poses"]["v001"].astype(np.float64)
        pose[4, 7, 2] = value
        tables["poses"]["v001"] = pose

    return edit


def set_cell(table, row, column, value):
    def edit(tables):
        tables[table][row - 1][column] = value

    return edit


def duplicate_row(table, row):
    def edit(tables):
        tables[table].append(list(tables[table][row - 1]))

    return edit


def raw_file(name, content: bytes):
    def edit(tables):
        tables.setdefault("raw_files", {})[name] = content

    return edit


def remove_pose(tables):
    tables["remove_pose"] = "v002"


# (case id, edit, file named in the message, expected "row R" or None, expected field or None)
CASES = [
    ("missing-column", drop_video_column, "videos.csv", None, "subcategory"),
    ("missing-factor", drop_factor_column, "items.csv", None, "material"),
    ("pose-not-33x4", set_pose("v001", np.zeros((23, 32, 4), np.float32)), "v001.npy", None, None),
    ("pose-2d", set_pose("v001", np.zeros((23, 132), np.float32)), "v001.npy", None, None),
    ("pose-nan", pose_with(np.nan), "v001.npy", None, None),
    ("pose-inf", pose_with(np.inf), "v001.npy", None, None),
    ("unknown-video", set_cell("annotations", 4, 0, "v999"), "annotations.csv", 4, "video_id"),
    ("unknown-item", set_cell("annotations", 5, 1, "i999"), "annotations.csv", 5, "item_id"),
    ("score-above-1", set_cell("annotations", 2, 2, "1.5"), "annotations.csv", 2, "score"),
    ("score-below-minus-1", set_cell("annotations", 3, 2, "-1.01"), "annotations.csv", 3, "score"),
    ("score-not-a-number", set_cell("annotations", 6, 2, "high"), "annotations.csv", 6, "score"),
    ("score-empty", set_cell("annotations", 6, 2, ""), "annotations.csv", 6, "score"),
    ("video-shorter-than-window", set_pose("v003", np.zeros((10, 33, 4), np.float32)), "v003.npy", None, None),
    ("duplicate-video", duplicate_row("videos", 2), "videos.csv", 7, "video_id"),
    ("duplicate-item", duplicate_row("items", 3), "items.csv", 13, "item_id"),
    ("duplicate-annotation", duplicate_row("annotations", 1), "annotations.csv", 19, "item_id"),
    ("empty-file", raw_file("annotations.csv", b""), "annotations.csv", None, None),
    ("header-only-file", raw_file("items.csv", (",".join(ITEM_COLUMNS) + "\n").encode()), "items.csv", None, None),
    ("missing-pose-file", remove_pose, "v002.npy", None, None),
    ("unreadable-pose-file", raw_file("poses/v004.npy", b"\x93NUMPY garbage, not an array"), "v004.npy", None, None),
    ("pickled-pose-file", set_pose("v001", np.array([{"a": 1}], dtype=object)), "v001.npy", None, None),
    ("unknown-group", set_cell("items", 2, len(ITEM_COLUMNS) - 1, "food"), "items.csv", 2, "group"),
    ("pose-float64-beyond-float32", pose_as_float64_with(1e300), "v001.npy", None, None),
    ("pose-float64-minus-inf", pose_as_float64_with(-np.inf), "v001.npy", None, None),
    ("pose-int", set_pose("v001", np.zeros((23, 33, 4), np.int32)), "v001.npy", None, None),
    ("pose-bool", set_pose("v001", np.ones((23, 33, 4), bool)), "v001.npy", None, None),
    ("item-id-NA", set_cell("items", 2, 0, "NA"), "items.csv", 2, "item_id"),
    ("video-id-null", set_cell("videos", 3, 0, "null"), "videos.csv", 3, "video_id"),
    ("video-id-leading-quote", set_cell("videos", 3, 0, '"v002'), "videos.csv", 3, "video_id"),
    ("name-nan", set_cell("items", 4, ITEM_COLUMNS.index("name"), "nan"), "items.csv", 4, "name"),
]


def apply_extras(raw_dir: Path, tables) -> None:
    """The edits that act on files rather than on table rows."""
    if "drop_column" in tables:
        name, index = tables["drop_column"]
        lines = (raw_dir / name).read_text().splitlines()
        kept = [",".join(c for k, c in enumerate(line.split(",")) if k != index) for line in lines]
        (raw_dir / name).write_text("\n".join(kept) + "\n")
    for name, content in tables.get("raw_files", {}).items():
        (raw_dir / name).write_bytes(content)
    if "remove_pose" in tables:
        (raw_dir / "poses" / f"{tables['remove_pose']}.npy").unlink()


@pytest.fixture
def broken_raw(tiny_raw_factory):
    def make(edit):
        captured = {}

        def record(tables):
            edit(tables)
            captured.update(tables)

        raw_dir = tiny_raw_factory(record)
        apply_extras(raw_dir, captured)
        return raw_dir

    return make


def check_message(message: str, file: str, row, field) -> None:
    assert "\n" not in message
    assert file in message
    if row is not None:
        assert f"row {row}" in message
    if field is not None:
        assert f"field '{field}'" in message


@pytest.mark.parametrize("case, edit, file, row, field", CASES, ids=[c[0] for c in CASES])
def test_bad_input_raises_one_line_error_and_writes_nothing(broken_raw, tmp_path, capsys, case, edit, file, row, field):
    raw_dir = broken_raw(edit)
    out = tmp_path / "out"
    with pytest.raises(DataError) as caught:
        convert_raw_dataset(raw_dir, out, "bad", cache_dir=tmp_path / "cache")
    check_message(str(caught.value), file, row, field)
    assert not out.exists()

    capsys.readouterr()
    args = ["convert", "--raw", str(raw_dir), "--out", str(out), "--name", "bad", "--quiet"]
    code = main(args + ["--cache-dir", str(tmp_path / "cache")])
    err = capsys.readouterr().err
    assert code != 0
    assert err.count("\n") == 1 and "Traceback" not in err
    check_message(err.strip(), file, row, field)
    assert not out.exists()


def test_missing_raw_dir_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="not found"):
        convert_raw_dataset(tmp_path / "nowhere", tmp_path / "out", "bad")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("case", ["score-above-1", "pose-nan"])
def test_cli_process_prints_only_the_error_line(broken_raw, tmp_path, case):
    """The real command in its own process: exit code 2, one stderr line, no traceback, no output."""
    _, edit, file, row, field = next(c for c in CASES if c[0] == case)
    raw_dir = broken_raw(edit)
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    result = subprocess.run(
        [sys.executable, "-m", "dataset_conversion", "convert"]
        + ["--raw", str(raw_dir), "--out", str(out), "--name", "bad"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    check_message(result.stderr.strip(), file, row, field)
    assert not out.exists()


def test_missing_text_encoder_is_one_line(small_raw_dir, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["convert", "--raw", str(small_raw_dir), "--out", str(out), "--name", "x", "--quiet",
                 "--text-encoder", str(tmp_path / "no-such-model")])
    err = capsys.readouterr().err
    assert code != 0 and err.count("\n") == 1 and "no-such-model" in err and "text encoder" in err
    assert not out.exists()
