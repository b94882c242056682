"""Units, valid masks, root-relative poses and reductions shared by the metrics."""

from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np
import torch

from .._arrays import ArrayLike, as_pair, check_reduction, normalise_index

__all__ = ["unit_scale", "MetricInputs", "prepare_metric", "reduce_metric", "check_scale", "frame_mask"]

_UNITS_IN_METRES = {"m": 1.0, "cm": 1e-2, "mm": 1e-3}


def unit_scale(src: str, dst: str = "mm") -> float:
    """Factor that converts lengths in unit ``src`` to unit ``dst`` (``"m"``, ``"cm"``, ``"mm"``).

    Metrics report in the unit of their input times ``scale``; posezoo's 3D
    poses are in metres, and papers report millimetres, so
    ``mpjpe(pred, target, scale=unit_scale("m", "mm"))`` (= 1000) gives mm.
    """
    for name, unit in (("src", src), ("dst", dst)):
        if unit not in _UNITS_IN_METRES:
            raise ValueError(f"{name} unit must be one of {', '.join(_UNITS_IN_METRES)}, got {unit!r}")
    return _UNITS_IN_METRES[src] / _UNITS_IN_METRES[dst]


def check_scale(scale: Any) -> float:
    """A finite, positive scale factor."""
    if isinstance(scale, bool) or not isinstance(scale, (int, float)):
        raise TypeError(f"scale must be a number (see unit_scale), got {type(scale).__name__}")
    if not math.isfinite(scale) or scale <= 0:
        raise ValueError(f"scale must be finite and > 0, got {scale}")
    return float(scale)


class MetricInputs:
    """Validated metric inputs: tensors with invalid poses zeroed, the mask, and the input kind."""

    __slots__ = ("pred", "target", "valid", "was_numpy")

    def __init__(
        self, pred: torch.Tensor, target: torch.Tensor, valid: Optional[torch.Tensor], was_numpy: bool
    ) -> None:
        self.pred, self.target, self.valid, self.was_numpy = pred, target, valid, was_numpy


def _as_mask(valid: Any, shape: tuple[int, ...], device: torch.device) -> torch.Tensor:
    if isinstance(valid, np.ndarray):
        mask = torch.from_numpy(np.ascontiguousarray(valid))
    elif isinstance(valid, torch.Tensor):
        mask = valid
    else:
        raise TypeError(f"valid must be a boolean numpy array or tensor, got {type(valid).__name__}")
    if mask.dtype != torch.bool:
        raise TypeError(f"valid must have dtype bool, got {mask.dtype}")
    if tuple(mask.shape) != shape:
        raise ValueError(f"valid must have shape {shape} (one flag per pose), got {tuple(mask.shape)}")
    return mask.to(device)


def prepare_metric(
    pred: ArrayLike,
    target: ArrayLike,
    *,
    valid: Optional[ArrayLike] = None,
    root: Optional[int] = None,
    min_ndim: int = 2,
    channels: Optional[tuple[int, ...]] = None,
) -> MetricInputs:
    """Validate ``(..., J, C)`` inputs for a metric.

    Non-finite values are rejected unless they sit in poses marked invalid
    (``valid`` is a bool mask of shape ``pred.shape[:-2]``); invalid poses are
    replaced by zeros so they cannot poison batched computations. With
    ``root``, that joint is subtracted from every joint of pred and target.
    """
    p, t, was_numpy = as_pair(pred, target, min_ndim=min_ndim)
    if channels is not None and p.shape[-1] not in channels:
        want = " or ".join(str(c) for c in channels)
        raise ValueError(f"pred must have {want} coordinates on the last dim, got shape {tuple(p.shape)}")
    root = normalise_index(root, p.shape[-2], "root")
    mask = None
    if valid is not None:
        mask = _as_mask(valid, tuple(p.shape[:-2]), p.device)
        keep = mask[..., None, None]
        p = torch.where(keep, p, torch.zeros((), dtype=p.dtype, device=p.device))
        t = torch.where(keep, t, torch.zeros((), dtype=t.dtype, device=t.device))
    for name, x in (("pred", p), ("target", t)):
        if not bool(torch.isfinite(x).all()):
            hint = "" if valid is not None else "; pass valid=... (bool, one flag per pose) to exclude poses"
            raise ValueError(f"{name} contains NaN or inf values in valid poses{hint}")
    if root is not None:
        p = p - p[..., root : root + 1, :]
        t = t - t[..., root : root + 1, :]
    return MetricInputs(p, t, mask, was_numpy)


def reduce_metric(values: torch.Tensor, valid: Optional[torch.Tensor], reduction: str) -> torch.Tensor:
    """Reduce per-pose values ``(...,)`` over the valid ones.

    ``"mean"``: mean over valid values (NaN if none is valid); ``"sum"``: sum
    over valid values; ``"none"``: the values, NaN where invalid.
    """
    check_reduction(reduction)
    if valid is None:
        if reduction == "mean":
            return values.mean()
        return values.sum() if reduction == "sum" else values
    zero = torch.zeros((), dtype=values.dtype, device=values.device)
    if reduction == "none":
        return torch.where(valid, values, torch.full((), float("nan"), dtype=values.dtype, device=values.device))
    total = torch.where(valid, values, zero).sum()
    if reduction == "sum":
        return total
    return total / valid.sum().to(values.dtype)


def frame_mask(valid: Optional[torch.Tensor], span: int) -> Optional[torch.Tensor]:
    """Validity of finite differences over ``span`` consecutive frames (frames on the last mask dim)."""
    if valid is None:
        return None
    num = valid.shape[-1] - span + 1
    out = valid[..., :num]
    for k in range(1, span):
        out = out & valid[..., k : k + num]
    return out
