"""Statistics of BlazePose output and the targets the v2 pose renderer is calibrated to.

:func:`measure_pose_statistics` summarises pose windows (n, T, 33, 4) in a few model-free numbers:
frame-to-frame jitter (median absolute second difference, so that smooth motion contributes little)
and speed per landmark group, the visibility distribution per group, the range and noise of z, the
spread of the body in the image and how often and how confidently landmarks lie outside the frame.
It works on any windows in the raw layout: real ones, v1 or v2.

:data:`POSE_TARGETS` holds, for each statistic the renderer is held to, the value measured on the
authors' ``sample.pkl`` (81 windows of 10 frames cut from one real micro-video at step 5, i.e. 410
distinct frames of one person), a tolerance and the source. The literals were computed once by
:func:`targets_from_reference` (the file is not part of the repository; a test re-measures it where it
exists). One video cannot show the spread over videos, so tolerances are wide and hold the generated
*dataset-level* statistic, not every video, to the reference.
"""

from __future__ import annotations

import os

import numpy as np

# Landmark groups (BlazePose indices): face 0-10; torso = shoulders and hips; arms = elbows and wrists;
# hands = pinky, index, thumb; legs = knees, ankles, heels, foot indices.
LANDMARK_GROUPS: dict[str, tuple[int, ...]] = {
    "face": tuple(range(0, 11)),
    "torso": (11, 12, 23, 24),
    "arms": (13, 14, 15, 16),
    "hands": tuple(range(17, 23)),
    "legs": tuple(range(25, 33)),
}
_HIPS = (23, 24)
# --- the v2 detector's constants (observation.py); noise in units of the subject's torso length ---
# Sources: "sample.pkl" = set so that the generated dataset's statistic meets the POSE_TARGETS entry
# named; "MediaPipe" = measured by running MediaPipe Pose 0.10.21 on the photos of people shipped in the
# installed packages (matplotlib's grace_hopper.jpg, skimage's astronaut.png and camera.png);
# "plausibility" = set once, not fitted.
XY_COMMON = 0.045  # sample.pkl jitter_xy_rel.* (70 % of the 2nd-difference variance there is common to all landmarks)
XY_JITTER = {"face": 0.012, "torso": 0.02, "arms": 0.03, "hands": 0.04, "legs": 0.08}  # sample.pkl jitter_xy_rel.<group>
LOST_NOISE_GAIN = 3.0  # sample.pkl jitter_xy_rel.legs: poorly seen landmarks jitter most
NOISE_LOG_SD = 0.3  # plausibility: detectors and videos differ in sharpness
Z_WOBBLE_SLOW = 2.4  # sample.pkl z_abs_median_rel, z_p05_rel, z_p95_rel (z of the nose wanders by +-4 torso lengths there)
Z_WOBBLE_FRAMES = 10  # (triangular smoothing over twice that) sample.pkl: autocorrelation of the nose's z 0.66 at lag 5, 0.49 at lag 10
Z_WOBBLE_FAST = 0.25  # sample.pkl jitter_z_rel.* (z 2nd differences are 92 % correlated between nose and shoulder)
Z_NOISE = {"face": 0.05, "torso": 0.05, "arms": 0.5, "hands": 0.75, "legs": 0.45}  # sample.pkl jitter_z_rel.<group>
CLEAR_MISS_MEDIAN = 0.003  # sample.pkl vis_median/vis_q10 of face and torso (0.9998 and above)
CLEAR_MISS_LOG_SD = 1.0  # plausibility
ARM_LOST_OFFSET = -0.7  # sample.pkl vis_mean.arms/hands, vis_below_0.5.arms/hands
LEG_LOST_OFFSET = -0.5  # sample.pkl vis_mean.legs, vis_below_0.5.legs
SEATED_LEG_LOST = 1.0  # plausibility: a table, kit, keyboard or bike hides a seated subject's legs
LOST_OFFSET_SD = 1.0  # sample.pkl: the right arm is lost far more than the left (vis 0.55 vs 0.81)
LOST_SMOOTH_FRAMES = 25  # sample.pkl: visibility changes slowly (median |frame difference| 0.003) with jumps
LOST_SHARPNESS = 0.15  # sample.pkl: visibility is bimodal (36 % of limb values above 0.9, 12 % below 0.1)
LOST_ROOT_SHARE = 0.95  # sample.pkl: elbows and knees are lost a little less than wrists and ankles
LOST_FLOOR_MAX = 0.1  # sample.pkl vis_q10 of arms, hands, legs (0.04-0.06)
FACE_OCCLUSION_SHARE = 0.05  # sample.pkl vis_mean.face 0.997: BlazePose keeps the face confident when the head turns
OFFSCREEN_FADE = 0.04  # MediaPipe: landmarks far outside the frame get visibility 0.04-0.07 (mean 0.07, 30 of them)
OFFSCREEN_EDGE_LOGIT = 2.5  # sample.pkl offscreen_vis_mean (0.61: most off-screen landmarks are just outside)

_NOT_HIPS = tuple(i for i in range(33) if i not in _HIPS)  # z is relative to the hip midpoint: ~0 there


def torso_lengths(windows: np.ndarray) -> np.ndarray:
    """(n, 1, 1) median over each window's frames of the image distance from the shoulder to the hip midpoint."""
    shoulders = windows[:, :, [11, 12], :2].mean(axis=2)
    hips = windows[:, :, list(_HIPS), :2].mean(axis=2)
    return np.maximum(np.median(np.linalg.norm(shoulders - hips, axis=-1), axis=1), 1e-6)[:, None, None]


def _group_statistics(windows: np.ndarray, torso: np.ndarray, name: str, members: tuple[int, ...]) -> dict[str, float]:
    xy = windows[:, :, members, :2]
    z = windows[:, :, members, 2]
    vis = windows[:, :, members, 3]
    jitter = np.linalg.norm(np.diff(xy, n=2, axis=1), axis=-1)
    stats = {
        f"jitter_xy.{name}": np.median(jitter),
        f"jitter_xy_rel.{name}": np.median(jitter / torso),
        f"speed_xy.{name}": np.median(np.linalg.norm(np.diff(xy, axis=1), axis=-1)),
        f"vis_mean.{name}": vis.mean(),
        f"vis_q10.{name}": np.quantile(vis, 0.10),
        f"vis_median.{name}": np.median(vis),
        f"vis_below_0.5.{name}": (vis < 0.5).mean(),
    }
    if name != "torso":  # torso holds the hips, whose z is 0 by construction
        jitter_z = np.abs(np.diff(z, n=2, axis=1))
        stats[f"jitter_z.{name}"] = np.median(jitter_z)
        stats[f"jitter_z_rel.{name}"] = np.median(jitter_z / torso)
    return stats


def measure_pose_statistics(windows: np.ndarray) -> dict[str, float]:
    """Model-free statistics of pose windows ``(n, T, 33, 4)`` (x, y, z, visibility; T >= 3).

    Keys: ``torso_length`` (median over windows of :func:`torso_lengths`, the body's scale in the image);
    per group of :data:`LANDMARK_GROUPS`, ``jitter_xy.<group>`` (median |second difference| of (x, y),
    Euclidean, image units), ``speed_xy.<group>`` (median |first difference|), ``jitter_z.<group>``
    (median |second difference| of z; not for the torso), ``vis_mean/vis_q10/vis_median/vis_below_0.5.<group>``;
    the ``_rel`` variants divide by the window's torso length first (scale-free, comparable across
    framings); ``z_p05``, ``z_p95``, ``z_abs_median`` and their ``_rel`` variants (z of all landmarks but the hips),
    ``x_spread`` / ``y_spread`` (median over frames of the landmarks' extent in x / y), ``offscreen_share``
    (share of landmarks with x or y outside [0, 1]) and ``offscreen_vis_mean`` (their mean visibility;
    NaN when there are none).
    """
    windows = np.asarray(windows, dtype=np.float64)
    if windows.ndim != 4 or windows.shape[2:] != (33, 4) or windows.shape[1] < 3:
        raise ValueError(f"windows must have shape (n, T >= 3, 33, 4), got {windows.shape}")
    torso = torso_lengths(windows)
    stats: dict[str, float] = {"torso_length": np.median(torso)}
    for name, members in LANDMARK_GROUPS.items():
        stats.update(_group_statistics(windows, torso, name, members))
    z = windows[:, :, _NOT_HIPS, 2]
    stats["z_p05"], stats["z_p95"] = np.quantile(z, [0.05, 0.95])
    stats["z_abs_median"] = np.median(np.abs(z))
    stats["z_p05_rel"], stats["z_p95_rel"] = np.quantile(z / torso, [0.05, 0.95])
    stats["z_abs_median_rel"] = np.median(np.abs(z) / torso)
    extent = windows[..., :2].max(axis=2) - windows[..., :2].min(axis=2)  # (n, T, 2)
    stats["x_spread"], stats["y_spread"] = np.median(extent.reshape(-1, 2), axis=0)
    x, y = windows[..., 0], windows[..., 1]
    outside = (x < 0) | (x > 1) | (y < 0) | (y > 1)
    stats["offscreen_share"] = outside.mean()
    stats["offscreen_vis_mean"] = windows[..., 3][outside].mean() if outside.any() else float("nan")
    return {key: float(value) for key, value in stats.items()}


def targets_from_reference(sample_path: str | os.PathLike) -> dict[str, float]:
    """:func:`measure_pose_statistics` of the authors' ``sample.pkl`` (read with the numpy-only unpickler)."""
    from dataset_conversion.array_files import load_numpy_pickle

    return measure_pose_statistics(load_numpy_pickle(sample_path))


_SAMPLE = "sample.pkl, one real video (81 windows)"
_FRAMING = "sample.pkl; one video's framing, so a wide tolerance"
# name -> (target, tolerance, source): the generated dataset's statistic must lie within target +- tolerance.
# Targets are targets_from_reference("../shared/reference-release/sample.pkl") written as literals (4
# significant digits); tolerances: 40 % for jitters, 35 % for the z range, 0.08 for visibility shares.
POSE_TARGETS: dict[str, tuple[float, float, str]] = {
    "jitter_xy_rel.face": (0.06957, 0.0278, _SAMPLE),
    "jitter_xy_rel.torso": (0.08428, 0.0337, _SAMPLE),
    "jitter_xy_rel.arms": (0.1166, 0.0466, _SAMPLE),
    "jitter_xy_rel.hands": (0.139, 0.0556, _SAMPLE),
    "jitter_xy_rel.legs": (0.2966, 0.119, _SAMPLE),
    "jitter_z_rel.face": (0.6751, 0.27, _SAMPLE),
    "jitter_z_rel.arms": (0.8829, 0.353, _SAMPLE),
    "jitter_z_rel.hands": (1.138, 0.455, _SAMPLE),
    "jitter_z_rel.legs": (0.9967, 0.399, _SAMPLE),
    "vis_mean.face": (0.9967, 0.08, _SAMPLE),
    "vis_mean.torso": (0.9974, 0.08, _SAMPLE),
    "vis_mean.arms": (0.7087, 0.08, _SAMPLE),
    "vis_mean.hands": (0.6572, 0.08, _SAMPLE),
    "vis_mean.legs": (0.5389, 0.08, _SAMPLE),
    "vis_below_0.5.face": (0.003143, 0.08, _SAMPLE),
    "vis_below_0.5.torso": (0.0, 0.08, _SAMPLE),
    "vis_below_0.5.arms": (0.279, 0.08, _SAMPLE),
    "vis_below_0.5.hands": (0.3233, 0.08, _SAMPLE),
    "vis_below_0.5.legs": (0.4677, 0.08, _SAMPLE),
    "z_p05_rel": (-6.469, 2.26, _SAMPLE),
    "z_p95_rel": (4.803, 1.68, _SAMPLE),
    "z_abs_median_rel": (2.397, 0.839, _SAMPLE),
    "torso_length": (0.09501, 0.06, _FRAMING),
    "x_spread": (0.2204, 0.2, _FRAMING),
    "y_spread": (0.2522, 0.25, _FRAMING),
    "offscreen_share": (0.01975, 0.02, _SAMPLE + "; set by the few close-ups, so a wide tolerance"),
    "offscreen_vis_mean": (0.6055, 0.3, _SAMPLE + "; MediaPipe on photos: 0.07 far outside the frame"),
}
