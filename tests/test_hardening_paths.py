"""Issue #10, groups 1-3 for ``python -m dataset_conversion``: names and paths never lose data, a command
only replaces what it created, kills and interrupts leave nothing behind, usage errors are one line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dataset_conversion.__main__ import main
from dataset_conversion.atomic import (
    _signals_deferred,
    atomic_directory,
    atomic_file,
    check_replaceable,
    remove_stale_temporaries,
)
from dataset_conversion.convert import convert_both_levels, convert_raw_dataset
from dataset_conversion.dataset_names import written_by_convert
from dataset_conversion.errors import DataError
from dataset_conversion.synth import generate_raw_dataset
from dataset_conversion.synth.generate import is_synth_output, minimum_items
from cli_assertions import assert_one_error_line

SMALL_SYNTH = ["--videos", "2", "--items", "40"]


def one_error_line(capsys, *expected: str) -> str:
    return assert_one_error_line(capsys.readouterr().err, *expected)


def temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in Path(folder).rglob(".*") if ".tmp-" in p.name or ".old-" in p.name)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.fixture
def out_with_neighbour(tmp_path) -> Path:
    """An ``--out`` that already holds someone else's dataset (which must survive everything)."""
    out = tmp_path / "out"
    (out / "other-dataset").mkdir(parents=True)
    (out / "other-dataset" / "keep.txt").write_text("not yours")
    (out / "notes.txt").write_text("mine")
    return out


# ----------------------------------------------------------------------------------- 1. names


BAD_NAMES = ["", ".", "..", "../escaped", "a/b", "/abs", "a\\b", ".hidden", "a b", " ", "a\nb", "a\tb", "x\x00y",
             "x" * 201]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_dataset_name_is_one_line_and_touches_nothing(tiny_raw_factory, out_with_neighbour, text_cache_dir,
                                                          capsys, name):  # fmt: skip
    raw = tiny_raw_factory()
    before = snapshot(out_with_neighbour.parent)
    code = main(["convert", "--raw", str(raw), "--out", str(out_with_neighbour), "--name", name,
                 "--quiet", "--cache-dir", str(text_cache_dir)])  # fmt: skip
    assert code == 2
    one_error_line(capsys, "--name", "single directory name")
    assert snapshot(out_with_neighbour.parent) == before
    assert not (out_with_neighbour.parent / "escaped").exists() and temporaries(out_with_neighbour.parent) == []


@pytest.mark.parametrize("cat_name", [".", "", "..", "a/b", "inst"])
def test_bad_category_name_is_one_line(tiny_raw_factory, out_with_neighbour, text_cache_dir, capsys, cat_name):
    before = snapshot(out_with_neighbour)
    code = main(["convert", "--raw", str(tiny_raw_factory()), "--out", str(out_with_neighbour), "--name", "inst",
                 "--level", "both", "--cat-name", cat_name, "--quiet", "--cache-dir", str(text_cache_dir)])  # fmt: skip
    assert code == 2
    one_error_line(capsys, "--cat-name")
    assert snapshot(out_with_neighbour) == before


def test_the_api_refuses_bad_names_too(tiny_raw_factory, out_with_neighbour, text_cache_dir):
    raw = tiny_raw_factory()
    before = snapshot(out_with_neighbour)
    for name in ("", ".", "..", "../escaped"):
        with pytest.raises(DataError, match="single directory name"):
            convert_raw_dataset(raw, out_with_neighbour, name, cache_dir=text_cache_dir)
    with pytest.raises(DataError, match="must differ"):
        convert_both_levels(raw, out_with_neighbour, "same", "same", cache_dir=text_cache_dir)
    with pytest.raises(DataError, match="cat_name"):
        convert_both_levels(raw, out_with_neighbour, "inst", ".", cache_dir=text_cache_dir)
    assert snapshot(out_with_neighbour) == before and temporaries(out_with_neighbour.parent) == []


# ------------------------------------------------------------------ 1. only replace what we created


def test_atomic_directory_refuses_targets_it_must_not_replace(tmp_path, monkeypatch):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "precious").write_text("x")
    monkeypatch.chdir(tmp_path / "a" / "b")
    (tmp_path / "file").write_text("x")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere")
    for target, why in [(Path(""), "empty"), (Path("."), "empty"), (tmp_path / "a" / "..", "'..'"),
                        (Path("/"), "empty"), (tmp_path / "a" / "b", "current directory"),
                        (tmp_path / "a", "current directory or one above"), (tmp_path / "link", "symbolic link"),
                        (tmp_path / "file", "not a directory")]:  # fmt: skip
        with pytest.raises(DataError, match=why):
            with atomic_directory(target, replaces=lambda folder: True):
                pass
    assert (tmp_path / "a" / "b" / "precious").read_text() == "x" and (tmp_path / "file").read_text() == "x"
    assert temporaries(tmp_path) == []


def test_atomic_directory_replaces_only_its_own_or_empty_directories(tmp_path):
    def ours(folder: Path) -> bool:
        return (folder / "OURS").is_file()

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "data").write_text("theirs")
    with pytest.raises(DataError, match="not written by this command"):
        with atomic_directory(foreign, replaces=ours) as tmp:
            (tmp / "OURS").write_text("")
    assert [p.name for p in foreign.iterdir()] == ["data"]
    empty = tmp_path / "empty"
    empty.mkdir()
    for _ in range(2):  # an empty directory, then our own output
        with atomic_directory(empty, replaces=ours) as tmp:
            (tmp / "OURS").write_text("")
    assert [p.name for p in empty.iterdir()] == ["OURS"] and temporaries(tmp_path) == []


def test_convert_refuses_a_directory_it_did_not_write(tiny_raw_factory, out_with_neighbour, text_cache_dir, capsys):
    before = snapshot(out_with_neighbour)
    args = ["convert", "--raw", str(tiny_raw_factory()), "--out", str(out_with_neighbour), "--quiet",
            "--cache-dir", str(text_cache_dir)]  # fmt: skip
    assert main(args + ["--name", "other-dataset"]) == 2
    one_error_line(capsys, "other-dataset", "not written by this command")
    assert main(args + ["--name", "notes.txt"]) == 2
    one_error_line(capsys, "notes.txt", "not a directory")
    assert snapshot(out_with_neighbour) == before
    assert main(args + ["--name", "mine"]) == 0 and main(args + ["--name", "mine"]) == 0  # its own: replaced
    assert written_by_convert("mine")(out_with_neighbour / "mine")
    assert main(args + ["--name", "mine2", "--level", "both", "--cat-name", "other-dataset"]) == 2
    one_error_line(capsys, "other-dataset")
    assert not (out_with_neighbour / "mine2").exists() and (out_with_neighbour / "other-dataset" / "keep.txt").exists()


@pytest.mark.parametrize("where", ["file", "below-file"])
def test_convert_out_that_is_a_file_is_one_line(tiny_raw_factory, tmp_path, text_cache_dir, capsys, where):
    (tmp_path / "file").write_text("x")
    out = tmp_path / "file" if where == "file" else tmp_path / "file" / "sub"
    code = main(["convert", "--raw", str(tiny_raw_factory()), "--out", str(out), "--name", "d", "--quiet",
                 "--cache-dir", str(text_cache_dir)])  # fmt: skip
    assert code == 2
    one_error_line(capsys, "--out" if where == "file" else str(tmp_path / "file"), "not a directory")
    assert (tmp_path / "file").read_text() == "x"


def test_synth_refuses_a_non_empty_foreign_directory_unless_forced(tmp_path, capsys):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "unrelated.txt").write_text("keep me")
    assert main(["synth", "--raw", str(raw)] + SMALL_SYNTH) == 2
    one_error_line(capsys, str(raw), "not written by this command", "--force")
    assert [p.name for p in raw.iterdir()] == ["unrelated.txt"]
    assert main(["synth", "--raw", str(raw), "--force"] + SMALL_SYNTH) == 0
    assert is_synth_output(raw) and not (raw / "unrelated.txt").exists()
    assert main(["synth", "--raw", str(raw), "--seed", "1"] + SMALL_SYNTH) == 0  # an earlier synth output
    assert json.loads((raw / "SYNTHETIC.json").read_text())["seed"] == 1
    (tmp_path / "empty").mkdir()
    assert main(["synth", "--raw", str(tmp_path / "empty")] + SMALL_SYNTH) == 0
    (tmp_path / "fake").mkdir()
    (tmp_path / "fake" / "SYNTHETIC.json").write_text('{"generator": "someone else"}')
    assert main(["synth", "--raw", str(tmp_path / "fake")] + SMALL_SYNTH) == 2
    capsys.readouterr()
    assert temporaries(tmp_path) == []


def test_default_dataset_never_replaces_foreign_directories(tmp_path, monkeypatch):
    from recbole_poserec.data.default_datasets import ensure_default_dataset

    monkeypatch.setenv("RECBOLE_POSEREC_CACHE", str(tmp_path / "cache"))
    (tmp_path / "pose-obe").mkdir()
    (tmp_path / "pose-obe" / "my-real-data.csv").write_text("x")
    with pytest.raises(DataError, match="pose-obe: exists and was not written"):
        ensure_default_dataset(tmp_path, "pose-obe")
    (tmp_path / "raw-synthetic").mkdir()
    (tmp_path / "raw-synthetic" / "videos.csv").write_text("not synthetic")
    with pytest.raises(DataError, match="raw-synthetic: exists and was not written"):
        ensure_default_dataset(tmp_path, "pose-obe-cat")
    assert (tmp_path / "pose-obe" / "my-real-data.csv").exists()
    assert (tmp_path / "raw-synthetic" / "videos.csv").read_text() == "not synthetic"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pose-obe", "raw-synthetic"]


# ------------------------------------------------------------------------ 2. stale temporaries


def test_stale_temporaries_of_dead_processes_are_removed_and_only_those(tmp_path):
    dead = dead_pid()
    alive = os.getpid()
    final = tmp_path / "data"
    keep = [f".data.tmp-{alive}-abc123", f".other.tmp-{dead}-abc123", ".data.tmp-abc", "data.tmp-1-x",
            f".data.tmp-{dead}.x", f".data.tmp-{dead}-abc123.keep"]  # fmt: skip
    stale = [f".data.tmp-{dead}-abc123", f".data.old-{dead}-0f0f"]
    for name in keep + stale:
        (tmp_path / name).mkdir()
        (tmp_path / name / "f").write_text("x")
    (tmp_path / f".data.tmp-{dead}-file1").write_text("stale file")
    with atomic_directory(final, replaces=lambda folder: True) as tmp:
        (tmp / "new").write_text("new")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(keep + ["data"])
    # the same for single files
    (tmp_path / f".cache.npy.tmp-{dead}-zz9").write_bytes(b"half")
    (tmp_path / f".cache.npy.tmp-{alive}-zz9").write_bytes(b"in use")
    with atomic_file(tmp_path / "cache.npy", "wb") as handle:
        handle.write(b"done")
    assert not (tmp_path / f".cache.npy.tmp-{dead}-zz9").exists()
    assert (tmp_path / f".cache.npy.tmp-{alive}-zz9").exists()
    assert (tmp_path / "cache.npy").read_bytes() == b"done"


def test_a_swap_killed_half_way_gets_the_previous_output_back(tmp_path):
    moved_aside = tmp_path / f".data.old-{dead_pid()}-1a2b"
    moved_aside.mkdir()
    (moved_aside / "previous").write_text("v1")
    assert remove_stale_temporaries(tmp_path / "data") == []  # put back, not removed
    assert (tmp_path / "data" / "previous").read_text() == "v1"
    assert [p.name for p in tmp_path.iterdir()] == ["data"]


def test_signals_wait_until_a_swap_is_complete():
    steps = []
    with pytest.raises(KeyboardInterrupt):
        with _signals_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            for k in range(1000):  # many bytecodes: an undeferred SIGINT would interrupt these
                steps.append(k)
    assert len(steps) == 1000


# --------------------------------------------------------------------- 2. kills and interrupts


def start(args: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "dataset_conversion", *args], cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip


def wait_for_temporary(process: subprocess.Popen, folder: Path, prefix: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not list(folder.glob(f"{prefix}.tmp-*")):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the command never started writing"
        time.sleep(0.002)


@pytest.mark.parametrize("signum, code, line",
                         [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")])  # fmt: skip
def test_synth_killed_politely_exits_with_one_line_and_leaves_the_old_output(tmp_path, signum, code, line):
    raw = tmp_path / "raw"
    generate_raw_dataset(raw, seed=5, n_videos=2, n_items=60)
    before = snapshot(raw)
    process = start(["synth", "--raw", str(raw), "--videos", "3000"], tmp_path)
    wait_for_temporary(process, tmp_path, ".raw")
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert process.returncode == code and err == f"{line}\n"
    assert temporaries(tmp_path) == [] and snapshot(raw) == before


@pytest.fixture
def long_raw(tiny_raw_factory):
    """Tiny raw data with long videos: a conversion that spends a second or so writing its output."""
    return tiny_raw_factory(frames=6000)


def test_convert_sigterm_while_writing_keeps_the_previous_dataset(long_raw, tmp_path, text_cache_dir):
    out = tmp_path / "out"
    args = ["convert", "--raw", str(long_raw), "--out", str(out), "--name", "d", "--quiet",
            "--cache-dir", str(text_cache_dir)]  # fmt: skip
    assert main(args + ["--window", "500", "--step", "500"]) == 0  # a previous, different output
    before = snapshot(out)
    process = start(args, tmp_path)
    wait_for_temporary(process, out, ".d")
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143 and err == "terminated\n"
    assert temporaries(out) == [] and snapshot(out) == before


def test_convert_kill_9_leaves_a_temporary_that_the_next_run_removes(long_raw, tmp_path, text_cache_dir):
    out = tmp_path / "out"
    args = ["convert", "--raw", str(long_raw), "--out", str(out), "--name", "d", "--quiet",
            "--cache-dir", str(text_cache_dir)]  # fmt: skip
    process = start(args, tmp_path)
    wait_for_temporary(process, out, ".d")
    process.kill()
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    left = temporaries(out)
    assert len(left) == 1 and left[0].startswith(f".d.tmp-{process.pid}-")
    assert main(args) == 0
    assert temporaries(out) == [] and sorted(p.name for p in out.iterdir()) == ["d"]
    assert written_by_convert("d")(out / "d")


# --------------------------------------------------------------- 3. usage errors: one line, exit 2


USAGE_ERRORS = {
    "convert": [
        (["--seed", "-5"], "--seed"), (["--seed", "abc"], "--seed"), (["--window", "0"], "--window"),
        (["--step", "abc"], "--step"), (["--window", "1.5"], "--window"), (["--pca-dim", "0"], "--pca-dim"),
        (["--level", "nope"], "--level"), (["--split-protocol", "x"], "--split-protocol"),
        (["--cat-name", "c"], "--cat-name"), (["--raw", ""], "--raw"), (["--cache-dir", ""], "--cache-dir"),
    ],
    "synth": [
        (["--seed", "-1"], "--seed"), (["--seed", "1e3"], "--seed"), (["--items", "1"], "--items"),
        (["--videos", "100000", "--items", "5"], "--videos"), (["--videos", "3", "--items", "5"], "--items"),
        (["--videos", "0"], "--videos"), (["--items", "1000000"], "--items"), (["--window", "0"], "--window"),
        (["--window", "99999999999999999999"], "--window"), (["--step", "abc"], "--step"), (["--raw", ""], "--raw"),
    ],
    "extract-poses": [(["--workers", "0"], "--workers"), (["--workers", "x"], "--workers"), (["--raw", ""], "--raw")],
}


@pytest.mark.parametrize("command, extra, argument",
                         [(c, e, a) for c, cases in USAGE_ERRORS.items() for e, a in cases])  # fmt: skip
def test_usage_errors_are_one_line_naming_the_argument(tmp_path, capsys, command, extra, argument):
    base = {
        "convert": ["--raw", str(tmp_path / "raw"), "--out", str(tmp_path / "out"), "--name", "d"],
        "synth": ["--raw", str(tmp_path / "raw")],
        "extract-poses": ["--videos", str(tmp_path), "--raw", str(tmp_path / "raw")],
    }[command]
    assert main([command, *base, *extra]) == 2
    one_error_line(capsys, f"argument {argument}")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv, expected", [
    (["convert", "--raw", "r", "--name", "d"], "required: --out"),
    (["synth"], "required: --raw"),
    (["extract-poses", "--raw", "r"], "required: --videos"),
    (["nosuchcommand"], "invalid choice"),
    ([], "required: command"),
])  # fmt: skip
def test_missing_options_and_commands_are_one_line(capsys, argv, expected):
    assert main(argv) == 2
    one_error_line(capsys, expected)


def test_extract_poses_paths_that_are_not_folders(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    assert main(["extract-poses", "--videos", str(tmp_path / "file"), "--raw", str(tmp_path / "raw")]) == 2
    one_error_line(capsys, "file", "not a directory")
    assert main(["extract-poses", "--videos", str(tmp_path / "missing"), "--raw", str(tmp_path / "raw")]) == 2
    one_error_line(capsys, "missing", "not found")
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "a.mp4").write_bytes(b"x")
    assert main(["extract-poses", "--videos", str(tmp_path / "videos"), "--raw", str(tmp_path / "file")]) == 2
    one_error_line(capsys, "file", "not a directory")
    assert (tmp_path / "file").read_text() == "x"


@pytest.mark.parametrize("n_videos", [1, 3, 14])
def test_the_minimum_number_of_items_is_exactly_what_the_generator_needs(tmp_path, capsys, n_videos):
    low = minimum_items(0, n_videos)
    raw = tmp_path / "raw"
    assert main(["synth", "--raw", str(raw), "--videos", str(n_videos), "--items", str(low - 1)]) == 2
    one_error_line(capsys, "--items", f"at least {low} items")
    assert not raw.exists()
    assert main(["synth", "--raw", str(raw), "--videos", str(n_videos), "--items", str(low)]) == 0
    assert is_synth_output(raw)


def test_check_replaceable_is_what_the_commands_check_first(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "y").write_text("")
    with pytest.raises(DataError, match="not written by this command"):
        check_replaceable(tmp_path / "x", written_by_convert("x"))
    assert check_replaceable(tmp_path / "new", written_by_convert("new")) == tmp_path / "new"
