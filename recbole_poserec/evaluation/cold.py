"""The cold-item evaluation: a trained checkpoint ranked over all items, scored on the cold items' positives alone.

A dataset converted with ``--cold-items FRACTION`` (:mod:`dataset_conversion.cold_items`) has no train or valid
row of its cold items and a ``<name>.test_cold.inter`` file: the test rows of those items. A model is trained
once on ``[train, valid, test]`` (:func:`recbole_poserec.quick_start.run_recbole`, ``saved=True``), which gives
its figures over all items; :func:`evaluate_cold_items` then evaluates the saved checkpoint on the test_cold
split with the plug-in's :meth:`~recbole_poserec.trainer.UnitEvaluationMixin.evaluate_windows`: RecBole's
window-level full ranking over every item, the relevant items of a window being its cold positives only.

How the test_cold split is built
    As RecBole builds a benchmark split for ``benchmark_filename: [train, valid, test_cold]``: the rows of the
    file (those inside ``val_interval``, the positives), a copy of the dataset holding them
    (``Dataset.copy``), RecBole's samplers over ``[train, valid, test_cold]`` (so the full-ranking history
    mask is the train and valid positives, empty for a test window: a window's warm test positives are
    ranked like any other item) and RecBole's full-sort loader. The split is cut from the dataset the
    model was trained on (the same settings, loaded again), not from a second dataset read with that
    ``benchmark_filename``: RecBole numbers windows and items in order of first appearance in the ``.inter``
    files, so such a dataset numbers the test windows and the items first seen in the test split
    differently, and a checkpoint's item-indexed weights (PoseRec's ``item_factors`` buffer, Random's
    hash of internal ids) would meet the wrong items. Every row of the file must be a row of the test
    split (it is, for the converter's files: test_cold is the test rows of the cold items).

Which models can rank an unseen item (:data:`COLD_ITEM_SUPPORT`)
    Declared per model, with the reason, and decided from the model and its settings, never by catching an
    error: a model whose item side is an ID embedding or a frequency would score a cold item through an
    embedding that never saw a positive, or a count of zero. Those are reported as "cannot rank unseen
    items" and not evaluated. RecBole's context-aware models (FM, DeepFM, AFN, FRNet) rank unseen items
    only in their content-only form (:func:`content_only_settings`: ``exclude_feature_fields`` adds
    ``item_id`` and ``name``, so the item side is ``factors_pca`` and ``group``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dataset_conversion.cold_items import COLD_SPLIT
from dataset_conversion.errors import DataError
from dataset_conversion.layout import ITEM_FIELD, ITEM_NAME_FIELD, LABEL_FIELD, USER_FIELD
from recbole_poserec.evaluation.units import UnitEvaluation

CANNOT_RANK = "cannot rank unseen items"
ID_FIELDS_OF_CONTENT = (ITEM_FIELD, ITEM_NAME_FIELD)  # what a content-only context-aware model leaves out
CONTEXT_MODELS = ("FM", "DeepFM", "AFN", "FRNet")


@dataclass(frozen=True)
class ColdItemSupport:
    """Whether a model (as configured) ranks items it never saw a positive of, and why."""

    ranks_unseen_items: bool
    reason: str


_CONTEXT_WITH_IDS = ColdItemSupport(False, "its item fields include item_id and name token embeddings: an unseen "
                                           "item's ID row never received a positive")
_CONTEXT_CONTENT_ONLY = ColdItemSupport(True, "content only: its item side is factors_pca (the factor texts' PCA) "
                                              "and group, shared with the items it saw")
# model -> its cold-item support as configured in properties/model/<Model>.yaml; the context-aware models'
# content-only variant is decided by content_only(...) below.
COLD_ITEM_SUPPORT = {
    "PoseRec": ColdItemSupport(True, "its item side reads the nine factor text embeddings (Eqs. 3-6): an unseen "
                                     "item is scored from its text"),
    "Random": ColdItemSupport(True, "a uniform score per (window, item) pair: every item is ranked alike"),
    "Pop": ColdItemSupport(False, "ranks items by their training interactions: an unseen item has none"),
    "NeuMF": ColdItemSupport(False, "its item side is an item-ID embedding (GMF and MLP): an unseen item's row "
                                    "never received a positive"),
    "PoseKNN": ColdItemSupport(False, "scores an item by the neighbouring training windows' positives: an unseen "
                                      "item has none"),
    **{model: _CONTEXT_WITH_IDS for model in CONTEXT_MODELS},
}


def content_only(config) -> bool:
    """Whether a context-aware model's settings leave out every item-ID-like field (``item_id`` and ``name``)."""
    excluded = config.get("exclude_feature_fields") if isinstance(config, dict) else config["exclude_feature_fields"]
    return set(ID_FIELDS_OF_CONTENT) <= set(excluded or ())


def cold_item_support(model: str, config: dict | None = None) -> ColdItemSupport:
    """The declared :class:`ColdItemSupport` of ``model`` with settings ``config`` (its final configuration, or
    the overrides of its YAML; ``None``: as configured). ValueError for a model without a declaration."""
    if model not in COLD_ITEM_SUPPORT:
        raise ValueError(f"no cold-item support is declared for model {model!r} (declared: "
                         f"{', '.join(COLD_ITEM_SUPPORT)}); add it to COLD_ITEM_SUPPORT with its reason")
    if model in CONTEXT_MODELS and config is not None and content_only(config):
        return _CONTEXT_CONTENT_ONLY
    return COLD_ITEM_SUPPORT[model]


def content_only_settings(model: str) -> dict:
    """The settings that make a context-aware model content-only: its YAML's ``exclude_feature_fields`` plus
    ``item_id`` and ``name``."""
    if model not in CONTEXT_MODELS:
        raise ValueError(f"{model} is not one of the context-aware models {', '.join(CONTEXT_MODELS)}")
    from recbole_poserec.property_files import model_properties

    excluded = list(model_properties(model).get("exclude_feature_fields") or [USER_FIELD])
    return {"exclude_feature_fields": excluded + [f for f in ID_FIELDS_OF_CONTENT if f not in excluded]}


# ------------------------------------------------------------------------------------------ evaluation


@dataclass
class ColdEvaluation:
    """The test_cold figures of a checkpoint: RecBole's window-level ``result`` and each window's values
    (``windows``), the cold positives evaluated and the wall time of the evaluation (loading included)."""

    windows: UnitEvaluation
    positives: int
    seconds: float

    @property
    def result(self) -> dict:
        return self.windows.result


def cold_file(data_path: str | Path, dataset: str) -> Path:
    """``<data_path>/<dataset>/<dataset>.test_cold.inter`` (``data_path`` the data root)."""
    return Path(data_path) / dataset / f"{dataset}.{COLD_SPLIT}.inter"


def _pair_keys(windows, items) -> pd.Index:
    return pd.MultiIndex.from_arrays([np.asarray(windows, dtype=str), np.asarray(items, dtype=str)])


def cold_split(test_dataset, path: Path):
    """A copy of ``test_dataset`` (a built test split) holding only its rows listed in the test_cold file
    ``path``; DataError (one line, naming the file) when the file is missing or lists a positive that the test
    split lacks, or when none of its rows is a positive."""
    if not path.is_file():
        raise DataError(path, f"missing: the dataset was not converted with --cold-items (no {COLD_SPLIT} file)")
    rows = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    columns = {c.split(":")[0]: c for c in rows.columns}
    if USER_FIELD not in columns or ITEM_FIELD not in columns:
        raise DataError(path, f"has no {USER_FIELD} and {ITEM_FIELD} columns")
    uid, iid = test_dataset.uid_field, test_dataset.iid_field
    inter = test_dataset.inter_feat
    test_keys = _pair_keys(test_dataset.id2token(uid, inter[uid].numpy()), test_dataset.id2token(iid, inter[iid].numpy()))
    cold_keys = _pair_keys(rows[columns[USER_FIELD]], rows[columns[ITEM_FIELD]])
    keep = test_keys.isin(cold_keys)
    if not keep.any():
        raise DataError(path, "none of its rows is a positive of the test split: nothing to evaluate")
    # The file also holds the cold items' non-positive test rows (val_interval dropped them from the split);
    # each positive it lists (label 1, the converter's label of a score > 0) must be a row of the split.
    if LABEL_FIELD in columns:
        positive = pd.to_numeric(rows[columns[LABEL_FIELD]], errors="coerce").to_numpy() > 0
        missing = np.flatnonzero(positive & ~cold_keys.isin(test_keys))
        if len(missing):
            raise DataError(path, "a positive that the test split lacks: this file is not the test rows of the "
                                  "cold items of this dataset", row=int(missing[0]) + 1)
    return test_dataset.copy(inter[np.flatnonzero(keep)])


def evaluate_cold_items(checkpoint, model: str, dataset: str, config_file_list=None, config_dict=None,
                        show_progress: bool = False) -> ColdEvaluation:
    """Evaluate ``checkpoint`` (trained by ``run_recbole`` with the same settings) on the test_cold split.

    ``config_file_list`` / ``config_dict``: the settings of the training run (the command line is not read).
    Returns the window-level figures of the cold positives (see the module docstring). A model that cannot
    rank unseen items (:func:`cold_item_support`) is a ValueError: it has no such figures.
    """
    from recbole.data.utils import create_samplers, get_dataloader
    from recbole.utils import init_seed

    from recbole_poserec.data.dataloader import data_preparation
    from recbole_poserec.data.dataset import create_dataset
    from recbole_poserec.quick_start import prepare_config
    from recbole_poserec.utils import get_model, get_trainer

    started = time.perf_counter()
    config = prepare_config(model, dataset, config_file_list, config_dict, command_line=[])
    support = cold_item_support(config["model"], config)
    if not support.ranks_unseen_items:
        raise ValueError(f"{config['model']} {CANNOT_RANK}: {support.reason}")
    init_seed(config["seed"], config["reproducibility"])
    dataset_obj = create_dataset(config)
    train_data, valid_data, test_data = data_preparation(config, dataset_obj)
    cold = cold_split(test_data._dataset, Path(config["data_path"]) / f"{config['dataset']}.{COLD_SPLIT}.inter")
    splits = [train_data._dataset, valid_data._dataset, cold]
    _, _, sampler = create_samplers(config, dataset_obj, splits)  # RecBole's, as for [train, valid, test_cold]
    loader = get_dataloader(config, "test")(config, cold, sampler, shuffle=False)

    init_seed(config["seed"] + config["local_rank"], config["reproducibility"])
    model_obj = get_model(config["model"])(config, train_data._dataset).to(config["device"])
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model_obj)
    windows = trainer.evaluate_windows(loader, load_best_model=True, model_file=str(checkpoint),
                                       show_progress=show_progress)
    return ColdEvaluation(windows, positives=len(cold), seconds=time.perf_counter() - started)
