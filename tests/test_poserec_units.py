"""PoseRec's parts on tiny hand-made inputs: losses (values computed by hand), mining, scoring, ST-GCN."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from recbole_poserec.model.graph import BLAZEPOSE_EDGES, normalized_adjacency
from recbole_poserec.model.item_side import ItemSide
from recbole_poserec.model.losses import label_loss, prototype_loss, triplet_loss
from recbole_poserec.model.mining import donor_windows, negative_candidates, select_negative_scores
from recbole_poserec.model.network import PoseRecNetwork
from recbole_poserec.model.scoring import chunk_normalize, item_score_matrix, pair_scores, score_all_items
from recbole_poserec.model.stgcn import STGCN

REFERENCE_RELEASE = Path(__file__).resolve().parents[1].parent / "shared" / "reference-release"


# ----------------------------------------------------------------------------- losses by hand
def test_label_loss_values():
    # sigmoid(0) = 1/2 for both -> each term log 2
    assert label_loss(torch.tensor([0.0]), torch.tensor([0.0])).item() == pytest.approx(math.log(2), abs=1e-6)
    # -log sigmoid(1) and -log(1 - sigmoid(-1)) are both log(1 + e^-1)
    expected = math.log(1 + math.exp(-1))
    assert label_loss(torch.tensor([1.0]), torch.tensor([-1.0])).item() == pytest.approx(expected, abs=1e-6)


def test_prototype_loss_values():
    # cos(r1, r2) = 0, cos(r1, r3) = cos(r2, r3) = 1/sqrt(2): sum = sqrt(2)
    prototypes = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]])
    assert prototype_loss(prototypes).item() == pytest.approx(math.sqrt(2), abs=1e-6)
    assert prototype_loss(torch.tensor([[0.3, -0.1]])).item() == 0.0  # K = 1: no pair


def test_triplet_loss_values():
    scores = torch.tensor([[0.9, 0.5, 0.6, 0.1],
                           [0.2, 0.8, 0.7, 0.0],
                           [0.3, 0.3, 0.3, 0.3]])
    positives = torch.tensor([[True, True, False, False],
                              [False, True, False, False],
                              [False, False, False, False]])
    mined = torch.tensor([0.6, 0.0, 0.9])
    has_negative = torch.tensor([True, True, True])
    # window 0: max(0, 0.2 - min(0.9, 0.5) + 0.6) = 0.3; window 1: max(0, 0.2 - 0.8 + 0.0) = 0; window 2: no positive
    loss = triplet_loss(scores, positives, mined, has_negative, margin=0.2)
    assert loss.item() == pytest.approx(0.15, abs=1e-6)
    loss = triplet_loss(scores, positives, mined, torch.tensor([True, False, True]), margin=0.2)
    assert loss.item() == pytest.approx(0.3, abs=1e-6)


def test_triplet_loss_without_any_valid_window_is_zero_with_gradient_path():
    scores = torch.rand(2, 3, requires_grad=True)
    loss = triplet_loss(scores, torch.zeros(2, 3, dtype=torch.bool), torch.zeros(2), torch.ones(2, dtype=torch.bool), 0.2)
    assert loss.item() == 0.0
    loss.backward()


# ----------------------------------------------------------------------------- mining
def _mining_case():
    # windows 0,1 from video 7; window 2 from video 8; window 3 from video 9
    videos = torch.tensor([7, 7, 8, 9])
    positives = torch.zeros(4, 6, dtype=torch.bool)
    positives[0, [0, 1]] = True
    positives[1, [1, 2]] = True   # item 2: a positive of video 7 seen only through window 1
    positives[2, [2, 3]] = True   # item 2 shared with video 7
    positives[3, [4, 5]] = True
    return videos, positives


def test_mining_never_takes_an_item_of_the_windows_own_video():
    videos, positives = _mining_case()
    donors = donor_windows(videos, None, "hard")
    candidates = negative_candidates(videos, positives, donors)
    assert candidates[0].tolist() == [False, False, False, True, True, True]
    assert candidates[1].tolist() == [False, False, False, True, True, True]
    assert candidates[2].tolist() == [True, True, False, False, True, True]
    same_video = videos[:, None] == videos[None, :]
    own_video_items = (same_video.float() @ positives.float()) > 0
    assert not (candidates & own_video_items).any()
    assert not donors[0, 1] and not donors[0, 0]


def test_pose_threshold_keeps_only_dissimilar_donors():
    videos, positives = _mining_case()
    embeddings = torch.tensor([[1.0, 0.0], [1.0, 0.1], [0.9, 0.2], [0.0, 1.0]])
    donors = donor_windows(videos, embeddings, "pose_threshold", threshold=0.5)
    # window 0 ~ window 2 (cos ~ 0.98) is similar: only window 3 (cos 0) donates
    assert donors[0].tolist() == [False, False, False, True]
    candidates = negative_candidates(videos, positives, donors)
    assert candidates[0].tolist() == [False, False, False, False, True, True]


def test_pose_fraction_takes_the_least_similar_share():
    videos = torch.tensor([0, 1, 2, 3, 4])
    embeddings = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.5, 0.5], [0.1, 0.9], [-1.0, 0.0]])
    donors = donor_windows(videos, embeddings, "pose_fraction", fraction=0.5)
    assert donors[0].tolist() == [False, False, False, True, True]  # 2 of 4 others, the least similar


def test_select_negative_scores_strategies():
    scores = torch.tensor([[0.1, 0.9, 0.5, 0.7]])
    candidates = torch.tensor([[True, False, True, True]])
    hardest, ok = select_negative_scores(scores, candidates, "hard")
    assert hardest.item() == pytest.approx(0.7) and ok.item()
    generator = torch.Generator().manual_seed(0)
    for _ in range(20):
        value, _ = select_negative_scores(scores, candidates, "random", generator=generator)
        assert value.item() in (pytest.approx(0.1), pytest.approx(0.5), pytest.approx(0.7))
        value, _ = select_negative_scores(scores, candidates, "pose_threshold", num_random=2, generator=generator)
        assert value.item() in (pytest.approx(0.5), pytest.approx(0.7))  # hardest of two of {0.1, 0.5, 0.7}
    _, ok = select_negative_scores(scores, torch.zeros_like(candidates), "hard")
    assert not ok.item()


# ----------------------------------------------------------------------------- scoring and sides
def test_matrix_scoring_equals_pairwise_eq7():
    torch.manual_seed(0)
    K, d, n_items, n_windows = 4, 8, 7, 3
    video = chunk_normalize(torch.randn(n_windows, K * d), K)
    items = chunk_normalize(torch.randn(n_items, K * d), K)
    omega = torch.softmax(torch.randn(n_items, K), dim=-1)
    matrix = score_all_items(video, item_score_matrix(items, omega))
    for v in range(n_windows):
        for i in range(n_items):
            expected = sum(omega[i, k] * torch.dot(video[v, k], items[i, k]) for k in range(K))
            assert matrix[v, i].item() == pytest.approx(expected.item(), abs=1e-5)
    pairs = pair_scores(video[[0, 2]], items[[4, 1]], omega[[4, 1]])
    assert torch.allclose(pairs, matrix[[0, 2], [4, 1]], atol=1e-6)


def test_item_side_shapes_and_prototype_weights():
    side = ItemSide(num_factors=9, factor_size=12, num_prototypes=4, chunk_size=16)
    vectors, omega = side(torch.randn(5, 9, 12))
    assert vectors.shape == (5, 64) and omega.shape == (5, 4)
    assert torch.allclose(omega.sum(-1), torch.ones(5), atol=1e-6)
    factors = torch.randn(2, 9, 12)
    expected = sum(side.factor_weights[j] * factors[:, j] for j in range(9))  # Eq. 3
    assert torch.allclose(side.merge_factors(factors), expected, atol=1e-6)


def test_network_shapes():
    network = PoseRecNetwork.from_hyper_parameters(
        torch.randn(11, 9, 20), {"gcn_layers": 3, "num_prototypes": 4, "embedding_size": 256}).eval()
    scores = network.score_windows(torch.randn(6, 10, 33, 4))
    assert scores.shape == (6, 11)
    assert scores.abs().max() <= 1.0 + 1e-5  # a convex combination of cosines
    with pytest.raises(ValueError):
        PoseRecNetwork.from_hyper_parameters(torch.randn(3, 9, 4), {"num_prototypes": 3, "embedding_size": 256})


@pytest.mark.parametrize("layers,channels", [(1, [256]), (2, [64, 256]), (3, [64, 128, 256]), (4, [64, 128, 256, 256])])
def test_stgcn_layer_plans_follow_table6(layers, channels):
    model = STGCN(num_layers=layers)
    assert [block.gcn.conv.out_channels for block in model.st_gcn_networks] == channels
    assert model.encode_windows(torch.randn(2, 10, 33, 4)).shape == (2, 256)


def test_graph_is_mediapipe_pose_connections():
    mediapipe = pytest.importorskip("mediapipe")
    expected = {tuple(sorted(edge)) for edge in mediapipe.solutions.pose.POSE_CONNECTIONS}
    assert set(BLAZEPOSE_EDGES) == expected and len(BLAZEPOSE_EDGES) == 35
    adjacency = normalized_adjacency()[0]
    assert np.allclose(adjacency.sum(axis=0), 1.0)  # A D^-1: columns sum to one


@pytest.mark.skipif(not REFERENCE_RELEASE.is_dir(), reason="../shared/reference-release is absent")
def test_authors_state_dict_loads_into_stgcn():
    state = torch.load(REFERENCE_RELEASE / "best_model_pose.pt", weights_only=True)
    model = STGCN()
    result = model.load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert torch.equal(model.A, state["A"])  # our graph construction reproduces their adjacency exactly
    model.eval()
    with torch.no_grad():
        out = model.encode_windows(torch.rand(3, 10, 33, 4))
    assert out.shape == (3, 256) and torch.isfinite(out).all()


def test_pose_input_channels_drop_z_for_2d_poses():
    network = PoseRecNetwork.from_hyper_parameters(torch.randn(5, 9, 8), {"pose_input_channels": [0, 1, 3]}).eval()
    assert network.video_side.st_gcn_networks[0].gcn.conv.in_channels == 3
    poses = torch.randn(2, 10, 33, 4)
    moved_z = poses.clone()
    moved_z[..., 2] += 5.0
    with torch.no_grad():
        assert torch.equal(network.score_windows(poses), network.score_windows(moved_z))  # z is never read
        assert network.score_windows(poses.reshape(2, -1)).shape == (2, 5)
    with pytest.raises(ValueError):
        PoseRecNetwork.from_hyper_parameters(torch.randn(5, 9, 8), {"pose_input_channels": [0, 4]})
