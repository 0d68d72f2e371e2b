"""The benchmark's trustworthy figures: both protocols, per-unit values in the store, significance, ceilings, budgets.

Everything here reads crafted stored results (no training): the worker's and runner's store checks, the Wilcoxon
and Holm pieces against scipy and a hand example, the ceilings against the calibration functions they reuse
(and those against RecBole's own metric classes), and ``--report-only`` on a crafted store.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from dataset_conversion.errors import DataError
from dataset_conversion.synth.v2 import calibration
from dataset_conversion.synth.v2.ceiling import generator_ceiling
from poserec_experiments import benchmark, ceilings, significance
from poserec_experiments.runner import ResultStore, RunSpec, dumps_json, read_stored_result, stored_result_problem
from poserec_experiments.worker import per_unit_values

METRICS = ("recall@5", "ndcg@5", "recall@10", "ndcg@10", "recall@20", "ndcg@20")


def per_unit(rng, n_windows=30, n_videos=6, level=0.3, ids_order=None):
    """Per-unit values of every metric around ``level`` (windows w00.., videos v0..)."""
    def block(ids):
        ids = list(ids) if ids_order is None else [ids[i] for i in ids_order(len(ids))]
        return {"ids": ids} | {m: list(np.round(np.clip(rng.normal(level, 0.1, len(ids)), 0, 1), 6)) for m in METRICS}

    return {"window": block([f"w{i:02d}" for i in range(n_windows)]), "video": block([f"v{i}" for i in range(n_videos)])}


def stored(spec: RunSpec, units: dict | None, budget=None, video=True) -> dict:
    """A stored result as the runner writes it; its aggregated figures are the per-unit means."""
    result = {"status": "ok", "spec": spec.to_dict(), "key": spec.key, "fingerprint": spec.fingerprint(),
              "train_seconds": 3.0, "test_seconds": 1.0, "wall_seconds": 6.0,
              "timing": {"train_epochs": 2, "train_step_seconds": 0.1},
              "budget": budget or {"epochs": 5, "stopping_step": 3, "eval_step": 1, "video_aggregation": "mean"}}
    if units is None:  # stored before video-level evaluation existed
        return result | {"test_result": {m: 0.1 for m in METRICS}}
    result["test_result"] = {m: float(np.mean(units["window"][m])) for m in METRICS}
    if video:
        result["test_video_result"] = {m: float(np.mean(units["video"][m])) for m in METRICS}
        result["test_per_unit"] = units
    else:
        result["test_per_unit"] = {"window": units["window"]}
    return result


def spec(model="PoseRec", seed=2022, level="ins") -> RunSpec:
    return RunSpec(study="benchmark", level=level, variant=model, model=model, dataset="d", seed=seed, data_path="/x")


# ------------------------------------------------------------------------------------- store and worker


def test_store_accepts_per_unit_fields_and_results_without_them(tmp_path):
    rng = np.random.default_rng(0)
    result = stored(spec(), per_unit(rng))
    assert stored_result_problem(result) is None
    assert stored_result_problem(stored(spec(), None)) is None  # today's results: no video fields
    assert stored_result_problem(result | {"test_video_result": None, "test_per_unit": None}) is None
    path = tmp_path / "r.json"
    path.write_text(dumps_json(result))
    assert read_stored_result(path)["test_per_unit"]["video"]["ids"] == [f"v{i}" for i in range(6)]
    assert len(path.read_text().splitlines()) < 100  # a per-unit list is one line, not one line per value


@pytest.mark.parametrize("damage, message", [
    (lambda r: r["test_per_unit"]["window"]["ndcg@10"].pop(), "is not a list of 30 values"),
    (lambda r: r["test_per_unit"]["video"]["recall@5"].__setitem__(2, None), "holds None, not a finite number"),
    (lambda r: r["test_per_unit"]["video"]["ids"].__setitem__(1, "v0"), "is not a list of distinct strings"),
    (lambda r: r["test_per_unit"].__setitem__("frame", r["test_per_unit"]["video"]), "is not a protocol"),
    (lambda r: r["test_video_result"].__setitem__("ndcg@10", 0.9), "has mean"),
    (lambda r: r["test_video_result"].__setitem__("ndcg@10", "x"), "not a finite number"),
    (lambda r: r.__setitem__("test_per_unit", []), "is not a JSON object"),
])
def test_store_rejects_malformed_per_unit_fields(damage, message):
    result = stored(spec(), per_unit(np.random.default_rng(1)))
    damage(result)
    problem = stored_result_problem(result)
    assert problem is not None and message in problem


def test_a_stored_nan_in_a_per_unit_list_is_one_error_naming_the_file(tmp_path):
    text = dumps_json(stored(spec(), per_unit(np.random.default_rng(2)))).replace('"ndcg@10": [', '"ndcg@10": [NaN, ', 1)
    path = tmp_path / "ins-PoseRec-seed2022.json"
    path.write_text(text)
    with pytest.raises(DataError, match="ins-PoseRec-seed2022.json: is not valid JSON"):
        read_stored_result(path)


def test_worker_stores_per_unit_values_as_json_with_six_decimals():
    values = per_unit_values({"window": {"ids": np.array(["a", "b"]), "ndcg@10": np.array([1 / 3, 0.5])},
                              "video": None})
    assert values == {"window": {"ids": ["a", "b"], "ndcg@10": [0.333333, 0.5]}}
    assert json.loads(json.dumps(values)) == values and per_unit_values(None) is None


# ------------------------------------------------------------------------------------------ significance


def test_holm_against_a_hand_example():
    # sorted: 0.005 x 4 = 0.02, 0.01 x 3 = 0.03, 0.03 x 2 = 0.06, 0.04 x 1 = 0.04 -> raised to 0.06 (monotone)
    assert significance.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert significance.holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])  # capped at 1
    assert significance.holm([0.2]) == pytest.approx([0.2]) and len(significance.holm([])) == 0


def test_signed_rank_test_is_scipys_two_sided_wilcoxon_with_the_direction():
    rng = np.random.default_rng(3)
    model = pd.Series(rng.uniform(0, 0.5, 40), index=[f"u{i}" for i in range(40)])
    reference = model + rng.normal(0.08, 0.05, 40)  # better on most units
    outcome = significance.signed_rank_test(reference, model)
    expected = stats.wilcoxon((reference - model).to_numpy(), alternative="two-sided")
    assert outcome["p_value"] == pytest.approx(expected.pvalue) and outcome["statistic"] == expected.statistic
    assert outcome["better"] == "reference" and outcome["mean_difference"] > 0 and outcome["p_value"] < 1e-4
    flipped = significance.signed_rank_test(model, reference)
    assert flipped["better"] == "model" and flipped["p_value"] == pytest.approx(outcome["p_value"])
    # pairing is by id: the same units in another order give the same test
    shuffled = model.sample(frac=1.0, random_state=1)
    assert significance.signed_rank_test(reference, shuffled) == outcome
    tie = significance.signed_rank_test(model, model.copy())
    assert tie["better"] == "tie" and tie["p_value"] == 1.0 and tie["statistic"] is None


def test_seeds_are_averaged_per_unit_and_missing_units_are_left_out_and_counted():
    rng = np.random.default_rng(4)
    reference = [stored(spec("PoseRec", s), per_unit(rng, level=0.5)) for s in (1, 2)]
    model = [stored(spec("Pop", s), per_unit(rng, level=0.3)) for s in (1, 2)]
    del_window = model[1]["test_per_unit"]["window"]
    for name in del_window:  # unit w05 is missing from one of Pop's runs
        del del_window[name][5]
    means, left_out, seeds_ref, seeds_model = significance.paired_unit_means(reference, model, "window", "ndcg@10")
    assert left_out == 1 and "w05" not in means.index and len(means) == 29 and (seeds_ref, seeds_model) == (2, 2)
    hand = np.mean([reference[0]["test_per_unit"]["window"]["ndcg@10"][7],
                    reference[1]["test_per_unit"]["window"]["ndcg@10"][7]])
    assert means.loc["w07", "reference"] == pytest.approx(hand)
    # one of the runs in another unit order: the same pairs
    permuted = json.loads(json.dumps(model))
    order = np.random.default_rng(5).permutation(len(permuted[0]["test_per_unit"]["window"]["ids"]))
    permuted[0]["test_per_unit"]["window"] = {k: [v[i] for i in order]
                                              for k, v in permuted[0]["test_per_unit"]["window"].items()}
    again = significance.paired_unit_means(reference, permuted, "window", "ndcg@10")[0]
    pd.testing.assert_frame_equal(again, means)


def test_compare_models_tests_every_model_and_holm_corrects_within_level_and_protocol():
    rng = np.random.default_rng(6)
    levels = {"PoseRec": 0.5, "Pop": 0.3, "FM": 0.48}
    results = [stored(spec(m, s), per_unit(rng, level=v)) for m, v in levels.items() for s in (1, 2, 3)]
    results.append(stored(spec("Random", 1), None))  # no per-unit values: not tested, said so
    comparisons = significance.compare_models(results, ["ins"], ["window", "video"], ["Random", "Pop", "FM", "PoseRec"])
    by_key = {(c.protocol, c.model): c for c in comparisons}
    assert set(by_key) == {(p, m) for p in ("window", "video") for m in ("Random", "Pop", "FM")}
    pop = by_key[("window", "Pop")]
    means = significance.paired_unit_means([r for r in results if r["spec"]["model"] == "PoseRec"],
                                           [r for r in results if r["spec"]["model"] == "Pop"], "window", "ndcg@10")[0]
    direct = stats.wilcoxon(means["reference"] - means["model"], alternative="two-sided")
    assert pop.p_value == pytest.approx(direct.pvalue) and pop.better == "PoseRec" and pop.units == 30
    fm = by_key[("window", "FM")]
    assert sorted([pop.p_holm, fm.p_holm]) == pytest.approx(sorted(significance.holm([pop.p_value, fm.p_value])))
    assert by_key[("video", "Random")].p_value is None and "no per-unit values" in by_key[("video", "Random")].note
    text = significance.significance_markdown(comparisons, {"ins": "Ins Rec"}, benchmark.PROTOCOL_LABELS)
    assert "| Ins Rec | window level | Pop | 30 (0) | 3 / 3 |" in text and "No test (no per-unit values" in text


# ------------------------------------------------------------------------------------------------ ceilings


def test_ranking_metrics_are_recboles_recall_and_ndcg(monkeypatch):
    from recbole.evaluator.metrics import NDCG, Recall

    monkeypatch.setattr(np, "float", np.float64, raising=False)  # RecBole's NDCG uses it (the plug-in's Config sets it)
    rng = np.random.default_rng(7)
    keys, positives = rng.random((25, 40)), (rng.random((25, 40)) < 0.15).astype(float)
    positives[:, 0] = 1.0  # every unit has a positive
    ranking = np.argsort(-keys, axis=1, kind="stable")
    pos_index = np.take_along_axis(positives, ranking, axis=1).astype(bool)
    pos_len = positives.sum(axis=1).astype(int)
    config = {"topk": [5, 10, 20], "metric_decimal_place": 6}
    ours = calibration.ranking_metrics(keys, positives, np.ones(25))
    for name, metric in (("recall", Recall(config)), ("ndcg", NDCG(config))):
        table = metric.metric_info(pos_index, pos_len)
        for k in (5, 10, 20):
            assert ours[f"{name}@{k}"] == pytest.approx(table[:, k - 1].mean())


def test_subcategory_oracle_of_the_converted_files_is_the_calibration_oracle_of_the_raw_data(small_dataset_dir):
    raw = calibration.read_raw_tables(small_dataset_dir.raw_dir)
    for name, level in ((small_dataset_dir.name, "instance"), (small_dataset_dir.cat_name, "category")):
        meta = benchmark.read_meta(small_dataset_dir.data_path, name)
        oracle = ceilings.subcategory_oracle(small_dataset_dir.data_path / name, name, meta)
        for protocol in ("window", "video"):
            expected = calibration.popularity_metrics(raw, level, protocol, within_subcategory=True)
            assert oracle.figures[protocol] == pytest.approx(expected), (name, protocol)
    assert ceilings.subcategory_oracle(small_dataset_dir.data_path / "x", "x", {"split": {"protocol": "window"}}).reason


def test_generator_ceiling_row_is_the_generators_ceiling_and_deterministic(small_dataset_dir):
    name = small_dataset_dir.name
    meta = benchmark.read_meta(small_dataset_dir.data_path, name)
    row = ceilings.generator_ceiling_row(small_dataset_dir.data_path / name, name, meta, draws=20)
    source = meta["synthetic_source"]
    direct = generator_ceiling(calibration.read_raw_tables(small_dataset_dir.raw_dir), source["seed"],
                               int(source["generator_version"].split(".")[0]), n_draws=20)
    assert row.figures["window"]["ndcg@10"] == direct["instance_ndcg@10"]
    assert row.figures["video"]["recall@20"] == direct["instance_recall@20_per_video"]
    assert ceilings.generator_ceiling_row(small_dataset_dir.data_path / name, name, meta, draws=20).figures == row.figures
    cat = ceilings.generator_ceiling_row(small_dataset_dir.data_path / small_dataset_dir.cat_name,
                                         small_dataset_dir.cat_name,
                                         benchmark.read_meta(small_dataset_dir.data_path, small_dataset_dir.cat_name),
                                         draws=20)
    assert cat.figures["window"]["ndcg@10"] == direct["category_ndcg@10"]
    assert "synthetic data only" in ceilings.generator_ceiling_row(small_dataset_dir.data_path, name, {}).reason
    derived = meta | {"synthetic_source": source | {"derived": {"keep_items_fraction": 0.2}}}
    assert "derived" in ceilings.generator_ceiling_row(small_dataset_dir.data_path / name, name, derived).reason


# ------------------------------------------------------------------------------------------ the benchmark


def test_poseknn_is_benchmarked_with_nothing_to_train_and_budgets_follow_the_device(tmp_path):
    assert "PoseKNN" in benchmark.MODELS and "PoseKNN" in benchmark.FIXED_BUDGET_MODELS
    cpu = benchmark.build_parser().parse_args(["--data-path", str(tmp_path)])
    cpu.seeds, cpu.models = 1, list(benchmark.MODELS)
    gpu = benchmark.build_parser().parse_args(["--data-path", str(tmp_path), "--device", "cuda"])
    gpu.seeds, gpu.models = 1, list(benchmark.MODELS)
    assert benchmark.budget_name(cpu) == "cpu" and benchmark.budget_name(gpu) == "converged"
    cpu_specs = {s.model: s for s in benchmark.build_specs(cpu, tmp_path) if s.level == "ins"}
    gpu_specs = {s.model: s for s in benchmark.build_specs(gpu, tmp_path) if s.level == "ins"}
    assert cpu_specs["PoseRec"].config == {"epochs": 5, "stopping_step": 3, "eval_step": 1, "learning_rate": 0.001}
    assert {s.study for s in gpu_specs.values()} == {"benchmark-converged"}
    for model in ("FM", "DeepFM", "NeuMF", "AFN", "FRNet", "PoseRec"):  # PoseRec keeps PoseRec.yaml's lr
        assert gpu_specs[model].config == {"epochs": 200, "stopping_step": 5, "eval_step": 1}, model
    assert cpu_specs["PoseKNN"].config == gpu_specs["PoseKNN"].config == {}


@pytest.fixture
def crafted_store(small_dataset_dir, tmp_path):
    """Stored results of PoseRec, Pop and PoseKNN (2 seeds, ins level) with per-unit values, and an old-style
    Random run without them, under ``tmp_path/out/runs/benchmark``."""
    out = tmp_path / "out"
    argv = ["--report-only", "--models", "Random", "Pop", "PoseKNN", "PoseRec", "--levels", "ins", "--seeds", "2",
            "--data-path", str(small_dataset_dir.data_path), "--ins-dataset", small_dataset_dir.name, "--out", str(out)]
    args = benchmark.build_parser().parse_args(argv)
    args.seeds, args.models = 2, ["Random", "Pop", "PoseKNN", "PoseRec"]
    store = ResultStore(out / "runs" / "benchmark")
    rng = np.random.default_rng(8)
    level = {"Pop": 0.2, "PoseKNN": 0.35, "PoseRec": 0.4}
    for s in benchmark.build_specs(args, small_dataset_dir.data_path.resolve()):
        store.save(s, stored(s, None if s.model == "Random" else per_unit(rng, level=level[s.model])))
    return argv, out, store


def test_report_shows_both_protocols_ceilings_and_p_values(crafted_store, capsys):
    argv, out, _ = crafted_store
    assert benchmark.main(argv) == 0
    with open(out / "table1.csv", newline="") as handle:
        table = list(csv.DictReader(handle))
    assert list(table[0]) == ["level", "protocol", "model", "metric", "mean", "std", "seeds"]
    assert {(r["protocol"], r["model"]) for r in table} == (
        {("window", m) for m in ("Random", "Pop", "PoseKNN", "PoseRec")} | {("video", m) for m in ("Pop", "PoseKNN", "PoseRec")})
    md = (out / "table1.md").read_text()
    assert "## Window level" in md and "## Video level" in md and "**Training budget: `cpu`**" in md
    assert "**No video-level figures** stored for 2 run(s)" in md and "ins-Random-seed2022" in md
    video = md.split("## Video level")[1].split("**Ceilings**")[0]
    oracle_rows = [line for line in video.splitlines() if line.startswith("| oracle: ")]
    assert len(oracle_rows) == 2 and not any("**" in line for line in oracle_rows)
    assert video.index("*oracles: use metadata no model may see") < video.index("| oracle: subcategory")
    assert video.index("| PoseRec |") < video.index("*oracles:")
    assert "alternative=\"less\"" in md and "| Ins Rec | video level | Pop | 6 (0) | 2 / 2 |" in md
    ceiling_csv = list(csv.DictReader(open(out / "ceilings.csv", newline="")))
    assert {(r["protocol"], r["ceiling"]) for r in ceiling_csv} == {
        (p, c) for p in ("window", "video") for c in ("subcategory", "generator")}
    sig = list(csv.DictReader(open(out / "significance.csv", newline="")))
    assert {(r["protocol"], r["model"]) for r in sig} == {(p, m) for p in ("window", "video")
                                                         for m in ("Random", "Pop", "PoseKNN")}
    pop = next(r for r in sig if r["protocol"] == "window" and r["model"] == "Pop")
    assert pop["better"] == "PoseRec" and float(pop["p_value"]) < 0.05 and pop["units"] == "30"
    assert benchmark.main(argv + ["--protocols", "video"]) == 0  # one protocol: the other is not reported
    assert {r["protocol"] for r in csv.DictReader(open(out / "table1.csv", newline=""))} == {"video"}


def test_a_table_of_runs_of_different_budgets_is_refused_and_nothing_is_written(crafted_store, capsys):
    argv, out, store = crafted_store
    path = store.root / "ins-PoseRec-seed2023.json"
    result = json.loads(path.read_text())
    result["budget"]["epochs"] = 200  # e.g. PoseRec.yaml edited between the seeds: same fingerprint
    path.write_text(dumps_json(result))
    assert benchmark.run_main(benchmark.main, argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "PoseRec's stored runs ran under different budgets" in err[0]
    assert not (out / "table1.md").exists() and not (out / "table1.csv").exists()
    result["budget"]["epochs"] = 5
    result["spec"]["study"] = "benchmark-converged"
    path.write_text(dumps_json(result))
    assert benchmark.run_main(benchmark.main, argv) == 2
    assert "was run under the 'benchmark-converged' budget, not 'benchmark'" in capsys.readouterr().err


def test_readme_section_shows_both_protocols_with_the_ceilings_and_the_p_values(crafted_store, tmp_path, monkeypatch):
    from poserec_experiments import readme as readme_module

    argv, out, _ = crafted_store
    readme = tmp_path / "README.md"
    readme.write_text("a\n<!-- results:start -->\nOLD-SECTION\n<!-- results:end -->\nb\n", encoding="utf-8")
    monkeypatch.setattr(benchmark, "writes_repository_results", lambda out: True)
    monkeypatch.setattr(benchmark, "replace_section", lambda name, body: readme_module.replace_section(name, body, readme))
    assert benchmark.main(argv) == 0
    section = readme.read_text(encoding="utf-8")
    assert "OLD-SECTION" not in section and "(training budget `cpu`)" in section
    assert "**Window level**" in section and "**Video level**" in section
    assert section.count("| oracle: subcategory frequency |") == 2 and section.count("| oracle: generator ceiling |") == 2
    assert "| Ins Rec | window level | Pop | 30 (0) | 2 / 2 |" in section
    assert "### The paper's Table 1" in section and section.endswith("<!-- results:end -->\nb\n")
