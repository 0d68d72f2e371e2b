"""A documented, seeded generator of synthetic data in the raw Pose-OBE layout.

The real Pose-OBE dataset is not public. ``generate_raw_dataset`` writes videos, BlazePose-style
pose sequences, an item catalogue with the nine text factors and simulated expert annotations, with
the paper's sizes by default (212 videos in 3 categories / 14 subcategories, 1,087 items in the
Table 3 groups, about 14,281 windows of 10 frames at step 5). See ``docs/synthetic-data.md``.

Modules, one job each: ``taxonomy`` (categories), ``plan`` (random streams, per-video latent
style and length), ``skeleton`` (body, kinematics, camera), ``motions`` (one motion per
subcategory), ``observation`` (detector noise and visibility), ``poses`` (rendering one video),
``catalogue`` (items), ``annotate`` (simulated experts), ``generate`` (writing the files). These are
generator v1 (``generator_version=1``, byte-identical to its first release); the default is v2
(:mod:`.v2`: popular staples, persistent item appeal, a context the poses do not show, poses calibrated
to real BlazePose output).
"""

from .generate import DEFAULT_GENERATOR_VERSION, GENERATOR_VERSION, GENERATOR_VERSIONS, generate_raw_dataset
from .plan import count_windows, plan_videos

__all__ = [
    "DEFAULT_GENERATOR_VERSION", "GENERATOR_VERSION", "GENERATOR_VERSIONS", "generate_raw_dataset", "count_windows",
    "plan_videos",
]
