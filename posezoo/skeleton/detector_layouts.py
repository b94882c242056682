"""Keypoint layouts of 2D detectors: Halpe-26, COCO-WholeBody-133, MediaPipe-33 (BlazePose), OpenPose BODY_25.

Joint names follow one convention across layouts so that conversions can refer
to joints by name: ``left_*`` / ``right_*`` are the **subject's** own sides,
limb joints share the H36M names (``left_shoulder``, ``right_knee``, ...).
Left/right flip pairs are derived from the names (``left`` <-> ``right``).
The kinematic trees (``parents``) are for drawing; each layout's ``root`` is
the tree's root, not a pose origin.

Index orders are the detectors' own:

* ``halpe26`` (AlphaPose, RTMPose-Halpe): COCO-17, then ``head`` (top of the
  head), ``neck``, ``hip`` (between the hips), big toes, small toes, heels.
* ``coco_wholebody`` (RTMW, DWPose; 133): COCO-17, 6 foot points, 68 face
  landmarks (the iBUG 300-W order), 21 left-hand and 21 right-hand points.
* ``mediapipe33`` (BlazePose / MediaPipe Pose landmarks).
* ``openpose25`` (OpenPose BODY_25).
"""

from __future__ import annotations

from typing import Mapping, Sequence

from ._core import Skeleton, register_skeleton
from .layouts import COCO_17

__all__ = ["HALPE_26", "COCO_WHOLEBODY_133", "MEDIAPIPE_33", "OPENPOSE_25", "make_skeleton"]


def make_skeleton(name: str, joint_names: Sequence[str], parents: Mapping[str, str], root: str) -> Skeleton:
    """A :class:`Skeleton` from joint names, a ``child -> parent`` name map and the root's name.

    Flip pairs are every ``left*`` name whose ``left -> right`` counterpart exists.
    Every joint but the root needs a parent.
    """
    names = tuple(joint_names)
    index = {n: i for i, n in enumerate(names)}
    missing = [n for n in names if n != root and n not in parents]
    if missing:
        raise ValueError(f"{name}: no parent given for {', '.join(missing)}")
    parent_idx = tuple(-1 if n == root else index[parents[n]] for n in names)
    left = tuple(i for i, n in enumerate(names) if "left" in n and n.replace("left", "right") in index)
    right = tuple(index[names[i].replace("left", "right")] for i in left)
    return Skeleton(name=name, joint_names=names, parents=parent_idx, left=left, right=right, root=index[root])


def _sided(pairs: Mapping[str, str]) -> dict[str, str]:
    """``{"left_x": "left_y"}`` -> the same for both sides."""
    out: dict[str, str] = {}
    for child, parent in pairs.items():
        for side in ("left", "right"):
            out[child.replace("left", side)] = parent.replace("left", side)
    return out


_COCO_BODY_PARENTS = dict(zip(COCO_17.joint_names, (COCO_17.joint_names[p] if p >= 0 else "" for p in COCO_17.parents)))
del _COCO_BODY_PARENTS["nose"]
_FEET = ("big_toe", "small_toe", "heel")

# ----------------------------------------------------------------------------- Halpe-26

HALPE_26 = make_skeleton(
    "halpe26",
    COCO_17.joint_names
    + (
        "head",
        "neck",
        "hip",
        "left_big_toe",
        "right_big_toe",
        "left_small_toe",
        "right_small_toe",
        "left_heel",
        "right_heel",
    ),
    parents={
        "neck": "hip",
        "nose": "neck",
        "head": "nose",
        **_sided(
            {
                "left_eye": "nose",
                "left_ear": "left_eye",
                "left_shoulder": "neck",
                "left_elbow": "left_shoulder",
                "left_wrist": "left_elbow",
                "left_hip": "hip",
                "left_knee": "left_hip",
                "left_ankle": "left_knee",
                **{f"left_{f}": "left_ankle" for f in _FEET},
            }
        ),
    },
    root="hip",
)

# ----------------------------------------------------------------------------- COCO-WholeBody-133


def _face68_names() -> tuple[str, ...]:
    """The 68 iBUG 300-W landmarks, named by region; ``right`` = the subject's right (low indices)."""
    names = [""] * 68

    def pair(region: str, right_left: Sequence[tuple[int, int]]) -> None:
        for k, (r, left) in enumerate(right_left, 1):
            names[r], names[left] = f"face_right_{region}_{k}", f"face_left_{region}_{k}"

    pair("jaw", [(i, 16 - i) for i in range(8)])
    names[8] = "face_chin"
    pair("brow", [(17 + k, 26 - k) for k in range(5)])
    for k in range(4):
        names[27 + k] = f"face_nose_bridge_{k + 1}"
    pair("nostril", [(31, 35), (32, 34)])
    names[33] = "face_nose_base"
    pair("eye", [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)])
    pair("lip_outer", [(48, 54), (49, 53), (50, 52), (59, 55), (58, 56)])
    names[51], names[57] = "face_lip_outer_top", "face_lip_outer_bottom"
    pair("lip_inner", [(60, 64), (61, 63), (67, 65)])
    names[62], names[66] = "face_lip_inner_top", "face_lip_inner_bottom"
    assert all(names)
    return tuple(names)


_FINGERS = ("thumb", "forefinger", "middle_finger", "ring_finger", "pinky_finger")


def _hand_names(side: str) -> tuple[str, ...]:
    return (f"{side}_hand_root",) + tuple(f"{side}_{f}{k}" for f in _FINGERS for k in range(1, 5))


def _wholebody_parents(face: Sequence[str]) -> dict[str, str]:
    parents = dict(_COCO_BODY_PARENTS)
    parents.update(_sided({f"left_{f}": "left_ankle" for f in _FEET}))
    # face: each region a chain hanging from the nose (for drawing only)
    chains = [
        list(range(0, 17)),
        list(range(17, 22)),
        list(range(22, 27)),
        list(range(27, 31)),
        list(range(31, 36)),
        list(range(36, 42)),
        list(range(42, 48)),
        list(range(48, 60)),
        list(range(60, 68)),
    ]
    for chain in chains:
        parents[face[chain[0]]] = "nose"
        for a, b in zip(chain, chain[1:]):
            parents[face[b]] = face[a]
    for side in ("left", "right"):
        parents[f"{side}_hand_root"] = f"{side}_wrist"
        for f in _FINGERS:
            parents[f"{side}_{f}1"] = f"{side}_hand_root"
            for k in range(2, 5):
                parents[f"{side}_{f}{k}"] = f"{side}_{f}{k - 1}"
    return parents


_FACE68 = _face68_names()
COCO_WHOLEBODY_133 = make_skeleton(
    "coco_wholebody",
    COCO_17.joint_names
    + ("left_big_toe", "left_small_toe", "left_heel", "right_big_toe", "right_small_toe", "right_heel")
    + _FACE68
    + _hand_names("left")
    + _hand_names("right"),
    parents=_wholebody_parents(_FACE68),
    root="nose",
)

# ----------------------------------------------------------------------------- MediaPipe-33

MEDIAPIPE_33 = make_skeleton(
    "mediapipe33",
    (
        "nose",
        "left_eye_inner",
        "left_eye",
        "left_eye_outer",
        "right_eye_inner",
        "right_eye",
        "right_eye_outer",
        "left_ear",
        "right_ear",
        "mouth_left",
        "mouth_right",
        "left_shoulder",
        "right_shoulder",
        "left_elbow",
        "right_elbow",
        "left_wrist",
        "right_wrist",
        "left_pinky",
        "right_pinky",
        "left_index",
        "right_index",
        "left_thumb",
        "right_thumb",
        "left_hip",
        "right_hip",
        "left_knee",
        "right_knee",
        "left_ankle",
        "right_ankle",
        "left_heel",
        "right_heel",
        "left_foot_index",
        "right_foot_index",
    ),
    parents=_sided(
        {
            "left_eye_inner": "nose",
            "left_eye": "left_eye_inner",
            "left_eye_outer": "left_eye",
            "left_ear": "left_eye_outer",
            "mouth_left": "nose",
            "left_shoulder": "nose",
            "left_elbow": "left_shoulder",
            "left_wrist": "left_elbow",
            "left_pinky": "left_wrist",
            "left_index": "left_wrist",
            "left_thumb": "left_wrist",
            "left_hip": "left_shoulder",
            "left_knee": "left_hip",
            "left_ankle": "left_knee",
            "left_heel": "left_ankle",
            "left_foot_index": "left_ankle",
        }
    ),
    root="nose",
)

# ----------------------------------------------------------------------------- OpenPose BODY_25

OPENPOSE_25 = make_skeleton(
    "openpose25",
    (
        "nose",
        "neck",
        "right_shoulder",
        "right_elbow",
        "right_wrist",
        "left_shoulder",
        "left_elbow",
        "left_wrist",
        "mid_hip",
        "right_hip",
        "right_knee",
        "right_ankle",
        "left_hip",
        "left_knee",
        "left_ankle",
        "right_eye",
        "left_eye",
        "right_ear",
        "left_ear",
        "left_big_toe",
        "left_small_toe",
        "left_heel",
        "right_big_toe",
        "right_small_toe",
        "right_heel",
    ),
    parents={
        "neck": "mid_hip",
        "nose": "neck",
        **_sided(
            {
                "left_shoulder": "neck",
                "left_elbow": "left_shoulder",
                "left_wrist": "left_elbow",
                "left_hip": "mid_hip",
                "left_knee": "left_hip",
                "left_ankle": "left_knee",
                "left_eye": "nose",
                "left_ear": "left_eye",
                **{f"left_{f}": "left_ankle" for f in _FEET},
            }
        ),
    },
    root="mid_hip",
)

register_skeleton(HALPE_26, aliases=("halpe", "halpe_26", "alphapose"))
register_skeleton(COCO_WHOLEBODY_133, aliases=("wholebody", "coco_wholebody_133", "coco133"))
register_skeleton(MEDIAPIPE_33, aliases=("mediapipe", "blazepose", "mediapipe_33"))
register_skeleton(OPENPOSE_25, aliases=("openpose", "body_25", "body25", "openpose_25"))
