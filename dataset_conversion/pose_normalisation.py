"""Pose-window normalisation: the one definition every model's input and ``recommend`` share.

MediaPipe's image coordinates tell where the person stands and how far the camera is; the normalised
windows keep only the pose. A window is a float array (..., T, 33, 4) of BlazePose landmarks with the
channels x, y, z, visibility (:mod:`.layout`); every mode leaves visibility (channel 3) untouched.

``none``
    The input itself, unchanged (the paper's and the converter's raw coordinates).
``hip_torso``
    x, y, z of every frame minus that frame's hip midpoint (landmarks 23 and 24), divided by the
    window's mean torso length: the distance between the shoulder midpoint (11, 12) and the hip
    midpoint, averaged over the window's frames. A torso shorter than :data:`TORSO_FLOOR` (about a pixel
    in MediaPipe's normalised image coordinates: a degenerate window, every landmark at one point) is
    taken as :data:`TORSO_FLOOR`, so such a window stays finite instead of being blown up.
``hip_torso_yaw``
    ``hip_torso``, then rotated about the vertical (y) axis so that the window's mean hip vector from
    the right hip (24) to the left hip (23) lies along +x in the x-z plane: the person faces the camera
    (MediaPipe's x grows to the image's right, where a person facing the camera has the left hip). A
    window whose hip vector has no x-z extent is not rotated.
"""

from __future__ import annotations

import numpy as np

from .layout import NUM_CHANNELS, NUM_LANDMARKS

POSE_NORMALISATIONS = ("none", "hip_torso", "hip_torso_yaw")

# BlazePose landmark indices
LEFT_SHOULDER, RIGHT_SHOULDER = 11, 12
LEFT_HIP, RIGHT_HIP = 23, 24
TORSO_FLOOR = 1e-3


def check_pose_normalisation(mode) -> str:
    """``mode`` if it is one of :data:`POSE_NORMALISATIONS`, else :class:`ValueError` naming them."""
    if not isinstance(mode, str) or mode not in POSE_NORMALISATIONS:
        raise ValueError(f"must be one of {', '.join(POSE_NORMALISATIONS)}, got {mode!r}")
    return mode


def normalise_windows(windows: np.ndarray, mode: str) -> np.ndarray:
    """``windows`` (..., T, 33, 4) normalised by ``mode`` (:data:`POSE_NORMALISATIONS`), as a new array of the
    input's floating dtype (float64 for an integer input); ``none`` returns ``windows`` itself.

    Every window (the leading axes) is normalised on its own, all at once.
    """
    check_pose_normalisation(mode)
    if mode == "none":
        return windows
    array = np.asarray(windows)
    if array.ndim < 3 or array.shape[-2:] != (NUM_LANDMARKS, NUM_CHANNELS) or array.shape[-3] == 0:
        raise ValueError(f"pose windows must have the shape (..., T, {NUM_LANDMARKS}, {NUM_CHANNELS}) with T >= 1, "
                         f"got {array.shape}")
    out = array.astype(array.dtype if np.issubdtype(array.dtype, np.floating) else np.float64)  # a copy
    xyz = out[..., :3]  # a view: the steps below work in place, visibility stays as copied
    hip = xyz[..., [LEFT_HIP, RIGHT_HIP], :].mean(axis=-2, keepdims=True)  # (..., T, 1, 3)
    shoulder = xyz[..., [LEFT_SHOULDER, RIGHT_SHOULDER], :].mean(axis=-2, keepdims=True)
    torso = np.linalg.norm(shoulder - hip, axis=-1).mean(axis=-2, keepdims=True)  # (..., 1, 1)
    xyz -= hip
    xyz /= np.maximum(torso, out.dtype.type(TORSO_FLOOR))[..., None]
    if mode == "hip_torso_yaw":
        across = (xyz[..., LEFT_HIP, :] - xyz[..., RIGHT_HIP, :]).mean(axis=-2)  # (..., 3)
        angle = np.arctan2(across[..., 2], across[..., 0])[..., None, None]
        cos, sin = np.cos(angle), np.sin(angle)
        x, z = xyz[..., 0].copy(), xyz[..., 2]
        xyz[..., 0] = cos * x + sin * z
        xyz[..., 2] = cos * z - sin * x
    return out
