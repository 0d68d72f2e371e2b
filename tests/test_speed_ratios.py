"""scripts/speed_ratios.py: bare network step against the plug-in's step, and the dataset load, measured in one run."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest

from conftest import copy_converted

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "speed_ratios.py"


@pytest.fixture(scope="module")
def speed_ratios():
    spec = importlib.util.spec_from_file_location("speed_ratios", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_figures_on_the_small_dataset(speed_ratios, small_dataset_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)  # restored after: RecBole's Config sets it
    out = tmp_path / "ratios.json"
    data_path = tmp_path / "data"  # a copy: the run writes a pose store beside the atomic files
    copy_converted(small_dataset_dir.instance_dir, data_path / small_dataset_dir.name)
    code = speed_ratios.main(["--dataset", small_dataset_dir.name, "--data-path", str(data_path),
                              "--windows-per-batch", "8", "--batches", "2", "--threads", "1", "--json", str(out)])
    assert code == 0
    figures = json.loads(out.read_text(encoding="utf-8"))
    assert figures["torch_threads"] == 1
    assert [step["windows_per_batch"] for step in figures["steps"]] == [8]
    for step in figures["steps"]:
        assert step["windows_in_batch"] == 8
        assert step["bare_seconds"] > 0 and step["plugin_seconds"] > 0
        assert 0 < step["plugin_loader_seconds"] < step["plugin_seconds"]
        assert math.isfinite(step["ratio"]) and step["ratio"] > 0
        assert math.isfinite(step["paired_ratio"]) and step["paired_ratio"] > 0
        assert len(step["bare_batch_seconds"]) == len(step["plugin_batch_seconds"]) == 2
        assert step["ratio"] == pytest.approx(step["plugin_seconds"] / step["bare_seconds"])
    load = figures["load"]
    assert load["pose_store"] is True and load["store_files_removed"] == []
    assert 0 < load["cold"]["user_parse_seconds"] < load["cold"]["user_load_seconds"] < load["cold"]["seconds"]
    # the warm load reads the .user and .item files from the store the cold one wrote: no text parse
    assert load["warm"]["user_parse_seconds"] == 0 and "item" not in load["warm"]["parse_seconds"]
    assert 0 < load["warm"]["user_load_seconds"] < load["warm"]["seconds"]
    assert load["warm"]["parse_seconds"]["inter"] > 0
    assert load["warm_over_cold"] == pytest.approx(load["warm"]["seconds"] / load["cold"]["seconds"])
    assert "plug-in/bare" in capsys.readouterr().out


@pytest.mark.parametrize("bad", [["--windows-per-batch", "0"], ["--batches", "-1"], ["--device", "tpu"]])
def test_bad_arguments_are_one_error_line(speed_ratios, bad, capsys):
    code = speed_ratios.run_main(speed_ratios.main, ["--dataset", "d", "--data-path", "p", *bad])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: argument") and err.count("\n") == 1


def test_a_missing_dataset_is_one_error_line(speed_ratios, tmp_path, capsys):
    code = speed_ratios.run_main(speed_ratios.main, ["--dataset", "absent", "--data-path", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "absent" in err and err.count("\n") == 1
