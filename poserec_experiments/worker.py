"""One run in its own process: ``python -m poserec_experiments.worker SPEC.json RESULT.json``.

``SPEC.json`` holds ``model``, ``dataset``, ``config_file_list`` and ``config_dict`` for
:func:`recbole_poserec.quick_start.run_recbole` (called with ``saved=True``, so the test metrics are
those of the checkpoint with the best validation score), and ``threads``: torch's intra-op thread cap
(null: not capped). The command line is cleared first, so RecBole's ``Config`` reads no ``--key=value``
from it.

Besides ``run_recbole``'s return value, ``RESULT.json`` gets:

``timing``
    :class:`recbole_poserec.trainer.TrainingTiming`, measured inside the plug-in's trainer and returned by
    ``run_recbole``: ``train_epochs`` (epochs actually run, early stopping included), ``train_batches``
    (training batches, i.e. calls of the loss function), ``train_loop_seconds`` (time inside
    ``Trainer._train_epoch``: data loading, negative sampling, forward, backward and optimiser step),
    ``train_step_seconds`` = ``train_loop_seconds / train_batches`` (mean seconds per training batch),
    ``valid_seconds`` / ``valid_passes`` (validation during ``fit``).
``budget``
    the final configuration's (``run_recbole``'s ``config``) ``epochs``, ``stopping_step``, ``eval_step``,
    ``valid_metric``, ``learning_rate``, ``train_batch_size``, ``train_windows_per_batch``, ``seed``,
    ``topk``, ``metrics``, ``dataset`` and ``model``.
``versions``
    python, torch and recbole versions.
``device``
    the device RecBole trained and tested on (``cpu`` or ``cuda``; from the final configuration, so a
    ``cuda`` request that fell back to the CPU reads ``cpu``).
``torch_threads``
    torch's intra-op threads during the run: ``threads`` of ``SPEC.json`` when the runner capped them
    (``torch.set_num_threads``; see :mod:`poserec_experiments.runner`), else torch's default.

A value that is not a finite number (a diverged model's NaN metric) is written as ``null`` and its field
listed in ``non_finite``, so RESULT.json stays valid JSON; the runner then fails the run and stores nothing.
"""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path

BUDGET_KEYS = ("epochs", "stopping_step", "eval_step", "valid_metric", "learning_rate", "train_batch_size",
               "train_windows_per_batch", "seed", "topk", "metrics", "dataset", "model")


def run(spec: dict) -> dict:
    """Run one spec through ``run_recbole``; return the result with timing, budget and versions."""
    import recbole
    import torch

    from recbole_poserec.quick_start import run_recbole

    if spec.get("threads"):
        torch.set_num_threads(int(spec["threads"]))
    result = run_recbole(model=spec["model"], dataset=spec["dataset"], config_file_list=spec.get("config_file_list"),
                         config_dict=spec.get("config_dict"), saved=True)
    config = result["config"]
    return {
        "test_result": {k: float(v) for k, v in result["test_result"].items()},
        "best_valid_result": {k: float(v) for k, v in (result.get("best_valid_result") or {}).items()},
        "best_valid_score": float(result["best_valid_score"]),
        "train_seconds": float(result["train_seconds"]),
        "test_seconds": float(result["test_seconds"]),
        "checkpoint": result.get("checkpoint"),
        "synthetic": bool(result.get("synthetic")),
        "timing": result["timing"],
        "budget": {key: config[key] for key in BUDGET_KEYS if key in config},
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "recbole": recbole.__version__},
        "device": torch.device(config["device"]).type,
        "torch_threads": torch.get_num_threads(),
    }


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) != 2:
        print("usage: python -m poserec_experiments.worker SPEC.json RESULT.json", file=sys.stderr)
        return 2
    spec_path, result_path = Path(argv[0]), Path(argv[1])
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    sys.argv = sys.argv[:1]  # RecBole's Config parses --key=value from sys.argv
    result = run(spec)
    from dataset_conversion.atomic import atomic_file
    from poserec_experiments.runner import dumps_json, finite_or_null, non_finite_fields

    bad = non_finite_fields(result)
    if bad:  # stays valid JSON; the runner fails the run on ``non_finite``
        print(f"error: not a finite number: {', '.join(bad)}; the run is not stored", file=sys.stderr)
        result = finite_or_null(result) | {"non_finite": bad}
    with atomic_file(result_path, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(dumps_json(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
