"""The sweeps' budgets (YAML beside the harness) and names: the stored runs of results/ are found again."""

from __future__ import annotations

from pathlib import Path

import pytest

from dataset_conversion.errors import DataError
from poserec_experiments import ablate, benchmark, budgets
from poserec_experiments.arguments import command_string
from poserec_experiments.derived_datasets import DEFAULT_DATASETS
from poserec_experiments.runner import ResultStore
from poserec_experiments.studies import STUDIES

RESULTS = Path(__file__).resolve().parents[1] / "results"
# The seeds of each stored study, as in the "Regenerate" line of results/ablations/<study>.md.
# Every study was run at the validation search's budget (budgets/tuning.yaml), which reaches early stopping.
STORED_SEEDS = {name: (["--seeds", "3"] if name == "pose2d" else ["--seeds", "1", "--base-seeds", "3"])
                + ["--epochs", "40", "--stopping-step", "5"] for name in STUDIES}


def test_budgets_are_read_from_the_harness_yaml():
    assert budgets.read_budget("ablations") == {
        "train": {"epochs": 6, "stopping_step": 3, "eval_step": 1, "learning_rate": 0.001}, "window_step": 20}
    assert budgets.read_budget("benchmark")["PoseRec"]["learning_rate"] == 0.001
    assert ablate.build_parser().parse_args(["items"]).window_step == 20


def test_a_budget_file_that_is_not_a_mapping_is_one_error_naming_it(tmp_path, monkeypatch):
    (tmp_path / "ablations.yaml").write_text("- epochs\n", encoding="utf-8")
    monkeypatch.setattr(budgets, "BUDGETS_DIR", tmp_path)
    with pytest.raises(DataError, match=r"ablations\.yaml: is not a YAML mapping"):
        budgets.read_budget("ablations")


def test_default_datasets_are_the_plugins():
    assert DEFAULT_DATASETS == {"ins": "pose-obe", "cat": "pose-obe-cat"}


def test_the_regenerate_command_leaves_out_how_it_ran():
    argv = ["items", "--report-only", "--seeds", "3", "--no-progress"]
    assert command_string("m", argv) == "python -m m items --seeds 3"


@pytest.mark.parametrize("name", sorted(STUDIES))
def test_every_stored_ablation_run_is_found_again(name, tmp_path):
    args = ablate.build_parser().parse_args([name, "--data-path", str(tmp_path)] + STORED_SEEDS[name])
    args.levels, args.frames_step = list(STUDIES[name].levels), args.window_step
    specs = ablate.build_specs(STUDIES[name], args, tmp_path, ablate.DatasetResolver(args, tmp_path), build=False)
    store = ResultStore(RESULTS / "ablations" / "runs" / name)
    found = sorted(store.path(s).name for s in specs if store.load(s))
    assert found == sorted(p.name for p in store.root.glob("*.json"))


def test_every_stored_benchmark_run_is_found_again(tmp_path):
    args = benchmark.build_parser().parse_args(["--data-path", str(tmp_path)])
    args.seeds, args.models = benchmark.DEFAULT_SEEDS, list(benchmark.MODELS)
    store = ResultStore(RESULTS / "runs" / "benchmark")
    specs = benchmark.build_specs(args, tmp_path)
    # results/ predates PoseKNN (regenerated with the evaluation issue's table); every other run is found
    assert len(specs) == 54 and all(store.load(s) for s in specs if s.model != "PoseKNN")
