"""PoseRec's training variants (issue 16): the authors' triplet and mining, the softmax label loss, the score
scale, known negatives, pose augmentation and the text item bias; each checked for what it claims, plus one run with
all of them."""

import math
from collections import Counter
from pathlib import Path

import pytest
import torch
from recbole.data.interaction import Interaction

from dataset_conversion.errors import DataError
from dataset_conversion.pose_normalisation import LEFT_HIP, LEFT_SHOULDER, RIGHT_HIP, RIGHT_SHOULDER
from recbole_poserec.config import PROPERTIES_DIR, Config
from recbole_poserec.data.dataloader import data_preparation
from recbole_poserec.data.dataset import create_dataset
from recbole_poserec.inference.checkpoint_scorer import CheckpointScorer, load_checkpoint_scorer
from recbole_poserec.inference.new_items import with_item_factors
from recbole_poserec.model.augmentation import augment_windows, hip_midpoints, shift_frames
from recbole_poserec.model.losses import label_loss, softmax_label_loss, triplet_loss
from recbole_poserec.model.mining import donor_windows, negative_candidates, select_negative_scores
from recbole_poserec.model.poserec import VARIANT_DEFAULTS, PoseRec, popularity_prior, read_variant_settings
from recbole_poserec.property_files import model_properties
from recbole_poserec.quick_start import run_recbole

DATASET_PROPERTIES = f"{PROPERTIES_DIR}/dataset/pose-obe.yaml"
ALL_VARIANTS = {"triplet_hinge": False, "triplet_margin": 2.0, "mining": "authors", "label_loss": "softmax",
                "score_scale": 10.0, "learn_score_scale": True, "known_negatives": True,
                "train_nonpositive_as_negatives": True, "augment_rotation": 30.0, "augment_scale": 0.2,
                "augment_time_shift": 2, "item_bias": "text"}


# ----------------------------------------------------------------------------- the YAML and its checks
def test_the_yaml_holds_every_variant_at_the_papers_behaviour():
    properties = model_properties("PoseRec")
    assert {key: properties[key] for key in VARIANT_DEFAULTS} == VARIANT_DEFAULTS
    assert properties["mining"] == "pose_threshold" and properties["triplet_margin"] == 0.2


class _Settings(dict):
    def __missing__(self, key):  # as RecBole's Config: an unset key reads None
        return None


@pytest.mark.parametrize("key, value, needle", [
    ("triplet_hinge", "no", "triplet_hinge must be True or False"),
    ("label_loss", "bpr", "label_loss must be one of bce, softmax"),
    ("score_scale", 0.0, "score_scale must be a positive number"),
    ("score_scale", math.inf, "score_scale must be a positive number"),
    ("learn_score_scale", 1, "learn_score_scale must be True or False"),
    ("known_negatives", "yes", "known_negatives must be True or False"),
    ("augment_rotation", -5.0, "augment_rotation must be a number of degrees in [0, 180]"),
    ("augment_scale", 1.0, "augment_scale must be a number in [0, 1)"),
    ("augment_time_shift", 1.5, "augment_time_shift must be a non-negative integer"),
    ("item_bias_init", "prior", "item_bias_init must be one of zero, popularity"),
    ("item_bias_init", "popularity", "item_bias_init: popularity needs item_bias: item"),
    ("mining", "nearest", "mining must be one of pose_threshold, pose_fraction, random, hard, authors"),
    ("known_negatives", True, "known_negatives: True needs train_nonpositive_as_negatives: True"),
    ("train_nonpositive_as_negatives", True, "train_nonpositive_as_negatives: True needs known_negatives: True"),
])
def test_each_setting_is_checked_with_one_line_naming_it(key, value, needle):
    settings = _Settings({"mining": "pose_threshold", "train_nonpositive_as_negatives": False, key: value})
    with pytest.raises(ValueError) as caught:
        read_variant_settings(settings)
    assert needle in str(caught.value) and "\n" not in str(caught.value)


def test_unset_settings_take_the_papers_defaults():
    assert read_variant_settings(_Settings(mining="hard")) == VARIANT_DEFAULTS


def test_run_recbole_turns_a_bad_setting_into_a_one_line_data_error(small_dataset_dir, tmp_path):
    with pytest.raises(DataError) as caught:
        run_recbole(model="PoseRec", dataset=small_dataset_dir.name, config_file_list=[DATASET_PROPERTIES],
                    config_dict={"data_path": str(small_dataset_dir.data_path), "checkpoint_dir": str(tmp_path),
                                 "state": "WARNING", "label_loss": "hinge"})
    assert "label_loss must be one of bce, softmax" in str(caught.value) and "\n" not in str(caught.value)


# ----------------------------------------------------------------------------- the authors' triplet term
def test_triplet_without_hinge_is_the_authors_formula_and_can_go_negative():
    scores = torch.tensor([[0.9, 0.5, 0.6, 0.1],
                           [0.2, 0.8, 0.7, -0.9],
                           [0.3, 0.3, 0.3, 0.3]])
    positives = torch.tensor([[True, True, False, False],
                              [False, True, False, False],
                              [False, False, False, False]])
    mined = torch.tensor([0.6, -0.9, 0.9])
    has_negative = torch.ones(3, dtype=torch.bool)
    # window 0: 0.6 - 0.5 + 0.2 = 0.3; window 1: -0.9 - 0.8 + 0.2 = -1.5; window 2 has no positive
    loss = triplet_loss(scores, positives, mined, has_negative, margin=0.2, hinge=False)
    assert loss.item() == pytest.approx((0.3 - 1.5) / 2, abs=1e-6) and loss.item() < 0
    assert triplet_loss(scores, positives, mined, has_negative, margin=0.2).item() == pytest.approx(0.15, abs=1e-6)
    # the margin only shifts the value: the gradient is the same for 0.2 and the authors' 2.0
    gradients = []
    for margin in (0.2, 2.0):
        leaf = scores.clone().requires_grad_(True)
        value = triplet_loss(leaf, positives, mined, has_negative, margin=margin, hinge=False)
        value.backward()
        gradients.append(leaf.grad)
    assert torch.equal(gradients[0], gradients[1])
    shifted = triplet_loss(scores, positives, mined, has_negative, margin=2.0, hinge=False)
    assert shifted.item() == pytest.approx(loss.item() + 1.8, abs=1e-6)


# ----------------------------------------------------------------------------- the authors' mining
def test_authors_mining_draws_one_donor_from_the_least_similar_half():
    videos = torch.tensor([0, 1, 2, 3, 4, 0])
    embeddings = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.5, 0.5], [0.1, 0.9], [-1.0, 0.0], [1.0, 0.05]])
    half = donor_windows(videos, embeddings, "pose_fraction", fraction=0.5)
    assert half[0].tolist() == [False, False, False, True, True, False]  # 2 of the 4 other videos' windows
    generator = torch.Generator().manual_seed(0)
    drawn = torch.zeros(6, 6)
    for _ in range(200):
        donors = donor_windows(videos, embeddings, "authors", fraction=0.5, generator=generator)
        assert (donors.sum(dim=1) == 1).all()  # exactly one donor per window
        assert not (donors & ~half).any()  # only ever from the least similar half
        drawn += donors.float()
    assert ((drawn > 0) == half).all()  # each of the half is drawn sometime: a random choice, not a fixed one
    assert drawn[0, 3] == pytest.approx(100, abs=30)


def test_authors_negative_is_the_hardest_of_the_donors_positives_outside_the_own_video():
    videos = torch.tensor([7, 8, 9])
    positives = torch.zeros(3, 6, dtype=torch.bool)
    positives[0, [0, 1]] = True
    positives[1, [1, 2, 3]] = True   # item 1 shared with video 7
    positives[2, [4, 5]] = True
    donors = torch.tensor([[False, True, False], [False, False, True], [True, False, False]])
    candidates = negative_candidates(videos, positives, donors)
    assert candidates[0].tolist() == [False, False, True, True, False, False]  # donor 1's, minus item 1
    scores = torch.tensor([[0.0, 0.0, 0.4, 0.7, 0.9, 0.9]] * 3)
    negative, has_negative = select_negative_scores(scores, candidates, "authors")
    assert negative.tolist() == pytest.approx([0.7, 0.9, 0.0]) and has_negative.all()


# ----------------------------------------------------------------------------- the softmax label loss
def test_softmax_label_loss_is_a_cross_entropy_without_the_other_positives():
    scores = torch.tensor([[0.0, 1.0, 0.5, -1.0, 2.0],
                           [0.0, 0.2, 0.1, 0.3, -0.4]])
    positives = torch.tensor([[False, True, False, False, True],
                              [False, False, False, True, False]])
    row_windows, row_items = torch.tensor([0, 0, 1]), torch.tensor([1, 4, 3])
    loss = softmax_label_loss(scores, positives, row_windows, row_items, excluded_items=torch.tensor([0]))
    # row (0, 1): item 4 (the other positive) and item 0 (padding) leave the denominator: items 1, 2, 3
    row_0_1 = -1.0 + math.log(math.exp(1.0) + math.exp(0.5) + math.exp(-1.0))
    row_0_4 = -2.0 + math.log(math.exp(2.0) + math.exp(0.5) + math.exp(-1.0))
    row_1_3 = -0.3 + math.log(math.exp(0.2) + math.exp(0.1) + math.exp(0.3) + math.exp(-0.4))
    assert loss.item() == pytest.approx((row_0_1 + row_0_4 + row_1_3) / 3, abs=1e-6)


# ----------------------------------------------------------------------------- the model: scale, negatives, augmentation
@pytest.fixture(scope="module")
def data(small_dataset_dir, tmp_path_factory):
    checkpoint_dir = tmp_path_factory.mktemp("variants-saved")

    def config(**overrides):
        settings = {"data_path": str(small_dataset_dir.data_path), "checkpoint_dir": str(checkpoint_dir),
                    "show_progress": False, "state": "WARNING", **overrides}
        return Config(model="PoseRec", dataset=small_dataset_dir.name, config_file_list=[DATASET_PROPERTIES],
                      config_dict=settings)

    default = config()
    train_data, _, test_data = data_preparation(default, create_dataset(default))
    batch = next(iter(train_data))
    windows = torch.unique(batch["window_id"])[:12]
    batch = batch[torch.isin(batch["window_id"], windows).nonzero().squeeze(1)]
    return config, train_data._dataset, batch, next(iter(test_data))[0]


def _model(data, **overrides):
    config, dataset, _, _ = data
    torch.manual_seed(0)
    return PoseRec(config(**overrides), dataset)


def test_score_scale_changes_the_label_loss_but_not_the_ranking(data):
    _, _, batch, test_batch = data
    plain, scaled = _model(data), _model(data, score_scale=5.0)
    for model in (plain, scaled):
        model.eval()  # batch norms on running statistics, so both see the same embeddings
    with torch.no_grad():
        plain_loss, scaled_loss = plain.calculate_loss(batch), scaled.calculate_loss(batch)
        assert scaled_loss[2].item() != pytest.approx(plain_loss[2].item(), abs=1e-4)
        assert torch.equal(plain_loss[0], scaled_loss[0]) and torch.equal(plain_loss[1], scaled_loss[1])
        scores = plain.full_sort_predict(test_batch)
        assert torch.equal(scores, scaled.full_sort_predict(test_batch))  # predict returns the unscaled Eq. 7
        rows = scores.reshape(len(test_batch), -1)
        assert torch.equal(rows.argsort(dim=1, stable=True), (5.0 * rows).argsort(dim=1, stable=True))


def test_learned_score_scale_starts_at_score_scale_and_gets_a_gradient(data):
    _, _, batch, _ = data
    for label in ("bce", "softmax"):
        model = _model(data, score_scale=4.0, learn_score_scale=True, label_loss=label)
        assert model.score_scale().item() == pytest.approx(4.0)
        assert "log_score_scale" in dict(model.named_parameters())  # the optimizer sees it
        model.train()
        sum(model.calculate_loss(batch)).backward()
        assert model.log_score_scale.grad is not None and model.log_score_scale.grad.abs().item() > 0
    assert "log_score_scale" not in dict(_model(data).named_parameters())


def _with_known_negatives(model, batch):
    """``batch`` plus one label-0 row per window: an item outside the window's video's positives."""
    windows = torch.unique(batch["window_id"])
    same_video = model.window_videos[windows][:, None] == model.window_videos[batch["window_id"]][None, :]
    video_items = (same_video.float() @ torch.nn.functional.one_hot(batch["item_id"], model.n_items).float()) > 0
    video_items[:, 0] = True
    known_items = (~video_items).float().argmax(dim=1)
    extra = Interaction({"window_id": windows, "item_id": known_items, "label": torch.zeros(len(windows)),
                         "neg_item_id": batch["neg_item_id"][:len(windows)]})
    plain = Interaction({key: batch[key] for key in ("window_id", "item_id", "label", "neg_item_id")})
    return plain, Interaction({key: torch.cat([plain[key], extra[key]]) for key in plain.columns}), extra


@pytest.mark.parametrize("label", ["bce", "softmax"])
def test_known_negatives_enter_the_label_loss_and_never_the_positives(data, label):
    _, _, batch, _ = data
    settings = {"known_negatives": True, "train_nonpositive_as_negatives": True, "mining": "hard",
                "label_loss": label}
    model = _model(data, **settings)
    model.eval()
    plain, with_known, extra = _with_known_negatives(model, batch)
    assert (plain["label"] == 1).all()
    with torch.no_grad():
        without, withk = model.calculate_loss(plain), model.calculate_loss(with_known)
        assert torch.equal(without[0], withk[0])  # L_triple: the positive mask and the mining are unchanged
        if label == "softmax":  # the known negatives were in the catalogue's denominator already
            assert withk[2].item() == pytest.approx(without[2].item(), abs=1e-6)
        else:
            scores = model.predict(with_known)
            negatives = model.predict(Interaction({"window_id": with_known["window_id"],
                                                   "item_id": with_known["neg_item_id"]}))
            known = with_known["label"] == 0
            expected = label_loss(scores[~known], torch.cat([negatives, scores[known]]))
            assert withk[2].item() == pytest.approx(expected.item(), abs=1e-6)
            assert withk[2].item() != pytest.approx(without[2].item(), abs=1e-4)
    # without known_negatives the same rows would be positives: the setting is what keeps them out
    paper = _model(data, mining="hard")
    paper.eval()
    with torch.no_grad():
        assert len(extra) > 0 and not torch.equal(paper.calculate_loss(with_known)[0], withk[0])
    assert PoseRec.learns_known_negatives is True


def test_the_datasets_known_negatives_reach_the_label_loss(data):
    config, _, _, _ = data
    settings = config(known_negatives=True, train_nonpositive_as_negatives=True, mining="hard")
    train_data, _, _ = data_preparation(settings, create_dataset(settings))
    batch = next(iter(train_data))
    known = batch["label"] == 0
    assert known.any() and (~known).any()  # the train split keeps the label-0 rows beside the positives
    torch.manual_seed(0)
    model = PoseRec(settings, train_data._dataset)
    model.eval()
    with torch.no_grad():
        full, positives_only = model.calculate_loss(batch), model.calculate_loss(batch[(~known).nonzero().squeeze(1)])
    assert torch.equal(full[0], positives_only[0])  # L_triple never sees them
    assert full[2].item() != pytest.approx(positives_only[2].item(), abs=1e-4)  # L_label does


def _windows(batch=5, frames=10, seed=0):
    generator = torch.Generator().manual_seed(seed)
    poses = torch.rand(batch, frames, 33, 4, generator=generator, dtype=torch.float64)
    poses[..., :3] += torch.arange(batch, dtype=torch.float64).view(-1, 1, 1, 1)  # each window elsewhere
    return poses


def _torso_lengths(poses):
    shoulder = poses[:, :, [LEFT_SHOULDER, RIGHT_SHOULDER], :3].mean(dim=2)
    hip = poses[:, :, [LEFT_HIP, RIGHT_HIP], :3].mean(dim=2)
    return (shoulder - hip).norm(dim=-1)


def test_rotation_keeps_hips_torso_lengths_heights_and_visibility():
    poses = _windows()
    rotated = augment_windows(poses, rotation=90.0, generator=torch.Generator().manual_seed(1))
    assert not torch.allclose(rotated, poses)
    assert torch.allclose(hip_midpoints(rotated), hip_midpoints(poses), atol=1e-12)
    assert torch.allclose(_torso_lengths(rotated), _torso_lengths(poses), atol=1e-12)
    def distances(windows):  # between every two landmarks of a window, over all its frames
        points = windows[..., :3].flatten(1, 2)
        return torch.cdist(points, points, compute_mode="donot_use_mm_for_euclid_dist")

    assert torch.allclose(distances(rotated), distances(poses), atol=1e-12)  # a rigid motion
    assert torch.allclose(rotated[..., 1], poses[..., 1], atol=1e-12)  # about the vertical axis: heights stay
    assert torch.equal(rotated[..., 3], poses[..., 3])


def test_scale_keeps_hips_and_visibility_and_scales_within_its_range():
    poses = _windows()
    scaled = augment_windows(poses, scale=0.2, generator=torch.Generator().manual_seed(2))
    assert torch.allclose(hip_midpoints(scaled), hip_midpoints(poses), atol=1e-12)
    assert torch.equal(scaled[..., 3], poses[..., 3])
    ratio = (scaled[..., :3] - hip_midpoints(poses)) / (poses[..., :3] - hip_midpoints(poses))
    factors = ratio.flatten(1).median(dim=1).values
    assert torch.allclose(ratio, factors.view(-1, 1, 1, 1).expand_as(ratio), atol=1e-9)  # one factor a window
    assert ((factors >= 0.8) & (factors <= 1.2)).all() and len(set(factors.tolist())) == len(poses)


def test_time_shift_moves_whole_frames_clamped_at_the_ends():
    poses = _windows(batch=64)
    shifted = shift_frames(poses, 3, generator=torch.Generator().manual_seed(3))
    # frame t of window b is input frame clamp(t + s_b) for one s_b in [-3, 3]
    matches = torch.stack([(shifted == poses[:, (torch.arange(10) + shift).clamp(0, 9)]).flatten(1).all(dim=1)
                           for shift in range(-3, 4)])  # (7 shifts, 64 windows)
    assert matches.any(dim=0).all()  # every window is one clamped shift of itself, visibility included
    assert matches.any(dim=1).all()  # and over 64 windows every shift in [-3, 3] occurs
    assert (matches[0] & ~matches[1]).any()  # a shift of -3: the first frame repeats at the start


def test_no_augmentation_returns_the_input_itself():
    poses = _windows()
    assert augment_windows(poses) is poses


def test_augmentation_reaches_training_only(data):
    _, _, batch, test_batch = data
    model = _model(data, augment_rotation=45.0, augment_scale=0.3, augment_time_shift=2)
    seen, encode = [], model.network.video_embeddings

    def recording(poses):
        seen.append(poses.clone())
        return encode(poses)

    model.network.video_embeddings = recording
    model.train()
    model.calculate_loss(batch)
    with torch.no_grad():
        model.full_sort_predict(test_batch)
        model.eval()
        model.calculate_loss(batch)
    raw_train = model.window_poses[torch.unique(batch["window_id"])]
    assert not torch.allclose(seen[0], raw_train)  # the training step's input is augmented
    same_frame = (seen[0][:, :, None, :, 3] == raw_train[:, None, :, :, 3]).all(dim=-1)  # (B, T, T)
    assert same_frame.any(dim=2).all()  # each augmented frame carries a raw frame's visibility
    assert torch.equal(seen[1], model.window_poses[test_batch["window_id"]])  # never at prediction
    assert torch.equal(seen[2], raw_train)  # nor in eval mode


# ----------------------------------------------------------------------------- the text item bias
def _with_bias_weights(model):
    """``model`` with its text bias set off zero (it starts at zero), reproducibly."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        model.network.text_bias.weight.copy_(torch.randn(model.network.text_bias.weight.shape, generator=generator))
        model.network.text_bias.bias.fill_(0.25)
    return model


def test_the_text_item_bias_starts_at_eq7_and_is_a_linear_read_of_the_merged_factors(data):
    _, _, batch, test_batch = data
    plain, biased = _model(data), _model(data, item_bias="text")
    assert plain.network.item_bias() is None and plain.network.text_bias is None
    for model in (plain, biased):
        model.eval()
    with torch.no_grad():
        assert torch.equal(biased.network.item_bias(), torch.zeros(plain.n_items))
        assert torch.allclose(biased.full_sort_predict(test_batch), plain.full_sort_predict(test_batch), atol=1e-6)
        _with_bias_weights(biased)
        network = biased.network
        descriptions = torch.einsum("nfd,f->nd", network.item_factors, network.item_side.factor_weights)
        bias = descriptions @ network.text_bias.weight[0] + 0.25
        assert torch.allclose(network.item_bias(), bias, atol=1e-5) and bias.std() > 0.1
        biased.train()
        biased.eval()  # a new evaluation pass: the cached item matrix and bias are recomputed
        rows = biased.full_sort_predict(test_batch).reshape(len(test_batch), -1)
        assert torch.allclose(rows, plain.full_sort_predict(test_batch).reshape(len(test_batch), -1) + bias, atol=1e-5)
        pairs = Interaction({"window_id": test_batch["window_id"].repeat_interleave(3),
                             "item_id": torch.tensor([1, 2, 5]).repeat(len(test_batch))})
        expected = rows[torch.arange(len(test_batch)).repeat_interleave(3), pairs["item_id"]]
        assert torch.allclose(biased.predict(pairs), expected, atol=1e-5)


@pytest.mark.parametrize("label", ["bce", "softmax"])
def test_the_text_item_bias_is_trained_by_the_label_loss(data, label):
    _, _, batch, _ = data
    model = _with_bias_weights(_model(data, item_bias="text", label_loss=label))
    plain = _model(data, label_loss=label)
    for each in (model, plain):
        each.eval()
    with torch.no_grad():
        assert model.calculate_loss(batch)[2].item() != pytest.approx(plain.calculate_loss(batch)[2].item(), abs=1e-4)
    model.train()
    model.calculate_loss(batch)[2].backward()
    assert model.network.text_bias.weight.grad.abs().sum() > 0 and model.network.text_bias.bias.grad.abs() > 0


def test_a_checkpoint_scorer_and_new_items_carry_the_text_bias(data):
    _, _, _, test_batch = data
    model = _with_bias_weights(_model(data, item_bias="text"))
    model.eval()
    names = [str(i) for i in range(1, model.n_items)]
    scorer = CheckpointScorer(path=Path("in-memory.pth"), network=model.network, item_names=names, item_tokens=names)
    windows = model.window_poses[test_batch["window_id"]]
    with torch.no_grad():
        expected = model.full_sort_predict(test_batch).reshape(len(test_batch), -1)[:, 1:]
        assert torch.allclose(scorer.score_windows(windows), expected, atol=1e-5)
        # an item added after training: its bias comes from its own factors
        view = with_item_factors(model.network, 1, model.network.item_factors[1:].flip(0))
        assert torch.allclose(view.item_bias()[1:], model.network.item_bias()[1:].flip(0), atol=1e-6)
        assert model.network.item_factors.data_ptr() != view.item_factors.data_ptr()


# ----------------------------------------------------------------------------- end to end
def test_one_epoch_with_every_variant_on(small_dataset_dir, tmp_path):
    result = run_recbole(model="PoseRec", dataset=small_dataset_dir.name, config_file_list=[DATASET_PROPERTIES],
                         config_dict={"data_path": str(small_dataset_dir.data_path), "epochs": 1,
                                      "checkpoint_dir": str(tmp_path), "state": "WARNING",
                                      "train_windows_per_batch": 16, **ALL_VARIANTS})
    metrics = result["test_result"]
    assert set(metrics) == {f"{m}@{k}" for m in ("recall", "ndcg") for k in (5, 10, 20)}
    assert all(0.0 <= value <= 1.0 for value in metrics.values())
    assert {key: result["config"][key] for key in ALL_VARIANTS} == ALL_VARIANTS
    state = torch.load(result["checkpoint"], weights_only=True)["state_dict"]
    assert torch.isfinite(state["log_score_scale"]) and state["log_score_scale"].item() != math.log(10.0)
    scorer = load_checkpoint_scorer(result["checkpoint"])  # the network alone: the scale is training-only
    assert scorer.network.item_bias() is not None and state["network.text_bias.weight"].abs().sum() > 0


# ----------------------------------------------------------------------------- the free per-item bias
def test_the_free_item_bias_starts_at_eq7_and_adds_one_trained_value_per_item(data):
    _, _, batch, test_batch = data
    plain, biased = _model(data, label_loss="softmax"), _model(data, item_bias="item", label_loss="softmax")
    assert biased.network.text_bias is None and biased.network.free_bias.shape == (plain.n_items,)
    for model in (plain, biased):
        model.eval()
    with torch.no_grad():
        assert torch.allclose(biased.full_sort_predict(test_batch), plain.full_sort_predict(test_batch), atol=1e-6)
    biased.train()
    biased.calculate_loss(batch)[2].backward()
    gradient = biased.network.free_bias.grad
    assert gradient[1:].abs().sum() > 0 and gradient[0] == 0  # the padding item is never a softmax class
    biased.eval()  # the training pass moved its batch norms' statistics: Eq. 7 alone is read again
    with torch.no_grad():
        eq7 = biased.full_sort_predict(test_batch).reshape(len(test_batch), -1)
        bias = torch.linspace(-1.0, 1.0, plain.n_items)
        biased.network.free_bias.copy_(bias)
    biased.train()
    biased.eval()  # a new evaluation pass: the cached item matrix and bias are read again
    with torch.no_grad():
        rows = biased.full_sort_predict(test_batch).reshape(len(test_batch), -1)
        assert torch.allclose(rows, eq7 + bias, atol=1e-5)
        pairs = Interaction({"window_id": test_batch["window_id"].repeat_interleave(2),
                             "item_id": torch.tensor([1, 4]).repeat(len(test_batch))})
        expected = rows[torch.arange(len(test_batch)).repeat_interleave(2), pairs["item_id"]]
        assert torch.allclose(biased.predict(pairs), expected, atol=1e-5)


def test_a_checkpoint_keeps_the_free_bias_and_a_new_item_gets_the_catalogues_mean(data):
    model = _model(data, item_bias="item")
    with torch.no_grad():
        model.network.free_bias.copy_(torch.arange(model.n_items, dtype=torch.float32))
    rebuilt = type(model.network).from_hyper_parameters(model.network.item_factors, data[0](item_bias="item"))
    rebuilt.load_state_dict(model.network.state_dict())
    assert torch.equal(rebuilt.item_bias(), model.network.item_bias())
    new_factors = model.network.item_factors[1:3]
    view = with_item_factors(model.network, model.n_items, new_factors)
    catalogue_mean = torch.arange(1, model.n_items, dtype=torch.float32).mean()
    assert torch.equal(view.item_bias()[:model.n_items], model.network.item_bias())
    assert torch.allclose(view.item_bias()[model.n_items:], catalogue_mean.expand(2))
    only_new = with_item_factors(model.network, 1, new_factors)
    assert only_new.item_bias().shape == (3,) and model.network.free_bias.shape == (model.n_items,)
    assert only_new.item_matrix().shape[0] == 3


# ----------------------------------------------------------------------------- the free bias started at popularity
def test_the_popularity_prior_makes_the_scaled_softmax_the_add_one_training_frequency():
    items = torch.tensor([1, 1, 1, 2, 3, 3, 5])  # item 4 never occurs; 0 is the padding item
    prior = popularity_prior(items, 6, score_scale=10.0)
    counts = torch.tensor([3.0, 1.0, 2.0, 0.0, 1.0])  # items 1..5
    assert torch.allclose(torch.softmax(10.0 * prior[1:], 0), (counts + 1) / (counts + 1).sum(), atol=1e-6)
    assert abs(prior[1:].mean().item()) < 1e-6 and prior[0] == prior[4]  # centred; unseen like padding
    assert torch.allclose(popularity_prior(items, 6, score_scale=1.0), 10.0 * prior, atol=1e-6)


def test_the_free_bias_starts_at_the_training_splits_positive_counts(data):
    _, dataset, _, _ = data
    model = _model(data, item_bias="item", item_bias_init="popularity", label_loss="softmax", score_scale=10.0)
    rows = zip(dataset.inter_feat["item_id"].tolist(), dataset.inter_feat["label"].tolist())
    counts = Counter(item for item, label in rows if label > 0)
    bias = model.network.free_bias.detach()
    most, least = max(counts, key=counts.get), min(counts, key=counts.get)
    assert counts[most] > counts[least] and bias[most] > bias[least]
    expected = (math.log1p(counts[most]) - math.log1p(counts[least])) / 10.0
    assert bias[most] - bias[least] == pytest.approx(expected, abs=1e-5)
    assert torch.equal(_model(data, item_bias="item").network.free_bias, torch.zeros(model.n_items))
