"""The computed verdicts of the README's "Ablations" section, on hand-made aggregated rows."""

from __future__ import annotations

import pytest

from poserec_experiments.studies import STUDIES, Study, Variant
from poserec_experiments.verdicts import Better, StudyResults, judge, verdicts


def row(variant, mean, std=0.0, seeds=1, level="ins", metric="ndcg@10"):
    return {"level": level, "variant": variant, "metric": metric, "mean": mean, "std": std, "seeds": seeds}


def timing(variant, step, level="ins", std=float("nan")):
    return {"level": level, "variant": variant, "step_seconds_mean": step, "step_seconds_std": std}


def test_judge_uses_the_yardstick_both_ways():
    assert judge(0.03, 0.02) == "holds"
    assert judge(-0.03, 0.02) == "contradicts"
    assert judge(0.01, 0.02) == "not seen" and judge(-0.01, 0.02) == "not seen"
    assert judge(0.001, None) == "holds"  # no seed spread: the sign alone


def test_triplet_verdicts_compare_with_twice_the_base_spread_and_time_the_mining():
    study = STUDIES["triplet"]
    rows = [row(study.base, 0.10, std=0.01, seeds=3), row("w/o L_triple", 0.07),  # drop 0.03 > 2 x 0.01
            row(study.base, 0.40, std=0.02, seeds=3, level="cat"), row("w/o L_triple", 0.38, level="cat")]
    timings = [timing("w L_triple (pose_threshold p=0.5)", 0.5, std=0.01), timing("w L_triple (pose_fraction 0.5)", 0.6),
               timing("w L_triple (hard)", 0.55)]
    lines = verdicts(StudyResults(study, rows, timings))
    assert lines[0].startswith("**holds** (ins): L_triple helps") and "yardstick ±0.0200" in lines[0]
    assert lines[1].startswith("**not seen** (cat)")  # 0.02 < 2 x 0.02
    assert len(lines) == 4  # no hard-mining rows: no false-negative verdicts
    assert lines[2].startswith("**holds** (ins): pose-aware mining is cheaper") and "ratio 0.91" in lines[2]
    assert "yardstick ±20 ms" in lines[2]  # 2 x the base's 10 ms step-time spread over seeds
    assert lines[3].startswith("**contradicts** (ins)")  # 0.6 s > 0.55 s + 0.02 s
    rows.append(row("w L_triple (hard)", 0.05))
    assert verdicts(StudyResults(study, rows, timings))[2].startswith("**holds** (ins): negatives from dissimilar")


def test_layers_verdict_names_the_best_depth():
    study = STUDIES["layers"]
    rows = [row("L=1", 0.05), row("L=2", 0.09), row("L=3", 0.06, std=0.005, seeds=3), row("L=4", 0.07)]
    (line,) = verdicts(StudyResults(study, rows, []))
    assert line.startswith("**contradicts** (ins): L = 3 is the best: L = 3 0.0600 vs the best other depth, L = 2, "
                           "0.0900 (difference -0.0300; yardstick ±0.0100")
    rows[2] = row("L=3", 0.095, std=0.005, seeds=3)  # best, but by less than the yardstick
    assert verdicts(StudyResults(study, rows, []))[0].startswith("**not seen** (ins)")


def test_factor_verdict_ranks_the_drops():
    study = STUDIES["factors"]
    scores = {"name": 0.05, "usage": 0.099, "size": 0.06, "shape": 0.12, "color": 0.1, "material": 0.07,
              "style": 0.1, "pattern": 0.1, "description": 0.1}
    rows = [row("none removed", 0.10, std=0.005, seeds=3)] + [row(f"-{k}", v) for k, v in scores.items()]
    lines = verdicts(StudyResults(study, rows, []))
    assert lines[0].startswith("**holds** (ins): the most important factors") and "name -0.0500" in lines[0]
    assert lines[1].startswith("**holds** (ins): shape is a misleading factor")


def test_items_verdict_and_spearman():
    study = STUDIES["items"]
    rows = [row("20%", 0.30), row("60%", 0.15), row("100%", 0.10, std=0.01, seeds=3)]
    (line,) = verdicts(StudyResults(study, rows, []))
    assert line.startswith("**holds** (ins)") and "Spearman rank correlation of share and NDCG@10 -1.00 over 3" in line
    rows = [row("20%", 0.01), row("40%", 0.03), row("60%", 0.02), row("100%", 0.04, std=0.001, seeds=3)]
    (line,) = verdicts(StudyResults(study, rows, []))  # ranks of the scores 1 3 2 4 over the shares' 1 2 3 4
    assert line.startswith("**contradicts** (ins)") and "NDCG@10 +0.80 over 4 shares" in line
    rows[1] = row("40%", 0.02)  # tied scores share their mean rank (scipy): 1 2.5 2.5 4
    assert "NDCG@10 +0.95 over 4 shares" in verdicts(StudyResults(study, rows, []))[0]


def test_a_study_refuses_a_finding_on_a_variant_it_does_not_have():
    variants = (Variant("a"), Variant("b"))
    assert Study("s", "t", "p", "d", variants, (Better("a helps", "a", "b"),), base="a").findings
    with pytest.raises(ValueError, match=r"study s names variants it does not have: \['c'\]"):
        Study("s", "t", "p", "d", variants, (Better("a helps", "a", "c"),), base="a")


def test_only_studies_judging_step_times_show_them_in_the_readme():
    assert {name for name, study in STUDIES.items() if study.judges_step_time} == {"triplet", "frames"}


def test_no_rows_no_verdicts():
    for study in STUDIES.values():
        assert verdicts(StudyResults(study, [], [])) == []
