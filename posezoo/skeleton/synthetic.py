"""Detector-style 3D keypoints made from H36M-17 poses (the forward model behind the fitted conversions).

The CMU motion capture has only the 17 H36M joints, so a detector's joints
(nose tip, eyes, ears, hips as annotators mark them, toes, fingers, face
landmarks) cannot be observed in it. :func:`synthesize_keypoints` places each
one at a documented anatomical offset from the H36M joints; projecting both
through virtual cameras gives the pairs on which
``tools/fit_keypoint_conversions.py`` fits the detector -> H36M rules.

Body frames (computed per pose from the H36M joints, so any 3D frame works):

* **torso**: ``up`` = pelvis -> thorax, ``left`` = the subject's left (from the
  shoulder and hip lines), ``forward`` = ``left x up``.
* **head**: the H36M ``nose`` joint N of this data is the midpoint of the skull
  base and the eye centres (``datasets/cmu_mocap17/meta.json``), so it lies
  ~3.75 cm in front of the skull-base -> vertex line; the head's own up axis is
  therefore the N -> head_top direction tilted ``HEAD_TILT_DEG`` forward.
  ``left`` is the shoulder line made perpendicular to it (head yaw relative to
  the torso is not in the 17 joints, so the face follows the torso).

Offsets (metres; adult of the data's size, 1.78 m): eye centres 3.75 cm in front
of and 2.25 cm above N (by the definition of N), pupils 1.2 cm further forward,
interpupillary distance 6.4 cm; nose tip 2 cm in front of the pupils and 4.5 cm
below them; ear canals 9.5 cm behind the pupils, 1.45 cm below them, head
breadth 14.6 cm; mouth corners 3.75 cm below the nose tip, 5 cm apart. A
detector's hip keypoints lie 15 % further from the pelvis than the H36M hip
joint centres (issue #16: detector hips ~15 % wider). Shoulders, elbows,
wrists, knees and ankles are the H36M joints. OpenPose's ``neck`` and
``mid_hip`` are the means of its shoulders and hips (as in its training
labels); Halpe's ``neck`` is the H36M thorax (base of the neck), its ``head`` the
H36M head top, its ``hip`` the pelvis. Feet, hands and the 68 face landmarks
are rough templates (for tests and demos; no conversion uses them).
"""

from __future__ import annotations

from typing import Union

import numpy as np
import torch

from .._validation import check_real_array
from ._core import Skeleton, get_skeleton
from .layouts import H36M_17

__all__ = ["synthesize_keypoints", "SUPPORTED_LAYOUTS", "HEAD_TILT_DEG", "DETECTOR_HIP_SCALE", "HEAD_OFFSETS"]

#: layouts :func:`synthesize_keypoints` can make
SUPPORTED_LAYOUTS = ("h36m", "uplift_upsample", "coco", "halpe26", "coco_wholebody", "mediapipe33", "openpose25")

#: N lies 3.75 cm in front of the skull-base -> vertex line, 16 cm below the vertex: atan(3.75 / 16).
HEAD_TILT_DEG = float(np.degrees(np.arctan2(0.0375, 0.16)))
#: detector hip keypoint = pelvis + DETECTOR_HIP_SCALE * (H36M hip - pelvis)
DETECTOR_HIP_SCALE = 1.15

#: ``(forward, up, left)`` offsets from the H36M nose joint in the head frame, metres.
HEAD_OFFSETS: dict[str, tuple[float, float, float]] = {
    "nose": (0.0695, -0.0225, 0.0),
    "left_eye": (0.0495, 0.0225, 0.032),
    "left_eye_inner": (0.0445, 0.0225, 0.016),
    "left_eye_outer": (0.0345, 0.0225, 0.048),
    "left_ear": (-0.0455, 0.008, 0.073),
    "mouth_left": (0.0545, -0.06, 0.025),
}


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def _frames(p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    up = _unit(p["thorax"] - p["pelvis"])
    side = (p["left_shoulder"] - p["right_shoulder"]) + (p["left_hip"] - p["right_hip"])
    left = _unit(side - up * np.sum(side * up, -1, keepdims=True))
    forward = np.cross(left, up)
    hu = _unit(p["head_top"] - p["nose"])  # N -> head top
    sh = p["left_shoulder"] - p["right_shoulder"]
    hl = _unit(sh - hu * np.sum(sh * hu, -1, keepdims=True))
    hf = np.cross(hl, hu)
    t = np.radians(HEAD_TILT_DEG)
    head_up = np.cos(t) * hu + np.sin(t) * hf
    head_fwd = np.cos(t) * hf - np.sin(t) * hu
    return {"up": up, "left": left, "forward": forward, "head_up": head_up, "head_fwd": head_fwd, "head_left": hl}


def _head_point(p, f, fwd: float, up: float, left: float) -> np.ndarray:
    return p["nose"] + fwd * f["head_fwd"] + up * f["head_up"] + left * f["head_left"]


def _face68(p, f) -> list[np.ndarray]:
    """A rough 68-landmark face (iBUG 300-W order) in the head frame."""
    pts: list[tuple[float, float, float]] = []
    for k in range(17):  # jaw, subject's right (k < 8) to left
        t = (k - 8) / 8
        pts.append((0.045 - 0.08 * t * t, -0.085 + 0.085 * t * t, 0.068 * t))
    for side in (-1, 1):  # brows: right (17-21, outer to inner), left (22-26, inner to outer)
        ks = range(5) if side < 0 else range(4, -1, -1)
        pts += [(0.05, 0.05 + 0.006 * (k in (1, 2, 3)), side * (0.055 - 0.01 * k)) for k in ks]
    pts += [(0.05 + 0.006 * k, 0.02 - 0.012 * k, 0.0) for k in range(4)]  # nose bridge
    pts += [(0.06, -0.03, 0.015 * (k - 2) / 2) for k in range(5)]  # nostrils, right to left
    lid = (0.0, 0.004, 0.004, 0.0, -0.004, -0.004)  # eyes: corner, upper lid x2, corner, lower lid x2
    pts += [(0.047, 0.0225 + u, z) for u, z in zip(lid, (-0.046, -0.039, -0.025, -0.018, -0.025, -0.039))]
    pts += [(0.047, 0.0225 + u, z) for u, z in zip(lid, (0.018, 0.025, 0.039, 0.046, 0.039, 0.025))]
    for k in range(12):  # outer lips, from the right corner over the top and back
        a = np.pi * (1 - k / 6)
        pts.append((0.055, -0.06 + 0.012 * np.sin(a), 0.025 * np.cos(a)))
    for k in range(8):  # inner lips
        a = np.pi * (1 - k / 4)
        pts.append((0.057, -0.06 + 0.005 * np.sin(a), 0.018 * np.cos(a)))
    return [_head_point(p, f, *o) for o in pts]


def _hand(p, f, side: str, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Wrist, then a flat hand along the forearm: MCP 9 cm, finger joints at 13 / 15.5 / 17.5 cm."""
    wrist = p[f"{side}_wrist"]
    h = _unit(wrist - p[f"{side}_elbow"])
    across = _unit(np.cross(h, f["up"]))  # palm width direction
    sign = 1.0 if side == "left" else -1.0
    out = {f"{side}_hand_root": wrist}
    spread = {
        "thumb": 0.035,
        "forefinger": 0.025,
        "middle_finger": 0.005,
        "ring_finger": -0.015,
        "pinky_finger": -0.032,
    }
    reach = {"thumb": (0.03, 0.055, 0.075, 0.095)}
    for finger, s in spread.items():
        for k, r in enumerate(reach.get(finger, (0.09, 0.13, 0.155, 0.175)), 1):
            out[f"{side}_{finger}{k}"] = wrist + r * h + sign * s * across
    out[f"{side}_pinky"] = out[f"{side}_pinky_finger1"]
    out[f"{side}_index"] = out[f"{side}_forefinger1"]
    out[f"{side}_thumb"] = out[f"{side}_thumb3"]
    return {k: v for k, v in out.items() if k in names}


def _foot(p, f, side: str) -> dict[str, np.ndarray]:
    ankle = p[f"{side}_ankle"]
    down = _unit(ankle - p[f"{side}_knee"])
    out_dir = f["left"] if side == "left" else -f["left"]
    fwd = f["forward"]
    return {
        f"{side}_heel": ankle + 0.045 * down - 0.055 * fwd,
        f"{side}_big_toe": ankle + 0.075 * down + 0.17 * fwd - 0.01 * out_dir,
        f"{side}_small_toe": ankle + 0.075 * down + 0.14 * fwd + 0.035 * out_dir,
        f"{side}_foot_index": ankle + 0.075 * down + 0.17 * fwd,
    }


def synthesize_keypoints(poses_h36m: np.ndarray, layout: Union[str, Skeleton]) -> np.ndarray:
    """Detector-style keypoints of ``layout`` placed around H36M-17 poses.

    Args:
        poses_h36m: ``(..., 17, 3)`` H36M-17 joints in metres, any 3D frame
            (world or camera): a numpy array or CPU tensor of real numbers
            (``TypeError`` otherwise); NaN/inf raise ``ValueError``.
        layout: a layout name (``"coco"``, ``"halpe26"``, ``"coco_wholebody"``,
            ``"mediapipe33"``, ``"openpose25"``, ``"h36m"``) or Skeleton.

    Returns:
        ``(..., J_layout, 3)`` float64 points in the same frame; project them with
        the camera of the poses to get the 2D keypoints a detector would report
        under this module's anatomical model (see the module docstring).
    """
    skel = get_skeleton(layout)
    if skel.name not in SUPPORTED_LAYOUTS:
        raise ValueError(f"synthesize_keypoints supports {', '.join(SUPPORTED_LAYOUTS)}; got {skel.name!r}")
    check_real_array("poses_h36m", poses_h36m)
    x = np.asarray(poses_h36m.detach().cpu() if isinstance(poses_h36m, torch.Tensor) else poses_h36m, dtype=np.float64)
    if x.ndim < 2 or x.shape[-2:] != (17, 3):
        raise ValueError(f"poses_h36m must have shape (..., 17, 3), got {x.shape}")
    p = {n: x[..., i, :] for i, n in enumerate(H36M_17.joint_names)}
    f = _frames(p)
    pts: dict[str, np.ndarray] = {n: p[n] for n in H36M_17.joint_names if "hip" not in n}
    for side in ("left", "right"):
        pts[f"{side}_hip"] = p["pelvis"] + DETECTOR_HIP_SCALE * (p[f"{side}_hip"] - p["pelvis"])
        pts.update(_foot(p, f, side))
        pts.update(_hand(p, f, side, skel.joint_names))
    for name, (fwd, up, left) in HEAD_OFFSETS.items():
        pts[name] = _head_point(p, f, fwd, up, left)
        if name != "nose":
            right = name.replace("left", "right")
            pts[right] = _head_point(p, f, fwd, up, -left)
    pts["head_top"] = p["head_top"]
    pts["head"] = p["head_top"]  # Halpe: top of the head
    pts["hip"] = pts["mid_hip"] = p["pelvis"]  # mean of the detector hips
    pts["neck"] = p["thorax"]  # Halpe: base of the neck
    if skel.name == "openpose25":
        pts["neck"] = (pts["left_shoulder"] + pts["right_shoulder"]) / 2
    if any(n.startswith("face_") for n in skel.joint_names):
        from .detector_layouts import COCO_WHOLEBODY_133

        face = [n for n in COCO_WHOLEBODY_133.joint_names if n.startswith("face_")]
        pts.update(zip(face, _face68(p, f)))
    missing = [n for n in skel.joint_names if n not in pts]
    if missing:
        raise ValueError(f"no anatomical model for {skel.name} joints {', '.join(missing)}")
    return np.stack([pts[n] for n in skel.joint_names], axis=-2)
