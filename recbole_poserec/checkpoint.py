"""Checkpoints that load with ``torch.load(weights_only=True)``.

RecBole 1.2.1 pickles its whole ``Config`` object into checkpoints; torch >= 2.6 refuses to load
that with its default ``weights_only=True``. The plug-in stores the configuration as plain data
instead (strings, numbers, lists, dicts), so every checkpoint it writes is a weights-only file.

A checkpoint also records the text encoder its item factors were embedded with (``text_encoder``:
the ``text_encoder`` entry of the dataset's ``<dataset>.meta.json``, written by the converter: name,
path or hub name, identity = SHA-256 of its files, hidden size, pooling, max_length), so that items
added after training can be embedded the same way (``recommend --items``).
"""

from __future__ import annotations

import enum
import json
import os
import warnings
from pathlib import Path

import torch

from dataset_conversion.atomic import atomic_file
from dataset_conversion.errors import DataError

CHECKPOINT_FORMAT = "recbole-poserec/1"
TEXT_ENCODER_KEY = "text_encoder"  # the checkpoint entry (and the meta.json entry) recording the text encoder
_PLAIN_SCALARS = (str, int, float, bool, type(None))


def plain_data(value):
    """``value`` reduced to what ``torch.load(weights_only=True)`` accepts (enums and devices become strings)."""
    if isinstance(value, _PLAIN_SCALARS):
        return value
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, dict):
        return {str(key): plain_data(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [plain_data(item) for item in value]
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    return str(value)


def plain_config(config) -> dict:
    """The final configuration of a RecBole ``Config`` as plain data."""
    return plain_data(dict(config.final_config_dict))


def dataset_meta_file(config) -> Path | None:
    """The converter's ``<dataset>.meta.json`` of the dataset a plain configuration trained on, or None.

    RecBole's final ``data_path`` is ``<data root>/<dataset>`` (the meta file is in it); a ``data_path``
    that is still the root is looked in too.
    """
    if not isinstance(config, dict):
        return None
    data_path, dataset = config.get("data_path"), config.get("dataset")
    if not isinstance(data_path, str) or not isinstance(dataset, str) or not data_path or not dataset:
        return None
    for directory in (Path(data_path), Path(data_path) / dataset):
        if (directory / f"{dataset}.meta.json").is_file():
            return directory / f"{dataset}.meta.json"
    return None


def dataset_text_encoder(config) -> dict | None:
    """The ``text_encoder`` record of the trained-on dataset's meta.json as plain data (None without one).

    A dataset that is not a conversion (no meta file, unreadable JSON, no record) has none: saving a
    checkpoint never fails over it, and ``recommend --items`` then says the record is missing.
    """
    meta_file = dataset_meta_file(config)
    if meta_file is None:
        return None
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    record = meta.get(TEXT_ENCODER_KEY) if isinstance(meta, dict) else None
    return plain_data(record) if isinstance(record, dict) else None


def save_checkpoint(path: str | os.PathLike, payload: dict) -> None:
    """Write ``payload`` (plus the format tag) to ``path`` through a temporary file and a rename.

    A payload without a ``text_encoder`` entry gets the one of its dataset's meta.json
    (:func:`dataset_text_encoder`, found through the payload's ``config``), when there is one.
    """
    if payload.get(TEXT_ENCODER_KEY) is None:
        record = dataset_text_encoder(payload.get("config"))
        if record is not None:
            payload = dict(payload, **{TEXT_ENCODER_KEY: record})
    with atomic_file(path, "wb") as handle:
        torch.save(dict(payload, format=CHECKPOINT_FORMAT), handle)


def load_weights_only(path: str | os.PathLike, what: str, map_location="cpu"):
    """``torch.load(path, weights_only=True)``; any failure is one :class:`DataError` line.

    torch's own warnings (e.g. "Detected pickle protocol 4" for a plain pickle) are silenced: the
    error line, or the loaded file, says all there is to say.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.load(path, map_location=map_location, weights_only=True)
    # torch's message is many lines and suggests weights_only=False, which would run the file's code
    except Exception as err:  # noqa: BLE001 -- any failure means this is not a weights-only file
        raise DataError(path, f"cannot load as a weights-only {what} ({type(err).__name__})") from None


def load_checkpoint(path: str | os.PathLike, map_location="cpu") -> dict:
    """Load a checkpoint written by :func:`save_checkpoint`: weights only (no arbitrary unpickling),
    this plug-in's format, a ``state_dict`` of finite weights. Anything else is a one-line
    :class:`DataError` naming the file."""
    if not os.path.isfile(path):
        raise DataError(path, "checkpoint file not found")
    checkpoint = load_weights_only(path, "checkpoint", map_location)
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise DataError(path, "not a recbole-poserec checkpoint (no state_dict)")
    if checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise DataError(path, f"not a {CHECKPOINT_FORMAT} checkpoint (format {checkpoint.get('format')!r})")
    state_dict = checkpoint["state_dict"]
    if not isinstance(state_dict, dict):
        raise DataError(path, f"state_dict is a {type(state_dict).__name__}, not a dict", field="state_dict")
    check_finite_weights(path, state_dict)
    return checkpoint


def check_finite_weights(path: str | os.PathLike, state_dict: dict) -> None:
    """Raise a :class:`DataError` naming the first floating tensor of ``state_dict`` that holds NaN or inf."""
    for name, tensor in state_dict.items():
        if isinstance(tensor, torch.Tensor) and (tensor.is_floating_point() or tensor.is_complex()):
            finite = torch.isfinite(tensor)
            if not bool(finite.all()):
                index = tuple(int(i) for i in torch.nonzero(~finite)[0])
                value = tensor[index].item()
                raise DataError(path, f"weight tensor {name} holds {value} at index {list(index)}; "
                                      "weights must be finite", field="state_dict")
