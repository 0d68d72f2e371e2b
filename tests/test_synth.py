"""Tests of the synthetic Pose-OBE generator (dataset_conversion.synth)."""

import json

import numpy as np
import pandas as pd
import pytest

from dataset_conversion.layout import ANNOTATION_COLUMNS, GROUPS, ITEM_COLUMNS, NUM_CHANNELS, NUM_LANDMARKS
from dataset_conversion.synth import count_windows, generate_raw_dataset, plan_videos
from dataset_conversion.synth.generate import GENERATOR_VERSIONS
from dataset_conversion.synth.catalogue import GROUP_COUNTS, STYLE_WORDS, group_sizes
from dataset_conversion.synth.motions import motion_dofs, sample_motion_params
from dataset_conversion.synth.skeleton import BONES, JOINT_LIMITS, forward_kinematics, sample_body
from dataset_conversion.synth.taxonomy import CATEGORY_OF, SUBCATEGORIES

SMALL = dict(seed=0, n_videos=42, n_items=120)  # 3 videos per subcategory
V1 = dict(generator_version=1)  # this file tests generator v1 (tests/test_synth_v2.py: v2, the default)
ASPECT = 9.0 / 16.0  # frame width / height of the generated (portrait) videos


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth") / "raw"
    summary = generate_raw_dataset(root, **SMALL, **V1)
    return root, summary


def _tables(root):
    return (pd.read_csv(root / "videos.csv"), pd.read_csv(root / "items.csv"), pd.read_csv(root / "annotations.csv"))


def _poses(root, video_id):
    return np.load(root / "poses" / f"{video_id}.npy")


def test_files_columns_and_summary(raw):
    root, summary = raw
    videos, items, annotations = _tables(root)
    assert list(videos.columns) == ["video_id", "category", "subcategory", "source"]
    assert list(items.columns) == list(ITEM_COLUMNS)
    assert list(annotations.columns) == list(ANNOTATION_COLUMNS)
    assert len(videos) == SMALL["n_videos"] and len(items) == SMALL["n_items"]
    assert videos.video_id.is_unique and items.item_id.is_unique
    assert videos.video_id.iloc[0] == "v0001" and items.item_id.str.fullmatch(r"i\d{4}").all()
    assert (videos.source == "synthetic").all()
    assert set(videos.subcategory) == set(SUBCATEGORIES)
    assert (videos.category == videos.subcategory.map(CATEGORY_OF)).all()
    assert sorted(p.name for p in (root / "poses").iterdir()) == sorted(f"{v}.npy" for v in videos.video_id)
    marker = json.loads((root / "SYNTHETIC.json").read_text())
    assert marker == summary
    assert marker["synthetic"] is True and marker["generator"] == "dataset_conversion.synth"
    assert marker["generator_version"] == GENERATOR_VERSIONS[1] == "1.0.0"
    assert {k: marker[k] for k in SMALL} == SMALL and (marker["window"], marker["step"]) == (10, 5)
    assert marker["n_windows"] == count_windows(0, SMALL["n_videos"], 10, 5)
    assert marker["n_windows"] == sum((len(_poses(root, v)) - 10 + 4) // 5 for v in videos.video_id)


def test_pose_arrays_follow_mediapipe_convention(raw):
    root, _ = raw
    videos, _, _ = _tables(root)
    lengths = []
    for video_id in videos.video_id:
        poses = _poses(root, video_id)
        assert poses.dtype == np.float32 and poses.shape[1:] == (NUM_LANDMARKS, NUM_CHANNELS)
        assert np.isfinite(poses).all()
        lengths.append(len(poses))
        xy = poses[..., :2]
        assert ((xy >= 0) & (xy <= 1)).mean() > 0.98
        assert ((xy > -0.2) & (xy < 1.2)).all()
        z = poses[..., 2]
        assert np.abs(z).max() < 1.5
        hip_mid_z = poses[:, [23, 24], 2].mean(axis=1)
        assert np.abs(hip_mid_z).mean() < 0.02 and np.abs(hip_mid_z).max() < 0.1  # z is relative to the hip midpoint
        visibility = poses[..., 3]
        assert ((visibility >= 0) & (visibility <= 1)).all()
        assert np.median(visibility) > 0.9 and visibility.min() < 0.9
        # Nose above the hips, shoulders above the knees (y grows downwards), in most frames.
        assert (poses[:, 0, 1] < poses[:, 23, 1]).mean() > 0.9
        assert (poses[:, 11, 1] < poses[:, 25, 1]).mean() > 0.9
    assert min(lengths) >= 150 and max(lengths) <= 600 and len(set(lengths)) > 10


def test_bone_lengths_are_constant_within_a_video(raw):
    root, _ = raw
    videos, _, _ = _tables(root)
    variation = []
    for video_id in videos.video_id:
        poses = _poses(root, video_id).astype(float)
        points = poses[..., :3] * np.array([ASPECT, 1.0, ASPECT])  # all three in frame-height units
        for name in ("left_upper_arm", "right_upper_arm", "left_thigh", "right_thigh"):
            i, j = BONES[name]
            seen = (poses[:, i, 3] > 0.5) & (poses[:, j, 3] > 0.5)
            length = np.linalg.norm(points[seen, i] - points[seen, j], axis=-1)
            variation.append(length.std() / length.mean())
    assert np.median(variation) < 0.06
    assert np.max(variation) < 0.2


def test_forward_kinematics_keeps_bones_rigid_and_joints_in_range():
    rng = np.random.default_rng(1)
    for subcategory in SUBCATEGORIES:
        params = sample_motion_params(subcategory, rng.uniform(), rng)
        dofs, grounded = motion_dofs(subcategory, 90, params, rng)
        for name, values in dofs.items():
            limit = JOINT_LIMITS.get(name.split(".")[-1])
            if limit is not None:
                assert limit[0] - 1e-9 <= values.min() and values.max() <= limit[1] + 1e-9, (subcategory, name)
        world = forward_kinematics(dofs, sample_body(rng), grounded)
        for i, j in BONES.values():
            length = np.linalg.norm(world[:, i] - world[:, j], axis=-1)
            assert np.ptp(length) < 1e-9
        if grounded:
            feet = world[:, 27:33, 1].min(axis=1)
            assert np.allclose(feet, dofs["root_y"])  # standing on the floor, apart from jumps and bounces


def test_annotations(raw):
    root, _ = raw
    videos, items, annotations = _tables(root)
    per_video = annotations.groupby("video_id").size()
    assert set(per_video.index) == set(videos.video_id)
    assert per_video.between(3, 10).all()
    assert not annotations.duplicated(["video_id", "item_id"]).any()
    assert annotations.item_id.isin(items.item_id).all()
    assert annotations.score.between(-1, 1).all()
    assert annotations.score.mean() > 0.3 and (annotations.score > 0).mean() > 0.75
    assert annotations.score.min() < 0.3  # some weak choices, not a constant


def test_items_follow_table_3(raw):
    root, _ = raw
    _, items, _ = _tables(root)
    counts = items.group.value_counts()
    assert set(counts.index) == set(GROUPS)
    total = sum(GROUP_COUNTS.values())
    for group in GROUPS:
        assert abs(counts[group] - SMALL["n_items"] * GROUP_COUNTS[group] / total) <= 1
    assert group_sizes(1087) == GROUP_COUNTS
    assert items["name"].duplicated().any()  # several instances of the same kind
    for factor in ITEM_COLUMNS[1:-1]:
        assert items[factor].notna().all() and (items[factor].str.len() > 0).all()
    same_name = items[items["name"] == items["name"].value_counts().index[0]]
    assert len(same_name.drop_duplicates(subset=list(ITEM_COLUMNS[2:-1]))) == len(same_name)


def test_item_choice_depends_on_motion_style(raw):
    """Within a subcategory, videos get different items, and the style of their items (read from the
    item text) follows how fast and large the motion is (measured on the poses)."""
    root, _ = raw
    videos, items, annotations = _tables(root)
    tier_of_word = {word: tier for tier, words in STYLE_WORDS.items() for word in words}
    item_tier = dict(zip(items.item_id, items["style"].map(tier_of_word)))
    annotations["tier"] = annotations.item_id.map(item_tier)
    videos["item_tier"] = videos.video_id.map(annotations.groupby("video_id").tier.mean())
    item_sets = annotations.groupby("video_id").item_id.apply(frozenset)
    videos["items"] = videos.video_id.map(item_sets)

    def intensity(video_id):
        poses = _poses(root, video_id).astype(float)
        points = poses[..., :2] * np.array([ASPECT, 1.0])
        size = np.linalg.norm(points[:, 11] - points[:, 23], axis=-1).mean()
        moving = points[:, [15, 16, 27, 28]]
        return np.linalg.norm(moving[5:] - moving[:-5], axis=-1).mean() / size

    videos["intensity"] = videos.video_id.map(intensity)
    styles = {plan.video_id: plan.style for plan in plan_videos(SMALL["seed"], SMALL["n_videos"])}
    videos["latent_style"] = videos.video_id.map(styles)

    distinct = videos.groupby("subcategory")["items"].nunique()
    assert (distinct > 1).mean() > 0.8

    def within_subcategory_rank(column):
        return videos.groupby("subcategory")[column].rank()

    item_rank = within_subcategory_rank("item_tier")
    assert np.corrcoef(within_subcategory_rank("latent_style"), item_rank)[0, 1] > 0.6
    assert np.corrcoef(within_subcategory_rank("intensity"), item_rank)[0, 1] > 0.3


def test_same_seed_same_bytes_other_seed_differs(tmp_path, raw):
    root, _ = raw
    again = tmp_path / "again"
    generate_raw_dataset(again, **SMALL, **V1)
    for name in ("videos.csv", "items.csv", "annotations.csv", "SYNTHETIC.json", "poses/v0001.npy", "poses/v0042.npy"):
        assert (again / name).read_bytes() == (root / name).read_bytes(), name
    other = tmp_path / "other"
    generate_raw_dataset(other, **{**SMALL, "seed": 1}, **V1)
    for name in ("items.csv", "annotations.csv", "poses/v0001.npy"):
        assert (other / name).read_bytes() != (root / name).read_bytes(), name


def test_existing_directory_is_replaced_and_bad_arguments_leave_it_alone(tmp_path):
    from dataset_conversion.errors import DataError

    target = tmp_path / "raw"
    target.mkdir()
    (target / "stale.txt").write_text("old")
    with pytest.raises(DataError, match="not written by this command"):  # not ours: kept unless force
        generate_raw_dataset(target, seed=3, n_videos=2, n_items=60)
    assert [p.name for p in target.iterdir()] == ["stale.txt"]
    generate_raw_dataset(target, seed=3, n_videos=2, n_items=60, force=True)
    assert not (target / "stale.txt").exists() and (target / "videos.csv").exists()
    generate_raw_dataset(target, seed=4, n_videos=2, n_items=60)  # an earlier synth output: replaced
    before = (target / "annotations.csv").read_bytes()
    with pytest.raises(ValueError):
        generate_raw_dataset(target, seed=3, n_videos=0, n_items=60)
    assert (target / "annotations.csv").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["raw"]  # no temporary leftovers


def test_default_size_window_count_matches_the_paper():
    n_windows = count_windows(0, 212, 10, 5)
    assert abs(n_windows - 14281) <= 0.1 * 14281
    plans = plan_videos(0, 212)
    assert [p.subcategory for p in plans].count("eating") in (15, 16)
    assert {p.category for p in plans} == {"daily action", "sports", "art"}
    assert count_windows(0, 424, 10, 5) == pytest.approx(2 * n_windows, rel=0.1)


def test_synth_command_line_writes_the_raw_layout(tmp_path):
    from dataset_conversion.__main__ import main

    raw = tmp_path / "raw"
    assert main(["synth", "--raw", str(raw), "--seed", "3", "--videos", "4", "--items", "40"]) == 0
    assert (raw / "videos.csv").read_text().count("\n") == 5  # header + 4 videos
    assert len(list((raw / "poses").glob("*.npy"))) == 4
    assert '"seed": 3' in (raw / "SYNTHETIC.json").read_text()
