"""Weights, reductions and input preparation shared by the loss modules."""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence, Union

import numpy as np
import torch

from .._arrays import as_pair, check_finite, check_reduction
from ..skeleton import Skeleton, joint_weights

WeightsLike = Union[None, str, Skeleton, Sequence[float], np.ndarray, torch.Tensor]


def resolve_weights(weights: WeightsLike) -> Optional[torch.Tensor]:
    """Per-joint weights ``(J,)`` float32 from a skeleton name, a sequence, an array or a tensor.

    ``None`` means no weighting. A name or :class:`~posezoo.skeleton.Skeleton` gives
    :func:`posezoo.skeleton.joint_weights` of that layout (the RTPCA/MixSTE vectors).
    """
    if weights is None:
        return None
    if isinstance(weights, (str, Skeleton)):
        return joint_weights(weights)
    if isinstance(weights, torch.Tensor):
        # Kept on its device (a module's buffer may live on the GPU); validated below only on CPU,
        # so a loss call never forces a host-device sync.
        w = weights.detach()
        if not torch.is_floating_point(w):
            w = w.to(torch.float32)
    elif isinstance(weights, (np.ndarray, list, tuple)):
        try:
            w = torch.as_tensor(np.asarray(weights, dtype=np.float64), dtype=torch.float32)
        except (TypeError, ValueError) as err:
            raise TypeError(f"weights must be numbers, got {weights!r}") from err
    else:
        raise TypeError(
            "weights must be None, a skeleton name, a Skeleton, a list, a numpy array or a tensor, "
            f"got {type(weights).__name__}"
        )
    if w.ndim != 1 or w.numel() == 0:
        raise ValueError(f"weights must be a non-empty 1-D vector (J,), got shape {tuple(w.shape)}")
    if w.device.type == "cpu" and not torch.compiler.is_compiling():
        if not bool(torch.isfinite(w).all()) or bool((w < 0).any()):
            raise ValueError(f"weights must be finite and non-negative, got {w.tolist()}")
    return w


def weights_for(weights: Optional[torch.Tensor], x: torch.Tensor) -> Optional[torch.Tensor]:
    """``weights`` on ``x``'s device and dtype, checked against its joint count ``x.shape[-2]``."""
    if weights is None:
        return None
    num_joints = x.shape[-2]
    if weights.numel() != num_joints:
        raise ValueError(
            f"weights has {weights.numel()} entries but the poses have {num_joints} joints (shape {tuple(x.shape)})"
        )
    return weights.to(device=x.device, dtype=x.dtype)


def check_coefficient(value: Any, name: str) -> float:
    """A finite, non-negative loss coefficient."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be finite and >= 0, got {value}")
    return float(value)


def prepare(
    pred: Any,
    target: Any,
    *,
    min_ndim: int = 2,
    finite: bool = True,
    names: tuple[str, str] = ("pred", "target"),
) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """Validated ``(pred, target, was_numpy)``; see :func:`posezoo._arrays.as_pair`."""
    p, t, was_numpy = as_pair(pred, target, min_ndim=min_ndim, names=names)
    if finite:
        check_finite((names[0], p), (names[1], t))
    return p, t, was_numpy


def reduce(terms: torch.Tensor, reduction: str) -> torch.Tensor:
    """Apply a loss reduction to the unreduced terms."""
    check_reduction(reduction)
    if reduction == "mean":
        return terms.mean()
    if reduction == "sum":
        return terms.sum()
    return terms


def per_sequence(terms: torch.Tensor, event_dims: int) -> torch.Tensor:
    """Mean over the last ``event_dims`` dims: one value per sequence."""
    return terms.mean(dim=tuple(range(-event_dims, 0))) if event_dims else terms
