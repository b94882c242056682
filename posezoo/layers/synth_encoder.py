"""The MixSynthFormer encoder: :class:`MixSynthEncoderLayer` and the stack :class:`MixSynthEncoder`.

Built on :class:`posezoo.layers.synth.MixSynthAttention` and the shared :class:`posezoo.layers.mlp.Mlp`;
parameter names (``attn``, ``mlp.fc1``, ``norm1`` ...) are those the official checkpoint converter maps to.
"""

from __future__ import annotations

import torch
from torch import nn

from .._validation import check_float, check_int, check_mlp_ratio, check_probability
from .mlp import Mlp
from .synth import MixSynthAttention

__all__ = ["MixSynthEncoderLayer", "MixSynthEncoder"]


class MixSynthEncoderLayer(nn.Module):
    """Post-norm encoder layer: ``h = LN1(h + MixSynth(h))``, ``h = LN2(h + FFN(h))``.

    The FFN is the shared :class:`posezoo.layers.mlp.Mlp` (``fc1`` C -> eC,
    exact GELU, ``fc2`` eC -> C). Dropout (training only) acts inside the
    attention output, inside the FFN and on both residual branches.

    Args:
        num_frames: T.
        dim: C.
        reduce_token, reduce_channel: reduction factors (see :class:`MixSynthAttention`).
        expansion_factor: FFN hidden width is ``int(dim * expansion_factor)``.
        dropout: dropout rate (training only).
        norm_eps: LayerNorm epsilon (1e-5, PyTorch's default, in the official code).
        **attn_kwargs: ``generation``, ``se``, ``mixing``, ``branches``,
            ``keep_unused_value_reduce`` for :class:`MixSynthAttention`.

    Shapes: ``(B, T, C) -> (B, T, C)``.
    """

    def __init__(
        self,
        num_frames: int,
        dim: int,
        reduce_token: int = 1,
        reduce_channel: int = 1,
        expansion_factor: float = 2,
        dropout: float = 0.0,
        norm_eps: float = 1e-5,
        **attn_kwargs,
    ) -> None:
        super().__init__()
        hidden = check_mlp_ratio(expansion_factor, dim, "expansion_factor")
        check_probability("dropout", dropout)
        check_float("norm_eps", norm_eps, minimum=0.0, exclusive_minimum=True)
        self.attn = MixSynthAttention(num_frames, dim, reduce_token, reduce_channel, dropout=dropout, **attn_kwargs)
        self.mlp = Mlp(dim, hidden, dim, act_layer="gelu", drop=dropout)
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm1(x + self.drop(self.attn(x)))
        return self.norm2(x + self.drop(self.mlp(x)))


class MixSynthEncoder(nn.Module):
    """``depth`` :class:`MixSynthEncoderLayer` s applied in order (no final norm).

    Args:
        depth: number of layers L.
        num_frames, dim, ...: passed to every :class:`MixSynthEncoderLayer`.

    Shapes: ``(B, T, C) -> (B, T, C)``.
    """

    def __init__(self, depth: int, num_frames: int, dim: int, **layer_kwargs) -> None:
        super().__init__()
        check_int("depth", depth)
        self.layers = nn.ModuleList([MixSynthEncoderLayer(num_frames, dim, **layer_kwargs) for _ in range(depth)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x
