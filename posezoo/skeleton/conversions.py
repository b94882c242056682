"""The detector -> H36M-17 conversions posezoo ships, with weights fitted on the CMU motion capture.

Models are trained on H36M-17 joints as the repository's mocap defines them
(``datasets/cmu_mocap17/meta.json``): hip joint centres, a thorax at the base
of the neck ~7 cm above the shoulder line, a ``nose`` joint midway between the
skull base and the eyes, and a ``head_top`` 18 cm above the skull base. A
detector marks other points (hips ~15 % wider, the nose tip, eyes, ears), so
each H36M joint is rebuilt from the detector joints by the rules below, in
priority order (the first rule whose sources are confident wins; see
:func:`posezoo.skeleton.convert_layout`).

How the weights were derived (re-run ``python tools/fit_keypoint_conversions.py``;
``tests/test_keypoint_conversions.py`` re-derives them on a subsample): CMU
``train`` clips, every 10th frame, 4 static virtual cameras per clip
(:class:`posezoo.data.VirtualCameraSampler` defaults: 1000x1000 px, focal
900-1300 px, 3.5-7 m), H36M joints projected, detector joints placed by the
anatomical model of :mod:`posezoo.skeleton.synthetic` and projected by the same
cameras; each rule's weights are the constrained least-squares fit (sum 1,
mirror-tied for symmetric targets; :mod:`posezoo.skeleton.fit`) in pixels.
Errors of each rule on that data are in ``docs/in_the_wild.md``.
"""

from __future__ import annotations

from .convert import Conversion, Rule, copy_rules, register_conversion

__all__ = ["body_rules"]

_SH = ("left_shoulder", "right_shoulder")
_HIPS = ("left_hip", "right_hip")
_FACE = ("nose", "left_eye", "right_eye", "left_ear", "right_ear")
_LIMBS = (
    "right_knee",
    "right_ankle",
    "left_knee",
    "left_ankle",
    "left_shoulder",
    "left_elbow",
    "left_wrist",
    "right_shoulder",
    "right_elbow",
    "right_wrist",
)


# --- fitted weights: python tools/fit_keypoint_conversions.py (train split, every 10th frame, 4 cameras per
# clip, robust to 3 px detector jitter). Trailing comments: noise-free error on that data, mean / p95 px on
# 1000 px images, and the noise gain sqrt(sum w^2). Pelvis and spine keep the mocap's definitions (means).
_R_HIP = Rule(("right_hip", "left_hip"), (0.9223, 0.0777))  # 0.4 / 0.7 px, gain 0.93 (hips 15 % wider)
# the other hip missing: the shoulder line gives the direction; 0.6 / 1.3 px (the hip copied alone: 2.1 / 3.7)
_R_HIP_1 = Rule(("right_hip",) + _SH, (0.9979, 0.0385, -0.0364))
_PELVIS_1 = Rule(("left_hip",) + _SH, (0.9952, -0.2879, 0.2927))  # one hip: 4.0 / 9.7 px
_THORAX = (  # the neck base lies between the shoulders and the head
    Rule(_SH + ("left_ear", "right_ear"), (0.3116, 0.3116, 0.1884, 0.1884)),  # 1.8 / 4.6 px, gain 0.51
    Rule(_SH + ("nose", "left_eye", "right_eye"), (0.3739, 0.3739, -0.3386, 0.2954, 0.2954)),  # 3.1 / 6.6 px
    Rule(_SH + _HIPS, (0.5684, 0.5684, -0.0684, -0.0684)),  # 4.2 / 8.0 px
)
_THORAX_1 = Rule(_SH + ("left_hip",), (0.6080, 0.5284, -0.1364))  # 4.3 / 8.2 px; shoulder mean alone: 14.5 / 21.6
_OPENPOSE_THORAX = Rule(("neck", "mid_hip"), (1.1353, -0.1353))  # same as _THORAX: BODY_25's neck/mid_hip are means
_NOSE_PROFILE = Rule(("nose", "left_eye", "left_ear") + _SH, (0.1874, 0.2907, 0.4789, -0.0989, 0.1419))
_HEAD_PROFILE = Rule(("nose", "left_eye", "left_ear") + _SH, (-0.7924, 0.9429, 1.4201, -0.6496, 0.0790))
_NOSE = (
    Rule(_FACE, (0.2734, 0.0792, 0.0792, 0.2841, 0.2841)),  # 0.4 / 0.6 px, gain 0.50
    Rule(("nose", "left_eye", "right_eye") + _SH, (-0.3637, 0.5711, 0.5711, 0.11075, 0.11075)),  # 3.2 / 6.1
    _NOSE_PROFILE,  # 1.3 / 3.2 px, gain 0.62
    _NOSE_PROFILE.mirrored(),
    Rule(("left_ear", "right_ear") + _SH, (0.4857, 0.4857, 0.0143, 0.0143)),  # 7.4 / 12.6 px
    Rule(_SH + _HIPS, (0.6738, 0.6738, -0.1738, -0.1738)),  # no face: 14.7 / 28.1 px
)
_HEAD_TOP = (
    Rule(_FACE, (-2.4597, 1.5167, 1.5167, 0.21315, 0.21315)),  # 7.1 / 10.7 px, gain 3.28
    Rule(("nose", "left_eye", "right_eye") + _SH, (-2.4350, 1.7377, 1.7377, -0.0202, -0.0202)),  # 8.5 / 13.8
    _HEAD_PROFILE,  # 6.3 / 18.2 px, gain 1.99
    _HEAD_PROFILE.mirrored(),
    Rule(("left_ear", "right_ear") + _SH, (0.8893, 0.8893, -0.3893, -0.3893)),  # 6.9 / 21.5 px
    Rule(_SH + _HIPS, (0.8363, 0.8363, -0.3363, -0.3363)),  # no face: 15.4 / 34.5 px
)
# -------------------------------------------------------------------------------------------------------


def body_rules(**extra: tuple[Rule, ...]) -> tuple[tuple[str, tuple[Rule, ...]], ...]:
    """The COCO-17 rules for every H36M joint; ``extra[name]`` replaces a joint's rule list."""
    rules = {
        "pelvis": (Rule(_HIPS, (0.5, 0.5)), _PELVIS_1, _PELVIS_1.mirrored()),
        "right_hip": (_R_HIP, _R_HIP_1, Rule.copy("right_hip")),
        "left_hip": (_R_HIP.mirrored(), _R_HIP_1.mirrored(), Rule.copy("left_hip")),
        "thorax": _THORAX + (_THORAX_1, _THORAX_1.mirrored(), Rule(_SH, (0.5, 0.5))),
        "spine": (Rule(("@pelvis", "@thorax"), (0.5, 0.5)),),  # the mocap's definition of the spine joint
        "nose": _NOSE,
        "head_top": _HEAD_TOP,
        **dict(copy_rules(_LIMBS)),
    }
    rules.update(extra)
    return tuple(rules.items())


_COCO_NOTES = "fitted on CMU train mocap through virtual cameras; see posezoo.skeleton.conversions"

for _name in ("coco", "coco_wholebody", "mediapipe33"):
    # coco_wholebody uses only its first 17 joints (= COCO-17), so it converts exactly like "coco"
    register_conversion(Conversion(_name, "h36m", body_rules(), _COCO_NOTES))

register_conversion(
    Conversion(
        "halpe26",
        "h36m",
        body_rules(
            pelvis=(Rule(_HIPS, (0.5, 0.5)), Rule.copy("hip"), _PELVIS_1, _PELVIS_1.mirrored()),
            thorax=_THORAX + (_THORAX_1, _THORAX_1.mirrored(), Rule(_SH, (0.5, 0.5)), Rule.copy("neck")),
            head_top=(Rule.copy("head"),) + _HEAD_TOP,
        ),
        _COCO_NOTES + "; Halpe's head (top of the head) is the H36M head top",
    )
)

register_conversion(
    Conversion(
        "openpose25",
        "h36m",
        body_rules(
            pelvis=(Rule(_HIPS, (0.5, 0.5)), Rule.copy("mid_hip"), _PELVIS_1, _PELVIS_1.mirrored()),
            thorax=_THORAX
            + (_THORAX_1, _THORAX_1.mirrored(), _OPENPOSE_THORAX, Rule(_SH, (0.5, 0.5)), Rule.copy("neck")),
        ),
        _COCO_NOTES + "; BODY_25's neck and mid_hip are means of its shoulders and hips",
    )
)
