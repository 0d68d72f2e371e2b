"""Training-time augmentation of pose windows, as skeleton-action codebases (e.g. pyskl) do.

Windows are (B, T, 33, 4) tensors of BlazePose landmarks, channels x, y, z, visibility. Every window gets
its own random draw, all windows at once (no loop over windows):

- rotation about the vertical (y) axis by an angle uniform in [-``rotation``, ``rotation``] degrees,
- scaling of x, y, z by a factor uniform in [1 - ``scale``, 1 + ``scale``],

both about the window's hip midpoint (landmarks 23 and 24, averaged over the window's frames), which
they therefore leave in place; and, before them,

- a temporal shift by an integer uniform in [-``time_shift``, ``time_shift``] frames: output frame t is
  input frame clamp(t + shift, 0, T - 1), so the window's first or last frame repeats at the end it
  runs off. Whole frames move, their visibility with them.

Rotation and scaling leave visibility untouched. All three at 0 return the input itself. Random numbers
come from ``generator`` or, without one, from torch's global generator (seeded by RecBole's ``init_seed``).
"""

from __future__ import annotations

import math

import torch

from dataset_conversion.pose_normalisation import LEFT_HIP, RIGHT_HIP

AUGMENTATION_KEYS = ("augment_rotation", "augment_scale", "augment_time_shift")


def check_augmentation(*, augment_rotation, augment_scale, augment_time_shift) -> None:
    """Raise ``ValueError`` naming the first augmentation setting out of its range."""
    if not (_is_number(augment_rotation) and 0 <= augment_rotation <= 180):
        raise ValueError(f"augment_rotation must be a number of degrees in [0, 180], got {augment_rotation!r}")
    if not (_is_number(augment_scale) and 0 <= augment_scale < 1):
        raise ValueError(f"augment_scale must be a number in [0, 1), got {augment_scale!r}")
    if not (isinstance(augment_time_shift, int) and not isinstance(augment_time_shift, bool)
            and augment_time_shift >= 0):
        raise ValueError(f"augment_time_shift must be a non-negative integer of frames, got {augment_time_shift!r}")


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _uniform(n: int, half_width: float, like: torch.Tensor, generator) -> torch.Tensor:
    """(n,) draws uniform in [-half_width, half_width]."""
    draws = torch.rand(n, generator=generator, device=like.device, dtype=like.dtype)
    return (2 * draws - 1) * half_width


def hip_midpoints(poses: torch.Tensor) -> torch.Tensor:
    """Each window's hip midpoint, averaged over its frames: (B, T, V, C) -> (B, 1, 1, 3)."""
    return poses[:, :, [LEFT_HIP, RIGHT_HIP], :3].mean(dim=(1, 2), keepdim=True)


def shift_frames(poses: torch.Tensor, max_shift: int, generator=None) -> torch.Tensor:
    """Each window's frames shifted by a random integer in [-max_shift, max_shift], clamped at the ends."""
    batch, frames = poses.shape[:2]
    shifts = torch.randint(-max_shift, max_shift + 1, (batch, 1), generator=generator, device=poses.device)
    source = (torch.arange(frames, device=poses.device) + shifts).clamp(0, frames - 1)  # (B, T)
    return torch.take_along_dim(poses, source[:, :, None, None], dim=1)


def rotate_and_scale(poses: torch.Tensor, max_degrees: float, max_scale: float, generator=None) -> torch.Tensor:
    """x, y, z of each window rotated about the vertical axis through its hip midpoint by a random angle in
    [-max_degrees, max_degrees] and scaled about that point by a random factor in [1 - max_scale, 1 + max_scale]."""
    batch = poses.shape[0]
    angle = torch.deg2rad(_uniform(batch, max_degrees, poses, generator))
    factor = 1 + _uniform(batch, max_scale, poses, generator)
    cos, sin = (torch.cos(angle) * factor).view(-1, 1, 1), (torch.sin(angle) * factor).view(-1, 1, 1)
    centre = hip_midpoints(poses)
    x, y, z = (poses[..., :3] - centre).unbind(-1)
    xyz = torch.stack([cos * x + sin * z, factor.view(-1, 1, 1) * y, cos * z - sin * x], dim=-1) + centre
    return torch.cat([xyz, poses[..., 3:]], dim=-1)


def augment_windows(poses: torch.Tensor, *, rotation: float = 0.0, scale: float = 0.0, time_shift: int = 0,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """``poses`` (B, T, V, C) augmented as the module docstring says; the input itself when every setting is 0."""
    if time_shift:
        poses = shift_frames(poses, time_shift, generator)
    if rotation or scale:
        poses = rotate_and_scale(poses, rotation, scale, generator)
    return poses
