"""Uplift-and-Upsample layers: upsampling tokens, DUTA temporal encoder, strided transformer block."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from posezoo.layers import (
    DUTATemporalEncoder,
    StridedConvMlp,
    StridedTransformerBlock,
    UpsamplingTokens,
    linear_drop_path_rates,
    strided_output_length,
)


def _mask(batch: int, n: int, stride: int, shift: int = 0) -> torch.Tensor:
    idx = torch.arange(n) - n // 2 + shift
    return (idx.remainder(stride) == 0).expand(batch, n).clone()


# ---------------------------------------------------------------- upsampling tokens


def test_upsampling_tokens_replace_exactly_the_non_keyframes() -> None:
    torch.manual_seed(0)
    layer = UpsamplingTokens(8)
    x = torch.randn(2, 9, 8)
    x[:, 0] = float("nan")  # non-keyframe values are never read
    mask = _mask(2, 9, 3)
    assert not mask[:, 0].any()
    out = layer(x, mask)
    assert torch.equal(out[mask], x[mask])
    assert torch.equal(out[~mask], layer.token.expand(int((~mask).sum()), -1))
    with pytest.raises(ValueError, match="bool tensor of shape"):
        layer(x, mask.float())
    with pytest.raises(ValueError, match=r"expected tokens \(B, N, 8\)"):
        layer(torch.randn(2, 9, 4), mask)


# ---------------------------------------------------------------- DUTA


def _encoder(duta_layers: int, depth: int = 2) -> DUTATemporalEncoder:
    torch.manual_seed(0)
    return DUTATemporalEncoder(32, depth, num_heads=4, first_strided_token_attention_layer=duta_layers).eval()


def _block_outputs(enc: DUTATemporalEncoder, x: torch.Tensor, mask: torch.Tensor) -> list[torch.Tensor]:
    outs = []
    hooks = [b.register_forward_hook(lambda m, i, o: outs.append(o)) for b in enc.blocks]
    with torch.no_grad():
        enc(x, mask)
    for h in hooks:
        h.remove()
    return outs


@pytest.mark.parametrize("stride,shift", [(3, 0), (3, 1), (9, 0), (4, -2)])
def test_duta_first_block_keyframes_ignore_upsampling_positions(stride: int, shift: int) -> None:
    """With DUTA on, block-1 outputs at keyframes do not depend on the upsampling tokens; block 2 does."""
    enc = _encoder(duta_layers=1)
    x = torch.randn(3, 27, 32)
    mask = _mask(3, 27, stride, shift)
    perturbed = x.clone()
    perturbed[~mask] += 5.0 * torch.randn(int((~mask).sum()), 32)
    (a1, a2), (b1, b2) = _block_outputs(enc, x, mask), _block_outputs(enc, perturbed, mask)
    torch.testing.assert_close(a1[mask], b1[mask], rtol=0, atol=1e-6)
    assert (a1[~mask] - b1[~mask]).abs().max() > 1e-2  # upsampling queries see their own token
    assert (a2[mask] - b2[mask]).abs().max() > 1e-2  # after the deferred layer, keyframes attend to them


def test_duta_off_lets_keyframes_see_upsampling_tokens() -> None:
    """Control: without DUTA the same perturbation reaches the keyframes already in block 1."""
    enc = _encoder(duta_layers=0)
    x = torch.randn(2, 27, 32)
    mask = _mask(2, 27, 3)
    perturbed = x.clone()
    perturbed[~mask] += 5.0 * torch.randn(int((~mask).sum()), 32)  # not constant: LayerNorm removes a shift
    a1 = _block_outputs(enc, x, mask)[0]
    b1 = _block_outputs(enc, perturbed, mask)[0]
    assert (a1[mask] - b1[mask]).abs().max() > 1e-2


def test_duta_depth_two_defers_two_blocks() -> None:
    enc = _encoder(duta_layers=2, depth=3)
    x = torch.randn(2, 27, 32)
    mask = _mask(2, 27, 9)
    perturbed = x.clone()
    perturbed[~mask] = 3.0 * torch.randn(int((~mask).sum()), 32)
    a, b = _block_outputs(enc, x, mask), _block_outputs(enc, perturbed, mask)
    torch.testing.assert_close(a[1][mask], b[1][mask], rtol=0, atol=1e-6)
    assert (a[2][mask] - b[2][mask]).abs().max() > 1e-2
    assert [enc.uses_key_mask(i) for i in range(3)] == [True, True, False]


def test_duta_attention_weights_are_zero_on_upsampling_keys() -> None:
    enc = _encoder(duta_layers=1)
    mask = _mask(2, 27, 3, 1)
    with torch.no_grad():
        _, weights = enc(torch.randn(2, 27, 32), mask, need_weights=True)
    first, second = weights
    assert first.shape == (2, 4, 27, 27)
    assert torch.all(first[..., ~mask[0]] == 0)  # every head, every query
    torch.testing.assert_close(first.sum(-1), torch.ones(2, 4, 27))
    assert torch.all(second[..., ~mask[0]] > 0)


def test_duta_encoder_validates_mask_and_drop_path() -> None:
    enc = _encoder(1)
    with pytest.raises(ValueError, match="bool tensor"):
        enc(torch.randn(2, 27, 32), torch.ones(2, 27))
    with pytest.raises(ValueError, match="3 rates for 2 blocks"):
        DUTATemporalEncoder(32, 2, num_heads=4, drop_path=[0.0, 0.1, 0.2])
    assert linear_drop_path_rates(0.1, 4) == pytest.approx([0.0, 0.1 / 3, 0.2 / 3, 0.1])
    assert linear_drop_path_rates(0.1, 1) == [0.0]


# ---------------------------------------------------------------- strided block


@pytest.mark.parametrize(
    "length,stride,padding,expected",
    [
        (27, 3, (1, 1), 9),
        (41, 4, (1, 1), 11),
        (11, 4, (0, 0), 3),
        (71, 3, (0, 0), 23),
        (23, 10, (0, 0), 3),
        (3, 3, (0, 0), 1),
        (10, 3, (1, 0), 3),
        (10, 3, (0, 1), 3),
        (2, 3, (0, 0), 0),
    ],
)
def test_strided_output_length(length: int, stride: int, padding: tuple, expected: int) -> None:
    assert strided_output_length(length, stride, padding) == expected


def test_strided_conv_mlp_matches_explicit_loop() -> None:
    torch.manual_seed(0)
    mlp = StridedConvMlp(6, 10, stride=3, padding=(1, 0)).eval()
    x = torch.randn(2, 10, 6)
    with torch.no_grad():
        out = mlp(x).numpy()
    h = torch.relu(mlp.fc1(x)).detach().numpy()  # (B, L, H)
    h = np.concatenate([np.zeros((2, 1, 10), np.float32), h], axis=1)  # pl = 1, pr = 0
    w = mlp.conv.weight.detach().numpy()  # (C, H, 3)
    b = mlp.conv.bias.detach().numpy()
    expected = np.stack(
        [
            sum(h[:, t * 3 + k] @ w[:, :, k].T for k in range(3)) + b
            for t in range(strided_output_length(10, 3, (1, 0)))
        ],
        axis=1,
    )
    assert out.shape == (2, 3, 6)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "padding,residual_index",
    [((1, 1), [0, 3, 6]), ((0, 0), [1, 4, 7]), ((1, 0), [0, 3, 6]), ((0, 1), [1, 4, 7])],
)
def test_strided_block_residual_is_subsampled_input_plus_pe(padding: tuple, residual_index: list) -> None:
    """With the attention and MLP branches zeroed the block returns the strided residual exactly."""
    torch.manual_seed(0)
    block = StridedTransformerBlock(16, num_tokens=9, stride=3, padding=padding, num_heads=4).eval()
    with torch.no_grad():
        for p in (block.attn.proj.weight, block.attn.proj.bias, block.mlp.conv.weight, block.mlp.conv.bias):
            p.zero_()
        x = torch.randn(2, 9, 16)
        out = block(x)
    assert block.output_length == len(residual_index)
    torch.testing.assert_close(out, (x + block.pos_embed.weight)[:, residual_index], rtol=0, atol=0)


def test_strided_block_shapes_and_errors() -> None:
    block = StridedTransformerBlock(16, num_tokens=41, stride=4, padding=[1, 1], num_heads=4)
    assert block(torch.randn(2, 41, 16)).shape == (2, 11, 16)
    with pytest.raises(ValueError, match=r"\(..., 41, 16\)"):
        block(torch.randn(2, 40, 16))
    with pytest.raises(ValueError, match="each side 0 or 1"):
        StridedTransformerBlock(16, num_tokens=9, stride=3, padding=(2, 2), num_heads=4)
    with pytest.raises(ValueError, match="needs at least 3 input tokens"):
        StridedTransformerBlock(16, num_tokens=2, stride=3, padding=(0, 0), num_heads=4)
