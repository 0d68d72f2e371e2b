"""Generator v2 of the synthetic Pose-OBE, the default (``generate_raw_dataset(..., generator_version=2)``).

v2 keeps v1's sizes, taxonomy, windowing and file layout, and changes what a benchmark depends on:

* ``plan`` -- v1's subcategory, style and length per video, plus a *context* (setting, occasion) that
  the poses never show and no file holds;
* ``catalogue`` -- v1's kinds plus staples that suit every subcategory, and a persistent appeal per
  instance, partly written into its text;
* ``annotate`` -- simulated experts who choose kinds by subcategory and context, instances by style,
  appeal and taste, and score them as in v1;
* ``motions``, ``observation``, ``poses``, ``pose_calibration`` -- the v2 pose renderer
  (``poses.render_poses(subcategory, style, n_frames, rng)``) and its targets from real BlazePose output;
* ``calibration`` -- the model-free targets, the knobs, and the numpy measurements
  (popularity profile, subcategory-frequency oracle) that check them.
* ``ceiling`` -- the generator's ceiling: each test video's positives predicted from its subcategory and
  hidden style by re-running the annotation process (Monte Carlo), ranked and scored.

See ``docs/synthetic-data.md``. v1 (the modules one level up) stays unchanged and byte-reproducible.
"""
