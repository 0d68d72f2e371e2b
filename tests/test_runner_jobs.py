"""Concurrent runs (``--jobs N``), their share of the cores, and the device (issue #12, item 4).

Workers are fake (``python=`` of ``run_all``): small scripts that record when they ran, their environment
and their ``spec.json`` in their result, as in ``test_hardening_runner.py``.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
import torch

from poserec_experiments import ablate, benchmark, runner
from poserec_experiments.arguments import command_string, print_footer
from poserec_experiments.runner import THREAD_VARIABLES, ResultStore, RunLock, RunSpec
from test_hardening_runner import ENV, METRICS, REPO, gone, usage_error, wait_for, worker_pids, write_script


def spec_named(variant: str, reuse_key: str = "") -> RunSpec:
    return RunSpec(study="t", level="ins", variant=variant, model="Pop", dataset="d", seed=1, data_path=".",
                   reuse_key=reuse_key)


def recording_worker(tmp_path, seconds: float = 0.0) -> str:
    """A worker that sleeps ``seconds`` and writes a good result holding its start and end times, the
    thread variables of its environment (and OPENBLAS_CORETYPE) and the ``threads`` of its ``spec.json``."""
    return write_script(tmp_path / "recording_worker", f"""
        import json, os, sys, time
        started = time.time()
        time.sleep({seconds!r})
        names = {list(THREAD_VARIABLES) + ["OPENBLAS_CORETYPE"]!r}
        result = {{"test_result": {METRICS!r}, "train_seconds": 1.0, "test_seconds": 0.5, "timing": {{}},
                   "started": started, "ended": time.time(), "env": {{n: os.environ.get(n) for n in names}},
                   "threads": json.load(open(sys.argv[3]))["threads"]}}
        with open(sys.argv[4], "w") as handle:
            json.dump(result, handle)
    """)


def sweep(tmp_path, specs, python, **options) -> tuple[runner.SweepSummary, list[str]]:
    messages = []
    summary = runner.run_all(specs, ResultStore(tmp_path / "store"), tmp_path / "work", progress=False,
                             echo=messages.append, python=python, **options)
    return summary, messages


def test_thread_share_is_cores_over_jobs_and_none_for_one_job():
    assert runner.thread_share(1, cores=16) is None
    assert [runner.thread_share(n, cores=16) for n in (2, 3, 5, 16, 40)] == [8, 5, 3, 1, 1]
    assert runner.thread_share(2) == max(1, runner.available_cores() // 2)
    with pytest.raises(ValueError):
        runner.thread_share(0)


def test_two_jobs_overlap_a_third_waits_and_each_gets_its_share(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    monkeypatch.setenv("OMP_NUM_THREADS", "99")  # replaced by the share, not added to
    specs = [spec_named(v) for v in ("A", "B", "C")]
    summary, messages = sweep(tmp_path, specs, recording_worker(tmp_path, seconds=1.5), jobs=2)
    assert sorted(summary.ran) == sorted(s.key for s in specs) and not summary.failed
    first, second, third = (summary.results[s.key] for s in specs)
    assert max(first["started"], second["started"]) < min(first["ended"], second["ended"])  # side by side
    assert third["started"] >= min(first["ended"], second["ended"])  # never three at once
    share = str(runner.thread_share(2))
    for spec in specs:
        seen = summary.results[spec.key]["env"]
        assert seen == {**{name: share for name in THREAD_VARIABLES}, "OPENBLAS_CORETYPE": "Haswell"}
        assert summary.results[spec.key]["threads"] == int(share)
    assert len(messages) == 3 and all("ndcg@10=" in m for m in messages)  # one line per run


def test_one_job_caps_nothing(tmp_path, monkeypatch):
    for name in THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    spec = spec_named("A")
    summary, _ = sweep(tmp_path, [spec], recording_worker(tmp_path))
    assert all(summary.results[spec.key]["env"][name] is None for name in THREAD_VARIABLES)
    assert summary.results[spec.key]["threads"] is None


def test_the_device_sets_recbole_gpu_settings_but_not_the_fingerprint(tmp_path, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    spec = spec_named("A")
    python = recording_worker(tmp_path)
    settings = {}
    for device in ("cpu", "cuda"):
        store = tmp_path / device
        summary = runner.run_all([spec], ResultStore(store), tmp_path / "work", progress=False,
                                 echo=lambda _: None, python=python, device=device)
        config = json.loads((runner.run_directory(spec, tmp_path / "work") / "spec.json").read_text())["config_dict"]
        settings[device] = {k: config[k] for k in ("use_gpu", "gpu_id")}
        assert summary.results[spec.key]["fingerprint"] == spec.fingerprint()
    assert settings == {"cpu": {"use_gpu": False, "gpu_id": ""}, "cuda": {"use_gpu": True, "gpu_id": "0"}}
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,1")
    assert runner.device_settings("cuda") == {"use_gpu": True, "gpu_id": "3"}
    # a result stored by a one-job CPU sweep is reused by a two-job CUDA sweep: nothing runs again
    never = write_script(tmp_path / "never", "raise SystemExit('ran again')\n")
    summary = runner.run_all([spec], ResultStore(tmp_path / "cpu"), tmp_path / "work", progress=False,
                             echo=lambda _: None, python=never, jobs=2, device="cuda")
    assert summary.skipped == [spec.key] and not summary.ran and not summary.failed


def test_runs_of_one_reuse_key_are_not_run_side_by_side(tmp_path):
    """The second waits for the first and takes its result, as it would one after the other."""
    specs = [spec_named("A", reuse_key="same"), spec_named("B", reuse_key="same"), spec_named("C")]
    summary, messages = sweep(tmp_path, specs, recording_worker(tmp_path, seconds=0.5), jobs=3,
                              find_reusable=runner.find_reusable_in(tmp_path))
    assert sorted(summary.ran) == ["ins-A-seed1", "ins-C-seed1"] and summary.skipped == ["ins-B-seed1"]
    assert summary.results["ins-B-seed1"]["reused_from"] == "store/ins-A-seed1"
    assert any("same run as store/ins-A-seed1" in m for m in messages)


DRIVER = """
import sys
from dataset_conversion.entrypoint import run_main
from poserec_experiments import runner

def main(argv):
    work, store, python = argv
    runner.STOP_GRACE_SECONDS = 0.5
    specs = [runner.RunSpec(study="t", level="ins", variant=v, model="Pop", dataset="d", seed=1, data_path=".")
             for v in ("A", "B", "C")]
    summary = runner.run_all(specs, runner.ResultStore(store), work, python=python, progress=False, echo=print, jobs=2)
    return 1 if summary.not_done else 0

sys.exit(run_main(main, sys.argv[1:]))
"""


@pytest.mark.parametrize("signum, code, line", [(signal.SIGTERM, 143, "terminated"),
                                                (signal.SIGINT, 130, "interrupted")])
def test_a_signal_stops_every_running_workers_group(tmp_path, signum, code, line):
    """Both running workers ignore SIGTERM and have a child each: all four end, within one grace period."""
    python = write_script(tmp_path / "stubborn_worker", """
        import json, os, signal, subprocess, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        pids = {"worker": os.getpid(), "grandchild": subprocess.Popen(["sleep", "60"]).pid}
        with open("pids.json.tmp", "w") as handle:
            json.dump(pids, handle)
        os.replace("pids.json.tmp", "pids.json")
        time.sleep(60)
    """)
    (tmp_path / "driver.py").write_text(DRIVER, encoding="utf-8")
    driver = subprocess.Popen([sys.executable, str(tmp_path / "driver.py"), str(tmp_path / "work"),
                               str(tmp_path / "store"), python], cwd=REPO, env=ENV, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    run_dirs = [tmp_path / "work" / "t" / f"ins-{v}-seed1" for v in ("A", "B")]
    try:
        pids = [wait_for(lambda d=d: worker_pids(d), what=f"the worker of {d.name}") for d in run_dirs]
        started = time.monotonic()
        driver.send_signal(signum)
        _, stderr = driver.communicate(timeout=20)
    finally:
        driver.kill()
    assert driver.returncode == code and stderr.strip().splitlines() == [line]
    assert time.monotonic() - started < 5  # the groups are stopped together: one 0.5 s grace, not two
    for found in pids:
        assert gone(found["worker"])
        wait_for(lambda p=found["grandchild"]: gone(p), seconds=5, what="a worker's child")
    assert not (tmp_path / "work" / "t" / "ins-C-seed1").exists()  # the third never started
    for run_dir in run_dirs:
        RunLock(run_dir, spec_named("A")).release()  # both locks free again
    assert not (tmp_path / "store").exists() or not list((tmp_path / "store").iterdir())


@pytest.mark.parametrize("main, study", [(benchmark.main, []), (ablate.main, ["layers"])])
@pytest.mark.parametrize("argv, expected", [
    (["--jobs", "0"], "argument --jobs: expected an integer >= 1, got 0"),
    (["--jobs", "abc"], "argument --jobs: expected an integer >= 1, got 'abc'"),
    (["--device", "tpu"], "argument --device: invalid choice: 'tpu'"),
    (["--set", "gpu_id=1"], "gpu_id is set by the runner for every run, use --device"),
])
def test_jobs_and_device_usage_errors_are_one_line(tmp_path, capsys, main, study, argv, expected):
    assert expected in usage_error(main, study + argv, tmp_path, capsys)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
@pytest.mark.parametrize("main, study", [(benchmark.main, []), (ablate.main, ["layers"])])
def test_device_cuda_without_a_cuda_device_is_one_line(tmp_path, capsys, main, study):
    line = usage_error(main, study + ["--device", "cuda"], tmp_path, capsys)
    assert line.startswith("error: argument --device: cuda asked for, but torch ") and "sees no CUDA device" in line


def test_jobs_device_and_work_dir_are_not_in_the_regenerating_command():
    argv = ["--quick", "--jobs", "4", "--device=cuda", "--models", "Pop", "--jobs=2", "--device", "cpu",
            "--work-dir", "/tmp/w", "--work-dir=/tmp/v"]
    assert command_string("m", argv) == "python -m m --quick --models Pop"


def test_the_footer_states_the_devices(tmp_path, capsys):
    spec = spec_named("A")
    summary, _ = sweep(tmp_path, [spec], recording_worker(tmp_path))
    summary.results[spec.key]["device"] = "cpu"
    summary.results["old"] = {"wall_seconds": 1.0}  # stored before devices were recorded
    print_footer(summary, [])
    assert "devices: cpu (1 run), unrecorded (1 run)" in capsys.readouterr().out
