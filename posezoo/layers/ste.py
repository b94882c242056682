"""Spatial and temporal transformer blocks over pose sequences (MixSTE's STE).

Both take a pose-feature tensor ``(B, T, J, C)`` and return the same shape.
A :class:`SpatialBlock` attends over the J joints of each frame, a
:class:`TemporalBlock` over the T frames of each joint. They are plain
pre-norm :class:`~posezoo.layers.block.TransformerBlock` s (fused ``qkv``,
``F.scaled_dot_product_attention``, optional DropPath) with the folding done
for you, so their state-dict keys are ``norm1``, ``attn.qkv``, ``attn.proj``,
``norm2``, ``mlp.fc1``, ``mlp.fc2``.
"""

from __future__ import annotations

from typing import Optional

import torch
from einops import rearrange

from .block import TransformerBlock

__all__ = ["SpatialBlock", "TemporalBlock"]


def _check_4d(x: torch.Tensor, dim: int, name: str) -> None:
    if x.ndim != 4 or x.shape[-1] != dim:
        raise ValueError(f"{name} expects (B, T, J, C={dim}) features, got {tuple(x.shape)}")


class SpatialBlock(TransformerBlock):
    """Transformer block over joints: ``(B, T, J, C) -> (B, T, J, C)``.

    Constructor arguments are those of :class:`TransformerBlock`. With
    ``need_weights=True`` it also returns the attention weights
    ``(B, T, H, J, J)``.
    """

    def forward(  # type: ignore[override]
        self, x: torch.Tensor, need_weights: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        _check_4d(x, self.norm1.normalized_shape[0], type(self).__name__)
        b = x.shape[0]
        tokens = rearrange(x, "b t j c -> (b t) j c")
        out = super().forward(tokens, need_weights=need_weights)
        weights = None
        if need_weights:
            out, weights = out
            weights = rearrange(weights, "(b t) h q k -> b t h q k", b=b)
        out = rearrange(out, "(b t) j c -> b t j c", b=b)
        return (out, weights) if need_weights else out


class TemporalBlock(TransformerBlock):
    """Transformer block over frames, per joint: ``(B, T, J, C) -> (B, T, J, C)``.

    Constructor arguments are those of :class:`TransformerBlock`. An optional
    ``key_mask`` ``(B, T)`` (bool, True = frame may be attended) excludes frames
    as keys. With ``need_weights=True`` it also returns the attention weights
    ``(B, J, H, T, T)``.
    """

    def forward(  # type: ignore[override]
        self, x: torch.Tensor, key_mask: Optional[torch.Tensor] = None, need_weights: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        _check_4d(x, self.norm1.normalized_shape[0], type(self).__name__)
        b, _, j, _ = x.shape
        tokens = rearrange(x, "b t j c -> (b j) t c")
        if key_mask is not None:
            if key_mask.shape != x.shape[:2]:
                raise ValueError(f"key_mask must be (B, T) = {tuple(x.shape[:2])}, got {tuple(key_mask.shape)}")
            key_mask = key_mask.repeat_interleave(j, dim=0)
        out = super().forward(tokens, key_mask=key_mask, need_weights=need_weights)
        weights = None
        if need_weights:
            out, weights = out
            weights = rearrange(weights, "(b j) h q k -> b j h q k", b=b)
        out = rearrange(out, "(b j) t c -> b t j c", b=b)
        return (out, weights) if need_weights else out
