"""MixSynthFormer model: keyframe-only reads, layouts, prediction mode, ablations, parameter counts."""

from __future__ import annotations

import itertools

import pytest
import torch

import posezoo
from posezoo.data import merge_windows, sliding_windows
from posezoo.layers import interpolation_matrix
from posezoo.models.mixsynthformer import MixSynthFormer


def _small(**kw) -> MixSynthFormer:
    cfg = dict(
        num_joints=5,
        in_channels=3,
        sample_interval=4,
        num_keyframes=4,
        dim=16,
        depth=2,
        reduce_token=2,
        reduce_channel=1,
        dropout=0.0,
    )
    cfg.update(kw)
    return MixSynthFormer(**cfg).eval()


def test_h36m_variant_attributes() -> None:
    m = posezoo.create_model("mixsynthformer_h36m_3d")
    assert (m.num_frames, m.sample_interval, m.num_keyframes, m.num_joints, m.in_channels) == (101, 10, 11, 17, 3)
    assert m.num_output_frames == 101 and m.task == "refine"
    assert m.keyframe_indices() == list(range(0, 101, 10))
    assert sum(p.numel() for p in m.parameters()) == 194_363


def test_non_keyframe_inputs_are_ignored() -> None:
    torch.manual_seed(0)
    m = posezoo.create_model("mixsynthformer_h36m_3d").eval()
    x = torch.randn(2, 101, 17, 3)
    perturbed = x.clone()
    others = [t for t in range(101) if t % 10]
    perturbed[:, others] = 1e3 * torch.randn(2, len(others), 17, 3)
    with torch.no_grad():
        ref = m(x)
        assert torch.equal(m(perturbed), ref)
        perturbed[:, others] = float("nan")
        assert torch.equal(m(perturbed), ref)
        changed = x.clone()
        changed[:, 50] += 0.1  # a keyframe does matter
        assert not torch.allclose(m(changed), ref)


def test_layouts_and_keyframes_only_call() -> None:
    torch.manual_seed(1)
    m = _small()
    x = torch.randn(3, 13, 5, 3)
    with torch.no_grad():
        out4 = m(x)
        out3 = m(x.flatten(2))
        outk = m.forward_keyframes(x[:, ::4])
        outk3 = m.forward_keyframes(x[:, ::4].flatten(2))
    assert out4.shape == (3, 13, 5, 3) and out3.shape == (3, 13, 15)
    torch.testing.assert_close(out3, out4.flatten(2), rtol=0, atol=0)
    torch.testing.assert_close(outk, out4, rtol=0, atol=0)
    torch.testing.assert_close(outk3, out3, rtol=0, atol=0)


def test_forward_equals_recover_refine_add_back() -> None:
    torch.manual_seed(2)
    m = _small().double()
    kf = torch.randn(2, 4, 15, dtype=torch.float64)
    recovered = m.recover(kf)
    h = m.encoder(m.embed(recovered))
    expected = m.head(m.norm(h)) + recovered
    torch.testing.assert_close(m.forward_keyframes(kf), expected)
    assert m(torch.randn(1, 13, 15, dtype=torch.float64)).dtype == torch.float64


def test_input_validation() -> None:
    m = _small()
    with pytest.raises(ValueError, match=r"\(B, 13, 5, 3\) or \(B, 13, 15\), got \(2, 12, 5, 3\)"):
        m(torch.zeros(2, 12, 5, 3))
    with pytest.raises(ValueError, match=r"\(B, 13, 15\)"):
        m(torch.zeros(2, 13, 4, 3))
    with pytest.raises(ValueError, match="keyframes"):
        m.forward_keyframes(torch.zeros(2, 5, 15))
    bad = torch.zeros(1, 13, 15)
    bad[0, 4, 0] = float("inf")
    with pytest.raises(ValueError, match="NaN or Inf"):
        m(bad)
    with pytest.raises(TypeError):
        m([[0.0]])
    with pytest.raises(ValueError, match="interp"):
        _small(interp="spline")
    with pytest.raises(ValueError, match="num_keyframes"):
        _small(num_keyframes=1)


def test_prediction_mode_returns_only_future_frames() -> None:
    torch.manual_seed(3)
    m = posezoo.create_model("mixsynthformer_h36m_predict").eval()
    assert (m.num_frames, m.num_output_frames, m.task) == (50, 10, "predict")
    history = torch.randn(2, 50, 17, 3)
    with torch.no_grad():
        future = m(history)
    assert future.shape == (2, 10, 17, 3)
    # The F returned frames are the last F of the refined history + future sequence.
    with torch.no_grad():
        recovered = m.recover(history)
        full = m.head(m.norm(m.encoder(m.embed(recovered)))) + recovered
    assert recovered.shape == (2, 60, 51)
    torch.testing.assert_close(future.flatten(2), full[:, 50:], rtol=0, atol=0)


def test_prediction_with_fixed_recovery_holds_last_keyframe_before_refinement() -> None:
    m = _small(num_future_frames=6, interp="linear", sample_interval=2)
    with torch.no_grad():
        m.head.weight.zero_()
        m.head.bias.zero_()
    history = torch.randn(2, 7, 5, 3)
    non_key = history.clone()
    non_key[:, 1::2] = 99.0
    out = m(non_key)
    assert out.shape == (2, 6, 5, 3)
    torch.testing.assert_close(out, history[:, -1:].expand(-1, 6, -1, -1), rtol=0, atol=0)


ABLATIONS = (
    [
        dict(attn_generation=g, se=se)
        for g, se in itertools.product(["synth", "dense", "random", "vanilla"], [True, False])
    ]
    + [dict(mixing="sum"), dict(branches="temporal"), dict(branches="channel")]
    + [dict(reduce_token=rt, reduce_channel=rc) for rt, rc in [(1, 1), (4, 2), (13, 16), (3, 4)]]
    + [dict(interp=i) for i in ["linear", "cubic", "nearest"]]
    + [dict(num_future_frames=5), dict(num_future_frames=5, interp="nearest", attn_generation="vanilla")]
)


@pytest.mark.parametrize("kw", ABLATIONS, ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()))
def test_ablation_switches_build_train_and_run(kw: dict) -> None:
    torch.manual_seed(4)
    m = _small(**kw).train()
    x = torch.randn(2, 13, 5, 3)
    out = m(x)
    frames = kw.get("num_future_frames") or 13
    assert out.shape == (2, frames, 5, 3) and torch.isfinite(out).all()
    out.square().mean().backward()
    assert [n for n, p in m.named_parameters() if p.grad is None] == []
    m.eval()
    with torch.no_grad():
        y = m(x)
        x2 = x.clone()
        x2[:, 1::4] = 50.0
        assert torch.equal(m(x2), y)  # keyframe-only holds for every switch


def test_ablation_switches_change_the_model() -> None:
    attn = _small().encoder.layers[0].attn
    assert attn.synth_token.se is not None and attn.reweight is not None
    attn = _small(se=False, mixing="sum").encoder.layers[0].attn
    assert attn.synth_token.se is None and attn.reweight is None
    assert _small(attn_generation="vanilla").encoder.layers[0].attn.synth_channel.generation == "vanilla"
    assert _small(interp="cubic").state_dict().keys().isdisjoint({"temporal_interp.weight"})


def _count(**kw) -> int:
    return sum(p.numel() for p in posezoo.create_model("mixsynthformer_h36m_3d", **kw).parameters())


def test_official_parameter_counts() -> None:
    # Official class (value_reduce kept even where unused): README section 8.
    assert _count(keep_unused_value_reduce=True) == 211_003
    assert _count(keep_unused_value_reduce=True, reduce_token=1, reduce_channel=1) == 261_771
    # posezoo default drops the 4 x (64*64 + 64) never-used channel value_reduce parameters.
    assert _count() == 211_003 - 16_640 == 194_363


def test_reduction_factors_change_parameter_counts_as_table6() -> None:
    T, E, L = 101, 64, 4
    official = {rt: _count(keep_unused_value_reduce=True, reduce_token=rt) for rt in (1, 2, 4, 8)}
    # Larger token reduction -> fewer parameters (dense T//rt x (E+1) and value_reduce T//rt x (T+1)).
    assert official[1] > official[2] > official[4] > official[8]
    for a, b in [(1, 2), (2, 4), (4, 8)]:
        assert official[a] - official[b] == L * (T // a - T // b) * (E + 1 + T + 1)
    channel = {rc: _count(keep_unused_value_reduce=True, reduce_channel=rc) for rc in (1, 2, 4)}
    assert channel[1] > channel[2] > channel[4]
    assert channel[1] - channel[2] == L * (E - E // 2) * (T + 1 + E + 1)
    # Without the unused tensors, a reduction-1 branch has no value_reduce at all.
    assert _count(reduce_token=1) == official[1] - L * (T * T + T) - L * (E * E + E)


def test_long_sequence_with_keyframe_windows_and_linear_recovery() -> None:
    """With a zero head and linear recovery, sliding windows + overlap averaging = global linear interpolation."""
    m = _small(interp="linear")
    with torch.no_grad():
        m.head.weight.zero_()
        m.head.bias.zero_()
    n = 10 * 13 + 3
    seq = torch.randn(1, n, 5, 3, dtype=torch.float64)
    windows, starts = sliding_windows(seq, m.num_frames, m.sample_interval, step=1)
    with torch.no_grad():
        outs = m(windows.flatten(0, 1).float()).double().unflatten(0, windows.shape[:2])
    merged = merge_windows(outs, starts, n)
    keys = list(range(0, n, 4))  # 0 .. 132; the last frame (132) is a keyframe here
    mat = interpolation_matrix(len(keys), 4, "linear")
    expected = torch.einsum("tk,bkjc->btjc", mat, seq[:, keys])
    torch.testing.assert_close(merged, expected, rtol=1e-6, atol=1e-6)


def test_autocast_and_float16_input() -> None:
    m = _small()
    x = torch.randn(2, 13, 5, 3)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = m(x)
    assert torch.isfinite(out).all() and out.shape == (2, 13, 5, 3)
    with torch.no_grad():
        half = m(x.half())  # cast to the parameters' dtype, as the official float32 cast
    assert half.dtype == torch.float32
