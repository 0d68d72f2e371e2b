"""The v2 detector: jitter, depth noise, visibility and occlusion calibrated to real BlazePose output.

Everything is in units of the subject's torso length in the image (so the noise scales with the
person's size), with the constants of :mod:`.pose_calibration`:

* image-plane jitter: a part shared by all landmarks (the detector's box moving) plus a part per
  landmark that grows as the landmark's visibility drops (a lost limb is guessed);
* depth: BlazePose's z wanders far more than the body moves: a slow and a fast "wobble" of the upper
  and of the lower body, proportional to each landmark's distance from the hips, plus noise per landmark;
* visibility: near 1 for a clearly seen landmark; each arm and each leg is now and then "lost" for a
  while (a smooth per-limb process with a per-video propensity; legs behind furniture of a seated
  subject are lost more), v1's self-occlusion model, and landmarks outside the frame fade to ~0.05.
"""

from __future__ import annotations

import numpy as np

from ..observation import _occlusion, _sigmoid, _smoothed_noise
from ..skeleton import LANDMARK
from . import pose_calibration as cal

_LIMBS = {
    f"{side} {limb}": tuple(LANDMARK[f"{side}_{part}"] for part in parts)
    for side in ("left", "right")
    for limb, parts in (("arm", ("elbow", "wrist", "pinky", "index", "thumb")),
                        ("leg", ("knee", "ankle", "heel", "foot_index")))
}  # fmt: skip
_ROOTS = {LANDMARK[f"{side}_{part}"] for side in ("left", "right") for part in ("elbow", "knee")}  # lost less often
_HIPS = [LANDMARK["left_hip"], LANDMARK["right_hip"]]
_SHOULDERS = [LANDMARK["left_shoulder"], LANDMARK["right_shoulder"]]
_LOWER = np.array([i >= 25 for i in range(33)])  # knees, ankles, heels, feet
_GROUP_OF = np.empty(33, dtype=object)
for _name, _members in cal.LANDMARK_GROUPS.items():
    _GROUP_OF[list(_members)] = _name
_XY_SIGMA = np.array([cal.XY_JITTER[g] for g in _GROUP_OF])
_Z_SIGMA = np.array([cal.Z_NOISE[g] for g in _GROUP_OF])


def _standardised(rng: np.random.Generator, shape: tuple[int, ...], width: int) -> np.ndarray:
    return _smoothed_noise(rng, shape, width)  # unit variance already


def _slow_noise(rng: np.random.Generator, n_frames: int, n_series: int, width: int) -> np.ndarray:
    """(n_frames, n_series) unit-variance noise smoothed by a triangular kernel (2 * width - 1 frames),
    smooth enough that its second differences stay small."""
    kernel = np.convolve(np.ones(width), np.ones(width))
    kernel /= np.linalg.norm(kernel)
    white = rng.standard_normal((n_frames + len(kernel) - 1, n_series))
    return np.stack([np.convolve(white[:, k], kernel, mode="valid") for k in range(n_series)], axis=1)


def _visibility(landmarks: np.ndarray, seated_legs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n_frames = len(landmarks)
    clear = 1.0 - np.exp(rng.normal(np.log(cal.CLEAR_MISS_MEDIAN), cal.CLEAR_MISS_LOG_SD, (n_frames, 33)))
    lost = np.zeros((n_frames, 33))
    wander = _slow_noise(rng, n_frames, len(_LIMBS), cal.LOST_SMOOTH_FRAMES)
    for k, (name, members) in enumerate(_LIMBS.items()):
        leg = name.endswith("leg")
        propensity = rng.normal(cal.LEG_LOST_OFFSET if leg else cal.ARM_LOST_OFFSET, cal.LOST_OFFSET_SD)
        level = wander[:, k] + propensity + (cal.SEATED_LEG_LOST * seated_legs if leg else 0.0)
        state = _sigmoid(level / cal.LOST_SHARPNESS)
        for i in members:
            lost[:, i] = state * (cal.LOST_ROOT_SHARE if i in _ROOTS else 1.0)
    floor = rng.uniform(0.0, cal.LOST_FLOOR_MAX, (n_frames, 33))
    visibility = clear * (1.0 - lost * (1.0 - floor))
    hidden = _occlusion(landmarks)
    hidden[:, list(cal.LANDMARK_GROUPS["face"])] *= cal.FACE_OCCLUSION_SHARE
    visibility *= 1.0 - 0.6 * hidden
    x, y = landmarks[..., 0], landmarks[..., 1]
    inside = np.minimum(np.minimum(x, 1.0 - x), np.minimum(y, 1.0 - y))
    visibility *= _sigmoid(inside / cal.OFFSCREEN_FADE + cal.OFFSCREEN_EDGE_LOGIT)
    return np.clip(visibility, 0.0, 1.0)


def simulate_detector(landmarks: np.ndarray, seated_legs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Detector output (T, 33, 4) float32 for true landmarks (T, 33, 3) in MediaPipe's normalized
    convention; ``seated_legs`` (T,) in [0, 1] is how much the subject sits (furniture hides the legs)."""
    n_frames = len(landmarks)
    shoulders, hips = landmarks[:, _SHOULDERS, :2].mean(axis=1), landmarks[:, _HIPS, :2].mean(axis=1)
    torso = float(max(np.median(np.linalg.norm(shoulders - hips, axis=-1)), 1e-3))
    visibility = _visibility(landmarks, seated_legs, rng)

    gain = torso * np.exp(rng.normal(0.0, cal.NOISE_LOG_SD))  # this video's detector: sharper or noisier
    common = _standardised(rng, (n_frames, 1, 2), 2) * cal.XY_COMMON
    own = _standardised(rng, (n_frames, 33, 2), 2) * _XY_SIGMA[None, :, None]
    own *= (1.0 + cal.LOST_NOISE_GAIN * (1.0 - visibility))[..., None]
    observed = landmarks.copy()
    observed[..., :2] += gain * (common + own)

    lever = np.linalg.norm(landmarks[..., :2] - hips[:, None, :], axis=-1) / torso  # (T, 33)
    wobble = (_slow_noise(rng, n_frames, 2, cal.Z_WOBBLE_FRAMES) * cal.Z_WOBBLE_SLOW
              + rng.standard_normal((n_frames, 2)) * cal.Z_WOBBLE_FAST)  # fmt: skip
    body_wobble = np.where(_LOWER[None, :], wobble[:, 1:2], wobble[:, 0:1]) * lever
    z_noise = _standardised(rng, (n_frames, 33), 2) * _Z_SIGMA[None, :] * (1.0 + (1.0 - visibility))
    observed[..., 2] += gain * (body_wobble + z_noise)
    observed[:, _HIPS, 2] = landmarks[:, _HIPS, 2]  # z is relative to the hip midpoint

    out = np.empty((n_frames, 33, 4), dtype=np.float32)
    out[..., :3] = observed
    out[..., 3] = visibility
    return out
