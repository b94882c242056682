"""MixSTE (Zhang et al., CVPR 2022): the seq2seq spatio-temporal encoder RTPCA builds on.

Alternating spatial blocks (attention over joints) and temporal blocks
(attention over frames, per joint), see :mod:`posezoo.models._ste`.
Official checkpoints convert with ``posezoo.from_official("mixste", path)``.
"""

from __future__ import annotations

from typing import Any, Optional

import torch

from ..layers.ste import TemporalBlock
from ._registry import register_model
from ._ste import SpatioTemporalEncoder, ste_variant_config

__all__ = ["MixSTE", "MIXSTE_PAPER"]

MIXSTE_PAPER = (
    "Zhang et al., MixSTE: Seq2seq Mixed Spatio-Temporal Encoder for 3D Human Pose Estimation in Video, "
    "CVPR 2022 (arXiv 2203.00859)"
)


class MixSTE(SpatioTemporalEncoder):
    """MixSTE lifting model: ``(B, T, J, 2) -> (B, T, J, 3)``.

    Args:
        num_frames: window length T (any T >= 1; fixed by the temporal
            positional embedding).
        num_joints: J (17 for H36M).
        in_channels: input coordinates per joint (2).
        out_channels: output coordinates per joint (3).
        dim: width C of every block (the official ``embed_dim_ratio``).
        depth: number of spatial/temporal block pairs.
        num_heads: attention heads (C must be divisible by it).
        mlp_ratio: MLP hidden width ``int(C * mlp_ratio)``.
        qkv_bias: bias in the ``qkv`` projections.
        drop_rate, attn_drop_rate: dropout after embeddings/MLPs/projections
            and on attention weights.
        drop_path_rate: stochastic depth, linearly increasing to this value
            over the depth (the official training uses 0.1).
        norm_eps: eps of every LayerNorm (block, stream and head norms).
        official_compat: reproduce the official model exactly: the head
            LayerNorm uses eps 1e-5 while all other norms use ``norm_eps``
            (1e-6). Set by ``from_official``.

    Parameters: the paper configuration (243 frames, C=512, depth 8) has
    33,783,811, exactly as the official class.
    """

    def __init__(
        self,
        num_frames: int = 243,
        num_joints: int = 17,
        in_channels: int = 2,
        out_channels: int = 3,
        dim: int = 512,
        depth: int = 8,
        num_heads: int = 8,
        mlp_ratio: float = 2.0,
        qkv_bias: bool = True,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        norm_eps: float = 1e-6,
        official_compat: bool = False,
    ) -> None:
        super().__init__()
        rates = self._build_shared(
            num_frames=num_frames,
            num_joints=num_joints,
            in_channels=in_channels,
            out_channels=out_channels,
            dim=dim,
            depth=depth,
            num_heads=num_heads,
            mlp_ratio=mlp_ratio,
            qkv_bias=qkv_bias,
            drop_rate=drop_rate,
            attn_drop_rate=attn_drop_rate,
            drop_path_rate=drop_path_rate,
            norm_eps=norm_eps,
            official_compat=official_compat,
        )
        self.temporal_blocks = torch.nn.ModuleList(
            TemporalBlock(dim, num_heads, mlp_ratio, qkv_bias, "gelu", norm_eps, drop_rate, attn_drop_rate, rates[i])
            for i in range(depth)
        )
        self._init_weights()

    def _temporal_step(
        self, i: int, h: torch.Tensor, state: Any, need_weights: bool
    ) -> tuple[torch.Tensor, Any, Optional[torch.Tensor]]:
        if need_weights:
            h, weights = self.temporal_blocks[i](h, need_weights=True)
            return h, None, weights
        return self.temporal_blocks[i](h), None, None


_NOTES = (
    "Seq2seq lifting, H36M-17 joints, normalised 2D screen coordinates in, root-relative 3D out. "
    "Official MixSTE checkpoints load with posezoo.from_official('mixste', path) or "
    "create_model(name, pretrained='path/to/best_epoch.bin') (official_compat=True: head LayerNorm eps 1e-5). "
    "Paper training: drop_path_rate 0.1, AdamW lr 4e-5, RTPCALoss-style weighted MPJPE + TC + velocity terms."
)


@register_model(MixSTE, family="mixste", paper=MIXSTE_PAPER, notes=_NOTES)
def mixste_243() -> dict:
    """Paper configuration: 243 frames, C=512, depth 8, 8 heads (33,783,811 parameters)."""
    return ste_variant_config(243, 512, 8)


@register_model(MixSTE, family="mixste", paper=MIXSTE_PAPER, notes=_NOTES)
def mixste_81() -> dict:
    """81-frame variant of the paper configuration."""
    return ste_variant_config(81, 512, 8)


@register_model(MixSTE, family="mixste", paper=MIXSTE_PAPER, notes=_NOTES)
def mixste_27() -> dict:
    """27-frame variant of the paper configuration."""
    return ste_variant_config(27, 512, 8)


@register_model(MixSTE, family="mixste", paper=MIXSTE_PAPER, notes=_NOTES + " Small CPU-friendly variant.")
def mixste_small() -> dict:
    """Small CPU-friendly variant: 27 frames, C=64, depth 4, 4 heads."""
    return ste_variant_config(27, 64, 4, num_heads=4)
