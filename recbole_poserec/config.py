"""The plug-in's ``Config``: RecBole's configurator, with the plug-in's property files, model lookup and checks.

Layering, lowest to highest priority:

1. RecBole's own defaults (``recbole/properties``, including its quick-start files per model type);
2. ``properties/overall.yaml`` of this repository;
3. ``properties/model/<Model>.yaml``;
4. the dataset's YAML (:func:`dataset_properties`): ``properties/dataset/<dataset>.yaml`` if there is
   one, else, for a dataset that ``python -m dataset_conversion convert`` wrote (its
   ``<data_path>/<dataset>/<dataset>.meta.json`` names the dataset and a ``format_version``), the
   packaged YAML of its level: ``pose-obe.yaml`` for ``level: instance``, ``pose-obe-cat.yaml`` for
   ``level: category``; so ``--dataset=my-data`` needs no ``--config_files`` for converted data;
5. ``--config_files``, a ``config_dict`` and ``--key=value`` on the command line (RecBole's order).

This mirrors RecBole (model before dataset) and RecBole-GNN's plug-in ``Config``.

Every setting problem is a one-line :class:`~dataset_conversion.errors.DataError` naming where the
value came from (``--key``, ``config_dict``, or a config file and its field), raised before any data
is loaded, for ``run_recbole.py`` and the API (``run_recbole(config_dict=...)``) alike:

* a config file that is missing, not YAML, or not a mapping of settings; one above
  :data:`MAX_CONFIG_FILE_BYTES`, nested too deeply, or with a YAML alias (``*name``: refused before it
  is expanded, so a small file cannot expand into gigabytes);
* a value (layer 5) whose type differs from the one the lower layers (1-4) give that setting
  (:func:`fits_type`: an int where a float is expected is fine; settings the lower layers leave
  unset or ``None`` are not checked);
* a value out of range for the core settings (:data:`AT_LEAST`, ``learning_rate``, ``topk``,
  ``gpu_id``, ``metrics``, ``valid_metric``);
* an unknown model (the message lists where it was looked for) or a dataset name that is not a
  single folder name (:func:`dataset_conversion.dataset_names.name_problem`); anything else RecBole's
  configurator refuses.

Command-line values are read with :func:`ast.literal_eval` (RecBole uses ``eval``): ``--epochs=3``
is an int, ``--topk=[5,10]`` a list, anything that is not a Python literal stays a string.
"""

from __future__ import annotations

import ast
import math
import numbers
import os
import re
from pathlib import Path

import numpy as np
import yaml
from recbole.config import Config as RecBoleConfig
from recbole.evaluator import metric_types
from recbole.utils import EvaluatorType

from dataset_conversion.dataset_names import name_problem, written_by_convert
from dataset_conversion.entrypoint import one_line
from dataset_conversion.errors import DataError
from recbole_poserec.data.default_datasets import dataset_provenance
from recbole_poserec.property_files import PROPERTIES_DIR, dataset_property_file, model_property_file
from recbole_poserec.utils import get_model

# The packaged dataset YAML for a converted dataset without its own, by the level its meta.json names.
CONVERTED_LEVEL_PROPERTIES = {"instance": "pose-obe", "category": "pose-obe-cat"}
_TRAIN_SAMPLERS = ("default", "video")

# Where a setting comes from: (file or argument, field or None), as DataError names it.
SETTINGS_SOURCE = "settings"
# Integer settings and their smallest allowed value.
AT_LEAST = {"epochs": 1, "train_batch_size": 1, "eval_batch_size": 1, "stopping_step": 1, "eval_step": 1,
            "worker": 0, "seed": 0}
MAX_SEED = 2**32 - 1  # numpy's seed range (RecBole's init_seed)
# Settings RecBole also accepts as one element instead of a list (Config._set_default_parameters).
SCALAR_OR_LIST = ("topk", "metrics", "additional_feat_suffix")
# Settings of several accepted types, checked by their own rule instead (gpu_id: '0', 0 or (0, 1)).
OWN_TYPE_RULE = ("gpu_id",)
_GPU_IDS = re.compile(r"(\d+(,\d+)*)?")


def dataset_properties(dataset: str, data_root: str | os.PathLike) -> str | None:
    """The dataset YAML of layer 4 (see the module docstring), or None."""
    own = dataset_property_file(dataset)
    if os.path.isfile(own):
        return own
    folder = Path(data_root) / dataset
    if not written_by_convert(dataset)(folder):
        return None
    level_yaml = CONVERTED_LEVEL_PROPERTIES.get(dataset_provenance(folder, dataset).get("level"))
    return dataset_property_file(level_yaml) if level_yaml else None


def _is_integer(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def type_name(default) -> str:
    """How a message names the type of ``default``."""
    for kind, name in ((bool, "a boolean (True or False)"), (numbers.Integral, "an integer"),
                       (numbers.Real, "a number"), (str, "a string"), ((list, tuple), "a list"), (dict, "a dict")):
        if isinstance(default, kind):
            return name
    return type(default).__name__


def fits_type(value, default, scalar_allowed: bool = False) -> bool:
    """Whether ``value`` may override a setting whose lower layers give ``default``.

    Same type as ``default`` (an int is a float; a bool is not a number); ``None`` (RecBole's "off")
    always fits; list elements must fit the default list's elements when those share one type;
    ``scalar_allowed``: a single element may stand for a list.
    """
    if value is None or default is None:
        return True
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, numbers.Integral):
        return _is_integer(value)
    if isinstance(default, numbers.Real):
        return _is_number(value)
    if isinstance(default, str):
        return isinstance(value, str)
    if isinstance(default, (list, tuple)):
        element_types = {type(element) for element in default}
        if not isinstance(value, (list, tuple)):
            return scalar_allowed and len(element_types) == 1 and fits_type(value, default[0])
        if len(element_types) != 1:
            return True
        return all(fits_type(element, default[0]) for element in value)
    if isinstance(default, dict):
        return isinstance(value, dict)
    return True  # other kinds (enums, ...) are RecBole's own business


def literal_value(text: str):
    """A command-line value: a Python literal if it is one, ``true``/``false`` as booleans, else the text."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        lowered = text.lower()
        return True if lowered == "true" else False if lowered == "false" else text
    return value


MAX_CONFIG_FILE_BYTES = 1024 * 1024


class AliasRefused(yaml.composer.ComposerError):
    """A YAML alias (``*name``) in a config file: settings need none, and nested aliases expand
    exponentially (a "billion laughs" file of a few hundred bytes)."""


def _without_aliases(loader: type) -> type:
    """``loader`` refusing every alias before it is expanded (:class:`AliasRefused`)."""

    class ConfigFileLoader(loader):
        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                raise AliasRefused(None, None, f"YAML aliases (*{event.anchor}) are not allowed in a config "
                                               "file; write the value out", event.start_mark)
            return super().compose_node(parent, index)

    return ConfigFileLoader


class Config(RecBoleConfig):
    """RecBole ``Config`` that finds plug-in models first, layers the plug-in's property files and checks values.

    ``command_line``: the ``--key=value`` settings (e.g. what ``run_recbole.py`` did not parse itself);
    None reads ``sys.argv`` as RecBole does.
    """

    def __init__(self, model=None, dataset=None, config_file_list=None, config_dict=None, command_line=None):
        self._command_line = None if command_line is None else [str(arg) for arg in command_line]
        self._sources: dict[str, tuple[str, str | None]] = {}
        try:
            super().__init__(model=model, dataset=dataset, config_file_list=config_file_list, config_dict=config_dict)
        except DataError:
            raise
        except (ValueError, TypeError, KeyError, NotImplementedError, RuntimeError, SyntaxError, AssertionError) as err:
            message = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
            raise DataError(SETTINGS_SOURCE, one_line(message) or type(err).__name__) from None

    # ------------------------------------------------------------------ where a value came from

    def setting_error(self, key: str, message: str) -> DataError:
        """A :class:`DataError` about setting ``key`` naming where its value came from."""
        source, field = self._sources.get(key, (SETTINGS_SOURCE, key))
        return DataError(source, message, field=field)

    def _from_command_line(self, key: str) -> bool:
        return self._sources.get(key, ("", None))[0] == f"--{key}"

    # ------------------------------------------------------------------------- external layers

    def _convert_config_dict(self, config_dict):
        return {key: literal_value(value) if isinstance(value, str) else value for key, value in config_dict.items()}

    def _load_config_files(self, file_list):
        settings = {}
        for file in file_list or []:
            for key, value in self._read_config_file(file).items():
                settings[key] = value
                self._sources[key] = (os.fspath(file), key)
        return settings

    def _read_config_file(self, file) -> dict:
        if not os.path.isfile(file):
            raise DataError(file, "config file not found" if not os.path.exists(file) else "config file is not a file")
        try:
            with open(file, "rb") as handle:
                data = handle.read(MAX_CONFIG_FILE_BYTES + 1)  # bounded even if the file grows meanwhile
            if len(data) > MAX_CONFIG_FILE_BYTES:
                raise DataError(file, f"config file is larger than {MAX_CONFIG_FILE_BYTES // 1024} KiB; "
                                      "a settings file is a few lines")
            loaded = yaml.load(data.decode("utf-8"), Loader=_without_aliases(self.yaml_loader))
        except (OSError, UnicodeDecodeError) as err:
            raise DataError(file, f"cannot read the config file ({type(err).__name__})") from None
        except RecursionError:
            raise DataError(file, "nested too deeply for a settings file") from None
        except AliasRefused as err:
            raise DataError(file, f"line {err.problem_mark.line + 1}, column {err.problem_mark.column + 1}: "
                                  f"{err.problem}") from None
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            raise DataError(file, f"not valid YAML{where}: {getattr(err, 'problem', None) or err}") from None
        if loaded is None:
            return {}
        if not isinstance(loaded, dict):
            raise DataError(file, f"expected a mapping of 'setting: value' lines, got a {type(loaded).__name__}")
        for key in loaded:
            if not isinstance(key, str):
                raise DataError(file, f"setting name {key!r} is not a string")
        return loaded

    def _load_variable_config_dict(self, config_dict):
        if config_dict is None:
            return {}
        if not isinstance(config_dict, dict):
            raise DataError("config_dict", f"expected a dict of settings, got a {type(config_dict).__name__}")
        for key in config_dict:
            if not isinstance(key, str):
                raise DataError("config_dict", f"setting name {key!r} is not a string")
            self._sources[key] = ("config_dict", key)
        return self._convert_config_dict(dict(config_dict))  # RecBole's converts the caller's dict in place

    def _load_cmd_line(self):
        if self._command_line is None:
            settings = super()._load_cmd_line()  # RecBole's: sys.argv
        else:
            given = {}
            for arg in self._command_line:
                key, sep, value = arg[2:].partition("=") if arg.startswith("--") else ("", "", "")
                if not key or not sep:
                    raise DataError(arg, "a setting is given as --key=value")
                if key in given and given[key] != value:
                    raise DataError(f"--{key}", f"given twice with different values ({given[key]!r} and {value!r})")
                given[key] = value
            # model and dataset are names (a dataset may be called 2024), everything else a literal
            settings = {key: value if key in ("model", "dataset") else literal_value(value)
                        for key, value in given.items()}
        for key in settings:
            self._sources[key] = (f"--{key}", None)
        return settings

    # ---------------------------------------------------------------------------- model, dataset

    def _get_model_and_dataset(self, model, dataset):
        if model is None:
            model = self.external_config_dict.get("model")
            if model is None:
                raise DataError("model", "no model given: name it as an argument, in a config file, "
                                         "a config dict or with --model")
        else:
            self._sources["model"] = ("model", None)
        if isinstance(model, str):
            try:
                model_class = get_model(model)
            except ValueError as err:
                raise self.setting_error("model", str(err)) from None
        else:
            model_class, model = model, model.__name__
        if dataset is None:
            dataset = self.external_config_dict.get("dataset")
            if dataset is None:
                raise DataError("dataset", "no dataset given: name it as an argument, in a config file, "
                                           "a config dict or with --dataset")
        else:
            self._sources["dataset"] = ("dataset", None)
        problem = name_problem(dataset)
        if problem is not None:
            raise self.setting_error("dataset", problem)
        return model, model_class, dataset

    # ---------------------------------------------------------------------------- lower layers

    def _load_internal_config_dict(self, model, model_class, dataset):
        super()._load_internal_config_dict(model, model_class, dataset)
        for path in (os.path.join(PROPERTIES_DIR, "overall.yaml"), model_property_file(model)):
            if os.path.isfile(path):
                self._load_plugin_properties(path)
        data_root = self.external_config_dict.get("data_path") or self.internal_config_dict.get("data_path")
        dataset_file = dataset_properties(dataset, data_root) if isinstance(data_root, (str, os.PathLike)) else None
        if dataset_file is not None:
            loaded = self._load_plugin_properties(dataset_file)
            self.parameters["Dataset"] += [key for key in loaded if key not in self.parameters["Dataset"]]

    def _load_plugin_properties(self, path: str) -> dict:
        loaded = self._update_internal_config_dict(path) or {}
        for key in loaded:
            self._sources.setdefault(key, (path, key))
        return loaded

    # ------------------------------------------------------------------------------- the checks

    def compatibility_settings(self):
        """RecBole's aliases of removed numpy names (its metrics use ``np.float``, ``np.bool``, ...), built from
        names that numpy 1.26 and 2.x both have: RecBole's own version reads ``np.float_``, ``np.complex_`` and
        ``np.unicode_``, which numpy 2 removed."""
        np.bool = np.bool_
        np.int = np.int_
        np.float = np.float64
        np.complex = np.complex128
        np.object = np.object_
        np.str = np.str_
        np.long = np.int_
        np.unicode = np.str_

    def _get_final_config_dict(self):
        self._check_override_types()
        final = super()._get_final_config_dict()
        self._check_values(final)
        return final

    def _check_override_types(self) -> None:
        """Each external value must have the type the lower layers give its setting."""
        for key, value in self.external_config_dict.items():
            default = self.internal_config_dict.get(key)
            if key in OWN_TYPE_RULE or fits_type(value, default, scalar_allowed=key in SCALAR_OR_LIST):
                continue
            given = "a command-line value" if self._from_command_line(key) else "a value"
            shown = repr(default) if len(repr(default)) <= 60 else f"{repr(default)[:57]}..."
            raise self.setting_error(key, f"{given} must have the type of the setting it overrides: {key} is "
                                          f"{type_name(default)} (lower layers: {shown}), got {value!r}")

    def _check_values(self, final: dict) -> None:
        """Ranges of the core settings, before RecBole (or a training) trips over them."""
        for key, low in AT_LEAST.items():
            if key in final:
                value = final[key]
                high = MAX_SEED if key == "seed" else None
                if not _is_integer(value) or value < low or (high is not None and value > high):
                    allowed = f"an integer in {low}..{high}" if high is not None else f"an integer >= {low}"
                    raise self.setting_error(key, f"{key} must be {allowed}, got {value!r}")
        if "learning_rate" in final:
            value = final["learning_rate"]
            if not _is_number(value) or not math.isfinite(value) or value <= 0:
                raise self.setting_error("learning_rate", f"learning_rate must be a finite number > 0, got {value!r}")
        topk = final.get("topk")
        topk = [topk] if _is_integer(topk) else topk
        if not isinstance(topk, (list, tuple)) or not topk or not all(_is_integer(k) and k >= 1 for k in topk):
            raise self.setting_error("topk", f"topk must be an integer >= 1 or a non-empty list of them, "
                                             f"got {final.get('topk')!r}")
        self._check_gpu_id(final.get("gpu_id"))
        self._check_metrics(final, list(topk))

    def _check_gpu_id(self, gpu_id) -> None:
        ids = list(gpu_id) if isinstance(gpu_id, (list, tuple)) else [gpu_id]
        if all(_is_integer(i) and i >= 0 for i in ids) and ids:
            return
        if isinstance(gpu_id, str) and _GPU_IDS.fullmatch(gpu_id.replace(" ", "")):
            return
        raise self.setting_error("gpu_id", "gpu_id must be '' (CPU), a GPU number or comma-separated GPU numbers "
                                           f"(0 or 0,1), got {gpu_id!r}")

    def _check_metrics(self, final: dict, topk: list[int]) -> None:
        metrics = final.get("metrics")
        metrics = [metrics] if isinstance(metrics, str) else metrics
        if not isinstance(metrics, (list, tuple)) or not metrics:
            raise self.setting_error("metrics", f"metrics must be a metric name or a list of them, got {metrics!r}")
        results = set()
        for metric in metrics:
            if not isinstance(metric, str) or metric.lower() not in metric_types:
                raise self.setting_error("metrics", f"unknown metric {metric!r}; RecBole's metrics are "
                                                    f"{', '.join(sorted(metric_types))}")
            if metric_types[metric.lower()] == EvaluatorType.RANKING:
                results.update(f"{metric.lower()}@{k}" for k in topk)
            else:
                results.add(metric.lower())
        valid_metric = final.get("valid_metric")
        if not isinstance(valid_metric, str) or valid_metric.lower() not in results:
            raise self.setting_error("valid_metric", f"valid_metric must be one of the evaluated results "
                                                     f"({', '.join(sorted(results))}: metrics {list(metrics)} "
                                                     f"at topk {topk}), got {valid_metric!r}")

    def _init_device(self):
        """RecBole's device set-up; under DDP (``local_rank`` set by the launcher) the process group is joined
        with NCCL when this rank has a GPU (``gpu_id`` lists one per local rank), else with gloo on the CPU
        (RecBole 1.2.1 always asks for NCCL). Only global rank 0 logs (``state``), shows progress or is verbose."""
        final = self.final_config_dict
        if "local_rank" not in final:
            return super()._init_device()
        gpu_id = final["gpu_id"]
        gpu_id = ",".join(map(str, gpu_id)) if isinstance(gpu_id, (list, tuple)) else str(gpu_id)
        final["gpu_id"] = gpu_id
        os.environ["CUDA_VISIBLE_DEVICES"] = gpu_id
        import torch

        local_rank, nproc = final["local_rank"], final["nproc"]
        use_cuda = bool(gpu_id) and torch.cuda.is_available()
        if use_cuda and len(gpu_id.split(",")) < nproc:
            raise self.setting_error("gpu_id", f"{nproc} processes on this machine need {nproc} GPUs in gpu_id "
                                               f"(e.g. --gpu_id=0,1), got {gpu_id!r}")
        rank = local_rank + final["offset"]
        if not torch.distributed.is_initialized():
            address = f"tcp://{final['ip']}:{final['port']}"
            try:
                torch.distributed.init_process_group(backend="nccl" if use_cuda else "gloo", init_method=address,
                                                     rank=rank, world_size=final["world_size"])
            except (RuntimeError, ValueError, OSError) as err:
                raise DataError("--port", f"rank {rank} cannot join the process group at {address} "
                                          f"({one_line(err)[:160]})") from None
        if use_cuda:
            final["device"] = torch.device("cuda", local_rank)
            torch.cuda.set_device(local_rank)
        else:
            final["device"] = torch.device("cpu")
        final["single_spec"] = False
        if rank != 0:
            final["state"] = "error"
            final["show_progress"] = False
            final["verbose"] = False

    def _set_train_neg_sample_args(self):
        super()._set_train_neg_sample_args()
        args = self.final_config_dict["train_neg_sample_args"]
        sampler = args.setdefault("sampler", "default")
        if sampler not in _TRAIN_SAMPLERS:
            raise self.setting_error("train_neg_sample_args",
                                     f"train_neg_sample_args.sampler must be one of {_TRAIN_SAMPLERS}, got {sampler!r}")
