"""Learned absolute positional embeddings."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["LearnedPositionalEmbedding", "resize_positional_embedding"]


def resize_positional_embedding(table: torch.Tensor, length: int) -> torch.Tensor:
    """Linearly resample a ``(L, C)`` table to ``(length, C)`` (for fine-tuning at another T)."""
    if table.ndim != 2:
        raise ValueError(f"expected a (L, C) table, got {tuple(table.shape)}")
    if length == table.shape[0]:
        return table.clone()
    resized = F.interpolate(table.T[None], size=length, mode="linear", align_corners=True)
    return resized[0].T.contiguous()


class LearnedPositionalEmbedding(nn.Module):
    """Adds a learned ``(num_positions, dim)`` table to ``(..., num_positions, dim)`` tokens.

    Args:
        num_positions: number of token positions L (joints or frames).
        dim: token width C.
        init_std: std of the truncated-normal initialisation (0 = zeros).
    """

    def __init__(self, num_positions: int, dim: int, init_std: float = 0.02) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(num_positions, dim))
        if init_std > 0:
            nn.init.trunc_normal_(self.weight, std=init_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != self.weight.shape:
            raise ValueError(
                f"positional embedding expects (..., {self.weight.shape[0]}, {self.weight.shape[1]}) tokens, got {tuple(x.shape)}"
            )
        return x + self.weight
