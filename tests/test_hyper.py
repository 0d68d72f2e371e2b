"""Hyper-parameter search (recbole_poserec.hyper, run_hyper.py): the parameters file, RecBole's HyperTuning
over plug-in and built-in models on the small generated dataset, the results table, resume, and Ray Tune."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from dataset_conversion.errors import DataError
from recbole_poserec import hyper

REPO = Path(__file__).resolve().parents[1]


def search(tmp_path, small, params: str, *args: str, model="PoseKNN", out="search") -> tuple[int, Path]:
    """Run ``run_hyper.py``'s main in-process on the small dataset; returns (exit code, output base)."""
    (tmp_path / "p.hyper").write_text(params)
    base = tmp_path / out
    code = hyper.main([f"--model={model}", f"--dataset={small.name}", f"--data_path={small.data_path}",
                       f"--params_file={tmp_path / 'p.hyper'}", f"--output_file={base}", "--threads=1", *args])
    return code, base


def read_table(base: Path) -> list[dict]:
    with open(f"{base}.csv", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # RecBole's ./log/ of each trial
    return tmp_path


# ----------------------------------------------------------------------------------- the parameters file


@pytest.mark.parametrize("line, message", [
    ("learning_rate", "line 2: expected 'name type values'"),
    ("learning_rate normal 0,1", "line 2: unknown type 'normal'"),
    ("learning_rate choice [0.1,", "line 2: choice takes a list of literals"),
    ("learning_rate choice []", "line 2: choice takes a non-empty list"),
    ("learning_rate choice [1,1]", "line 2: choice lists a value twice"),
    ("learning_rate uniform 1", "line 2: uniform takes low,high"),
    ("learning_rate loguniform -1,-5", "line 2: loguniform needs low < high"),
    ("gcn_layers quniform 1,4,0", "line 2: quniform needs a step q > 0"),
    ("2lr choice [1]", "line 2: '2lr' is not a setting name"),
    ("dropout choice [0.1]", "line 2: dropout is already searched on line 1"),
])
def test_params_file_errors_name_the_file_and_line(tmp_path, line, message):
    path = tmp_path / "bad.hyper"
    path.write_text(f"dropout uniform 0,0.5\n{line}\n")
    with pytest.raises(DataError) as caught:
        hyper.read_params_file(path)
    assert str(caught.value).startswith(f"{path}: {message}")
    assert "\n" not in str(caught.value)


def test_params_file_reads_recbole_format_and_shipped_files(tmp_path):
    path = tmp_path / "ok.hyper"
    path.write_text("# comment\n\nlearning_rate loguniform -9.2,-4.6\nmlp_hidden_size choice ['[64,32]',[128,64]]\n"
                    "gcn_layers quniform 1,4,1\nmargin quniform 0.1,0.5,0.1\n")
    params = {p.name: p for p in hyper.read_params_file(path)}
    assert params["learning_rate"].values == (-9.2, -4.6) and params["learning_rate"].line == 3
    assert params["mlp_hidden_size"].values == ("[64,32]", [128, 64])
    assert params["gcn_layers"].integer and not params["margin"].integer
    assert hyper.grid_size([params["mlp_hidden_size"]]) == 2
    shipped = {p.name for p in hyper.read_params_file(REPO / "properties" / "hyper" / "PoseRec.hyper")}
    assert shipped == {"learning_rate", "triplet_margin", "num_prototypes", "gcn_layers", "dropout", "weight_decay"}
    assert hyper.grid_size(hyper.read_params_file(REPO / "properties" / "hyper" / "NeuMF.hyper")) == 18


def test_check_parameters_refuses_typos_fixed_twice_and_grid_of_uniform(tmp_path):
    path = tmp_path / "p.hyper"
    path.write_text("learning_rate uniform 0.001,0.01\nknn_k choice [5,50]\n")
    params = hyper.read_params_file(path)
    settings = {"learning_rate": 0.001, "knn_k": 200}
    hyper.check_parameters(params, path, settings, [], "random", "PoseKNN", "d")  # fine
    with pytest.raises(DataError, match=r"line 1: learning_rate is uniform: the exhaustive search"):
        hyper.check_parameters(params, path, settings, [], "exhaustive", "PoseKNN", "d")
    with pytest.raises(DataError, match=r"line 2: knn_k is also given as --knn_k"):
        hyper.check_parameters(params, path, settings, ["--knn_k=3"], "random", "PoseKNN", "d")
    with pytest.raises(DataError, match=r"line 2: knn_k is not a setting of PoseKNN on d"):
        hyper.check_parameters(params, path, {"learning_rate": 0.1}, [], "random", "PoseKNN", "d")


def test_command_line_errors_are_one_line(tmp_path, small_dataset_dir):
    bad = tmp_path / "bad.hyper"
    bad.write_text("knn_k choice [5,50\n")
    run = subprocess.run([sys.executable, str(REPO / "run_hyper.py"), "--model=PoseKNN",
                          f"--dataset={small_dataset_dir.name}", f"--data_path={small_dataset_dir.data_path}",
                          f"--params_file={bad}", f"--output_file={tmp_path / 'out'}"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [f"error: {bad}: line 1: choice takes a list of literals such as "
                                               "[0.001,0.0001], got '[5,50'"]
    assert not list(tmp_path.glob("out*"))


# ------------------------------------------------------------------------------------------ searches


def test_exhaustive_plugin_search_writes_sorted_table_and_resumes(in_tmp, small_dataset_dir, capsys):
    code, base = search(in_tmp, small_dataset_dir, "knn_k choice [5,50]\n", "--algo=exhaustive")
    assert code == 0
    rows = read_table(base)
    assert len(rows) == 2 and {r["knn_k"] for r in rows} == {"5", "50"}
    scores = [float(r["valid ndcg@10"]) for r in rows]
    assert scores == sorted(scores, reverse=True) and scores[0] > scores[1]
    assert [r["rank"] for r in rows] == ["1", "2"] and all(r["status"] == "ok" for r in rows)
    assert all(r["test ndcg@10"] != "" and r["test (video) ndcg@10"] != "" for r in rows)
    markdown = Path(f"{base}.md").read_text()
    assert markdown.startswith("# Hyper-parameter search: PoseKNN on") and "not used for selection" in markdown
    assert len([line for line in markdown.splitlines() if line.startswith("| ") and "ok" in line]) == 2
    state = json.loads(Path(f"{base}.json").read_text())
    assert [t["params"]["knn_k"] for t in state["trials"]] in ([5, 50], [50, 5])
    assert "2 trials (2 run now, 0 recorded)" in capsys.readouterr().out
    table = Path(f"{base}.csv").read_text()

    code, _ = search(in_tmp, small_dataset_dir, "knn_k choice [5,50]\n", "--algo=exhaustive")
    assert code == 0 and "2 trials (0 run now, 2 recorded)" in capsys.readouterr().out
    assert Path(f"{base}.csv").read_text() == table
    with pytest.raises(DataError, match=r"holds another search \(algo: recorded 'exhaustive', now 'random'\)"):
        search(in_tmp, small_dataset_dir, "knn_k choice [5,50]\n", "--algo=random")


def test_builtin_model_failed_trial_is_recorded_and_search_goes_on(in_tmp, small_dataset_dir):
    code, base = search(in_tmp, small_dataset_dir, "epochs choice [0,1]\n", "--algo=exhaustive", model="Pop")
    assert code == 0
    ok, failed = read_table(base)
    assert ok["status"] == "ok" and ok["rank"] == "1" and ok["epochs"] == "1" and float(ok["valid ndcg@10"]) > 0
    assert failed["status"] == "failed" and failed["rank"] == "" and failed["valid ndcg@10"] == ""
    assert "epochs must be an integer >= 1, got 0" in failed["error"] and "\n" not in failed["error"]


def test_random_search_is_seeded_and_resume_extends_it(in_tmp, small_dataset_dir, capsys):
    params = "learning_rate loguniform -9.2,-4.6\n"
    code, base = search(in_tmp, small_dataset_dir, params, "--algo=random", "--max_evals=2", model="Pop")
    first = [t["params"] for t in json.loads(Path(f"{base}.json").read_text())["trials"]]
    assert code == 0 and len(first) == 2 and first[0] != first[1]
    capsys.readouterr()
    code, _ = search(in_tmp, small_dataset_dir, params, "--algo=random", "--max_evals=3", model="Pop")
    assert "3 trials (1 run now, 2 recorded)" in capsys.readouterr().out  # the same two suggestions first
    again = [t["params"] for t in json.loads(Path(f"{base}.json").read_text())["trials"]]
    assert again[:2] == first and len(again) == 3


def test_ray_tool_runs_the_grid_and_resumes(in_tmp, small_dataset_dir, capsys):
    reason = hyper.ray_unavailable()
    if reason is not None:  # ray[tune]'s pyarrow missing: --tool ray says why in one line
        with pytest.raises(DataError, match="--tool ray: Ray Tune"):
            search(in_tmp, small_dataset_dir, "knn_k choice [5,50]\n", "--algo=exhaustive", "--tool=ray")
        return
    import ray

    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)  # one local instance for both runs
    ours = signal.getsignal(signal.SIGINT)
    try:
        code, base = search(in_tmp, small_dataset_dir, "knn_k choice [5,50]\n", "--algo=exhaustive", "--tool=ray")
        assert signal.getsignal(signal.SIGINT) is ours  # Tune's own Ctrl-C handler is not left behind
        assert code == 0 and "2 trials (2 run now, 0 recorded)" in capsys.readouterr().out
        rows = read_table(base)
        assert len(rows) == 2 and float(rows[0]["valid ndcg@10"]) > float(rows[1]["valid ndcg@10"])
        code, _ = search(in_tmp, small_dataset_dir, "knn_k choice [5,50]\n", "--algo=exhaustive", "--tool=ray")
        assert "2 trials (0 run now, 2 recorded)" in capsys.readouterr().out
    finally:
        ray.shutdown()
