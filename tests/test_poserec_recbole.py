"""PoseRec inside RecBole on the small generated dataset: config, sampler, batches, scoring, checkpoints, runs."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from recbole.data import create_dataset
from recbole.data.interaction import Interaction

from dataset_conversion.errors import DataError
from poserec_experiments import worker
from poserec_experiments.loop_reference import loop_losses
from recbole_poserec.checkpoint import load_checkpoint
from recbole_poserec.config import PROPERTIES_DIR, Config
from recbole_poserec.data.dataloader import WindowBatchTrainDataLoader, data_preparation
from recbole_poserec.model.network import ARCHITECTURE_KEYS, PoseRecNetwork
from recbole_poserec.model.poserec import PoseRec
from recbole_poserec.property_files import model_properties
from recbole_poserec.quick_start import run_recbole
from recbole_poserec.trainer import TraditionalTrainer, Trainer
from recbole_poserec.utils import get_model, get_trainer

REPO = Path(__file__).resolve().parents[1]
DATASET_PROPERTIES = str(Path(PROPERTIES_DIR) / "dataset" / "pose-obe.yaml")


def small_config(small, checkpoint_dir, model="PoseRec", **overrides):
    settings = {"data_path": str(small.data_path), "checkpoint_dir": str(checkpoint_dir),
                "show_progress": False, "state": "WARNING"}
    settings.update(overrides)
    return Config(model=model, dataset=small.name, config_file_list=[DATASET_PROPERTIES], config_dict=settings)


@pytest.fixture(scope="module")
def prepared(small_dataset_dir, tmp_path_factory):
    config = small_config(small_dataset_dir, tmp_path_factory.mktemp("poserec-saved"))
    dataset = create_dataset(config)
    train_data, valid_data, test_data = data_preparation(config, dataset)
    torch.manual_seed(0)
    model = PoseRec(config, train_data._dataset)
    return config, dataset, train_data, valid_data, test_data, model


def video_items(loaders):
    """{video token id: set of item ids} over all splits, from the built split datasets."""
    window_video = loaders[0]._dataset.user_feat["video_id"].numpy()
    items = {}
    for part in (loader._dataset for loader in loaders):
        for window, item in zip(part.inter_feat["window_id"].numpy(), part.inter_feat["item_id"].numpy()):
            items.setdefault(window_video[window], set()).add(int(item))
    return window_video, items


# ----------------------------------------------------------------------------- plumbing
def test_config_layers_plugin_property_files(tmp_path):
    config = Config(model="PoseRec", dataset="pose-obe",
                    config_dict={"data_path": str(tmp_path), "num_prototypes": 2, "embedding_size": 128})
    assert config["USER_ID_FIELD"] == "window_id"           # properties/dataset/pose-obe.yaml
    assert config["learning_rate"] == pytest.approx(1e-4)   # properties/model/PoseRec.yaml
    assert config["num_prototypes"] == 2                    # config_dict beats the YAML
    assert config["seed"] == 2022                           # properties/overall.yaml
    assert config["train_neg_sample_args"]["sampler"] == "video"
    assert config["topk"] == [5, 10, 20] and config["eval_args"]["mode"]["test"] == "full"


def test_get_model_and_trainer_lookup():
    assert get_model("PoseRec") is PoseRec
    assert get_model("BPR").__module__.startswith("recbole.model")  # falls back to RecBole
    with pytest.raises(ValueError, match="neither"):
        get_model("NoSuchModel")
    assert get_trainer(PoseRec.type, "PoseRec") is Trainer
    assert hasattr(get_trainer(get_model("BPR").type, "BPR"), "_load_weights")  # RecBole's, weights-only
    assert get_trainer(get_model("Pop").type, "Pop") is TraditionalTrainer
    with pytest.raises(ValueError, match="RecVAETrainer, which the plug-in does not wrap"):
        get_trainer(get_model("RecVAE").type, "RecVAE")


def test_a_model_without_a_plugin_trainer_is_refused_before_loading_data(small_dataset_dir, tmp_path):
    with pytest.raises(DataError, match="RecVAETrainer") as caught:
        run_recbole(model="RecVAE", dataset=small_dataset_dir.name,
                    config_dict={"data_path": str(small_dataset_dir.data_path), "checkpoint_dir": str(tmp_path)},
                    command_line=[])
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("level", ["instance", "category"])
def test_a_converted_dataset_gets_the_packaged_yaml_of_its_level(small_dataset_dir, level):
    name = small_dataset_dir.name if level == "instance" else small_dataset_dir.cat_name
    config = Config(model="PoseRec", dataset=name, config_dict={"data_path": str(small_dataset_dir.data_path)},
                    command_line=[])
    expected = "pose-obe.yaml" if level == "instance" else "pose-obe-cat.yaml"
    assert config._sources["VIDEO_FIELD"] == (str(Path(PROPERTIES_DIR) / "dataset" / expected), "VIDEO_FIELD")
    assert config["USER_ID_FIELD"] == "window_id" and config["benchmark_filename"] == ["train", "valid", "test"]
    assert "VIDEO_FIELD" in config.parameters["Dataset"]


def test_a_dataset_not_written_by_the_converter_gets_no_dataset_yaml(small_dataset_dir, tmp_path):
    folder = tmp_path / "handmade"
    folder.mkdir()
    for part in ("train", "valid", "test"):
        source = small_dataset_dir.instance_dir / f"{small_dataset_dir.name}.{part}.inter"
        (folder / f"handmade.{part}.inter").write_bytes(source.read_bytes())
    config = Config(model="PoseRec", dataset="handmade", config_dict={"data_path": str(tmp_path)}, command_line=[])
    assert config["VIDEO_FIELD"] is None and config["USER_ID_FIELD"] == "user_id"  # RecBole's defaults


def test_network_defaults_are_the_model_yaml(small_dataset_dir, tmp_path):
    config = small_config(small_dataset_dir, tmp_path)
    defaults = model_properties("PoseRec")
    assert {key: config[key] for key in ARCHITECTURE_KEYS} == {key: defaults[key] for key in ARCHITECTURE_KEYS}
    old_checkpoint_config = {"gcn_layers": 2, "dropout": None}  # a key missing, a key None: the YAML's
    network = PoseRecNetwork.from_hyper_parameters(torch.randn(5, 9, 8), old_checkpoint_config)
    assert len(network.video_side.st_gcn_networks) == 2
    assert network.num_prototypes == defaults["num_prototypes"]
    assert network.pose_input_channels == defaults["pose_input_channels"]


# ----------------------------------------------------------------------------- data
def test_video_sampler_never_returns_an_annotated_item(prepared):
    _, _, train_data, valid_data, test_data, _ = prepared
    window_video, items = video_items((train_data, valid_data, test_data))
    checked = 0
    for batch in train_data:
        videos = window_video[batch["window_id"].numpy()]
        for video, negative in zip(videos, batch["neg_item_id"].tolist()):
            assert negative not in items[video] and negative != 0
            checked += 1
    assert checked == len(train_data._dataset)


def test_window_batches_hold_whole_windows(prepared):
    _, _, train_data, *_ = prepared
    assert isinstance(train_data, WindowBatchTrainDataLoader)
    per_window = np.bincount(train_data._dataset.inter_feat["window_id"].numpy())
    seen = np.zeros_like(per_window)
    for batch in train_data:
        windows, counts = np.unique(batch["window_id"].numpy(), return_counts=True)
        assert len(windows) <= train_data.step
        assert np.array_equal(counts, per_window[windows])  # every interaction of each window is there
        seen[windows] += 1
    assert set(np.unique(seen[per_window > 0])) == {1}  # each window exactly once per epoch


def test_an_epoch_of_n_batches_continues_the_pass_the_last_epoch_left(small_dataset_dir, tmp_path):
    config = small_config(small_dataset_dir, tmp_path, train_batches_per_epoch=3, train_windows_per_batch=8)
    train_data = data_preparation(config, create_dataset(config))[0]
    per_window = np.bincount(train_data._dataset.inter_feat["window_id"].numpy())
    full_pass = -(-int(np.count_nonzero(per_window)) // 8)
    assert len(train_data) == 3 and full_pass > 3
    batches = []
    while len(batches) < 2 * full_pass:
        epoch = list(train_data)
        assert len(epoch) == 3
        batches += epoch
    for first in (0, full_pass):  # two consecutive passes, each every window exactly once
        seen = np.zeros_like(per_window)
        for batch in batches[first:first + full_pass]:
            windows, counts = np.unique(batch["window_id"].numpy(), return_counts=True)
            assert np.array_equal(counts, per_window[windows])
            seen[windows] += 1
        assert set(np.unique(seen[per_window > 0])) == {1}


@pytest.mark.parametrize("value", [-1, 1.5, True])
def test_a_bad_batches_per_epoch_is_one_line_naming_it(small_dataset_dir, tmp_path, value):
    with pytest.raises((ValueError, DataError)) as caught:  # a wrong type already fails in the config's layers
        config = small_config(small_dataset_dir, tmp_path, train_batches_per_epoch=value)
        data_preparation(config, create_dataset(config))
    assert "train_batches_per_epoch" in str(caught.value) and "\n" not in str(caught.value)


def test_batches_per_epoch_is_refused_for_recboles_own_training_loaders(small_dataset_dir, tmp_path):
    config = small_config(small_dataset_dir, tmp_path, model="NeuMF", train_batches_per_epoch=2)
    with pytest.raises(ValueError, match="train_batches_per_epoch needs train_batching: window"):
        data_preparation(config, create_dataset(config))


def test_the_trainer_validates_every_n_batches(small_dataset_dir, tmp_path):
    result = run_recbole(model="PoseRec", dataset=small_dataset_dir.name, config_file_list=[DATASET_PROPERTIES],
                         config_dict={"data_path": str(small_dataset_dir.data_path), "epochs": 3,
                                      "train_batches_per_epoch": 2, "checkpoint_dir": str(tmp_path),
                                      "state": "WARNING"})
    assert result["timing"]["train_batches"] == 6 and result["timing"]["valid_passes"] == 3


# ----------------------------------------------------------------------------- model
def test_each_window_is_encoded_once_per_batch(prepared):
    _, _, train_data, _, _, model = prepared
    batch = next(iter(train_data))
    encoded = []
    handle = model.network.video_side.register_forward_hook(lambda m, args, out: encoded.append(out.shape[0]))
    try:
        model.train()
        model.calculate_loss(batch)
    finally:
        handle.remove()
    assert encoded == [len(torch.unique(batch["window_id"]))] and len(batch) > encoded[0]


@pytest.mark.parametrize("mining", ["hard", "pose_threshold"])
def test_vectorised_loss_equals_per_window_loop(prepared, mining):
    _, _, train_data, _, _, model = prepared
    batch = next(iter(train_data))
    windows = torch.unique(batch["window_id"])[:6]  # the loop oracle is slow: a few windows suffice
    batch = batch[torch.isin(batch["window_id"], windows).nonzero().squeeze(1)]
    assert len(torch.unique(model.window_videos[batch["window_id"]])) > 1
    model.eval()  # batch norms on running statistics: the loop encodes windows one at a time
    model.mining, model.mining_candidates, model.mining_threshold = mining, 0, 0.999
    try:
        fast = model.calculate_loss(batch)
        slow = loop_losses(model, batch)
    finally:
        model.mining, model.mining_candidates, model.mining_threshold = "pose_threshold", 10, 0.5
    for fast_term, slow_term in zip(fast, slow):
        assert fast_term.item() == pytest.approx(slow_term.item(), abs=1e-5)
    assert fast[2].item() > 0


def test_full_sort_predict_equals_predict(prepared):
    _, _, _, _, test_data, model = prepared
    model.eval()
    interaction = next(iter(test_data))[0]
    n_items = model.n_items
    with torch.no_grad():
        full = model.full_sort_predict(interaction).reshape(len(interaction), n_items)
        pairs = interaction.repeat_interleave(n_items)
        pairs.update(Interaction({"item_id": torch.arange(n_items).repeat(len(interaction))}))
        single = model.predict(pairs).reshape(len(interaction), n_items)
    assert torch.allclose(full, single, atol=1e-5)


def test_checkpoint_round_trip_with_weights_only(prepared, tmp_path):
    config, _, _, _, test_data, model = prepared
    trainer = Trainer(config, model)
    trainer._save_checkpoint(epoch=0, saved_model_file=str(tmp_path / "ckpt.pth"), verbose=False)
    raw = torch.load(tmp_path / "ckpt.pth", weights_only=True)  # the point: no pickled objects inside
    assert raw["model"] == "PoseRec" and raw["catalogue"]["item_tokens"][0] == "[PAD]"
    checkpoint = load_checkpoint(tmp_path / "ckpt.pth")
    torch.manual_seed(1)
    twin = PoseRec(config, test_data._dataset)
    twin.load_state_dict(checkpoint["state_dict"])
    model.eval(), twin.eval()
    interaction = next(iter(test_data))[0]
    with torch.no_grad():
        assert torch.equal(model.full_sort_predict(interaction), twin.full_sort_predict(interaction))


# ----------------------------------------------------------------------------- end to end
def test_one_epoch_end_to_end(small_dataset_dir, tmp_path):
    result = run_recbole(model="PoseRec", dataset=small_dataset_dir.name, config_file_list=[DATASET_PROPERTIES],
                         config_dict={"data_path": str(small_dataset_dir.data_path), "epochs": 1,
                                      "checkpoint_dir": str(tmp_path), "state": "WARNING"})
    metrics = result["test_result"]
    assert set(metrics) == {f"{m}@{k}" for m in ("recall", "ndcg") for k in (5, 10, 20)}
    assert all(0.0 <= value <= 1.0 for value in metrics.values())
    assert result["synthetic"] is True
    assert torch.load(result["checkpoint"], weights_only=True)["dataset"] == small_dataset_dir.name
    timing = result["timing"]
    assert timing["train_epochs"] == 1 and timing["valid_passes"] == 1 and timing["valid_seconds"] > 0
    train_windows = len({line.split("\t")[0] for line in (small_dataset_dir.instance_dir / (  # with a positive
        f"{small_dataset_dir.name}.train.inter")).read_text().splitlines()[1:] if float(line.split("\t")[2]) > 0})
    assert timing["train_batches"] == -(-train_windows // result["config"]["train_windows_per_batch"])
    assert timing["train_step_seconds"] == pytest.approx(timing["train_loop_seconds"] / timing["train_batches"])
    assert result["config"]["epochs"] == 1 and json.loads(json.dumps(result["config"])) == result["config"]


def test_the_worker_writes_the_trainers_timing_and_the_final_budget(small_dataset_dir, tmp_path):
    spec = {"model": "Pop", "dataset": small_dataset_dir.name,
            "config_dict": {"data_path": str(small_dataset_dir.data_path), "checkpoint_dir": str(tmp_path),
                            "state": "WARNING", "epochs": 3}}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    assert worker.main([str(tmp_path / "spec.json"), str(tmp_path / "result.json")]) == 0
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["budget"]["epochs"] == 3 and result["budget"]["model"] == "Pop"  # the configuration's value
    assert result["budget"]["topk"] == [5, 10, 20] and "train_windows_per_batch" not in result["budget"]
    assert result["timing"]["train_epochs"] == 1  # TraditionalTrainer trains Pop once, whatever epochs says
    assert result["timing"]["train_batches"] > 0 and result["timing"]["valid_passes"] == 1
    assert set(result) >= {"test_result", "best_valid_result", "best_valid_score", "train_seconds", "test_seconds",
                           "checkpoint", "synthetic", "versions"}


def test_run_recbole_entry_point(small_dataset_dir, tmp_path):
    command = [sys.executable, "run_recbole.py", "--model=PoseRec", f"--dataset={small_dataset_dir.name}",
               f"--config_files={DATASET_PROPERTIES}", f"--data_path={small_dataset_dir.data_path}",
               "--epochs=1", f"--checkpoint_dir={tmp_path}", "--gcn_layers=2"]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "test result" in output and "best valid" in output
    assert "DATA IS SYNTHETIC" in output
    assert "gcn_layers = 2" in output.replace("'", "") or "gcn_layers: 2" in output or "gcn_layers = 2" in output
