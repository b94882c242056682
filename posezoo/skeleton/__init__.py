"""Joint layouts, left/right flips and layout conversion.

Every function here works on numpy arrays and torch tensors alike and keeps
the kind of its input. Pose arrays are ``(..., J, C)``: any leading
dimensions, then joints, then coordinates (2 or 3).

* ``_core``: the :class:`Skeleton` type, the layout registry, flips, reordering.
* ``layouts``: H36M-17 (posezoo's default), COCO-17, MPI-INF-3DHP-17, HumanEva-15,
  the official Uplift-and-Upsample order.
* ``detector_layouts``: Halpe-26, COCO-WholeBody-133, MediaPipe-33, OpenPose-25.
* ``convert`` / ``conversions``: rule-based conversion to H36M-17 with the
  weights fitted on the repository's motion capture; ``fit``: how they are fitted.
* ``synthetic``: detector-style keypoints placed around H36M-17 poses.

The default layout of posezoo is H36M-17 in the VideoPose3D order::

    0 pelvis        1 right_hip     2 right_knee     3 right_ankle
    4 left_hip      5 left_knee     6 left_ankle     7 spine
    8 thorax        9 nose         10 head_top      11 left_shoulder
   12 left_elbow   13 left_wrist   14 right_shoulder 15 right_elbow
   16 right_wrist
"""

# ruff: noqa: I001 - import order registers the layouts before the conversions that use them
from ._core import (
    Skeleton,
    flip_pose,
    get_skeleton,
    joint_weights,
    list_skeletons,
    register_skeleton,
    reorder_joints,
)
from .layouts import COCO_17, H36M_17, HUMANEVA_15, MPI_INF_3DHP_17, UPLIFT_UPSAMPLE_17
from .detector_layouts import COCO_WHOLEBODY_133, HALPE_26, MEDIAPIPE_33, OPENPOSE_25
from .convert import (
    Conversion,
    Rule,
    coco_to_h36m,
    convert_layout,
    get_conversion,
    list_conversions,
    register_conversion,
    to_h36m,
)
from . import conversions as _conversions  # noqa: F401  (registers the shipped conversions)
from .synthetic import synthesize_keypoints

__all__ = [
    "Skeleton",
    "H36M_17",
    "COCO_17",
    "MPI_INF_3DHP_17",
    "HUMANEVA_15",
    "UPLIFT_UPSAMPLE_17",
    "HALPE_26",
    "COCO_WHOLEBODY_133",
    "MEDIAPIPE_33",
    "OPENPOSE_25",
    "register_skeleton",
    "get_skeleton",
    "list_skeletons",
    "joint_weights",
    "flip_pose",
    "reorder_joints",
    "Rule",
    "Conversion",
    "register_conversion",
    "get_conversion",
    "list_conversions",
    "convert_layout",
    "to_h36m",
    "coco_to_h36m",
    "synthesize_keypoints",
]
