"""Per-frame position losses: MPJPE, weighted MPJPE (RTPCA/MixSTE), L1 (MixSynthFormer), future MPJPE.

Every loss takes ``pred`` and ``target`` of the same shape ``(..., J, C)``
(any leading dims), numpy or torch (the result has the same kind), and a
``reduction``: ``"mean"`` (default), ``"sum"`` or ``"none"``. ``"none"``
returns the unreduced terms whose mean is the ``"mean"`` result. Losses are in
the unit of the input (metres in posezoo's convention). Half/bfloat16 inputs
are computed in float32 and give float32 results.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import nn

from .._arrays import ArrayLike, check_frames, check_reduction, to_output
from ._common import WeightsLike, prepare, reduce, resolve_weights, weights_for

__all__ = [
    "mpjpe_loss",
    "wmpjpe_loss",
    "pose_l1_loss",
    "future_mpjpe_loss",
    "MPJPELoss",
    "WMPJPE",
    "PoseL1Loss",
    "FutureMPJPE",
]


def _weighted_distances(
    p: torch.Tensor, t: torch.Tensor, weights: Optional[torch.Tensor], squared: bool
) -> torch.Tensor:
    diff = p - t
    dist = diff.square().sum(dim=-1) if squared else torch.linalg.vector_norm(diff, dim=-1)
    w = weights_for(weights, p)
    return dist if w is None else dist * w


def mpjpe_loss(pred: ArrayLike, target: ArrayLike, *, reduction: str = "mean", check_finite: bool = True) -> ArrayLike:
    """Mean per-joint position error ``mean_j ||pred_j - target_j||_2`` as a loss.

    Args:
        pred, target: ``(..., J, C)``.
        reduction: ``"none"`` gives the per-joint distances ``(..., J)``.
        check_finite: raise ``ValueError`` on NaN/inf inputs (skipped under ``torch.compile``).
    """
    check_reduction(reduction)
    p, t, was_numpy = prepare(pred, target, finite=check_finite)
    return to_output(reduce(_weighted_distances(p, t, None, False), reduction), was_numpy)


def wmpjpe_loss(
    pred: ArrayLike,
    target: ArrayLike,
    weights: WeightsLike = "h36m",
    *,
    squared: bool = False,
    reduction: str = "mean",
    check_finite: bool = True,
) -> ArrayLike:
    """Weighted MPJPE of the RTPCA/MixSTE training code: mean over joints (and frames) of ``w_j * ||p - g||_2``.

    The mean is a plain mean of the weighted distances (not divided by ``sum(w)``).
    The RTPCA paper writes a squared norm; the released code uses the plain
    L2 norm, which is the default here. ``squared=True`` gives the paper's
    ``w_j * ||p - g||_2^2``.

    Args:
        pred, target: ``(..., J, C)``.
        weights: ``(J,)`` weights as a tensor, list or array, a skeleton name
            (``"h36m"``: the released H36M-17 vector, ``"humaneva"``), or ``None``
            for no weighting (plain MPJPE).
        squared: use the squared distance (paper formula).
        reduction: ``"none"`` gives the weighted per-joint terms ``(..., J)``.
        check_finite: raise ``ValueError`` on NaN/inf inputs.
    """
    check_reduction(reduction)
    w = resolve_weights(weights)
    p, t, was_numpy = prepare(pred, target, finite=check_finite)
    return to_output(reduce(_weighted_distances(p, t, w, squared), reduction), was_numpy)


def pose_l1_loss(
    pred: ArrayLike, target: ArrayLike, *, reduction: str = "mean", check_finite: bool = True
) -> ArrayLike:
    """Mean absolute error over every element: MixSynthFormer's loss (``F.l1_loss``) on the whole window.

    Args:
        pred, target: ``(..., J, C)``; for MixSynthFormer the full recovered window
            ``(B, W, J, C)``, keyframes included.
        reduction: ``"none"`` gives ``|pred - target|`` with the input's shape.
    """
    check_reduction(reduction)
    p, t, was_numpy = prepare(pred, target, finite=check_finite)
    return to_output(reduce((p - t).abs(), reduction), was_numpy)


def _check_history(history: Any) -> int:
    if isinstance(history, bool) or not isinstance(history, int) or history < 0:
        raise ValueError(f"history must be an int >= 0 (number of observed frames), got {history!r}")
    return history


def future_mpjpe_loss(
    pred: ArrayLike,
    target: ArrayLike,
    history: int,
    *,
    reduction: str = "mean",
    check_finite: bool = True,
) -> ArrayLike:
    """MPJPE on the future frames only (motion prediction): frames ``history:`` of the window.

    Args:
        pred, target: full windows ``(..., T, J, C)`` (observed + predicted frames).
        history: number of observed frames at the start of the window; ``0 <= history < T``.
        reduction: ``"none"`` gives the per-joint distances ``(..., T - history, J)``.
    """
    check_reduction(reduction)
    history = _check_history(history)
    p, t, was_numpy = prepare(pred, target, min_ndim=3, finite=check_finite)
    check_frames(p, history + 1)
    dist = _weighted_distances(p[..., history:, :, :], t[..., history:, :, :], None, False)
    return to_output(reduce(dist, reduction), was_numpy)


class MPJPELoss(nn.Module):
    """Module form of :func:`mpjpe_loss`: ``forward(pred, target)`` with ``(..., J, C)`` inputs."""

    def __init__(self, reduction: str = "mean", check_finite: bool = True) -> None:
        super().__init__()
        self.reduction = check_reduction(reduction)
        self.check_finite = check_finite

    def forward(self, pred: ArrayLike, target: ArrayLike) -> ArrayLike:
        return mpjpe_loss(pred, target, reduction=self.reduction, check_finite=self.check_finite)


class WMPJPE(nn.Module):
    """Module form of :func:`wmpjpe_loss` (weights kept as a non-persistent buffer).

    Args:
        weights: per-joint weights (tensor, list, skeleton name) or ``None``; default H36M-17.
        squared: the paper's squared norm instead of the released code's L2 norm.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
    """

    def __init__(
        self,
        weights: WeightsLike = "h36m",
        squared: bool = False,
        reduction: str = "mean",
        check_finite: bool = True,
    ) -> None:
        super().__init__()
        self.register_buffer("weights", resolve_weights(weights), persistent=False)
        self.squared = bool(squared)
        self.reduction = check_reduction(reduction)
        self.check_finite = check_finite

    def forward(self, pred: ArrayLike, target: ArrayLike) -> ArrayLike:
        return wmpjpe_loss(
            pred,
            target,
            self.weights,
            squared=self.squared,
            reduction=self.reduction,
            check_finite=self.check_finite,
        )

    def extra_repr(self) -> str:
        n = None if self.weights is None else self.weights.numel()
        return f"num_weights={n}, squared={self.squared}, reduction={self.reduction!r}"


class PoseL1Loss(nn.Module):
    """Module form of :func:`pose_l1_loss` (MixSynthFormer)."""

    def __init__(self, reduction: str = "mean", check_finite: bool = True) -> None:
        super().__init__()
        self.reduction = check_reduction(reduction)
        self.check_finite = check_finite

    def forward(self, pred: ArrayLike, target: ArrayLike) -> ArrayLike:
        return pose_l1_loss(pred, target, reduction=self.reduction, check_finite=self.check_finite)


class FutureMPJPE(nn.Module):
    """Module form of :func:`future_mpjpe_loss`: MPJPE on frames ``history:`` of ``(..., T, J, C)`` windows."""

    def __init__(self, history: int, reduction: str = "mean", check_finite: bool = True) -> None:
        super().__init__()
        self.history = _check_history(history)
        self.reduction = check_reduction(reduction)
        self.check_finite = check_finite

    def forward(self, pred: ArrayLike, target: ArrayLike) -> ArrayLike:
        return future_mpjpe_loss(pred, target, self.history, reduction=self.reduction, check_finite=self.check_finite)

    def extra_repr(self) -> str:
        return f"history={self.history}, reduction={self.reduction!r}"
