"""Bad input for the plug-in's commands (issue #10): run_recbole.py, recommend, plot_items, the unpickler.

Every case ends in one ``error: ...`` line naming the argument or file, exit code 2 (130/143 for
signals), no traceback, and no output file. run_recbole.py's checks all fail before a dataset is
loaded, so none of these tests trains. The reference-release cases read the authors' files in place
and are skipped when ``../shared/reference-release`` is absent.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import pickle
import signal
import struct
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import torch

from dataset_conversion.entrypoint import EXIT_DATA_ERROR, EXIT_INTERRUPTED, EXIT_TERMINATED, run_main
from dataset_conversion.errors import DataError
from dataset_conversion import array_files
from recbole_poserec.inference import reference_release
from recbole_poserec.config import Config
from recbole_poserec.quick_start import run_recbole
from recbole_poserec.recommend import main as recommend_main
from dataset_conversion.array_files import NumpyOnlyUnpickler, load_numpy_pickle
from cli_assertions import assert_one_error_line

REPO = Path(__file__).resolve().parents[1]
RELEASE_DIR = (REPO / ".." / "shared" / "reference-release").resolve()
SAMPLE = RELEASE_DIR / "sample.pkl"
needs_release = pytest.mark.skipif(not RELEASE_DIR.is_dir(), reason=f"{RELEASE_DIR} is absent")


def assert_one_line_error(code: int, stderr: str, *names: str, expected_code: int = EXIT_DATA_ERROR) -> str:
    assert code == expected_code, stderr
    return assert_one_error_line(stderr, *names)


# ------------------------------------------------------------------------------------ run_recbole.py


def _run_recbole_module():
    spec = importlib.util.spec_from_file_location("run_recbole_entry", REPO / "run_recbole.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def run_recbole_cli(tmp_path, monkeypatch, capsys):
    """``run_recbole.py argv`` in-process from an empty working directory: (exit code, stdout, stderr)."""
    module = _run_recbole_module()
    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.chdir(workdir)

    def run(*argv):
        started = time.perf_counter()
        code = run_main(module.main, [str(arg) for arg in argv])
        assert time.perf_counter() - started < 20  # refused before any data is loaded
        captured = capsys.readouterr()
        assert not (workdir / "dataset").exists()  # nothing generated, nothing downloaded
        return code, captured.out, captured.err

    return run


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


RUN_RECBOLE_CASES = {
    "unknown model": (["--model=NoSuchModel"], ["--model", "recbole_poserec/model/nosuchmodel.py",
                                                 "recbole.model.general_recommender"]),
    "model name is no identifier": (["--model=../os"], ["--model"]),
    "wrong-case model": (["--model=bpr", "--dataset=typo"], ["--model", "case-sensitive"]),
    "dataset typo": (["--dataset=typo"], ["--dataset", "missing under data_path", "pose-obe, pose-obe-cat"]),
    "dataset path": (["--dataset=../escaped"], ["--dataset", "single directory name"]),
    "learning rate not a number": (["--learning_rate=abc"], ["--learning_rate", "command-line value must have the "
                                                             "type of the setting it overrides", "'abc'"]),
    "epochs not an integer": (["--epochs=2.5"], ["--epochs", "integer"]),
    "boolean as text": (["--show_progress=yes"], ["--show_progress", "boolean"]),
    "dict as number": (["--eval_args=3"], ["--eval_args", "dict"]),
    "list element type": (["--topk=[5,'x']"], ["--topk", "list"]),
    "negative epochs": (["--epochs=-1"], ["--epochs", ">= 1", "-1"]),
    "zero learning rate": (["--learning_rate=0"], ["--learning_rate", "> 0"]),
    "infinite learning rate": (["--learning_rate=1e999"], ["--learning_rate", "finite"]),
    "zero train batch": (["--train_batch_size=0"], ["--train_batch_size", ">= 1"]),
    "negative eval batch": (["--eval_batch_size=-4"], ["--eval_batch_size", ">= 1"]),
    "topk entry zero": (["--topk=[5,0]"], ["--topk", ">= 1"]),
    "stopping step zero": (["--stopping_step=0"], ["--stopping_step", ">= 1"]),
    "eval step zero": (["--eval_step=0"], ["--eval_step", ">= 1"]),
    "negative seed": (["--seed=-1"], ["--seed", "0..4294967295"]),
    "negative worker": (["--worker=-1"], ["--worker", ">= 0"]),
    "gpu id text": (["--gpu_id=abc"], ["--gpu_id", "comma-separated GPU numbers"]),
    "unknown metric": (["--metrics=['Recall','Foo']"], ["--metrics", "unknown metric 'Foo'"]),
    "valid metric not evaluated": (["--valid_metric=MRR@10"], ["--valid_metric", "ndcg@10"]),
    "valid metric k not in topk": (["--topk=[5]"], ["valid_metric", "NDCG@10", "topk [5]"]),
    "same setting twice": (["--epochs=1", "--epochs=2"], ["--epochs", "twice"]),
    "setting without --": (["epochs=3"], ["epochs=3", "--key=value"]),
    "setting without =": (["--epochs", "3"], ["--epochs", "--key=value"]),
    "missing config file": (["--config_files=missing.yaml"], ["missing.yaml", "not found"]),
}


@pytest.mark.parametrize("argv, names", RUN_RECBOLE_CASES.values(), ids=RUN_RECBOLE_CASES.keys())
def test_run_recbole_bad_arguments_are_one_line_errors(run_recbole_cli, argv, names):
    code, out, err = run_recbole_cli(*argv)
    assert_one_line_error(code, err, *names)


def test_run_recbole_bad_config_files_name_the_file_and_field(run_recbole_cli, tmp_path):
    malformed = _write(tmp_path / "malformed.yaml", "epochs: [1\n")
    a_list = _write(tmp_path / "list.yaml", "- epochs\n")
    wrong_type = _write(tmp_path / "types.yaml", "learning_rate: fast\n")
    out_of_range = _write(tmp_path / "range.yaml", "epochs: 0\n")
    directory = tmp_path / "a-directory.yaml"
    directory.mkdir()
    for path, names in ((malformed, ["not valid YAML", "line 2"]), (a_list, ["mapping"]),
                        (wrong_type, ["field 'learning_rate'", "'fast'"]), (out_of_range, ["field 'epochs'", ">= 1"]),
                        (directory, ["not a file"])):
        code, _, err = run_recbole_cli(f"--config_files={path}", "--dataset=typo")
        assert_one_line_error(code, err, str(path), *names)


def test_run_recbole_paths_that_are_files_are_one_line_errors(run_recbole_cli, tmp_path):
    a_file = _write(tmp_path / "a-file", "x")
    code, _, err = run_recbole_cli(f"--data_path={a_file}")  # the default dataset would be generated there
    assert_one_line_error(code, err, "--data_path", "not a directory")
    code, _, err = run_recbole_cli(f"--checkpoint_dir={a_file}/saved", f"--data_path={tmp_path}", "--dataset=typo")
    assert_one_line_error(code, err, "--checkpoint_dir", str(a_file), "not a directory")


def test_run_recbole_dataset_folder_without_its_files(run_recbole_cli, tmp_path):
    (tmp_path / "data" / "half").mkdir(parents=True)
    (tmp_path / "data" / "half" / "half.train.inter").write_text("window_id:token\titem_id:token\n")
    code, _, err = run_recbole_cli("--dataset=half", f"--data_path={tmp_path / 'data'}")
    assert_one_line_error(code, err, "lacks half.inter")  # no benchmark_filename: RecBole reads <dataset>.inter
    code, _, err = run_recbole_cli("--dataset=half", f"--data_path={tmp_path / 'data'}",
                                   f"--config_files={REPO / 'properties' / 'dataset' / 'pose-obe.yaml'}")
    assert_one_line_error(code, err, "lacks half.valid.inter, half.test.inter")


def test_command_line_values_are_literals_never_code(run_recbole_cli, tmp_path):
    marker = tmp_path / "evaluated"
    code, _, err = run_recbole_cli(f"--state=__import__('pathlib').Path({str(marker)!r}).touch()", "--dataset=typo")
    assert_one_line_error(code, err, "--dataset")
    assert not marker.exists()  # RecBole itself would have run it through eval()


def test_run_recbole_in_a_real_subprocess(tmp_path):
    done = subprocess.run([sys.executable, str(REPO / "run_recbole.py"), "--dataset=typo", "--learning_rate=abc"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert_one_line_error(done.returncode, done.stderr, "--learning_rate")
    assert done.stdout == "" and list(tmp_path.iterdir()) == []  # no log/, no dataset/


def test_api_gets_the_same_checks(tmp_path):
    """``run_recbole(config_dict=...)`` refuses before loading data; the message names config_dict and the field."""
    cases = {"epochs": -1, "learning_rate": "abc", "eval_step": 0, "train_batch_size": 1.5, "topk": [0]}
    for key, value in cases.items():
        with pytest.raises(DataError) as caught:
            run_recbole(model="PoseRec", dataset="typo", config_dict={"data_path": str(tmp_path), key: value},
                        command_line=[])
        assert str(caught.value).startswith(f"config_dict, field '{key}': ")
    with pytest.raises(DataError, match="missing under data_path"):
        run_recbole(model="PoseRec", dataset="typo", config_dict={"data_path": str(tmp_path)}, command_line=[])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("model, settings, names", [
    ("PoseKNN", {"knn_weighting": "gaussian"}, ["knn_weighting", "gaussian"]),
    ("PoseRec", {"pose_input_channels": [0, 7]}, ["pose_input_channels", "[0, 7]"]),
    ("NeuMF", {"train_batching": "window", "train_batch_features": False}, ["train_batch_features", "pairwise"]),
])
def test_settings_that_do_not_fit_the_model_or_data_are_one_line_errors(small_dataset_dir, tmp_path, model,
                                                                         settings, names):
    """Checks a model or the batching makes once the data is loaded also end as one DataError, not a traceback."""
    config = {"data_path": str(small_dataset_dir.data_path), "checkpoint_dir": str(tmp_path), "epochs": 1,
              "show_progress": False, **settings}
    with pytest.raises(DataError) as caught:
        run_recbole(model=model, dataset=small_dataset_dir.name, config_dict=config, command_line=[])
    message = str(caught.value)
    assert "\n" not in message and all(name in message for name in names), message


def test_accepted_overrides_keep_their_meaning(tmp_path):
    """An int where a float is expected, None for an unset setting, a single topk, gpu_id as RecBole takes it."""
    config = Config(model="PoseRec", dataset="pose-obe", config_dict={"data_path": str(tmp_path)},
                    command_line=["--learning_rate=1", "--epochs=3", "--topk=10", "--gpu_id=0",
                                  "--train_neg_sample_args=None", "--my_own_setting=abc", "--show_progress=true"])
    assert config["learning_rate"] == 1 and config["epochs"] == 3 and config["topk"] == [10]
    assert config["my_own_setting"] == "abc" and config["show_progress"] is True
    assert config["train_neg_sample_args"]["distribution"] == "none"


# ------------------------------------------------------------------------------ restricted unpickler

PROTO2 = b"\x80\x02"


def _global(module: str, name: str) -> bytes:
    return b"c" + f"{module}\n{name}\n".encode()


def _int(value: int) -> bytes:
    return b"J" + struct.pack("<i", value)


def _shape(*dims: int) -> bytes:
    return b"(" + b"".join(_int(d) for d in dims) + b"t"


def _bytes(data: bytes) -> bytes:  # protocol 3 BINBYTES (the unpickler reads any protocol's opcodes)
    return b"B" + struct.pack("<I", len(data)) + data


def _dtype(spec: str = "f4") -> bytes:
    return _global("numpy", "dtype") + b"(" + b"X" + struct.pack("<I", len(spec)) + spec.encode() + b"\x89\x88tR"


def _reconstruct(base_shape=(0,)) -> bytes:
    return (_global("numpy.core.multiarray", "_reconstruct") + b"(" + _global("numpy", "ndarray")
            + _shape(*base_shape) + _bytes(b"b") + b"tR")


def _array_state(shape, data: bytes, dtype: bytes = None) -> bytes:
    return b"(" + _int(1) + _shape(*shape) + (dtype or _dtype()) + b"\x89" + _bytes(data) + b"tb"


def _unpickle_quietly(tmp_path: Path, payload: bytes):
    """load_numpy_pickle on ``payload``: (result or DataError, peak traced bytes, seconds)."""
    path = tmp_path / "payload.pkl"
    path.write_bytes(payload)
    tracemalloc.start()
    started = time.perf_counter()
    try:
        result = load_numpy_pickle(path)
    except DataError as err:
        result = err
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return result, peak, time.perf_counter() - started


BOMBS = {
    "ndarray REDUCE with a huge shape": PROTO2 + _global("numpy", "ndarray") + b"(" + _shape(100000, 100000) + b"tR.",
    "NEWOBJ of ndarray": PROTO2 + _global("numpy", "ndarray") + b"(" + _shape(100000, 100000) + b"t\x81.",
    "BUILD state of a huge shape, tiny data": PROTO2 + _reconstruct() + _array_state((100000, 100000), b"\0" * 4)
    + b".",
    "protocol-5 _frombuffer shorter than its shape": b"\x80\x05" + _global("numpy.core.numeric", "_frombuffer")
    + b"(" + b"\x96" + struct.pack("<Q", 16) + b"\0" * 16 + _dtype() + _shape(100000, 100000) + b"X\x01\0\0\0CtR.",
    "protocol-5 _frombuffer longer than its shape": b"\x80\x05" + _global("numpy._core.numeric", "_frombuffer")
    + b"(" + b"\x96" + struct.pack("<Q", 16) + b"\0" * 16 + _dtype() + _shape(2) + b"X\x01\0\0\0CtR.",
    "bytes opcode claiming a terabyte": b"\x80\x04\x8e" + struct.pack("<Q", 1 << 40) + b"tiny",
    "object dtype": pickle.dumps(np.array([1, 2], dtype=object), protocol=2),
    "huge void dtype": PROTO2 + _reconstruct() + _array_state((1000, 1000), b"", _dtype("V1000000")) + b".",
    "one data block reused by many arrays": PROTO2 + _bytes(b"\0" * 4000) + b"q\x010(" + b"".join(
        _reconstruct() + b"(" + _int(1) + _shape(1000) + _dtype() + b"\x89h\x01tb" for _ in range(60)) + b"l.",
    "objects nested too deeply": PROTO2 + b"(" * 100000 + b"l" * 100000 + b".",
    "array without its data": PROTO2 + _reconstruct() + b".",
}


@pytest.mark.parametrize("payload", BOMBS.values(), ids=BOMBS.keys())
def test_pickle_bombs_are_refused_quickly_with_little_memory(tmp_path, payload):
    result, peak, seconds = _unpickle_quietly(tmp_path, payload)
    assert isinstance(result, DataError), result
    assert len(str(result).splitlines()) == 1 and str(tmp_path) in str(result)
    assert "MemoryError" not in str(result)  # refused by a check, not by the allocator
    assert peak < 50 * 2**20 and seconds < 10


def test_reconstruct_base_shape_is_never_allocated(tmp_path):
    """numpy's own pickles give _reconstruct a (0,) shape; a huge one there must not be allocated."""
    data = np.arange(6, dtype=np.float32).tobytes()
    payload = PROTO2 + _reconstruct(base_shape=(100000, 100000)) + _array_state((2, 3), data) + b"."
    result, peak, _ = _unpickle_quietly(tmp_path, payload)
    assert np.array_equal(result, np.arange(6, dtype=np.float32).reshape(2, 3))
    assert peak < 50 * 2**20


def test_pickle_file_above_the_size_limit_is_refused_unread(tmp_path, monkeypatch):
    path = tmp_path / "large.pkl"
    path.write_bytes(pickle.dumps(np.zeros(1000)))
    monkeypatch.setattr(array_files, "MAX_PICKLE_FILE_BYTES", 1000)
    with pytest.raises(DataError, match="larger than the 1000 bytes"):
        load_numpy_pickle(path)


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_unpickler_round_trips_every_array_kind_numpy_writes(protocol):
    arrays = {"fortran": np.asfortranarray(np.arange(12, dtype=np.float64).reshape(3, 4)),
              "empty": np.zeros((0, 33, 4), np.float32), "ints": np.arange(5, dtype=np.int16),
              "bools": np.array([True, False]), "nested": [(np.ones(2), {"k": np.eye(2, dtype=np.float32)})]}
    loaded = NumpyOnlyUnpickler(io.BytesIO(pickle.dumps(arrays, protocol=protocol))).load()
    for key in ("fortran", "empty", "ints", "bools"):
        assert type(loaded[key]) is np.ndarray and loaded[key].dtype == arrays[key].dtype
        assert np.array_equal(loaded[key], arrays[key]) and loaded[key].flags.writeable
    assert loaded["fortran"].flags.f_contiguous
    assert np.array_equal(loaded["nested"][0][1]["k"], np.eye(2))
    # issue #10: only plain bool/int/float dtypes; numpy would apply a structured dtype's pickled state
    # unchecked (a hostile one crashes the interpreter), and no release or pose file holds one
    for refused in (np.array([(1.5, 2)], dtype=[("a", "<f4"), ("b", "<i2")]), np.array(["hat", "bow"])):
        with pytest.raises(pickle.UnpicklingError, match="refused numpy.dtype"):
            NumpyOnlyUnpickler(io.BytesIO(pickle.dumps(refused, protocol=protocol))).load()


# ----------------------------------------------------------------------------------------- recommend


def run_recommend(capsys, *argv) -> tuple[int, str, str]:
    code = recommend_main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_recommend_usage_and_missing_inputs_exit_2(tmp_path, capsys):
    poses = tmp_path / "poses.npy"
    np.save(poses, np.zeros((30, 33, 4), np.float32))
    for argv, names in ((["--poses", poses, "--reference-release", tmp_path / "none", "--top-k", "abc"], ["--top-k"]),
                        (["--poses", poses, "--reference-release", tmp_path / "none", "--window", "0"], ["--window"]),
                        (["--poses", poses, "--reference-release", tmp_path / "none"], [str(tmp_path / "none")]),
                        (["--poses", poses, "--checkpoint", tmp_path / "none.pth"], ["none.pth"]),
                        (["--poses", poses], ["--checkpoint"])):
        code, out, err = run_recommend(capsys, *argv)
        assert_one_line_error(code, err, *names)
        assert out == ""


def _pose_file(tmp_path: Path, kind: str) -> Path:
    rng = np.random.default_rng(0)
    path = tmp_path / f"{kind}.npy"
    if kind == "int":
        np.save(path, rng.integers(0, 5, (30, 33, 4)))
    elif kind == "bool":
        np.save(path, rng.random((30, 33, 4)) > 0.5)
    elif kind == "beyond-float32":
        poses = rng.random((30, 33, 4))
        poses[4, 2, 1] = 1e300
        np.save(path, poses)
    elif kind == "complex":
        np.save(path, rng.random((30, 33, 4)) + 0j)
    elif kind == "header-claims-more":
        with open(path, "wb") as handle:  # a header for 10^6 frames, data for none
            np.lib.format.write_array_header_1_0(handle, {"descr": "<f4", "fortran_order": False,
                                                         "shape": (10**6, 33, 4)})
    elif kind == "int-pickle":
        path = tmp_path / "int.pkl"
        path.write_bytes(pickle.dumps(rng.integers(0, 5, (3, 10, 33, 4))))
    elif kind == "bomb-pickle":
        path = tmp_path / "bomb.pkl"
        path.write_bytes(BOMBS["ndarray REDUCE with a huge shape"])
    return path


POSE_CASES = {"int": "dtype int64", "bool": "dtype bool", "beyond-float32": "beyond float32's range",
              "complex": "dtype complex128", "header-claims-more": "not a plain .npy",
              "int-pickle": "dtype int64", "bomb-pickle": "refused"}


@needs_release
@pytest.mark.parametrize("kind", POSE_CASES, ids=POSE_CASES.keys())
def test_recommend_poses_follow_the_converters_rule(tmp_path, capsys, kind):
    path = _pose_file(tmp_path, kind)
    code, out, err = run_recommend(capsys, "--poses", path, "--reference-release", RELEASE_DIR)
    line = assert_one_line_error(code, err, str(path), POSE_CASES[kind])
    assert out == "" and "nan" not in line.lower().replace("finite", "")


def _release_with(tmp_path: Path, name: str, write) -> Path:
    release = tmp_path / f"release-{name}"
    release.mkdir()
    for file in reference_release.RELEASE_FILES:
        if file != name:
            (release / file).symlink_to(RELEASE_DIR / file)
    write(release / name)
    return release


def _nan_weight(path: Path):
    state = torch.load(RELEASE_DIR / "best_model_pose.pt", weights_only=True)
    key = next(k for k, v in state.items() if v.is_floating_point() and v.dim() == 2)
    state[key][0, 1] = float("nan")
    torch.save(state, path)
    return key


RELEASE_CASES = {
    "omega with NaN": ("prototype_dis.npy", lambda p: np.save(p, np.full((221, 4), np.nan)), "omega: NaN"),
    "omega of integers": ("prototype_dis.npy", lambda p: np.save(p, np.ones((221, 4), np.int64)), "dtype int64"),
    "item features beyond float32": ("item_feature.pkl", lambda p: p.write_bytes(pickle.dumps(
        [np.full((221, 64), 1e300)] * 4)), "beyond float32's range"),
    "item features of integers": ("item_feature.pkl", lambda p: p.write_bytes(pickle.dumps(
        [np.ones((221, 64), np.int32)] * 4)), "dtype int32"),
    "NaN weight": ("best_model_pose.pt", _nan_weight, "weights must be finite"),
}


@needs_release
@pytest.mark.parametrize("name, write, message", RELEASE_CASES.values(), ids=RELEASE_CASES.keys())
def test_release_arrays_and_weights_must_be_finite_floats(tmp_path, capsys, name, write, message):
    release = _release_with(tmp_path, name, write)
    code, out, err = run_recommend(capsys, "--poses", SAMPLE, "--reference-release", release, "--format", "json")
    assert_one_line_error(code, err, name, message)
    assert out == ""


@needs_release
def test_nan_weight_error_names_the_tensor(tmp_path, capsys):
    key = {}
    release = _release_with(tmp_path, "best_model_pose.pt", lambda p: key.setdefault("name", _nan_weight(p)))
    code, _, err = run_recommend(capsys, "--poses", SAMPLE, "--reference-release", release)
    assert_one_line_error(code, err, f"weight tensor {key['name']} holds nan at index [0, 1]")


@needs_release
def test_json_output_is_strict_rfc_json(capsys):
    code, out, _ = run_recommend(capsys, "--poses", SAMPLE, "--reference-release", RELEASE_DIR, "--format", "json",
                                 "--per-window")
    assert code == 0

    def refuse(constant):
        raise AssertionError(f"{constant} in JSON output")

    result = json.loads(out, parse_constant=refuse)
    assert len(result["windows"]) == 81


@needs_release
@pytest.mark.parametrize("signum, code, line", [(signal.SIGTERM, EXIT_TERMINATED, "terminated"),
                                                (signal.SIGINT, EXIT_INTERRUPTED, "interrupted")])
def test_signal_while_plotting_leaves_no_png(tmp_path, capsys, monkeypatch, signum, code, line):
    """A real signal delivered to the command while matplotlib renders the figure: one line, its exit code, no file."""
    from matplotlib.figure import Figure

    render = Figure.savefig

    def render_then_signal(self, *args, **kwargs):
        render(self, *args, **kwargs)
        signal.raise_signal(signum)

    monkeypatch.setattr(Figure, "savefig", render_then_signal)
    plots = tmp_path / "plots"
    plots.mkdir()
    exit_code, out, err = run_recommend(capsys, "--poses", SAMPLE, "--reference-release", RELEASE_DIR,
                                        "--plot", plots / "out.png")
    assert exit_code == code
    assert err.strip() == line and out == ""
    assert list(plots.iterdir()) == []


@needs_release
def test_reader_that_goes_away_is_no_traceback():
    process = subprocess.Popen([sys.executable, "-m", "recbole_poserec.recommend", "--poses", str(SAMPLE),
                                "--reference-release", str(RELEASE_DIR), "--per-window", "--top-k", "221"],
                               cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.read(100)  # like `| head -c 100`: far less than the ~400 kB table
    process.stdout.close()
    err = process.stderr.read().decode()
    assert process.wait(timeout=120) == 141
    assert err == ""


# ---------------------------------------------------------------------------------------- plot_items


def test_plot_items_bad_usage_exits_2(tmp_path, capsys):
    from recbole_poserec.plot_items import main as plot_items_main

    out = tmp_path / "items.png"
    for argv, names in ((["--annotate", "-1"], ["--annotate"]), (["--seed", "-1"], ["--seed"]),
                        (["--embedding", "other"], ["--embedding"])):
        code = plot_items_main(["--reference-release", str(tmp_path), "--out", str(out), *argv])
        assert_one_line_error(code, capsys.readouterr().err, *names)
    code = plot_items_main(["--reference-release", str(tmp_path / "none"), "--out", str(out)])
    assert_one_line_error(code, capsys.readouterr().err, str(tmp_path / "none"))
    assert not out.exists()


@needs_release
def test_plot_items_unwritable_out_is_one_line_error(tmp_path, capsys):
    from recbole_poserec.plot_items import main as plot_items_main

    blocker = _write(tmp_path / "a-file", "x")
    code = plot_items_main(["--reference-release", str(RELEASE_DIR), "--out", str(blocker / "items.png")])
    assert_one_line_error(code, capsys.readouterr().err, str(blocker))
