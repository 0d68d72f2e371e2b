"""Run a model (plug-in or RecBole built-in) end to end with RecBole's dataset, trainer and evaluator.

:func:`run` is RecBole's ``quick_start.run``: one process (:func:`run_recbole`), or several training with
DDP (``nproc``, ``world_size``, ``ip``, ``port``, ``group_offset``; :mod:`recbole_poserec.distributed`).

Every problem with the settings or the places they name (data_path, the dataset folder and its
files, checkpoint_dir) is a one-line :class:`~dataset_conversion.errors.DataError` raised by
:func:`prepare_config`, and a model without a plug-in trainer one raised by :func:`run_recbole`, before any
data is loaded or a model is built.
"""

from __future__ import annotations

import logging
import os
import time
from logging import getLogger
from pathlib import Path

from recbole.utils import EvaluatorType, init_logger, init_seed, set_color

from dataset_conversion.errors import DataError
from recbole_poserec.checkpoint import plain_config
from recbole_poserec.config import SETTINGS_SOURCE, Config
from recbole_poserec.data.dataloader import data_preparation
from recbole_poserec.data.dataset import create_dataset
from recbole_poserec.data.default_datasets import (
    DEFAULT_DATASETS,
    dataset_provenance,
    ensure_default_dataset,
    provenance_line,
)
from recbole_poserec.distributed import Launch, is_distributed, is_main_process, local_leader_first, spawn_ranks
from recbole_poserec.evaluation import VideoFullSortEvalDataLoader, check_evaluation_settings, load_video_field
from recbole_poserec.evaluation.settings import eval_protocols
from recbole_poserec.lr_schedule import LearningRateSchedule, ScheduleSettingError
from recbole_poserec.utils import get_model, get_trainer


def check_directory_setting(config: Config, key: str, path: str | os.PathLike) -> None:
    """``path`` (setting ``key``) must be a directory, or creatable: its first existing ancestor is one."""
    path = Path(path)
    existing = next((p for p in (path, *path.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise config.setting_error(key, f"{existing} is not a directory")


def dataset_files(config: Config) -> list[str]:
    """The interaction files RecBole will read: ``<dataset>.<part>.inter`` per ``benchmark_filename``, else
    ``<dataset>.inter``."""
    name, parts = config["dataset"], config["benchmark_filename"]
    return [f"{name}.{part}.inter" for part in parts] if parts else [f"{name}.inter"]


def check_dataset(config: Config) -> None:
    """The dataset folder and its interaction files exist (after the default datasets were generated)."""
    folder = Path(config["data_path"])
    if not folder.is_dir():
        raise config.setting_error("dataset", f"the dataset directory {folder} is missing under data_path "
                                              f"{folder.parent}, and '{config['dataset']}' is not one of the "
                                              f"generated default datasets ({', '.join(DEFAULT_DATASETS)})")
    missing = [name for name in dataset_files(config) if not (folder / name).is_file()]
    if missing:
        raise DataError(folder, f"the dataset lacks {', '.join(missing)} (RecBole reads "
                                f"<dataset>.<part>.inter for each benchmark_filename part, else <dataset>.inter)")


def prepare_config(model=None, dataset=None, config_file_list=None, config_dict=None, command_line=None) -> Config:
    """The plug-in ``Config``, its paths checked; the default datasets are generated first when missing."""
    config = Config(model=model, dataset=dataset, config_file_list=config_file_list, config_dict=config_dict,
                    command_line=command_line)
    data_root = os.path.dirname(os.path.normpath(config["data_path"]))
    check_directory_setting(config, "data_path", data_root)
    check_directory_setting(config, "checkpoint_dir", config["checkpoint_dir"])
    try:
        ensure_default_dataset(data_root, config["dataset"], getLogger())
    except OSError as err:
        raise config.setting_error("data_path", f"cannot generate the default dataset '{config['dataset']}' "
                                                f"under {data_root} ({err.strerror or type(err).__name__})") from None
    check_dataset(config)
    check_evaluation_settings(config)
    load_video_field(config)
    return config


def check_distributed_settings(config: Config) -> None:
    """Settings that DDP training cannot serve: value metrics (the gathered evaluation ranks units)."""
    if config["eval_type"] == EvaluatorType.VALUE:
        raise config.setting_error("metrics", "training on several processes evaluates ranking metrics (Recall, "
                                              f"NDCG, ...), not value metrics ({config['metrics']})")


def checked_trainer(config: Config):
    """The trainer class for ``config``'s model, after its trainer settings were checked (before any data is
    loaded): a one-line :class:`~dataset_conversion.errors.DataError` naming the setting otherwise."""
    try:
        trainer_class = get_trainer(config["MODEL_TYPE"], config["model"])
    except ValueError as err:
        raise config.setting_error("model", str(err)) from None
    try:
        LearningRateSchedule.from_config(config)
    except ScheduleSettingError as err:
        raise config.setting_error(err.key, str(err)) from None
    return trainer_class


def run(model=None, dataset=None, config_file_list=None, config_dict=None, saved=True, command_line=None,
        launch: Launch = Launch()) -> dict | None:
    """RecBole's ``run``: :func:`run_recbole` in this process when ``launch`` is not distributed (``nproc`` 1,
    no ``world_size``), else in ``launch.nproc`` spawned ranks with DDP, after the settings were checked (and
    the default dataset generated) here once. Returns :func:`run_recbole`'s result (global rank 0's; None on
    a machine without rank 0). Errors: one-line :class:`~dataset_conversion.errors.DataError` lines."""
    arguments = {"model": model, "dataset": dataset, "config_file_list": config_file_list,
                 "config_dict": config_dict, "saved": saved, "command_line": command_line}
    if not launch.distributed:
        return run_recbole(**arguments)
    launch.check()
    config = prepare_config(model, dataset, config_file_list, config_dict, command_line)
    check_distributed_settings(config)
    checked_trainer(config)
    return spawn_ranks(run_recbole, launch, **arguments)


def _init_rank_logger(config: Config) -> None:
    """RecBole's logger (console and log file) in a single process or global rank 0; errors only, on the
    console, in the other ranks."""
    if is_main_process(config):
        init_logger(config)
        return
    handler = logging.StreamHandler()
    handler.setLevel(logging.ERROR)
    logging.basicConfig(level=logging.ERROR, handlers=[handler], force=True)


def run_recbole(model=None, dataset=None, config_file_list=None, config_dict=None, saved=True,
                command_line=None) -> dict:
    """Train on the train split, select on valid, report the test split (RecBole's ``run_recbole``).

    Returns ``best_valid_score``, ``valid_score_bigger``, ``best_valid_result``, ``test_result``,
    ``test_video_result``, ``test_per_unit``, ``train_seconds``, ``test_seconds``, ``test_video_seconds``,
    ``checkpoint``, ``synthetic``, ``timing`` (the trainer's
    :meth:`~recbole_poserec.trainer.TrainingTiming.as_dict`) and ``config`` (the final configuration as
    plain data).

    The test split is evaluated by each protocol of ``eval_protocols`` (``docs/evaluation.md``):
    ``test_result`` by window (RecBole's full ranking; None without ``window``), ``test_video_result`` by
    video with the same metric names (None without ``video``), and ``test_per_unit`` =
    ``{"window": {"ids": [window tokens], "ndcg@10": [...], ...}, "video": {"ids": [video tokens], ...}}``,
    one entry per protocol run, each list in the order of ``ids`` (ascending internal id; a video's windows
    together), its mean the unrounded figure. Validation is window-level whatever the protocols.
    ``command_line``: the ``--key=value`` settings (None: RecBole reads ``sys.argv``). Bad settings, and a
    model whose trainer the plug-in does not provide, raise a one-line
    :class:`~dataset_conversion.errors.DataError` before the dataset is loaded; settings that the data
    or the model refuse once loaded, a one-line DataError too.
    """
    config = prepare_config(model, dataset, config_file_list, config_dict, command_line)
    trainer_class = checked_trainer(config)
    if is_distributed(config):
        check_distributed_settings(config)
    init_seed(config["seed"], config["reproducibility"])
    _init_rank_logger(config)
    logger = getLogger()
    meta = dataset_provenance(config["data_path"], config["dataset"])
    notice = provenance_line(meta)
    if notice:
        logger.warning(set_color(notice, "red"))
    logger.info(config)

    with local_leader_first(config):  # one rank per machine builds the pose store, if needed
        dataset_obj = create_dataset(config)
    logger.info(dataset_obj)
    try:
        train_data, valid_data, test_data = data_preparation(config, dataset_obj)
    except ValueError as err:  # batching or sampling settings that do not fit the model or the data
        raise DataError(SETTINGS_SOURCE, str(err)) from None
    protocols = eval_protocols(config)
    test_data_video = None
    if "video" in protocols:
        try:
            test_data_video = VideoFullSortEvalDataLoader(config, test_data._dataset, test_data._sampler)
        except ValueError as err:  # the dataset has no video field
            raise DataError(SETTINGS_SOURCE, str(err)) from None

    init_seed(config["seed"] + config["local_rank"], config["reproducibility"])
    try:
        model_obj = get_model(config["model"])(config, train_data._dataset).to(config["device"])
    except ValueError as err:  # a model's own check of its settings against the data
        raise config.setting_error("model", str(err)) from None
    logger.info(model_obj)

    trainer = trainer_class(config, model_obj)
    started = time.perf_counter()
    best_valid_score, best_valid_result = trainer.fit(
        train_data, valid_data, saved=saved, show_progress=config["show_progress"]
    )
    train_seconds = time.perf_counter() - started
    test_result = test_video_result = None
    test_seconds = test_video_seconds = None
    test_per_unit = {}
    if "window" in protocols:
        started = time.perf_counter()
        windows = trainer.evaluate_windows(test_data, load_best_model=saved, show_progress=config["show_progress"])
        test_seconds = time.perf_counter() - started
        test_result, test_per_unit["window"] = windows.result, windows.per_unit()
    if test_data_video is not None:
        started = time.perf_counter()
        videos = trainer.evaluate_videos(test_data_video, load_best_model=saved and test_result is None,
                                         show_progress=config["show_progress"])
        test_video_seconds = time.perf_counter() - started
        test_video_result, test_per_unit["video"] = videos.result, videos.per_unit()

    logger.info(set_color("best valid ", "yellow") + f": {best_valid_result}")
    if test_result is not None:
        logger.info(set_color("test result", "yellow") + f": {test_result}")
    if test_video_result is not None:
        logger.info(set_color("test result (video level)", "yellow") + f": {test_video_result}")
    if notice:
        logger.warning(set_color(notice, "red"))
    return {
        "best_valid_score": best_valid_score,
        "valid_score_bigger": config["valid_metric_bigger"],
        "best_valid_result": best_valid_result,
        "test_result": test_result,
        "test_video_result": test_video_result,
        "test_per_unit": test_per_unit,
        "train_seconds": train_seconds,
        "test_seconds": test_seconds,
        "test_video_seconds": test_video_seconds,
        "checkpoint": trainer.saved_model_file if saved else None,
        "synthetic": bool(meta.get("synthetic")),
        "timing": trainer.timing.as_dict(),
        "config": plain_config(config),
    }
