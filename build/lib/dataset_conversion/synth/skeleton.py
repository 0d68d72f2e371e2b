"""A BlazePose-topology 3D skeleton: body proportions, joint limits, forward kinematics, camera.

World frame (metres): x to the subject's left when it faces the camera, y up, z forward (the way
the subject faces at zero yaw). Joint angles are in degrees and follow these conventions:

* ``shoulder_elev`` raises the arm from hanging (0) to overhead (180) in the plane given by
  ``shoulder_plane`` (0 = straight forward, 90 = sideways, negative = across the body);
  ``shoulder_twist`` is internal rotation of the upper arm.
* ``elbow_flex``, ``wrist_flex``, ``hip_flex``, ``knee_flex`` are flexions (0 = straight);
  ``hip_abd`` moves the leg outwards, ``hip_rot`` turns it outwards, ``ankle_flex`` points the toes.
* Trunk and head angles: ``spine_flex``/``head_nod`` bend forward / look down; ``spine_side``,
  ``spine_twist``, ``head_turn``, ``head_tilt`` and ``root_yaw``, ``root_roll`` are positive towards
  the subject's left. ``root_x``/``root_y``/``root_z`` translate the pelvis (``root_y`` is a jump or
  bounce above the support).

All functions work on whole sequences: every angle is an array of shape (T,).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..layout import NUM_LANDMARKS

LANDMARK_NAMES: tuple[str, ...] = (
    "nose",
    "left_eye_inner", "left_eye", "left_eye_outer",
    "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear",
    "mouth_left", "mouth_right",
    "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow",
    "left_wrist", "right_wrist",
    "left_pinky", "right_pinky",
    "left_index", "right_index",
    "left_thumb", "right_thumb",
    "left_hip", "right_hip",
    "left_knee", "right_knee",
    "left_ankle", "right_ankle",
    "left_heel", "right_heel",
    "left_foot_index", "right_foot_index",
)  # fmt: skip
LANDMARK = {name: i for i, name in enumerate(LANDMARK_NAMES)}
assert len(LANDMARK_NAMES) == NUM_LANDMARKS

# Rigid bones whose length must not change within a video (landmark index pairs).
BONES: dict[str, tuple[int, int]] = {
    "left_upper_arm": (11, 13), "right_upper_arm": (12, 14),
    "left_forearm": (13, 15), "right_forearm": (14, 16),
    "left_thigh": (23, 25), "right_thigh": (24, 26),
    "left_shank": (25, 27), "right_shank": (26, 28),
    "shoulders": (11, 12), "hips": (23, 24),
}  # fmt: skip

SIDES = ("left", "right")
SIDE_SIGN = {"left": 1.0, "right": -1.0}  # the sign of x on that side of the body
LIMB_DOFS = (
    "shoulder_elev", "shoulder_plane", "shoulder_twist", "elbow_flex", "wrist_flex",
    "hip_flex", "hip_abd", "hip_rot", "knee_flex", "ankle_flex",
)  # fmt: skip
AXIAL_DOFS = ("spine_flex", "spine_side", "spine_twist", "head_nod", "head_turn", "head_tilt", "root_yaw", "root_roll")
ROOT_TRANSLATION = ("root_x", "root_y", "root_z")
# Axial angles and root_x whose sign means "towards the subject's left" (mirrored for left-handers).
LATERAL_DOFS = ("spine_side", "spine_twist", "head_turn", "head_tilt", "root_yaw", "root_roll", "root_x")
DOF_NAMES: tuple[str, ...] = (
    tuple(f"{side}.{dof}" for side in SIDES for dof in LIMB_DOFS) + AXIAL_DOFS + ROOT_TRANSLATION
)

# Active range of motion in degrees (textbook ranges, slightly conservative).
JOINT_LIMITS: dict[str, tuple[float, float]] = {
    "shoulder_elev": (0.0, 175.0),
    "shoulder_plane": (-45.0, 130.0),
    "shoulder_twist": (-70.0, 80.0),
    "elbow_flex": (0.0, 150.0),
    "wrist_flex": (-60.0, 75.0),
    "hip_flex": (-20.0, 125.0),
    "hip_abd": (-20.0, 45.0),
    "hip_rot": (-35.0, 45.0),
    "knee_flex": (0.0, 145.0),
    "ankle_flex": (-30.0, 45.0),
    "spine_flex": (-25.0, 75.0),
    "spine_side": (-30.0, 30.0),
    "spine_twist": (-45.0, 45.0),
    "head_nod": (-50.0, 55.0),
    "head_turn": (-70.0, 70.0),
    "head_tilt": (-35.0, 35.0),
}


def joint_limit(dof: str) -> tuple[float, float] | None:
    """Range of motion of a DOF name such as ``left.elbow_flex`` or ``spine_flex`` (None for root DOFs)."""
    return JOINT_LIMITS.get(dof.split(".")[-1])


def clip_to_limits(dofs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A copy of ``dofs`` with every joint angle clipped into its range of motion."""
    clipped = {}
    for name, values in dofs.items():
        limit = joint_limit(name)
        clipped[name] = np.clip(values, *limit) if limit is not None else values
    return clipped


@dataclass(frozen=True)
class Body:
    """Segment lengths of one person in metres (left and right are symmetric)."""

    height: float
    torso: float  # hip midpoint to shoulder midpoint
    shoulder_half_width: float
    hip_half_width: float
    upper_arm: float
    forearm: float
    thigh: float
    shank: float
    ankle_height: float
    heel_back: float
    foot_forward: float
    neck: float  # shoulder midpoint to head centre


# Segment lengths as fractions of standing height (after Winter's anthropometric tables, adjusted to
# where BlazePose puts its landmarks).
_PROPORTIONS = {
    "torso": 0.300,
    "shoulder_half_width": 0.115,
    "hip_half_width": 0.075,
    "upper_arm": 0.172,
    "forearm": 0.157,
    "thigh": 0.245,
    "shank": 0.246,
    "ankle_height": 0.039,
    "heel_back": 0.035,
    "foot_forward": 0.110,
    "neck": 0.100,
}

# Face and hand landmarks in their segment's frame, as fractions of height.
_FACE_POINTS = {
    "nose": (0.0, 0.0, 0.058),
    "left_eye_inner": (0.010, 0.018, 0.051),
    "left_eye": (0.019, 0.019, 0.049),
    "left_eye_outer": (0.028, 0.018, 0.045),
    "left_ear": (0.044, 0.004, -0.004),
    "mouth_left": (0.014, -0.024, 0.050),
}
_HAND_POINTS = {  # in the hand frame, hand pointing down (-y), thumb forward (+z)
    "pinky": (0.0, -0.047, -0.014),
    "index": (0.0, -0.052, 0.012),
    "thumb": (0.0, -0.030, 0.020),
}


def sample_body(rng: np.random.Generator) -> Body:
    """A random adult: height ~ N(1.70 m, 0.09 m) and each segment within a few percent of average."""
    height = float(np.clip(rng.normal(1.70, 0.09), 1.45, 1.98))
    lengths = {name: height * fraction * float(np.exp(rng.normal(0.0, 0.03))) for name, fraction in _PROPORTIONS.items()}
    return Body(height=height, **lengths)


def _axis_rotation(angle_deg: np.ndarray, axis: int) -> np.ndarray:
    """(T, 3, 3) rotation matrices about world axis 0 (x), 1 (y) or 2 (z), angles in degrees."""
    angle = np.radians(np.asarray(angle_deg, dtype=float))
    c, s = np.cos(angle), np.sin(angle)
    one, zero = np.ones_like(angle), np.zeros_like(angle)
    if axis == 0:
        rows = ((one, zero, zero), (zero, c, -s), (zero, s, c))
    elif axis == 1:
        rows = ((c, zero, s), (zero, one, zero), (-s, zero, c))
    else:
        rows = ((c, -s, zero), (s, c, zero), (zero, zero, one))
    return np.stack([np.stack(row, axis=-1) for row in rows], axis=-2)


def rot_x(angle_deg):
    """Rotation about x; positive turns +y towards +z."""
    return _axis_rotation(angle_deg, 0)


def rot_y(angle_deg):
    """Rotation about y; positive turns +z towards +x."""
    return _axis_rotation(angle_deg, 1)


def rot_z(angle_deg):
    """Rotation about z; positive turns +x towards +y."""
    return _axis_rotation(angle_deg, 2)


def _apply(rotation: np.ndarray, offset) -> np.ndarray:
    """Rotate a fixed local offset (3,) by per-frame rotations (T, 3, 3) -> (T, 3)."""
    return rotation @ np.asarray(offset, dtype=float)


def forward_kinematics(dofs: dict[str, np.ndarray], body: Body, grounded: bool) -> np.ndarray:
    """World positions (T, 33, 3) of the BlazePose landmarks for a sequence of joint angles.

    ``dofs`` must hold every name in ``DOF_NAMES``. With ``grounded`` the body stands: each frame
    is lifted so that its lowest foot landmark touches the floor (y = 0), plus ``root_y``. Otherwise
    the pelvis stays at the height of ``root_y`` (sitting on a seat or saddle).
    """
    missing = [name for name in DOF_NAMES if name not in dofs]
    if missing:
        raise KeyError(f"missing joint angles: {missing}")
    n_frames = len(dofs["spine_flex"])
    h = body.height
    points = np.zeros((n_frames, len(LANDMARK_NAMES), 3))

    root_rotation = rot_y(dofs["root_yaw"]) @ rot_z(-dofs["root_roll"])
    pelvis = np.zeros((n_frames, 3))
    chest = root_rotation @ rot_y(dofs["spine_twist"]) @ rot_x(dofs["spine_flex"]) @ rot_z(-dofs["spine_side"])
    neck_base = pelvis + _apply(chest, (0.0, body.torso, 0.0))
    head = chest @ rot_y(dofs["head_turn"]) @ rot_x(dofs["head_nod"]) @ rot_z(-dofs["head_tilt"])
    head_centre = neck_base + _apply(head, (0.0, body.neck, 0.0))
    for name, (x, y, z) in _FACE_POINTS.items():
        points[:, LANDMARK[name]] = head_centre + _apply(head, (x * h, y * h, z * h))
        mirrored = name.replace("left", "right")
        if mirrored != name:
            points[:, LANDMARK[mirrored]] = head_centre + _apply(head, (-x * h, y * h, z * h))

    for side in SIDES:
        sign = SIDE_SIGN[side]

        def angle(dof: str) -> np.ndarray:
            return dofs[f"{side}.{dof}"]

        shoulder = pelvis + _apply(chest, (sign * body.shoulder_half_width, body.torso, 0.0))
        plane = sign * angle("shoulder_plane")
        # Swing the arm in its plane of elevation, then undo the plane turn so that the arm's own
        # frame is not twisted by the choice of plane (the elbow hinge stays "natural").
        upper_arm = chest @ rot_y(plane) @ rot_x(-angle("shoulder_elev")) @ rot_y(-plane) @ rot_y(-sign * angle("shoulder_twist"))
        elbow = shoulder + _apply(upper_arm, (0.0, -body.upper_arm, 0.0))
        forearm = upper_arm @ rot_x(-angle("elbow_flex"))
        wrist = elbow + _apply(forearm, (0.0, -body.forearm, 0.0))
        hand = forearm @ rot_x(-angle("wrist_flex"))
        points[:, LANDMARK[f"{side}_shoulder"]] = shoulder
        points[:, LANDMARK[f"{side}_elbow"]] = elbow
        points[:, LANDMARK[f"{side}_wrist"]] = wrist
        for name, (x, y, z) in _HAND_POINTS.items():
            points[:, LANDMARK[f"{side}_{name}"]] = wrist + _apply(hand, (x * h, y * h, z * h))

        hip = pelvis + _apply(root_rotation, (sign * body.hip_half_width, 0.0, 0.0))
        thigh = root_rotation @ rot_z(sign * angle("hip_abd")) @ rot_x(-angle("hip_flex")) @ rot_y(sign * angle("hip_rot"))
        knee = hip + _apply(thigh, (0.0, -body.thigh, 0.0))
        shank = thigh @ rot_x(angle("knee_flex"))
        ankle = knee + _apply(shank, (0.0, -body.shank, 0.0))
        foot = shank @ rot_x(angle("ankle_flex"))
        points[:, LANDMARK[f"{side}_hip"]] = hip
        points[:, LANDMARK[f"{side}_knee"]] = knee
        points[:, LANDMARK[f"{side}_ankle"]] = ankle
        points[:, LANDMARK[f"{side}_heel"]] = ankle + _apply(foot, (0.0, -body.ankle_height, -body.heel_back))
        points[:, LANDMARK[f"{side}_foot_index"]] = ankle + _apply(foot, (0.0, -body.ankle_height, body.foot_forward))

    feet = [LANDMARK[f"{side}_{part}"] for side in SIDES for part in ("ankle", "heel", "foot_index")]
    lift = -points[:, feet, 1].min(axis=1) if grounded else np.zeros(n_frames)
    translation = np.stack([dofs["root_x"], dofs["root_y"] + lift, dofs["root_z"]], axis=-1)
    return points + translation[:, None, :]


@dataclass(frozen=True)
class Camera:
    """A static pinhole camera looking at the subject, plus how the subject is framed.

    ``yaw`` turns the camera around the subject (0 = in front, 90 = at the subject's left);
    ``elevation`` raises it above the look-at point. ``fill`` is the fraction of the frame height
    the subject's bounding box (over the whole video) occupies; ``centre_x``/``centre_y`` place that
    box's centre as a fraction of the free margin (0 = touching the left/top edge, 1 = right/bottom).
    """

    yaw: float
    elevation: float
    roll: float
    distance: float
    fill: float
    centre_x: float
    centre_y: float
    aspect: float = 9.0 / 16.0  # frame width / height: portrait micro-videos


def sample_camera(rng: np.random.Generator) -> Camera:
    """A random phone-camera set-up: mostly frontal, 2-5 m away, subject anywhere in the frame."""
    return Camera(
        yaw=float(rng.uniform(-55.0, 55.0)),
        elevation=float(rng.uniform(-5.0, 20.0)),
        roll=float(rng.normal(0.0, 1.5)),
        distance=float(rng.uniform(2.2, 5.0)),
        fill=float(rng.uniform(0.55, 0.85)),
        centre_x=float(rng.uniform(0.2, 0.8)),
        centre_y=float(rng.uniform(0.3, 0.7)),
    )


def project(points: np.ndarray, camera: Camera) -> np.ndarray:
    """MediaPipe-style normalized coordinates (T, 33, 3) of world points (T, 33, 3).

    x and y are image coordinates divided by the frame width and height (y downwards); z is the
    depth relative to the hip midpoint of the same frame, negative towards the camera, on the scale
    of x (MediaPipe's ``pose_landmarks`` convention).
    """
    lower, upper = points.reshape(-1, 3).min(axis=0), points.reshape(-1, 3).max(axis=0)
    target = (lower + upper) / 2.0
    yaw, elevation = np.radians(camera.yaw), np.radians(camera.elevation)
    direction = np.array([np.sin(yaw) * np.cos(elevation), np.sin(elevation), np.cos(yaw) * np.cos(elevation)])
    position = target + camera.distance * direction
    forward = -direction
    right = np.cross(forward, [0.0, 1.0, 0.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    roll = np.radians(camera.roll)
    right, up = np.cos(roll) * right + np.sin(roll) * up, np.cos(roll) * up - np.sin(roll) * right

    relative = points - position
    depth = relative @ forward
    a = (relative @ right) / depth  # tan of the horizontal angle
    b = (relative @ up) / depth

    # Focal length (in units of the frame height) so that the subject fills `fill` of the height,
    # shrunk if the subject would then be too wide for the portrait frame.
    focal_y = camera.fill / max(np.ptp(b), 1e-6)
    focal_y = min(focal_y, 0.92 * camera.aspect / max(np.ptp(a), 1e-6))
    focal_x = focal_y / camera.aspect
    x = focal_x * a
    y = -focal_y * b
    x_offset = -x.min() + camera.centre_x * (1.0 - np.ptp(x))
    y_offset = -y.min() + camera.centre_y * (1.0 - np.ptp(y))

    hips = [LANDMARK["left_hip"], LANDMARK["right_hip"]]
    hip_depth = depth[:, hips].mean(axis=1, keepdims=True)
    z = focal_x * (depth - hip_depth) / hip_depth
    return np.stack([x + x_offset, y + y_offset, z], axis=-1)
