"""Rendering one v2 video: a timeline of motion bouts and idle stretches -> skeleton -> camera -> detector.

A video is a sequence of segments (:func:`plan_timeline`): bouts of one of its subcategory's variants
(:data:`~.motions.VARIANTS`; a main variant, and now and then another one) separated by idle or
transition stretches (standing or sitting still, adjusting, walking in, out or about). Between
segments the joint angles cross-fade over :data:`BLEND_FRAMES` frames. The idle share of a video is
drawn uniformly from :data:`IDLE_SHARE_RANGE` (mean 22.5 % of the frames).

v1's body, kinematics, joint limits, idle drift and pinhole projection are reused unchanged; the
camera is v1's with a wider framing, and the detector is :mod:`.observation`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np

from ..motions import NEUTRAL, MotionParams, _idle_drift, _seated, body_dofs, cycle_phase, smoothstep
from ..skeleton import LANDMARK, SIDES, clip_to_limits, forward_kinematics, project, sample_body, sample_camera
from .motions import IDLE_MOTIONS, VARIANTS, Variant, sample_params, variant_weights
from .observation import simulate_detector

IDLE_SHARE_RANGE = (0.05, 0.40)  # share of a video's frames in idle/transition stretches (plausibility, set once)
BOUT_FRAMES = (90, 200)  # typical length of one bout (3 to 7 s at 30 fps)
BLEND_FRAMES = 12  # cross-fade between segments (0.4 s)
SWITCH_PROBABILITY = 0.35  # a bout draws its variant afresh instead of keeping the video's main one
RIGHT_HANDED = 0.85
# Framing: the subject's whole-video bounding box fills this share of the frame height (sample.pkl
# torso_length, x_spread, y_spread); a close-up (above 1) cuts off limbs (sample.pkl offscreen_share).
FILL_RANGE = (0.15, 0.5)
CLOSE_UP_SHARE = 0.3
CLOSE_UP_FILL = (1.1, 1.7)
_FEET = [LANDMARK[f"{side}_{part}"] for side in SIDES for part in ("ankle", "heel", "foot_index")]


class Segment(NamedTuple):
    """Frames ``start:stop`` of a video show ``kind`` ("bout" or "idle") ``name`` (a variant or idle motion)."""

    kind: str
    name: str
    start: int
    stop: int


def _split(total: int, weights: np.ndarray) -> np.ndarray:
    """Integer parts of ``total`` proportional to ``weights`` (summing exactly to ``total``)."""
    edges = np.rint(np.concatenate([[0.0], np.cumsum(weights)]) / np.sum(weights) * total).astype(int)
    return np.diff(edges)


def plan_timeline(subcategory: str, style: float, n_frames: int, rng: np.random.Generator) -> list[Segment]:
    """The video's segments, in order, covering frames ``0:n_frames`` (idle ones may be absent)."""
    variants = VARIANTS[subcategory]
    weights = variant_weights(subcategory, style)
    main = int(rng.choice(len(variants), p=weights))
    idle = int(round(rng.uniform(*IDLE_SHARE_RANGE) * n_frames))
    active = n_frames - idle
    n_bouts = max(1, int(round(active / rng.uniform(*BOUT_FRAMES))))
    gaps = _split(idle, rng.dirichlet(np.ones(n_bouts + 1)))
    bouts = _split(active, rng.dirichlet(np.full(n_bouts, 3.0)))
    segments, start = [], 0
    for i in range(n_bouts + 1):
        if gaps[i] > 0:
            edge = i in (0, n_bouts)
            kind = rng.choice(("still", "adjust", "walk"), p=(0.35, 0.25, 0.4) if edge else (0.5, 0.35, 0.15))
            segments.append(Segment("idle", str(kind), start, start + int(gaps[i])))
            start += int(gaps[i])
        if i < n_bouts and bouts[i] > 0:
            pick = int(rng.choice(len(variants), p=weights)) if rng.random() < SWITCH_PROBABILITY else main
            segments.append(Segment("bout", variants[pick].name, start, start + int(bouts[i])))
            start += int(bouts[i])
    return segments


def idle_share(segments: list[Segment]) -> float:
    """Share of the frames that lie in idle stretches."""
    return sum(s.stop - s.start for s in segments if s.kind == "idle") / max(1, segments[-1].stop)


def _segment_weight(segment: Segment, n_frames: int, frames: np.ndarray) -> np.ndarray:
    half = BLEND_FRAMES / 2
    rise = smoothstep((frames - (segment.start - half)) / BLEND_FRAMES) if segment.start > 0 else 1.0
    fall = smoothstep(((segment.stop + half) - frames) / BLEND_FRAMES) if segment.stop < n_frames else 1.0
    return np.asarray(rise * fall, dtype=float) + 1e-9


@dataclass(frozen=True)
class _Bout:
    variant: Variant
    params: MotionParams


def timeline_dofs(subcategory: str, style: float, segments: list[Segment], rng: np.random.Generator,
                  dominant: str) -> tuple[dict[str, np.ndarray], np.ndarray]:  # fmt: skip
    """Cross-faded joint angles (every DOF, (T,)) of the timeline and the per-frame share of standing
    support (1 = feet on the floor, 0 = on a seat or saddle)."""
    n_frames = segments[-1].stop
    by_name = {v.name: v for v in VARIANTS[subcategory]}
    rendered = []  # (frames, raw angles, grounded)
    for segment in segments:
        lo = max(0, segment.start - BLEND_FRAMES // 2)
        hi = min(n_frames, segment.stop + BLEND_FRAMES // 2)
        if segment.kind == "bout":
            variant = by_name[segment.name]
            params = sample_params(style, rng, dominant)
            motion, tempo = variant.motion, variant.base_tempo_hz * params.tempo_hz
        else:
            params = sample_params(style, rng, dominant)
            motion, tempo = IDLE_MOTIONS[segment.name]
        raw, grounded = motion(cycle_phase(hi - lo, tempo, rng), params, rng)
        rendered.append((segment, np.arange(lo, hi), raw, grounded))
    # Idle stretches take the support (seated or standing) of the nearest bout; seated ones do not walk.
    bout_support = [(s.start, g) for s, _, _, g in rendered if s.kind == "bout"]
    dofs = {name: np.zeros(n_frames) for name in NEUTRAL}
    support, total = np.zeros(n_frames), np.zeros(n_frames)
    for segment, frames, raw, grounded in rendered:
        if segment.kind == "idle":
            grounded = min(bout_support, key=lambda b: abs(b[0] - segment.start))[1]
            if not grounded:
                raw = {k: v for k, v in raw.items() if not (k.endswith(("hip_flex", "knee_flex", "ankle_flex", "hip_abd")) or k.startswith("root"))}
                _seated(raw)
        weight = _segment_weight(segment, n_frames, frames)
        for name, value in body_dofs(raw, dominant, len(frames)).items():
            dofs[name][frames] += weight * value
        support[frames] += weight * float(grounded)
        total[frames] += weight
    dofs = {name: value / total for name, value in dofs.items()}
    return dofs, support / total


def sample_camera_v2(rng: np.random.Generator):
    """v1's phone camera with a wider framing: from far shots to close-ups that cut off limbs."""
    camera = sample_camera(rng)
    fill = float(rng.uniform(*(CLOSE_UP_FILL if rng.random() < CLOSE_UP_SHARE else FILL_RANGE)))
    # close-ups keep the head in the picture: the box's top sits near the top edge
    centre_y = float(rng.uniform(0.0, 0.3)) if fill > 1.0 else camera.centre_y
    return replace(camera, fill=fill, centre_x=float(rng.uniform(0.1, 0.9)), centre_y=centre_y)


def render_poses(subcategory: str, style: float, n_frames: int, rng: np.random.Generator) -> np.ndarray:
    """(n_frames, 33, 4) float32 BlazePose-style landmarks (x, y normalized image coordinates, y down;
    z relative depth on the scale of x; visibility in [0, 1]) of one video.

    ``subcategory`` is one of :data:`~dataset_conversion.synth.taxonomy.SUBCATEGORIES`; ``style`` in [0, 1]
    is the video's latent tempo/intensity (0 slow/calm, 1 fast/intense). Everything else (variants,
    idle and transition stretches, body, camera, occlusion, noise) is drawn from ``rng``, in this order:
    handedness, timeline, joint angles, idle drift, body, camera, detector.
    """
    if subcategory not in VARIANTS:
        raise ValueError(f"unknown subcategory {subcategory!r}; allowed: {', '.join(VARIANTS)}")
    if not 0.0 <= style <= 1.0 or n_frames < 1:
        raise ValueError(f"style must be in [0, 1] and n_frames >= 1, got {style!r} and {n_frames!r}")
    dominant = "right" if rng.random() < RIGHT_HANDED else "left"
    segments = plan_timeline(subcategory, style, n_frames, rng)
    dofs, standing = timeline_dofs(subcategory, style, segments, rng, dominant)
    for name, drift in _idle_drift(n_frames, rng).items():
        dofs[name] = dofs[name] + drift
    body = sample_body(rng)
    world = forward_kinematics(clip_to_limits(dofs), body, grounded=False)
    world[..., 1] -= standing[:, None] * world[:, _FEET, 1].min(axis=1, keepdims=True)
    seated_legs = 1.0 - standing  # furniture (table, kit, keyboard, bike frame) in front of seated legs
    return simulate_detector(project(world, sample_camera_v2(rng)), seated_legs, rng)
