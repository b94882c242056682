"""Percentage of correct keypoints: 3D PCK/AUC (MPI-INF-3DHP) and 2D PCK (JHMDB, as in DeciWatch).

Values are fractions in [0, 1] (papers print them times 100). Per pose, the
fraction of its joints that are correct; ``"mean"`` averages poses (= the
fraction of all joints, as every pose has J joints). Reductions, ``valid``
masks, numpy/torch and dtypes as in :mod:`posezoo.metrics.position`.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch

from .._arrays import ArrayLike, check_reduction, to_output
from ._common import check_scale, prepare_metric, reduce_metric

__all__ = ["AUC_THRESHOLDS_MM", "PCK3D_THRESHOLD_MM", "PCK2D_ALPHAS", "pck3d", "auc3d", "pck2d"]

PCK3D_THRESHOLD_MM = 150.0
AUC_THRESHOLDS_MM: tuple[float, ...] = tuple(float(t) for t in range(0, 151, 5))  # 31 thresholds
PCK2D_ALPHAS: tuple[float, ...] = (0.2, 0.1, 0.05)


def _check_threshold(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def _pck_curve(
    pred: ArrayLike,
    target: ArrayLike,
    thresholds: Sequence[float],
    root: Optional[int],
    valid: Optional[ArrayLike],
    scale: float,
    reduction: str,
) -> ArrayLike:
    check_reduction(reduction)
    scale = check_scale(scale)
    m = prepare_metric(pred, target, valid=valid, root=root)
    err = torch.linalg.vector_norm(m.pred - m.target, dim=-1) * scale  # (..., J)
    th = torch.tensor(thresholds, dtype=err.dtype, device=err.device)
    correct = (err[..., None] < th).to(err.dtype)  # (..., J, K)
    per_pose = correct.mean(dim=(-2, -1))
    return to_output(reduce_metric(per_pose, m.valid, reduction), m.was_numpy)


def pck3d(
    pred: ArrayLike,
    target: ArrayLike,
    threshold: float = PCK3D_THRESHOLD_MM,
    *,
    root: Optional[int] = None,
    valid: Optional[ArrayLike] = None,
    scale: float = 1.0,
    reduction: str = "mean",
) -> ArrayLike:
    """3D PCK: fraction of joints whose error is strictly below ``threshold`` (MPI-INF-3DHP protocol).

    The threshold is in the unit of ``input * scale``: the default 150 is mm,
    so pass millimetre poses or ``scale=unit_scale("m", "mm")`` for metres. The
    3DHP protocol uses root-relative poses (``root=`` the pelvis index) and
    the joints its evaluation selects (slice them before calling).

    Args:
        pred, target: ``(..., J, 3)``.
        threshold: distance threshold (150 mm in the protocol).
        root, valid, scale, reduction: as :func:`~posezoo.metrics.mpjpe`; ``"none"`` gives ``(...,)``.
    """
    th = _check_threshold(threshold, "threshold")
    return _pck_curve(pred, target, (th,), root, valid, scale, reduction)


def auc3d(
    pred: ArrayLike,
    target: ArrayLike,
    thresholds: Sequence[float] = AUC_THRESHOLDS_MM,
    *,
    root: Optional[int] = None,
    valid: Optional[ArrayLike] = None,
    scale: float = 1.0,
    reduction: str = "mean",
) -> ArrayLike:
    """Area under the 3D PCK curve: the mean of :func:`pck3d` over ``thresholds``.

    MPI-INF-3DHP uses the 31 thresholds 0, 5, ..., 150 mm and a plain mean
    (no trapezoid rule); the threshold 0 always scores 0. Threshold units as
    :func:`pck3d`.
    """
    ths = [_check_threshold(t, "thresholds entry") for t in thresholds]
    if not ths:
        raise ValueError("thresholds must not be empty")
    return _pck_curve(pred, target, ths, root, valid, scale, reduction)


def _pose_tensor(x: ArrayLike, name: str, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(np.ascontiguousarray(x))
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a numpy array or tensor, got {type(x).__name__}")
    if not torch.is_floating_point(x):
        x = x.to(torch.float64)
    if tuple(x.shape) != shape:
        raise ValueError(f"{name} must have shape {shape}, got {tuple(x.shape)}")
    return x.to(device=like.device, dtype=like.dtype)


def pck2d(
    pred: ArrayLike,
    target: ArrayLike,
    alpha: float = 0.2,
    *,
    bbox: Optional[ArrayLike] = None,
    bbox_size: Optional[ArrayLike] = None,
    valid: Optional[ArrayLike] = None,
    reduction: str = "mean",
) -> ArrayLike:
    """2D PCK at ``alpha`` times the person size (JHMDB protocol as in DeciWatch/MixSynthFormer).

    A joint is correct when ``||pred - target|| <= alpha * size`` (inclusive,
    as DeciWatch). The size is ``max(box width, box height)`` of the person
    bounding box: from ``bbox`` ``(..., 4)`` as ``(x1, y1, x2, y2)``, or given
    directly as ``bbox_size`` ``(...,)``, or (neither given) the tight box of
    the target joints. The field reports alpha = 0.2, 0.1, 0.05
    (:data:`PCK2D_ALPHAS`). DeciWatch averages PCK per sequence and then over
    sequences; ``"mean"`` here averages poses (the same when sequences have
    equal length; use :class:`~posezoo.metrics.Evaluator` with sequence labels
    and ``group_actions=False`` for per-sequence averaging).

    Args:
        pred, target: ``(..., J, 2)`` in the same unit as the box (pixels).
        alpha: fraction of the person size.
        bbox: ``(..., 4)`` boxes, or ``None``.
        bbox_size: ``(...,)`` sizes, or ``None`` (not both with ``bbox``).
        valid, reduction: as :func:`~posezoo.metrics.mpjpe`.
    """
    check_reduction(reduction)
    alpha = _check_threshold(alpha, "alpha")
    if bbox is not None and bbox_size is not None:
        raise ValueError("pass bbox or bbox_size, not both")
    m = prepare_metric(pred, target, valid=valid, channels=(2,))
    lead = tuple(m.pred.shape[:-2])
    if bbox is not None:
        box = _pose_tensor(bbox, "bbox", lead + (4,), m.pred)
        size = torch.maximum(box[..., 2] - box[..., 0], box[..., 3] - box[..., 1])
    elif bbox_size is not None:
        size = _pose_tensor(bbox_size, "bbox_size", lead, m.pred)
    else:
        extent = m.target.amax(dim=-2) - m.target.amin(dim=-2)  # (..., 2)
        size = extent.amax(dim=-1)
    if m.valid is not None:
        size = torch.where(m.valid, size, torch.zeros((), dtype=size.dtype, device=size.device))
    if not bool(torch.isfinite(size).all()) or bool((size < 0).any()):
        raise ValueError("person sizes must be finite and >= 0 (check bbox: x2 >= x1, y2 >= y1)")
    err = torch.linalg.vector_norm(m.pred - m.target, dim=-1)
    per_pose = (err <= alpha * size[..., None]).to(err.dtype).mean(dim=-1)
    return to_output(reduce_metric(per_pose, m.valid, reduction), m.was_numpy)
