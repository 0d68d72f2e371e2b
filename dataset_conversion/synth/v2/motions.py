"""Several motion variants per subcategory, built from primitives that subcategories share, plus idle
and transition motions.

A variant has v1's motion signature ``(phase, params, rng) -> (angles, grounded)`` with ``dom.`` /
``off.`` keys for the dominant and the other side (see :mod:`dataset_conversion.synth.motions`). Every
subcategory keeps its v1 motion as one variant and gets 2-3 more. The new ones are assembled from
a few shared primitives, deliberately, so that motions of different subcategories resemble each other:

* :func:`hand_to_head` -- the arm brings the hand to the mouth or the ear: eating with the hands or a
  bowl, drinking from a bottle, a phone at the ear, tasting while cooking, fixing one's hair (idle);
* :func:`sweep_arm` -- a steady back-and-forth stroke of the forearm: violin bowing, guitar strumming,
  stirring a pot;
* :func:`strike_arm` -- up-down strokes from the elbow: drumming, chopping, hard piano chords, dribbling;
* :func:`footwork` -- bouncing on the balls of the feet with weight shifts: boxing, hip-hop and shuffle
  dance, tennis ready steps, a standing guitarist or keyboarder;
* :func:`punch_arm` -- arm thrusts from a guard: boxing and hip-hop arm pumps;
* :func:`walk` -- steps with arm swing: pacing on the phone, walking while drinking, a marching drummer,
  jogging with a ball, walking in and out of the frame (idle).

:data:`VARIANTS` lists each subcategory's variants with their typical cycle rate and the style they
suit best (their ``style_centre``), so that a calm video tends to get a calm variant, without a rule.
:data:`IDLE_MOTIONS` are the stretches between bouts: standing or sitting still, adjusting, walking.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

# v1's building blocks: the shared limb setters and shape functions, and every v1 motion (one variant each).
from ..motions import MOTIONS as V1_MOTIONS, Motion, MotionParams, _arm, _legs, _seated, pulse
from ..taxonomy import SUBCATEGORIES


# --- shared primitives --------------------------------------------------------------------------------

def hand_to_head(d: dict, who: str, reach, target: str = "mouth") -> None:
    """Arm ``who`` from a low carry (reach 0) to the hand at the mouth, the ear or the hair (reach 1)."""
    reach = np.asarray(reach, dtype=float)
    elev, plane, twist, elbow = {"mouth": (50, -5, 35, 140), "ear": (50, 40, 40, 148), "hair": (110, 45, 20, 145)}[target]
    _arm(d, who, 20 + (elev - 20) * reach, 15 + (plane - 15) * reach, 10 + (twist - 10) * reach,
         70 + (elbow - 70) * reach, 10 + 10 * reach)  # fmt: skip


def sweep_arm(d: dict, who: str, stroke, a: float, elev: float = 45.0, plane: float = 30.0, elbow: float = 90.0) -> None:
    """A steady stroke of the forearm around a working position; ``stroke`` in [-1, 1]."""
    stroke = np.asarray(stroke, dtype=float)
    _arm(d, who, elev + 10 * a * stroke, plane + 22 * a * stroke, 20, elbow + 30 * a * stroke, 10 * stroke)


def strike_arm(d: dict, who: str, lift, a: float, elev: float = 25.0) -> None:
    """Up-down strokes from the elbow: ``lift`` 0 = hand down on the drum, key or board, 1 = raised."""
    lift = np.asarray(lift, dtype=float)
    _arm(d, who, elev + 15 * a * lift, 25, 15, 70 + 40 * a * lift, -20 + 40 * a * lift)


def footwork(d: dict, ph, a: float, width: float = 10.0, step: float = 0.12) -> None:
    """Bouncing on the balls of the feet, shifting the weight from foot to foot and drifting sideways."""
    bounce = np.abs(np.sin(ph))
    shift = np.sin(ph / 2)
    for who, sign in (("dom", 1.0), ("off", -1.0)):
        load = 0.5 + 0.5 * sign * shift
        _legs(d, who, 12 + 10 * a * bounce + 10 * load, 15 + 15 * a * bounce + 10 * load, abd=width, ankle_extra=12 * bounce)
    d["root_y"] = 0.03 * a * bounce
    d["root_x"] = step * a * np.sin(ph / 4)
    d["spine_flex"] = 8 + 6 * a * bounce


def punch_arm(d: dict, who: str, thrust, a: float, hook: float = 0.0) -> None:
    """From a guard (thrust 0) to the arm extended forward (1); ``hook`` bends it into a hook."""
    thrust = np.asarray(thrust, dtype=float)
    reach = min(a, 1.0)
    _arm(d, who, 40 + 45 * thrust, 15 - 25 * thrust + 60 * hook * thrust, 35 - 25 * thrust,
         130 - (120 - 60 * hook) * reach * thrust)  # fmt: skip


def walk(d: dict, ph, a: float, arms: bool = True, turn: bool = True) -> None:
    """About two steps per cycle, swinging the arms, pacing to and fro across the frame."""
    steps = 2 * ph
    for who, shift in (("dom", 0.0), ("off", np.pi)):
        swing = np.sin(steps + shift)
        _legs(d, who, 5 + 18 * a * swing, 8 + 30 * np.clip(np.sin(steps + shift + 1.2), 0, None))
        d[f"{who}.ankle_flex"] = 8 * np.sin(steps + shift - 1.0)
        if arms:
            _arm(d, who, 8 + 12 * a * np.clip(-swing, 0, None), 0 + 10 * swing, 0, 15 + 15 * a)
    d["root_y"] = 0.015 * np.abs(np.sin(steps))
    d["root_x"] = 0.5 * np.sin(ph / 6)
    if turn:
        d["root_yaw"] = 70 * np.tanh(3 * np.cos(ph / 6))


# --- variants ---------------------------------------------------------------------------------------------

def _stand(d: dict) -> None:
    for who in ("dom", "off"):
        _legs(d, who, 4, 5, abd=6)


def _eating_hands(ph, p, rng):
    """Eating with the hands at a table: both hands to the mouth, leaning in."""
    d: dict = {}
    _seated(d)
    bite = np.clip(1.3 * pulse(ph, 1.5), 0, 1)
    hand_to_head(d, "dom", bite, "mouth")
    hand_to_head(d, "off", 0.85 * np.clip(1.3 * pulse(ph - 0.3, 1.5), 0, 1), "mouth")
    d["spine_flex"] = 12 + 10 * p.amplitude * bite
    d["head_nod"] = 10 - 8 * bite
    return d, False


def _eating_bowl(ph, p, rng):
    """A bowl held under the chin with the other hand, quick small flicks of the chopsticks or spoon."""
    d: dict = {}
    _seated(d)
    _arm(d, "off", 40, 10, 30, 120)
    hand_to_head(d, "dom", 0.75 + 0.25 * pulse(ph, 1.0) * p.amplitude, "mouth")
    d["spine_flex"] = 15
    d["head_nod"] = 20 - 6 * pulse(ph, 1.0)
    return d, False


def _eating_standing(ph, p, rng):
    """A snack eaten standing: the drinking and phone primitives with the hand at the mouth."""
    d: dict = {}
    _stand(d)
    hand_to_head(d, "dom", np.clip(1.4 * pulse(ph, 2.0), 0, 1), "mouth")
    _arm(d, "off", 10, 15, 0, 20)
    d["head_nod"] = 5
    return d, True


def _drinking_bottle(ph, p, rng):
    """Drinking from a bottle standing, head thrown back."""
    d: dict = {}
    _stand(d)
    sip = np.clip(1.3 * pulse(ph, 1.2), 0, 1)
    hand_to_head(d, "dom", 0.3 + 0.7 * sip, "mouth")
    d["dom.shoulder_elev"] = d["dom.shoulder_elev"] + 25 * sip
    d["head_nod"] = 5 - 35 * p.amplitude * sip
    _arm(d, "off", 8, 15, 0, 15)
    return d, True


def _drinking_walking(ph, p, rng):
    """Sipping while walking about."""
    d: dict = {}
    walk(d, ph, p.amplitude)
    sip = np.clip(1.3 * pulse(ph / 2, 1.5), 0, 1)
    hand_to_head(d, "dom", 0.3 + 0.7 * sip, "mouth")
    d["head_nod"] = 5 - 25 * sip
    return d, True


def _phone_standing(ph, p, rng):
    """Standing with the phone at the ear, the other arm across the body, shifting weight."""
    d: dict = {}
    _stand(d)
    hand_to_head(d, "dom", 0.95 + 0.05 * np.sin(ph), "ear")
    _arm(d, "off", 25 + 20 * pulse(ph, 2.0) * p.amplitude, -20, 40, 100)
    d["root_x"] = 0.04 * np.sin(ph / 3)
    d["head_tilt"] = 10
    return d, True


def _phone_walking(ph, p, rng):
    """Pacing with the phone at the ear."""
    d: dict = {}
    walk(d, ph, p.amplitude)
    hand_to_head(d, "dom", np.ones_like(ph), "ear")
    d["head_tilt"] = 8
    return d, True


def _phone_texting(ph, p, rng):
    """Both hands holding the phone at the chest, thumbs tapping, looking down."""
    d: dict = {}
    _seated(d) if p.style < 0.5 else _stand(d)
    for who in ("dom", "off"):
        _arm(d, who, 30, 20, 35, 115 + 6 * pulse(ph * 3, 3.0), 10 * pulse(ph * 3 + 1, 3.0))
    d["head_nod"] = 35
    return d, p.style >= 0.5


def _cooking_chopping(ph, p, rng):
    """Chopping on a board: the drummer's stroke, the other hand holding the food."""
    d: dict = {}
    _stand(d)
    strike_arm(d, "dom", 1 - pulse(ph, 4.0), p.amplitude, elev=30)
    _arm(d, "off", 30, 5, 20, 95)
    d["spine_flex"] = 18
    d["head_nod"] = 35
    return d, True


def _cooking_tasting(ph, p, rng):
    """Stirring a pot and now and then tasting from the spoon."""
    d: dict = {}
    taste = pulse(ph / 5, 6.0)
    stir: dict = {}
    sweep_arm(stir, "dom", np.sin(ph), p.amplitude * (1 - taste), elev=35, plane=15, elbow=85)
    reach: dict = {}
    hand_to_head(reach, "dom", np.ones_like(ph), "mouth")
    for key, value in stir.items():
        d[key] = (1 - taste) * value + taste * reach[key]
    _stand(d)
    _arm(d, "off", 25, 10, 10, 80)
    d["spine_flex"] = 12 * (1 - taste)
    d["head_nod"] = 30 * (1 - taste)
    return d, True


def _basketball_crossover(ph, p, rng):
    """Dribbling from hand to hand on light footwork."""
    d: dict = {}
    footwork(d, ph, p.amplitude, width=14)
    side = 0.5 + 0.5 * np.sign(np.sin(ph / 2)) * np.abs(np.sin(ph / 2)) ** 0.3
    for who, share in (("dom", side), ("off", 1 - side)):
        strike_arm(d, who, share * pulse(ph, 2.0), p.amplitude, elev=20 + 10 * share)
    d["spine_flex"] = 25
    d["head_nod"] = 5
    return d, True


def _basketball_free_throw(ph, p, rng):
    """Free throws: bounce, set, shoot, wait."""
    d: dict = {}
    shot = pulse(ph, 6.0)
    _stand(d)
    for who in ("dom", "off"):
        _legs(d, who, 10 + 25 * pulse(ph + 0.6, 6.0), 12 + 30 * pulse(ph + 0.6, 6.0))
    _arm(d, "dom", 40 + 120 * shot, 15, 0, 90 - 60 * shot, -30 + 60 * shot)
    _arm(d, "off", 40 + 90 * shot, 40, 0, 90 - 20 * shot)
    d["root_y"] = 0.05 * p.amplitude * pulse(ph - 0.2, 10.0)
    d["head_nod"] = -15 * shot
    return d, True


def _football_jog(ph, p, rng):
    """Jogging with the ball, small touches with alternating feet."""
    d: dict = {}
    walk(d, 1.5 * ph, p.amplitude * 1.2, turn=True)
    d["dom.knee_flex"] = d["dom.knee_flex"] + 20 * pulse(ph, 4.0)
    d["spine_flex"] = 12
    d["head_nod"] = 25
    return d, True


def _football_shot(ph, p, rng):
    """Run-up and a kick: the kicking leg swings far back and through, arms out."""
    d: dict = {}
    swing = np.sin(ph)
    kick = pulse(ph - 0.5, 3.0)
    _legs(d, "off", 15, 20, abd=8)
    d["dom.hip_flex"] = -15 + 70 * p.amplitude * kick
    d["dom.knee_flex"] = 10 + 70 * (1 - kick) * (0.5 + 0.5 * swing)
    _arm(d, "off", 60 + 20 * kick, 80, 0, 20)
    _arm(d, "dom", 40, 60, 0, 30)
    d["spine_twist"] = 15 * kick
    d["spine_flex"] = 10 + 10 * kick
    return d, True


def _tennis_serve(ph, p, rng):
    """Serve: ball toss with the other arm, racket arm overhead, the body uncoiling."""
    d: dict = {}
    hit = pulse(ph, 4.0)
    toss = pulse(ph + 0.8, 3.0)
    _stand(d)
    _arm(d, "off", 40 + 120 * toss, 20, 0, 20)
    _arm(d, "dom", 60 + 110 * hit, 50 - 30 * hit, 30, 120 - 100 * hit, 30 * hit)
    d["spine_flex"] = -15 * toss + 25 * pulse(ph - 0.5, 4.0)
    d["root_y"] = 0.06 * p.amplitude * hit
    return d, True


def _tennis_rally(ph, p, rng):
    """Ready footwork between backhands and forehands."""
    d: dict = {}
    footwork(d, 2 * ph, p.amplitude, width=14, step=0.25)
    swing = np.sin(ph)
    sweep_arm(d, "dom", swing, 1.6 * p.amplitude, elev=55, plane=30, elbow=40)
    _arm(d, "off", 40 - 10 * swing, 20 + 20 * swing, 0, 50)
    d["spine_twist"] = 30 * p.amplitude * swing
    return d, True


def _cycling_standing(ph, p, rng):
    """Out of the saddle: pedalling standing, the bike rocking from side to side."""
    d, grounded = V1_MOTIONS["cycling"].motion(ph, p, rng)
    for who, shift in (("dom", 0.0), ("off", np.pi)):
        d[f"{who}.hip_flex"] = 35 + 25 * p.amplitude * np.sin(ph + shift)
        d[f"{who}.knee_flex"] = np.clip(45 + 35 * p.amplitude * np.sin(ph + shift + 0.3), 10, None)
    d["root_roll"] = 10 * np.sin(ph)
    d["root_y"] = 0.25 + 0.03 * pulse(2 * ph, 2.0)
    d["spine_flex"] = 40
    return d, False


def _cycling_cruise(ph, p, rng):
    """Upright and relaxed on a city bike, one hand now and then off the bar."""
    d, grounded = V1_MOTIONS["cycling"].motion(ph, replace(p, style=0.0, amplitude=0.6 * p.amplitude), rng)
    d["spine_flex"] = 12
    d["head_nod"] = -5
    wave = pulse(ph / 6, 4.0)
    _arm(d, "off", 60 - 40 * wave, 10 + 20 * wave, 10, 25 + 20 * wave)
    return d, False


def _boxing_shadow(ph, p, rng):
    """Shadow boxing: footwork, jabs and crosses at varying rhythm."""
    d: dict = {}
    footwork(d, ph, p.amplitude, width=10, step=0.2)
    punch_arm(d, "off", pulse(ph, 8.0), p.amplitude)
    punch_arm(d, "dom", pulse(ph * 1.5 - 2.0, 8.0), p.amplitude)
    d["spine_twist"] = 15 * p.amplitude * (pulse(ph, 8.0) - pulse(ph * 1.5 - 2.0, 8.0))
    d["head_nod"] = 10
    return d, True


def _boxing_bag(ph, p, rng):
    """Bag work: hooks from both sides with trunk rotation, feet planted."""
    d: dict = {}
    _legs(d, "off", 25, 25, abd=10)
    _legs(d, "dom", 8, 25, abd=10, ankle_extra=15)
    left, right = pulse(ph, 6.0), pulse(ph - np.pi, 6.0)
    punch_arm(d, "off", left, p.amplitude, hook=0.8)
    punch_arm(d, "dom", right, p.amplitude, hook=0.8)
    d["spine_twist"] = 30 * p.amplitude * (left - right)
    d["spine_flex"] = 15
    return d, True


def _dancing_ballet(ph, p, rng):
    """v1's ballet vocabulary (port de bras, relevé, extensions), whatever the video's style."""
    return V1_MOTIONS["dancing"].motion(ph, replace(p, style=0.0), rng)


def _dancing_hiphop(ph, p, rng):
    """Hip-hop: boxer-like footwork with arm pumps and chest hits."""
    d: dict = {}
    footwork(d, ph, 1.2 * p.amplitude, width=14, step=0.3)
    punch_arm(d, "dom", pulse(ph, 4.0), p.amplitude)
    punch_arm(d, "off", pulse(ph - np.pi, 4.0), p.amplitude)
    d["head_nod"] = 15 * p.amplitude * pulse(ph, 2.0)
    d["spine_twist"] = 20 * p.amplitude * np.sin(ph / 2)
    return d, True


def _dancing_shuffle(ph, p, rng):
    """Shuffle: fast running-man steps, arms low and swinging."""
    d: dict = {}
    walk(d, 2 * ph, 1.3 * p.amplitude, arms=True, turn=False)
    d["root_x"] = 0.35 * p.amplitude * np.sin(ph / 3)
    d["root_y"] = 0.03 * p.amplitude * np.abs(np.sin(2 * ph))
    return d, True


def _dancing_arms(ph, p, rng):
    """Upper-body choreography to the camera: hands to the face and head, the phone-and-drink shapes."""
    d: dict = {}
    _stand(d)
    hand_to_head(d, "dom", pulse(ph, 1.5), "hair" if p.style > 0.5 else "ear")
    hand_to_head(d, "off", pulse(ph - np.pi, 1.5), "mouth")
    d["root_x"] = 0.05 * np.sin(ph / 2)
    d["spine_side"] = 8 * p.amplitude * np.sin(ph)
    return d, True


def _guitar_fingerpicking(ph, p, rng):
    """Seated fingerpicking: a small, quick stroke of the right hand, the fretting hand moving slowly."""
    d: dict = {}
    _seated(d)
    sweep_arm(d, "dom", 0.3 * np.sin(2 * ph), p.amplitude, elev=30, plane=-5, elbow=100)
    _arm(d, "off", 45, 35 + 10 * np.sin(ph / 8), 40, 110, -30)
    d["head_turn"] = -20
    d["head_nod"] = 20
    d["spine_flex"] = 15
    return d, False


def _guitar_rock(ph, p, rng):
    """Standing rock strumming: wide down strokes over bouncing feet and a nodding head."""
    d: dict = {}
    footwork(d, ph / 2, 0.6 * p.amplitude, width=14, step=0.05)
    sweep_arm(d, "dom", np.sin(ph), 1.3 * p.amplitude, elev=35, plane=-5, elbow=90)
    _arm(d, "off", 45, 35 + 10 * np.sin(ph / 6), 40, 110, -30)
    d["head_nod"] = 10 + 25 * pulse(ph / 2, 3.0)
    return d, True


def _violin_seated(ph, p, rng):
    """Seated orchestra player: v1's bowing from a chair."""
    d, grounded = V1_MOTIONS["violin"].motion(ph, p, rng)
    _seated(d)
    return d, False


def _violin_fiddle(ph, p, rng):
    """Fiddling: short fast strokes of the bow arm (the guitarist's sweep, higher), tapping foot."""
    d: dict = {}
    _stand(d)
    _arm(d, "off", 50, 25, 0, 70, -10)
    sweep_arm(d, "dom", np.sin(ph), 0.6 * p.amplitude, elev=55, plane=35, elbow=80)
    d["head_tilt"] = -20
    d["head_turn"] = -25
    d["dom.ankle_flex"] = 15 * pulse(ph / 2, 4.0)
    d["root_y"] = 0.01 * pulse(ph / 2, 4.0)
    return d, True


def _drumming_hand(ph, p, rng):
    """Hand drums between the knees: alternating strikes, body rocking."""
    d: dict = {}
    _seated(d, hip=80, knee=70)
    strike_arm(d, "dom", 1 - pulse(ph, 4.0), p.amplitude, elev=15)
    strike_arm(d, "off", 1 - pulse(ph - np.pi, 4.0), p.amplitude, elev=15)
    d["spine_flex"] = 25 + 5 * pulse(ph, 2.0)
    d["head_nod"] = 15
    return d, False


def _drumming_marching(ph, p, rng):
    """A marching drummer: walking with both sticks striking at waist height."""
    d: dict = {}
    walk(d, ph / 2, 0.7 * p.amplitude, arms=False)
    strike_arm(d, "dom", 1 - pulse(ph, 4.0), p.amplitude, elev=30)
    strike_arm(d, "off", 1 - pulse(ph - np.pi, 4.0), p.amplitude, elev=30)
    return d, True


def _piano_chords(ph, p, rng):
    """Hard chords: both hands strike together, the drummer's stroke at the keys."""
    d: dict = {}
    _seated(d, hip=85, knee=80)
    lift = 1 - pulse(ph, 3.0)
    strike_arm(d, "dom", 0.6 * lift, p.amplitude, elev=32)
    strike_arm(d, "off", 0.6 * lift, p.amplitude, elev=32)
    d["spine_flex"] = 15 + 8 * p.amplitude * pulse(ph, 3.0)
    d["head_nod"] = 20 + 10 * pulse(ph, 3.0)
    return d, False


def _piano_keyboard(ph, p, rng):
    """Standing at a keyboard: hands on the keys, bobbing to the beat."""
    d: dict = {}
    footwork(d, ph / 2, 0.4 * p.amplitude, width=10, step=0.02)
    for who, shift in (("dom", 0.0), ("off", 1.5)):
        _arm(d, who, 40, 10 + 15 * p.amplitude * np.sin(ph / 5 + shift), 20, 70, -5 + 8 * pulse(2 * ph + shift, 3.0))
    d["spine_flex"] = 15
    d["head_nod"] = 20 + 10 * pulse(ph / 2, 2.0)
    return d, True


@dataclass(frozen=True)
class Variant:
    """One way of performing a subcategory: its motion, typical cycle rate and the style it suits best."""

    name: str
    motion: Motion
    base_tempo_hz: float
    style_centre: float


def _v1(subcategory: str, style_centre: float = 0.5) -> Variant:
    spec = V1_MOTIONS[subcategory]
    return Variant("v1", spec.motion, spec.base_tempo_hz, style_centre)


VARIANTS: dict[str, tuple[Variant, ...]] = {
    "eating": (_v1("eating", 0.3), Variant("hands", _eating_hands, 0.35, 0.7),
               Variant("bowl", _eating_bowl, 0.6, 0.5), Variant("standing snack", _eating_standing, 0.3, 0.8)),
    "drinking": (_v1("drinking", 0.4), Variant("bottle", _drinking_bottle, 0.2, 0.6),
                 Variant("walking", _drinking_walking, 0.4, 0.7)),
    "phone call": (_v1("phone call", 0.5), Variant("standing", _phone_standing, 0.4, 0.3),
                   Variant("walking", _phone_walking, 0.45, 0.8), Variant("texting", _phone_texting, 0.8, 0.4)),
    "cooking": (_v1("cooking", 0.5), Variant("chopping", _cooking_chopping, 2.0, 0.7),
                Variant("tasting", _cooking_tasting, 0.8, 0.3)),
    "basketball": (_v1("basketball", 0.6), Variant("crossover", _basketball_crossover, 1.6, 0.8),
                   Variant("free throw", _basketball_free_throw, 0.3, 0.2)),
    "football": (_v1("football", 0.5), Variant("jog", _football_jog, 0.8, 0.6),
                 Variant("shot", _football_shot, 0.4, 0.8)),
    "tennis": (_v1("tennis", 0.5), Variant("serve", _tennis_serve, 0.3, 0.6),
               Variant("rally", _tennis_rally, 0.5, 0.7)),
    "cycling": (_v1("cycling", 0.5), Variant("standing", _cycling_standing, 1.2, 0.9),
                Variant("cruise", _cycling_cruise, 0.9, 0.1)),
    "boxing": (_v1("boxing", 0.4), Variant("shadow", _boxing_shadow, 0.9, 0.6),
               Variant("bag", _boxing_bag, 0.8, 0.8)),
    "dancing": (Variant("ballet", _dancing_ballet, 0.7, 0.1), Variant("hip-hop", _dancing_hiphop, 1.1, 0.8),
                Variant("shuffle", _dancing_shuffle, 0.9, 0.9), Variant("arms", _dancing_arms, 0.8, 0.5)),
    "guitar": (_v1("guitar", 0.5), Variant("fingerpicking", _guitar_fingerpicking, 1.2, 0.15),
               Variant("rock", _guitar_rock, 2.0, 0.9)),
    "violin": (_v1("violin", 0.5), Variant("seated", _violin_seated, 0.5, 0.2),
               Variant("fiddle", _violin_fiddle, 1.6, 0.85)),
    "drumming": (_v1("drumming", 0.6), Variant("hand drums", _drumming_hand, 2.0, 0.4),
                 Variant("marching", _drumming_marching, 1.6, 0.7)),
    "piano": (_v1("piano", 0.4), Variant("chords", _piano_chords, 0.9, 0.7),
              Variant("keyboard", _piano_keyboard, 1.4, 0.8)),
}  # fmt: skip
assert tuple(VARIANTS) == SUBCATEGORIES


def _idle_still(ph, p, rng):
    """Standing or sitting still, breathing, the weight moving a little."""
    d: dict = {}
    d["spine_flex"] = 2 + 1.5 * np.sin(ph)
    d["root_x"] = 0.02 * np.sin(ph / 3)
    return d, True


def _idle_adjust(ph, p, rng):
    """Adjusting: a hand to the hair or face (the drinking and phone primitive), then back."""
    d: dict = {}
    hand_to_head(d, "dom", pulse(ph, 3.0), "hair" if rng.random() < 0.5 else "mouth")
    return d, True


def _idle_walk(ph, p, rng):
    """Walking into or out of the picture, or to another spot."""
    d: dict = {}
    walk(d, ph, 0.9)
    return d, True


# name -> (motion, cycle rate in Hz); idle stretches of seated variants keep the legs seated (poses.py).
IDLE_MOTIONS: dict[str, tuple[Motion, float]] = {
    "still": (_idle_still, 0.25),
    "adjust": (_idle_adjust, 0.35),
    "walk": (_idle_walk, 0.45),
}


def variant_weights(subcategory: str, style: float, spread: float = 0.35) -> np.ndarray:
    """Probability of each of the subcategory's variants for a video of ``style`` (all stay possible)."""
    centres = np.array([v.style_centre for v in VARIANTS[subcategory]])
    weights = np.exp(-0.5 * ((style - centres) / spread) ** 2) + 0.15
    return weights / weights.sum()


def sample_params(style: float, rng: np.random.Generator, dominant: str) -> MotionParams:
    """Per-bout tempo multiplier (stored as ``tempo_hz`` around 1) and amplitude: style-dependent means,
    wider spreads than v1 (log-sd 0.2 and 0.15 vs 0.07 and 0.06), so style shows less cleanly."""
    tempo = 2.0 ** (0.8 * (style - 0.5)) * float(np.exp(rng.normal(0.0, 0.2)))
    amplitude = float(np.clip((0.72 + 0.55 * style) * np.exp(rng.normal(0.0, 0.15)), 0.45, 1.5))
    return MotionParams(style=style, tempo_hz=tempo, amplitude=amplitude, dominant=dominant)
