"""The video taxonomy of the synthetic Pose-OBE: 3 categories and 14 subcategories (paper, Pose-OBE appendix).

The paper names the categories (daily action, sports, art) and a few subcategories (eating, drinking,
driving, football, basketball, tennis, riding, dancing, instrument performance). The full list of 14
is not published; these 14 were chosen so that every subcategory has a clearly different motion.
"""

from __future__ import annotations

# (subcategory, category) in a fixed order; the order is part of the generator's determinism.
SUBCATEGORY_CATEGORY: tuple[tuple[str, str], ...] = (
    ("eating", "daily action"),
    ("drinking", "daily action"),
    ("phone call", "daily action"),
    ("cooking", "daily action"),
    ("basketball", "sports"),
    ("football", "sports"),
    ("tennis", "sports"),
    ("cycling", "sports"),
    ("boxing", "sports"),
    ("dancing", "art"),
    ("guitar", "art"),
    ("violin", "art"),
    ("drumming", "art"),
    ("piano", "art"),
)

SUBCATEGORIES: tuple[str, ...] = tuple(sub for sub, _ in SUBCATEGORY_CATEGORY)
CATEGORIES: tuple[str, ...] = ("daily action", "sports", "art")
CATEGORY_OF: dict[str, str] = dict(SUBCATEGORY_CATEGORY)
