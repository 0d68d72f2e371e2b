"""Model and trainer lookup: the plug-in first, RecBole second (as in RecBole-GNN)."""

from __future__ import annotations

import importlib

from recbole.utils import get_model as recbole_get_model
from recbole.utils import get_trainer as recbole_get_trainer

MODEL_PACKAGE = "recbole_poserec.model"
# where recbole.utils.get_model looks, in its order
RECBOLE_MODEL_PACKAGES = ("general_recommender", "context_aware_recommender", "sequential_recommender",
                          "knowledge_aware_recommender", "exlib_recommender")


def _plugin_module(name: str):
    """The plug-in module ``recbole_poserec.model.<name lower>``, or None if there is none."""
    module_name = f"{MODEL_PACKAGE}.{name.lower()}"
    if importlib.util.find_spec(module_name) is None:
        return None
    return importlib.import_module(module_name)


def get_model(model_name: str):
    """The model class called ``model_name``: ``recbole_poserec/model/<name lower>.py`` first, then RecBole.

    Adding a model to the plug-in is therefore one file named after the class (lower-cased)
    and one ``properties/model/<Model>.yaml``.
    """
    if not isinstance(model_name, str) or not model_name.isidentifier():
        raise ValueError(f"model name {model_name!r} is neither a plug-in nor a RecBole model: "
                         "a model is named by its class (a Python identifier such as PoseRec or BPR)")
    module = _plugin_module(model_name)
    if module is not None and hasattr(module, model_name):
        return getattr(module, model_name)
    try:
        return recbole_get_model(model_name)
    except (ValueError, ImportError, AttributeError) as err:  # RecBole imports optional libraries (lightgbm, ...)
        raise ValueError(
            f"model '{model_name}' is neither in recbole_poserec/model/{model_name.lower()}.py nor in RecBole's "
            f"{', '.join(f'recbole.model.{package}' for package in RECBOLE_MODEL_PACKAGES)} "
            "(the class name is case-sensitive)"
        ) from err


def get_trainer(model_type, model_name: str):
    """The trainer class for a model: ``<Model>Trainer`` in ``recbole_poserec.trainer`` if defined, else the
    plug-in's subclass (weights-only checkpoints, timing) of the trainer RecBole would pick.

    Raises ValueError (one line) for a model whose RecBole trainer the plug-in does not wrap.
    """
    from recbole_poserec import trainer as plugin_trainers

    specific = getattr(plugin_trainers, f"{model_name}Trainer", None)
    if specific is not None:
        return specific
    recbole_trainer = recbole_get_trainer(model_type, model_name)
    if recbole_trainer not in plugin_trainers.PLUGIN_TRAINERS:
        wrapped = ", ".join(cls.__name__ for cls in plugin_trainers.PLUGIN_TRAINERS)
        raise ValueError(f"model '{model_name}' trains with RecBole's {recbole_trainer.__name__}, which the plug-in "
                         f"does not wrap (it wraps {wrapped}, for weights-only checkpoints)")
    return plugin_trainers.PLUGIN_TRAINERS[recbole_trainer]
