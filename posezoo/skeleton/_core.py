"""The :class:`Skeleton` type, the layout registry, flips and name-based reordering.

Every function here works on numpy arrays and torch tensors alike and keeps
the kind of its input. Pose arrays are ``(..., J, C)``: any leading
dimensions, then joints, then coordinates (2 or 3).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, TypeVar, Union

import numpy as np
import torch

from .._validation import check_real_array

Array = TypeVar("Array", np.ndarray, torch.Tensor)

__all__ = [
    "Skeleton",
    "register_skeleton",
    "get_skeleton",
    "list_skeletons",
    "joint_weights",
    "flip_pose",
    "reorder_joints",
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


# name -> Skeleton and alias -> name; filled by register_skeleton() (layouts.py, detector_layouts.py)
_SKELETONS: dict[str, Skeleton] = {}
_ALIASES: dict[str, str] = {}


def register_skeleton(skeleton: Skeleton, aliases: Sequence[str] = ()) -> Skeleton:
    """Make ``skeleton`` (and lower-case ``aliases``) known to :func:`get_skeleton`."""
    if not isinstance(skeleton, Skeleton):
        raise TypeError(f"expected a Skeleton, got {type(skeleton).__name__}")
    key = skeleton.name.lower()
    if key in _SKELETONS and _SKELETONS[key] != skeleton:
        raise ValueError(f"a different skeleton named {skeleton.name!r} is already registered")
    _SKELETONS[key] = skeleton
    for alias in aliases:
        _ALIASES[alias.lower()] = key
    return skeleton


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
        raise ValueError(f"no joint weights defined for {skel.name!r}; defined for: {', '.join(_JOINT_WEIGHTS)}")
    return torch.tensor(_JOINT_WEIGHTS[skel.name], dtype=torch.float32)


_NONFINITE_HINT = "mark missing joints with a separate mask and pass allow_nonfinite=True to let them through"


def _check_pose(
    x: Array,
    num_joints: int,
    name: str = "pose",
    *,
    finite: bool = True,
    allow_bool: bool = False,
    hint: str = _NONFINITE_HINT,
) -> None:
    """``TypeError`` unless ``x`` is a real (integer/floating, optionally bool) array or tensor;
    ``ValueError`` unless it is ``(..., num_joints, C >= 1)`` and, when ``finite``, free of NaN/inf
    (the message then ends with ``hint``: how to mark missing joints)."""
    check_real_array(name, x, finite=False, allow_bool=allow_bool)
    if x.ndim < 2 or x.shape[-2] != num_joints or x.shape[-1] < 1:
        raise ValueError(f"{name} must have shape (..., {num_joints}, C) with C >= 1, got {tuple(x.shape)}")
    if finite:
        try:
            check_real_array(name, x, finite=True, allow_bool=allow_bool)
        except ValueError as exc:
            raise ValueError(f"{exc}; {hint}") from None


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
    :func:`posezoo.skeleton.convert_layout` for layouts that need derived joints. ``x`` is
    ``(..., J, C)`` of integer, floating or bool dtype (per-joint flags
    reorder too); NaN/inf raise ``ValueError`` unless ``allow_nonfinite``.
    """
    s, d = get_skeleton(src), get_skeleton(dst)
    _check_pose(x, s.num_joints, finite=not allow_nonfinite, allow_bool=True)
    missing = [n for n in d.joint_names if n not in s.joint_names]
    if missing:
        raise ValueError(f"cannot map {s.name} -> {d.name}: {s.name} lacks {', '.join(missing)}")
    return _take_joints(x, [s.index(n) for n in d.joint_names])
