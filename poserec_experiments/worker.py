"""One run in its own process: ``python -m poserec_experiments.worker SPEC.json RESULT.json``.

``SPEC.json`` holds ``model``, ``dataset``, ``config_file_list`` and ``config_dict`` for
:func:`recbole_poserec.quick_start.run_recbole` (called with ``saved=True``, so the test metrics are
those of the checkpoint with the best validation score). The command line is cleared first, so RecBole's
``Config`` reads no ``--key=value`` from it.

Besides ``run_recbole``'s return value, ``RESULT.json`` gets:

``timing``
    measured inside RecBole's trainer (the trainer class is wrapped, nothing else changes):
    ``train_epochs`` (epochs actually run, early stopping included), ``train_batches`` (calls of the
    model's ``calculate_loss``, i.e. training batches), ``train_loop_seconds`` (time inside
    ``Trainer._train_epoch``: data loading, negative sampling, forward, backward and optimiser step),
    ``train_step_seconds`` = ``train_loop_seconds / train_batches`` (mean seconds per training batch),
    ``valid_seconds`` / ``valid_passes`` (validation during ``fit``).
``budget``
    the final configuration's ``epochs``, ``stopping_step``, ``eval_step``, ``valid_metric``,
    ``learning_rate``, ``train_batch_size``, ``seed``, ``topk`` and ``metrics``.
``versions``
    python, torch and recbole versions.

A value that is not a finite number (a diverged model's NaN metric) is written as ``null`` and its field
listed in ``non_finite``, so RESULT.json stays valid JSON; the runner then fails the run and stores nothing.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

BUDGET_KEYS = ("epochs", "stopping_step", "eval_step", "valid_metric", "learning_rate", "train_batch_size",
               "train_windows_per_batch", "seed", "topk", "metrics", "dataset", "model")


class TrainerTiming:
    """Accumulates the time spent training and validating, and the training batches."""

    def __init__(self):
        self.train_loop_seconds = 0.0
        self.train_epochs = 0
        self.train_batches = 0
        self.valid_seconds = 0.0
        self.valid_passes = 0

    def as_dict(self) -> dict:
        step = self.train_loop_seconds / self.train_batches if self.train_batches else None
        return {
            "train_loop_seconds": self.train_loop_seconds,
            "train_epochs": self.train_epochs,
            "train_batches": self.train_batches,
            "train_step_seconds": step,
            "valid_seconds": self.valid_seconds,
            "valid_passes": self.valid_passes,
        }

    def wrap(self, trainer_class):
        """A subclass of ``trainer_class`` that reports into this object."""
        timing = self

        class TimedTrainer(trainer_class):
            def __init__(self, config, model):
                super().__init__(config, model)
                calculate_loss = model.calculate_loss

                def counted(*args, **kwargs):
                    if model.training:
                        timing.train_batches += 1
                    return calculate_loss(*args, **kwargs)

                model.calculate_loss = counted

            def _train_epoch(self, *args, **kwargs):
                started = time.perf_counter()
                try:
                    return super()._train_epoch(*args, **kwargs)
                finally:
                    timing.train_loop_seconds += time.perf_counter() - started
                    timing.train_epochs += 1

            def _valid_epoch(self, *args, **kwargs):
                started = time.perf_counter()
                try:
                    return super()._valid_epoch(*args, **kwargs)
                finally:
                    timing.valid_seconds += time.perf_counter() - started
                    timing.valid_passes += 1

        TimedTrainer.__name__ = TimedTrainer.__qualname__ = trainer_class.__name__
        return TimedTrainer


def _plain(value):
    """JSON-friendly copy of a config value."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def run(spec: dict) -> dict:
    """Run one spec through ``run_recbole``; return the result with timing, budget and versions."""
    import recbole
    import torch

    from recbole_poserec import quick_start

    timing = TrainerTiming()
    captured = {}
    original_get_trainer, original_prepare = quick_start.get_trainer, quick_start.prepare_config

    def get_trainer(*args, **kwargs):
        return timing.wrap(original_get_trainer(*args, **kwargs))

    def prepare_config(*args, **kwargs):
        captured["config"] = original_prepare(*args, **kwargs)
        return captured["config"]

    quick_start.get_trainer, quick_start.prepare_config = get_trainer, prepare_config
    try:
        result = quick_start.run_recbole(model=spec["model"], dataset=spec["dataset"],
                                         config_file_list=spec.get("config_file_list"),
                                         config_dict=spec.get("config_dict"), saved=True)
    finally:
        quick_start.get_trainer, quick_start.prepare_config = original_get_trainer, original_prepare
    config = captured.get("config")
    budget = {key: _plain(config[key]) for key in BUDGET_KEYS if config is not None and key in config}
    return {
        "test_result": {k: float(v) for k, v in result["test_result"].items()},
        "best_valid_result": {k: float(v) for k, v in (result.get("best_valid_result") or {}).items()},
        "best_valid_score": float(result["best_valid_score"]),
        "train_seconds": float(result["train_seconds"]),
        "test_seconds": float(result["test_seconds"]),
        "checkpoint": result.get("checkpoint"),
        "synthetic": bool(result.get("synthetic")),
        "timing": timing.as_dict(),
        "budget": budget,
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "recbole": recbole.__version__},
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
    from poserec_experiments.runner import atomic_write_text, dumps_json, finite_or_null, non_finite_fields

    bad = non_finite_fields(result)
    if bad:  # stays valid JSON; the runner fails the run on ``non_finite``
        print(f"error: not a finite number: {', '.join(bad)}; the run is not stored", file=sys.stderr)
        result = finite_or_null(result) | {"non_finite": bad}
    atomic_write_text(result_path, dumps_json(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
