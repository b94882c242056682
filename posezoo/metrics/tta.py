"""Test-time flip augmentation: average a prediction with the un-flipped prediction of the mirrored input."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Callable, Optional, Union

import numpy as np
import torch

from .._arrays import ArrayLike
from .._validation import check_real_array
from ..skeleton import Skeleton, flip_pose

__all__ = ["merge_flipped", "flip_tta_average"]

SkeletonLike = Union[str, Skeleton]


def merge_flipped(pred: Any, pred_of_flipped: Any, skeleton: SkeletonLike = "h36m") -> Any:
    """``(pred + flip_pose(pred_of_flipped)) / 2``: mirror the flipped-input prediction back and average.

    Args:
        pred: ``(..., J, 3)`` prediction for the original input (numpy array or tensor), or a
            structure of them: a tuple, list or dict, or a dataclass model output such as
            :class:`~posezoo.models.uplift_upsample.UpliftUpsampleOutput` (``full`` ``(B, N, J, 3)``
            and ``central`` ``(B, J, 3)``). Structures are merged element by element; a ``None``
            element (e.g. ``full`` of a model without a full-sequence head) stays ``None``.
        pred_of_flipped: the prediction for the mirrored input, with the same structure.
            Arrays must hold finite real numbers (``TypeError`` / ``ValueError`` otherwise).
        skeleton: joint layout of the predictions (left/right permutation of
            :func:`posezoo.skeleton.flip_pose`).

    Returns:
        The averaged prediction, with the structure and kind of ``pred``.
    """
    return _merge(pred, pred_of_flipped, skeleton, "pred")


def _merge(a: Any, b: Any, skeleton: SkeletonLike, where: str) -> Any:
    if a is None and b is None:
        return None
    if isinstance(a, (np.ndarray, torch.Tensor)) or isinstance(b, (np.ndarray, torch.Tensor)):
        return _merge_arrays(a, b, skeleton, where)
    if type(a) is not type(b):
        raise TypeError(
            f"{where}: the prediction and the prediction of the flipped input differ in structure "
            f"({type(a).__name__} vs {type(b).__name__})"
        )
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        merged = {
            f.name: _merge(getattr(a, f.name), getattr(b, f.name), skeleton, f"{where}.{f.name}")
            for f in dataclasses.fields(a)
            if f.init
        }
        return dataclasses.replace(a, **merged)
    if isinstance(a, Mapping):
        if set(a) != set(b):
            raise TypeError(f"{where}: the two predictions have different keys: {sorted(a)} vs {sorted(b)}")
        return type(a)({k: _merge(a[k], b[k], skeleton, f"{where}[{k!r}]") for k in a})
    if isinstance(a, (tuple, list)):
        if len(a) != len(b):
            raise TypeError(f"{where}: the two predictions have {len(a)} and {len(b)} elements")
        items = [_merge(x, y, skeleton, f"{where}[{i}]") for i, (x, y) in enumerate(zip(a, b))]
        return type(a)(*items) if hasattr(a, "_fields") else type(a)(items)  # namedtuples take positional fields
    raise TypeError(
        f"{where} must be a numpy array or tensor of poses, or a tuple, list, dict or dataclass of them; "
        f"got {type(a).__name__}"
    )


def _merge_arrays(a: Any, b: Any, skeleton: SkeletonLike, where: str) -> ArrayLike:
    if type(a) is not type(b) or not isinstance(a, (np.ndarray, torch.Tensor)):
        raise TypeError(
            f"{where}: pred and pred_of_flipped must both be numpy arrays or both tensors, got "
            f"{type(a).__name__} and {type(b).__name__}"
        )
    check_real_array(f"{where} (pred)", a)
    check_real_array(f"{where} (pred_of_flipped)", b)
    if a.shape != b.shape:
        raise ValueError(
            f"{where}: pred and pred_of_flipped must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    return (a + flip_pose(b, skeleton)) / 2


def flip_tta_average(
    predict: Callable[..., Any],
    inputs: ArrayLike,
    *args: Any,
    skeleton: SkeletonLike = "h36m",
    input_skeleton: Optional[SkeletonLike] = None,
    **kwargs: Any,
) -> Any:
    """Flip test-time augmentation, as every lifting evaluation (VideoPose3D, MixSTE, RTPCA) uses it.

    Runs ``predict(inputs, *args, **kwargs)`` and ``predict(flip_pose(inputs), *args,
    **kwargs)`` (x negated, left/right joints swapped), flips the second output back
    and averages the two (:func:`merge_flipped`). Extra arguments (e.g. a keyframe mask)
    pass through unchanged.

    Args:
        predict: a model or function returning poses ``(..., J, 3)``, or a tuple, list, dict or
            dataclass of them (e.g. Uplift and Upsample's ``UpliftUpsampleOutput``).
        inputs: ``(..., J, C)`` input poses centred at x = 0 (normalised screen coordinates).
        skeleton: joint layout of the outputs.
        input_skeleton: joint layout of the inputs (default: ``skeleton``).

    Returns:
        The averaged output(s), with the structure ``predict`` returns.
    """
    if not callable(predict):
        raise TypeError(f"predict must be callable, got {type(predict).__name__}")
    out = predict(inputs, *args, **kwargs)
    out_flipped = predict(flip_pose(inputs, input_skeleton or skeleton), *args, **kwargs)
    return merge_flipped(out, out_flipped, skeleton)
