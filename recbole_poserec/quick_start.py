"""Run a model (plug-in or RecBole built-in) end to end with RecBole's dataset, trainer and evaluator."""

from __future__ import annotations

import os
import time
from logging import getLogger

from recbole.data import create_dataset
from recbole.utils import init_logger, init_seed, set_color

from recbole_poserec.config import Config
from recbole_poserec.data import data_preparation
from recbole_poserec.default_data import dataset_provenance, ensure_default_dataset, provenance_line
from recbole_poserec.utils import get_model, get_trainer


def prepare_config(model=None, dataset=None, config_file_list=None, config_dict=None) -> Config:
    """The plug-in ``Config``; the default datasets are generated first when missing."""
    config = Config(model=model, dataset=dataset, config_file_list=config_file_list, config_dict=config_dict)
    data_root = os.path.dirname(os.path.normpath(config["data_path"]))
    ensure_default_dataset(data_root, config["dataset"], getLogger())
    return config


def run_recbole(model=None, dataset=None, config_file_list=None, config_dict=None, saved=True) -> dict:
    """Train on the train split, select on valid, report the test split (RecBole's ``run_recbole``).

    Returns ``best_valid_score``, ``valid_score_bigger``, ``best_valid_result``, ``test_result``,
    ``train_seconds``, ``test_seconds``, ``checkpoint`` and ``synthetic``.
    """
    config = prepare_config(model, dataset, config_file_list, config_dict)
    init_seed(config["seed"], config["reproducibility"])
    init_logger(config)
    logger = getLogger()
    meta = dataset_provenance(config["data_path"], config["dataset"])
    notice = provenance_line(meta)
    if notice:
        logger.warning(set_color(notice, "red"))
    logger.info(config)

    dataset_obj = create_dataset(config)
    logger.info(dataset_obj)
    train_data, valid_data, test_data = data_preparation(config, dataset_obj)

    init_seed(config["seed"] + config["local_rank"], config["reproducibility"])
    model_obj = get_model(config["model"])(config, train_data._dataset).to(config["device"])
    logger.info(model_obj)

    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model_obj)
    started = time.perf_counter()
    best_valid_score, best_valid_result = trainer.fit(
        train_data, valid_data, saved=saved, show_progress=config["show_progress"]
    )
    train_seconds = time.perf_counter() - started
    started = time.perf_counter()
    test_result = trainer.evaluate(test_data, load_best_model=saved, show_progress=config["show_progress"])
    test_seconds = time.perf_counter() - started

    logger.info(set_color("best valid ", "yellow") + f": {best_valid_result}")
    logger.info(set_color("test result", "yellow") + f": {test_result}")
    if notice:
        logger.warning(set_color(notice, "red"))
    return {
        "best_valid_score": best_valid_score,
        "valid_score_bigger": config["valid_metric_bigger"],
        "best_valid_result": best_valid_result,
        "test_result": test_result,
        "train_seconds": train_seconds,
        "test_seconds": test_seconds,
        "checkpoint": trainer.saved_model_file if saved else None,
        "synthetic": bool(meta.get("synthetic")),
    }
