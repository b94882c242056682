"""Upsampling tokens and the DUTA temporal encoder (Uplift and Upsample, Einfalt et al., WACV 2023).

A temporal sequence of N tokens has 2D input only at *keyframes* (a stride
mask, ``True`` = keyframe). The other positions are *upsampling positions*:
their embeddings are replaced by one learnable token (:class:`UpsamplingTokens`),
and the temporal transformer has to fill them in.

DUTA (deferred upsampling-token attention): in the first
``first_strided_token_attention_layer`` temporal blocks, the upsampling
tokens are excluded as attention *keys* (and hence values). Every query,
including the ones at upsampling positions, then attends to keyframes only, so
the keyframe outputs of those blocks do not depend on what stands at the
upsampling positions. Later blocks attend over all tokens.

Masking note: the official TensorFlow code adds ``-1e9`` to the logits of
excluded keys; posezoo passes a boolean key mask to
:func:`posezoo.layers.attention.attend`, which fills excluded logits with the
most negative finite value of the dtype. Both give excluded keys exactly zero
weight whenever a row keeps at least one valid key (any stride mask with at
least one keyframe). For a row without any keyframe the attention is uniform
over all keys here (``-1e9`` in float32 gives an almost uniform, quantised
distribution; ``-inf`` would give NaN); models built on this encoder reject
such masks.
"""

from __future__ import annotations

from typing import Optional, Sequence, Union

import torch
from torch import nn

from .block import TransformerBlock

__all__ = ["UpsamplingTokens", "DUTATemporalEncoder", "linear_drop_path_rates"]


def linear_drop_path_rates(rate: float, depth: int) -> list[float]:
    """Stochastic-depth rates growing linearly from 0 (first block) to ``rate`` (last block)."""
    if depth <= 0:
        return []
    if depth == 1:
        return [0.0]
    return [rate * i / (depth - 1) for i in range(depth)]


class UpsamplingTokens(nn.Module):
    """Replace the token embeddings at non-keyframe positions by one learnable token.

    Args:
        dim: token width C.
        init_std: std of the truncated-normal initialisation of the token.

    ``forward(x, stride_mask)``: ``x`` ``(B, N, C)``, ``stride_mask`` ``(B, N)``
    bool (``True`` = keyframe, keeps ``x``); returns ``(B, N, C)`` where every
    non-keyframe row equals :attr:`token` exactly (the input there is ignored,
    even if it is NaN).
    """

    def __init__(self, dim: int, init_std: float = 0.02) -> None:
        super().__init__()
        self.token = nn.Parameter(torch.zeros(dim))
        if init_std > 0:
            nn.init.trunc_normal_(self.token, std=init_std)

    def forward(self, x: torch.Tensor, stride_mask: torch.Tensor) -> torch.Tensor:
        if x.ndim != 3 or x.shape[-1] != self.token.shape[0]:
            raise ValueError(f"expected tokens (B, N, {self.token.shape[0]}), got {tuple(x.shape)}")
        if stride_mask.dtype != torch.bool or stride_mask.shape != x.shape[:2]:
            raise ValueError(
                f"stride_mask must be a bool tensor of shape {tuple(x.shape[:2])}, "
                f"got {stride_mask.dtype} {tuple(stride_mask.shape)}"
            )
        return torch.where(stride_mask[..., None], x, self.token.to(x.dtype))


class DUTATemporalEncoder(nn.Module):
    """Stack of pre-norm temporal transformer blocks with deferred upsampling-token attention.

    Args:
        dim: token width C.
        depth: number of blocks.
        num_heads: attention heads.
        mlp_ratio: MLP hidden width ``int(dim * mlp_ratio)``.
        qkv_bias: bias in the q/k/v projections.
        act_layer: MLP activation (the paper's temporal blocks use ``"relu"``).
        norm_eps: LayerNorm epsilon (1e-5 in the official code).
        drop: dropout in the MLP and after the attention projection.
        attn_drop: attention-weight dropout.
        drop_path: a rate growing linearly from 0 over the blocks, or one rate per block.
        first_strided_token_attention_layer: blocks ``0 .. value-1`` exclude
            upsampling tokens as keys; 0 disables DUTA.

    ``forward(x, stride_mask=None, need_weights=False)``: ``x`` ``(B, N, C)``;
    ``stride_mask`` ``(B, N)`` bool (``True`` = keyframe) or None (all
    keyframes). Returns ``(B, N, C)``, plus the list of per-block attention
    weights ``(B, H, N, N)`` with ``need_weights=True``.
    """

    def __init__(
        self,
        dim: int,
        depth: int,
        num_heads: int = 8,
        mlp_ratio: float = 2.0,
        qkv_bias: bool = True,
        act_layer: str = "relu",
        norm_eps: float = 1e-5,
        drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: Union[float, Sequence[float]] = 0.0,
        first_strided_token_attention_layer: int = 1,
    ) -> None:
        super().__init__()
        if depth < 0:
            raise ValueError(f"depth must be >= 0, got {depth}")
        if first_strided_token_attention_layer < 0:
            raise ValueError(
                f"first_strided_token_attention_layer must be >= 0, got {first_strided_token_attention_layer}"
            )
        if isinstance(drop_path, (int, float)):
            rates = linear_drop_path_rates(float(drop_path), depth)
        else:
            rates = [float(r) for r in drop_path]
            if len(rates) != depth:
                raise ValueError(f"drop_path has {len(rates)} rates for {depth} blocks")
        self.first_strided_token_attention_layer = first_strided_token_attention_layer
        self.blocks = nn.ModuleList(
            TransformerBlock(
                dim,
                num_heads=num_heads,
                mlp_ratio=mlp_ratio,
                qkv_bias=qkv_bias,
                act_layer=act_layer,
                norm_eps=norm_eps,
                drop=drop,
                attn_drop=attn_drop,
                drop_path=rates[i],
            )
            for i in range(depth)
        )

    def uses_key_mask(self, block_index: int) -> bool:
        """Whether block ``block_index`` excludes upsampling tokens as keys."""
        return block_index < self.first_strided_token_attention_layer

    def forward(
        self,
        x: torch.Tensor,
        stride_mask: Optional[torch.Tensor] = None,
        need_weights: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        if stride_mask is not None and (stride_mask.dtype != torch.bool or stride_mask.shape != x.shape[:2]):
            raise ValueError(
                f"stride_mask must be a bool tensor of shape {tuple(x.shape[:2])}, "
                f"got {stride_mask.dtype} {tuple(stride_mask.shape)}"
            )
        weights: list[torch.Tensor] = []
        for i, block in enumerate(self.blocks):
            key_mask = stride_mask if self.uses_key_mask(i) else None
            if need_weights:
                x, w = block(x, key_mask=key_mask, need_weights=True)
                weights.append(w)
            else:
                x = block(x, key_mask=key_mask)
        return (x, weights) if need_weights else x
