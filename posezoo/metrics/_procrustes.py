"""Batched similarity (Procrustes/Umeyama) and scale alignment with stable gradients.

The rotation of the Procrustes alignment is the special orthogonal polar factor
of the cross-covariance ``H = P0^T G0``: with ``H = U S V^T`` and
``D = diag(1, ..., 1, sign(det(U V^T)))``, ``R = U D V^T`` (reflections are
excluded). Autograd through ``torch.linalg.svd`` produces NaN/inf whenever two
singular values coincide (e.g. all joints equal, or collinear joints), even
though ``R`` itself only depends on ``1 / (s_i + s_j)``. :class:`_SpecialPolar`
therefore differentiates the polar factor directly:

    grad_H = U K V'^T,  K_ij = (A_ij - A_ji) / (s'_i + s'_j),  A = U^T grad_R V',

with ``V' = V D`` and ``s' = S D``; pairs whose denominator vanishes (a
rotation that is not determined by the data) get a zero gradient. Only first
derivatives are available (double backward raises).
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

__all__ = ["special_polar", "similarity_align", "scale_align"]

_REL_TOL = 1e-12
_ABS_TOL = 1e-300


class _SpecialPolar(torch.autograd.Function):
    @staticmethod
    def forward(ctx, h: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        u, s, vh = torch.linalg.svd(h)
        det = torch.linalg.det(u @ vh)
        sign = torch.where(det < 0, -torch.ones_like(det), torch.ones_like(det))
        d = torch.ones_like(s)
        d[..., -1] = sign
        v_signed = vh.mT * d[..., None, :]  # V D
        ctx.save_for_backward(u, v_signed, s * d)
        return u @ v_signed.mT

    @staticmethod
    @once_differentiable  # u, s, v are saved constants: no second derivatives
    def backward(ctx, grad_r: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        u, v_signed, s_signed = ctx.saved_tensors
        a = u.mT @ grad_r @ v_signed
        den = s_signed[..., :, None] + s_signed[..., None, :]
        tol = _REL_TOL * s_signed[..., :1, None].abs() + _ABS_TOL
        ok = den.abs() > tol
        k = torch.where(ok, (a - a.mT) / torch.where(ok, den, torch.ones_like(den)), torch.zeros_like(a))
        return u @ k @ v_signed.mT


def special_polar(h: torch.Tensor) -> torch.Tensor:
    """Rotation ``R`` (det +1) maximising ``<H, R>`` for ``H`` of shape ``(..., C, C)``."""
    return _SpecialPolar.apply(h)


def similarity_align(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-pose similarity transform of ``pred`` onto ``target``: ``s * pred R + t`` minimising squared error.

    Args:
        pred, target: ``(..., J, C)``; computed in float64.

    Returns:
        Aligned ``pred`` ``(..., J, C)`` in float64. A degenerate prediction
        (all joints equal) gets scale 0 and lands on the target's centroid.
    """
    p = pred.to(torch.float64)
    g = target.to(torch.float64)
    mu_p = p.mean(dim=-2, keepdim=True)
    mu_g = g.mean(dim=-2, keepdim=True)
    p0, g0 = p - mu_p, g - mu_g
    h = p0.mT @ g0  # (..., C, C)
    r = special_polar(h)
    trace = (h * r).sum(dim=(-2, -1))  # = tr(S D), the optimum of <H, R>
    var_p = p0.square().sum(dim=(-2, -1))
    s = trace / var_p.clamp_min(torch.finfo(torch.float64).tiny)
    return s[..., None, None] * (p0 @ r) + mu_g


def scale_align(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-pose optimal scale (no rotation/translation): ``s * pred`` with ``s = <pred, target> / <pred, pred>``.

    This is VideoPose3D's N-MPJPE alignment (protocol #3), applied to poses as
    given (root-relative in practice). An all-zero prediction gets scale 0.
    """
    num = (pred * target).sum(dim=(-2, -1), keepdim=True)
    den = pred.square().sum(dim=(-2, -1), keepdim=True)
    return num / den.clamp_min(torch.finfo(den.dtype).tiny) * pred
