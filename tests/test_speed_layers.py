"""The eager speed-ups inside the layers and models give the same numbers as the plain formulations:
TPCA's strided transposed convolution and time pooling, bmm attention in half precision, batch chunking."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import posezoo
from posezoo.layers import attention
from posezoo.layers.tpca import _uniform_windows, average_pool_time, depthwise_conv_transpose1d


@pytest.mark.parametrize(
    "length, kernel, stride", [(30, 2, 2), (60, 3, 2), (121, 3, 2), (5, 1, 1), (7, 5, 3), (4, 4, 2), (1, 3, 2)]
)
@pytest.mark.parametrize("bias", [True, False])
def test_depthwise_conv_transpose_equals_the_convolution(length: int, kernel: int, stride: int, bias: bool) -> None:
    torch.manual_seed(0)
    x = torch.randn(3, 6, length, dtype=torch.float64, requires_grad=True)
    w = torch.randn(6, 1, kernel, dtype=torch.float64, requires_grad=True)
    b = torch.randn(6, dtype=torch.float64, requires_grad=True) if bias else None
    ours = depthwise_conv_transpose1d(x, w, b, stride)
    ref = F.conv_transpose1d(x, w, b, stride=stride, groups=6)
    assert ours.shape == ref.shape == (3, 6, (length - 1) * stride + kernel)
    torch.testing.assert_close(ours, ref, atol=1e-12, rtol=0)
    g = torch.randn_like(ref)
    grads = torch.autograd.grad(ours, [x, w] + ([b] if bias else []), g)
    grads_ref = torch.autograd.grad(ref, [x, w] + ([b] if bias else []), g)
    for a, r in zip(grads, grads_ref):
        torch.testing.assert_close(a, r, atol=1e-12, rtol=0)


def test_depthwise_conv_transpose_in_bfloat16() -> None:
    torch.manual_seed(0)
    x, w, b = torch.randn(2, 8, 60), torch.randn(8, 1, 3), torch.randn(8)
    ref = F.conv_transpose1d(x, w, b, stride=2, groups=8)
    ours = depthwise_conv_transpose1d(x.bfloat16(), w.bfloat16(), b.bfloat16(), 2)
    assert ours.dtype == torch.bfloat16
    torch.testing.assert_close(ours.float(), ref, atol=0.05 * ref.abs().max().item(), rtol=0)


def test_time_pooling_equals_adaptive_average_pooling() -> None:
    """Bit for bit in float32/float64 for every output length (strided sums where the windows allow)."""
    torch.manual_seed(0)
    assert (_uniform_windows(243, 121), _uniform_windows(121, 60), _uniform_windows(60, 30)) == ((2, 3), (2, 3), (2, 2))
    assert _uniform_windows(10, 4) is None  # windows [0,3) [2,5) [5,8) [7,10): starts not evenly spaced
    for length_in in (1, 2, 7, 27, 60, 81, 121, 243):
        for dtype in (torch.float32, torch.float64, torch.bfloat16):
            x = torch.randn(2, 3, length_in).to(dtype)
            for length_out in range(1, length_in + 1):
                ours = average_pool_time(x, length_out)
                ref = F.adaptive_avg_pool1d(x, length_out)
                assert ours.dtype == dtype and ours.shape == (2, 3, length_out)
                assert torch.equal(ours, ref), (length_in, length_out, dtype)
    empty = average_pool_time(torch.randn(2, 3, 10), 0)  # degenerate lengths behave as PyTorch's pooling
    assert empty.shape == F.adaptive_avg_pool1d(torch.randn(2, 3, 10), 0).shape == (2, 3, 0)
    with pytest.raises(RuntimeError, match="output_size"):
        average_pool_time(torch.randn(2, 3, 10), -1)
    channels_last = torch.randn(2, 243, 5).transpose(1, 2)  # TPCA's first level: a view of (N, T, C)
    assert torch.equal(average_pool_time(channels_last, 121), F.adaptive_avg_pool1d(channels_last, 121))
    x = torch.randn(2, 4, 243, dtype=torch.float64, requires_grad=True)
    source = x.detach().clone()
    g = torch.randn(2, 4, 121, dtype=torch.float64)
    ours = torch.autograd.grad(average_pool_time(x, 121), x, g)[0]
    ref = torch.autograd.grad(F.adaptive_avg_pool1d(x, 121), x, g)[0]
    torch.testing.assert_close(ours, ref, atol=1e-12, rtol=0)
    assert torch.equal(x.detach(), source)  # the input is never written to


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("lq, lk", [(17, 17), (27, 30)])
def test_half_precision_attention_uses_bmm_and_matches_sdpa(dtype: torch.dtype, lq: int, lk: int) -> None:
    torch.manual_seed(0)
    q = torch.randn(3, 4, lq, 16)
    k, v = torch.randn(3, 4, lk, 16), torch.randn(3, 4, lk, 8)
    ref = F.scaled_dot_product_attention(q, k, v)
    assert attention._use_bmm_attention(q.to(dtype), k.to(dtype))
    assert not attention._use_bmm_attention(q, k)  # float32 keeps SDPA
    out, _ = attention.attend(q.to(dtype), k.to(dtype), v.to(dtype))
    assert out.dtype == dtype and out.shape == (3, 4, lq, 8)
    torch.testing.assert_close(out.float(), ref, atol=0.02, rtol=0.02)
    scaled, _ = attention.attend(q.to(dtype), k.to(dtype), v.to(dtype), scale=0.1)
    torch.testing.assert_close(scaled.float(), F.scaled_dot_product_attention(q, k, v, scale=0.1), atol=0.02, rtol=0.02)


def test_bmm_attention_limited_to_moderate_sizes(monkeypatch) -> None:
    q = torch.zeros(2, 2, 8, 4, dtype=torch.bfloat16)
    monkeypatch.setattr(attention, "BMM_ATTENTION_MAX_ELEMENTS", 2 * 2 * 8 * 8 - 1)
    assert not attention._use_bmm_attention(q, q)


@pytest.mark.parametrize("name", ["rtpca_small", "mixste_small"])
def test_batch_chunks_change_no_number(name: str) -> None:
    torch.manual_seed(0)
    model = posezoo.create_model(name).eval()
    (x,) = posezoo.utils.example_input(model, 5)
    model.chunk_bytes = 0
    with torch.no_grad():
        assert model.inference_chunk(5) == 5
        whole = model(x)
    per_clip = model.num_frames * model.num_joints * model.dim * 4
    model.chunk_bytes = 2 * per_clip
    with torch.no_grad():
        assert model.inference_chunk(5) == 2
        chunked = model(x)
        _, maps = model(x, return_attention=True)  # attention maps: whole batch, not chunked
    torch.testing.assert_close(chunked, whole, atol=1e-6, rtol=0)
    assert maps["spatial"][0].shape[0] == 5
    assert model.inference_chunk(5) == 5  # gradients on: never chunked


def test_mixsynthformer_batch_chunks_match_the_whole_batch() -> None:
    torch.manual_seed(0)
    model = posezoo.create_model("mixsynthformer_h36m_3d").eval()
    (x,) = posezoo.utils.example_input(model, 7)
    model.chunk_bytes = 0
    with torch.no_grad():
        whole = model(x)
    model.chunk_bytes = 3 * model.clip_activation_bytes()
    with torch.no_grad():
        assert model.inference_chunk(7) == 3
        chunked = model(x)
    torch.testing.assert_close(chunked, whole, atol=1e-5, rtol=0)  # GEMM blocking may round differently
    assert model.inference_chunk(7) == 7  # gradients on


def test_models_without_an_activation_size_never_chunk() -> None:
    model = posezoo.create_model("uplift_upsample_small").eval()
    model.chunk_bytes = 1
    with torch.no_grad():
        assert model.clip_activation_bytes() == 0 and model.inference_chunk(64) == 64
