"""One parameterised motion per subcategory, driven by a video's latent style.

A motion is a function of the cycle phase (radians, one cycle = one bite, dribble, pedal stroke,
bow stroke, beat ...) that returns joint-angle sequences. It is written for the *dominant* hand and
foot (keys ``dom.<dof>`` / ``off.<dof>``) and for lateral trunk angles that are positive towards the
dominant side; :func:`motion_dofs` maps these onto left/right for the video's handedness.

The latent style ``s`` in [0, 1] (slow/calm -> fast/intense) sets three things, each with its own
per-video noise, so that two videos of the same subcategory and style still differ:

* tempo: ``base_tempo * 2 ** (s - 0.5)`` (0.7x to 1.4x the subcategory's typical rate);
* amplitude: ``0.65 + 0.7 * s`` (range of motion, jump height, torso swing ...);
* posture: motion-specific (crouch depth in basketball, racing lean in cycling, sitting vs. standing
  for guitar, phone calls and drinking, ballet-like vs. street-like movement vocabulary in dancing).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .skeleton import DOF_NAMES, LATERAL_DOFS, ROOT_TRANSLATION, clip_to_limits
from .taxonomy import SUBCATEGORIES

FPS = 30.0

# Joint angles of a relaxed standing person; a motion only sets the angles it moves.
NEUTRAL: dict[str, float] = {name: 0.0 for name in DOF_NAMES}
for _side in ("left", "right"):
    NEUTRAL.update({f"{_side}.shoulder_elev": 6.0, f"{_side}.shoulder_plane": 15.0, f"{_side}.elbow_flex": 10.0})
    NEUTRAL.update({f"{_side}.knee_flex": 3.0, f"{_side}.hip_flex": 3.0, f"{_side}.hip_abd": 4.0})


@dataclass(frozen=True)
class MotionParams:
    """Per-video motion parameters (derived from the latent style plus noise)."""

    style: float  # latent style in [0, 1]
    tempo_hz: float  # cycles per second
    amplitude: float  # about 0.65 (small, calm) to 1.35 (large, intense)
    dominant: str  # "left" or "right"


Motion = Callable[[np.ndarray, MotionParams, np.random.Generator], tuple[dict, bool]]


def pulse(phase: np.ndarray, sharpness: float) -> np.ndarray:
    """A periodic bump in [0, 1] peaking at phase 0 (mod 2 pi); larger sharpness = shorter bump."""
    return ((1.0 + np.cos(phase)) / 2.0) ** sharpness


def smoothstep(x: np.ndarray | float) -> np.ndarray:
    """0 below 0, 1 above 1, smooth in between."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _legs(d: dict, who: str, hip, knee, abd=None, ankle_extra=0.0) -> None:
    """Set one leg's hip and knee flexion, with the ankle keeping the foot flat on the floor."""
    d[f"{who}.hip_flex"] = hip
    d[f"{who}.knee_flex"] = knee
    d[f"{who}.ankle_flex"] = np.asarray(hip) - np.asarray(knee) + ankle_extra
    if abd is not None:
        d[f"{who}.hip_abd"] = abd


def _seated(d: dict, hip=85.0, knee=85.0) -> None:
    for who in ("dom", "off"):
        _legs(d, who, hip, knee, abd=8.0)


def _arm(d: dict, who: str, elev, plane, twist, elbow, wrist=0.0) -> None:
    d[f"{who}.shoulder_elev"] = elev
    d[f"{who}.shoulder_plane"] = plane
    d[f"{who}.shoulder_twist"] = twist
    d[f"{who}.elbow_flex"] = elbow
    d[f"{who}.wrist_flex"] = wrist


def _eating(ph, p, rng):
    """Seated at a table, bringing food to the mouth with the dominant hand; leans in to each bite."""
    a = p.amplitude
    bite = np.clip(1.4 * pulse(ph, 1.5), 0.0, 1.0)  # 1 = at the mouth, held briefly
    d: dict = {}
    _seated(d)
    _arm(d, "dom", 25 + 25 * bite, 10 - 15 * bite, 15 + 20 * bite, 140 - 70 * a * (1 - bite), 10 + 15 * bite)
    _arm(d, "off", 30, 5, 20, 95)
    d["spine_flex"] = 8 + 10 * a * bite
    d["head_nod"] = 12 - 10 * bite
    return d, False


def _drinking(ph, p, rng):
    """Raising a cup or bottle to the mouth and tilting the head back; calm drinkers sit."""
    a = p.amplitude
    sip = np.clip(1.3 * pulse(ph, 1.2), 0.0, 1.0)
    standing = p.style + rng.normal(0.0, 0.15) > 0.4
    d: dict = {}
    away = a * (1 - sip)  # how far the cup goes down between sips
    _arm(d, "dom", 55 - 30 * away, -5 + 15 * away, 35 - 20 * away, 140 - 80 * away, 10)
    d["head_nod"] = 5 - (10 + 25 * a) * sip
    d["spine_flex"] = -6 * a * sip
    if standing:
        _arm(d, "off", 8, 15, 0, 15)
    else:
        _seated(d)
        _arm(d, "off", 25, 10, 20, 80)
    return d, standing


def _phone_call(ph, p, rng):
    """Dominant hand holding a phone at the ear, the other hand gesturing; energetic callers pace."""
    a = p.amplitude
    gesture = a * pulse(ph, 2.0)
    pacing = p.style + rng.normal(0.0, 0.15) > 0.45
    d: dict = {}
    _arm(d, "dom", 45, 35, 40, 145, 20)
    _arm(d, "off", 15 + 30 * gesture, 20 + 20 * gesture, 10, 40 + 50 * gesture, -10 * gesture)
    d["head_tilt"] = 10
    d["head_turn"] = 10 * np.sin(ph / 3)
    if pacing:
        walk = ph * 2.2  # about two steps per gesture
        heading = np.cos(ph / 6)
        d["root_x"] = 0.3 * a * np.sin(ph / 6)
        d["root_yaw"] = 60 * np.tanh(3 * heading)
        for who, shift in (("dom", 0.0), ("off", np.pi)):
            swing = np.sin(walk + shift)
            _legs(d, who, 5 + 18 * a * swing, 8 + 30 * np.clip(np.sin(walk + shift + 1.2), 0, None))
            d[f"{who}.ankle_flex"] = 8 * np.sin(walk + shift - 1.0)
        d["root_y"] = 0.015 * np.abs(np.sin(walk))
    else:
        _seated(d)
        d["spine_side"] = 4 * np.sin(ph / 4)
    return d, pacing


def _cooking(ph, p, rng):
    """Standing at a counter stirring in circles; intense cooks toss the pan with the other hand."""
    a, s = p.amplitude, p.style
    toss = s * pulse(ph / 2, 6.0)
    d: dict = {}
    _arm(d, "dom", 35 + 10 * a * np.cos(ph), 15 + 15 * a * np.sin(ph), 20, 85 + 12 * a * np.sin(ph + 0.8), 10 * np.sin(ph))
    _arm(d, "off", 30 + 15 * toss, 10, 10, 85 - 25 * toss, 20 * toss)
    d["spine_flex"] = 10 + 6 * a
    d["spine_twist"] = 4 * a * np.sin(ph)
    d["head_nod"] = 30
    for who in ("dom", "off"):
        _legs(d, who, 5, 5)
    return d, True


def _basketball(ph, p, rng):
    """Crouched dribbling with the dominant hand and a jump shot every sixth bounce."""
    a, s = p.amplitude, p.style
    crouch = 20 + 25 * s
    bounce = pulse(ph, 2.0)
    shot = pulse(ph / 6, 8.0)
    jump = pulse(ph / 6, 14.0)
    knees = (crouch + 6 * a * bounce) * (1 - shot)
    d: dict = {}
    for who in ("dom", "off"):
        _legs(d, who, knees * 0.9, knees, abd=10)
    dribble_dom = dict(elev=20 + 15 * a * bounce, plane=20, twist=10, elbow=35 + 45 * a * bounce, wrist=30 * bounce - 20)
    guard_off = dict(elev=40, plane=50, twist=0, elbow=70, wrist=0)
    shooting = dict(elev=150, plane=15, twist=0, elbow=70 - 50 * jump, wrist=-30 + 60 * jump)
    for who, still in (("dom", dribble_dom), ("off", guard_off)):
        _arm(d, who, *((1 - shot) * still[k] + shot * shooting[k] for k in ("elev", "plane", "twist", "elbow", "wrist")))
    d["spine_flex"] = (15 + 12 * s) * (1 - shot)
    d["head_nod"] = 10 * (1 - shot) - 20 * shot
    d["root_y"] = 0.12 * a * jump
    return d, True


def _football(ph, p, rng):
    """Keepy-uppy: the feet take turns lifting the ball, arms out for balance; intense players drift."""
    a, s = p.amplitude, p.style
    touch = pulse(ph, 3.0)
    dom_turn = 0.5 + 0.5 * np.cos(ph / 2)
    d: dict = {}
    for who, share in (("dom", dom_turn), ("off", 1 - dom_turn)):
        kick = touch * share
        _legs(d, who, 8 + 50 * a * kick, 15 + 45 * kick)
        d[f"{who}.ankle_flex"] = 10 * kick  # toes up under the ball
        _arm(d, who, 30 + 15 * a + 10 * kick, 70, 0, 25 + 10 * np.sin(ph))
    d["spine_flex"] = 10 + 5 * touch
    d["head_nod"] = 30
    d["root_x"] = 0.3 * a * s * np.sin(ph / 4)
    d["root_y"] = 0.02 * a * pulse(ph + np.pi, 4.0)
    return d, True


def _tennis(ph, p, rng):
    """Ready stance, then a forehand: back-swing, trunk rotation, follow-through across the body."""
    a = p.amplitude
    swing = np.tanh(2.5 * np.sin(ph)) / np.tanh(2.5)  # -1 back-swing ... +1 follow-through
    d: dict = {}
    for who in ("dom", "off"):
        _legs(d, who, 25, 25, abd=12)
    d["spine_twist"] = -35 * a * swing
    d["root_yaw"] = -12 * a * swing
    d["head_turn"] = 25 * a * swing
    d["spine_flex"] = 15
    follow = np.clip(swing, 0, None)
    _arm(d, "dom", 60 + 15 * follow, 45 - 60 * a * swing, 10 - 30 * swing, 25 + 40 * follow, 10 * swing)
    _arm(d, "off", 45 - 10 * swing, 10 + 20 * swing, 0, 40)
    d["root_y"] = 0.03 * a * pulse(ph + np.pi, 6.0)
    return d, True


def _cycling(ph, p, rng):
    """Pedalling on a saddle, hands on the bars; the lean deepens and the body rocks with intensity."""
    a, s = p.amplitude, p.style
    lean = 30 + 25 * s
    d: dict = {}
    for who, shift in (("dom", 0.0), ("off", np.pi)):
        d[f"{who}.hip_flex"] = 55 + 22 * a * np.sin(ph + shift)
        d[f"{who}.knee_flex"] = np.clip(75 + 35 * a * np.sin(ph + shift + 0.3), 15, None)
        d[f"{who}.ankle_flex"] = 10 + 10 * np.sin(ph + shift - 1.0)
        d[f"{who}.hip_abd"] = 5
        _arm(d, who, 60 + 10 * s, 10, 10, 25 - 10 * s, -10)
    d["spine_flex"] = lean
    d["head_nod"] = -0.75 * lean + 5
    d["spine_side"] = 6 * s * a * np.sin(ph)
    d["root_roll"] = 5 * s * np.sin(ph)
    d["root_y"] = 0.03 * s * a * pulse(2 * ph, 2.0)
    return d, False


def _boxing(ph, p, rng):
    """Guard stance bouncing on the feet, throwing jab (lead hand) and cross (rear hand)."""
    a = p.amplitude
    jab = pulse(ph, 8.0)
    cross = pulse(ph - np.pi, 8.0)
    reach = min(a, 1.0)
    d: dict = {}
    bounce = np.abs(np.sin(ph))
    _legs(d, "off", 25 + 5 * a * bounce, 20 + 5 * a * bounce, abd=8)
    _legs(d, "dom", 5 + 5 * a * bounce, 20 + 5 * a * bounce, abd=8, ankle_extra=15)
    for who, punch in (("off", jab), ("dom", cross)):
        _arm(d, who, 40 + 45 * punch, 15 - 25 * punch, 35 - 25 * punch, 130 - 120 * reach * punch)
    d["spine_twist"] = 20 * a * (0.5 * jab - cross)
    d["spine_flex"] = 10
    d["head_nod"] = 10
    d["root_y"] = 0.02 * a * bounce
    return d, True


def _dancing(ph, p, rng):
    """A blend of two vocabularies set by style: ballet-like port de bras and relevé (calm) and
    bouncing, arm-pumping, side-stepping street dance (intense)."""
    a, s = p.amplitude, p.style
    street_share = smoothstep((s - 0.2) / 0.6)

    ballet: dict = {}
    for who, shift in (("dom", 0.0), ("off", np.pi / 2)):
        _arm(ballet, who, 70 + 55 * a * (0.5 + 0.5 * np.sin(ph + shift)), 60 + 20 * np.sin(ph / 2), -10, 25)
        ballet[f"{who}.hip_rot"] = 30  # turn-out
        ballet[f"{who}.ankle_flex"] = 25 * pulse(ph / 2, 2.0)  # relevé
    extension = pulse(ph / 2, 3.0)
    ballet["dom.hip_flex"] = 60 * a * extension
    ballet["dom.knee_flex"] = 40 * pulse(ph / 2 + 1.0, 3.0)
    ballet["spine_flex"] = -5
    ballet["head_nod"] = -10
    ballet["head_turn"] = 20 * np.sin(ph / 2)

    street: dict = {}
    beat = pulse(ph, 2.0)
    dom_turn = 0.5 + 0.5 * np.cos(ph / 2)
    for who, share in (("dom", dom_turn), ("off", 1 - dom_turn)):
        _legs(street, who, 20 + 20 * a * beat, 20 + 25 * a * beat, abd=10 + 10 * beat)
        _arm(street, who, 30 + 70 * a * pulse(ph, 3.0) * share, 30 + 30 * np.sin(ph / 2), 0, 90 - 40 * beat)
    street["spine_flex"] = 10 + 15 * beat
    street["spine_twist"] = 20 * a * np.sin(ph / 2)
    street["root_x"] = 0.25 * a * np.sin(ph / 4)
    street["head_nod"] = 15 * a * beat

    d = {}
    for key in set(ballet) | set(street):
        d[key] = (1 - street_share) * _neutral_value(ballet, key) + street_share * _neutral_value(street, key)
    return d, True


def _guitar(ph, p, rng):
    """Strumming with the dominant hand, fretting with the other; calm players sit, rockers stand
    and bob."""
    a, s = p.amplitude, p.style
    standing = s + rng.normal(0.0, 0.15) > 0.55
    d: dict = {}
    _arm(d, "dom", 30 + 5 * a * np.sin(ph), -5, 45, 95 + 15 * a * np.sin(ph), 20 * a * np.sin(ph + 0.4))
    _arm(d, "off", 45 + 4 * np.sin(ph / 8), 35 + 10 * a * np.sin(ph / 6), 40, 110, -30)
    d["head_turn"] = -20
    d["head_nod"] = 15 + 8 * a * pulse(ph / 2, 2.0)
    if standing:
        groove = pulse(ph / 2, 2.0)
        for who in ("dom", "off"):
            _legs(d, who, 5 + 10 * a * s * groove, 5 + 12 * a * s * groove, abd=10)
        d["spine_flex"] = 5 + 10 * s * pulse(ph / 4, 4.0)
        d["head_nod"] = d["head_nod"] + 20 * s * pulse(ph / 2, 3.0)
    else:
        _seated(d)
        d["spine_flex"] = 15
    return d, standing


def _violin(ph, p, rng):
    """Violin under the chin on the off side, long bow strokes with the dominant arm, body sway."""
    a, s = p.amplitude, p.style
    bow = (2 / np.pi) * np.arcsin(0.97 * np.sin(ph))  # near-triangular: steady bow speed
    d: dict = {}
    _arm(d, "off", 50, 25, 0, 70, -10)
    _arm(d, "dom", 55 + 12 * a * bow, 35 + 25 * a * bow, 10, 75 + 35 * a * bow, 10 * bow)
    d["head_tilt"] = -20
    d["head_turn"] = -25
    d["spine_side"] = 6 * a * np.sin(ph / 2)
    sway = pulse(ph / 4, 2.0)
    d["spine_flex"] = 5 + 6 * s * a * sway
    for who in ("dom", "off"):
        _legs(d, who, 3 + 4 * s * sway, 5 + 6 * s * sway)
    return d, True


def _drumming(ph, p, rng):
    """Seated at a kit: alternating stick strokes, a crash every eight beats, kick-drum foot."""
    a = p.amplitude
    crash = pulse(ph / 8, 10.0)
    d: dict = {}
    _seated(d, hip=80, knee=80)
    for who, shift in (("dom", 0.0), ("off", np.pi)):
        lift = 1 - pulse(ph - shift, 4.0)  # 0 = stick on the drum
        _arm(d, who, 25 + 15 * a * lift, 25, 15, 70 + 35 * a * lift, -20 + 40 * a * lift)
    d["dom.shoulder_elev"] = d["dom.shoulder_elev"] + 50 * a * crash
    d["dom.shoulder_plane"] = 25 + 20 * crash
    d["dom.ankle_flex"] = 10 + 25 * pulse(ph / 2, 6.0)
    d["head_nod"] = 10 + 12 * a * pulse(ph / 2, 2.0)
    d["spine_flex"] = 10 + 5 * a * pulse(ph / 2, 2.0)
    return d, False


def _piano(ph, p, rng):
    """Seated at a keyboard: hands travelling along the keys, key strokes, expressive leaning."""
    a = p.amplitude
    d: dict = {}
    _seated(d, hip=85, knee=80)
    strokes = 8 * a * pulse(2 * ph, 3.0)
    _arm(d, "dom", 35, 10 + 18 * a * np.sin(ph / 5), 20, 80, -5 + strokes)
    _arm(d, "off", 35, 10 + 18 * a * np.sin(ph / 5 + 1.5), 20, 80, -5 + 8 * a * pulse(2 * ph + 2.0, 3.0))
    d["dom.ankle_flex"] = 10 + 12 * pulse(ph / 4, 4.0)  # sustain pedal
    d["spine_side"] = 6 * a * np.sin(ph / 5)
    d["spine_flex"] = 12 + 10 * a * (0.5 + 0.5 * np.sin(ph / 7))
    d["head_nod"] = 20 + 8 * a * pulse(ph / 2, 2.0)
    d["head_turn"] = 10 * np.sin(ph / 5)
    return d, False


@dataclass(frozen=True)
class MotionSpec:
    """A subcategory's motion: its function and typical cycle rate at mid style."""

    motion: Motion
    base_tempo_hz: float


MOTIONS: dict[str, MotionSpec] = {
    "eating": MotionSpec(_eating, 0.30),
    "drinking": MotionSpec(_drinking, 0.18),
    "phone call": MotionSpec(_phone_call, 0.50),
    "cooking": MotionSpec(_cooking, 0.90),
    "basketball": MotionSpec(_basketball, 1.70),
    "football": MotionSpec(_football, 1.20),
    "tennis": MotionSpec(_tennis, 0.45),
    "cycling": MotionSpec(_cycling, 1.30),
    "boxing": MotionSpec(_boxing, 0.90),
    "dancing": MotionSpec(_dancing, 1.10),
    "guitar": MotionSpec(_guitar, 1.60),
    "violin": MotionSpec(_violin, 0.60),
    "drumming": MotionSpec(_drumming, 2.20),
    "piano": MotionSpec(_piano, 1.40),
}
assert tuple(MOTIONS) == SUBCATEGORIES


def _neutral_value(d: dict, key: str):
    """``d[key]`` for a dom/off/axial key, or the neutral pose's value if the motion leaves it."""
    if key in d:
        return d[key]
    return NEUTRAL[key.replace("dom.", "right.").replace("off.", "right.")]


def sample_motion_params(subcategory: str, style: float, rng: np.random.Generator) -> MotionParams:
    """Tempo, amplitude and handedness of one video, from its subcategory and latent style."""
    base = MOTIONS[subcategory].base_tempo_hz
    tempo = base * 2.0 ** (style - 0.5) * float(np.exp(rng.normal(0.0, 0.07)))
    amplitude = (0.65 + 0.7 * style) * float(np.exp(rng.normal(0.0, 0.06)))
    dominant = "right" if rng.random() < 0.85 else "left"
    return MotionParams(style=style, tempo_hz=tempo, amplitude=amplitude, dominant=dominant)


def cycle_phase(n_frames: int, tempo_hz: float, rng: np.random.Generator) -> np.ndarray:
    """Cycle phase (radians) per frame, with a random start and a slow +-7 % tempo wander."""
    t = np.arange(n_frames) / FPS
    wander = 1.0 + 0.07 * np.sin(2 * np.pi * rng.uniform(0.03, 0.1) * t + rng.uniform(0, 2 * np.pi))
    return rng.uniform(0, 2 * np.pi) + 2 * np.pi * np.cumsum(tempo_hz * wander) / FPS


def _idle_drift(n_frames: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Small, slow, random wandering of every joint (a few degrees; a few cm for the root)."""
    t = np.arange(n_frames) / FPS
    n_dofs = len(DOF_NAMES)
    freqs = rng.uniform(0.05, 0.5, (n_dofs, 3, 1))
    phases = rng.uniform(0, 2 * np.pi, (n_dofs, 3, 1))
    amps = rng.uniform(0.3, 1.0, (n_dofs, 3, 1))
    drift = (amps * np.sin(2 * np.pi * freqs * t + phases)).sum(axis=1)  # (n_dofs, T), about +-2
    scale = np.array([0.01 if name in ROOT_TRANSLATION else 1.2 for name in DOF_NAMES])  # metres vs degrees
    drift *= scale[:, None]
    drift[DOF_NAMES.index("root_y")] = 0.0  # vertical position is fixed by the support
    return {name: drift[i] for i, name in enumerate(DOF_NAMES)}


def body_dofs(raw: dict, dominant: str, n_frames: int) -> dict[str, np.ndarray]:
    """The neutral pose overlaid with a motion's ``raw`` angles, each (T,): ``dom.``/``off.`` names go to the
    dominant / other side, and lateral angles are mirrored towards the dominant side."""
    other = "left" if dominant == "right" else "right"
    towards_dominant = 1.0 if dominant == "left" else -1.0
    dofs = {name: np.full(n_frames, value) for name, value in NEUTRAL.items()}
    for key, value in raw.items():
        if key.startswith("dom."):
            name = f"{dominant}.{key[4:]}"
        elif key.startswith("off."):
            name = f"{other}.{key[4:]}"
        else:
            name = key
            if key in LATERAL_DOFS:
                value = towards_dominant * np.asarray(value)
        dofs[name] = np.broadcast_to(np.asarray(value, dtype=float), (n_frames,)).copy()
    return dofs


def motion_dofs(
    subcategory: str, n_frames: int, params: MotionParams, rng: np.random.Generator
) -> tuple[dict[str, np.ndarray], bool]:
    """Full, limit-respecting joint-angle sequences (every name in ``DOF_NAMES``, shape (T,)).

    Returns the angles and whether the person stands on the floor (False: on a seat or saddle).
    """
    phase = cycle_phase(n_frames, params.tempo_hz, rng)
    raw, grounded = MOTIONS[subcategory].motion(phase, params, rng)
    dofs = body_dofs(raw, params.dominant, n_frames)
    for name, drift in _idle_drift(n_frames, rng).items():
        dofs[name] = dofs[name] + drift
    return clip_to_limits(dofs), grounded
