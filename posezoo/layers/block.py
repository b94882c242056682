"""Pre-norm transformer block (ViT style) used across the families."""

from __future__ import annotations

from typing import Optional, Union

import torch
from torch import nn

from .._validation import check_float, check_mlp_ratio, check_probability
from .attention import Attention
from .mlp import Mlp


def make_drop_path(rate: float) -> nn.Module:
    """timm's ``DropPath(rate)``, or ``nn.Identity`` for rate 0 (timm is imported only when needed,
    which keeps ``import posezoo`` fast)."""
    if rate <= 0:
        return nn.Identity()
    from timm.layers import DropPath

    return DropPath(rate)


__all__ = ["TransformerBlock", "make_drop_path"]


class TransformerBlock(nn.Module):
    """``x + Attn(LN1(x))`` then ``x + MLP(LN2(x))``, with optional DropPath.

    Used as the spatial block (tokens = joints) and the temporal block
    (tokens = frames) of MixSTE/RTPCA and Uplift-and-Upsample.

    Args:
        dim: token width C.
        num_heads: attention heads.
        mlp_ratio: hidden width of the MLP is ``int(dim * mlp_ratio)``.
        qkv_bias: bias in the fused ``qkv`` projection.
        act_layer: MLP activation (``"gelu"`` exact, ``"relu"``, ...).
        norm_eps: epsilon of both LayerNorms.
        drop: dropout in the MLP and after the attention projection.
        attn_drop: attention-weight dropout.
        drop_path: stochastic-depth rate of both residual branches.
        attn: replace the default :class:`Attention` (must accept
            ``(x, key_mask=None, need_weights=False)``).

    Input ``(B, L, C)`` and an optional ``key_mask`` ``(B, L)`` (bool, True =
    key may be attended; see :func:`posezoo.layers.attention.attend`).
    Output ``(B, L, C)``.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int = 8,
        mlp_ratio: float = 2.0,
        qkv_bias: bool = True,
        act_layer: Union[str, type] = "gelu",
        norm_eps: float = 1e-6,
        drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
        attn: Optional[nn.Module] = None,
    ) -> None:
        super().__init__()
        hidden = check_mlp_ratio(mlp_ratio, dim)
        check_float("norm_eps", norm_eps, minimum=0.0, exclusive_minimum=True)
        for name, rate in (("drop", drop), ("attn_drop", attn_drop), ("drop_path", drop_path)):
            check_probability(name, rate)
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.attn = attn if attn is not None else Attention(dim, num_heads, qkv_bias, attn_drop, drop)
        self.drop_path = make_drop_path(drop_path)
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp = Mlp(dim, hidden, act_layer=act_layer, drop=drop)

    def forward(
        self,
        x: torch.Tensor,
        key_mask: Optional[torch.Tensor] = None,
        need_weights: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        attn_out = self.attn(self.norm1(x), key_mask=key_mask, need_weights=need_weights)
        weights = None
        if need_weights:
            attn_out, weights = attn_out
        x = x + self.drop_path(attn_out)
        x = x + self.drop_path(self.mlp(self.norm2(x)))
        return (x, weights) if need_weights else x
