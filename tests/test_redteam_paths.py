"""Issue #10, red-team findings 11-19: YAML alias bombs, outputs that are not ours to replace, signals during
start-up, NUL bytes in raw CSV files. Every hostile file is built inside ``tmp_path``."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dataset_conversion.__main__ import main as dataset_main
from dataset_conversion.atomic import atomic_file, atomic_save_figure, check_figure_path, check_replaceable_file
from dataset_conversion.entrypoint import run_main
from dataset_conversion.errors import DataError
from recbole_poserec.__main__ import main as recbole_main
from cli_assertions import assert_one_error_line

REPO_ROOT = Path(__file__).resolve().parents[1]
RELEASE_DIR = (REPO_ROOT / ".." / "shared" / "reference-release").resolve()
needs_release = pytest.mark.skipif(not RELEASE_DIR.is_dir(), reason=f"{RELEASE_DIR} is absent")
PNG = b"\x89PNG\r\n\x1a\n"


def one_error_line(capsys, *expected: str) -> str:
    return assert_one_error_line(capsys.readouterr().err, *expected)


def temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".tmp-" in p.name)


# ------------------------------------------------------------------------ 11. config files


BILLION_LAUGHS = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n' + "".join(
    f"{b}: &{b} [{','.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi"))


@pytest.mark.parametrize("text, expected", [
    (BILLION_LAUGHS, "YAML aliases (*a) are not allowed"),
    ("epochs: &n 3\nstopping_step: *n\n", "line 2, column 16: YAML aliases (*n)"),
    ("a: " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
    ("# padding\n" * 110_000, "larger than 1024 KiB"),
])  # fmt: skip
def test_hostile_config_files_are_refused_quickly(tmp_path, capsys, text, expected):
    config = tmp_path / "settings.yaml"
    config.write_text(text)
    start = time.perf_counter()
    code = run_main(recbole_main, ["--model=PoseRec", "--dataset=pose-obe", f"--config_files={config}"])
    assert time.perf_counter() - start < 20
    assert code == 2
    one_error_line(capsys, str(config), expected)


# ------------------------------------------------------------- 12-14. what a file output may replace


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def symlink_to_notes(path: Path) -> Path:
    (path.parent / "target.txt").write_text("someone's notes")
    path.symlink_to(path.parent / "target.txt")
    return path


def notes(path: Path) -> Path:
    path.write_text("my notes")
    return path


def directory(path: Path) -> Path:
    path.mkdir()
    return path


@pytest.mark.parametrize("make, expected", [
    (fifo, "is not a regular file"),
    (symlink_to_notes, "is a symbolic link"),
    (directory, "is a directory"),
])  # fmt: skip
def test_atomic_file_refuses_what_is_not_a_regular_file_before_any_temporary(tmp_path, make, expected):
    target = make(tmp_path / "out.bin")
    before = target.lstat()
    with pytest.raises(DataError, match=expected):
        with atomic_file(target, "wb") as handle:
            handle.write(b"never")
    assert temporaries(tmp_path) == []
    after = target.lstat()
    assert stat.S_IFMT(after.st_mode) == stat.S_IFMT(before.st_mode) and after.st_ino == before.st_ino
    if target.is_symlink():
        assert (tmp_path / "target.txt").read_text() == "someone's notes"


def test_a_device_is_refused_without_writing_to_it():
    with pytest.raises(DataError, match="is not a regular file"):
        check_replaceable_file("/dev/null")
    with pytest.raises(DataError, match="is not a regular file"):
        check_figure_path("/dev/null")
    assert stat.S_ISCHR(os.lstat("/dev/null").st_mode)


def test_an_empty_path_is_refused():
    with pytest.raises(DataError, match="empty"):
        check_replaceable_file("")


def test_a_file_that_appears_during_the_write_is_not_replaced(tmp_path):
    target = tmp_path / "figure.png"
    with pytest.raises(DataError, match="is not a PNG"):
        with atomic_file(target, "wb", replaces=lambda p: p.read_bytes().startswith(PNG),
                         not_ours="exists and is not a PNG") as handle:  # fmt: skip
            handle.write(PNG)
            target.write_text("written meanwhile by someone else")
    assert target.read_text() == "written meanwhile by someone else"
    assert temporaries(tmp_path) == []


def small_figure():
    from matplotlib.figure import Figure

    figure = Figure(figsize=(1, 1))
    figure.add_subplot().plot([0, 1], [1, 0])
    return figure


def test_a_figure_replaces_only_a_figure_of_its_format(tmp_path):
    notes, old_png = tmp_path / "notes.png", tmp_path / "old.png"
    notes.write_text("not a picture")
    old_png.write_bytes(PNG + b"an earlier figure")
    with pytest.raises(DataError, match="exists and is not a PNG; choose another name or remove it"):
        atomic_save_figure(small_figure(), notes)
    assert notes.read_text() == "not a picture"
    atomic_save_figure(small_figure(), old_png)
    assert old_png.read_bytes().startswith(PNG) and len(old_png.read_bytes()) > 200
    with pytest.raises(DataError, match="is not a PDF"):
        atomic_save_figure(small_figure(), old_png, format="pdf")
    assert temporaries(tmp_path) == []


def recommend_with_plot(capsys, plot: str) -> tuple[int, str, str]:
    from recbole_poserec.recommend import main as recommend_main

    code = recommend_main(["--poses", str(RELEASE_DIR / "sample.pkl"), "--reference-release", str(RELEASE_DIR),
                           "--plot", plot])  # fmt: skip
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@needs_release
@pytest.mark.parametrize("make, expected", [
    (notes, "exists and is not a PNG; choose another name or remove it"),
    (symlink_to_notes, "is a symbolic link"),
    (fifo, "is not a regular file"),
])  # fmt: skip
def test_recommend_plot_never_replaces_what_it_did_not_write(tmp_path, capsys, make, expected):
    target = make(tmp_path / "notes.txt")
    before = target.lstat()
    code, out, err = recommend_with_plot(capsys, str(target))
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0] and str(target) in lines[0], err
    after = target.lstat()
    assert stat.S_IFMT(after.st_mode) == stat.S_IFMT(before.st_mode) and after.st_ino == before.st_ino
    if stat.S_ISREG(after.st_mode) and not target.is_symlink():
        assert target.read_text() == "my notes"
    assert temporaries(tmp_path) == []


def test_recommend_plot_empty_is_a_usage_error(capsys):
    from recbole_poserec.recommend import main as recommend_main

    code = recommend_main(["--poses", "x.npy", "--reference-release", "rel", "--plot", ""])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: argument --plot: expected a path") and len(err.strip().splitlines()) == 1


# ---------------------------------------------------------------- 15-17. signals during start-up


def signal_during_imports(argv: list[str], signum: int) -> tuple[int, list[str]]:
    """Run ``python -X importtime argv`` and send ``signum`` as soon as a module is imported after
    :mod:`dataset_conversion.entrypoint` (whose import is followed by the handlers' installation, then the
    command's heavy imports). Returns the exit code and stderr without the import-time lines."""
    process = subprocess.Popen([sys.executable, "-X", "importtime", *argv], cwd=REPO_ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)  # fmt: skip
    lines, entrypoint_imported = [], False
    try:
        for line in process.stderr:
            lines.append(line)
            if line.startswith("import time:"):
                if entrypoint_imported:
                    process.send_signal(signum)
                    break
                entrypoint_imported = line.split("|")[-1].strip() == "dataset_conversion.entrypoint"
        rest = process.communicate(timeout=90)[1]  # bounded: a process that outlives the signal fails the test
        lines += rest.splitlines(True)
        code = process.returncode
    finally:
        process.kill()
        process.wait()
    return code, [line.rstrip() for line in lines if not line.startswith("import time:")]


@pytest.mark.parametrize("argv, signum, code, line", [
    (["-m", "recbole_poserec.recommend", "--help"], signal.SIGINT, 130, "interrupted"),
    (["run_recbole.py", "--model=PoseRec", "--dataset=no-such-dataset"], signal.SIGTERM, 143, "terminated"),
    (["-m", "recbole_poserec", "--model=PoseRec", "--dataset=no-such-dataset"], signal.SIGINT, 130, "interrupted"),
    (["-m", "dataset_conversion", "synth", "--raw", "{tmp}/never-written"], signal.SIGTERM, 143, "terminated"),
])  # fmt: skip
def test_a_signal_during_the_start_up_imports_is_one_line(tmp_path, argv, signum, code, line):
    exit_code, stderr = signal_during_imports([arg.format(tmp=tmp_path) for arg in argv], signum)
    assert (exit_code, stderr) == (code, [line])
    assert list(tmp_path.iterdir()) == []


def test_an_imported_command_module_leaves_ctrl_c_to_the_importer():
    """Imported as a library (tests, notebooks), a command module's start-up handlers do what Python's
    default would once its import is done: SIGINT raises KeyboardInterrupt, SIGTERM still kills."""
    program = ("import os, signal, recbole_poserec.recommend\n"
               "try:\n    os.kill(os.getpid(), signal.SIGINT)\n    import time; time.sleep(5)\n"
               "except KeyboardInterrupt:\n    print('caught')\n"
               "os.kill(os.getpid(), signal.SIGTERM)\n")  # fmt: skip
    result = subprocess.run([sys.executable, "-c", program], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=120)  # fmt: skip
    assert result.stdout.strip() == "caught"
    assert result.returncode == -signal.SIGTERM, result.stderr


# --------------------------------------------------------------------------- 18-19. NUL bytes


def _nul_in_item_name(tables):
    tables["items"][2][1] = "ap\x00ron"


def _nul_in_video_category(tables):
    tables["videos"][4][1] = "a\x00rt"


@pytest.mark.parametrize("edit, file, row, field", [
    (_nul_in_item_name, "items.csv", 3, "name"),
    (_nul_in_video_category, "videos.csv", 5, "category"),
])  # fmt: skip
def test_a_nul_byte_in_a_raw_csv_is_one_line_naming_row_and_field(tiny_raw_factory, tmp_path, text_cache_dir,
                                                                 capsys, edit, file, row, field):  # fmt: skip
    from tests.conftest import ITEM_COLUMNS, VIDEO_COLUMNS

    assert field in (ITEM_COLUMNS if file == "items.csv" else VIDEO_COLUMNS)
    raw = tiny_raw_factory(edit)
    code = dataset_main(["convert", "--raw", str(raw), "--out", str(tmp_path / "out"), "--name", "d", "--quiet",
                         "--cache-dir", str(text_cache_dir)])  # fmt: skip
    assert code == 2
    one_error_line(capsys, str(raw / file), f"row {row}", f"field '{field}'", "NUL byte")
    assert not (tmp_path / "out" / "d").exists()


def test_a_nul_byte_in_a_csv_header_or_an_unparsable_file_is_named(tmp_path):
    from dataset_conversion.raw_reader import read_csv_strict

    header = tmp_path / "header.csv"
    header.write_bytes(b"id,na\x00me\n1,x\n")
    with pytest.raises(DataError, match="NUL byte") as caught:
        read_csv_strict(header, ("id",))
    assert "row 0" in str(caught.value) and "na\\x00me" in str(caught.value)
    ragged = tmp_path / "ragged.csv"
    ragged.write_bytes(b'id,name\n1,x\n2,"y\n3,z\x00\n')
    with pytest.raises(DataError, match=r"line 4 contains a NUL byte"):
        read_csv_strict(ragged, ("id",))
