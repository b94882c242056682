"""Joint orders, left/right flips and joint-layout conversion.

Every function here works on numpy arrays and torch tensors alike and keeps
the kind of its input. Pose arrays are ``(..., J, C)``: any leading
dimensions, then joints, then coordinates (2 or 3).

The default layout of posezoo is H36M-17 in the VideoPose3D order::

    0 pelvis        1 right_hip     2 right_knee     3 right_ankle
    4 left_hip      5 left_knee     6 left_ankle     7 spine
    8 thorax        9 nose         10 head_top      11 left_shoulder
   12 left_elbow   13 left_wrist   14 right_shoulder 15 right_elbow
   16 right_wrist

(VideoPose3D calls joint 9 "neck/nose" and joint 10 "head".)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, TypeVar, Union

import numpy as np
import torch

from ._validation import check_real_array

Array = TypeVar("Array", np.ndarray, torch.Tensor)

__all__ = [
    "Skeleton",
    "H36M_17",
    "COCO_17",
    "MPI_INF_3DHP_17",
    "HUMANEVA_15",
    "UPLIFT_UPSAMPLE_17",
    "get_skeleton",
    "list_skeletons",
    "joint_weights",
    "flip_pose",
    "reorder_joints",
    "coco_to_h36m",
]


@dataclass(frozen=True)
class Skeleton:
    """A joint layout: names, kinematic tree and left/right pairs.

    Attributes:
        name: registry name of the layout (``"h36m"``, ``"coco"``, ...).
        joint_names: one name per joint, in array order.
        parents: index of each joint's parent, ``-1`` for the root.
        left: joints on the subject's left side.
        right: the matching joints on the right side (same length and order as
            ``left``, so ``left[i]`` and ``right[i]`` swap under a flip).
        root: index of the root joint (subtracted for root-relative poses).
    """

    name: str
    joint_names: tuple[str, ...]
    parents: tuple[int, ...]
    left: tuple[int, ...]
    right: tuple[int, ...]
    root: int = 0

    def __post_init__(self) -> None:
        n = len(self.joint_names)
        if len(self.parents) != n:
            raise ValueError(f"{self.name}: {len(self.parents)} parents for {n} joints")
        if len(self.left) != len(self.right):
            raise ValueError(f"{self.name}: left/right lists differ in length")
        if len(set(self.joint_names)) != n:
            raise ValueError(f"{self.name}: duplicate joint names")

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    @property
    def flip_permutation(self) -> tuple[int, ...]:
        """Permutation that swaps left and right joints (an involution)."""
        perm = list(range(self.num_joints))
        for a, b in zip(self.left, self.right):
            perm[a], perm[b] = b, a
        return tuple(perm)

    @property
    def bones(self) -> tuple[tuple[int, int], ...]:
        """``(child, parent)`` pairs of the kinematic tree."""
        return tuple((j, p) for j, p in enumerate(self.parents) if p >= 0)

    def index(self, joint_name: str) -> int:
        """Array index of ``joint_name``; raises ``ValueError`` for unknown names."""
        try:
            return self.joint_names.index(joint_name)
        except ValueError:
            raise ValueError(
                f"{self.name} has no joint {joint_name!r}; joints: {', '.join(self.joint_names)}"
            ) from None


H36M_17 = Skeleton(
    name="h36m",
    joint_names=(
        "pelvis", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee",
        "left_ankle", "spine", "thorax", "nose", "head_top", "left_shoulder",
        "left_elbow", "left_wrist", "right_shoulder", "right_elbow", "right_wrist",
    ),
    parents=(-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15),
    left=(4, 5, 6, 11, 12, 13),
    right=(1, 2, 3, 14, 15, 16),
    root=0,
)

COCO_17 = Skeleton(
    name="coco",
    joint_names=(
        "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
        "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
        "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    ),
    parents=(-1, 0, 0, 1, 2, 0, 0, 5, 6, 7, 8, 5, 6, 11, 12, 13, 14),
    left=(1, 3, 5, 7, 9, 11, 13, 15),
    right=(2, 4, 6, 8, 10, 12, 14, 16),
    root=0,
)

MPI_INF_3DHP_17 = Skeleton(
    name="mpi_inf_3dhp",
    joint_names=(
        "head_top", "neck", "right_shoulder", "right_elbow", "right_wrist",
        "left_shoulder", "left_elbow", "left_wrist", "right_hip", "right_knee",
        "right_ankle", "left_hip", "left_knee", "left_ankle", "pelvis", "spine", "head",
    ),
    parents=(16, 15, 1, 2, 3, 1, 5, 6, 14, 8, 9, 14, 11, 12, -1, 14, 1),
    left=(5, 6, 7, 11, 12, 13),
    right=(2, 3, 4, 8, 9, 10),
    root=14,
)

HUMANEVA_15 = Skeleton(
    name="humaneva",
    joint_names=(
        "pelvis", "thorax", "left_shoulder", "left_elbow", "left_wrist",
        "right_shoulder", "right_elbow", "right_wrist", "left_hip", "left_knee",
        "left_ankle", "right_hip", "right_knee", "right_ankle", "head",
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
        "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
        "pelvis", "thorax", "spine", "nose", "head_top", "right_wrist", "right_elbow",
        "right_shoulder", "left_shoulder", "left_elbow", "left_wrist",
    ),
    parents=(1, 2, 6, 6, 3, 4, -1, 8, 6, 7, 9, 12, 13, 7, 7, 14, 15),
    left=(3, 4, 5, 14, 15, 16),
    right=(2, 1, 0, 13, 12, 11),
    root=6,
)

_SKELETONS: dict[str, Skeleton] = {
    s.name: s for s in (H36M_17, COCO_17, MPI_INF_3DHP_17, HUMANEVA_15, UPLIFT_UPSAMPLE_17)
}
_ALIASES = {"h36m17": "h36m", "h36m_17": "h36m", "coco17": "coco", "coco_17": "coco",
            "3dhp": "mpi_inf_3dhp", "humaneva15": "humaneva", "official_uu": "uplift_upsample"}

# Per-joint weights of the RTPCA/MixSTE training code (weighted MPJPE, TCLoss):
# torso 1.0, head 1.5, mid-limb 2.5, end-limb 4.0 for H36M-17. The HumanEva-15
# vector is copied as the released code indexes it.
_JOINT_WEIGHTS = {
    "h36m": (1.0, 1.0, 2.5, 2.5, 1.0, 2.5, 2.5, 1.0, 1.0, 1.0, 1.5, 1.5, 4.0, 4.0, 1.5, 4.0, 4.0),
    "humaneva": (1.0, 1.0, 2.5, 2.5, 1.0, 2.5, 2.5, 1.0, 1.5, 1.5, 4.0, 4.0, 1.5, 4.0, 4.0),
}


def list_skeletons() -> list[str]:
    """Names accepted by :func:`get_skeleton`."""
    return sorted(_SKELETONS)


def get_skeleton(skeleton: Union[str, Skeleton]) -> Skeleton:
    """Return the :class:`Skeleton` for a name (or pass a Skeleton through)."""
    if isinstance(skeleton, Skeleton):
        return skeleton
    if not isinstance(skeleton, str):
        raise TypeError(f"skeleton must be a name or Skeleton, got {type(skeleton).__name__}")
    key = _ALIASES.get(skeleton.lower(), skeleton.lower())
    if key not in _SKELETONS:
        raise ValueError(f"unknown skeleton {skeleton!r}; known: {', '.join(list_skeletons())}")
    return _SKELETONS[key]


def joint_weights(skeleton: Union[str, Skeleton] = "h36m") -> torch.Tensor:
    """Per-joint loss weights ``(J,)`` used by the RTPCA/MixSTE training code."""
    skel = get_skeleton(skeleton)
    if skel.name not in _JOINT_WEIGHTS:
        raise ValueError(
            f"no joint weights defined for {skel.name!r}; defined for: {', '.join(_JOINT_WEIGHTS)}"
        )
    return torch.tensor(_JOINT_WEIGHTS[skel.name], dtype=torch.float32)


def _check_pose(
    x: Array, num_joints: int, name: str = "pose", *, finite: bool = True, allow_bool: bool = False
) -> None:
    check_real_array(name, x, finite=False, allow_bool=allow_bool)
    if x.ndim < 2 or x.shape[-2] != num_joints or x.shape[-1] < 1:
        raise ValueError(
            f"{name} must have shape (..., {num_joints}, C) with C >= 1, got {tuple(x.shape)}"
        )
    if finite:
        try:
            check_real_array(name, x, finite=True, allow_bool=allow_bool)
        except ValueError as exc:
            raise ValueError(f"{exc}; mark missing joints with a confidence/mask and pass allow_nonfinite=True "
                             "(or confidence= for coco_to_h36m) to let them through") from None


def _take_joints(x: Array, index: Sequence[int]) -> Array:
    if isinstance(x, torch.Tensor):
        return x[..., torch.as_tensor(list(index), device=x.device), :]
    return x[..., list(index), :]


def flip_pose(x: Array, skeleton: Union[str, Skeleton] = "h36m", *, allow_nonfinite: bool = False) -> Array:
    """Mirror poses left-right: negate x and swap left/right joints.

    Args:
        x: ``(..., J, C)`` poses, C >= 1, with x as the first coordinate and
            centred at 0 (root-relative 3D, or normalised screen coordinates);
            integer or floating dtype (bool, complex and object arrays raise
            ``TypeError``).
        skeleton: joint layout of ``x``.
        allow_nonfinite: let NaN/inf (e.g. missing joints marked by a separate
            mask) pass through; by default they raise ``ValueError``.

    Returns:
        Mirrored poses of the same shape and kind. Flipping twice is the identity.
    """
    skel = get_skeleton(skeleton)
    _check_pose(x, skel.num_joints, finite=not allow_nonfinite)
    out = _take_joints(x, skel.flip_permutation)
    out = out.clone() if isinstance(out, torch.Tensor) else out.copy()
    out[..., 0] = -out[..., 0]
    return out


def reorder_joints(
    x: Array, src: Union[str, Skeleton], dst: Union[str, Skeleton], *, allow_nonfinite: bool = False
) -> Array:
    """Re-index joints from layout ``src`` to layout ``dst`` by joint name.

    Every joint of ``dst`` must exist (by name) in ``src``; use
    :func:`coco_to_h36m` for layouts that need derived joints. ``x`` is
    ``(..., J, C)`` of integer, floating or bool dtype (per-joint flags
    reorder too); NaN/inf raise ``ValueError`` unless ``allow_nonfinite``.
    """
    s, d = get_skeleton(src), get_skeleton(dst)
    _check_pose(x, s.num_joints, finite=not allow_nonfinite, allow_bool=True)
    missing = [n for n in d.joint_names if n not in s.joint_names]
    if missing:
        raise ValueError(f"cannot map {s.name} -> {d.name}: {s.name} lacks {', '.join(missing)}")
    return _take_joints(x, [s.index(n) for n in d.joint_names])


def _mean(a: Array, b: Array) -> Array:
    return (a + b) / 2


def _minimum(a: Array, b: Array) -> Array:
    return torch.minimum(a, b) if isinstance(a, torch.Tensor) else np.minimum(a, b)


def _stack_joints(joints: list, like: Array) -> Array:
    if isinstance(like, torch.Tensor):
        return torch.stack(joints, dim=-2)
    return np.stack(joints, axis=-2)


def coco_to_h36m(
    keypoints: Array, confidence: Array | None = None
) -> Array | tuple[Array, Array]:
    """Convert COCO-17 keypoints to the H36M-17 layout.

    Derived joints: pelvis = mean of the hips, thorax = mean of the shoulders,
    spine = mean of pelvis and thorax, head_top = mean of the eyes, nose = the
    COCO nose; limbs are copied by index. A derived joint's confidence is the
    minimum of the confidences it is made from.

    Args:
        keypoints: ``(..., 17, C)`` in COCO-17 order, integer or floating.
            Non-finite values raise ``ValueError`` unless ``confidence`` marks
            them missing (score ``<= 0``); derived joints built from a missing
            joint are then non-finite with confidence 0 as well.
        confidence: optional ``(..., 17)`` finite scores, carried through.

    Returns:
        ``(..., 17, C)`` in H36M-17 order, and the ``(..., 17)`` confidences
        when ``confidence`` was given.
    """
    _check_pose(keypoints, 17, "keypoints", finite=confidence is None)
    if confidence is not None:
        check_real_array("confidence", confidence)
        if type(confidence) is not type(keypoints):
            raise TypeError("keypoints and confidence must both be numpy arrays or both torch tensors")
        if tuple(confidence.shape) != tuple(keypoints.shape[:-1]):
            raise ValueError(
                f"confidence must have shape {tuple(keypoints.shape[:-1])}, got {tuple(confidence.shape)}"
            )
        finite = torch.isfinite(keypoints).all(-1) if isinstance(keypoints, torch.Tensor) \
            else np.isfinite(keypoints).all(-1)
        if bool((~finite & (confidence > 0)).any()):
            raise ValueError("keypoints hold NaN or inf values at joints whose confidence is > 0")
    c = COCO_17.index
    k = lambda name: keypoints[..., c(name), :]  # noqa: E731
    pelvis = _mean(k("left_hip"), k("right_hip"))
    thorax = _mean(k("left_shoulder"), k("right_shoulder"))
    derived = {
        "pelvis": pelvis,
        "thorax": thorax,
        "spine": _mean(pelvis, thorax),
        "head_top": _mean(k("left_eye"), k("right_eye")),
    }
    out = _stack_joints(
        [derived[n] if n in derived else k(n) for n in H36M_17.joint_names], keypoints
    )
    if confidence is None:
        return out
    s = lambda name: confidence[..., c(name)]  # noqa: E731
    hips = _minimum(s("left_hip"), s("right_hip"))
    shoulders = _minimum(s("left_shoulder"), s("right_shoulder"))
    derived_conf = {
        "pelvis": hips,
        "thorax": shoulders,
        "spine": _minimum(hips, shoulders),
        "head_top": _minimum(s("left_eye"), s("right_eye")),
    }
    conf = [derived_conf[n] if n in derived_conf else s(n) for n in H36M_17.joint_names]
    conf_out = torch.stack(conf, dim=-1) if isinstance(confidence, torch.Tensor) else np.stack(conf, -1)
    return out, conf_out
