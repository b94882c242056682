"""SELayer, SynthAttention, MixSynthAttention and the MixSynth encoder against hand-written formulas."""

from __future__ import annotations

import pytest
import torch

from posezoo.layers import (
    MixSynthAttention,
    MixSynthEncoder,
    MixSynthEncoderLayer,
    SELayer,
    SynthAttention,
)

torch.manual_seed(0)


def _randomise(module: torch.nn.Module, seed: int = 0) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)


def test_se_layer_gates_rows_by_their_mean() -> None:
    se = SELayer(6, ratio=2)
    _randomise(se)
    x = torch.randn(3, 6, 5, dtype=torch.float64)
    se = se.double()
    w1, w2 = se.fc[0].weight, se.fc[2].weight
    gate = torch.sigmoid(torch.relu(x.mean(-1) @ w1.T) @ w2.T)  # (B, R)
    torch.testing.assert_close(se(x), x * gate[:, :, None])
    assert se.fc[0].weight.shape == (3, 6) and se.fc[0].bias is None
    with pytest.raises(ValueError, match=r"\(B, 6, N\)"):
        se(torch.randn(2, 5, 5))


def _synth_reference(att: SynthAttention, x: torch.Tensor) -> torch.Tensor:
    energy = x @ att.dense.weight.T + att.dense.bias  # (B, R, R//r)
    gate = torch.sigmoid(torch.relu(energy.mean(-1) @ att.se.fc[0].weight.T) @ att.se.fc[2].weight.T)
    attn = torch.softmax(energy * gate[..., None], dim=-1)
    value = x
    if att.reduce > 1:
        value = (x.transpose(1, 2) @ att.value_reduce.weight.T + att.value_reduce.bias).transpose(1, 2)
    return attn @ value


@pytest.mark.parametrize("reduce", [1, 2, 4])
def test_synth_attention_formula(reduce: int) -> None:
    att = SynthAttention(in_dim=8, out_dim=12, reduce=reduce).double()
    _randomise(att, reduce)
    x = torch.randn(2, 12, 8, dtype=torch.float64)
    out = att(x)
    assert out.shape == (2, 12, 8)
    torch.testing.assert_close(out, _synth_reference(att, x))
    assert att.dense.weight.shape == (12 // reduce, 8)
    assert (att.value_reduce is None) == (reduce == 1)


def test_value_reduce_kept_only_on_request_and_unused_at_reduce_1() -> None:
    att = SynthAttention(8, 12, 1, keep_unused_value_reduce=True)
    assert att.value_reduce.weight.shape == (12, 12)
    att(torch.randn(2, 12, 8)).sum().backward()
    assert att.value_reduce.weight.grad is None  # present, never used (official layout)


def test_vanilla_generation_is_dot_product_attention_with_se_on_logits() -> None:
    att = SynthAttention(8, 12, reduce=3, generation="vanilla").double()
    _randomise(att, 3)
    x = torch.randn(2, 12, 8, dtype=torch.float64)
    reduced = (x.transpose(1, 2) @ att.value_reduce.weight.T + att.value_reduce.bias).transpose(1, 2)
    q = att.query(x)
    k = att.key(reduced)
    v = att.value_fc(reduced)
    logits = q @ k.transpose(1, 2) / 8**0.5  # (B, 12, 4)
    gate = torch.sigmoid(torch.relu(logits.mean(-1) @ att.se.fc[0].weight.T) @ att.se.fc[2].weight.T)
    expected = torch.softmax(logits * gate[..., None], -1) @ v
    torch.testing.assert_close(att(x), expected)


def test_random_and_dense_generations() -> None:
    x = torch.randn(2, 12, 8, dtype=torch.float64)
    rnd = SynthAttention(8, 12, reduce=2, generation="random", se=False).double()
    value = rnd.value_fc((x.transpose(1, 2) @ rnd.value_reduce.weight.T + rnd.value_reduce.bias).transpose(1, 2))
    torch.testing.assert_close(rnd(x), torch.softmax(rnd.attention, -1) @ value)
    assert rnd.attention.shape == (12, 6)
    dense = SynthAttention(8, 12, generation="dense", se=False).double()
    energy = dense.dense[2](torch.relu(dense.dense[0](x)))
    torch.testing.assert_close(dense(x), torch.softmax(energy, -1) @ dense.value_fc(x))


def test_synth_attention_validates() -> None:
    with pytest.raises(ValueError, match="generation"):
        SynthAttention(8, 12, generation="cosine")
    with pytest.raises(ValueError, match="reduce"):
        SynthAttention(8, 12, reduce=13)
    with pytest.raises(ValueError, match=r"\(B, 12, 8\)"):
        SynthAttention(8, 12)(torch.randn(2, 11, 8))


def test_mix_synth_attention_split_weights_are_per_frame_and_interleaved() -> None:
    T, C = 12, 8
    mix = MixSynthAttention(T, C, reduce_token=4, reduce_channel=2).double()
    _randomise(mix, 5)
    x = torch.randn(3, T, C, dtype=torch.float64)
    t = mix.synth_token(x)
    c = mix.synth_channel(x.transpose(1, 2)).transpose(1, 2)
    a = (t + c).mean(-1)  # (B, T): one value per frame
    logits = mix.reweight.fc2(torch.nn.functional.gelu(mix.reweight.fc1(a)))  # (B, 2T)
    w = torch.softmax(logits.view(3, T, 2), dim=-1)  # feature 2f + n -> (frame f, branch n)
    expected = mix.proj(w[..., :1] * t + w[..., 1:] * c)
    torch.testing.assert_close(mix(x), expected)
    torch.testing.assert_close(mix.split_weights(t, c), w)
    assert mix.reweight.fc1.weight.shape == (T // 4, T) and mix.reweight.fc2.weight.shape == (2 * T, T // 4)


def test_mix_synth_attention_ablations() -> None:
    T, C = 10, 8
    x = torch.randn(2, T, C)
    plain = MixSynthAttention(T, C, mixing="sum")
    assert plain.reweight is None
    torch.testing.assert_close(
        plain(x), plain.proj(plain.synth_token(x) + plain.synth_channel(x.transpose(1, 2)).transpose(1, 2))
    )
    temporal = MixSynthAttention(T, C, branches="temporal")
    assert temporal.synth_channel is None and temporal.reweight is None
    torch.testing.assert_close(temporal(x), temporal.proj(temporal.synth_token(x)))
    channel = MixSynthAttention(T, C, branches="channel")
    assert channel.synth_token is None
    torch.testing.assert_close(channel(x), channel.proj(channel.synth_channel(x.transpose(1, 2)).transpose(1, 2)))
    with pytest.raises(ValueError, match="needs both branches"):
        MixSynthAttention(T, C, branches="temporal", mixing="sum")
    with pytest.raises(ValueError, match="branches"):
        MixSynthAttention(T, C, branches="spatial")
    with pytest.raises(ValueError, match=r"\(B, 10, 8\)"):
        MixSynthAttention(T, C)(torch.randn(2, 9, C))


def test_encoder_layer_is_post_norm_and_encoder_stacks() -> None:
    layer = MixSynthEncoderLayer(10, 8, reduce_token=2, expansion_factor=2).double().eval()
    _randomise(layer, 7)
    x = torch.randn(2, 10, 8, dtype=torch.float64)
    h = layer.norm1(x + layer.attn(x))
    expected = layer.norm2(h + layer.mlp.fc2(torch.nn.functional.gelu(layer.mlp.fc1(h))))
    torch.testing.assert_close(layer(x), expected)
    assert layer.norm1.eps == 1e-5 and layer.mlp.fc1.weight.shape == (16, 8)
    enc = MixSynthEncoder(3, 10, 8, reduce_token=2).eval()
    assert len(enc.layers) == 3
    y = torch.randn(2, 10, 8)
    expected = y
    for lay in enc.layers:
        expected = lay(expected)
    torch.testing.assert_close(enc(y), expected)


def test_mix_synth_attention_drops_into_transformer_block() -> None:
    from posezoo.layers import TransformerBlock

    attn = MixSynthAttention(10, 8, reduce_token=2)
    block = TransformerBlock(8, num_heads=2, attn=attn).eval()
    x = torch.randn(2, 10, 8)
    expected = x + attn(block.norm1(x))
    expected = expected + block.mlp(block.norm2(expected))
    torch.testing.assert_close(block(x), expected)
    with pytest.raises(ValueError, match="key_mask"):
        attn(x, key_mask=torch.ones(2, 10, dtype=torch.bool))
    with pytest.raises(ValueError, match="need_weights"):
        block(x, need_weights=True)
