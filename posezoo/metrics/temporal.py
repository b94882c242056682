"""Temporal metrics: mean per-joint velocity error (MPJVE) and acceleration error.

Inputs are sequences ``(..., T, J, C)`` with frames on dim -3. A velocity
value at frame t uses frames t and t+1 and is valid only if both poses are
valid; an acceleration value at t uses frames t, t+1, t+2. Reductions, units
(``scale``), dtypes and numpy/torch handling as in :mod:`posezoo.metrics.position`.
"""

from __future__ import annotations

from typing import Optional

import torch

from .._arrays import ArrayLike, check_frames, check_reduction, to_output
from ._common import check_scale, frame_mask, prepare_metric, reduce_metric

__all__ = ["mpjve", "accel_error"]


def _finite_difference(x: torch.Tensor, order: int) -> torch.Tensor:
    for _ in range(order):
        x = x[..., 1:, :, :] - x[..., :-1, :, :]
    return x


def _temporal_metric(
    pred: ArrayLike,
    target: ArrayLike,
    order: int,
    root: Optional[int],
    valid: Optional[ArrayLike],
    scale: float,
    reduction: str,
) -> ArrayLike:
    check_reduction(reduction)
    scale = check_scale(scale)
    m = prepare_metric(pred, target, valid=valid, root=root, min_ndim=3)
    check_frames(m.pred, order + 1)
    diff = _finite_difference(m.pred, order) - _finite_difference(m.target, order)
    per_frame = torch.linalg.vector_norm(diff, dim=-1).mean(dim=-1) * scale  # (..., T - order)
    return to_output(reduce_metric(per_frame, frame_mask(m.valid, order + 1), reduction), m.was_numpy)


def mpjve(
    pred: ArrayLike,
    target: ArrayLike,
    *,
    root: Optional[int] = None,
    valid: Optional[ArrayLike] = None,
    scale: float = 1.0,
    reduction: str = "mean",
) -> ArrayLike:
    """Mean per-joint velocity error: mean over frames and joints of ``||(p_{t+1} - p_t) - (g_{t+1} - g_t)||``.

    As VideoPose3D's ``mean_velocity_error`` and the RTPCA/MixSTE MPJVE. Units:
    input unit per frame (times ``scale``).

    Args:
        pred, target: ``(..., T, J, C)``, T >= 2.
        root: subtract this joint first (root-relative velocities).
        valid: bool ``(..., T)`` per-pose mask.
        scale: unit factor.
        reduction: ``"none"`` gives per-frame values ``(..., T - 1)``.
    """
    return _temporal_metric(pred, target, 1, root, valid, scale, reduction)


def accel_error(
    pred: ArrayLike,
    target: ArrayLike,
    *,
    root: Optional[int] = None,
    valid: Optional[ArrayLike] = None,
    scale: float = 1.0,
    reduction: str = "mean",
) -> ArrayLike:
    """Acceleration error: mean over frames and joints of ``||a(pred)_t - a(target)_t||``.

    ``a(x)_t = x_t - 2 x_{t+1} + x_{t+2}`` (second finite difference, no
    division by the frame time), as in DeciWatch/MixSynthFormer and the RTPCA
    ablation. Units: input unit per frame squared (times ``scale``). Arguments as
    :func:`mpjve`; ``T >= 3``; ``reduction="none"`` gives ``(..., T - 2)``.
    """
    return _temporal_metric(pred, target, 2, root, valid, scale, reduction)
