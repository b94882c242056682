"""create_model(..., pretrained=..., num_frames=N): length-dependent weights resampled to another window."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import posezoo
from posezoo.models import WeightsError, resample_temporal_embeddings
from posezoo.models._resample import _conv_kernel, _transposed_kernel, resample_sequence


def _saved(name: str, directory: Path, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = posezoo.create_model(name).eval()
    with torch.no_grad():  # make LayerNorm affines non-trivial so that resampling them is visible
        for module in model.modules():
            if isinstance(module, torch.nn.LayerNorm):
                module.weight.add_(0.1 * torch.randn_like(module.weight))
                module.bias.add_(0.1 * torch.randn_like(module.bias))
    posezoo.save_pretrained(model, directory)
    return model


def test_resample_sequence_numbers() -> None:
    x = torch.tensor([[0.0, 10.0], [4.0, 20.0], [8.0, 0.0], [2.0, -4.0]])
    up = resample_sequence(x, 8)
    assert up.shape == (8, 2)
    # twice the length, half-sample centres: 2i -> 0.25 x[i-1] + 0.75 x[i], 2i+1 -> 0.75 x[i] + 0.25 x[i+1]
    for i in range(4):
        left = x[max(i - 1, 0)]
        right = x[min(i + 1, 3)]
        torch.testing.assert_close(up[2 * i], 0.25 * left + 0.75 * x[i])
        torch.testing.assert_close(up[2 * i + 1], 0.75 * x[i] + 0.25 * right)
    torch.testing.assert_close(resample_sequence(x, 2), torch.stack([(x[0] + x[1]) / 2, (x[2] + x[3]) / 2]))
    torch.testing.assert_close(resample_sequence(x.T, 8, dim=1), up.T)
    assert torch.equal(resample_sequence(x, 4), x)
    with pytest.raises(ValueError, match="positive int"):
        resample_sequence(x, 0)


def test_kernel_rules_keep_the_gain_per_phase() -> None:
    k3 = torch.tensor([[[1.0, 2.0, 3.0]]])
    torch.testing.assert_close(_transposed_kernel(k3, 2, stride=2), torch.tensor([[[4.0, 2.0]]]))
    k2 = torch.tensor([[[4.0, 2.0]]])
    torch.testing.assert_close(_transposed_kernel(k2, 3, stride=2), torch.tensor([[[2.0, 2.0, 2.0]]]))
    conv = _conv_kernel(torch.tensor([[[1.0, 3.0]]]), 3)
    torch.testing.assert_close(conv, torch.tensor([[[1.0, 2.0, 3.0]]]) * 2 / 3)
    assert float(conv.sum()) == pytest.approx(4.0)


def test_rtpca_same_length_is_identical(tmp_path: Path) -> None:
    model = _saved("rtpca_small", tmp_path / "m")
    same = posezoo.create_model("rtpca_small", pretrained=tmp_path / "m", num_frames=27).eval()
    x = torch.randn(2, 27, 17, 2)
    torch.testing.assert_close(same(x), model(x), rtol=0, atol=0)
    assert "resampled_window" not in same.pretrained_cfg


def test_rtpca_at_twice_the_length(tmp_path: Path) -> None:
    model = _saved("rtpca_small", tmp_path / "m")
    long = posezoo.create_model("rtpca_small", pretrained=tmp_path / "m", num_frames=54).eval()
    old, new = model.state_dict(), long.state_dict()
    pos_old, pos_new = old["temporal_pos_embed.weight"], new["temporal_pos_embed.weight"]
    assert pos_new.shape == (54, 64)
    torch.testing.assert_close(pos_new[1::2][:-1], 0.75 * pos_old[:-1] + 0.25 * pos_old[1:])
    torch.testing.assert_close(pos_new[2::2], 0.25 * pos_old[:-1] + 0.75 * pos_old[1:])
    torch.testing.assert_close(pos_new[0], pos_old[0])
    torch.testing.assert_close(pos_new[-1], pos_old[-1])
    tpca_old, tpca_new = model.temporal_blocks[0].attn.tpca, long.temporal_blocks[0].attn.tpca
    assert tpca_old.lengths == [27, 13, 6, 3] and tpca_new.lengths == [54, 27, 13, 6]
    assert long.xlr_memory_len == 54 // 8
    key = "temporal_blocks.1.attn.tpca.up_norms.2.weight"  # LayerNorm over 27 -> 54 time steps
    torch.testing.assert_close(new[key], resample_sequence(old[key], 54))
    # amplification kernels follow the pyramid: step 0 (6 -> 13) had kernel 2, now 3; step 2 3 -> 2
    a0_old, a0_new = (
        old["temporal_blocks.0.attn.tpca.amplify.0.weight"],
        new["temporal_blocks.0.attn.tpca.amplify.0.weight"],
    )
    assert a0_old.shape[-1] == 2 and a0_new.shape[-1] == 3
    torch.testing.assert_close(a0_new[..., 0], a0_old[..., 0] / 2)
    torch.testing.assert_close(a0_new[..., 2], a0_old[..., 0] / 2)
    torch.testing.assert_close(a0_new[..., 1], a0_old[..., 1])
    # everything whose shape does not depend on T is unchanged
    for k, v in old.items():
        if new[k].shape == v.shape:
            assert torch.equal(new[k], v), k
    resampled = long.pretrained_cfg["resampled_window"]
    assert resampled["from_num_frames"] == 27 and resampled["to_num_frames"] == 54
    assert "temporal_pos_embed.weight" in resampled["keys"]
    assert long.pretrained_cfg["input_spec"]["num_frames"] == 54
    y = long(torch.randn(1, 54, 17, 2))
    assert y.shape == (1, 54, 17, 3) and torch.isfinite(y).all()


@pytest.mark.parametrize("frames", [9, 81])
def test_mixste_other_lengths(tmp_path: Path, frames: int) -> None:
    _saved("mixste_small", tmp_path / "m")
    model = posezoo.create_model("mixste_small", pretrained=tmp_path / "m", num_frames=frames).eval()
    assert model.temporal_pos_embed.weight.shape == (frames, 64)
    y = model(torch.randn(2, frames, 17, 2))
    assert y.shape == (2, frames, 17, 3) and torch.isfinite(y).all()
    out = posezoo.lift(torch.randn(30, 17, 2) * 0.3, model, flip_tta=False)
    assert out.shape == (30, 17, 3) and torch.isfinite(out).all()


def test_uplift_upsample_other_token_counts(tmp_path: Path) -> None:
    model = _saved("uplift_upsample_small", tmp_path / "m")
    short = posezoo.create_model("uplift_upsample_small", pretrained=tmp_path / "m", num_frames=13).eval()
    assert short.token_lengths == [13, 5, 2, 1]
    old, new = model.state_dict(), short.state_dict()
    for key, length in (
        ("temporal_pos_embed.weight", 13),
        ("strided_blocks.0.pos_embed.weight", 13),
        ("strided_blocks.1.pos_embed.weight", 5),
        ("strided_blocks.2.pos_embed.weight", 2),
    ):
        torch.testing.assert_close(new[key], resample_sequence(old[key], length))
    keypoints, mask = short.example_inputs(batch_size=2)
    out = short(keypoints, mask)
    assert out.full.shape == (2, 13, 17, 3) and out.central.shape == (2, 17, 3)
    # a window the registered strides cannot reduce to one token needs strides of the same block count
    with pytest.raises(ValueError, match="strides"):
        posezoo.create_model("uplift_upsample_small", pretrained=tmp_path / "m", num_frames=41)
    wide = posezoo.create_model(
        "uplift_upsample_small",
        pretrained=tmp_path / "m",
        num_frames=41,
        strides=[4, 4, 3],
        paddings=[[1, 1], [0, 0], [0, 0]],
    ).eval()
    assert wide.token_lengths == [41, 11, 3, 1]
    assert wide(*wide.example_inputs(1)).central.shape == (1, 17, 3)


def test_windows_that_cannot_change(tmp_path: Path, tiny_name: str) -> None:
    with pytest.raises(ValueError, match="num_frames cannot be changed: MixSynthFormer's window is K\\*Q\\+1"):
        posezoo.create_model("mixsynthformer_h36m_3d", num_frames=51)
    torch.manual_seed(0)
    posezoo.save_pretrained(posezoo.create_model(tiny_name), tmp_path / "tiny")
    with pytest.raises(WeightsError, match="shape-mismatched keys \\(2\\): time_mix.bias .* not window-length"):
        posezoo.create_model(tiny_name, pretrained=tmp_path / "tiny", num_frames=6)
    model = posezoo.create_model(tiny_name, num_frames=6)
    with pytest.raises(ValueError, match="cannot resample 'time_mix.bias' from \\(5,\\) to \\(6,\\) \\(Linear\\)"):
        resample_temporal_embeddings(load_file(str(tmp_path / "tiny" / "model.safetensors")), model)
    lenient = posezoo.create_model(tiny_name, pretrained=tmp_path / "tiny", num_frames=6, strict=False)
    mismatched = {k for k, _, _ in lenient.pretrained_cfg["load_result"].mismatched_keys}
    assert mismatched == {"time_mix.weight", "time_mix.bias"}


def test_resample_refuses_other_widths(tmp_path: Path) -> None:
    model = _saved("mixste_small", tmp_path / "m")
    wider = posezoo.create_model("mixste_small", dim=128)
    with pytest.raises(ValueError, match="joint_embed.weight"):
        resample_temporal_embeddings(model.state_dict(), wider)
