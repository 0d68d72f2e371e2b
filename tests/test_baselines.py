"""Baselines: AFN / FRNet layers checked by hand, the feature-selection mixin, NeuMF's pose user side,
and every baseline one epoch end to end through the plug-in.

Unit tests use a hand-written atomic dataset (:func:`toy_data_path`, same field names as the converter);
the end-to-end tests use the shared ``small_dataset_dir`` fixture (the converter's output) and
``recbole_poserec.quick_start.run_recbole``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from dataset_conversion.layout import FACTOR_FIELDS
from recbole_poserec.model.layers.afn_layers import LogarithmicTransformation
from recbole_poserec.model.layers.feature_selection import FeatureSelectedDataset, positional_float_seq
from recbole_poserec.model.layers.frnet_layers import (
    ComplementarySelectionGate,
    FeatureRefinementLayer,
    FieldSelfAttention,
    InformationExtractionUnit,
)

REPO = Path(__file__).resolve().parents[1]
CONTEXT_MODELS = ("FM", "DeepFM", "AFN", "FRNet")
TOY = "toy-baselines"
PCA_DIM = 4


# ------------------------------------------------------------------------------------------ AFN layer


def test_log_transform_is_product_of_powers():
    """Without batch norm and eps, neuron j is prod_i |e_i|^{w_ji}, element-wise."""
    layer = LogarithmicTransformation(num_fields=3, num_neurons=2, eps=0.0, batch_norm=False)
    w = torch.tensor([[1.0, 1.0, 0.0], [2.0, -0.5, 1.5]])
    with torch.no_grad():
        layer.weight.copy_(w)
    e = torch.tensor([[[2.0, -3.0], [0.5, 4.0], [-1.5, 0.25]]])  # [B=1, m=3, d=2], signs are dropped (|e|)
    y = layer(e)
    assert y.shape == (1, 2, 2)
    # neuron 0: |e_1| * |e_2|           -> [2*0.5, 3*4]
    # neuron 1: |e_1|^2 |e_2|^-0.5 |e_3|^1.5
    expected = torch.tensor(
        [
            [
                [2.0 * 0.5, 3.0 * 4.0],
                [4.0 * 0.5**-0.5 * 1.5**1.5, 9.0 * 4.0**-0.5 * 0.25**1.5],
            ]
        ]
    )
    torch.testing.assert_close(y, expected, rtol=1e-5, atol=1e-6)
    # the same through the explicit product, for random orders
    w = torch.randn(5, 3)
    with torch.no_grad():
        layer = LogarithmicTransformation(3, 5, eps=0.0, batch_norm=False)
        layer.weight.copy_(w)
    e = torch.rand(4, 3, 6) + 0.1
    explicit = torch.prod(e.abs().unsqueeze(1) ** w.view(1, 5, 3, 1), dim=2)  # [B, L, d]
    torch.testing.assert_close(layer(e), explicit, rtol=1e-4, atol=1e-6)


def test_log_transform_eps_keeps_zeros_finite_and_batch_norm_trains():
    layer = LogarithmicTransformation(num_fields=4, num_neurons=3, eps=1e-7, batch_norm=True)
    e = torch.randn(8, 4, 5)
    e[0, 1, :] = 0.0
    e.requires_grad_(True)
    y = layer(e)
    assert y.shape == (8, 3, 5)
    assert torch.isfinite(y).all()
    y.pow(2).sum().backward()
    assert torch.isfinite(e.grad).all()
    assert layer.weight.grad is not None and torch.isfinite(layer.weight.grad).all()
    # eps: one zero field with order 1 and eps=1e-7 -> the neuron equals eps (no BN)
    plain = LogarithmicTransformation(1, 1, eps=1e-7, batch_norm=False)
    with torch.no_grad():
        plain.weight.fill_(1.0)
    torch.testing.assert_close(plain(torch.zeros(1, 1, 2)), torch.full((1, 1, 2), 1e-7))


# ---------------------------------------------------------------------------------------- FRNet layers


def test_csgate_mixes_exactly():
    gate = ComplementarySelectionGate()
    e = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]])
    ec = torch.tensor([[[10.0, 20.0], [30.0, 40.0]]])
    w = torch.tensor([[[0.0, 1.0], [0.25, 0.5]]])
    out = gate(e, ec, w)
    expected = torch.tensor([[[1.0, 20.0], [0.25 * 30 + 0.75 * 3, 0.5 * 40 + 0.5 * 4]]])
    torch.testing.assert_close(out, expected)
    # vector-level weights ([B, f, 1]) broadcast over the bits
    wv = torch.tensor([[[0.5], [1.0]]])
    torch.testing.assert_close(gate(e, ec, wv), torch.tensor([[[5.5, 11.0], [30.0, 40.0]]]))


def test_self_attention_uniform_when_query_key_are_zero():
    """Q = K = 0 -> uniform attention; V = P = identity -> every field gets the mean of all fields."""
    att = FieldSelfAttention(embedding_size=3, attention_size=3)
    with torch.no_grad():
        att.query.weight.zero_()
        att.key.weight.zero_()
        att.value.weight.copy_(torch.eye(3))
        att.projection.weight.copy_(torch.eye(3))
    e = torch.randn(2, 4, 3)
    out = att(e)
    torch.testing.assert_close(out, e.mean(dim=1, keepdim=True).expand_as(e))


def test_ieu_is_attention_times_context_vector():
    torch.manual_seed(0)
    ieu = InformationExtractionUnit(num_fields=3, embedding_size=4, attention_size=5, cie_hidden_size=[8])
    ieu.eval()
    e = torch.randn(2, 3, 4)
    v_bit = ieu.cie_output(ieu.cie_mlp(e.reshape(2, 12)))  # [B, d]
    expected = ieu.self_attention(e) * v_bit.unsqueeze(1)
    torch.testing.assert_close(ieu(e), expected)
    vec = InformationExtractionUnit(3, 4, 5, [8], weight_type="vector")
    assert vec(e).shape == (2, 3, 1)
    with pytest.raises(ValueError):
        InformationExtractionUnit(3, 4, 5, [8], weight_type="field")


def test_refinement_layer_composition_and_gradients():
    torch.manual_seed(0)
    layer = FeatureRefinementLayer(num_fields=3, embedding_size=4, attention_size=4, cie_hidden_size=[6])
    layer.eval()
    e = torch.randn(5, 3, 4, requires_grad=True)
    out = layer(e)
    expected = ComplementarySelectionGate()(e, layer.ieu_context(e), torch.sigmoid(layer.ieu_weight(e)))
    torch.testing.assert_close(out, expected)
    out.sum().backward()
    assert e.grad is not None and torch.isfinite(e.grad).all()
    for name, p in layer.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    vector = FeatureRefinementLayer(3, 4, 4, [6], weight_type="vector")
    assert vector(e).shape == (5, 3, 4)


# ------------------------------------------------------------------------------------- feature helpers


def test_positional_float_seq_reindexes_only_listed_fields():
    value = torch.tensor([[0.5, -1.0, 2.0], [1.0, 3.0, 0.0]])
    index = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]])  # second row: last position is padding
    pose = torch.stack([value, index], dim=-1)
    other = pose.clone()
    out_pose, out_other = positional_float_seq([pose, other], ["pose_pca", "other"], {"pose_pca"})
    torch.testing.assert_close(out_pose[..., 0], value)
    torch.testing.assert_close(out_pose[..., 1], torch.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 0.0]]))
    assert out_other is other


def test_positional_fast_path_equals_reindex_then_recbole(toy_data_path):
    """The matrix-product pooling equals RecBole's own embed_float_seq_fields on re-indexed positions."""
    from recbole.model.abstract_recommender import ContextRecommender

    _, fm, _, _ = _build("FM", toy_data_path)
    torch.manual_seed(0)
    fields = []
    for _ in fm.float_seq_field_names:
        value = torch.randn(6, PCA_DIM)
        index = torch.ones(6, PCA_DIM)
        index[0, -1] = 0.0  # one padded position
        fields.append(torch.stack([value, index], dim=-1))
    with torch.no_grad():
        fast = fm.embed_float_seq_fields(fields)
        reindexed = positional_float_seq(fields, fm.float_seq_field_names, set(fm.position_embedded_fields))
        slow = ContextRecommender.embed_float_seq_fields(fm, reindexed)
        torch.testing.assert_close(fast, slow)
        first_fast = fm.first_order_linear.embed_float_seq_fields(fields)
        first_slow = type(fm.first_order_linear).__mro__[1].embed_float_seq_fields(fm.first_order_linear, reindexed)
        torch.testing.assert_close(first_fast, first_slow)


class _FakeDataset:
    field2seqlen = {"pose_pca": 32}

    def fields(self, ftype=None, source=None):
        return ["window_id", "video_id", "item_id", "pose_pca"]

    def num(self, field):
        return 2

    extra = "delegated"


def test_dataset_view_hides_fields_and_sizes_position_tables():
    view = FeatureSelectedDataset(_FakeDataset(), excluded=["window_id", "video_id"], positional=["pose_pca"])
    assert view.fields() == ["item_id", "pose_pca"]
    assert view.num("pose_pca") == 33
    assert view.num("item_id") == 2
    assert view.extra == "delegated"


# ------------------------------------------------------------------------ models on a tiny atomic dataset


def _floats(values) -> str:
    return " ".join(f"{v:.5g}" for v in values)


@pytest.fixture(scope="module")
def toy_data_path(tmp_path_factory) -> Path:
    """A tiny atomic dataset with the converter's field names: 30 windows of 10 videos, 12 items."""
    rng = np.random.default_rng(0)
    root = tmp_path_factory.mktemp("toy-atomic")
    d = root / TOY
    d.mkdir()
    n_videos, per_video, n_items = 10, 3, 12
    with open(d / f"{TOY}.user", "w") as f:
        f.write("window_id:token\tvideo_id:token\tpose:float_seq\tpose_pca:float_seq\n")
        for v in range(n_videos):
            for k in range(per_video):
                f.write(f"v{v}_{k}\tv{v}\t{_floats(rng.normal(size=12))}\t{_floats(rng.normal(size=PCA_DIM))}\n")
    with open(d / f"{TOY}.item", "w") as f:
        f.write("item_id:token\tname:token\tgroup:token\t" + "\t".join(f"{x}:float_seq" for x in FACTOR_FIELDS))
        f.write("\tfactors_pca:float_seq\n")
        for i in range(n_items):
            factors = "\t".join(_floats(rng.normal(size=6)) for _ in FACTOR_FIELDS)
            f.write(f"i{i}\tname{i % 5}\tg{i % 3}\t{factors}\t{_floats(rng.normal(size=PCA_DIM))}\n")
    splits = {"train": range(0, 6), "valid": range(6, 8), "test": range(8, 10)}
    for part, videos in splits.items():
        with open(d / f"{TOY}.{part}.inter", "w") as f:
            f.write("window_id:token\titem_id:token\tscore:float\tlabel:float\n")
            for v in videos:
                items = rng.choice(n_items, 3, replace=False)
                for k in range(per_video):
                    for i in items:
                        f.write(f"v{v}_{k}\ti{i}\t0.5\t1\n")
    return root


def _dataset_settings(data_path: Path, **extra) -> dict:
    """The shipped dataset YAML's settings (properties/dataset/pose-obe.yaml) for another data path."""
    settings = yaml.safe_load((REPO / "properties" / "dataset" / "pose-obe.yaml").read_text())
    settings.update(
        data_path=str(data_path),
        state="ERROR",
        show_progress=False,
        eval_batch_size=4096,
        checkpoint_dir=str(Path(data_path) / "saved"),
        log_wandb=False,
    )
    settings.update(extra)
    return settings


def _build(model_name: str, data_path: Path, **extra):
    from recbole.data import create_dataset

    from recbole_poserec.config import Config
    from recbole_poserec.data.dataloader import data_preparation
    from recbole_poserec.utils import get_model

    config = Config(model=model_name, dataset=TOY, config_dict=_dataset_settings(data_path, **extra))
    dataset = create_dataset(config)
    train, valid, test = data_preparation(config, dataset)
    model = get_model(model_name)(config, train._dataset)
    return config, model, train, test


@pytest.mark.parametrize("model_name", CONTEXT_MODELS)
def test_context_models_use_features_not_window_ids(model_name, toy_data_path):
    from recbole_poserec.model.layers.feature_selection import FeatureSelectionMixin

    config, model, train, _ = _build(model_name, toy_data_path)
    assert isinstance(model, FeatureSelectionMixin)  # the plug-in's class, found before RecBole's
    assert model.excluded_feature_fields == ("window_id", "video_id", "score")
    fields = set(model.feature_field_names())
    assert "window_id" not in fields and "video_id" not in fields
    assert {"pose_pca", "factors_pca", "item_id"} <= fields
    assert "window_id" not in model.first_order_linear.token_field_names
    assert set(model.position_embedded_fields) == {"pose_pca", "factors_pca"}
    for table in model.float_seq_embedding_table:
        assert table.num_embeddings == PCA_DIM + 1
    # the window id does not reach the score: renumbering every window leaves predictions unchanged
    model.eval()
    batch = next(iter(train))
    with torch.no_grad():
        before = model.predict(batch)
        batch.interaction["window_id"] = torch.randint(1, 5, batch["window_id"].shape)
        after = model.predict(batch)
        loss = model.calculate_loss(batch)
    torch.testing.assert_close(before, after)
    assert before.shape == batch["item_id"].shape
    assert ((before >= 0) & (before <= 1)).all()
    assert torch.isfinite(loss)


def test_position_embedding_sees_the_whole_vector(toy_data_path):
    """Two pose vectors with the same mean: RecBole's encoding embeds them alike, the positional one does not."""
    _, fm, _, _ = _build("FM", toy_data_path)
    _, fm_plain, _, _ = _build("FM", toy_data_path, float_seq_position_embedding=False)
    assert fm_plain.position_embedded_fields == ()
    a = torch.tensor([1.0, -1.0, 2.0, 0.0])
    b = torch.tensor([0.5, 0.5, 0.5, 0.5])  # same mean as a
    ones = torch.ones(PCA_DIM)
    vectors = torch.stack([torch.stack([a, ones], -1), torch.stack([b, ones], -1)])  # [2, 4, 2] (value, index)
    with torch.no_grad():
        for model in (fm, fm_plain):
            # RecBole embeds every numerical float_seq field; give each the same two rows
            model.embedded = model.embed_float_seq_fields([vectors] * len(model.float_seq_field_names))
    i = fm.float_seq_field_names.index("pose_pca")
    plain = fm_plain.embedded[:, fm_plain.float_seq_field_names.index("pose_pca")]
    torch.testing.assert_close(plain[0], plain[1])  # RecBole 1.2.1: only the mean reaches the model
    emb = fm.embedded[:, i]  # [2, d]
    table = fm.float_seq_embedding_table[i].weight.detach()  # row k = position k (row 0 = padding)
    torch.testing.assert_close(emb[0], (a.unsqueeze(1) * table[1 : PCA_DIM + 1]).mean(0), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(emb[1], (b.unsqueeze(1) * table[1 : PCA_DIM + 1]).mean(0), rtol=1e-5, atol=1e-6)
    assert not torch.allclose(emb[0], emb[1])


def test_exclusion_defaults_to_the_user_id(toy_data_path):
    _, model, _, _ = _build("FM", toy_data_path, exclude_feature_fields=None)
    assert model.excluded_feature_fields == ("window_id",)
    assert "window_id" not in model.feature_field_names()


def test_neumf_user_side_is_the_pose_feature(toy_data_path):
    config, model, train, test = _build("NeuMF", toy_data_path)
    assert not hasattr(model, "user_mf_embedding") and not hasattr(model, "user_mlp_embedding")
    assert model.user_feature_size == PCA_DIM
    model.eval()
    batch = next(iter(train))
    with torch.no_grad():
        before = model.predict(batch)
        batch.interaction["window_id"] = torch.randint(1, 5, batch["window_id"].shape)
        torch.testing.assert_close(model.predict(batch), before)
        assert torch.isfinite(model.calculate_loss(batch))
        # full_sort_predict == predict on every (window, item) pair
        users = next(iter(test))[0]
        n_users, n_items = len(users), model.n_items
        full = model.full_sort_predict(users)
        assert full.shape == (n_users * n_items,)
        pairs = users.repeat_interleave(n_items)
        pairs.update(test._dataset.get_item_feature().repeat(n_users))
        torch.testing.assert_close(full, model.predict(pairs))
    # gradients reach the pose projections
    model.train()
    model.calculate_loss(next(iter(train))).backward()
    assert model.user_mf_projection.weight.grad is not None
    assert model.user_mlp_projection.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("model_name", ["AFN", "FRNet"])
def test_new_models_train_a_step(model_name, toy_data_path):
    _, model, train, _ = _build(model_name, toy_data_path)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    batch = next(iter(train))
    losses = []
    for _ in range(5):
        optimizer.zero_grad()
        loss = model.calculate_loss(batch)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert all(math.isfinite(x) for x in losses)
    assert losses[-1] < losses[0]


@pytest.mark.parametrize(
    "extra",
    [
        {"afn_plus": True},
        {"backbone": "fm"},
        {"backbone": "dnn", "weight_type": "vector"},
    ],
    ids=["afn_plus", "frnet_fm", "frnet_dnn_vector"],
)
def test_model_variants(extra, toy_data_path):
    model_name = "AFN" if "afn_plus" in extra else "FRNet"
    _, model, train, _ = _build(model_name, toy_data_path, **extra)
    batch = next(iter(train))
    loss = model.calculate_loss(batch)
    loss.backward()
    assert torch.isfinite(loss)
    model.eval()
    with torch.no_grad():
        assert model.predict(batch).shape == batch["item_id"].shape


# ------------------------------------------------------------------------------- end to end (converter)


@pytest.mark.parametrize("model_name", ["FM", "DeepFM", "NeuMF", "AFN", "FRNet", "Pop", "Random"])
def test_baseline_one_epoch_end_to_end(model_name, small_dataset_dir, tmp_path):
    from recbole_poserec.quick_start import run_recbole

    settings = _dataset_settings(small_dataset_dir.data_path, epochs=1, train_batch_size=2048,
                                 checkpoint_dir=str(tmp_path))  # never write into the shared fixture
    result = run_recbole(model=model_name, dataset=small_dataset_dir.name, config_dict=settings, saved=False)
    recall = result["test_result"]["recall@10"]
    assert math.isfinite(recall) and 0.0 <= recall <= 1.0


def test_pop_counts_every_occurrence_within_a_batch(small_dataset_dir, tmp_path):
    from recbole.data import create_dataset
    from recbole.data.interaction import Interaction

    from recbole_poserec.config import Config
    from recbole_poserec.utils import get_model

    config = Config(model="Pop", dataset=small_dataset_dir.name,
                    config_file_list=[str(REPO / "properties" / "dataset" / "pose-obe.yaml")],
                    config_dict={"data_path": str(small_dataset_dir.data_path), "checkpoint_dir": str(tmp_path),
                                 "state": "ERROR"})
    model = get_model("Pop")(config, create_dataset(config))
    assert type(model).__module__ == "recbole_poserec.model.pop"
    model.calculate_loss(Interaction({"item_id": torch.tensor([3, 3, 3, 5])}))
    model.calculate_loss(Interaction({"item_id": torch.tensor([5])}))
    assert model.item_cnt[3].item() == 3 and model.item_cnt[5].item() == 2 and model.max_cnt.item() == 3
