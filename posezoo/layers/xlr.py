"""Cross-layer refinement (XLR) attention, from RTPCA (Liu et al., 2023).

In an XLR block the queries attend to the block's own keys/values *and* to
the keys/values of an earlier block ("memory"), pooled in time to a short,
fixed length::

    q          = W_q x                                       (N, H, T, d)
    k, v       = W_kv tpca(x)                                (N, H, T, d) each
    k_mem      = adaptive_avg_pool(k_prev, memory_len)       (N, H, M, d)
    out        = proj(softmax(q [k; k_mem]^T / sqrt(d)) [v; v_mem])

``tpca`` is :class:`~posezoo.layers.tpca.TPCA` in RTPCA (or the identity).
The block returns its K/V so the next block can use them as memory.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from .attention import attend, merge_heads
from .block import TransformerBlock

__all__ = ["KeyValue", "XLROutput", "XLRAttention", "XLRBlock", "pool_key_value"]


class KeyValue(NamedTuple):
    """Projected keys and values, each ``(N, H, L, d)``."""

    k: torch.Tensor
    v: torch.Tensor

    @property
    def length(self) -> int:
        return self.k.shape[-2]


class XLROutput(NamedTuple):
    """What :class:`XLRAttention` and :class:`XLRBlock` return.

    Attributes:
        out: ``(N, T, C)`` attention output (after ``proj``), or the block output.
        own: this block's own K/V (length T), computed from the refined input.
        attended: the K/V actually attended, ``[own; pooled memory]`` (length
            ``T + M``), or ``own`` when no memory was given.
        weights: ``(N, H, T, L)`` attention weights when requested, else None.
    """

    out: torch.Tensor
    own: KeyValue
    attended: KeyValue
    weights: Optional[torch.Tensor]


def pool_key_value(kv: KeyValue, length: Optional[int]) -> KeyValue:
    """Average-pool keys and values along the sequence axis to ``length``
    (``adaptive_avg_pool1d``, separately for every head and channel;
    ``None`` keeps them as they are). ``(N, H, L, d) -> (N, H, length, d)``."""
    if length is None or kv.length == length:
        return kv

    def pool(t: torch.Tensor) -> torch.Tensor:
        flat = rearrange(t, "n h l d -> n (h d) l")
        return rearrange(F.adaptive_avg_pool1d(flat, length), "n (h d) m -> n h m d", h=t.shape[1])

    return KeyValue(pool(kv.k), pool(kv.v))


class XLRAttention(nn.Module):
    """Multi-head attention over own (optionally refined) K/V plus pooled memory K/V.

    Args:
        dim: token width C.
        num_heads: H (must divide C).
        qkv_bias: bias in the ``q`` and ``kv`` projections.
        attn_drop: attention-weight dropout (training only).
        proj_drop: dropout after ``proj``.
        tpca: module refining the input before the K/V projection,
            ``(N, T, C) -> (N, T, C)``: a :class:`~posezoo.layers.tpca.TPCA`
            in RTPCA (any such module works), ``None`` for plain keys/values.
        memory_len: length M the memory K/V are pooled to (``None`` = use the
            memory at its own length).

    Forward ``(x, memory=None, need_weights=False)``: ``x`` is ``(N, T, C)``;
    ``memory`` a :class:`KeyValue` of ``(N, H, L, d)`` tensors from another
    block (any L). Returns an :class:`XLROutput`. The projections are named
    ``q`` (C -> C), ``kv`` (C -> 2C, rows ``[0, C)`` = K, ``[C, 2C)`` = V, each
    head-major) and ``proj`` as in the official code.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int = 8,
        qkv_bias: bool = True,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
        tpca: Optional[nn.Module] = None,
        memory_len: Optional[int] = None,
    ) -> None:
        super().__init__()
        if dim % num_heads != 0:
            raise ValueError(f"dim ({dim}) must be divisible by num_heads ({num_heads})")
        if memory_len is not None and (not isinstance(memory_len, int) or memory_len < 1):
            raise ValueError(f"memory_len must be a positive int or None, got {memory_len!r}")
        self.num_heads = num_heads
        self.memory_len = memory_len
        self.q = nn.Linear(dim, dim, bias=qkv_bias)
        self.kv = nn.Linear(dim, dim * 2, bias=qkv_bias)
        self.tpca = tpca
        self.attn_drop = attn_drop
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor, memory: Optional[KeyValue] = None, need_weights: bool = False) -> XLROutput:
        q = rearrange(self.q(x), "n t (h d) -> n h t d", h=self.num_heads)
        source = self.tpca(x) if self.tpca is not None else x
        k, v = rearrange(self.kv(source), "n t (two h d) -> two n h t d", two=2, h=self.num_heads)
        own = KeyValue(k, v)
        attended = own
        if memory is not None:
            if memory.k.shape[:2] != k.shape[:2] or memory.k.shape[-1] != k.shape[-1]:
                raise ValueError(
                    f"XLR memory must be (N={k.shape[0]}, H={k.shape[1]}, L, d={k.shape[-1]}), "
                    f"got {tuple(memory.k.shape)}"
                )
            pooled = pool_key_value(memory, self.memory_len)
            attended = KeyValue(torch.cat([k, pooled.k], dim=2), torch.cat([v, pooled.v], dim=2))
        out, weights = attend(
            q,
            attended.k,
            attended.v,
            need_weights=need_weights,
            dropout_p=self.attn_drop if self.training else 0.0,
        )
        out = self.proj_drop(self.proj(merge_heads(out)))
        return XLROutput(out, own, attended, weights)


class XLRBlock(TransformerBlock):
    """Pre-norm transformer block with :class:`XLRAttention` (and optional TPCA).

    ``x + Attn(LN1(x), memory)`` then ``x + MLP(LN2(x))``; the keys/values
    come from ``tpca(LN1(x))`` (or ``LN1(x)`` without TPCA).

    Args:
        dim, num_heads, mlp_ratio, qkv_bias, act_layer, norm_eps, drop,
            attn_drop, drop_path: as :class:`~posezoo.layers.block.TransformerBlock`.
        tpca: K/V refinement module (e.g. ``TPCA(dim, T)``) or ``None``.
        memory_len: length the memory K/V are pooled to (``None`` = unpooled).

    Forward ``(x, memory=None, need_weights=False)`` on ``(N, T, C)`` tokens;
    returns an :class:`XLROutput` whose ``out`` is the block output ``(N, T, C)``.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int = 8,
        mlp_ratio: float = 2.0,
        qkv_bias: bool = True,
        act_layer: str = "gelu",
        norm_eps: float = 1e-6,
        drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
        tpca: Optional[nn.Module] = None,
        memory_len: Optional[int] = None,
    ) -> None:
        attn = XLRAttention(dim, num_heads, qkv_bias, attn_drop, drop, tpca=tpca, memory_len=memory_len)
        super().__init__(
            dim, num_heads, mlp_ratio, qkv_bias, act_layer, norm_eps, drop, attn_drop, drop_path, attn=attn
        )

    def forward(  # type: ignore[override]
        self, x: torch.Tensor, memory: Optional[KeyValue] = None, need_weights: bool = False
    ) -> XLROutput:
        res = self.attn(self.norm1(x), memory=memory, need_weights=need_weights)
        x = x + self.drop_path(res.out)
        x = x + self.drop_path(self.mlp(self.norm2(x)))
        return res._replace(out=x)
