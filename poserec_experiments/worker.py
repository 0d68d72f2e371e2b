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
``data_digest``
    :func:`poserec_experiments.runner.dataset_digest` of the dataset the run read (a stored result is reused
    only on the same data).
``device``
    the device RecBole trained and tested on (``cpu`` or ``cuda``; from the final configuration, so a
    ``cuda`` request that fell back to the CPU reads ``cpu``).
``test_video_seconds``
    the video-level test evaluation's wall time (absent when the run evaluated no videos).
``test_video_result``
    the video-level test metrics (``run_recbole``'s; null when the run evaluated no videos, absent from
    results stored before the video-level protocol existed).
``test_per_unit``
    ``{protocol: {"ids": [...], "<metric>": [...]}}``: the test metrics per window and per video as
    ``run_recbole`` returns them, each value rounded to :data:`PER_UNIT_DECIMALS` decimals (the tables'
    precision; a result stays a few hundred kB). The significance tests pair them by id.
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
               "train_windows_per_batch", "seed", "topk", "metrics", "dataset", "model", "eval_protocols",
               "video_aggregation")
PER_UNIT_DECIMALS = 6


def per_unit_values(per_unit) -> dict | None:
    """``run_recbole``'s ``test_per_unit`` as JSON: ids as strings, values as floats of
    :data:`PER_UNIT_DECIMALS` decimals; None when the run returned none."""
    if per_unit is None:
        return None
    return {protocol: {name: [str(v) for v in values] if name == "ids"
                       else [round(float(v), PER_UNIT_DECIMALS) for v in values]
                       for name, values in units.items()}
            for protocol, units in per_unit.items() if units is not None}


def run(spec: dict) -> dict:
    """Run one spec through ``run_recbole``; return the result with timing, budget and versions."""
    import recbole
    import torch

    from poserec_experiments.runner import dataset_digest
    from recbole_poserec.quick_start import run_recbole

    if spec.get("threads"):
        torch.set_num_threads(int(spec["threads"]))
    result = run_recbole(model=spec["model"], dataset=spec["dataset"], config_file_list=spec.get("config_file_list"),
                         config_dict=spec.get("config_dict"), saved=True)
    config = result["config"]
    video = result.get("test_video_result")
    seconds = {name: float(result[name]) for name in ("train_seconds", "test_seconds", "test_video_seconds")
               if result.get(name) is not None}  # a protocol not run has no time
    return seconds | {
        "test_result": {k: float(v) for k, v in (result["test_result"] or {}).items()},
        "test_video_result": None if video is None else {k: float(v) for k, v in video.items()},
        "test_per_unit": per_unit_values(result.get("test_per_unit")),
        "best_valid_result": {k: float(v) for k, v in (result.get("best_valid_result") or {}).items()},
        "best_valid_score": float(result["best_valid_score"]),
        "checkpoint": result.get("checkpoint"),
        "synthetic": bool(result.get("synthetic")),
        "data_digest": dataset_digest(spec["config_dict"]["data_path"], spec["dataset"]),
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
