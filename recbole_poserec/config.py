"""The plug-in's ``Config``: RecBole's configurator, with the plug-in's property files and model lookup.

Layering, lowest to highest priority:

1. RecBole's own defaults (``recbole/properties``, including its quick-start files per model type);
2. ``properties/overall.yaml`` of this repository;
3. ``properties/model/<Model>.yaml``;
4. ``properties/dataset/<dataset>.yaml``;
5. ``--config_files``, a ``config_dict`` and ``--key=value`` on the command line (RecBole's order).

This mirrors RecBole (model before dataset) and RecBole-GNN's plug-in ``Config``.
"""

from __future__ import annotations

import os

from recbole.config import Config as RecBoleConfig

from recbole_poserec.utils import get_model

PROPERTIES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "properties")
_TRAIN_SAMPLERS = ("default", "video")


def plugin_property_files(model: str, dataset: str) -> list[str]:
    """The plug-in's property files for a model and dataset, lowest priority first (existing ones only)."""
    candidates = [
        os.path.join(PROPERTIES_DIR, "overall.yaml"),
        os.path.join(PROPERTIES_DIR, "model", f"{model}.yaml"),
        os.path.join(PROPERTIES_DIR, "dataset", f"{dataset}.yaml"),
    ]
    return [path for path in candidates if os.path.isfile(path)]


class Config(RecBoleConfig):
    """RecBole ``Config`` that finds plug-in models first and layers the plug-in's property files."""

    def _get_model_and_dataset(self, model, dataset):
        if model is None:
            model = self.external_config_dict.get("model")
            if model is None:
                raise KeyError("model needs to be given: as an argument, in a config file, a config dict or --model")
        if isinstance(model, str):
            model_class = get_model(model)
        else:
            model_class, model = model, model.__name__
        if dataset is None:
            dataset = self.external_config_dict.get("dataset")
            if dataset is None:
                raise KeyError("dataset needs to be given: as an argument, in a config file, a config dict or --dataset")
        return model, model_class, dataset

    def _load_internal_config_dict(self, model, model_class, dataset):
        super()._load_internal_config_dict(model, model_class, dataset)
        dataset_file = os.path.join(PROPERTIES_DIR, "dataset", f"{dataset}.yaml")
        for path in plugin_property_files(model, dataset):
            loaded = self._update_internal_config_dict(path)
            if path == dataset_file:
                self.parameters["Dataset"] += [key for key in loaded if key not in self.parameters["Dataset"]]

    def _set_train_neg_sample_args(self):
        super()._set_train_neg_sample_args()
        args = self.final_config_dict["train_neg_sample_args"]
        sampler = args.setdefault("sampler", "default")
        if sampler not in _TRAIN_SAMPLERS:
            raise ValueError(f"train_neg_sample_args.sampler must be one of {_TRAIN_SAMPLERS}, got {sampler!r}")
