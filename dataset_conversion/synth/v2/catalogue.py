"""The v2 item catalogue: v1's kinds plus staple kinds, and a persistent appeal per instance.

* **Staples** (:data:`~.calibration.SCENE_STAPLES`, :data:`~.calibration.EVERYDAY_STAPLES`): kinds that
  suit every subcategory (generic effects, backgrounds, clothing, lighting). Five are v1 kinds
  (sparkle effect, confetti effect, stage lights, t-shirt, sneakers); five are new here. How often the
  experts use them depends on the video's context (:data:`~.calibration.STAPLE_RATES`), not on the pose.
* **Appeal**: every instance has ``appeal = sqrt(V) * visible + sqrt(1 - V) * hidden`` (both standard
  normal, V = :data:`~.calibration.APPEAL_VISIBLE_SHARE`). The visible part shows in three factors by
  its tercile: a colour qualifier ("faded" / - / "rich"), a material qualifier ("budget" / - /
  "premium") and the description's closing phrase; the hidden part shows nowhere. Experts prefer
  high-appeal instances of a kind in every video (:mod:`.annotate`), so instance popularity persists
  across the split.

Everything else (Table 3 group sizes, the spread of instances over kinds and style tiers, the nine
factors, ids after a shuffle) is v1's :mod:`..catalogue`, reused.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...layout import GROUPS
from ..catalogue import KINDS as KINDS_V1
from ..catalogue import ItemKind, _kind, draft_items, item_id
from ..plan import random_streams
from ..taxonomy import SUBCATEGORIES
from .calibration import APPEAL_VISIBLE_SHARE, EVERYDAY_STAPLES, SCENE_STAPLES

STAPLES: tuple[str, ...] = SCENE_STAPLES + EVERYDAY_STAPLES
_EVERYWHERE = {sub: 0.5 for sub in SUBCATEGORIES}  # staples suit every subcategory (this sets their abundance)
NEW_STAPLE_KINDS: tuple[ItemKind, ...] = (
    _kind("glitter filter", "others", "a shimmering overlay on the whole clip", ("{:.0f} % opacity", 20, 80),
          ["full-frame overlay"], ["digital effect"], ["gold", "silver", "rainbow"], ["fine glitter", "falling sparkles"],
          ["that pulses with the beat", "over the whole frame"], _EVERYWHERE, "cmi"),
    _kind("spotlight glow", "background", "a pool of light around the performer", ("about {:.1f} m across", 1.0, 4.0),
          ["soft circle of light"], ["digital lighting"], ["warm white", "blue", "magenta"], ["soft haze", "lens flare"],
          ["following the performer", "from high above"], _EVERYWHERE, "cmi"),
    _kind("soft light filter", "others", "evens out the light on a face", ("{:.0f} % strength", 10, 60),
          ["full-frame filter"], ["digital effect"], ["warm tint", "cool tint", "neutral"], ["plain", "soft vignette"],
          ["for a natural look", "that smooths the skin"], _EVERYWHERE, "cmi"),
    _kind("plain wall", "background", "a simple wall behind the person", ("about {:.1f} m wide", 2.0, 6.0),
          ["flat wall"], ["painted plaster", "brick", "wood panels"], ["white", "light grey", "beige"], ["plain", "subtle texture"],
          ["with nothing on it", "lit from the side"], _EVERYWHERE, "cmi"),
    _kind("blurred background", "background", "a defocused backdrop that keeps the person in focus",
          ("{:.0f} % blur", 30, 100), ["soft bokeh"], ["digital backdrop"], ["neutral tones", "warm tones", "cool tones"],
          ["bokeh circles", "plain"], ["like a portrait lens", "behind the whole body"], _EVERYWHERE, "cmi"),
)
KINDS: tuple[ItemKind, ...] = KINDS_V1 + NEW_STAPLE_KINDS
assert set(STAPLES) <= {k.name for k in KINDS}

_COLOR_WORDS = ("faded", "", "rich")
_MATERIAL_WORDS = ("budget", "", "premium")
_APPEAL_PHRASES = (
    ("showing some wear", "a little cheap-looking", "of basic make"),
    ("in good condition", "of decent quality", "well kept"),
    ("finely made and highly rated", "of excellent quality", "beautifully finished"),
)


@dataclass(frozen=True)
class Item:
    """One v2 catalogue item: text factors, group, and the latent kind, tier and appeal the experts use."""

    item_id: str
    factors: dict[str, str]
    group: str
    kind: ItemKind
    tier: int
    appeal: float
    visible_appeal: float

    @property
    def is_staple(self) -> bool:
        return self.kind.name in STAPLES


def _show_appeal(factors: dict[str, str], level: int, rng: np.random.Generator) -> dict[str, str]:
    """The factors with the visible appeal tercile ``level`` (0 low, 1 middle, 2 high) written into them."""
    def qualified(word: str, text: str) -> str:
        return f"{word} {text}" if word else text

    phrase = _APPEAL_PHRASES[level][rng.integers(len(_APPEAL_PHRASES[level]))]
    return {**factors, "color": qualified(_COLOR_WORDS[level], factors["color"]),
            "material": qualified(_MATERIAL_WORDS[level], factors["material"]),
            "description": f"{factors['description']}, {phrase}"}  # fmt: skip


def build_catalogue(seed: int, n_items: int) -> list[Item]:
    """The ``n_items`` v2 items in id order (groups, kinds and tiers as v1; appeal as the module docstring)."""
    if n_items < len(GROUPS):
        raise ValueError(f"n_items must be at least {len(GROUPS)}, got {n_items}")
    rng = np.random.default_rng(random_streams(seed).catalogue)
    drafts = draft_items(KINDS, n_items, rng)
    visible, hidden = rng.standard_normal((2, len(drafts)))
    appeal = np.sqrt(APPEAL_VISIBLE_SHARE) * visible + np.sqrt(1.0 - APPEAL_VISIBLE_SHARE) * hidden
    level = np.searchsorted(np.quantile(visible, [1 / 3, 2 / 3]), visible)
    factors = [_show_appeal(d[2], int(lv), rng) for d, lv in zip(drafts, level)]
    order = rng.permutation(len(drafts))
    return [Item(item_id(new, n_items), factors[old], drafts[old][0].group, drafts[old][0], drafts[old][1],
                 float(appeal[old]), float(visible[old])) for new, old in enumerate(order)]  # fmt: skip


def core_candidates(items: list[Item], subcategory: str) -> np.ndarray:
    """Indices of the non-staple items whose kind suits ``subcategory``."""
    return np.array([i for i, it in enumerate(items) if not it.is_staple and subcategory in it.kind.suits], dtype=int)
