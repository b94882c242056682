"""Synthetic attention (MixSynthFormer, Sun et al., ICCV 2023).

Instead of comparing queries with keys, a synthetic attention layer makes
each row of its attention matrix with a small MLP from that row's own token
(the "dense synthesizer" idea), re-weights the rows with a squeeze-and-excitation
gate and optionally reduces the number of keys/values by a factor ``r``.

Layers (each usable on its own):

* :class:`SELayer` - row gates ``(B, R, N) -> (B, R, N)``.
* :class:`SynthAttention` - one synthetic attention over R rows,
  ``(B, R, C_in) -> (B, R, C_in)``.
* :class:`MixSynthAttention` - temporal (frames x frames) and channel
  (channels x channels) synthetic attention mixed by split attention,
  ``(B, T, C) -> (B, T, C)``.
* :class:`MixSynthEncoderLayer` and :class:`MixSynthEncoder` (in :mod:`posezoo.layers.synth_encoder`,
  also importable from here) - the post-norm encoder layer ``LN(x + MixSynth(x))`` then
  ``LN(x + FFN(x))``, and a stack of those layers.

Parameter names follow the official implementation where it is natural
(``dense``, ``se.fc.0``, ``value_reduce``, ``reweight.fc1`` ...), so that the
official checkpoint converter only renames a few prefixes.
"""

from __future__ import annotations

from typing import Optional

import torch
from einops import rearrange
from torch import nn

from .._validation import check_int
from .attention import attend
from .mlp import Mlp

__all__ = [
    "ATTN_GENERATIONS",
    "SELayer",
    "SynthAttention",
    "MixSynthAttention",
]

#: Ways of generating the attention matrix (the paper's Table 5).
ATTN_GENERATIONS = ("synth", "dense", "random", "vanilla")
_MIXINGS = ("split", "sum")
_BRANCHES = ("both", "temporal", "channel")


def _choice(name: str, value: str, options: tuple[str, ...]) -> str:
    if value not in options:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, options))}, got {value!r}")
    return value


def _check_tokens(x: torch.Tensor, rows: int, width: int, where: str) -> None:
    if x.ndim != 3 or x.shape[1] != rows or x.shape[2] != width:
        raise ValueError(f"{where} expects (B, {rows}, {width}), got {tuple(x.shape)}")


class SELayer(nn.Module):
    """Squeeze-and-excitation gate over the rows of ``(B, R, N)``.

    The squeeze is the mean over the last axis (one value per row), the
    excitation ``sigmoid(W2 relu(W1 s))`` with ``W1: R -> R // ratio`` and
    ``W2: R // ratio -> R`` (no biases); each row is multiplied by its gate.

    Args:
        channels: R, the number of rows (query positions) that get a gate.
        ratio: hidden-width divisor (4 in MixSynthFormer; the hidden width is
            at least 1).

    Shapes: ``forward``: ``(B, R, N) -> (B, R, N)``; ``gate``: ``(B, R) -> (B, R)``.
    """

    def __init__(self, channels: int, ratio: int = 4) -> None:
        super().__init__()
        check_int("channels", channels)
        check_int("ratio", ratio)
        self.channels = channels
        hidden = max(1, channels // ratio)
        # Indices 0 and 2 hold the weights (1 is ReLU, 3 is Sigmoid), as in the official keys.
        self.fc = nn.Sequential(
            nn.Linear(channels, hidden, bias=False),
            nn.ReLU(),
            nn.Linear(hidden, channels, bias=False),
            nn.Sigmoid(),
        )

    def gate(self, squeezed: torch.Tensor) -> torch.Tensor:
        """Gates ``(B, R)`` in (0, 1) from the squeezed rows ``(B, R)``."""
        return self.fc(squeezed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 3 or x.shape[1] != self.channels:
            raise ValueError(f"SELayer expects (B, {self.channels}, N), got {tuple(x.shape)}")
        return x * self.gate(x.mean(dim=-1)).unsqueeze(-1)


class SynthAttention(nn.Module):
    """Synthetic attention over ``R = out_dim`` rows of width ``in_dim``.

    With the default ``generation="synth"`` (MixSynthFormer's layer):

    1. energy ``E = dense(x)``: ``(B, R, R // reduce)``, one row per token,
       synthesised from that token alone by a Linear ``in_dim -> R // reduce``;
    2. SE re-weighting: each row of E is scaled by its gate (:class:`SELayer`
       over the R rows, squeeze = mean over the key axis);
    3. ``A = softmax(E)`` over the key axis;
    4. values: ``V = x`` when ``reduce == 1``; otherwise ``value_reduce``
       (a Linear ``R -> R // reduce`` over the row axis) shortens them to
       ``(B, R // reduce, in_dim)``;
    5. output ``A @ V``: ``(B, R, in_dim)``.

    Ablations (the paper's Table 5), all with the same reduction and SE switch:

    * ``"dense"``: energy from a two-layer MLP (``dense.0`` Linear, ReLU,
      ``dense.2`` Linear) as the Synthesizer's dense variant; values pass
      through a learned ``value_fc`` (as in the official ablation code).
    * ``"random"``: energy is a learned ``(R, R // reduce)`` matrix shared by
      all inputs (Random Synthesizer), softmax-normalised; values through
      ``value_fc``. (The official ablation script omits the softmax; posezoo
      follows the Synthesizer definition.)
    * ``"vanilla"``: scaled dot-product attention (one head of width
      ``in_dim``) with ``query``/``key``/``value_fc`` projections, through
      :func:`posezoo.layers.attention.attend`; keys and values come from
      the reduced rows when ``reduce > 1``. The SE gate is applied exactly
      by scaling each query by its gate (the squeeze, a mean of logits over
      keys, equals ``q . mean(k) * scale``).

    Args:
        in_dim: width of each row (channels for the temporal branch, frames
            for the channel branch).
        out_dim: R, the number of rows (frames for the temporal branch,
            channels for the channel branch). The input must have exactly R rows.
        reduce: key/value reduction factor r (``R // r`` keys, at least 1).
        generation: ``"synth"``, ``"dense"``, ``"random"`` or ``"vanilla"``.
        se: apply the SE row re-weighting.
        se_ratio: SE hidden-width divisor.
        keep_unused_value_reduce: also create ``value_reduce`` when
            ``reduce == 1`` (official layout: it exists there but is never used;
            only useful to reproduce the official parameter count).

    Shapes: ``(B, R, in_dim) -> (B, R, in_dim)``.
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        reduce: int = 1,
        *,
        generation: str = "synth",
        se: bool = True,
        se_ratio: int = 4,
        keep_unused_value_reduce: bool = False,
    ) -> None:
        super().__init__()
        check_int("in_dim", in_dim)
        check_int("out_dim", out_dim)
        check_int("reduce", reduce)
        if reduce > out_dim:
            raise ValueError(f"reduce ({reduce}) must not exceed out_dim ({out_dim})")
        self.in_dim, self.out_dim, self.reduce = in_dim, out_dim, reduce
        self.generation = _choice("generation", generation, ATTN_GENERATIONS)
        self.num_keys = out_dim // reduce
        rows, keys = out_dim, self.num_keys

        if generation == "synth":
            self.dense = nn.Linear(in_dim, keys)
        elif generation == "dense":
            self.dense = nn.Sequential(nn.Linear(in_dim, keys), nn.ReLU(), nn.Linear(keys, keys))
        elif generation == "random":
            self.attention = nn.Parameter(torch.empty(rows, keys))
            nn.init.xavier_uniform_(self.attention)
        else:  # vanilla
            self.query = nn.Linear(in_dim, in_dim)
            self.key = nn.Linear(in_dim, in_dim)
        self.se = SELayer(rows, se_ratio) if se else None
        if reduce > 1 or keep_unused_value_reduce:
            self.value_reduce = nn.Linear(rows, keys)
        else:
            self.value_reduce = None
        self.value_fc = nn.Linear(in_dim, in_dim) if generation != "synth" else None

    def extra_repr(self) -> str:
        return f"in_dim={self.in_dim}, rows={self.out_dim}, keys={self.num_keys}, generation={self.generation!r}"

    def _reduced_rows(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, R, C) -> (B, R // r, C)`` (identity when r = 1)."""
        if self.reduce == 1:
            return x
        return self.value_reduce(x.transpose(1, 2)).transpose(1, 2)

    def _energy(self, x: torch.Tensor) -> torch.Tensor:
        if self.generation == "random":
            return self.attention.to(x.dtype).expand(x.shape[0], -1, -1)
        return self.dense(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_tokens(x, self.out_dim, self.in_dim, "SynthAttention")
        values = self._reduced_rows(x)  # (B, R//r, C)
        if self.value_fc is not None:
            values = self.value_fc(values)
        if self.generation == "vanilla":
            return self._dot_product(x, values)
        energy = self._energy(x)  # (B, R, R//r)
        if self.se is not None:
            energy = self.se(energy)
        return torch.matmul(energy.softmax(dim=-1), values)

    def _dot_product(self, x: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        scale = self.in_dim**-0.5
        q = self.query(x)  # (B, R, C)
        k = self.key(self._reduced_rows(x))  # (B, R//r, C)
        if self.se is not None:
            squeezed = torch.einsum("brc,bc->br", q, k.mean(dim=1)) * scale
            q = q * self.se.gate(squeezed).unsqueeze(-1)
        out, _ = attend(q.unsqueeze(1), k.unsqueeze(1), values.unsqueeze(1), scale=scale)
        return out.squeeze(1)


class MixSynthAttention(nn.Module):
    """MixSynth attention: temporal and channel synthetic attention, mixed per frame.

    For tokens ``h`` of shape ``(B, T, C)``:

    * temporal branch ``t = synth_token(h)``: :class:`SynthAttention` with
      ``in_dim=C, out_dim=T, reduce=reduce_token`` (a T x T//rt matrix per clip);
    * channel branch ``c = synth_channel(h^T)^T``: :class:`SynthAttention` with
      ``in_dim=T, out_dim=C, reduce=reduce_channel`` (a C x C//rc matrix);
    * split attention (``mixing="split"``): ``a = mean_C(t + c)`` gives one
      value per frame ``(B, T)``; ``reweight`` (Mlp ``T -> T//4 -> 2T``, GELU)
      maps it to 2T logits read as ``(B, T, 2)`` (interleaved: logit ``2f + n``
      belongs to branch n at frame f); a softmax over the two branches gives
      ``w`` and ``mix = w[..., 0] t + w[..., 1] c`` frame by frame.
      ``mixing="sum"`` uses ``t + c`` instead (the paper's Table 7);
    * output ``proj(mix)`` (Linear C -> C), then dropout.

    Args:
        num_frames: T (the layer is tied to it: the temporal matrices and the
            re-weighting MLP have T-sized weights).
        dim: C.
        reduce_token: rt, key reduction of the temporal branch.
        reduce_channel: rc, key reduction of the channel branch.
        generation: attention generation of both branches (see :class:`SynthAttention`).
        se: SE re-weighting in both branches.
        mixing: ``"split"`` (weighted sum by split attention) or ``"sum"``.
            Only meaningful with both branches.
        branches: ``"both"``, ``"temporal"`` (temporal branch only) or
            ``"channel"`` (channel branch only).
        dropout: dropout after ``proj`` (training only).
        keep_unused_value_reduce: see :class:`SynthAttention`.

    Shapes: ``(B, T, C) -> (B, T, C)``.
    """

    def __init__(
        self,
        num_frames: int,
        dim: int,
        reduce_token: int = 1,
        reduce_channel: int = 1,
        *,
        generation: str = "synth",
        se: bool = True,
        mixing: str = "split",
        branches: str = "both",
        dropout: float = 0.0,
        keep_unused_value_reduce: bool = False,
    ) -> None:
        super().__init__()
        check_int("num_frames", num_frames)
        check_int("dim", dim)
        self.num_frames, self.dim = num_frames, dim
        self.mixing = _choice("mixing", mixing, _MIXINGS)
        self.branches = _choice("branches", branches, _BRANCHES)
        if branches != "both" and mixing != "split":
            raise ValueError(f"mixing={mixing!r} needs both branches, got branches={branches!r}")
        common = dict(generation=generation, se=se, keep_unused_value_reduce=keep_unused_value_reduce)
        self.synth_token: Optional[SynthAttention] = None
        self.synth_channel: Optional[SynthAttention] = None
        if branches in ("both", "temporal"):
            self.synth_token = SynthAttention(dim, num_frames, reduce_token, **common)
        if branches in ("both", "channel"):
            self.synth_channel = SynthAttention(num_frames, dim, reduce_channel, **common)
        self.reweight: Optional[Mlp] = None
        if branches == "both" and mixing == "split":
            self.reweight = Mlp(num_frames, max(1, num_frames // 4), 2 * num_frames, act_layer="gelu")
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(dropout)

    def split_weights(self, t: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """Branch weights ``(B, T, 2)`` (softmax over the last axis; 0 = temporal, 1 = channel)."""
        if self.reweight is None:
            raise RuntimeError("split_weights needs mixing='split' with both branches")
        logits = self.reweight((t + c).mean(dim=-1))  # (B, 2T)
        return rearrange(logits, "b (t n) -> b t n", n=2).softmax(dim=-1)

    def branch_outputs(self, x: torch.Tensor) -> tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
        """``(t, c)``, each ``(B, T, C)`` or None when that branch is switched off."""
        _check_tokens(x, self.num_frames, self.dim, "MixSynthAttention")
        t = self.synth_token(x) if self.synth_token is not None else None
        c = None
        if self.synth_channel is not None:
            # back to (B, T, C) in memory too: the mixing, proj and the LayerNorms after it then run on
            # contiguous tensors (13 % faster at batch 256, benchmarks/README.md)
            c = self.synth_channel(x.transpose(1, 2)).transpose(1, 2).contiguous()
        return t, c

    def forward(
        self, x: torch.Tensor, key_mask: Optional[torch.Tensor] = None, need_weights: bool = False
    ) -> torch.Tensor:
        """``(B, T, C) -> (B, T, C)``.

        ``key_mask`` and ``need_weights`` exist only so that this layer drops
        into :class:`posezoo.layers.block.TransformerBlock` as its ``attn``;
        synthetic attention has no keys to mask and no single weight matrix,
        so anything but ``None`` / ``False`` raises ``ValueError``.
        """
        if key_mask is not None or need_weights:
            raise ValueError("MixSynthAttention supports neither key_mask nor need_weights")
        t, c = self.branch_outputs(x)
        if t is None:
            mixed = c
        elif c is None:
            mixed = t
        elif self.mixing == "sum":
            mixed = t + c
        else:
            w = self.split_weights(t, c)
            # w0 t + w1 c with w0 + w1 = 1 (a softmax): one fused pass instead of two products and a sum
            mixed = torch.lerp(c, t, w[..., 0:1])
        return self.proj_drop(self.proj(mixed))


def __getattr__(name: str):
    """``MixSynthEncoderLayer`` / ``MixSynthEncoder`` live in :mod:`.synth_encoder` (old import path kept)."""
    if name in ("MixSynthEncoderLayer", "MixSynthEncoder"):
        from . import synth_encoder

        return getattr(synth_encoder, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
