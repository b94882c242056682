"""RTPCA (Liu et al., 2023): MixSTE's spatio-temporal encoder with TPCA and XLR.

Every temporal block computes its keys/values from a TPCA-refined sequence
(:class:`~posezoo.layers.tpca.TPCA`); every temporal block after the first
also attends to the previous temporal block's keys/values pooled to a short
length (cross-layer refinement, :class:`~posezoo.layers.xlr.XLRAttention`).
Spatial blocks are plain MixSTE blocks.

Official checkpoints convert with ``posezoo.from_official("rtpca", path)``,
which sets ``official_compat=True`` (see :class:`RTPCA`).
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from einops import rearrange
from torch import nn

from .._validation import check_bool, check_int
from ..layers.tpca import AMPLIFY_MODES, COMPRESS_MODES, TPCA, pyramid_lengths
from ..layers.xlr import KeyValue, XLRBlock
from ._registry import register_model
from ._ste import SpatioTemporalEncoder, ste_variant_config

__all__ = ["RTPCA", "RTPCA_PAPER", "XLR_CONNECTIONS", "OFFICIAL_TPCA_NORM_EPS"]

RTPCA_PAPER = (
    "Liu et al., Refined Temporal Pyramidal Compression-and-Amplification Transformer for 3D Human Pose "
    "Estimation (arXiv 2309.01365)"
)
XLR_CONNECTIONS = ("previous", "chained", "first")
OFFICIAL_TPCA_NORM_EPS = 1e-5  # LayerNorms inside the official TPCA use PyTorch's default eps


class RTPCA(SpatioTemporalEncoder):
    """RTPCA lifting model: ``(B, T, J, 2) -> (B, T, J, 3)``.

    Args:
        num_frames, num_joints, in_channels, out_channels, dim, depth,
            num_heads, mlp_ratio, qkv_bias, drop_rate, attn_drop_rate,
            drop_path_rate, norm_eps: as :class:`~posezoo.models.mixste.MixSTE`.
        tpca: use TPCA to refine the keys/values of every temporal block
            (False: plain keys/values; the "w/o TPCA" ablation).
        tpca_stages, tpca_ratio: pyramid depth and reduction per stage
            (``L_k = L_{k-1} // ratio``; 243 -> 121 -> 60 -> 30 by default).
            ``num_frames`` must be at least ``tpca_ratio ** tpca_stages``.
        tpca_compress: ``"pool"`` | ``"conv"`` | ``"pool+conv"`` (Table 6).
        tpca_amplify: ``"transconv"`` | ``"linear"`` (Table 6).
        xlr: cross-layer refinement: temporal blocks ``i >= 1`` also attend
            to an earlier block's keys/values (False: the "w/o XLR"
            ablation). XLR adds no parameters.
        xlr_memory_len: length M the memory keys/values are pooled to with
            ``adaptive_avg_pool1d`` (default ``max(1, num_frames // 8)``,
            30 for 243 frames as in the official code).
        xlr_connection: which keys/values a block hands on (Table 7 style
            connection patterns):
            ``"previous"`` (default) block i attends to block i-1's own K/V;
            ``"chained"`` block i-1 hands on the K/V it attended to (its own
            plus its memory), so memory accumulates along depth (official);
            ``"first"`` every block attends to the first temporal block's K/V.
        official_compat: reproduce the released RTPCA code exactly, quirks
            included: (1) after temporal block i >= 1 the stream is doubled
            (the official ``x += x_list[-1]`` adds x to itself in place);
            (2) ``xlr_connection="chained"`` (blocks >= 2 pool the previous
            block's T + M long concatenated K/V); (3) LayerNorms inside TPCA
            and the head LayerNorm use eps 1e-5 while block and stream norms
            use ``norm_eps`` (1e-6). ``from_official`` sets it. The default
            (False) uses ``norm_eps`` everywhere, no doubling and
            ``"previous"`` connections.

    The official class also builds a TPCA module inside every *spatial* block
    that its forward pass never uses (7,926 parameters per block at C=512,
    63,408 for depth 8); posezoo does not build them, so the paper
    configuration has 33,847,219 parameters here versus 33,910,627 in the
    official class (the converter reports the dropped keys).
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
        tpca: bool = True,
        tpca_stages: int = 3,
        tpca_ratio: int = 2,
        tpca_compress: str = "pool",
        tpca_amplify: str = "transconv",
        xlr: bool = True,
        xlr_memory_len: Optional[int] = None,
        xlr_connection: Optional[str] = None,
        official_compat: bool = False,
    ) -> None:
        super().__init__()
        for name, flag in (("tpca", tpca), ("xlr", xlr), ("official_compat", official_compat)):
            check_bool(name, flag)
        if tpca:
            check_int("num_frames", num_frames, limit="max_model_frames")
            pyramid_lengths(
                num_frames,
                check_int("tpca_stages", tpca_stages, limit="max_depth"),
                check_int("tpca_ratio", tpca_ratio, 2, limit="max_model_frames"),
            )
        if tpca_compress not in COMPRESS_MODES:
            raise ValueError(f"tpca_compress must be one of {COMPRESS_MODES}, got {tpca_compress!r}")
        if tpca_amplify not in AMPLIFY_MODES:
            raise ValueError(f"tpca_amplify must be one of {AMPLIFY_MODES}, got {tpca_amplify!r}")
        if xlr_connection is None:
            xlr_connection = "chained" if official_compat else "previous"
        if xlr_connection not in XLR_CONNECTIONS:
            raise ValueError(f"xlr_connection must be one of {XLR_CONNECTIONS}, got {xlr_connection!r}")
        if official_compat and xlr_connection != "chained":
            raise ValueError(
                f"official_compat=True reproduces the official 'chained' XLR connection; got "
                f"xlr_connection={xlr_connection!r}"
            )
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
        if xlr_memory_len is None:
            xlr_memory_len = max(1, num_frames // 8)
        else:
            check_int("xlr_memory_len", xlr_memory_len, limit="max_model_frames")
        self.use_tpca, self.use_xlr = bool(tpca), bool(xlr)
        self.xlr_connection, self.xlr_memory_len = xlr_connection, xlr_memory_len
        tpca_eps = OFFICIAL_TPCA_NORM_EPS if official_compat else norm_eps

        def make_tpca() -> Optional[nn.Module]:
            if not tpca:
                return None
            return TPCA(
                dim,
                num_frames,
                stages=tpca_stages,
                ratio=tpca_ratio,
                compress=tpca_compress,
                amplify=tpca_amplify,
                norm_eps=tpca_eps,
            )

        self.temporal_blocks = nn.ModuleList(
            XLRBlock(
                dim,
                num_heads,
                mlp_ratio,
                qkv_bias,
                "gelu",
                norm_eps,
                drop_rate,
                attn_drop_rate,
                rates[i],
                tpca=make_tpca(),
                memory_len=xlr_memory_len,
            )
            for i in range(depth)
        )
        self._init_weights()

    def _temporal_step(
        self, i: int, h: torch.Tensor, state: Any, need_weights: bool
    ) -> tuple[torch.Tensor, Any, Optional[torch.Tensor]]:
        b = h.shape[0]
        memory: Optional[KeyValue] = state if (self.use_xlr and i > 0) else None
        res = self.temporal_blocks[i](rearrange(h, "b t j c -> (b j) t c"), memory=memory, need_weights=need_weights)
        if not self.use_xlr:
            next_state = None
        elif self.xlr_connection == "previous":
            next_state = res.own
        elif self.xlr_connection == "chained":
            next_state = res.attended
        else:  # "first"
            next_state = res.own if i == 0 else state
        weights = rearrange(res.weights, "(b j) h q k -> b j h q k", b=b) if need_weights else None
        return rearrange(res.out, "(b j) t c -> b t j c", b=b), next_state, weights

    def _after_temporal(self, i: int, h: torch.Tensor) -> torch.Tensor:
        # official quirk: `x += x_list[-1]` where x_list[-1] is x itself doubles x in place
        return h * 2 if (self.official_compat and i >= 1) else h


_NOTES = (
    "Seq2seq lifting, H36M-17 joints, normalised 2D screen coordinates in, root-relative 3D out. "
    "posezoo does not build the TPCA modules that the official class creates inside every spatial block but "
    "never uses (7,926 parameters per block at width 512; 63,408 for the paper configuration, whose official "
    "class count is 33,910,627 = posezoo's 33,847,219 + 63,408). Official checkpoints load with "
    "posezoo.from_official('rtpca', path) or create_model(name, pretrained='path/to/best_epoch.bin'); the "
    "converter drops those keys and sets official_compat=True (in-place doubling after temporal blocks >= 1, "
    "K/V memory pooled from the 273-long concatenation, LayerNorm eps 1e-5 inside TPCA and the head). "
    "Paper training: drop_path_rate 0.1, AdamW lr 4e-5, posezoo.losses.RTPCALoss."
)


@register_model(RTPCA, family="rtpca", paper=RTPCA_PAPER, notes=_NOTES)
def rtpca_243() -> dict:
    """Paper configuration: 243 frames, C=512, depth 8, 8 heads, mlp ratio 2."""
    return ste_variant_config(243, 512, 8)


@register_model(RTPCA, family="rtpca", paper=RTPCA_PAPER, notes=_NOTES)
def rtpca_81() -> dict:
    """81-frame variant (pyramid 81 -> 40 -> 20 -> 10, XLR memory 10)."""
    return ste_variant_config(81, 512, 8)


@register_model(RTPCA, family="rtpca", paper=RTPCA_PAPER, notes=_NOTES)
def rtpca_27() -> dict:
    """27-frame variant (pyramid 27 -> 13 -> 6 -> 3, XLR memory 3)."""
    return ste_variant_config(27, 512, 8)


@register_model(RTPCA, family="rtpca", paper=RTPCA_PAPER, notes=_NOTES + " Small CPU-friendly variant.")
def rtpca_small() -> dict:
    """Small CPU-friendly variant: 27 frames, C=64, depth 4, 4 heads."""
    return ste_variant_config(27, 64, 4, num_heads=4)
