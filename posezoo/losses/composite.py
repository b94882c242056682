"""Composite training losses of the papers: RTPCA/MixSTE and Uplift-and-Upsample.

A composite loss adds terms of different shapes, so its ``reduction="none"``
returns one value per sequence (the leading dims before ``(T, J, C)``):
``"mean"`` is the mean of those values (equal to the sum of the weighted
component means, since each sequence has the same number of terms), ``"sum"``
their sum.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from .._arrays import ArrayLike, as_tensor, check_frames, check_reduction, normalise_index, to_output
from ._common import WeightsLike, check_coefficient, prepare, reduce, resolve_weights, weights_for
from .temporal import velocity

__all__ = ["rtpca_loss", "uplift_upsample_loss", "RTPCALoss", "UpliftUpsampleLoss"]


def _rtpca_terms(
    p: torch.Tensor, t: torch.Tensor, w: Optional[torch.Tensor], lambda_t: float, lambda_m: float
) -> torch.Tensor:
    """Per-sequence ``L_w + lambda_t L_tc + lambda_m L_v``, shape ``p.shape[:-3]``."""
    wt = weights_for(w, p)
    dist = torch.linalg.vector_norm(p - t, dim=-1)  # (..., T, J)
    tc = velocity(p).square()  # (..., T-1, J, C)
    if wt is not None:
        dist = dist * wt
        tc = tc * wt[:, None]
    vel = torch.linalg.vector_norm(velocity(p) - velocity(t), dim=-1)  # (..., T-1, J)
    return dist.mean(dim=(-2, -1)) + lambda_t * tc.mean(dim=(-3, -2, -1)) + lambda_m * vel.mean(dim=(-2, -1))


def _scale_grad_by_value(loss: torch.Tensor) -> torch.Tensor:
    """Same value as ``loss``; gradient multiplied by ``loss`` (like ``loss.backward(loss.detach())``)."""
    value = loss.detach()
    return value + value * (loss - value)


def rtpca_loss(
    pred: ArrayLike,
    target: ArrayLike,
    weights: WeightsLike = "h36m",
    *,
    lambda_t: float = 0.5,
    lambda_m: float = 2.0,
    target_root: Optional[int] = None,
    scale_grad_by_loss: bool = False,
    reduction: str = "mean",
    check_finite: bool = True,
) -> ArrayLike:
    """RTPCA/MixSTE training loss ``L = L_w + lambda_t * L_tc + lambda_m * L_v``.

    ``L_w`` is :func:`~posezoo.losses.wmpjpe_loss` (plain L2 norm), ``L_tc``
    :func:`~posezoo.losses.tc_loss` (same weights), ``L_v``
    :func:`~posezoo.losses.mpjve_loss`; 0.5 and 2.0 are the coefficients of the
    released training loops.

    Quirk of the released loop: it calls ``L.backward(L.detach())``, which
    scales the gradient by the loss value, so the objective it effectively
    minimises is ``L^2 / 2``. This function does NOT do that by default (a plain
    ``loss.backward()`` minimises ``L``). ``scale_grad_by_loss=True`` reproduces
    the released dynamics: the returned value is still ``L`` (for logging), but
    its gradient is ``L * dL`` (requires ``reduction="mean"``).

    Args:
        pred, target: ``(..., T, J, 3)``, T >= 2 (the paper trains on T = 243).
        weights: per-joint weights of ``L_w`` and ``L_tc`` (default H36M-17), or ``None``.
        lambda_t, lambda_m: coefficients of ``L_tc`` and ``L_v``.
        target_root: if given, that joint of the target is set to zero first
            (the released loop zeroes joint 0 of the VideoPose3D-format target).
            ``None`` leaves the target as it is (posezoo targets are root-relative already).
        scale_grad_by_loss: reproduce the ``L.backward(L.detach())`` quirk.
        reduction: ``"none"`` gives the per-sequence loss ``(...,)`` = ``pred.shape[:-3]``.
    """
    check_reduction(reduction)
    lambda_t = check_coefficient(lambda_t, "lambda_t")
    lambda_m = check_coefficient(lambda_m, "lambda_m")
    if scale_grad_by_loss and reduction != "mean":
        raise ValueError(f"scale_grad_by_loss needs reduction='mean' (a scalar loss), got {reduction!r}")
    w = resolve_weights(weights)
    p, t, was_numpy = prepare(pred, target, min_ndim=3, finite=check_finite)
    check_frames(p, 2)
    root = normalise_index(target_root, t.shape[-2], "target_root")
    if root is not None:
        t = t.clone()
        t[..., root, :] = 0
    loss = reduce(_rtpca_terms(p, t, w, lambda_t, lambda_m), reduction)
    if scale_grad_by_loss:
        loss = _scale_grad_by_value(loss)
    return to_output(loss, was_numpy)


def uplift_upsample_loss(
    full_pred: Optional[ArrayLike],
    central_pred: ArrayLike,
    target: ArrayLike,
    *,
    w_seq: float = 0.5,
    w_center: float = 0.5,
    reduction: str = "mean",
    check_finite: bool = True,
) -> ArrayLike:
    """Uplift-and-Upsample loss: ``w_seq * MPJPE(full sequence) + w_center * MPJPE(central frame)``.

    Both terms are mean per-joint Euclidean distances; the sequence term covers
    every output frame (keyframes and upsampled frames alike). The central frame
    is token ``N // 2``. Without a full-sequence output (``full_pred=None``: a
    model without temporal blocks), the loss is ``(w_seq + w_center) * centre``,
    as in the official code. 0.5/0.5 are the weights of every released config.
    The official code divides by the configured batch size; this is the same for
    the full batches it trains on.

    Args:
        full_pred: ``(..., N, J, 3)`` sequence output at the output stride, or ``None``.
        central_pred: ``(..., J, 3)`` central-frame output.
        target: ``(..., N, J, 3)`` root-relative 3D targets at the output stride.
        w_seq, w_center: weights of the sequence and centre terms.
        reduction: ``"none"`` gives one value per sequence ``(...,)``.
    """
    check_reduction(reduction)
    w_seq = check_coefficient(w_seq, "w_seq")
    w_center = check_coefficient(w_center, "w_center")
    t, was_numpy = as_tensor(target, "target")
    check_frames(t, 1, "target")
    center_index = t.shape[-3] // 2
    c, c_np = as_tensor(central_pred, "central_pred")
    if c_np != was_numpy:
        raise TypeError("central_pred and target must be the same kind (both numpy or both torch)")
    t_center = t[..., center_index, :, :]
    if c.shape != t_center.shape:
        raise ValueError(
            f"central_pred must have shape {tuple(t_center.shape)} (target {tuple(t.shape)} without "
            f"its frame dim), got {tuple(c.shape)}"
        )
    c, t_center, _ = prepare(c, t_center, finite=check_finite, names=("central_pred", "target"))
    per_seq = torch.linalg.vector_norm(c - t_center, dim=-1).mean(dim=-1)
    if full_pred is None:
        per_seq = (w_seq + w_center) * per_seq
    else:
        f, f_np = as_tensor(full_pred, "full_pred")
        if f_np != was_numpy:
            raise TypeError("full_pred and target must be the same kind (both numpy or both torch)")
        f, tt, _ = prepare(f, t, min_ndim=3, finite=check_finite, names=("full_pred", "target"))
        seq = torch.linalg.vector_norm(f - tt, dim=-1).mean(dim=(-2, -1))
        per_seq = w_seq * seq + w_center * per_seq.to(seq.dtype)
    return to_output(reduce(per_seq, reduction), was_numpy)


class RTPCALoss(nn.Module):
    """Module form of :func:`rtpca_loss` (``WMPJPE + lambda_t * TCLoss + lambda_m * MPJVE``).

    Args:
        lambda_t: weight of the temporal-consistency term (0.5 in the released loop).
        lambda_m: weight of the velocity term (2.0 in the released loop).
        weights: per-joint weights (default H36M-17), list/tensor/skeleton name or ``None``.
        target_root: joint of the target to zero before the loss, or ``None``.
        scale_grad_by_loss: reproduce the released ``L.backward(L.detach())``
            quirk (gradient ``L * dL``, effective objective ``L^2 / 2``); off by default.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per sequence).
    """

    def __init__(
        self,
        lambda_t: float = 0.5,
        lambda_m: float = 2.0,
        weights: WeightsLike = "h36m",
        target_root: Optional[int] = None,
        scale_grad_by_loss: bool = False,
        reduction: str = "mean",
        check_finite: bool = True,
    ) -> None:
        super().__init__()
        self.lambda_t = check_coefficient(lambda_t, "lambda_t")
        self.lambda_m = check_coefficient(lambda_m, "lambda_m")
        self.register_buffer("weights", resolve_weights(weights), persistent=False)
        if target_root is not None and (isinstance(target_root, bool) or not isinstance(target_root, int)):
            raise TypeError(f"target_root must be an int joint index or None, got {target_root!r}")
        self.target_root = target_root
        self.reduction = check_reduction(reduction)
        if scale_grad_by_loss and reduction != "mean":
            raise ValueError(f"scale_grad_by_loss needs reduction='mean', got {reduction!r}")
        self.scale_grad_by_loss = bool(scale_grad_by_loss)
        self.check_finite = check_finite

    def forward(self, pred: ArrayLike, target: ArrayLike) -> ArrayLike:
        return rtpca_loss(
            pred,
            target,
            self.weights,
            lambda_t=self.lambda_t,
            lambda_m=self.lambda_m,
            target_root=self.target_root,
            scale_grad_by_loss=self.scale_grad_by_loss,
            reduction=self.reduction,
            check_finite=self.check_finite,
        )

    def extra_repr(self) -> str:
        return (
            f"lambda_t={self.lambda_t}, lambda_m={self.lambda_m}, target_root={self.target_root}, "
            f"scale_grad_by_loss={self.scale_grad_by_loss}, reduction={self.reduction!r}"
        )


class UpliftUpsampleLoss(nn.Module):
    """Module form of :func:`uplift_upsample_loss`: ``forward(full_pred, central_pred, target)``.

    Args:
        w_seq: weight of the full-sequence MPJPE (0.5 in the released configs).
        w_center: weight of the central-frame MPJPE (0.5 in the released configs).
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per sequence).
    """

    def __init__(
        self, w_seq: float = 0.5, w_center: float = 0.5, reduction: str = "mean", check_finite: bool = True
    ) -> None:
        super().__init__()
        self.w_seq = check_coefficient(w_seq, "w_seq")
        self.w_center = check_coefficient(w_center, "w_center")
        self.reduction = check_reduction(reduction)
        self.check_finite = check_finite

    def forward(self, full_pred: Optional[ArrayLike], central_pred: ArrayLike, target: ArrayLike) -> ArrayLike:
        return uplift_upsample_loss(
            full_pred,
            central_pred,
            target,
            w_seq=self.w_seq,
            w_center=self.w_center,
            reduction=self.reduction,
            check_finite=self.check_finite,
        )

    def extra_repr(self) -> str:
        return f"w_seq={self.w_seq}, w_center={self.w_center}, reduction={self.reduction!r}"
