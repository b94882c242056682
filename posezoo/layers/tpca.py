"""Temporal Pyramidal Compression-and-Amplification (TPCA), from RTPCA (Liu et al., 2023).

TPCA refines a token sequence along time before keys and values are computed
from it: the sequence is compressed in stages into a temporal pyramid, then
amplified back to its original length with skip connections from the pyramid,
added to the input and layer-normalised. Every operation except the final
LayerNorm acts on each channel's time series separately (depthwise).

For input ``x`` of shape ``(N, T, C)`` and pyramid lengths
``L_0 = T, L_k = L_{k-1} // ratio`` (``k = 1 .. stages``)::

    u   = x^T                                            (N, C, T)
    p_k = GELU(LN_time(compress_k(p_{k-1})))             length L_k, p_0 = u
    a_1 = GELU(LN_time(amplify_1(p_S)))                  length L_{S-1}
    a_j = GELU(LN_time(amplify_j(a_{j-1} + p_{S-j+1})))  length L_{S-j}
    out = LN_channels((a_S + u)^T)                       (N, T, C)

``LN_time`` is a LayerNorm over the time axis (one affine weight per time
position). For ``T = 243``, ``stages = 3``, ``ratio = 2`` the pyramid is
243 -> 121 -> 60 -> 30 and the transposed convolutions have kernel sizes
2, 3, 3 (30 -> 60 -> 121 -> 243), exactly as in the official RTPCA code.
"""

from __future__ import annotations

import functools
from typing import Optional

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from .._validation import check_int
from .mlp import get_activation

__all__ = [
    "TPCA",
    "pyramid_lengths",
    "depthwise_conv_transpose1d",
    "average_pool_time",
    "COMPRESS_MODES",
    "AMPLIFY_MODES",
]

COMPRESS_MODES = ("pool", "conv", "pool+conv")
AMPLIFY_MODES = ("transconv", "linear")


def pyramid_lengths(num_frames: int, stages: int = 3, ratio: int = 2) -> list[int]:
    """Sequence lengths ``[L_0, L_1, ..., L_stages]`` of the temporal pyramid.

    ``L_0 = num_frames`` and ``L_k = L_{k-1} // ratio`` (which equals
    ``num_frames // ratio**k``). ``pyramid_lengths(243) == [243, 121, 60, 30]``.

    Raises:
        ValueError: when an argument is out of range or the coarsest level
            would be empty.
    """
    for name, value, low in (("num_frames", num_frames, 1), ("stages", stages, 1), ("ratio", ratio, 2)):
        check_int(f"TPCA: {name}", value, low)
    lengths = [num_frames]
    for _ in range(stages):  # stops after at most log_ratio(num_frames) + 1 steps
        lengths.append(lengths[-1] // ratio)
        if lengths[-1] < 1:
            need = f"{ratio**stages}" if stages * ratio.bit_length() <= 256 else f"{ratio}**{stages}"
            raise ValueError(
                f"TPCA: {stages} stages with ratio {ratio} need at least {need} frames, got {num_frames} "
                f"(pyramid {lengths[:-1]} reaches 0 after {len(lengths) - 1} stages); use fewer stages or a smaller ratio"
            )
    return lengths


#: widest window summed as strided slices (wider ones, e.g. a global mean, keep PyTorch's own summation order)
_MAX_STRIDED_WINDOW = 4


@functools.cache
def _uniform_windows(length_in: int, length_out: int) -> Optional[tuple[int, int]]:
    """``(stride, width)`` when every window of ``adaptive_avg_pool1d(length_in -> length_out)`` starts at
    ``stride * i`` and spans ``width`` samples (243 -> 121 -> 60 -> 30: stride 2, widths 3, 3, 2), else None."""
    starts = [i * length_in // length_out for i in range(length_out)]
    ends = [-(-(i + 1) * length_in // length_out) for i in range(length_out)]
    stride = starts[1] - starts[0] if length_out > 1 else 1
    width = ends[0] - starts[0]
    uniform = all(b == stride * i and e - b == width for i, (b, e) in enumerate(zip(starts, ends)))
    return (stride, width) if uniform and stride >= 1 else None


def average_pool_time(x: torch.Tensor, length: int) -> torch.Tensor:
    """``F.adaptive_avg_pool1d(x, length)`` for ``x`` ``(N, C, L)``, as strided sums where the windows are uniform.

    PyTorch's adaptive pooling of a time-contiguous ``(N, C, L)`` tensor is 3-7x slower on the CPU than
    adding ``width`` strided slices (``benchmarks/README.md``). In float32/float64 the result is the same
    (window sums in the same order, then one division); other dtypes, inputs whose time axis is not
    contiguous (a channels-last view pools fast already), non-uniform windows and windows wider than 4
    samples use ``F.adaptive_avg_pool1d``.
    """
    if x.dtype not in (torch.float32, torch.float64) or x.stride(-1) != 1 or length < 1:
        return F.adaptive_avg_pool1d(x, length)  # (a channels-last view pools fast as it is; PyTorch's errors)
    windows = _uniform_windows(x.shape[-1], length)
    if windows is None or windows[1] > _MAX_STRIDED_WINDOW:
        return F.adaptive_avg_pool1d(x, length)
    stride, width = windows
    span = stride * (length - 1) + 1
    out = x[..., :span:stride].clone()
    for j in range(1, width):
        out.add_(x[..., j : j + span : stride])
    return out.div_(width)


def depthwise_conv_transpose1d(
    x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor], stride: int
) -> torch.Tensor:
    """Depthwise transposed 1D convolution without padding, as ``K`` strided multiply-adds.

    ``out[n, c, s*i + j] += weight[c, 0, j] * x[n, c, i]`` (plus ``bias[c]``): equal to
    ``F.conv_transpose1d(x, weight, bias, stride=s, groups=C)`` up to the order of the (at most
    ``ceil(K / s)`` + 1) additions per output, and 1.2-3x faster in float32, 5-8x in bfloat16 on CPU,
    where PyTorch's depthwise transposed-convolution kernel is slow (``benchmarks/README.md``).

    Args:
        x: ``(N, C, L)``.
        weight: ``(C, 1, K)``.
        bias: ``(C,)`` or None.
        stride: s >= 1.

    Returns:
        ``(N, C, (L - 1) * s + K)``.
    """
    n, c, length = x.shape
    k = weight.shape[-1]
    blocks = length + (k + stride - 1) // stride - 1  # output rows of `stride` samples each
    if bias is None:
        out = x.new_zeros(n, c, blocks, stride)
    else:  # start from the bias: saves a zero fill and a full pass adding it at the end
        out = bias.to(x.dtype).reshape(1, c, 1, 1).expand(n, c, blocks, stride).clone()
    w = weight.reshape(c, k).to(x.dtype)
    for j in range(k):
        shift, phase = divmod(j, stride)
        out[:, :, shift : shift + length, phase].addcmul_(x, w[:, j : j + 1])
    return out.flatten(2)[:, :, : (length - 1) * stride + k]


def _is_plain_depthwise_transpose(conv: nn.ConvTranspose1d) -> bool:
    return (
        conv.groups == conv.in_channels == conv.out_channels
        and conv.padding == (0,)
        and conv.output_padding == (0,)
        and conv.dilation == (1,)
        and conv.padding_mode == "zeros"
    )


def _strided_kernel(long: int, short: int, stride: int) -> int:
    """Kernel size ``k`` with ``(long - k) // stride + 1 == short`` (conv) and
    ``(short - 1) * stride + k == long`` (transposed conv); ``stride <= k < 2 * stride``."""
    return long - stride * (short - 1)


class _Compress(nn.Module):
    """One compression step ``(N, C, L_in) -> (N, C, L_out)`` (``L_out = L_in // ratio``).

    ``"pool"``: ``adaptive_avg_pool1d`` (parameter-free, the official choice);
    ``"conv"``: depthwise strided Conv1d whose kernel makes the output exactly
    ``L_out`` long; ``"pool+conv"``: the sum of both.
    """

    def __init__(self, dim: int, length_in: int, length_out: int, ratio: int, mode: str) -> None:
        super().__init__()
        self.length_out = length_out
        self.use_pool = mode in ("pool", "pool+conv")
        self.conv = None
        if mode in ("conv", "pool+conv"):
            kernel = _strided_kernel(length_in, length_out, ratio)
            self.conv = nn.Conv1d(dim, dim, kernel_size=kernel, stride=ratio, groups=dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = average_pool_time(x, self.length_out) if self.use_pool else None
        if self.conv is not None:
            conv = self.conv(x)
            out = conv if out is None else out + conv
        return out


class TPCA(nn.Module):
    """Temporal pyramid compression and amplification of a ``(N, T, C)`` sequence.

    Args:
        dim: channels C.
        num_frames: sequence length T (the time-axis LayerNorms have T, L_1, ...
            affine weights, so T is fixed at construction).
        stages: pyramid depth S (number of compression steps).
        ratio: length reduction per stage (``L_k = L_{k-1} // ratio``).
        compress: ``"pool"`` (adaptive average pooling, official), ``"conv"``
            (depthwise strided convolution) or ``"pool+conv"`` (sum of both),
            the compression variants of the paper's Table 6.
        amplify: ``"transconv"`` (depthwise transposed convolution, official;
            kernel sizes chosen so each step restores the next pyramid length
            exactly) or ``"linear"`` (parameter-free linear interpolation).
        norm_eps: epsilon of every LayerNorm inside TPCA (the official code
            uses PyTorch's default 1e-5).
        act_layer: activation after each LayerNorm (exact GELU by default).

    Input ``(N, T, C)``; output ``(N, T, C)`` (same length for every option).
    Submodules: ``compress[k]``, ``down_norms[k]`` (LayerNorm over
    ``L_{k+1}`` time steps), ``amplify[j]`` (transposed conv, only for
    ``"transconv"``), ``up_norms[j]`` (LayerNorm over ``L_{S-1-j}``) and
    ``out_norm`` (LayerNorm over C).
    """

    def __init__(
        self,
        dim: int,
        num_frames: int,
        stages: int = 3,
        ratio: int = 2,
        compress: str = "pool",
        amplify: str = "transconv",
        norm_eps: float = 1e-5,
        act_layer: str = "gelu",
    ) -> None:
        super().__init__()
        if compress not in COMPRESS_MODES:
            raise ValueError(f"TPCA: compress must be one of {COMPRESS_MODES}, got {compress!r}")
        if amplify not in AMPLIFY_MODES:
            raise ValueError(f"TPCA: amplify must be one of {AMPLIFY_MODES}, got {amplify!r}")
        self.dim, self.num_frames, self.stages, self.ratio = dim, num_frames, stages, ratio
        self.compress_mode, self.amplify_mode = compress, amplify
        self.lengths = pyramid_lengths(num_frames, stages, ratio)
        lengths = self.lengths
        self.compress = nn.ModuleList(
            _Compress(dim, lengths[k], lengths[k + 1], ratio, compress) for k in range(stages)
        )
        self.down_norms = nn.ModuleList(nn.LayerNorm(lengths[k + 1], eps=norm_eps) for k in range(stages))
        # amplification step j maps L_{S-j} -> L_{S-1-j}
        up_pairs = [(lengths[stages - j], lengths[stages - 1 - j]) for j in range(stages)]
        self.amplify = (
            nn.ModuleList(
                nn.ConvTranspose1d(
                    dim, dim, kernel_size=_strided_kernel(out_len, in_len, ratio), stride=ratio, groups=dim
                )
                for in_len, out_len in up_pairs
            )
            if amplify == "transconv"
            else None
        )
        self.up_lengths = [out_len for _, out_len in up_pairs]
        self.up_norms = nn.ModuleList(nn.LayerNorm(out_len, eps=norm_eps) for _, out_len in up_pairs)
        self.out_norm = nn.LayerNorm(dim, eps=norm_eps)
        self.act = get_activation(act_layer)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, lengths={self.lengths}, compress={self.compress_mode!r}, amplify={self.amplify_mode!r}"

    def _amplify(self, j: int, x: torch.Tensor) -> torch.Tensor:
        if self.amplify is not None:
            conv = self.amplify[j]
            if _is_plain_depthwise_transpose(conv):  # always, unless replaced by another conv
                return depthwise_conv_transpose1d(x, conv.weight, conv.bias, conv.stride[0])
            return conv(x)
        return F.interpolate(x, size=self.up_lengths[j], mode="linear", align_corners=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 3 or x.shape[1] != self.num_frames or x.shape[2] != self.dim:
            raise ValueError(f"TPCA expects (N, T={self.num_frames}, C={self.dim}), got {tuple(x.shape)}")
        u = rearrange(x, "n t c -> n c t")
        pyramid = [u]
        for compress, norm in zip(self.compress, self.down_norms):
            pyramid.append(self.act(norm(compress(pyramid[-1]))))
        h = pyramid[-1]
        for j, norm in enumerate(self.up_norms):
            if j > 0:
                h = h + pyramid[self.stages - j]
            h = self.act(norm(self._amplify(j, h)))
        # add in x's (N, T, C) layout: the sum is then contiguous for the channel LayerNorm (no copy)
        return self.out_norm(x + rearrange(h, "n c t -> n t c"))
