"""Multi-head attention through ``F.scaled_dot_product_attention``.

Shapes: tokens ``(B, L, C)``; per-head tensors ``(B, H, L, d)`` with
``C = H * d``; the head split is head-major (channel ``c`` belongs to head
``c // d``), as in timm and every official implementation ported here.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

__all__ = ["split_heads", "merge_heads", "key_mask_to_bias", "attend", "Attention"]


def split_heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """``(B, L, H*d) -> (B, H, L, d)``."""
    return rearrange(x, "b l (h d) -> b h l d", h=num_heads)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """``(B, H, L, d) -> (B, L, H*d)``."""
    return rearrange(x, "b h l d -> b l (h d)")


def key_mask_to_bias(key_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Turn a ``(B, Lk)`` key mask into an additive bias ``(B, 1, 1, Lk)``.

    A boolean mask is ``True`` where the key may be attended; excluded keys
    get the most negative finite value of ``dtype`` (so a row without any
    valid key yields uniform attention instead of NaN). A floating mask is
    taken as the additive bias itself.
    """
    if key_mask.ndim != 2:
        raise ValueError(f"key_mask must have shape (B, Lk), got {tuple(key_mask.shape)}")
    if key_mask.dtype == torch.bool:
        bias = torch.zeros(key_mask.shape, dtype=dtype, device=key_mask.device)
        bias = bias.masked_fill(~key_mask, torch.finfo(dtype).min)
    elif key_mask.is_floating_point():
        bias = key_mask.to(dtype)
    else:
        raise TypeError(f"key_mask must be bool or floating point, got {key_mask.dtype}")
    return bias[:, None, None, :]


#: largest ``B*H*Lq*Lk`` for which :func:`attend` materialises the attention matrix itself
BMM_ATTENTION_MAX_ELEMENTS = 1 << 26


def _use_bmm_attention(q: torch.Tensor, k: torch.Tensor) -> bool:
    """bfloat16/float16 on the CPU: two batched matmuls beat PyTorch's CPU flash-attention kernel
    (0.63-0.98 of its time on the shapes of the models here, ``benchmarks/README.md``); float32 keeps SDPA,
    which is faster there."""
    return (
        q.device.type == "cpu"
        and q.dtype in (torch.bfloat16, torch.float16)
        and q.ndim == 4
        and k.shape[:2] == q.shape[:2]
        and q.shape[0] * q.shape[1] * q.shape[2] * k.shape[2] <= BMM_ATTENTION_MAX_ELEMENTS
    )


def _attend_bmm(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: Optional[float]) -> torch.Tensor:
    """``softmax(q k^T * scale) v`` as two ``bmm`` calls, ``(B, H, Lq, d) -> (B, H, Lq, dv)``."""
    b, h, lq, d = q.shape
    scale = d**-0.5 if scale is None else scale
    # the scale rides on the first product (alpha) and the softmax overwrites the logits: no extra passes
    zero = torch.zeros((), dtype=q.dtype, device=q.device)
    logits = torch.baddbmm(
        zero, q.reshape(b * h, lq, d), k.reshape(b * h, k.shape[2], d).transpose(1, 2), beta=0, alpha=scale
    )
    torch.softmax(logits, dim=-1, out=logits)
    out = torch.bmm(logits, v.reshape(b * h, v.shape[2], v.shape[3]))
    return out.view(b, h, lq, v.shape[3])


def attend(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    key_mask: Optional[torch.Tensor] = None,
    dropout_p: float = 0.0,
    scale: Optional[float] = None,
    need_weights: bool = False,
) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
    """Scaled dot-product attention over per-head tensors.

    Args:
        q: ``(B, H, Lq, d)`` queries.
        k: ``(B, H, Lk, d)`` keys.
        v: ``(B, H, Lk, dv)`` values.
        key_mask: optional ``(B, Lk)`` mask, bool (``True`` = attend) or an
            additive float bias.
        dropout_p: attention dropout (pass 0 in eval mode).
        scale: logit scale, default ``d ** -0.5``.
        need_weights: also return the softmax weights ``(B, H, Lq, Lk)``
            (computed explicitly, so slower; for visualisation).

    Returns:
        ``(out, weights)``: ``out`` is ``(B, H, Lq, dv)``; ``weights`` is None
        unless ``need_weights``.
    """
    bias = key_mask_to_bias(key_mask, q.dtype) if key_mask is not None else None
    if not need_weights and bias is None and dropout_p == 0.0 and _use_bmm_attention(q, k):
        return _attend_bmm(q, k, v, scale), None
    if not need_weights:
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=dropout_p, scale=scale)
        return out, None
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    logits = (q @ k.transpose(-2, -1)) * scale
    if bias is not None:
        logits = logits + bias
    weights = logits.softmax(dim=-1)
    dropped = F.dropout(weights, p=dropout_p) if dropout_p > 0 else weights
    return dropped @ v, weights


class Attention(nn.Module):
    """Multi-head self-attention with a fused ``qkv`` projection.

    Args:
        dim: token width C.
        num_heads: H (must divide C).
        qkv_bias: bias in the ``qkv`` projection.
        attn_drop: dropout on attention weights (training only).
        proj_drop: dropout after the output projection.

    Input ``(B, L, C)``, optional ``key_mask`` ``(B, L)``; output ``(B, L, C)``
    (and the ``(B, H, L, L)`` weights with ``need_weights=True``).
    """

    def __init__(
        self,
        dim: int,
        num_heads: int = 8,
        qkv_bias: bool = True,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
    ) -> None:
        super().__init__()
        if dim % num_heads != 0:
            raise ValueError(f"dim ({dim}) must be divisible by num_heads ({num_heads})")
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.attn_drop = attn_drop
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(
        self,
        x: torch.Tensor,
        key_mask: Optional[torch.Tensor] = None,
        need_weights: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        q, k, v = rearrange(self.qkv(x), "b l (three h d) -> three b h l d", three=3, h=self.num_heads)
        out, weights = attend(
            q,
            k,
            v,
            key_mask=key_mask,
            need_weights=need_weights,
            dropout_p=self.attn_drop if self.training else 0.0,
        )
        out = self.proj_drop(self.proj(merge_heads(out)))
        return (out, weights) if need_weights else out
