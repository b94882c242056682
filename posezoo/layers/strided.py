"""Strided transformer block: attention + strided-convolution MLP that shortens the sequence.

Used by Uplift and Upsample (Einfalt et al., WACV 2023) after the full-sequence
temporal transformer, following the StridedTransformer design: each block
reduces a sequence of L tokens to ``floor((L + pl + pr - 3) / s) + 1`` tokens
until one token (the central frame) remains.
"""

from __future__ import annotations

from typing import Sequence, Union

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from .._validation import check_float, check_int, check_mlp_ratio, check_probability
from .attention import Attention
from .block import make_drop_path
from .mlp import get_activation
from .pos_embed import LearnedPositionalEmbedding

__all__ = ["StridedConvMlp", "StridedTransformerBlock", "strided_output_length"]

KERNEL_SIZE = 3


def _check_padding(padding: Union[int, Sequence[int]]) -> tuple[int, int]:
    if isinstance(padding, (str, bytes)) or not isinstance(padding, (int, Sequence)):
        raise ValueError(f"padding must be (left, right) with each side 0 or 1, got {padding!r}")
    pad = (padding, padding) if isinstance(padding, int) else tuple(padding)
    if len(pad) != 2 or any(isinstance(p, bool) or not isinstance(p, int) or p not in (0, 1) for p in pad):
        raise ValueError(
            f"padding must be (left, right) with each side 0 or 1 (the strided residual is only "
            f"defined for those), got {padding!r}"
        )
    return pad  # type: ignore[return-value]


def strided_output_length(length: int, stride: int, padding: Union[int, Sequence[int]] = (1, 1)) -> int:
    """Tokens after one strided block: ``floor((L + pl + pr - 3) / s) + 1`` (kernel size 3).

    Returns 0 or less when the input is too short for the convolution.
    """
    pl, pr = _check_padding(padding)
    check_int("stride", stride)
    check_int("length", length, 0)
    span = length + pl + pr - KERNEL_SIZE
    return span // stride + 1 if span >= 0 else 0


class StridedConvMlp(nn.Module):
    """Pointwise linear -> activation -> zero padding -> strided Conv1d (kernel 3) over time.

    Args:
        dim: input and output width C.
        hidden: hidden width.
        stride: temporal stride s of the convolution.
        padding: zeros ``(pl, pr)`` added before/after the sequence (each 0 or 1).
        act_layer: activation after the pointwise layer (``"relu"`` in the paper).
        drop: dropout after the activation and after the convolution.

    Input ``(B, L, C)``, output ``(B, L', C)`` with ``L' = floor((L + pl + pr - 3)/s) + 1``.
    The pointwise layer is the official size-1 Conv1D written as ``nn.Linear``.
    There is no activation after the strided convolution.
    """

    def __init__(
        self,
        dim: int,
        hidden: int,
        stride: int,
        padding: Union[int, Sequence[int]] = (1, 1),
        act_layer: str = "relu",
        drop: float = 0.0,
    ) -> None:
        super().__init__()
        self.padding = _check_padding(padding)
        self.stride = stride
        self.fc1 = nn.Linear(dim, hidden)
        self.act = get_activation(act_layer)
        self.conv = nn.Conv1d(hidden, dim, KERNEL_SIZE, stride=stride)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.drop(self.act(self.fc1(x)))
        h = F.pad(rearrange(h, "b l c -> b c l"), self.padding)
        return self.drop(rearrange(self.conv(h), "b c l -> b l c"))


class StridedTransformerBlock(nn.Module):
    """Pre-norm attention + strided-convolution MLP with a strided residual and its own PE.

    Computation, for input ``x`` of ``L`` tokens:

    1. ``x = x + P`` with this block's learnable positional embedding ``P`` ``(L, C)``
       (added to the residual stream, so it stays in the output);
    2. ``y = x + Attn(LN1(x))`` (optional key mask as in :class:`~posezoo.layers.TransformerBlock`);
    3. residual: ``r = y`` without its first token if ``pl == 0`` and without its
       last token if ``pr == 0``, then subsampled ``r[:, ::s]`` (the official
       max-pool of size 1 and stride s);
    4. ``out = r + StridedConvMlp(LN2(y))``.

    Args:
        dim: token width C.
        num_tokens: input length L (size of the positional embedding).
        stride: temporal stride s.
        padding: ``(pl, pr)``, each 0 or 1.
        num_heads, mlp_ratio, qkv_bias, act_layer, norm_eps, drop, attn_drop,
        drop_path: as in :class:`~posezoo.layers.TransformerBlock`
            (``act_layer`` default ``"relu"``, ``norm_eps`` default 1e-5 as in the paper's code).
        pos_embed_std: init std of the positional embedding.

    Input ``(B, L, C)`` (+ optional ``key_mask`` ``(B, L)`` bool), output
    ``(B, L', C)`` with ``L' =`` :attr:`output_length`.
    """

    def __init__(
        self,
        dim: int,
        num_tokens: int,
        stride: int,
        padding: Union[int, Sequence[int]] = (1, 1),
        num_heads: int = 8,
        mlp_ratio: float = 2.0,
        qkv_bias: bool = True,
        act_layer: str = "relu",
        norm_eps: float = 1e-5,
        drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
        pos_embed_std: float = 0.02,
    ) -> None:
        super().__init__()
        pad = _check_padding(padding)
        hidden = check_mlp_ratio(mlp_ratio, dim)
        check_float("norm_eps", norm_eps, minimum=0.0, exclusive_minimum=True)
        for name, rate in (("drop", drop), ("attn_drop", attn_drop), ("drop_path", drop_path)):
            check_probability(name, rate)
        out_len = strided_output_length(num_tokens, stride, pad)
        if out_len < 1:
            raise ValueError(
                f"a strided block with stride {stride} and padding {list(pad)} needs at least "
                f"{KERNEL_SIZE - pad[0] - pad[1]} input tokens, got {num_tokens}"
            )
        self.num_tokens = num_tokens
        self.stride = stride
        self.padding = pad
        self.output_length = out_len
        self.pos_embed = LearnedPositionalEmbedding(num_tokens, dim, init_std=pos_embed_std)
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.attn = Attention(dim, num_heads, qkv_bias, attn_drop, drop)
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp = StridedConvMlp(dim, hidden, stride, pad, act_layer=act_layer, drop=drop)
        self.drop_path = make_drop_path(drop_path)
        self._res_start = 0 if pad[0] else 1
        self._res_stop = num_tokens if pad[1] else num_tokens - 1

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor | None = None) -> torch.Tensor:
        x = self.pos_embed(x)  # validates (B, L, C)
        x = x + self.drop_path(self.attn(self.norm1(x), key_mask=key_mask))
        residual = x[:, self._res_start : self._res_stop : self.stride]
        return residual + self.drop_path(self.mlp(self.norm2(x)))
