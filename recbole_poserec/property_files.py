"""Where the plug-in's YAML lives, without importing RecBole (the recommend command stays light).

The repository's top-level ``properties/`` is the one source of the YAML; it is installed as the
package ``recbole_poserec.properties`` and found through ``importlib.resources`` from a checkout
and from a wheel alike.
"""

from __future__ import annotations

import importlib.resources
import os

import yaml

PROPERTIES_DIR = str(importlib.resources.files("recbole_poserec.properties"))


def model_property_file(model: str) -> str:
    """``properties/model/<model>.yaml`` (whether or not it exists)."""
    return os.path.join(PROPERTIES_DIR, "model", f"{model}.yaml")


def dataset_property_file(name: str) -> str:
    """``properties/dataset/<name>.yaml`` (whether or not it exists)."""
    return os.path.join(PROPERTIES_DIR, "dataset", f"{name}.yaml")


def model_properties(model: str) -> dict:
    """The settings of ``properties/model/<model>.yaml``, as YAML reads them."""
    with open(model_property_file(model), encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}
