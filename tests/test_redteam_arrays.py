"""Red-team findings 1-10 of issue #10: hostile array files, degenerate releases and checkpoints.

Each hostile file is built here (tmp_path). Every case must end in one ``error: ...`` line naming the
file, exit 2, no traceback, no warning, no crash: malformed ``.npy`` headers (the one loader,
:func:`dataset_conversion.npy_files.load_npy`, for convert, recommend and the release), pickled dtypes
whose state numpy would apply unchecked, zero item vectors in a release, architecture settings that
build no network, torch's warnings on a plain pickle, catalogues too small to map.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from dataset_conversion.__main__ import main as dataset_main
from dataset_conversion.errors import DataError
from dataset_conversion.npy_files import load_npy
from recbole_poserec.checkpoint import save_checkpoint
from dataset_conversion.array_files import PICKLED_DTYPE_SPECS, load_numpy_pickle
from recbole_poserec.inference.reference_release import (
    ITEM_FEATURE_FILE,
    ITEM_NAMES_FILE,
    PROTOTYPE_WEIGHTS_FILE,
    VIDEO_SIDE_FILE,
    load_reference_release,
)
from recbole_poserec.model.network import PoseRecNetwork, check_architecture
from recbole_poserec.model.stgcn import STGCN
from recbole_poserec.plot_items import main as plot_items_main
from recbole_poserec.recommend import main as recommend_main
from cli_assertions import assert_one_error_line

REPO_ROOT = Path(__file__).resolve().parents[1]
SMALL_CONFIG = {"gcn_layers": 1, "num_prototypes": 2, "embedding_size": 32, "temporal_kernel": 3, "dropout": 0.0,
                "pose_input_channels": [0, 1, 2, 3], "item_bias": "none"}


def one_line_error(code: int, stderr: str, *names: str) -> str:
    assert code == 2, stderr
    return assert_one_error_line(stderr, *names)


def run_quietly(capsys, main, *argv) -> tuple[int, str, str]:
    """``main(argv)`` in-process; any warning raised on the way fails the test (it would be stderr noise)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    assert not caught, [str(w.message) for w in caught]
    return code, captured.out, captured.err


def npy_bytes(header: bytes, version: bytes = b"\x01\x00", data: bytes = b"") -> bytes:
    """A .npy file with this header text (padded as numpy pads it) and data."""
    header = header + b" " * (63 - len(header) % 64) + b"\n"
    size = len(header).to_bytes(2 if version == b"\x01\x00" else 4, "little")
    return b"\x93NUMPY" + version + size + header + data


# The red team's header (finding 1) and its relatives: each makes numpy raise something else.
BAD_NPY = {
    "unterminated-tuple": npy_bytes(b"{'descr': ('<f4', "),  # tokenize.TokenError
    "not-a-literal": npy_bytes(b"{'descr': f4, 'fortran_order': False, 'shape': (2,)}"),  # ValueError (ast)
    "not-a-dict": npy_bytes(b"[1, 2, 3]"),
    "missing-keys": npy_bytes(b"{'descr': '<f4'}"),
    "unknown-descr": npy_bytes(b"{'descr': 'zz9', 'fortran_order': False, 'shape': (2,)}"),
    "negative-shape": npy_bytes(b"{'descr': '<f4', 'fortran_order': False, 'shape': (-5,)}"),
    "shape-beyond-data": npy_bytes(b"{'descr': '<f4', 'fortran_order': False, 'shape': (10**12, 33, 4)}"),
    "header-length-beyond-file": b"\x93NUMPY\x01\x00\xff\xff{'descr'",
    "bad-version": b"\x93NUMPY\x09\x00" + b"\x00" * 100,
    "bare-magic": b"\x93NUM",
    "empty": b"",
    "a-pickle": pickle.dumps(np.zeros(3, np.float32)),
}


@pytest.mark.parametrize("case", sorted(BAD_NPY))
def test_the_one_npy_loader_refuses_every_malformed_file_in_one_line(tmp_path, case):
    path = tmp_path / f"{case}.npy"
    path.write_bytes(BAD_NPY[case])
    with pytest.raises(DataError) as error:
        load_npy(path, "pose file")
    message = str(error.value)
    assert str(path) in message and "\n" not in message and len(message) < 400, message


def test_the_one_npy_loader_refuses_an_npz_a_directory_and_a_missing_file(tmp_path):
    archive = tmp_path / "archive.npy"
    with open(archive, "wb") as handle:
        np.savez(handle, a=np.zeros(3))
    (tmp_path / "dir.npy").mkdir()
    for path, words in ((archive, "archive"), (tmp_path / "dir.npy", "not a regular file"),
                        (tmp_path / "none.npy", "pose file not found")):
        with pytest.raises(DataError, match=words):
            load_npy(path, "pose file")


def test_the_one_npy_loader_memory_maps_a_good_file(tmp_path):
    path = tmp_path / "good.npy"
    np.save(path, np.arange(12, dtype=np.float32).reshape(3, 4))
    array = load_npy(path)
    assert isinstance(array, np.memmap) and array.shape == (3, 4) and float(array[2, 3]) == 11.0


def test_convert_refuses_a_pose_file_with_a_malformed_header(tiny_raw_factory, tmp_path, capsys):
    raw = tiny_raw_factory()
    pose_file = sorted((raw / "poses").glob("*.npy"))[0]
    pose_file.write_bytes(BAD_NPY["unterminated-tuple"])
    out = tmp_path / "out"
    code, _, err = run_quietly(capsys, dataset_main, "convert", "--raw", raw, "--out", out, "--name", "tiny")
    one_line_error(code, err, str(pose_file), "not a plain .npy array")
    assert not out.exists() or not any(out.iterdir())


def test_recommend_refuses_poses_with_a_malformed_header(tmp_path, capsys):
    release = write_release(tmp_path / "release")
    poses = tmp_path / "poses.npy"
    poses.write_bytes(BAD_NPY["unterminated-tuple"])
    code, out, err = run_quietly(capsys, recommend_main, "--poses", poses, "--reference-release", release)
    one_line_error(code, err, str(poses))
    assert out == ""


# ------------------------------------------------------------------------------ a synthetic release


def write_release(directory: Path, item_features: list | None = None, n_items: int = 12) -> Path:
    """A reference release of a default (untrained) ST-GCN and ``n_items`` random items, K = 4 x d = 64."""
    directory.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(STGCN().state_dict(), directory / VIDEO_SIDE_FILE)
    rng = np.random.default_rng(0)
    if item_features is None:
        item_features = [rng.normal(size=(n_items, 64)).astype(np.float32) for _ in range(4)]
    n_items = len(item_features[0])
    (directory / ITEM_FEATURE_FILE).write_bytes(pickle.dumps(item_features, protocol=2))
    np.save(directory / PROTOTYPE_WEIGHTS_FILE, rng.dirichlet(np.ones(4), size=n_items).astype(np.float32))
    (directory / ITEM_NAMES_FILE).write_text("".join(f"item {i}\n" for i in range(n_items)))
    return directory


def test_a_release_with_a_malformed_prototype_header_is_refused(tmp_path, capsys):
    release = write_release(tmp_path / "release")
    (release / PROTOTYPE_WEIGHTS_FILE).write_bytes(BAD_NPY["unterminated-tuple"])
    code, _, err = run_quietly(capsys, plot_items_main, "--reference-release", release, "--out", tmp_path / "p.png")
    one_line_error(code, err, PROTOTYPE_WEIGHTS_FILE)
    assert not (tmp_path / "p.png").exists()


def test_a_release_item_of_zero_norm_is_refused_naming_item_and_chunk(tmp_path, capsys):
    rng = np.random.default_rng(1)
    features = [rng.normal(size=(12, 64)).astype(np.float32) for _ in range(4)]
    features[2][5] = 0.0
    release = write_release(tmp_path / "release", features)
    with pytest.raises(DataError, match=r"item_feature\[2\]: item 5 is a zero vector"):
        load_reference_release(release)
    poses = tmp_path / "poses.npy"
    np.save(poses, rng.random((30, 33, 4), dtype=np.float32))
    code, out, err = run_quietly(capsys, recommend_main, "--poses", poses, "--reference-release", release)
    one_line_error(code, err, ITEM_FEATURE_FILE, "item 5")
    assert out == ""


def test_plot_items_on_an_all_zero_release_is_one_line_not_a_crash(tmp_path):
    """The red team's release: the same zero (221, 64) array four times (sklearn warnings, then SIGSEGV)."""
    zeros = np.zeros((221, 64), np.float32)
    release = write_release(tmp_path / "release", [zeros] * 4)
    out = tmp_path / "z.png"
    result = subprocess.run([sys.executable, "-m", "recbole_poserec.plot_items", "--reference-release", str(release),
                             "--out", str(out)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    one_line_error(result.returncode, result.stderr, ITEM_FEATURE_FILE, "item 0", "zero vector")
    assert not out.exists()


def test_release_chunks_are_unit_vectors_even_at_float32_extremes(tmp_path):
    rng = np.random.default_rng(2)
    features = [rng.normal(size=(6, 64)).astype(np.float32) for _ in range(4)]
    features[0][0] = np.finfo(np.float32).max  # its float32 norm overflows to inf
    features[1][1] = np.finfo(np.float32).smallest_subnormal  # its float32 norm underflows
    release = load_reference_release(write_release(tmp_path / "release", features))
    norms = release.item_chunks.double().norm(dim=-1)
    assert torch.allclose(norms, torch.ones_like(norms), atol=1e-5)


# -------------------------------------------------------------------------------- pickled dtypes


class _DtypeWithState:
    """Pickles as ``numpy.dtype(spec, False, True)`` with the given BUILD state, as a hostile file would."""

    def __init__(self, spec, state):
        self.spec, self.state = spec, state

    def __reduce__(self):
        return np.dtype, (self.spec, False, True), self.state


class _ArrayOf:
    """Pickles as numpy's ``_reconstruct`` of an array of ``itemsize``-byte zeros with a chosen dtype."""

    def __init__(self, dtype, n_bytes: int):
        self.dtype, self.n_bytes = dtype, n_bytes

    def __reduce__(self):
        return (np.core.multiarray._reconstruct, (np.ndarray, (0,), b"b"),
                (1, (1,), self.dtype, False, b"\0" * self.n_bytes))


HOSTILE_DTYPES = {
    # the red team's file (finding 4): a field at offset 1e8 inside an 8-byte void dtype -- SIGSEGV
    "field-beyond-itemsize": (_DtypeWithState("V8", (3, "|", None, ("a",), {"a": (np.dtype("f8"), 100000000)}, 8, 1, 0)), 8),
    "names-on-a-float": (_DtypeWithState("f8", (3, "<", None, ("a",), {"a": (np.dtype("f8"), 0)}, 8, 1, 0)), 8),
    "subarray": (_DtypeWithState("V8", (3, "|", (np.dtype("f8"), (10**8,)), None, None, 8, 1, 0)), 8),
    "elsize-changed": (_DtypeWithState("f8", (3, "<", None, None, None, 10**8, 1, 0)), 8),
    "alignment-changed": (_DtypeWithState("f8", (3, "<", None, None, None, -1, 1, 0)), 8),
    "flags-set": (_DtypeWithState("f8", (3, "<", None, None, None, -1, -1, 63)), 8),
    "state-version-4-metadata": (_DtypeWithState("f8", (4, "<", None, None, None, -1, -1, 0, {"x": 1})), 8),
    "byte-order-on-a-byte": (_DtypeWithState("u1", (3, "<", None, None, None, -1, -1, 0)), 1),
    "no-byte-order-on-a-float": (_DtypeWithState("f4", (3, "|", None, None, None, -1, -1, 0)), 4),
    "object": (np.dtype("O"), 8),
    "unicode": (np.dtype("U2"), 8),
    "datetime": (np.dtype("M8[s]"), 8),
    "void": (np.dtype("V8"), 8),
    "complex": (np.dtype("c8"), 8),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_DTYPES))
def test_a_pickled_dtype_other_than_a_plain_scalar_is_refused_before_numpy_applies_it(tmp_path, case):
    dtype, n_bytes = HOSTILE_DTYPES[case]
    path = tmp_path / f"{case}.pkl"
    path.write_bytes(pickle.dumps(_ArrayOf(dtype, n_bytes), protocol=2))
    with pytest.raises(DataError, match="not a pickle of numpy arrays .*dtype") as error:
        load_numpy_pickle(path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_the_hostile_dtype_through_recommend_poses_and_the_release(tmp_path, capsys):
    hostile = pickle.dumps([_ArrayOf(HOSTILE_DTYPES["field-beyond-itemsize"][0], 8)], protocol=2)
    poses = tmp_path / "poses.pkl"
    poses.write_bytes(hostile)
    release = write_release(tmp_path / "release")
    code, _, err = run_quietly(capsys, recommend_main, "--poses", poses, "--reference-release", release)
    one_line_error(code, err, str(poses), "V8")
    np.save(poses.with_suffix(".npy"), np.random.default_rng(0).random((30, 33, 4), dtype=np.float32))
    (release / ITEM_FEATURE_FILE).write_bytes(hostile)
    code, _, err = run_quietly(capsys, recommend_main, "--poses", poses.with_suffix(".npy"),
                               "--reference-release", release)
    one_line_error(code, err, ITEM_FEATURE_FILE, "V8")


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_every_plain_scalar_dtype_still_round_trips(tmp_path, protocol):
    arrays = [np.arange(6).astype(spec).reshape(2, 3) for spec in sorted(PICKLED_DTYPE_SPECS)]
    arrays += [np.arange(4, dtype=">f4"), np.arange(4, dtype=">i8"), np.asfortranarray(np.eye(3, dtype="f8"))]
    path = tmp_path / "arrays.pkl"
    path.write_bytes(pickle.dumps(arrays, protocol=protocol))
    loaded = load_numpy_pickle(path)
    for before, after in zip(arrays, loaded, strict=True):
        assert after.dtype == before.dtype and after.shape == before.shape and (after == before).all()


# ------------------------------------------------------------------------------------- checkpoints


def write_checkpoint(path: Path, n_items: int = 6, factors: torch.Tensor | None = None, **config) -> Path:
    """A small PoseRec checkpoint as the trainer writes one (no training); ``config`` overrides settings."""
    torch.manual_seed(0)
    factors = torch.randn(n_items + 1, 9, 8) if factors is None else factors
    network = PoseRecNetwork.from_hyper_parameters(factors, SMALL_CONFIG)
    tokens = ["[PAD]"] + [f"item{i}" for i in range(n_items)]
    save_checkpoint(path, {"model": "PoseRec", "dataset": "handmade", "config": SMALL_CONFIG | config,
                           "state_dict": {f"network.{key}": value for key, value in network.state_dict().items()},
                           "catalogue": {"item_tokens": tokens, "item_names": tokens}})
    return path


def poses_file(tmp_path: Path) -> Path:
    path = tmp_path / "poses.npy"
    np.save(path, np.random.default_rng(3).random((30, 33, 4), dtype=np.float32))
    return path


def test_a_checkpoint_with_zero_prototypes_is_one_line_in_recommend_and_plot_items(tmp_path, capsys):
    checkpoint = write_checkpoint(tmp_path / "k0.pth", num_prototypes=0)
    code, _, err = run_quietly(capsys, recommend_main, "--poses", poses_file(tmp_path), "--checkpoint", checkpoint)
    one_line_error(code, err, str(checkpoint), "num_prototypes", "field 'config'")
    code, _, err = run_quietly(capsys, plot_items_main, "--checkpoint", checkpoint, "--out", tmp_path / "p.png")
    one_line_error(code, err, str(checkpoint), "num_prototypes")


BAD_ARCHITECTURES = {
    "num_prototypes": [0, -2, 2.0, True, "4", None],
    "embedding_size": [0, -32, 33, 32.0],
    "gcn_layers": [0, 5, 2.0, True],
    "temporal_kernel": [0, -3, 3.5],
    "dropout": [-0.1, 1, 5, True, "0.1"],
    "pose_input_channels": [[], "xy", {"a": 1}, [0, 0], [4], [-1], [0.0, 1.0]],
    "item_bias": ["learned", True, None, 1],
}


@pytest.mark.parametrize("key,value", [(k, v) for k, values in BAD_ARCHITECTURES.items() for v in values])
def test_architecture_settings_no_network_has_are_a_value_error_naming_the_key(key, value):
    with pytest.raises(ValueError, match=key.split("_")[0]):
        check_architecture(**(SMALL_CONFIG | {key: value}))
    with pytest.raises(ValueError):
        PoseRecNetwork(torch.zeros(3, 9, 8), **(SMALL_CONFIG | {key: value}))


def test_a_configuration_that_does_not_match_the_weights_is_refused_before_allocating(tmp_path, capsys):
    checkpoint = write_checkpoint(tmp_path / "huge.pth", embedding_size=2**40)  # 1 PiB of weights if built
    code, _, err = run_quietly(capsys, recommend_main, "--poses", poses_file(tmp_path), "--checkpoint", checkpoint)
    line = one_line_error(code, err, str(checkpoint), "field 'state_dict'")
    assert "allocate" not in line and "configuration needs" in line


def test_a_plain_pickle_as_checkpoint_is_one_line_without_torch_warnings(tmp_path):
    """torch warns "Detected pickle protocol 4" on stderr: silenced in the checkpoint loader."""
    plain = tmp_path / "plain.pkl"
    plain.write_bytes(pickle.dumps({"state_dict": {"a": 1}}, protocol=4))
    result = subprocess.run([sys.executable, "-m", "recbole_poserec.recommend", "--poses", str(poses_file(tmp_path)),
                             "--checkpoint", str(plain)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    one_line_error(result.returncode, result.stderr, str(plain), "cannot load as a weights-only checkpoint")


# ------------------------------------------------------------------------------ maps of few items


def test_plot_items_refuses_a_one_item_catalogue_saying_the_minimum(tmp_path, capsys):
    checkpoint = write_checkpoint(tmp_path / "one.pth", n_items=1)
    out = tmp_path / "one.png"
    code, _, err = run_quietly(capsys, plot_items_main, "--checkpoint", checkpoint, "--out", out)
    one_line_error(code, err, str(checkpoint), "at least 2 distinct items")
    assert not out.exists()


def test_plot_items_refuses_a_catalogue_of_identical_items(tmp_path):
    """Ten items whose factors are all zero, so exactly the same vectors: a map has no layout (was exit 0)."""
    checkpoint = write_checkpoint(tmp_path / "same.pth", n_items=10, factors=torch.zeros(11, 9, 8))
    out = tmp_path / "same.png"
    result = subprocess.run([sys.executable, "-m", "recbole_poserec.plot_items", "--checkpoint", str(checkpoint),
                             "--out", str(out)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    one_line_error(result.returncode, result.stderr, str(checkpoint), "at least 2 distinct items")
    assert not out.exists()


@pytest.mark.parametrize("n_items", [2, 3])
def test_plot_items_maps_two_or_three_items_silently(tmp_path, capsys, n_items):
    checkpoint = write_checkpoint(tmp_path / "few.pth", n_items=n_items)
    out = tmp_path / "few.png"
    code, stdout, err = run_quietly(capsys, plot_items_main, "--checkpoint", checkpoint, "--out", out)
    assert (code, err) == (0, "") and out.read_bytes()[:4] == b"\x89PNG" and str(out) in stdout


def test_tsne_of_identical_points_is_refused_not_run():
    """sklearn's t-SNE of ten rows of ones divides by zero in its PCA initialisation, then SIGSEGVs."""
    from recbole_poserec.plot_items import tsne_2d

    with pytest.raises(ValueError, match="at least 2 distinct"):
        tsne_2d(np.ones((10, 8), np.float32))
