"""What a pose detector makes of the projected skeleton: jitter, visibility and drop-outs.

BlazePose output is not the true skeleton: landmarks jitter from frame to frame (more in depth
than in the image plane, more at hands and feet), landmarks hidden behind the body or outside the
frame get a low visibility, and now and then a limb is lost for a moment: its visibility drops and
its position drifts while the detector guesses.
"""

from __future__ import annotations

import numpy as np

from .skeleton import LANDMARK, LANDMARK_NAMES

_EXTREMITY_PARTS = {"wrist", "pinky", "index", "thumb", "ankle", "heel", "foot_index"}
_EXTREMITIES = [i for i, name in enumerate(LANDMARK_NAMES) if name.split("_", 1)[-1] in _EXTREMITY_PARTS]

# Landmark groups that a detector tends to lose together.
DROPOUT_GROUPS: dict[str, tuple[int, ...]] = {
    side_part: tuple(LANDMARK[f"{side}_{name}"] for name in names)
    for side in ("left", "right")
    for side_part, names in (
        (f"{side} arm", ("elbow", "wrist", "pinky", "index", "thumb")),
        (f"{side} hand", ("wrist", "pinky", "index", "thumb")),
        (f"{side} leg", ("knee", "ankle", "heel", "foot_index")),
        (f"{side} foot", ("ankle", "heel", "foot_index")),
    )
}
DROPOUT_GROUPS["face"] = tuple(range(0, 11))
_TORSO = [LANDMARK[name] for name in ("left_shoulder", "right_shoulder", "left_hip", "right_hip")]
_FACE_PAIRS = [(LANDMARK[name], LANDMARK[name.replace("left", "right")]) for name in LANDMARK_NAMES[:11] if "left" in name]
_GROUP_NAMES = tuple(DROPOUT_GROUPS)


def _smoothed_noise(rng: np.random.Generator, shape: tuple[int, ...], width: int) -> np.ndarray:
    """Unit-variance Gaussian noise along axis 0, smoothed by a moving average of ``width`` frames."""
    white = rng.standard_normal((shape[0] + width - 1,) + shape[1:])
    cumulative = np.cumsum(white, axis=0)
    cumulative = np.concatenate([np.zeros((1,) + shape[1:]), cumulative], axis=0)
    return (cumulative[width:] - cumulative[:-width]) / np.sqrt(width)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _occlusion(landmarks: np.ndarray) -> np.ndarray:
    """Soft 0..1 degree to which each landmark is hidden: limb and face landmarks behind the torso
    (inside the shoulder-hip box in the image and deeper than it), and the far one of each
    left/right face pair when the head is turned away."""
    torso = landmarks[:, _TORSO]
    lower, upper = torso[..., :2].min(axis=1), torso[..., :2].max(axis=1)  # (T, 2)
    margin = 0.02
    xy = landmarks[..., :2]
    inside = np.minimum(xy - (lower[:, None] - margin), (upper[:, None] + margin) - xy).min(axis=-1)
    behind = landmarks[..., 2] - (torso[..., 2].mean(axis=1)[:, None] + 0.05)
    hidden = _sigmoid(inside / 0.01) * _sigmoid(behind / 0.02)
    hidden[:, _TORSO] = 0.0
    for left, right in _FACE_PAIRS:
        depth_gap = landmarks[:, left, 2] - landmarks[:, right, 2]
        hidden[:, left] = np.maximum(hidden[:, left], _sigmoid((depth_gap - 0.06) / 0.015))
        hidden[:, right] = np.maximum(hidden[:, right], _sigmoid((-depth_gap - 0.06) / 0.015))
    return hidden


def simulate_detector(landmarks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Detector output (T, 33, 4) float32 (x, y, z, visibility) for true landmarks (T, 33, 3).

    ``landmarks`` are in MediaPipe's normalized convention (see ``skeleton.project``).
    """
    n_frames, n_landmarks, _ = landmarks.shape
    xy_sigma = rng.uniform(0.001, 0.004)
    z_sigma = xy_sigma * rng.uniform(2.0, 4.0)
    sigma = np.ones(n_landmarks)
    sigma[_EXTREMITIES] = 1.6
    noise = _smoothed_noise(rng, (n_frames, n_landmarks, 3), width=3)
    noise *= sigma[None, :, None] * np.array([xy_sigma, xy_sigma, z_sigma])
    observed = landmarks + noise

    # Confidence of a clearly seen landmark: mostly 0.97-0.999.
    visibility = 1.0 - np.exp(rng.normal(np.log(0.012), 0.6, (n_frames, n_landmarks)))
    visibility *= 1.0 - 0.6 * _occlusion(landmarks)
    # Leaving the frame.
    x, y = landmarks[..., 0], landmarks[..., 1]
    inside = np.minimum(np.minimum(x, 1.0 - x), np.minimum(y, 1.0 - y))
    visibility *= _sigmoid(inside / 0.015 + 2.0)

    expected_dropouts = n_frames / 200.0 * rng.uniform(0.3, 1.5)
    for _ in range(rng.poisson(expected_dropouts)):
        group = list(DROPOUT_GROUPS[_GROUP_NAMES[rng.integers(len(_GROUP_NAMES))]])
        length = int(rng.integers(5, 41))
        start = int(rng.integers(0, max(1, n_frames - length)))
        frames = slice(start, start + length)
        ramp = np.sin(np.linspace(0.0, np.pi, min(length, n_frames - start)))[:, None]  # fade in and out
        visibility[frames, group] *= 1.0 - (1.0 - rng.uniform(0.05, 0.4)) * ramp
        drift = np.cumsum(rng.normal(0.0, 0.004, (ramp.shape[0], 1, 3)), axis=0) * np.array([1.0, 1.0, 3.0])
        observed[frames, group] += drift * ramp[..., None]

    out = np.empty((n_frames, n_landmarks, 4), dtype=np.float32)
    out[..., :3] = observed
    out[..., 3] = np.clip(visibility, 0.0, 1.0)
    return out
