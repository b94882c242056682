"""count_flops counts attention itself: same totals on every SDPA kernel and torch version.

torch.utils.flop_counter has no formula for some fused attention kernels (torch 2.14 counts 0 for
the CPU flash kernel); posezoo registers ``2 * B*H * Lq * Lk * (d + dv)`` for all of them. The math
backend runs attention as two batched matmuls, which the counter counts with the same numbers, so
forcing it must not change any total.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import posezoo
from posezoo.layers import Attention
from posezoo.utils import count_flops, example_input

sdpa_kernel = pytest.importorskip("torch.nn.attention").sdpa_kernel
SDPBackend = pytest.importorskip("torch.nn.attention").SDPBackend


class _SDPA(nn.Module):
    def __init__(self, dropout_p: float = 0.0) -> None:
        super().__init__()
        self.dropout_p = dropout_p

    def forward(self, q, k, v, mask=None):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=self.dropout_p)


def _math_backend_flops(model: nn.Module, *inputs) -> int:
    with sdpa_kernel(SDPBackend.MATH):
        return count_flops(model, *inputs)


@pytest.mark.parametrize("lq,lk,d,dv", [(10, 10, 8, 8), (10, 6, 8, 5), (1, 30, 16, 16)])
def test_sdpa_counts_both_matmuls_on_every_path(lq: int, lk: int, d: int, dv: int) -> None:
    b, h = 3, 4
    q, k, v = torch.randn(b, h, lq, d), torch.randn(b, h, lk, d), torch.randn(b, h, lk, dv)
    expected = 2 * b * h * lq * lk * d + 2 * b * h * lq * lk * dv  # q k^T, then attn v
    assert count_flops(_SDPA(), q, k, v) == expected  # fused kernel
    assert count_flops(_SDPA(), q, k, v, torch.zeros(b, 1, 1, lk)) == expected  # with an additive mask
    assert count_flops(_SDPA(dropout_p=0.5), q, k, v) == expected  # dropout: the math path
    assert _math_backend_flops(_SDPA(), q, k, v) == expected


def test_attention_weights_path_counts_the_same_as_sdpa() -> None:
    """need_weights=True computes softmax(q k^T) v explicitly; the count must equal the fused call's."""
    attn = Attention(dim=32, num_heads=4).eval()
    x = torch.randn(2, 9, 32)
    linear = 2 * 2 * 9 * 32 * (3 * 32) + 2 * 2 * 9 * 32 * 32  # qkv and proj
    attention = 2 * 2 * 4 * 9 * 9 * (8 + 8)
    assert count_flops(attn, x) == linear + attention
    assert count_flops(attn, x, need_weights=True) == linear + attention


def _mixste_terms(model) -> tuple[int, int]:
    """(linear, attention) FLOPs of one MixSTE clip from the model's dimensions."""
    c, depth, frames, joints = model.dim, model.depth, model.num_frames, model.num_joints
    hidden = model.spatial_blocks[0].mlp.fc1.out_features
    tokens = frames * joints
    linear = 2 * tokens * (model.in_channels * c + c * model.out_channels)  # embedding and head
    linear += depth * 2 * (2 * tokens * (4 * c * c + 2 * c * hidden))  # spatial + temporal: qkv, proj, fc1, fc2
    # q k^T and attn v (2 matmuls x 2 FLOPs per multiply-add), over all heads together (H * d = C)
    spatial = 2 * 2 * frames * joints * joints * c  # tokens = joints, one sequence per frame
    temporal = 2 * 2 * joints * frames * frames * c  # tokens = frames, one sequence per joint
    return linear, depth * (spatial + temporal)


def test_mixste_small_attention_term_is_pinned() -> None:
    model = posezoo.create_model("mixste_small").eval()
    assert (model.dim, model.depth, model.num_frames, model.num_joints) == (64, 4, 27, 17)
    linear, attention = _mixste_terms(model)
    assert (linear, attention) == (240_941_952, 20_680_704)
    inputs = example_input(model)
    assert count_flops(model, *inputs) == linear + attention
    info = posezoo.model_info("mixste_small", flops=True)
    assert info["flops"]["per_clip"] == linear + attention == 261_622_656
    assert info["flops"]["macs_per_clip"] == (linear + attention) // 2


@pytest.mark.parametrize("name", ["mixste_small", "rtpca_small", "uplift_upsample_small", "mixsynthformer_3dpw_3d"])
def test_totals_do_not_depend_on_the_attention_kernel(name: str) -> None:
    model = posezoo.create_model(name).eval()
    inputs = example_input(model)
    fused = count_flops(model, *inputs)
    assert fused > 0
    assert _math_backend_flops(model, *inputs) == fused
