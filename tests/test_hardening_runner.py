"""The experiment harness under kills, concurrent sweeps, damaged stores and hostile arguments (issue #10).

Workers are fake (``python=`` of ``run_one`` / ``run_all``: a small script that sleeps or writes a result),
except in the one test that stops a real ``python -m poserec_experiments.benchmark`` while its worker starts.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from dataset_conversion.entrypoint import run_main
from dataset_conversion.errors import DataError
from poserec_experiments import ablate, benchmark
from poserec_experiments import runner, worker
from poserec_experiments.runner import ResultStore, RunBusy, RunFailed, RunLock, RunSpec
from cli_assertions import assert_one_error_line
from conftest import copy_converted

REPO = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
METRICS = {"recall@5": 0.1, "ndcg@5": 0.05, "recall@10": 0.2, "ndcg@10": 0.1, "recall@20": 0.3, "ndcg@20": 0.15}


def make_spec(study="t", variant="Pop", seed=1) -> RunSpec:
    return RunSpec(study=study, level="ins", variant=variant, model=variant, dataset="d", seed=seed, data_path=".")


def stored_result(spec: RunSpec, **changes) -> dict:
    return {"status": "ok", "spec": spec.to_dict(), "key": spec.key, "fingerprint": spec.fingerprint(),
            "test_result": dict(METRICS), "train_seconds": 1.0, "test_seconds": 1.0, "wall_seconds": 3.0,
            "timing": {"train_step_seconds": None, "train_epochs": 1}, "budget": {"epochs": 1}} | changes


def strict_json(path: Path):
    """``path`` parsed as RFC 8259 JSON (a bare NaN / Infinity raises)."""
    def reject(name):
        raise ValueError(f"bare {name} in {path}")

    return json.loads(Path(path).read_text(encoding="utf-8"), parse_constant=reject)


def write_script(path: Path, body: str) -> str:
    """An executable Python script standing in for the worker's interpreter: it is called as
    ``SCRIPT -m poserec_experiments.worker SPEC.json RESULT.json`` in the run directory."""
    path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(body), encoding="utf-8")
    path.chmod(0o755)
    return str(path)


def sleeping_worker(tmp_path: Path, ignore_sigterm=False, grandchild=False) -> str:
    """A worker that records its pid (and a grandchild's) in ``pids.json`` of its run directory, then sleeps."""
    return write_script(tmp_path / "sleeping_worker", f"""
        import json, os, signal, subprocess, time
        if {ignore_sigterm!r}:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        pids = {{"worker": os.getpid()}}
        if {grandchild!r}:
            pids["grandchild"] = subprocess.Popen(["sleep", "60"]).pid
        with open("pids.json.tmp", "w") as handle:
            json.dump(pids, handle)
        os.replace("pids.json.tmp", "pids.json")
        time.sleep(60)
    """)


def result_worker(tmp_path: Path, text: str, name="result_worker") -> str:
    """A worker that writes ``text`` as its RESULT.json (and touches ``ran`` in its run directory)."""
    return write_script(tmp_path / name, f"""
        import sys
        open("ran", "w").close()
        with open(sys.argv[4], "w") as handle:
            handle.write({text!r})
    """)


GOOD_RESULT = json.dumps({"test_result": METRICS, "train_seconds": 1.0, "test_seconds": 0.5, "timing": {}})

DRIVER = """
import sys
from dataset_conversion.entrypoint import run_main
from poserec_experiments import runner

def main(argv):
    work, store, python = argv
    runner.STOP_GRACE_SECONDS = 0.5
    spec = runner.RunSpec(study="t", level="ins", variant="Pop", model="Pop", dataset="d", seed=1, data_path=".")
    summary = runner.run_all([spec], runner.ResultStore(store), work, python=python, progress=False, echo=print)
    return 1 if summary.not_done else 0

sys.exit(run_main(main, sys.argv[1:]))
"""


def start_driver(tmp_path: Path, python: str) -> subprocess.Popen:
    """A sweep of one run (``make_spec()``) with the fake worker ``python``, in its own process."""
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER, encoding="utf-8")
    return subprocess.Popen([sys.executable, str(driver), str(tmp_path / "work"), str(tmp_path / "store"), python],
                            cwd=REPO, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(predicate, seconds=20.0, what="condition"):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def worker_pids(run_dir: Path) -> dict:
    path = run_dir / "pids.json"
    return json.loads(path.read_text()) if path.is_file() else None


def gone(pid: int) -> bool:
    """Whether ``pid`` has ended (absent, or a zombie its new parent has not reaped yet)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


RUN_DIR = ("work", "t", "ins-Pop-seed1")


# ------------------------------------------------------------------------------------ kills


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
def test_worker_dies_when_the_sweep_is_killed_with_sigkill(tmp_path):
    driver = start_driver(tmp_path, sleeping_worker(tmp_path))
    run_dir = tmp_path.joinpath(*RUN_DIR)
    try:
        pid = wait_for(lambda: worker_pids(run_dir), what="the worker")["worker"]
        # the worker holds the run's lock too (inherited descriptor), so the lock outlives the sweep
        assert any(os.path.realpath(f"/proc/{pid}/fd/{fd}") == str(run_dir / "lock")
                   for fd in os.listdir(f"/proc/{pid}/fd"))
        assert f"worker pid {pid}" in (run_dir / "lock").read_text()
        driver.kill()
        driver.wait(10)
        wait_for(lambda: gone(pid), seconds=5, what="the orphaned worker to die")
    finally:
        driver.kill()
        driver.communicate()
    RunLock(run_dir, make_spec()).release()  # free again once both are gone


@pytest.mark.parametrize("signum, code, line", [(signal.SIGTERM, 143, "terminated"),
                                                (signal.SIGINT, 130, "interrupted")])
def test_signal_stops_the_workers_process_group_and_exits_with_one_line(tmp_path, signum, code, line):
    """The worker ignores SIGTERM and has a child of its own: both end before the sweep exits."""
    driver = start_driver(tmp_path, sleeping_worker(tmp_path, ignore_sigterm=True, grandchild=True))
    run_dir = tmp_path.joinpath(*RUN_DIR)
    try:
        pids = wait_for(lambda: worker_pids(run_dir), what="the worker")
        started = time.monotonic()
        driver.send_signal(signum)
        _, stderr = driver.communicate(timeout=20)
    finally:
        driver.kill()
    assert driver.returncode == code
    assert stderr.strip().splitlines() == [line]
    assert time.monotonic() - started < 10
    assert gone(pids["worker"])  # reaped by the sweep itself
    wait_for(lambda: gone(pids["grandchild"]), seconds=5, what="the worker's child")
    assert not (tmp_path / "store").exists() or not list((tmp_path / "store").iterdir())


def test_timeout_stops_the_workers_process_group(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "STOP_GRACE_SECONDS", 0.3)
    python = sleeping_worker(tmp_path, ignore_sigterm=True, grandchild=True)
    with pytest.raises(RunFailed, match="timed out after 1.5 s"):
        runner.run_one(make_spec(), tmp_path / "work", timeout=1.5, python=python)
    pids = worker_pids(tmp_path.joinpath(*RUN_DIR))
    assert gone(pids["worker"])
    wait_for(lambda: gone(pids["grandchild"]), seconds=5, what="the worker's child")


def test_sigterm_of_a_real_benchmark_stops_its_worker(small_dataset_dir, tmp_path):
    work = tmp_path / "work"
    argv = [sys.executable, "-m", "poserec_experiments.benchmark", "--quick", "--models", "Pop", "--levels", "ins",
            "--data-path", str(small_dataset_dir.data_path), "--ins-dataset", small_dataset_dir.name,
            "--out", str(tmp_path / "out"), "--work-dir", str(work), "--no-progress"]
    bench = subprocess.Popen(argv, cwd=tmp_path, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lock = work / "benchmark" / "ins-Pop-seed2022" / "lock"
    try:
        holder = wait_for(lambda: lock.is_file() and "worker pid" in lock.read_text() and lock.read_text(),
                          seconds=60, what="the benchmark's worker")
        bench.send_signal(signal.SIGTERM)
        _, stderr = bench.communicate(timeout=30)
    finally:
        bench.kill()
    assert bench.returncode == 143, stderr
    assert stderr.strip().splitlines()[-1] == "terminated" and "Traceback" not in stderr
    assert gone(int(holder.split("worker pid")[1].strip()))
    assert not (tmp_path / "out" / "runs" / "benchmark" / "ins-Pop-seed2022.json").exists()
    assert not (tmp_path / "out" / "table1.csv").exists()  # nothing half-done is written


# ------------------------------------------------------------------------------------ locks


def test_a_run_locked_by_another_process_is_reported_and_not_run(tmp_path):
    spec, store, messages = make_spec(), ResultStore(tmp_path / "store"), []
    python = result_worker(tmp_path, GOOD_RESULT)
    run_dir = tmp_path.joinpath(*RUN_DIR)
    with RunLock(run_dir, spec):
        summary = runner.run_all([spec], store, tmp_path / "work", progress=False, echo=messages.append,
                                 python=python)
        with pytest.raises(RunBusy, match=f"running in another process \\(pid {os.getpid()}\\)"):
            runner.run_one(spec, tmp_path / "work", python=python)
    assert summary.busy == {spec.key: f"pid {os.getpid()}"} and summary.not_done == [spec.key]
    assert not summary.ran and not (run_dir / "ran").exists() and not store.path(spec).exists()
    assert f"running in another process (pid {os.getpid()})" in messages[0]
    # the lock released: the same sweep runs it now
    summary = runner.run_all([spec], store, tmp_path / "work", progress=False, echo=messages.append, python=python)
    assert summary.ran == [spec.key] and (run_dir / "ran").exists()
    assert strict_json(store.path(spec))["test_result"] == METRICS


def test_a_second_sweep_leaves_the_run_to_the_first(tmp_path):
    first = start_driver(tmp_path, sleeping_worker(tmp_path))
    run_dir = tmp_path.joinpath(*RUN_DIR)
    try:
        pid = wait_for(lambda: worker_pids(run_dir), what="the first sweep's worker")["worker"]
        wait_for(lambda: "worker pid" in (run_dir / "lock").read_text(), what="the lock note")
        messages = []
        summary = runner.run_all([make_spec()], ResultStore(tmp_path / "store"), tmp_path / "work", progress=False,
                                 echo=messages.append, python=result_worker(tmp_path, GOOD_RESULT))
    finally:
        first.kill()
        first.communicate()
    assert list(summary.busy) == ["ins-Pop-seed1"] and f"worker pid {pid}" in summary.busy["ins-Pop-seed1"]
    assert f"pid {first.pid}, worker pid {pid}" in messages[0]
    assert not (run_dir / "ran").exists()


def test_benchmark_exits_1_when_a_run_is_running_elsewhere(small_dataset_dir, tmp_path, monkeypatch, capsys):
    def no_run(*args, **kwargs):
        raise AssertionError("a locked run was run")

    monkeypatch.setattr(runner, "start_run", no_run)
    work = tmp_path / "work"
    spec = make_spec(study="benchmark", variant="Pop", seed=2022)
    with RunLock(work / "benchmark" / "ins-Pop-seed2022", spec):
        code = run_main(benchmark.main, ["--quick", "--models", "Pop", "--levels", "ins", "--no-progress",
                                         "--data-path", str(small_dataset_dir.data_path), "--ins-dataset",
                                         small_dataset_dir.name, "--out", str(tmp_path / "out"),
                                         "--work-dir", str(work)])
    captured = capsys.readouterr()
    assert code == 1
    assert "1 running in another process" in captured.out
    assert f"NOT RUN ins-Pop-seed2022: running in another process (pid {os.getpid()})" in captured.err


# ------------------------------------------------------------------------------- damaged store


def write_store_file(out: Path, content: str, study="benchmark", key="ins-Pop-seed2022") -> Path:
    path = out / "runs" / study / f"{key}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    return path


def benchmark_pop_result(small_dataset_dir, **changes) -> dict:
    args = benchmark.build_parser().parse_args(["--models", "Pop", "--levels", "ins", "--seeds", "1",
                                                "--data-path", str(small_dataset_dir.data_path),
                                                "--ins-dataset", small_dataset_dir.name])
    (spec,) = benchmark.build_specs(args, small_dataset_dir.data_path)
    return stored_result(spec, **changes)


DAMAGED = {
    "not JSON": lambda good: "{not json",
    "empty": lambda good: "",
    "an array": lambda good: "[]",
    "missing test_result": lambda good: json.dumps({k: v for k, v in good.items() if k != "test_result"}),
    "bare NaN": lambda good: json.dumps(good | {"test_result": {"ndcg@10": float("nan")}}),
    "a string metric": lambda good: json.dumps(good | {"test_result": {"ndcg@10": "0.1"}}),
    "spec without model": lambda good: json.dumps(good | {"spec": {"level": "ins", "variant": "Pop"}}),
    "status failed": lambda good: json.dumps(good | {"status": "failed"}),
    "a string wall time": lambda good: json.dumps(good | {"train_seconds": "long"}),
}


@pytest.mark.parametrize("damage", sorted(DAMAGED))
def test_report_only_names_a_damaged_stored_result_and_writes_nothing(small_dataset_dir, tmp_path, capsys, damage):
    out = tmp_path / "out"
    path = write_store_file(out, DAMAGED[damage](benchmark_pop_result(small_dataset_dir)))
    code = run_main(benchmark.main, ["--report-only", "--models", "Pop", "--levels", "ins", "--seeds", "1",
                                     "--data-path", str(small_dataset_dir.data_path),
                                     "--ins-dataset", small_dataset_dir.name, "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith(f"error: {path}: ")
    assert not (out / "table1.csv").exists() and not (out / "table1.md").exists()


def test_report_only_reads_a_good_stored_result(small_dataset_dir, tmp_path, capsys):
    out = tmp_path / "out"
    write_store_file(out, json.dumps(benchmark_pop_result(small_dataset_dir)))
    code = run_main(benchmark.main, ["--report-only", "--models", "Pop", "--levels", "ins", "--seeds", "1",
                                     "--data-path", str(small_dataset_dir.data_path),
                                     "--ins-dataset", small_dataset_dir.name, "--out", str(out)])
    assert code == 0 and "1 reused from the store" in capsys.readouterr().out
    assert "ins,window,Pop,ndcg@10,0.100000,0.000000,1" in (out / "table1.csv").read_text()


def test_a_damaged_store_stops_a_normal_run_before_anything_is_built(small_dataset_dir, tmp_path, monkeypatch, capsys):
    def never(*args, **kwargs):
        raise AssertionError("ran or built something despite a damaged store")

    monkeypatch.setattr(runner, "start_run", never)
    monkeypatch.setattr(benchmark, "ensure_dataset", never)
    out = tmp_path / "out"
    path = write_store_file(out, "{\"status\": ")
    code = run_main(benchmark.main, ["--models", "Pop", "--levels", "ins", "--seeds", "1", "--no-progress",
                                     "--data-path", str(small_dataset_dir.data_path), "--ins-dataset",
                                     small_dataset_dir.name, "--out", str(out), "--work-dir", str(tmp_path / "w")])
    assert code == 2 and capsys.readouterr().err.startswith(f"error: {path}: is not valid JSON")
    assert path.read_text() == "{\"status\": "  # neither dropped nor replaced


def test_ablate_names_a_damaged_result_of_any_study_under_out(small_dataset_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(ablate.DatasetResolver, "ensure", lambda *a: pytest.fail("built a dataset"))
    out = tmp_path / "abl"
    common = ["--data-path", str(small_dataset_dir.data_path), "--ins-dataset", small_dataset_dir.name,
              "--window-step", "5", "--seeds", "1", "--out", str(out), "--work-dir", str(tmp_path / "w")]
    other = write_store_file(out, "[1, 2]", study="layers", key="ins-L=1-seed2022")
    assert run_main(ablate.main, ["pose2d", "--no-progress"] + common) == 2  # the reuse lookup reads every study
    assert capsys.readouterr().err.strip() == (f"error: {other}: is not a stored run result: not a JSON object "
                                               "(move it away to run this run again)")
    own = write_store_file(out, "NaN", study="pose2d", key="ins-3D_x_y_z_visibility-seed2022")
    assert run_main(ablate.main, ["pose2d", "--report-only"] + common) == 2
    assert capsys.readouterr().err.startswith(f"error: {own}: is not valid JSON (NaN is not a JSON value)")


def test_find_reusable_does_not_skip_a_damaged_file(tmp_path):
    spec = make_spec()
    spec.reuse_key = "k"
    bad = write_store_file(tmp_path, "{", study="other", key="x")
    with pytest.raises(DataError, match=str(bad)):
        runner.find_reusable_in(tmp_path / "runs")(spec)


def test_a_result_of_another_fingerprint_is_simply_run_again(tmp_path):
    spec, store = make_spec(), ResultStore(tmp_path / "store")
    store.save(spec, stored_result(spec, fingerprint="0" * 16, test_result={"ndcg@10": 0.9}))
    assert store.load(spec) is None
    summary = runner.run_all([spec], store, tmp_path / "work", progress=False, echo=lambda _: None,
                             python=result_worker(tmp_path, GOOD_RESULT))
    assert summary.ran == [spec.key] and store.load(spec)["test_result"] == METRICS


# ------------------------------------------------------------------------------------ numbers


@pytest.mark.parametrize("written, field", [
    ('{"test_result": {"ndcg@10": NaN}, "train_seconds": 1.0, "test_seconds": 1.0}', "test_result.ndcg@10"),
    ('{"test_result": {"ndcg@10": 0.1}, "best_valid_score": -Infinity}', "best_valid_score"),
    ('{"test_result": {"ndcg@10": null}, "non_finite": ["test_result.ndcg@10"]}', "test_result.ndcg@10"),
])
def test_a_run_with_non_finite_numbers_fails_and_is_not_stored(tmp_path, written, field):
    spec, store, messages = make_spec(), ResultStore(tmp_path / "store"), []
    summary = runner.run_all([spec], store, tmp_path / "work", progress=False, echo=messages.append,
                             python=result_worker(tmp_path, written))
    assert list(summary.failed) == [spec.key] and not store.path(spec).exists()
    assert f"not a finite number: {field}" in messages[0]


def test_the_worker_writes_null_for_nan_and_lists_the_field(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(worker, "run", lambda spec: {"test_result": {"ndcg@10": float("nan"), "recall@5": 0.5},
                                                     "best_valid_score": float("inf")})
    (tmp_path / "spec.json").write_text("{}")
    assert worker.main([str(tmp_path / "spec.json"), str(tmp_path / "result.json")]) == 0
    written = strict_json(tmp_path / "result.json")
    assert written["test_result"] == {"ndcg@10": None, "recall@5": 0.5} and written["best_valid_score"] is None
    assert written["non_finite"] == ["test_result.ndcg@10", "best_valid_score"]
    assert "error: not a finite number: test_result.ndcg@10, best_valid_score" in capsys.readouterr().err


def test_the_store_never_writes_a_bare_nan(tmp_path):
    spec, store = make_spec(), ResultStore(tmp_path)
    with pytest.raises(ValueError):
        store.save(spec, stored_result(spec, test_result={"ndcg@10": math.nan}))
    assert not store.path(spec).exists() and not list(tmp_path.iterdir())


# ------------------------------------------------------------------------------ usage errors

BENCHMARK_USAGE = [
    (["--seeds", "0"], "--seeds"), (["--seeds", "x"], "--seeds"), (["--epochs", "-1"], "--epochs"),
    (["--epochs", "0"], "--epochs"), (["--timeout", "-5"], "--timeout"), (["--timeout", "nan"], "--timeout"),
    (["--stopping-step", "0"], "--stopping-step"), (["--eval-step", "0"], "--eval-step"),
    (["--first-seed", "-1"], "--first-seed"), (["--first-seed", str(2**32 - 1), "--seeds", "2"], "--first-seed"),
    (["--models", "NoSuchModel"], "--models"), (["--models", "Pop", "Pop"], "--models"), (["--models"], "--models"),
    (["--set", "noequals"], "--set"), (["--set", "=3"], "--set"), (["--set", "a=[1"], "--set"),
    (["--set", "seed=7"], "--set"), (["--set", "epochs=-1"], "--set"), (["--set", "learning_rate=.nan"], "--set"),
    (["--levels", "bad"], "--levels"), (["--levels", "ins", "ins"], "--levels"),
    (["--ins-dataset", "../escaped"], "--ins-dataset"), (["--cat-dataset", ""], "--cat-dataset"),
    (["--out", "FILE"], "--out"), (["--out", "FILE/below"], "--out"), (["--work-dir", "FILE"], "--work-dir"),
    (["--no-such-option"], "unrecognized arguments"),
]

ABLATE_USAGE = [
    (["nostudy"], "study"), ([], "study"), (["layers", "--variants", "nope"], "--variants"),
    (["layers", "--variants", "L=1", "L=1"], "--variants"), (["layers", "--window-step", "0"], "--window-step"),
    (["layers", "--frames-step", "-3"], "--frames-step"), (["layers", "--base-seeds", "0"], "--base-seeds"),
    (["layers", "--item-seed", "-1"], "--item-seed"), (["layers", "--seeds", "0"], "--seeds"),
    (["layers", "--set", "noequals"], "--set"), (["items", "--levels", "cat"], "--levels"),
    (["layers", "--first-seed", str(2**32 - 2), "--base-seeds", "3"], "--first-seed"),
]


def usage_error(main, argv, tmp_path, capsys) -> str:
    file = tmp_path / "a-file"
    file.write_text("x")
    argv = [str(file) if a == "FILE" else str(file / "below") if a == "FILE/below" else a for a in argv]
    assert run_main(main, argv + ["--dry-run"]) == 2
    captured = capsys.readouterr()
    assert not captured.out
    return assert_one_error_line(captured.err)


@pytest.mark.parametrize("argv, argument", BENCHMARK_USAGE)
def test_benchmark_usage_errors_are_one_line_naming_the_argument(tmp_path, capsys, argv, argument):
    assert argument in usage_error(benchmark.main, argv, tmp_path, capsys)


@pytest.mark.parametrize("argv, argument", ABLATE_USAGE)
def test_ablate_usage_errors_are_one_line_naming_the_argument(tmp_path, capsys, argv, argument):
    assert argument in usage_error(ablate.main, argv, tmp_path, capsys)


def test_usage_errors_say_what_is_allowed(tmp_path, capsys):
    line = usage_error(benchmark.main, ["--models", "NoSuchModel"], tmp_path, capsys)
    assert "recbole_poserec/model/nosuchmodel.py" in line and "RecBole" in line
    line = usage_error(ablate.main, ["layers", "--variants", "nope"], tmp_path, capsys)
    assert "'L=1', 'L=2', 'L=3', 'L=4'" in line
    assert "an integer >= 1" in usage_error(benchmark.main, ["--epochs", "-1"], tmp_path, capsys)


def test_reports_of_results_without_timings_show_no_nan(small_dataset_dir, tmp_path):
    out = tmp_path / "out"
    result = benchmark_pop_result(small_dataset_dir)
    for name in ("train_seconds", "test_seconds", "timing"):
        result.pop(name)
    write_store_file(out, json.dumps(result))
    assert run_main(benchmark.main, ["--report-only", "--models", "Pop", "--levels", "ins", "--seeds", "1",
                                     "--data-path", str(small_dataset_dir.data_path),
                                     "--ins-dataset", small_dataset_dir.name, "--out", str(out)]) == 0
    for name in ("table1.md", "table1.csv", "timings.csv"):
        assert "nan" not in (out / name).read_text().lower(), name
    assert "| Pop | – | – |" in (out / "table1.md").read_text()


def test_models_beyond_the_default_eight_are_accepted(tmp_path, capsys):
    """A RecBole built-in (or a new plug-in model) is a valid --models entry, as the README promises."""
    code = benchmark.main(["--models", "BPR", "Pop", "--seeds", "1", "--levels", "ins", "--dry-run",
                           "--out", str(tmp_path / "out"), "--work-dir", str(tmp_path / "work")])
    assert code == 0
    assert "ins-BPR-seed2022" in capsys.readouterr().out


def test_a_stored_result_of_other_data_is_run_again(small_dataset_dir, tmp_path):
    """A fingerprint names the dataset, not its contents: the stored result's data digest must match the data."""
    from poserec_experiments.runner import SweepSummary, _reuse_stored, dataset_digest

    data_path = tmp_path / "data"
    copy_converted(small_dataset_dir.instance_dir, data_path / small_dataset_dir.name)
    args = benchmark.build_parser().parse_args(["--models", "Pop", "--levels", "ins", "--seeds", "1",
                                                "--data-path", str(data_path), "--ins-dataset", small_dataset_dir.name])
    (spec,) = benchmark.build_specs(args, data_path)
    store = ResultStore(tmp_path / "out" / "runs" / "benchmark")
    digest = dataset_digest(data_path, small_dataset_dir.name)
    assert digest is not None and len(digest) == 64
    said = []
    for recorded, reused in ((digest, True), ("0" * 64, False), (None, False)):
        store.save(spec, stored_result(spec, data_digest=recorded))
        summary = SweepSummary()
        assert _reuse_stored(spec, store, summary, said.append, "tag") is reused
        assert (spec.key in summary.results) is reused
    meta = data_path / small_dataset_dir.name / f"{small_dataset_dir.name}.meta.json"
    store.save(spec, stored_result(spec, data_digest=digest))
    meta.write_text(meta.read_text(encoding="utf-8").replace("{", '{"changed": true, ', 1), encoding="utf-8")
    assert not _reuse_stored(spec, store, SweepSummary(), said.append, "tag")  # the data changed under it
    assert any("other data" in line for line in said)
