"""Per-pose position metrics: MPJPE, N-MPJPE (scale-aligned), P-MPJPE (Procrustes-aligned).

Inputs are poses ``(..., J, C)`` with any leading dims, numpy or torch (the
result has the same kind). Each metric is computed per pose (frame) and then
reduced: ``"mean"`` (default) over all valid poses, ``"sum"``, or ``"none"``
for the per-pose values ``(...,)`` (NaN where ``valid`` is False). Results are
in the input unit times ``scale`` (``scale=unit_scale("m", "mm")`` reports mm
for posezoo's metre poses). float32/float64 inputs keep their dtype;
half/bfloat16 are computed in float32. P-MPJPE aligns in float64.
"""

from __future__ import annotations

from typing import Optional

import torch

from .._arrays import ArrayLike, as_tensor, check_reduction, normalise_index, to_output
from ._common import check_scale, prepare_metric, reduce_metric
from ._procrustes import scale_align, similarity_align

__all__ = ["joint_errors", "mpjpe", "n_mpjpe", "p_mpjpe", "procrustes_align", "root_relative"]


def _distances(p: torch.Tensor, t: torch.Tensor, scale: float) -> torch.Tensor:
    return torch.linalg.vector_norm(p - t, dim=-1) * scale


def root_relative(x: ArrayLike, root: int = 0) -> ArrayLike:
    """Subtract joint ``root`` from every joint: ``x - x[..., root:root+1, :]`` (same kind and shape)."""
    t, was_numpy = as_tensor(x, "x")
    if t.ndim < 2:
        raise ValueError(f"x must have shape (..., J, C), got {tuple(t.shape)}")
    r = normalise_index(root, t.shape[-2], "root")
    return to_output(t - t[..., r : r + 1, :], was_numpy)


def joint_errors(
    pred: ArrayLike,
    target: ArrayLike,
    *,
    root: Optional[int] = None,
    align: Optional[str] = None,
    scale: float = 1.0,
) -> ArrayLike:
    """Per-joint Euclidean errors ``(..., J)`` (for per-joint breakdowns and PCK curves).

    Args:
        pred, target: ``(..., J, C)``.
        root: subtract this joint from pred and target first (root-relative errors).
        align: ``None``, ``"scale"`` (N-MPJPE alignment) or ``"procrustes"`` (P-MPJPE alignment).
        scale: unit factor applied to the errors.
    """
    if align not in (None, "scale", "procrustes"):
        raise ValueError(f"align must be None, 'scale' or 'procrustes', got {align!r}")
    scale = check_scale(scale)
    m = prepare_metric(pred, target, root=root)
    p = m.pred
    if align == "scale":
        p = scale_align(p, m.target)
    elif align == "procrustes":
        p = similarity_align(p, m.target).to(p.dtype)
    return to_output(_distances(p, m.target, scale), m.was_numpy)


def mpjpe(
    pred: ArrayLike,
    target: ArrayLike,
    *,
    root: Optional[int] = None,
    valid: Optional[ArrayLike] = None,
    scale: float = 1.0,
    reduction: str = "mean",
) -> ArrayLike:
    """Mean per-joint position error (H36M protocol #1): ``mean_j ||pred_j - target_j||_2`` per pose.

    Args:
        pred, target: ``(..., J, C)``.
        root: subtract this joint from pred and target first (``None``: as given).
        valid: bool mask ``(...,)`` = ``pred.shape[:-2]``; invalid poses may hold NaN and are excluded.
        scale: unit factor (see :func:`~posezoo.metrics.unit_scale`).
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per pose ``(...,)``).
    """
    check_reduction(reduction)
    scale = check_scale(scale)
    m = prepare_metric(pred, target, valid=valid, root=root)
    per_pose = _distances(m.pred, m.target, scale).mean(dim=-1)
    return to_output(reduce_metric(per_pose, m.valid, reduction), m.was_numpy)


def n_mpjpe(
    pred: ArrayLike,
    target: ArrayLike,
    *,
    root: Optional[int] = None,
    valid: Optional[ArrayLike] = None,
    scale: float = 1.0,
    reduction: str = "mean",
) -> ArrayLike:
    """MPJPE after the optimal per-pose scaling of the prediction (N-MPJPE, VideoPose3D protocol #3).

    ``s = <pred, target> / <pred, pred>`` over all joints and coordinates of
    the pose, then ``mpjpe(s * pred, target)``. No rotation or translation:
    apply it to root-relative poses (``root=...`` or already centred). An
    all-zero prediction gets ``s = 0``. Arguments as :func:`mpjpe`.
    """
    check_reduction(reduction)
    scale = check_scale(scale)
    m = prepare_metric(pred, target, valid=valid, root=root)
    per_pose = _distances(scale_align(m.pred, m.target), m.target, scale).mean(dim=-1)
    return to_output(reduce_metric(per_pose, m.valid, reduction), m.was_numpy)


def p_mpjpe(
    pred: ArrayLike,
    target: ArrayLike,
    *,
    root: Optional[int] = None,
    valid: Optional[ArrayLike] = None,
    scale: float = 1.0,
    reduction: str = "mean",
) -> ArrayLike:
    """MPJPE after a per-pose similarity alignment (P-MPJPE / PA-MPJPE, H36M protocol #2).

    Each predicted pose is mapped by the scale, rotation (det +1: reflections
    are excluded) and translation that minimise the squared error to the
    target (Umeyama), computed with a batched float64 SVD, then the MPJPE is
    taken. Translation invariance makes ``root`` irrelevant (accepted for a
    uniform API). Degenerate poses (all joints equal, collinear joints) give
    finite values and finite gradients, so it can be used as a loss.
    Arguments as :func:`mpjpe`; ``C >= 2``.
    """
    check_reduction(reduction)
    scale = check_scale(scale)
    m = prepare_metric(pred, target, valid=valid, root=root)
    if m.pred.shape[-1] < 2:
        raise ValueError(f"p_mpjpe needs at least 2 coordinates, got shape {tuple(m.pred.shape)}")
    aligned = similarity_align(m.pred, m.target)
    per_pose = _distances(aligned, m.target.to(torch.float64), scale).mean(dim=-1).to(m.pred.dtype)
    return to_output(reduce_metric(per_pose, m.valid, reduction), m.was_numpy)


def procrustes_align(pred: ArrayLike, target: ArrayLike) -> ArrayLike:
    """``pred`` mapped onto ``target`` by the per-pose similarity transform of :func:`p_mpjpe`.

    Args:
        pred, target: ``(..., J, C)``, C >= 2, finite.

    Returns:
        Aligned poses ``(..., J, C)`` in pred's (compute) dtype, same kind as the input.
    """
    m = prepare_metric(pred, target)
    if m.pred.shape[-1] < 2:
        raise ValueError(f"procrustes_align needs at least 2 coordinates, got shape {tuple(m.pred.shape)}")
    return to_output(similarity_align(m.pred, m.target).to(m.pred.dtype), m.was_numpy)
