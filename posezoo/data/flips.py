"""Flip augmentation of window samples (mirrored with the skeleton's left/right permutation).

:func:`flip_sample` mirrors one sample (:func:`posezoo.skeleton.flip_pose` on the
pose fields); :class:`WithinBatchFlip` is a ``collate_fn`` that puts every
sample and its mirrored copy (same stride mask and shift) next to each other in
the batch, as Uplift-and-Upsample's ``IN_BATCH_AUGMENT``. Also importable from
:mod:`posezoo.data.windows`.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence, Union

import numpy as np
import torch
from torch.utils.data import default_collate

from ..skeleton import Skeleton, flip_pose, get_skeleton

__all__ = ["flip_sample", "WithinBatchFlip", "FLIP_POSE_FIELDS", "FLIP_JOINT_FIELDS", "FLIP_VECTOR_FIELDS"]

#: Per-frame fields with joints and x as the first coordinate: mirrored by ``flip_pose``.
FLIP_POSE_FIELDS = ("keypoints_2d", "pose_3d", "pose_input", "pose_target")
#: Per-frame ``(T, J)`` fields: joints permuted by a flip.
FLIP_JOINT_FIELDS = ("confidence",)
#: Per-frame ``(T, 3)`` fields: x negated by a flip.
FLIP_VECTOR_FIELDS = ("trajectory",)


def flip_sample(sample: Mapping[str, Any], skeleton: Union[str, Skeleton] = "h36m") -> dict[str, Any]:
    """Mirror a sample: pose fields via ``flip_pose``, ``confidence`` joints permuted, ``trajectory`` x negated.

    Masks are unchanged; ``meta["flipped"]`` is toggled. Works on numpy arrays and tensors.
    """
    skel = get_skeleton(skeleton)
    perm = list(skel.flip_permutation)
    out = dict(sample)
    for key in FLIP_POSE_FIELDS:
        if key in out:  # a data transform: missing joints (NaN) stay missing, masks say where
            out[key] = flip_pose(out[key], skel, allow_nonfinite=True)
    for key in FLIP_JOINT_FIELDS:
        if key in out:
            v = out[key]
            out[key] = v[..., torch.as_tensor(perm, device=v.device)] if isinstance(v, torch.Tensor) else v[..., perm]
    for key in FLIP_VECTOR_FIELDS:
        if key in out:
            v = out[key].clone() if isinstance(out[key], torch.Tensor) else np.array(out[key], copy=True)
            v[..., 0] = -v[..., 0]
            out[key] = v
    if "meta" in out:
        meta = dict(out["meta"])
        meta["flipped"] = 1 - int(meta.get("flipped", 0))
        out["meta"] = meta
    return out


class WithinBatchFlip:
    """``collate_fn`` that emits each sample followed by its mirrored copy (batch of 2B).

    The copy keeps the sample's masks, stride and shift: Uplift-and-Upsample's
    ``IN_BATCH_AUGMENT``. Use with a dataset built with ``flip=False``.
    """

    def __init__(self, skeleton: Union[str, Skeleton] = "h36m") -> None:
        self.skeleton = get_skeleton(skeleton)

    def __call__(self, batch: Sequence[Mapping[str, Any]]) -> Any:
        doubled: list[Any] = []
        for sample in batch:
            doubled.append(sample)
            doubled.append(flip_sample(sample, self.skeleton))
        return default_collate(doubled)
