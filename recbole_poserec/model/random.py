r"""
Random
################################################
A uniform random score for every (window, item) pair that depends only on (``seed``, window id, item id).

RecBole 1.2.1's ``Random`` draws one random vector of item scores per evaluation *batch* and gives it to
every window of the batch, so its figures change with ``eval_batch_size`` and its seed variance is that of
a handful of rankings. Here the score of a pair is a counter-based hash of its internal ids (the finaliser of
splitmix64, Steele, Lea, Flood, OOPSLA 2014), mapped to :math:`[0, 1)`:

.. math::

    s_{wi} = 2^{-53} \cdot \big\lfloor \mathrm{mix}\big(\mathrm{mix}(\mathrm{mix}(seed) + w\gamma) + i\gamma\big)
             / 2^{11} \big\rfloor,

with :math:`\gamma` = 0x9E3779B97F4A7C15 and :math:`\mathrm{mix}` splitmix64's xor-shift-multiply finaliser,
all in wrapping 64-bit integer arithmetic. A window's scores are therefore the same in any batch, in
``predict`` and in ``full_sort_predict``, and no table of windows x items is kept.
"""

import torch
from recbole.model.abstract_recommender import GeneralRecommender
from recbole.utils import InputType, ModelType

_UINT64 = 1 << 64


def _int64(constant: int) -> int:
    """An unsigned 64-bit constant as the signed int64 with the same bits."""
    return constant - _UINT64 if constant >= 1 << 63 else constant


GOLDEN_GAMMA = _int64(0x9E3779B97F4A7C15)
MIX_MULTIPLIERS = (_int64(0xBF58476D1CE4E5B9), _int64(0x94D049BB133111EB))
MANTISSA_BITS = 53


def _shift_right(x: torch.Tensor, bits: int) -> torch.Tensor:
    """Logical right shift of int64 bit patterns (torch's ``>>`` is arithmetic: it copies the sign bit)."""
    return (x >> bits) & ((1 << (64 - bits)) - 1)


def mix64(x: torch.Tensor) -> torch.Tensor:
    """splitmix64's finaliser on int64 tensors (multiplication and addition wrap around, as in uint64)."""
    x = (x ^ _shift_right(x, 30)) * MIX_MULTIPLIERS[0]
    x = (x ^ _shift_right(x, 27)) * MIX_MULTIPLIERS[1]
    return x ^ _shift_right(x, 31)


def to_unit_interval(x: torch.Tensor) -> torch.Tensor:
    """The top 53 bits of ``x`` as a float64 in [0, 1)."""
    return _shift_right(x, 64 - MANTISSA_BITS).to(torch.float64) * 2.0**-MANTISSA_BITS


def pair_hash(seed: int, windows: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
    """The hash of (seed, window, item) for broadcastable int64 tensors ``windows`` and ``items``."""
    seed_state = mix64(torch.tensor(seed, dtype=torch.int64, device=windows.device))
    window_state = mix64(seed_state + windows.long() * GOLDEN_GAMMA)
    return mix64(window_state + items.long() * GOLDEN_GAMMA)


class Random(GeneralRecommender):
    r"""Uniform random scores per (window, item) pair, independent of batching (see module docstring)."""

    input_type = InputType.POINTWISE
    type = ModelType.TRADITIONAL

    def __init__(self, config, dataset):
        super().__init__(config, dataset)
        self.seed = int(config["seed"])
        self.fake_loss = torch.nn.Parameter(torch.zeros(1))  # RecBole's trainer needs a parameter to optimise

    def forward(self):
        pass

    def calculate_loss(self, interaction):
        """Nothing to learn (RecBole's Random)."""
        return torch.nn.Parameter(torch.zeros(1)).to(self.device)

    def predict(self, interaction):
        """The score of each (window, item) row of ``interaction``: ``[batch]`` float64 in [0, 1)."""
        return to_unit_interval(pair_hash(self.seed, interaction[self.USER_ID], interaction[self.ITEM_ID]))

    def full_sort_predict(self, interaction):
        """Every item's score for each window: ``[batch * n_items]``, row-major by window."""
        windows = interaction[self.USER_ID].unsqueeze(1)
        items = torch.arange(self.n_items, device=windows.device).unsqueeze(0)
        return to_unit_interval(pair_hash(self.seed, windows, items)).reshape(-1)
