"""The experiment sweeps: aggregation math, CSV / markdown / PNG outputs, resumability, a real quick run.

The end-to-end test runs the benchmark command on the small synthetic fixture (two tiny runs, Random and
Pop, each in its own subprocess); everything is written under pytest's tmp dirs, never into results/.
"""

from __future__ import annotations

import csv
import json
import math

import pytest

from poserec_experiments import ablate, benchmark
from poserec_experiments import runner
from poserec_experiments.aggregate import aggregate_runs, aggregate_timings, mean_std, write_csv
from poserec_experiments.report import wide_table
from poserec_experiments.runner import ResultStore, RunSpec
from poserec_experiments.studies import STUDIES

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def fake_result(spec: RunSpec, metrics: dict, train=10.0, test=2.0, step=0.5, epochs=3) -> dict:
    """A stored-result dict as the runner writes it, with hand-made numbers."""
    return {"status": "ok", "spec": spec.to_dict(), "key": spec.key, "fingerprint": spec.fingerprint(),
            "test_result": metrics, "train_seconds": train, "test_seconds": test, "wall_seconds": train + test + 5,
            "timing": {"train_step_seconds": step, "train_epochs": epochs}, "budget": {"epochs": 30}}


def spec(variant="PoseRec", seed=2022, level="ins", **config) -> RunSpec:
    return RunSpec(study="t", level=level, variant=variant, model=variant, dataset="d", seed=seed,
                   data_path="/somewhere", config=config)


# ------------------------------------------------------------------------------------ aggregation


def test_mean_std_is_mean_and_sample_std():
    mean, std = mean_std([1.0, 2.0, 3.0, 4.0])
    assert mean == 2.5
    assert std == pytest.approx(math.sqrt(5.0 / 3.0))  # ddof = 1: sum of squares 5 over n - 1 = 3
    assert mean_std([0.25]) == (0.25, 0.0)
    with pytest.raises(ValueError):
        mean_std([])


def test_aggregate_runs_long_format_in_paper_order():
    results = [
        fake_result(spec("A", 1), {"ndcg@10": 0.2, "recall@5": 0.1}),
        fake_result(spec("A", 2), {"ndcg@10": 0.4, "recall@5": 0.3}),
        fake_result(spec("B", 1), {"recall@5": 0.5, "ndcg@10": 0.6}),
    ]
    rows = aggregate_runs(results, ("level", "variant"))
    assert [(r["variant"], r["metric"]) for r in rows] == [("A", "recall@5"), ("A", "ndcg@10"),
                                                          ("B", "recall@5"), ("B", "ndcg@10")]
    a_ndcg = rows[1]
    assert a_ndcg["mean"] == pytest.approx(0.3) and a_ndcg["std"] == pytest.approx(math.sqrt(0.02))
    assert a_ndcg["seeds"] == 2
    assert rows[2]["std"] == 0.0 and rows[2]["seeds"] == 1
    timing = aggregate_timings(results, ("level", "variant"))[0]
    assert timing["train_seconds_mean"] == 10.0 and timing["step_seconds_mean"] == 0.5 and timing["seeds"] == 2


def test_csv_header_and_number_format(tmp_path):
    rows = aggregate_runs([fake_result(spec("A", 1), {"recall@5": 0.1}), fake_result(spec("A", 2), {"recall@5": 0.2})])
    path = write_csv(tmp_path / "t.csv", benchmark.TABLE1_HEADER,
                     [r | {"model": r["variant"], "protocol": "window"} for r in rows])
    lines = path.read_text().splitlines()
    assert lines[0] == "level,protocol,model,metric,mean,std,seeds"
    assert lines[1] == "ins,window,A,recall@5,0.150000,0.070711,2"


def test_markdown_bolds_the_best_mean_per_column():
    rows = [{"level": "ins", "model": "A", "metric": "recall@5", "mean": 0.1, "std": 0.01},
            {"level": "ins", "model": "B", "metric": "recall@5", "mean": 0.3, "std": 0.02},
            {"level": "ins", "model": "A", "metric": "ndcg@5", "mean": 0.5, "std": 0.0}]
    table = wide_table(rows, "model", [("ins", "Ins Rec")], first_header="model")
    assert "| model | Ins Rec R@5 | Ins Rec N@5 |" in table
    assert "| A | 0.1000 ± 0.0100 | **0.5000 ± 0.0000** |" in table
    assert "| B | **0.3000 ± 0.0200** | – |" in table


# ------------------------------------------------------------------------------------------ store


def test_fingerprint_ignores_paths_and_store_rejects_a_changed_spec(tmp_path):
    first = spec(epochs=1)
    moved = RunSpec(**{**first.__dict__, "data_path": "/elsewhere", "config": {"epochs": 1, "data_path": "/x"}})
    assert moved.fingerprint() == first.fingerprint()
    assert spec(epochs=2).fingerprint() != first.fingerprint() and spec(epochs=2).key == first.key
    store = ResultStore(tmp_path)
    store.save(first, fake_result(first, {"recall@5": 0.1}))
    assert store.load(first)["test_result"] == {"recall@5": 0.1}
    assert store.load(spec(epochs=2)) is None  # other budget: run again
    assert not list(tmp_path.glob(".*tmp*"))  # atomic write left no temporary file


# ------------------------------------------------------------------------------------ end to end


def test_benchmark_quick_runs_then_resumes(small_dataset_dir, tmp_path, monkeypatch, capsys):
    out, work = tmp_path / "out", tmp_path / "work"
    argv = ["--quick", "--models", "Random", "Pop", "--levels", "ins", "--data-path", str(small_dataset_dir.data_path),
            "--ins-dataset", small_dataset_dir.name, "--out", str(out), "--work-dir", str(work), "--no-progress",
            "--set", "eval_batch_size=4096", "--jobs", "2"]  # Random and Pop side by side, a share of cores each
    assert benchmark.main(argv) == 0
    printed = capsys.readouterr().out
    assert "total compute" in printed and "ndcg@10=" in printed

    with open(out / "table1.csv", newline="") as handle:
        table = list(csv.reader(handle))
    assert table[0] == ["level", "protocol", "model", "metric", "mean", "std", "seeds"]
    assert [row[1] for row in table[1:]] == ["window"] * 12 + ["video"] * 12  # both protocols, window first
    assert [row[2] for row in table[1:]] == (["Random"] * 6 + ["Pop"] * 6) * 2
    assert [row[3] for row in table[1:7]] == ["recall@5", "ndcg@5", "recall@10", "ndcg@10", "recall@20", "ndcg@20"]
    assert all(row[6] == "1" and row[5] == "0.000000" for row in table[1:])
    timings = (out / "timings.csv").read_text().splitlines()
    assert timings[0] == "level,model,device,train_seconds_mean,test_seconds_mean,seeds" and len(timings) == 3
    assert all(line.split(",")[2] == "cpu" for line in timings[1:])

    stored = json.loads((out / "runs" / "benchmark" / "ins-Pop-seed2022.json").read_text())
    assert stored["status"] == "ok" and stored["budget"]["seed"] == 2022 and stored["synthetic"] is True
    assert stored["device"] == "cpu" and stored["torch_threads"] == runner.thread_share(2)
    pop_recall = [float(row[4]) for row in table[1:] if row[1:4] == ["window", "Pop", "recall@5"]][0]
    assert pop_recall == pytest.approx(stored["test_result"]["recall@5"])  # the table is the run's number
    pop_video = [float(row[4]) for row in table[1:] if row[1:4] == ["video", "Pop", "ndcg@10"]][0]
    assert pop_video == pytest.approx(stored["test_video_result"]["ndcg@10"])
    units = stored["test_per_unit"]
    assert len(units["window"]["ids"]) == len(units["window"]["ndcg@10"]) > len(units["video"]["ids"]) > 0
    assert sum(units["video"]["ndcg@10"]) / len(units["video"]["ids"]) == pytest.approx(
        stored["test_video_result"]["ndcg@10"], abs=1e-4)
    assert (work / "benchmark" / "ins-Pop-seed2022" / "run.log").is_file()

    md = (out / "table1.md").read_text()
    assert "**SYNTHETIC**" in md and "split seed 2022" in md and "synth seed 0" in md
    assert "Regenerate: `python -m poserec_experiments.benchmark --quick" in md and "Sum of the runs' wall times" in md
    assert "--jobs" not in md and "**Devices.** cpu (2 runs)" in md
    assert md.count("**0.") >= 6  # one bold best per column
    for png in ("table1.png", "timings.png"):
        assert (out / png).read_bytes()[:8] == PNG_MAGIC

    # second invocation: both runs are in the store, nothing is run again
    mtime = (out / "runs" / "benchmark" / "ins-Pop-seed2022.json").stat().st_mtime_ns

    def no_run(*args, **kwargs):
        raise AssertionError("a stored run was run again")

    monkeypatch.setattr(runner, "start_run", no_run)
    assert benchmark.main(argv) == 0
    assert printed.count("stored result reused") == 0
    assert capsys.readouterr().out.count("stored result reused") == 2
    assert (out / "runs" / "benchmark" / "ins-Pop-seed2022.json").stat().st_mtime_ns == mtime


# ------------------------------------------------------------------------------------------ ablations


def test_every_study_lists_its_runs(small_dataset_dir, capsys):
    base = ["--dry-run", "--data-path", str(small_dataset_dir.data_path), "--ins-dataset", small_dataset_dir.name,
            "--cat-dataset", small_dataset_dir.cat_name, "--seeds", "2"]
    for name, study in STUDIES.items():
        assert ablate.main([name] + base) == 0
        lines = capsys.readouterr().out.strip().splitlines()
        assert len(lines) == 2 * len(study.variants) * len(study.levels), name
    assert STUDIES["factors"].variants[1].config["item_factor_fields"][0] == "f_usage"  # -name drops f_name


def test_derived_datasets_are_named_from_the_base(small_dataset_dir, capsys):
    base = ["--dry-run", "--data-path", str(small_dataset_dir.data_path), "--ins-dataset", small_dataset_dir.name,
            "--window-step", "5"]
    ablate.main(["frames"] + base)
    frames = capsys.readouterr().out
    assert f"on {small_dataset_dir.name}, " in frames and f"on {small_dataset_dir.name}-w50, " in frames
    ablate.main(["items"] + base)
    items = capsys.readouterr().out
    assert f"on {small_dataset_dir.name}-items20, " in items and "ins-100pct-seed2022" in items
    ablate.main(["items"] + base[:-1] + ["20"])  # a sparser window step derives a base dataset first
    sparse = capsys.readouterr().out
    assert f"on {small_dataset_dir.name}-step20-items20, " in sparse and f"on {small_dataset_dir.name}-step20, " in sparse


def test_derived_datasets_come_from_the_raw_data_of_the_given_dataset(small_dataset_dir):
    args = ablate.build_parser().parse_args(["items", "--data-path", str(small_dataset_dir.data_path),
                                             "--ins-dataset", small_dataset_dir.name])
    resolver = ablate.DatasetResolver(args, small_dataset_dir.data_path.resolve())
    assert resolver.raw_dir().resolve() == small_dataset_dir.raw_dir.resolve()  # not the default synthetic raw


def test_a_derived_dataset_is_reused_only_for_the_raw_data_it_was_converted_from(small_dataset_dir, tmp_path):
    from poserec_experiments.derived_datasets import _source_provenance, converted_from, read_meta, subset_items_raw

    meta = read_meta(small_dataset_dir.data_path, small_dataset_dir.name)
    assert converted_from(meta, small_dataset_dir.raw_dir)
    regenerated = dict(meta, synthetic_source=dict(meta["synthetic_source"], seed=1))  # same path, other data
    assert not converted_from(regenerated, small_dataset_dir.raw_dir)
    assert not converted_from(meta, tmp_path)
    subset_items_raw(small_dataset_dir.raw_dir, tmp_path / "r20", 0.2, seed=7)
    assert _source_provenance(tmp_path / "r20") == meta["synthetic_source"]


def test_base_variant_runs_with_base_seeds_and_is_one_run_across_studies(small_dataset_dir):
    """Every study's base variant is PoseRec as configured: the same reuse key at a level, whatever its name."""
    keys = {}
    for name, study in STUDIES.items():
        argv = [name, "--data-path", str(small_dataset_dir.data_path), "--ins-dataset", small_dataset_dir.name,
                "--seeds", "1", "--base-seeds", "3", "--levels", "ins"]
        args = ablate.build_parser().parse_args(argv)
        args.frames_step = args.window_step
        specs = ablate.build_specs(study, args, small_dataset_dir.data_path.resolve(),
                                   ablate.DatasetResolver(args, small_dataset_dir.data_path.resolve()), build=False)
        seeds = {}
        for s in specs:
            seeds.setdefault(s.variant, []).append(s.seed)
        assert seeds.pop(study.base) == [2022, 2023, 2024], name
        assert all(v == [2022] for v in seeds.values()), name
        base_keys = {s.reuse_key for s in specs if s.variant == study.base and s.seed == 2022}
        other_keys = {s.reuse_key for s in specs if s.variant != study.base}
        assert len(base_keys) == 1 and not base_keys & other_keys, name
        keys[name] = base_keys.pop()
    assert len(set(keys.values())) == 1, keys


def test_a_run_finished_under_another_study_is_reused_not_rerun(tmp_path):
    root = tmp_path / "runs"
    first = RunSpec(study="layers", level="ins", variant="L=3", model="PoseRec", dataset="d", seed=1,
                    data_path="/x", config={"gcn_layers": 3}, reuse_key="same")
    ResultStore(root / "layers").save(first, fake_result(first, {"ndcg@10": 0.25}))
    second = RunSpec(study="pose2d", level="ins", variant="3D", model="PoseRec", dataset="d", seed=1,
                     data_path="/x", config={}, reuse_key="same")
    other = RunSpec(study="pose2d", level="ins", variant="2D", model="PoseRec", dataset="d", seed=1,
                    data_path="/x", config={"pose_input_channels": [0, 1, 3]}, reuse_key="different")
    store = ResultStore(root / "pose2d")
    summary = runner.run_all([second, other], store, tmp_path / "work", progress=False, echo=lambda _: None,
                             python="/bin/false", find_reusable=runner.find_reusable_in(root))
    assert summary.skipped == [second.key] and list(summary.failed) == [other.key]  # /bin/false: "ran" and failed
    stored = store.load(second)
    assert stored["reused_from"] == "layers/ins-L=3-seed1" and stored["test_result"] == {"ndcg@10": 0.25}
    assert summary.compute_seconds == 0.0  # counted under layers, not twice


def test_a_result_stored_before_reuse_keys_existed_gets_its_key(tmp_path):
    spec = RunSpec(study="layers", level="ins", variant="L=3", model="PoseRec", dataset="d", seed=1,
                   data_path="/x", config={"gcn_layers": 3})
    store = ResultStore(tmp_path / "layers")
    store.save(spec, fake_result(spec, {"ndcg@10": 0.25}))  # no reuse_key in its spec
    spec.reuse_key = "k"
    runner.collect([spec], store)
    assert store.load(spec)["spec"]["reuse_key"] == "k"
    twin = RunSpec(study="pose2d", level="ins", variant="3D", model="PoseRec", dataset="d", seed=1,
                   data_path="/x", reuse_key="k")
    assert runner.find_reusable_in(tmp_path)(twin)["reused_from"] == "layers/ins-L=3-seed1"


def test_item_subsets_are_nested_and_drop_unannotated_videos(small_dataset_dir, tmp_path):
    from poserec_experiments.derived_datasets import subset_items_raw

    small = subset_items_raw(small_dataset_dir.raw_dir, tmp_path / "r20", 0.2, seed=7)
    large = subset_items_raw(small_dataset_dir.raw_dir, tmp_path / "r60", 0.6, seed=7)
    items = {f: set(line.split(",")[0] for line in (tmp_path / f / "items.csv").read_text().splitlines()[1:])
             for f in ("r20", "r60")}
    assert len(items["r20"]) == small["items"] == 24 and items["r20"] <= items["r60"]
    annotated = {line.split(",")[0] for line in (tmp_path / "r20" / "annotations.csv").read_text().splitlines()[1:]}
    videos = {line.split(",")[0] for line in (tmp_path / "r20" / "videos.csv").read_text().splitlines()[1:]}
    assert videos == annotated and small["dropped_videos"] == 24 - len(videos)
    assert len(list((tmp_path / "r20" / "poses").glob("*.npy"))) == len(videos)
    marker = json.loads((tmp_path / "r20" / "SYNTHETIC.json").read_text())
    assert marker["derived"]["keep_items_fraction"] == 0.2 and large["videos"] >= small["videos"]


def test_ablation_report_from_stored_runs(small_dataset_dir, tmp_path, monkeypatch):
    """Hand-made stored results for two prototype variants x 2 seeds -> csv, md (paper's direction), png, and
    the study's README section (a copy of the markers here; the real README is written only for results/)."""
    from poserec_experiments import readme as readme_module

    readme = tmp_path / "README.md"
    readme.write_text("a\n<!-- ablation-prototypes:start -->\nold\n<!-- ablation-prototypes:end -->\nb\n")
    monkeypatch.setattr(ablate, "writes_repository_results", lambda out: True)
    monkeypatch.setattr(ablate, "replace_section", lambda name, body: readme_module.replace_section(name, body, readme))
    out = tmp_path / "abl"
    argv = ["prototypes", "--report-only", "--variants", "K=1 w L_pro", "K=2 w L_pro", "--seeds", "2", "--window-step", "5",
            "--data-path", str(small_dataset_dir.data_path), "--ins-dataset", small_dataset_dir.name, "--out", str(out)]
    args = ablate.build_parser().parse_args(argv)
    args.levels = ["ins"]
    specs = ablate.build_specs(STUDIES["prototypes"], args, small_dataset_dir.data_path.resolve(),
                               ablate.DatasetResolver(args, small_dataset_dir.data_path.resolve()), build=False)
    store = ResultStore(out / "runs" / "prototypes")
    for k, s in enumerate(specs):
        store.save(s, fake_result(s, {"recall@5": 0.1 * (k + 1), "ndcg@5": 0.05 * (k + 1), "ndcg@10": 0.2},
                                  step=0.1 * (k + 1), epochs=ablate.BUDGET["train"]["epochs"] if k == 0 else 3))
    assert ablate.main(argv) == 0
    lines = (out / "prototypes.csv").read_text().splitlines()
    assert lines[0] == ("study,level,variant,metric,mean,std,seeds,train_seconds_mean,test_seconds_mean,"
                        "step_seconds_mean,step_seconds_std,epochs_mean")
    assert lines[1].startswith("prototypes,ins,K=1 w L_pro,recall@5,0.150000,0.070711,2,10.000000")
    md = (out / "prototypes.md").read_text()
    assert "> Paper's reported direction:" in md and "Fig. 3" in md and "**SYNTHETIC**" in md
    assert "**0.3500 ± 0.0707**" in md  # K=2 (runs 3 and 4: 0.3, 0.4) is the best R@5
    assert (f"**Early stopping.** 3 of 4 runs stopped early, after {ablate.BUDGET['train']['stopping_step']} "
            f"validations without a better validation NDCG@10; at the maximum of {ablate.BUDGET['train']['epochs']} "
            f"epochs: {specs[0].key}") in md
    assert (out / "prototypes.png").read_bytes()[:8] == PNG_MAGIC
    section = readme.read_text()
    assert "old" not in section and "#### `prototypes`" in section and "> Paper:" in section
    assert "3 of 4 runs stopped early" in section
    assert "| variant | Ins Rec N@10 |" in section and "| K=2 w L_pro | **0.2000 ± 0.0000** |" in section and "regenerate: `python -m poserec_experiments.ablate" in section


def test_readme_section_is_replaced_between_its_markers(tmp_path):
    from poserec_experiments.readme import (
        PAPER_TABLE1, paper_table1_markdown, replace_section, writes_repository_results, RESULTS_DIR)

    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- results:start -->\nold\n<!-- results:end -->\noutro\n", encoding="utf-8")
    replace_section("results", "| new | table |", readme)
    assert readme.read_text(encoding="utf-8") == "intro\n<!-- results:start -->\n| new | table |\n<!-- results:end -->\noutro\n"
    with pytest.raises(ValueError):
        replace_section("ablations", "x", readme)
    paper = paper_table1_markdown()
    assert "| PoseRec | 0.1304 | 0.1539 |" in paper and "| Pop | — |" in paper
    assert len(PAPER_TABLE1["ins"]) == len(PAPER_TABLE1["cat"]) == 8
    assert writes_repository_results(RESULTS_DIR) and not writes_repository_results(tmp_path)


def test_the_improvements_study_leaves_out_each_search_candidate_the_profile_holds():
    from poserec_experiments.studies import profile_improvements

    popularity = {"item_bias": "item", "item_bias_init": "popularity", "triplet_weight": 0.0, "dropout": 0.1}
    assert [c.name for c in profile_improvements(popularity)] == ["no L_triple", "popularity item bias"]
    assert [c.name for c in profile_improvements({"item_bias": "item"})] == ["free item bias"]
    assert profile_improvements({}) == []
    study = STUDIES["improvements"]
    assert study.base == "paper's settings" and study.variant("paper's settings").config == {}
    tuned = study.variant("tuned profile").config
    for variant in study.variants[2:]:  # each "without X" is the profile with X's keys, and only those, removed
        assert variant.config.items() < tuned.items()
