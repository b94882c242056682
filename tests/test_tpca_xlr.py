"""TPCA, XLR attention and the 4D spatial/temporal blocks as stand-alone layers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from einops import rearrange

from posezoo.layers import (
    TPCA,
    Attention,
    KeyValue,
    SpatialBlock,
    TemporalBlock,
    TransformerBlock,
    XLRAttention,
    XLRBlock,
    pool_key_value,
    pyramid_lengths,
)
from posezoo.layers.tpca import AMPLIFY_MODES, COMPRESS_MODES

FRAME_COUNTS = [27, 28, 81, 82, 243, 244, 8, 100]


def _params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# ---------------------------------------------------------------------------- TPCA


@pytest.mark.parametrize("amplify", AMPLIFY_MODES)
@pytest.mark.parametrize("compress", COMPRESS_MODES)
@pytest.mark.parametrize("frames", FRAME_COUNTS)
def test_tpca_output_length_equals_input_length(frames: int, compress: str, amplify: str) -> None:
    torch.manual_seed(frames)
    tpca = TPCA(6, frames, compress=compress, amplify=amplify)
    x = torch.randn(3, frames, 6, requires_grad=True)
    y = tpca(x)
    assert y.shape == (3, frames, 6)
    assert torch.isfinite(y).all()
    # the last LayerNorm is over channels (affine 1/0 at init): zero mean, unit variance per token
    torch.testing.assert_close(y.mean(-1), torch.zeros(3, frames), atol=1e-5, rtol=0)
    y.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is not None for p in tpca.parameters())


@pytest.mark.parametrize("stages, ratio", [(1, 2), (2, 3), (4, 2), (3, 3)])
def test_tpca_other_pyramids_keep_length(stages: int, ratio: int) -> None:
    frames = 81
    tpca = TPCA(4, frames, stages=stages, ratio=ratio)
    assert tpca.lengths == [frames // ratio**k for k in range(stages + 1)]
    assert tpca(torch.randn(2, frames, 4)).shape == (2, frames, 4)


def test_tpca_243_reproduces_the_official_pyramid() -> None:
    tpca = TPCA(8, 243)
    assert pyramid_lengths(243) == [243, 121, 60, 30]
    assert tpca.lengths == [243, 121, 60, 30]
    assert [conv.kernel_size[0] for conv in tpca.amplify] == [2, 3, 3]
    assert [conv.stride[0] for conv in tpca.amplify] == [2, 2, 2]
    assert [n.normalized_shape[0] for n in tpca.down_norms] == [121, 60, 30]
    assert [n.normalized_shape[0] for n in tpca.up_norms] == [60, 121, 243]
    conv = TPCA(8, 243, compress="conv")
    assert [c.conv.kernel_size[0] for c in conv.compress] == [3, 3, 2]


def test_tpca_parameter_count_matches_the_official_unused_spatial_module() -> None:
    # the official class builds exactly this module (7,926 parameters at C=512) in every spatial block
    assert _params(TPCA(512, 243)) == 7926
    c = 16
    base = _params(TPCA(c, 243))
    conv_extra = sum(c * k + c for k in (3, 3, 2))  # depthwise strided convs 243->121->60->30
    assert _params(TPCA(c, 243, compress="conv")) == base + conv_extra
    assert _params(TPCA(c, 243, compress="pool+conv")) == base + conv_extra
    amplify = sum(c * k + c for k in (2, 3, 3))
    assert _params(TPCA(c, 243, amplify="linear")) == base - amplify


def _reference_tpca(x: np.ndarray, tpca: TPCA) -> np.ndarray:
    """Plain-numpy TPCA (pool + transposed conv) for T = 243, written from the formulas."""

    def layer_norm(a, w, b, eps):
        mu = a.mean(-1, keepdims=True)
        var = a.var(-1, keepdims=True)
        return (a - mu) / np.sqrt(var + eps) * w + b

    def gelu(a):
        return 0.5 * a * (1 + np.vectorize(math.erf)(a / math.sqrt(2)))

    def avg_pool(a, kernel, stride, out_len):
        return np.stack([a[..., i * stride : i * stride + kernel].mean(-1) for i in range(out_len)], -1)

    def transposed_conv(a, w, b):  # depthwise: out[c, t] = b[c] + sum_{2i + j = t} w[c, 0, j] a[c, i]
        k = w.shape[-1]
        out = np.zeros(a.shape[:-1] + ((a.shape[-1] - 1) * 2 + k,))
        for i in range(a.shape[-1]):
            for j in range(k):
                out[..., 2 * i + j] += w[:, 0, j] * a[..., i]
        return out + b[:, None]

    p = {k: v.detach().double().numpy() for k, v in tpca.state_dict().items()}
    eps = tpca.out_norm.eps
    u = x.transpose(0, 2, 1)
    p1 = gelu(layer_norm(avg_pool(u, 3, 2, 121), p["down_norms.0.weight"], p["down_norms.0.bias"], eps))
    p2 = gelu(layer_norm(avg_pool(p1, 3, 2, 60), p["down_norms.1.weight"], p["down_norms.1.bias"], eps))
    p3 = gelu(layer_norm(avg_pool(p2, 2, 2, 30), p["down_norms.2.weight"], p["down_norms.2.bias"], eps))
    c1 = gelu(
        layer_norm(
            transposed_conv(p3, p["amplify.0.weight"], p["amplify.0.bias"]),
            p["up_norms.0.weight"],
            p["up_norms.0.bias"],
            eps,
        )
    )
    c2 = gelu(
        layer_norm(
            transposed_conv(c1 + p2, p["amplify.1.weight"], p["amplify.1.bias"]),
            p["up_norms.1.weight"],
            p["up_norms.1.bias"],
            eps,
        )
    )
    c3 = gelu(
        layer_norm(
            transposed_conv(c2 + p1, p["amplify.2.weight"], p["amplify.2.bias"]),
            p["up_norms.2.weight"],
            p["up_norms.2.bias"],
            eps,
        )
    )
    return layer_norm((c3 + u).transpose(0, 2, 1), p["out_norm.weight"], p["out_norm.bias"], eps)


def test_tpca_values_match_a_from_formula_reference() -> None:
    torch.manual_seed(0)
    tpca = TPCA(3, 243).double()
    with torch.no_grad():
        for p in tpca.parameters():
            p.add_(0.1 * torch.randn_like(p))
    x = torch.randn(2, 243, 3, dtype=torch.float64)
    expected = _reference_tpca(x.numpy(), tpca)
    np.testing.assert_allclose(tpca(x).detach().numpy(), expected, atol=1e-10, rtol=1e-8)


def test_tpca_compress_variants_differ_and_linear_amplify_is_interpolation() -> None:
    torch.manual_seed(1)
    x = torch.randn(2, 81, 4)
    outs = {}
    for compress in COMPRESS_MODES:
        torch.manual_seed(2)
        outs[compress] = TPCA(4, 81, compress=compress)(x)
    assert not torch.allclose(outs["pool"], outs["conv"])
    assert not torch.allclose(outs["pool"], outs["pool+conv"])
    lin = TPCA(4, 81, amplify="linear")
    assert lin.amplify is None
    ramp = torch.linspace(0, 1, 10).expand(1, 4, 10)
    steps = lin._amplify(2, ramp)[..., 8:-8].diff(dim=-1)  # away from the clamped edges a ramp stays a ramp
    torch.testing.assert_close(steps, torch.full_like(steps, (1 / 9) * (10 / 81)), atol=1e-6, rtol=0)


def test_tpca_rejects_bad_arguments_and_inputs() -> None:
    with pytest.raises(ValueError, match="at least 8 frames"):
        TPCA(4, 7)
    with pytest.raises(ValueError, match="compress must be one of"):
        TPCA(4, 27, compress="max")
    with pytest.raises(ValueError, match="amplify must be one of"):
        TPCA(4, 27, amplify="nearest")
    with pytest.raises(ValueError, match="ratio must be an int >= 2"):
        TPCA(4, 27, ratio=1)
    with pytest.raises(ValueError, match=r"expects \(N, T=27, C=4\)"):
        TPCA(4, 27)(torch.randn(2, 26, 4))


# ---------------------------------------------------------------------------- XLR


def test_pool_key_value_is_adaptive_average_pooling_over_time() -> None:
    k = torch.randn(2, 3, 243, 4)
    pooled = pool_key_value(KeyValue(k, -k), 30)
    assert pooled.k.shape == (2, 3, 30, 4)
    for i in range(30):  # windows [floor(i*243/30), ceil((i+1)*243/30)): 9 frames starting at floor(i*8.1)
        start, stop = (i * 243) // 30, -(-(i + 1) * 243 // 30)
        assert stop - start == 9 and start == math.floor(i * 8.1)
        torch.testing.assert_close(pooled.k[:, :, i], k[:, :, start:stop].mean(2))
    torch.testing.assert_close(pooled.v, -pooled.k)
    assert pool_key_value(KeyValue(k, k), None).k is k


@pytest.mark.parametrize("memory_len, memory_frames", [(30, 243), (30, 273), (3, 27), (None, 11)])
def test_xlr_attention_concatenation_length(memory_len, memory_frames: int) -> None:
    torch.manual_seed(0)
    frames, dim, heads = 27, 16, 4
    attn = XLRAttention(dim, heads, memory_len=memory_len)
    x = torch.randn(5, frames, dim)
    memory = KeyValue(
        torch.randn(5, heads, memory_frames, dim // heads), torch.randn(5, heads, memory_frames, dim // heads)
    )
    res = attn(x, memory=memory, need_weights=True)
    expected_len = frames + (memory_len if memory_len is not None else memory_frames)
    assert res.out.shape == (5, frames, dim)
    assert res.own.k.shape == (5, heads, frames, dim // heads)
    assert res.attended.k.shape == (5, heads, expected_len, dim // heads)
    assert res.weights.shape == (5, heads, frames, expected_len)
    torch.testing.assert_close(res.weights.sum(-1), torch.ones(5, heads, frames))
    torch.testing.assert_close(res.attended.k[:, :, :frames], res.own.k)
    # the memory really is attended: its keys get weight and change the output
    assert res.weights[..., frames:].sum() > 0
    alone = attn(x)
    assert alone.attended.length == frames and alone.weights is None
    assert not torch.allclose(alone.out, res.out)
    # need_weights=True (explicit softmax) and SDPA agree
    torch.testing.assert_close(attn(x, memory=memory).out, res.out, atol=1e-5, rtol=1e-5)


def test_xlr_attention_without_tpca_and_memory_is_plain_attention() -> None:
    torch.manual_seed(0)
    xlr = XLRAttention(16, 4)
    plain = Attention(16, 4)
    with torch.no_grad():
        plain.qkv.weight.copy_(torch.cat([xlr.q.weight, xlr.kv.weight]))
        plain.qkv.bias.copy_(torch.cat([xlr.q.bias, xlr.kv.bias]))
        plain.proj.load_state_dict(xlr.proj.state_dict())
    x = torch.randn(3, 10, 16)
    torch.testing.assert_close(xlr(x).out, plain(x), atol=1e-6, rtol=1e-5)


def test_xlr_attention_uses_tpca_for_keys_and_values_only() -> None:
    torch.manual_seed(0)
    frames, dim = 27, 8
    xlr = XLRAttention(dim, 2, tpca=TPCA(dim, frames))
    x = torch.randn(2, frames, dim)
    res = xlr(x)
    q = rearrange(xlr.q(x), "n t (h d) -> n h t d", h=2)
    k, v = rearrange(xlr.kv(xlr.tpca(x)), "n t (two h d) -> two n h t d", two=2, h=2)
    expected = xlr.proj(rearrange(F.scaled_dot_product_attention(q, k, v), "n h t d -> n t (h d)"))
    torch.testing.assert_close(res.out, expected)
    torch.testing.assert_close(res.own.k, k)


def test_xlr_rejects_mismatched_memory() -> None:
    attn = XLRAttention(8, 2, memory_len=4)
    bad = KeyValue(torch.randn(3, 4, 10, 2), torch.randn(3, 4, 10, 2))  # 4 heads instead of 2
    with pytest.raises(ValueError, match="XLR memory must be"):
        attn(torch.randn(3, 6, 8), memory=bad)
    with pytest.raises(ValueError, match="memory_len"):
        XLRAttention(8, 2, memory_len=0)


def test_xlr_block_chain_hands_on_key_values() -> None:
    torch.manual_seed(0)
    frames, dim = 27, 8
    blocks = [XLRBlock(dim, 2, tpca=TPCA(dim, frames), memory_len=3) for _ in range(3)]
    x = torch.randn(4, frames, dim)
    memory = None
    for i, block in enumerate(blocks):
        res = block(x, memory=memory)
        assert res.out.shape == x.shape
        assert res.attended.length == (frames if i == 0 else frames + 3)
        x, memory = res.out, res.own
    # parameter names match the official temporal block layout
    names = {n.split(".")[0] + "." + n.split(".")[1] for n, _ in blocks[0].named_parameters() if n.startswith("attn.")}
    assert {"attn.q", "attn.kv", "attn.proj", "attn.tpca"} <= names


# ---------------------------------------------------------------------------- STE blocks


def test_spatial_and_temporal_blocks_fold_the_right_axis() -> None:
    torch.manual_seed(0)
    b, t, j, c = 2, 5, 7, 8
    x = torch.randn(b, t, j, c)
    spatial, temporal = SpatialBlock(c, 2), TemporalBlock(c, 2)
    plain_s, plain_t = TransformerBlock(c, 2), TransformerBlock(c, 2)
    plain_s.load_state_dict(spatial.state_dict())
    plain_t.load_state_dict(temporal.state_dict())
    expected_s = plain_s(x.reshape(b * t, j, c)).reshape(b, t, j, c)
    torch.testing.assert_close(spatial(x), expected_s)
    expected_t = plain_t(x.transpose(1, 2).reshape(b * j, t, c)).reshape(b, j, t, c).transpose(1, 2)
    torch.testing.assert_close(temporal(x), expected_t)
    _, ws = spatial(x, need_weights=True)
    _, wt = temporal(x, need_weights=True)
    assert ws.shape == (b, t, 2, j, j) and wt.shape == (b, j, 2, t, t)


def test_temporal_block_key_mask_excludes_frames() -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 6, 3, 8)
    block = TemporalBlock(8, 2)
    mask = torch.ones(2, 6, dtype=torch.bool)
    mask[:, 4:] = False
    _, weights = block(x, key_mask=mask, need_weights=True)
    assert weights[..., 4:].abs().max() == 0
    changed = x.clone()
    changed[:, 4:] += 10.0
    # frames 0..3 do not see frames 4, 5 as keys
    torch.testing.assert_close(block(x, key_mask=mask)[:, :4], block(changed, key_mask=mask)[:, :4])
    with pytest.raises(ValueError, match="key_mask must be"):
        block(x, key_mask=mask[:, :5])
    with pytest.raises(ValueError, match=r"expects \(B, T, J, C=8\)"):
        block(x[0])


def test_example_denoiser_builds_and_runs() -> None:
    import runpy

    from .conftest import REPO_ROOT

    example = runpy.run_path(str(REPO_ROOT / "examples" / "tpca_in_your_model.py"))  # main() is not run
    model = example["TrajectoryDenoiser"](frames=16, channels=3, dim=16, depth=2, heads=2)
    noisy, clean = example["make_batch"](4, 16, 3, torch.Generator().manual_seed(0))
    out, maps = model(noisy, return_attention=True)
    assert out.shape == clean.shape
    torch.testing.assert_close(out, noisy)  # zero-initialised output layer: starts as the identity
    assert [m.shape[-1] for m in maps] == [16, 16 + 4]
