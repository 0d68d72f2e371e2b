"""Rendering one video's pose sequence: style -> motion -> skeleton -> camera -> detector output."""

from __future__ import annotations

import numpy as np

from .motions import motion_dofs, sample_motion_params
from .observation import simulate_detector
from .plan import VideoPlan
from .skeleton import forward_kinematics, project, sample_body, sample_camera


def render_poses(plan: VideoPlan, rng: np.random.Generator) -> np.ndarray:
    """The BlazePose-style landmark array (T, 33, 4) float32 of one planned video.

    Draws, in this order, the motion parameters, the body, the joint-angle sequences, the camera
    and the detector artefacts from ``rng`` (the video's own stream).
    """
    params = sample_motion_params(plan.subcategory, plan.style, rng)
    body = sample_body(rng)
    dofs, grounded = motion_dofs(plan.subcategory, plan.n_frames, params, rng)
    world = forward_kinematics(dofs, body, grounded)
    camera = sample_camera(rng)
    return simulate_detector(project(world, camera), rng)
