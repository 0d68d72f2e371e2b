"""The training budgets of the sweeps, one YAML file each beside this module, read by :func:`read_budget`.

``benchmark.yaml``  per model: RecBole settings layered over the model's own YAML: the benchmark's
                    CPU budget (``python -m poserec_experiments.benchmark --budget cpu``, the default
                    without ``--device cuda``)
``benchmark-converged.yaml``  the same for the converged budget (``--budget converged``, the default with
                    ``--device cuda``): every model validated every epoch, early stopping
``ablations.yaml``  every variant of every study (``python -m poserec_experiments.ablate``): the RecBole
                    settings ``train`` and the ``window_step`` of the base and derived datasets
``tuning.yaml``     every PoseRec run of the validation search (``python -m poserec_experiments.tune``), in
                    the same shape as ``ablations.yaml``; long enough for the runs to stop early

The budget options of both commands (``--epochs``, ``--stopping-step``, ``--eval-step``, ...) override them.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from dataset_conversion.errors import DataError

BUDGETS_DIR = Path(__file__).resolve().parent


def read_budget(name: str) -> dict:
    """The mapping in ``<name>.yaml`` (``benchmark``, ``benchmark-converged``, ``ablations`` or ``tuning``);
    DataError naming the file otherwise."""
    path = BUDGETS_DIR / f"{name}.yaml"
    with open(path, encoding="utf-8") as handle:
        budget = yaml.safe_load(handle)
    if not isinstance(budget, dict):
        raise DataError(path, "is not a YAML mapping of budget settings")
    return budget
