"""The learning-rate warm-up and cosine decay of the plug-in's trainers (recbole_poserec/lr_schedule.py)."""

import math

import pytest
import torch
import yaml

from dataset_conversion.errors import DataError
from recbole_poserec.config import PROPERTIES_DIR
from recbole_poserec.lr_schedule import LearningRateSchedule, ScheduleSettingError
from recbole_poserec.quick_start import run_recbole

DATASET_PROPERTIES = f"{PROPERTIES_DIR}/dataset/pose-obe.yaml"


class _Settings(dict):
    def __missing__(self, key):  # as RecBole's Config: an unset key reads None
        return None


def test_the_defaults_keep_the_learning_rate_constant():
    with open(f"{PROPERTIES_DIR}/overall.yaml", encoding="utf-8") as handle:
        overall = yaml.safe_load(handle)
    schedule = LearningRateSchedule.from_config(_Settings(overall))
    assert schedule == LearningRateSchedule.from_config(_Settings()) and not schedule.active
    assert {schedule.factor(step, 4, 3) for step in range(20)} == {1.0}


def test_warm_up_rises_linearly_then_holds():
    schedule = LearningRateSchedule.from_config(_Settings(lr_warmup_epochs=1))
    assert [schedule.factor(step, 4, 3) for step in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]


def test_cosine_decays_to_zero_at_the_last_step_of_epochs_after_the_warm_up():
    schedule = LearningRateSchedule.from_config(_Settings(lr_schedule="cosine", lr_warmup_epochs=1))
    assert schedule.factor(3, 4, 3) == 1.0  # the warm-up's last step
    assert schedule.factor(4, 4, 3) == 1.0 and schedule.factor(8, 4, 3) == pytest.approx(0.5)
    assert schedule.factor(12, 4, 3) == pytest.approx(0.0) and schedule.factor(40, 4, 3) == pytest.approx(0.0)
    plain = LearningRateSchedule.from_config(_Settings(lr_schedule="cosine"))
    assert plain.factor(0, 4, 2) == 1.0 and plain.factor(2, 4, 2) == pytest.approx(0.5 * (1 + math.cos(math.pi / 4)))


@pytest.mark.parametrize("key, value", [("lr_schedule", "linear"), ("lr_warmup_epochs", -1),
                                        ("lr_warmup_epochs", True), ("lr_warmup_epochs", math.nan)])
def test_each_bad_setting_names_its_key(key, value):
    with pytest.raises(ScheduleSettingError) as caught:
        LearningRateSchedule.from_config(_Settings({key: value}))
    assert caught.value.key == key and str(caught.value).startswith(key) and "\n" not in str(caught.value)


def _optimiser():
    return torch.optim.SGD([torch.nn.Parameter(torch.ones(2))], lr=0.1)


def _steps(optimiser, n):
    for _ in range(n):
        optimiser.step()


def test_the_scheduler_follows_each_optimiser_step_and_resumes_from_its_state():
    schedule = LearningRateSchedule.from_config(_Settings(lr_schedule="cosine", lr_warmup_epochs=1))
    optimiser = _optimiser()
    scheduler = schedule.attach(optimiser, steps_per_epoch=4, epochs=3)
    assert optimiser.param_groups[0]["lr"] == pytest.approx(0.1 * 0.25)  # the first step's rate
    _steps(optimiser, 6)
    assert optimiser.param_groups[0]["lr"] == pytest.approx(0.1 * schedule.factor(6, 4, 3))
    saved_optimiser, saved_scheduler = optimiser.state_dict(), scheduler.state_dict()

    resumed = _optimiser()
    resumed.load_state_dict(saved_optimiser)
    schedule.attach(resumed, steps_per_epoch=4, epochs=3, state=saved_scheduler)
    assert resumed.param_groups[0]["lr"] == pytest.approx(0.1 * schedule.factor(6, 4, 3))
    _steps(resumed, 2)
    _steps(optimiser, 2)
    assert resumed.param_groups[0]["lr"] == pytest.approx(optimiser.param_groups[0]["lr"])
    assert resumed.param_groups[0]["lr"] == pytest.approx(0.1 * schedule.factor(8, 4, 3))


def _run(small_dataset_dir, tmp_path, **settings):
    return run_recbole(model="PoseRec", dataset=small_dataset_dir.name, config_file_list=[DATASET_PROPERTIES],
                       config_dict={"data_path": str(small_dataset_dir.data_path), "checkpoint_dir": str(tmp_path),
                                    "state": "WARNING", "train_windows_per_batch": 16, "eval_protocols": [],
                                    **settings})


def test_training_steps_the_schedule_and_its_checkpoint_records_it(small_dataset_dir, tmp_path):
    scheduled = _run(small_dataset_dir, tmp_path / "cosine", epochs=2, lr_schedule="cosine", lr_warmup_epochs=1)
    saved = torch.load(scheduled["checkpoint"], weights_only=True)
    state, rate = saved["lr_scheduler"], saved["optimizer"]["param_groups"][0]["lr"]
    steps = state["last_epoch"]  # the optimiser steps taken when the best epoch's checkpoint was saved
    assert steps > 0 and steps % (saved["epoch"] + 1) == 0
    per_epoch = steps // (saved["epoch"] + 1)
    schedule = LearningRateSchedule.from_config(_Settings(lr_schedule="cosine", lr_warmup_epochs=1))
    assert rate == pytest.approx(scheduled["config"]["learning_rate"] * schedule.factor(steps, per_epoch, 2))
    plain = _run(small_dataset_dir, tmp_path / "constant", epochs=1)
    saved = torch.load(plain["checkpoint"], weights_only=True)
    assert "lr_scheduler" not in saved
    assert saved["optimizer"]["param_groups"][0]["lr"] == plain["config"]["learning_rate"]


def test_a_bad_schedule_is_a_one_line_data_error(small_dataset_dir, tmp_path):
    with pytest.raises(DataError) as caught:
        _run(small_dataset_dir, tmp_path, lr_warmup_epochs=-2)
    assert "lr_warmup_epochs must be a number >= 0" in str(caught.value) and "\n" not in str(caught.value)
