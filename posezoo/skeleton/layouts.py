"""Joint layouts of 3D pose datasets and model code: H36M-17 (posezoo's default), COCO-17,
MPI-INF-3DHP-17, HumanEva-15 and the official Uplift-and-Upsample order.

The default layout of posezoo is H36M-17 in the VideoPose3D order::

    0 pelvis        1 right_hip     2 right_knee     3 right_ankle
    4 left_hip      5 left_knee     6 left_ankle     7 spine
    8 thorax        9 nose         10 head_top      11 left_shoulder
   12 left_elbow   13 left_wrist   14 right_shoulder 15 right_elbow
   16 right_wrist

(VideoPose3D calls joint 9 "neck/nose" and joint 10 "head".) Detector layouts
(Halpe-26, COCO-WholeBody, MediaPipe-33, OpenPose-25) are in ``detector_layouts.py``.
"""

from __future__ import annotations

from ._core import Skeleton, register_skeleton

__all__ = ["H36M_17", "COCO_17", "MPI_INF_3DHP_17", "HUMANEVA_15", "UPLIFT_UPSAMPLE_17"]

H36M_17 = Skeleton(
    name="h36m",
    joint_names=(
        "pelvis",
        "right_hip",
        "right_knee",
        "right_ankle",
        "left_hip",
        "left_knee",
        "left_ankle",
        "spine",
        "thorax",
        "nose",
        "head_top",
        "left_shoulder",
        "left_elbow",
        "left_wrist",
        "right_shoulder",
        "right_elbow",
        "right_wrist",
    ),
    parents=(-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15),
    left=(4, 5, 6, 11, 12, 13),
    right=(1, 2, 3, 14, 15, 16),
    root=0,
)

COCO_17 = Skeleton(
    name="coco",
    joint_names=(
        "nose",
        "left_eye",
        "right_eye",
        "left_ear",
        "right_ear",
        "left_shoulder",
        "right_shoulder",
        "left_elbow",
        "right_elbow",
        "left_wrist",
        "right_wrist",
        "left_hip",
        "right_hip",
        "left_knee",
        "right_knee",
        "left_ankle",
        "right_ankle",
    ),
    parents=(-1, 0, 0, 1, 2, 0, 0, 5, 6, 7, 8, 5, 6, 11, 12, 13, 14),
    left=(1, 3, 5, 7, 9, 11, 13, 15),
    right=(2, 4, 6, 8, 10, 12, 14, 16),
    root=0,
)

MPI_INF_3DHP_17 = Skeleton(
    name="mpi_inf_3dhp",
    joint_names=(
        "head_top",
        "neck",
        "right_shoulder",
        "right_elbow",
        "right_wrist",
        "left_shoulder",
        "left_elbow",
        "left_wrist",
        "right_hip",
        "right_knee",
        "right_ankle",
        "left_hip",
        "left_knee",
        "left_ankle",
        "pelvis",
        "spine",
        "head",
    ),
    parents=(16, 15, 1, 2, 3, 1, 5, 6, 14, 8, 9, 14, 11, 12, -1, 14, 1),
    left=(5, 6, 7, 11, 12, 13),
    right=(2, 3, 4, 8, 9, 10),
    root=14,
)

HUMANEVA_15 = Skeleton(
    name="humaneva",
    joint_names=(
        "pelvis",
        "thorax",
        "left_shoulder",
        "left_elbow",
        "left_wrist",
        "right_shoulder",
        "right_elbow",
        "right_wrist",
        "left_hip",
        "left_knee",
        "left_ankle",
        "right_hip",
        "right_knee",
        "right_ankle",
        "head",
    ),
    parents=(-1, 0, 1, 2, 3, 1, 5, 6, 0, 8, 9, 0, 11, 12, 1),
    left=(2, 3, 4, 8, 9, 10),
    right=(5, 6, 7, 11, 12, 13),
    root=0,
)

# The 17-joint order of the official Uplift-and-Upsample code (TensorFlow).
UPLIFT_UPSAMPLE_17 = Skeleton(
    name="uplift_upsample",
    joint_names=(
        "right_ankle",
        "right_knee",
        "right_hip",
        "left_hip",
        "left_knee",
        "left_ankle",
        "pelvis",
        "thorax",
        "spine",
        "nose",
        "head_top",
        "right_wrist",
        "right_elbow",
        "right_shoulder",
        "left_shoulder",
        "left_elbow",
        "left_wrist",
    ),
    parents=(1, 2, 6, 6, 3, 4, -1, 8, 6, 7, 9, 12, 13, 7, 7, 14, 15),
    left=(3, 4, 5, 14, 15, 16),
    right=(2, 1, 0, 13, 12, 11),
    root=6,
)

register_skeleton(H36M_17, aliases=("h36m17", "h36m_17"))
register_skeleton(COCO_17, aliases=("coco17", "coco_17"))
register_skeleton(MPI_INF_3DHP_17, aliases=("3dhp",))
register_skeleton(HUMANEVA_15, aliases=("humaneva15",))
register_skeleton(UPLIFT_UPSAMPLE_17, aliases=("official_uu",))
