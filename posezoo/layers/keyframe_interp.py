"""Recovering a full window from its keyframes, as one linear map over time.

A window of ``T = K * Q + 1`` frames has keyframes every ``K`` frames
(frames ``0, K, ..., T - 1``: ``Q + 1`` of them). Every recovery used by
MixSynthFormer is linear in the keyframes, so it is a ``(T_out, Q + 1)``
matrix applied along the time axis:

* ``"learned"``: a trainable matrix plus a per-frame bias (the official
  ``l_interp``: a Linear ``Q+1 -> T`` over time, shared by all coordinates);
* ``"linear"``: piecewise-linear interpolation between keyframes;
* ``"cubic"``: natural cubic spline through the keyframes (second derivative
  0 at both ends; with 2 keyframes it equals ``"linear"``);
* ``"nearest"``: each frame copies its nearest keyframe (a frame exactly
  half-way takes the later one).

The fixed matrices are differentiable with respect to the keyframes.
Frames after the last keyframe (``num_future_frames`` > 0, motion
prediction) hold the last keyframe in the fixed modes (the zero-velocity
baseline); the learned mode extrapolates with its own weights.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .._validation import check_int

__all__ = ["INTERP_MODES", "interpolation_matrix", "KeyframeInterpolation"]

INTERP_MODES = ("learned", "linear", "cubic", "nearest")
_FIXED = INTERP_MODES[1:]


def _natural_spline_second_derivatives(num_keyframes: int) -> torch.Tensor:
    """``(Q+1, Q+1)`` matrix M with ``m = M y``: the spline's second derivatives at unit-spaced knots."""
    n = num_keyframes
    m = torch.zeros(n, n, dtype=torch.float64)
    if n < 3:
        return m
    # Interior equations: m[i-1] + 4 m[i] + m[i+1] = 6 (y[i-1] - 2 y[i] + y[i+1]), m[0] = m[n-1] = 0.
    a = torch.zeros(n - 2, n - 2, dtype=torch.float64)
    idx = torch.arange(n - 2)
    a[idx, idx] = 4.0
    a[idx[:-1], idx[:-1] + 1] = 1.0
    a[idx[1:], idx[1:] - 1] = 1.0
    rhs = torch.zeros(n - 2, n, dtype=torch.float64)
    rhs[idx, idx] = 6.0
    rhs[idx, idx + 1] = -12.0
    rhs[idx, idx + 2] = 6.0
    m[1:-1] = torch.linalg.solve(a, rhs)
    return m


def interpolation_matrix(
    num_keyframes: int, sample_interval: int, mode: str, num_future_frames: int = 0
) -> torch.Tensor:
    """Fixed recovery matrix ``(T + F, Q + 1)``, float64.

    Args:
        num_keyframes: Q + 1 (at least 1).
        sample_interval: K, frames between keyframes.
        mode: ``"linear"``, ``"cubic"`` or ``"nearest"``.
        num_future_frames: F frames after the last keyframe (hold the last keyframe).

    Row ``t`` holds the weights of the keyframes for frame ``t``; every row sums to 1.
    """
    if mode not in _FIXED:
        raise ValueError(f"mode must be one of {', '.join(map(repr, _FIXED))}, got {mode!r}")
    for name, value, low in (
        ("num_keyframes", num_keyframes, 1),
        ("sample_interval", sample_interval, 1),
        ("num_future_frames", num_future_frames, 0),
    ):
        check_int(name, value, low)
    n, k = num_keyframes, sample_interval
    window = k * (n - 1) + 1
    pos = torch.arange(window, dtype=torch.float64) / k  # keyframe units
    left = pos.floor().long().clamp(max=n - 1)
    frac = pos - left
    right = (left + 1).clamp(max=n - 1)
    rows = torch.arange(window)
    mat = torch.zeros(window, n, dtype=torch.float64)
    if mode == "nearest":
        mat[rows, torch.where(frac >= 0.5, right, left)] = 1.0
    else:
        mat[rows, left] += 1.0 - frac
        mat[rows, right] += frac
        if mode == "cubic" and n >= 3:
            m = _natural_spline_second_derivatives(n)
            # S(x) = linear part + ((1-u)^3 - (1-u)) / 6 * m[left] + (u^3 - u) / 6 * m[right]
            c_left = ((1 - frac) ** 3 - (1 - frac)) / 6
            c_right = (frac**3 - frac) / 6
            mat += c_left[:, None] * m[left] + c_right[:, None] * m[right]
    if num_future_frames:
        hold = torch.zeros(num_future_frames, n, dtype=torch.float64)
        hold[:, -1] = 1.0
        mat = torch.cat([mat, hold])
    return mat


class KeyframeInterpolation(nn.Module):
    """Keyframes ``(B, Q+1, C)`` -> recovered frames ``(B, T + F, C)``, linear over time.

    Args:
        num_keyframes: Q + 1.
        sample_interval: K (``T = K * Q + 1``).
        mode: one of :data:`INTERP_MODES`.
        num_future_frames: F extra frames after the window (motion prediction).

    ``"learned"`` holds ``weight (T+F, Q+1)`` and ``bias (T+F,)`` (same layout
    as an ``nn.Linear(Q+1, T+F)``); the fixed modes hold a non-persistent
    ``matrix`` buffer (nothing is saved in the state dict).
    """

    def __init__(
        self, num_keyframes: int, sample_interval: int, mode: str = "learned", num_future_frames: int = 0
    ) -> None:
        super().__init__()
        if mode not in INTERP_MODES:
            raise ValueError(f"interp must be one of {', '.join(map(repr, INTERP_MODES))}, got {mode!r}")
        self.mode = mode
        self.num_keyframes = num_keyframes
        self.sample_interval = sample_interval
        self.num_future_frames = num_future_frames
        linear = interpolation_matrix(num_keyframes, sample_interval, "linear", num_future_frames)
        self.num_output_frames = linear.shape[0]
        if mode == "learned":
            layer = nn.Linear(num_keyframes, self.num_output_frames)  # PyTorch's default init
            self.weight = nn.Parameter(layer.weight.detach().clone())
            self.bias = nn.Parameter(layer.bias.detach().clone())
        else:
            matrix = interpolation_matrix(num_keyframes, sample_interval, mode, num_future_frames)
            self.register_buffer("matrix", matrix.float(), persistent=False)

    def extra_repr(self) -> str:
        return (
            f"mode={self.mode!r}, keyframes={self.num_keyframes}, "
            f"sample_interval={self.sample_interval}, out_frames={self.num_output_frames}"
        )

    @torch.no_grad()
    def init_from(self, mode: str = "linear") -> None:
        """Set the learned weights to a fixed interpolation (bias 0): a better start for training."""
        if self.mode != "learned":
            raise RuntimeError(f"init_from needs mode='learned', this layer is {self.mode!r}")
        mat = interpolation_matrix(self.num_keyframes, self.sample_interval, mode, self.num_future_frames)
        self.weight.copy_(mat.to(self.weight))
        self.bias.zero_()

    def forward(self, keyframes: torch.Tensor) -> torch.Tensor:
        if keyframes.ndim != 3 or keyframes.shape[1] != self.num_keyframes:
            raise ValueError(
                f"KeyframeInterpolation expects (B, {self.num_keyframes}, C) keyframes, got {tuple(keyframes.shape)}"
            )
        if self.mode == "learned":
            weight, bias = self.weight, self.bias
        else:
            weight, bias = self.matrix.to(keyframes.dtype), None
        return F.linear(keyframes.transpose(1, 2), weight, bias).transpose(1, 2)
