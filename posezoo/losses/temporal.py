"""Temporal losses of the RTPCA/MixSTE training loop: temporal consistency (TCLoss) and velocity error (MPJVE).

Inputs are sequences ``(..., T, J, C)`` with frames on dim -3 and ``T >= 2``.
Conventions as in :mod:`posezoo.losses.position` (numpy/torch, reductions, units).
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from .._arrays import ArrayLike, as_tensor, check_frames, check_reduction, to_output
from .._arrays import check_finite as _check_finite
from ._common import WeightsLike, prepare, reduce, resolve_weights, weights_for

__all__ = ["tc_loss", "mpjve_loss", "TCLoss", "MPJVE"]


def velocity(x: torch.Tensor) -> torch.Tensor:
    """First finite difference over frames: ``x[..., 1:, :, :] - x[..., :-1, :, :]`` ``(..., T-1, J, C)``."""
    return x[..., 1:, :, :] - x[..., :-1, :, :]


def tc_loss(
    pred: ArrayLike,
    weights: WeightsLike = "h36m",
    *,
    reduction: str = "mean",
    check_finite: bool = True,
) -> ArrayLike:
    """Temporal consistency loss on the prediction alone (RTPCA/MixSTE code).

    ``mean over (..., T-1, J, C) of w_j * (p_{t+1} - p_t)^2``: squared per
    coordinate, no square root, averaged over the coordinates too (so it equals
    the mean over frames and joints of ``w_j * ||p_{t+1} - p_t||^2 / C``).

    Args:
        pred: ``(..., T, J, C)``, T >= 2.
        weights: per-joint weights or skeleton name (default H36M-17 of the released code), or ``None``.
        reduction: ``"none"`` gives the terms ``(..., T-1, J, C)``.
    """
    check_reduction(reduction)
    w = resolve_weights(weights)
    p, was_numpy = as_tensor(pred, "pred")
    check_frames(p, 2)
    if check_finite:
        _check_finite(("pred", p))
    terms = velocity(p).square()
    wt = weights_for(w, p)
    if wt is not None:
        terms = terms * wt[:, None]
    return to_output(reduce(terms, reduction), was_numpy)


def mpjve_loss(pred: ArrayLike, target: ArrayLike, *, reduction: str = "mean", check_finite: bool = True) -> ArrayLike:
    """Mean per-joint velocity error: ``mean over (..., T-1, J) of ||(p_{t+1}-p_t) - (g_{t+1}-g_t)||_2``.

    Args:
        pred, target: ``(..., T, J, C)``, T >= 2.
        reduction: ``"none"`` gives the per-joint terms ``(..., T-1, J)``.
    """
    check_reduction(reduction)
    p, t, was_numpy = prepare(pred, target, min_ndim=3, finite=check_finite)
    check_frames(p, 2)
    terms = torch.linalg.vector_norm(velocity(p) - velocity(t), dim=-1)
    return to_output(reduce(terms, reduction), was_numpy)


class TCLoss(nn.Module):
    """Module form of :func:`tc_loss`: ``forward(pred, target=None)`` with ``(..., T, J, C)`` input.

    The loss depends on the prediction alone. ``forward`` takes the same ``(pred, target)``
    arguments as the other losses so that it can stand in for them (e.g. in a list of criteria
    called alike); ``target`` is **not used** beyond checking that its shape matches ``pred``.
    """

    def __init__(self, weights: WeightsLike = "h36m", reduction: str = "mean", check_finite: bool = True) -> None:
        super().__init__()
        self.register_buffer("weights", resolve_weights(weights), persistent=False)
        self.reduction = check_reduction(reduction)
        self.check_finite = check_finite

    def forward(self, pred: ArrayLike, target: Optional[ArrayLike] = None) -> ArrayLike:
        """Temporal consistency of ``pred`` ``(..., T, J, C)``; ``target`` (same shape) is ignored."""
        if target is not None and tuple(getattr(target, "shape", ())) != tuple(getattr(pred, "shape", ())):
            raise ValueError(
                f"target must have the shape of pred {tuple(getattr(pred, 'shape', ()))} (it is not used by "
                f"TCLoss, which depends on the prediction alone), got {tuple(getattr(target, 'shape', ()))}"
            )
        return tc_loss(pred, self.weights, reduction=self.reduction, check_finite=self.check_finite)

    def extra_repr(self) -> str:
        n = None if self.weights is None else self.weights.numel()
        return f"num_weights={n}, reduction={self.reduction!r}"


class MPJVE(nn.Module):
    """Module form of :func:`mpjve_loss`: ``forward(pred, target)`` with ``(..., T, J, C)`` inputs."""

    def __init__(self, reduction: str = "mean", check_finite: bool = True) -> None:
        super().__init__()
        self.reduction = check_reduction(reduction)
        self.check_finite = check_finite

    def forward(self, pred: ArrayLike, target: ArrayLike) -> ArrayLike:
        return mpjve_loss(pred, target, reduction=self.reduction, check_finite=self.check_finite)
