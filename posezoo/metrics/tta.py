"""Test-time flip augmentation: average a prediction with the un-flipped prediction of the mirrored input."""

from __future__ import annotations

from typing import Any, Callable, Optional, Union

import numpy as np
import torch

from .._arrays import ArrayLike
from .._validation import check_real_array
from ..skeleton import Skeleton, flip_pose

__all__ = ["merge_flipped", "flip_tta_average"]

SkeletonLike = Union[str, Skeleton]


def merge_flipped(pred: ArrayLike, pred_of_flipped: ArrayLike, skeleton: SkeletonLike = "h36m") -> ArrayLike:
    """``(pred + flip_pose(pred_of_flipped)) / 2``: mirror the flipped-input prediction back and average.

    Args:
        pred: ``(..., J, 3)`` prediction for the original input.
        pred_of_flipped: ``(..., J, 3)`` prediction for the mirrored input.
            Both must hold finite real numbers (``TypeError`` / ``ValueError`` otherwise).
        skeleton: joint layout of the predictions (left/right permutation of
            :func:`posezoo.skeleton.flip_pose`).
    """
    if type(pred) is not type(pred_of_flipped) or not isinstance(pred, (np.ndarray, torch.Tensor)):
        raise TypeError(
            "pred and pred_of_flipped must both be numpy arrays or both tensors, got "
            f"{type(pred).__name__} and {type(pred_of_flipped).__name__}"
        )
    check_real_array("pred", pred)
    check_real_array("pred_of_flipped", pred_of_flipped)
    if pred.shape != pred_of_flipped.shape:
        raise ValueError(
            f"pred and pred_of_flipped must have the same shape, got {tuple(pred.shape)} "
            f"and {tuple(pred_of_flipped.shape)}"
        )
    return (pred + flip_pose(pred_of_flipped, skeleton)) / 2


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
    and averages the two. Extra arguments (e.g. a keyframe mask) pass through unchanged.

    Args:
        predict: a model or function returning poses ``(..., J, 3)``, or a tuple/list of them.
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
    if isinstance(out, (tuple, list)):
        if not isinstance(out_flipped, type(out)) or len(out) != len(out_flipped):
            raise TypeError("predict returned different structures for the input and its flip")
        return type(out)(merge_flipped(a, b, skeleton) for a, b in zip(out, out_flipped))
    return merge_flipped(out, out_flipped, skeleton)
