"""A trained PoseRec checkpoint as a :class:`~recbole_poserec.inference.scorer.WindowScorer`.

The checkpoint alone is enough: :func:`recbole_poserec.checkpoint.load_checkpoint` reads it (weights
only, finite weights), its configuration rebuilds :class:`~recbole_poserec.model.network.PoseRecNetwork`
and its ``catalogue`` names the items. Scoring is the network's own
:meth:`~recbole_poserec.model.network.PoseRecNetwork.score_windows`, on windows normalised by the
checkpoint's ``pose_normalisation`` (:mod:`dataset_conversion.pose_normalisation`) as its training data were.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from dataset_conversion.errors import DataError
from dataset_conversion.pose_normalisation import check_pose_normalisation, normalise_windows
from recbole_poserec.checkpoint import load_checkpoint
from recbole_poserec.inference.scorer import WindowScorer, score_in_slices
from recbole_poserec.model.network import PoseRecNetwork

PAD_TOKEN = "[PAD]"  # RecBole's padding item, internal id 0
NETWORK_PREFIX = "network."  # PoseRec's state_dict keys of its PoseRecNetwork


@dataclass
class CheckpointScorer(WindowScorer):
    """A PoseRec checkpoint's network (eval mode) with its catalogue, the padding item left out.

    Row r of :meth:`item_representations` / column r of :meth:`score_windows` is RecBole's internal
    item id r + 1. :meth:`score_windows` takes raw windows and normalises them by ``pose_normalisation``.
    """

    path: Path
    network: PoseRecNetwork
    item_names: list[str]
    item_tokens: list[str]
    pose_normalisation: str = "none"

    @property
    def source(self) -> str:
        return f"checkpoint {self.path}"

    @torch.no_grad()
    def item_representations(self) -> tuple[torch.Tensor, torch.Tensor]:
        item_chunks, omega = self.network.item_representations()
        return item_chunks[1:], omega[1:]

    @torch.no_grad()
    def score_windows(self, windows: torch.Tensor) -> torch.Tensor:
        item_matrix, item_bias = self.network.item_matrix()[1:], self.network.item_bias()
        item_bias = None if item_bias is None else item_bias[1:]
        return score_in_slices(lambda part: self.network.score_windows(part, item_matrix, item_bias),
                               self.normalise(windows))

    def normalise(self, windows: torch.Tensor) -> torch.Tensor:
        """Raw (N, T, 33, 4) windows as the network was trained on them (``pose_normalisation``); every caller
        of ``network.score_windows`` passes its windows through here."""
        if self.pose_normalisation == "none":
            return windows
        normalised = normalise_windows(windows.detach().cpu().numpy(), self.pose_normalisation)
        return torch.from_numpy(normalised).to(windows.device)


def _catalogue(path: Path, checkpoint: dict) -> tuple[list[str], list[str]]:
    """The checkpoint's item tokens and names, padding item included."""
    catalogue = checkpoint.get("catalogue")
    if not isinstance(catalogue, dict) or not catalogue.get("item_tokens"):
        raise DataError(path, "checkpoint has no item catalogue (write it with this plug-in's run_recbole.py)",
                        field="catalogue")
    tokens = [str(token) for token in catalogue["item_tokens"]]
    names = [str(name) for name in catalogue.get("item_names") or tokens]
    if len(names) != len(tokens):
        raise DataError(path, f"catalogue has {len(tokens)} item tokens but {len(names)} names", field="catalogue")
    if tokens[0] != PAD_TOKEN:
        raise DataError(path, f"catalogue entry 0 is {tokens[0]!r}, expected RecBole's {PAD_TOKEN}", field="catalogue")
    return tokens, names


def _network(path: Path, checkpoint: dict, n_items: int) -> PoseRecNetwork:
    """PoseRecNetwork rebuilt from the checkpoint's configuration and loaded strictly with its weights.

    The configuration is checked first (:func:`~recbole_poserec.model.network.check_architecture`),
    then the network is built on the meta device (no memory) and its parameter shapes compared with
    the state_dict's: a configuration asking for a huge network is refused before anything is allocated.
    """
    state_dict = checkpoint["state_dict"]
    item_factors = state_dict.get(NETWORK_PREFIX + "item_factors")
    if not isinstance(item_factors, torch.Tensor) or item_factors.dim() != 3:
        raise DataError(path, "state_dict lacks the (n_items, F, D) tensor network.item_factors", field="state_dict")
    if item_factors.shape[0] != n_items:
        raise DataError(path, f"catalogue of {n_items} items but network.item_factors has "
                              f"{item_factors.shape[0]} (another dataset's catalogue?)", field="catalogue")
    config = checkpoint.get("config") or {}
    if not isinstance(config, dict):
        raise DataError(path, f"config is a {type(config).__name__}, not a dict", field="config")
    weights = {key[len(NETWORK_PREFIX):]: value for key, value in state_dict.items() if key.startswith(NETWORK_PREFIX)}
    try:
        with torch.device("meta"):
            shapes = PoseRecNetwork.from_hyper_parameters(item_factors.to("meta"), config).state_dict()
    except (ValueError, TypeError) as err:
        raise DataError(path, f"architecture settings cannot build a network: {_first_line(err)}", field="config") from None
    missing, unexpected = sorted(shapes.keys() - weights.keys()), sorted(weights.keys() - shapes.keys())
    if missing or unexpected:
        what = (f"lacks {len(missing)} of the network's {len(shapes)} tensors (first: {NETWORK_PREFIX}{missing[0]})"
                if missing else f"has a tensor the network does not: {NETWORK_PREFIX}{unexpected[0]}")
        raise DataError(path, f"state_dict does not fit its configuration: it {what}", field="state_dict")
    for key, expected in shapes.items():
        given = weights[key]
        if not isinstance(given, torch.Tensor):
            raise DataError(path, f"state_dict entry {NETWORK_PREFIX}{key} is a {type(given).__name__}, "
                                  "not a tensor", field="state_dict")
        if given.shape != expected.shape:
            raise DataError(path, f"state_dict does not fit its configuration: {key} has shape "
                                  f"{tuple(given.shape)}, the configuration needs {tuple(expected.shape)}",
                            field="state_dict")
    try:
        network = PoseRecNetwork.from_hyper_parameters(item_factors, config)
        network.load_state_dict(weights, strict=True)
    except (RuntimeError, ValueError, TypeError) as err:
        raise DataError(path, f"state_dict does not fit its configuration: {_first_line(err)}", field="state_dict") from None
    return network.eval()


def _pose_normalisation(path: Path, config: dict) -> str:
    """The checkpoint's ``pose_normalisation`` (``none`` when it predates the setting)."""
    value = config.get("pose_normalisation") if isinstance(config, dict) else None
    if value is None:
        return "none"
    try:
        return check_pose_normalisation(value)
    except ValueError as err:
        raise DataError(path, f"pose_normalisation {err}", field="config") from None


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def load_checkpoint_scorer(path: str | os.PathLike) -> CheckpointScorer:
    """Rebuild PoseRec's network and catalogue from a ``run_recbole.py`` checkpoint; errors are :class:`DataError`."""
    path = Path(path)
    checkpoint = load_checkpoint(path)
    if checkpoint.get("model") != "PoseRec":
        raise DataError(path, f"checkpoint of model {checkpoint.get('model')!r}, not PoseRec", field="model")
    tokens, names = _catalogue(path, checkpoint)
    network = _network(path, checkpoint, len(tokens))
    return CheckpointScorer(path=path, network=network, item_names=names[1:], item_tokens=tokens[1:],
                            pose_normalisation=_pose_normalisation(path, checkpoint.get("config")))
