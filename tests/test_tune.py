"""The validation search (poserec_experiments.tune) and the benchmark's tuned rows."""

from __future__ import annotations

import argparse
import csv

import pytest
import yaml

from poserec_experiments import benchmark, tune


def _scores(**ndcg):
    """Validation scores by variant name; keyword ``x__y`` stands for ``x y``, ``as_configured`` for the base."""
    names = {"as_configured": tune.BASE}
    return {names.get(key, key.replace("__", " ")): (value, 0.0, value, 1) for key, value in ndcg.items()}


def test_stage_two_combines_the_best_winner_of_each_group_and_leaves_each_out():
    scores = _scores(as_configured=0.10, hip_torso=0.20, hip_torso_yaw=0.15, softmax__s10=0.12,
                     bce__s5__learned=0.11, augment=0.13, authors__mining=0.05)
    second = tune.stage_two(scores, "PoseRec")
    names = [name for _, name, _ in second]
    assert names[0] == "hip_torso + softmax s10 + augment"  # best of each group that beat the base, in group order
    assert names[1:4] == ["softmax s10 + augment", "hip_torso + augment", "hip_torso + softmax s10"]
    # each other group's best added to the winners (groups without a stage-1 run are skipped)
    assert names[4:] == ["hip_torso + softmax s10 + augment + authors mining"]
    assert second[0][2] == {"pose_normalisation": "hip_torso", "label_loss": "softmax", "score_scale": 10.0,
                            "augment_rotation": 15.0, "augment_scale": 0.1, "augment_time_shift": 1}
    assert all(stage == "2" for stage, _, _ in second)


def test_stage_two_with_one_winner_adds_the_others_and_needs_the_base():
    second = tune.stage_two(_scores(as_configured=0.1, hip_torso=0.2, softmax__s10=0.05), "PoseRec")
    assert [name for _, name, _ in second] == ["hip_torso + softmax s10"]
    assert tune.stage_two(_scores(as_configured=0.3, hip_torso=0.2, softmax__s10=0.05), "PoseRec") == []
    assert tune.stage_two(_scores(hip_torso=0.2, softmax__s10=0.3), "PoseRec") == []


def test_a_change_within_the_bases_spread_over_seeds_is_no_winner():
    scores = _scores(hip_torso=0.115, softmax__s10=0.13, augment=0.105)
    scores[tune.BASE] = (0.10, 0.02, 0.10, 3)  # the model as configured: mean 0.10, std 0.02 over 3 seeds
    assert tune.winner_threshold(scores) == pytest.approx(0.12)
    names = [name for _, name, _ in tune.stage_two(scores, "PoseRec")]
    assert names == ["softmax s10 + hip_torso", "softmax s10 + augment"]  # one winner; the others added in turn
    scores[tune.BASE] = (0.10, 0.02, 0.10, 1)  # one seed: no spread, beating the mean is enough
    assert tune.winner_threshold(scores) == pytest.approx(0.10)
    assert [name for _, name, _ in tune.stage_two(scores, "PoseRec")][0] == "hip_torso + softmax s10 + augment"


def test_refinement_moves_around_the_best_run_so_far_and_skips_combinations_already_run():
    scores = _scores(as_configured=0.10, hip_torso=0.20, softmax__s10=0.15, augment=0.12, authors__mining=0.05)
    variants = [("1", name, {}) for name in scores] + [("2", "hip_torso + softmax s10", {})]
    scores["hip_torso + softmax s10"] = (0.25, 0.0, 0.25, 1)
    third = tune.refinement(scores, "PoseRec", variants, "3")
    # leaving one out gives stage-1 runs (already run); each other group's stage-1 best is added
    assert [name for _, name, _ in third] == ["hip_torso + softmax s10 + authors mining",
                                              "hip_torso + softmax s10 + augment"]  # in group order
    assert third[1][2] == {"pose_normalisation": "hip_torso", "label_loss": "softmax", "score_scale": 10.0,
                           "augment_rotation": 15.0, "augment_scale": 0.1, "augment_time_shift": 1}
    assert all(stage == "3" for stage, _, _ in third)
    # a best run of three: each left out is new unless run before in another order
    variants += third + [("3", "softmax s10 + hip_torso + augment", {})]
    scores["hip_torso + softmax s10 + augment"] = (0.30, 0.0, 0.30, 1)
    fourth = [name for _, name, _ in tune.refinement(scores, "PoseRec", variants, "4")]
    assert fourth == ["softmax s10 + augment", "hip_torso + augment", "hip_torso + softmax s10 + augment + authors mining"]
    # nothing new around the best run, or the model as configured best: the search stops
    variants += [("4", name, {}) for name in fourth]
    assert tune.refinement(scores, "PoseRec", variants, "5") == []
    assert tune.refinement(_scores(as_configured=0.3, hip_torso=0.2), "PoseRec", [("1", tune.BASE, {}),
                                                                                 ("1", "hip_torso", {})], "3") == []


def test_the_profile_is_the_finalist_with_the_best_mean_over_the_base_seeds():
    scores = _scores(as_configured=0.10, hip_torso=0.20, softmax__s10=0.19, augment=0.18, authors__mining=0.17)
    variants = [("1", name, {}) for name in scores]
    assert [name for _, name, _ in tune.finalists(scores, variants)] == ["hip_torso", "softmax s10", "augment"]
    # the model as configured is a finalist when it is among the best (a baseline no change helps)
    assert tune.finalists(scores | {tune.BASE: (0.3, 0.0, 0.3, 1)}, variants)[0][1] == tune.BASE
    scores["hip_torso"] = (0.15, 0.04, 0.15, 3)  # after the confirmation: its first seed was its best
    scores["softmax s10"] = (0.18, 0.01, 0.18, 3)
    scores["augment"] = (0.17, 0.01, 0.17, 3)
    assert tune.choose(scores, variants, ["hip_torso", "softmax s10", "augment"])[1] == "softmax s10"
    # a one-seed run outside the finalists is not chosen, though its one figure beats the finalists' means
    scores["authors mining"] = (0.185, 0.0, 0.185, 1)
    assert tune.choose(scores, variants, ["hip_torso", "softmax s10", "augment"])[1] == "softmax s10"
    assert tune.choose(scores, variants, [])[1] == "authors mining"  # no finalists: the best run
    assert tune.choose({}, variants, []) is None


def test_a_profile_keeps_the_search_budgets_learning_rate_unless_the_run_chose_one():
    budget = {"epochs": 40, "stopping_step": 5, "learning_rate": 0.001, "eval_step": 1}
    assert tune.profile_settings(budget, {"label_loss": "softmax"}) == {"learning_rate": 0.001, "label_loss": "softmax"}
    assert tune.profile_settings(budget, {"learning_rate": 0.0003}) == {"learning_rate": 0.0003}
    assert tune.profile_settings({"epochs": 5}, {"pose_normalisation": "hip_torso"}) == {"pose_normalisation": "hip_torso"}


def test_the_search_runs_the_model_as_configured_on_base_seeds_and_a_check_on_seeds():
    args = argparse.Namespace(model="PoseRec", epochs=None, stopping_step=None, eval_step=None, overrides=[],
                              seeds=1, base_seeds=3, first_seed=2022, data_path="dataset/", window_step=20)
    seeds = [(s.variant, s.seed) for s in tune.specs_for(tune.stage_one("PoseRec")[:2], args, "d")]
    assert seeds == [(tune.BASE, 2022), (tune.BASE, 2023), (tune.BASE, 2024), ("authors triplet", 2022)]
    args.check = True
    assert [s.seed for s in tune.specs_for([("check", tune.BASE, {})], args, "d")] == [2022]


def test_baselines_search_the_pose_normalisations_and_a_rarely_validating_one_every_epochs_validation():
    names = [name for _, name, _ in tune.stage_one("FM")]  # FM's benchmark budget validates after epoch 5 only
    assert names == [tune.BASE, "hip_torso", "hip_torso_yaw", "validate every epoch"]
    assert tune.stage_one("FM")[-1][2] == {"eval_step": 1}
    assert [name for _, name, _ in tune.stage_one("PoseKNN")] == [tune.BASE, "hip_torso", "hip_torso_yaw"]
    assert len(tune.stage_one("PoseRec")) == len(tune.CANDIDATES) + 1


def test_search_runs_compute_no_test_figure():
    args = argparse.Namespace(model="FM", epochs=None, stopping_step=None, eval_step=None, overrides=["eval_batch_size=512"],
                              seeds=1, first_seed=2022, data_path="dataset/", window_step=20)
    specs = tune.specs_for(tune.stage_one("FM"), args, "pose-obe-step20")
    assert all(spec.config["eval_protocols"] == [] for spec in specs)
    assert specs[1].config["pose_normalisation"] == "hip_torso" and specs[1].model == "FM"
    assert len({spec.fingerprint() for spec in specs}) == len(specs)


def test_a_candidates_learning_rate_wins_over_the_search_budget():
    args = argparse.Namespace(model="PoseRec", epochs=None, stopping_step=None, eval_step=None, overrides=[],
                              seeds=1, first_seed=2022, data_path="dataset/", window_step=20)
    specs = {spec.variant: spec for spec in tune.specs_for(tune.stage_one("PoseRec"), args, "pose-obe-step20")}
    assert specs[tune.BASE].config["learning_rate"] == tune.BUDGET["train"]["learning_rate"] == 0.001
    assert specs["lr 3e-4"].config["learning_rate"] == 0.0003
    assert specs["lr 3e-4"].config["epochs"] == tune.BUDGET["train"]["epochs"]


def test_benchmark_tuned_row_layers_the_profile_over_the_budget(tmp_path, monkeypatch):
    profile = tmp_path / "PoseRec-tuned.yaml"
    profile.write_text(yaml.safe_dump({"pose_normalisation": "hip_torso", "learning_rate": 0.5}))
    monkeypatch.setattr(benchmark, "profile_path", lambda model: tmp_path / f"{model}-tuned.yaml")
    args = benchmark.build_parser().parse_args(["--models", "PoseRec", "PoseRec-tuned", "--seeds", "1",
                                                "--levels", "ins"])
    plain, tuned = benchmark.build_specs(args, tmp_path)
    assert (plain.variant, tuned.variant) == ("PoseRec", "PoseRec (tuned)")
    assert tuned.model == "PoseRec" and tuned.config["pose_normalisation"] == "hip_torso"
    assert plain.config["learning_rate"] == 0.001 and tuned.config["learning_rate"] == 0.5  # the profile wins
    assert tuned.config["epochs"] == plain.config["epochs"]  # the budget's epochs, which no profile sets
    assert tuned.fingerprint() != plain.fingerprint()
    assert benchmark.default_rows().count("PoseRec-tuned") == 1
    profile.write_text("{}\n")  # a search that kept the model as configured adds no row
    assert "PoseRec-tuned" not in benchmark.default_rows()


def test_a_budget_key_a_tuned_profile_sets_does_not_split_the_models_budget(tmp_path, monkeypatch):
    monkeypatch.setattr(benchmark, "profile_path", lambda model: tmp_path / f"{model}-tuned.yaml")
    (tmp_path / "AFN-tuned.yaml").write_text(yaml.safe_dump({"eval_step": 1}))

    def run(variant, key, **budget):
        return {"key": key, "spec": {"model": "AFN", "variant": variant, "study": "benchmark"},
                "budget": {"epochs": 5, "stopping_step": 5, "eval_step": 5} | budget}

    plain, tuned = run("AFN", "ins-AFN-seed2022"), run("AFN (tuned)", "ins-AFN_tuned-seed2022", eval_step=1)
    benchmark.check_one_budget([plain, tuned], "benchmark", tmp_path)  # the profile chose eval_step 1
    stale = run("AFN (tuned)", "ins-AFN_tuned-seed2023", eval_step=1, epochs=200)  # no profile sets epochs
    with pytest.raises(benchmark.DataError, match="AFN's stored runs ran under different budgets"):
        benchmark.check_one_budget([plain, tuned, stale], "benchmark", tmp_path)
    with pytest.raises(benchmark.DataError, match="different budgets"):  # the plain row has no profile
        benchmark.check_one_budget([plain, run("AFN", "ins-AFN-seed2023", eval_step=1)], "benchmark", tmp_path)


def test_benchmark_refuses_a_tuned_row_without_its_profile(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(benchmark, "profile_path", lambda model: tmp_path / f"{model}-tuned.yaml")
    with pytest.raises(SystemExit) as caught:
        benchmark.build_parser().parse_args(["--models", "FM-tuned"])
    assert caught.value.code == 2
    assert "no profile" in capsys.readouterr().err


def test_readme_section_lists_each_search_poserec_first(tmp_path):
    from poserec_experiments.aggregate import write_csv

    def log(model, rows):
        write_csv(tmp_path / f"{model}-search.csv", tune.CSV_HEADER,
                  [dict(zip(tune.CSV_HEADER, ["1", name, overrides, 1, value, 0.0, value, "6", chosen]))
                   for name, overrides, value, chosen in rows])

    log("FM", [(tune.BASE, "{}", 0.05, False), ("hip_torso", "{pose_normalisation: hip_torso}", 0.06, True)])
    log("PoseRec", [("no L_triple", "{triplet_weight: 0.0}", 0.13, True), (tune.BASE, "{}", 0.035, False)])
    lines = [line for line in tune.readme_section(tmp_path).splitlines() if line.startswith("| ") and "---" not in line]
    assert lines[1] == "| PoseRec | 0.0350 | no L_triple | `{triplet_weight: 0.0}` | 0.1300 | 2 |"
    assert lines[2] == "| FM | 0.0500 | hip_torso | `{pose_normalisation: hip_torso}` | 0.0600 | 2 |"


def test_readme_section_adds_the_checks_on_other_data(tmp_path):
    from poserec_experiments.aggregate import write_csv

    write_csv(tmp_path / "PoseRec-check-pose-obe-s1.csv", tune.CSV_HEADER,
              [dict(zip(tune.CSV_HEADER, ["check", name, "{}", 1, value, 0.0, value, "9", False]))
               for name, value in ((tune.TUNED, 0.2), (tune.BASE, 0.1))])
    section = tune.readme_section(tmp_path)
    assert "| PoseRec | `pose-obe-s1` | 0.1000 | 0.2000 |" in section
    assert "checked on other data" not in tune.readme_section(tmp_path / "empty")


def test_search_budget_reaches_early_stopping_and_the_log_says_which_runs_did_not():
    budget = tune.BUDGET["train"]
    assert budget["epochs"] > 4 * budget["stopping_step"] and budget["eval_step"] == 1
    args = argparse.Namespace(model="PoseRec", epochs=None, stopping_step=None, eval_step=None, overrides=[],
                              seeds=2, first_seed=2022, data_path="dataset/", window_step=20)
    assert tune.training_config(args) == budget | {"eval_protocols": []}
    specs = tune.specs_for([("1", tune.BASE, {}), ("1", "no L_triple", {"triplet_weight": 0.0})], args, "d")
    trained = dict(zip((s.key for s in specs), (7, budget["epochs"], 9)))
    summary = argparse.Namespace(results={key: {"timing": {"train_epochs": n}} for key, n in trained.items()})
    assert tune.epochs_trained(specs, summary, budget) == {tune.BASE: f"7, {budget['epochs']} (max)",
                                                           "no L_triple": "9"}


def test_check_needs_a_readable_profile_mapping(tmp_path):
    from dataset_conversion.errors import DataError

    args = argparse.Namespace(profile=str(tmp_path / "missing.yaml"))
    with pytest.raises(DataError, match="missing.yaml"):
        tune.check_variants(args)
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(DataError, match="mapping"):
        tune.check_variants(argparse.Namespace(profile=str(tmp_path / "list.yaml")))
    (tmp_path / "p.yaml").write_text("triplet_weight: 0.0\n")
    assert tune.check_variants(argparse.Namespace(profile=str(tmp_path / "p.yaml"))) == [
        ("check", tune.BASE, {}), ("check", tune.TUNED, {"triplet_weight": 0.0})]


def test_check_trains_both_variants_on_the_data_given_and_chooses_nothing(small_dataset_dir, tmp_path):
    profile = tmp_path / "PoseKNN-tuned.yaml"
    profile.write_text("pose_normalisation: hip_torso\n")
    before = profile.read_text()
    out = tmp_path / "out"
    argv = ["--model", "PoseKNN", "--check", "--profile", str(profile), "--window-step", "5", "--no-progress",
            "--data-path", str(small_dataset_dir.data_path), "--ins-dataset", small_dataset_dir.name,
            "--out", str(out), "--work-dir", str(tmp_path / "work")]
    assert tune.main(argv) == 0
    stem = f"PoseKNN-check-{small_dataset_dir.name}"
    with open(out / f"{stem}.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["variant"] for r in rows} == {tune.BASE, tune.TUNED} and not any(r["chosen"] == "True" for r in rows)
    assert {r["variant"]: r["overrides"] for r in rows}[tune.TUNED] == "{pose_normalisation: hip_torso}"
    assert "checked on" in (out / f"{stem}.md").read_text() and not (out / "PoseKNN-search.csv").exists()
    assert profile.read_text() == before
    assert sorted(p.name for p in (out / "runs" / f"tune-{stem}").glob("*.json")) == [
        "ins-as_configured-seed2022.json", "ins-tuned_profile-seed2022.json"]
