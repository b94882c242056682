"""RTPCA and MixSTE models: parameter counts, ablation switches, official quirks, FLOPs, attention maps."""

from __future__ import annotations

import pytest
import torch

import posezoo
from posezoo.layers import TPCA, SpatialBlock, TransformerBlock, XLRBlock
from posezoo.models import count_parameters
from posezoo.models.mixste import MixSTE
from posezoo.models.rtpca import RTPCA
from posezoo.utils import count_flops

SMALL = dict(num_frames=27, num_joints=17, dim=32, depth=3, num_heads=4)


def _conv_params(channels: int, kernels) -> int:
    return sum(channels * k + channels for k in kernels)


# ---------------------------------------------------------------------------- parameter counts


def test_paper_configuration_parameter_counts() -> None:
    mixste = MixSTE(num_frames=243, dim=512, depth=8, num_heads=8, mlp_ratio=2.0)
    assert count_parameters(mixste) == 33_783_811  # the official MixSTE class, all used
    rtpca = RTPCA(num_frames=243, dim=512, depth=8, num_heads=8, mlp_ratio=2.0, official_compat=True)
    used = count_parameters(rtpca)
    assert used == 33_847_219  # what the official forward pass uses
    # the official class additionally builds one never-used TPCA module per spatial block
    unused = 8 * count_parameters(TPCA(512, 243))
    assert unused == 63_408
    assert used + unused == 33_910_627  # the official RTPCA class
    assert count_parameters(RTPCA(num_frames=243, dim=512, depth=8)) == used  # clean model: same parameters
    assert posezoo.model_info("rtpca_243")["params"] == used
    assert posezoo.model_info("mixste_243")["params"] == 33_783_811


def test_ablation_switches_change_the_parameter_count_as_expected() -> None:
    c, depth = SMALL["dim"], SMALL["depth"]
    full = count_parameters(RTPCA(**SMALL))
    tpca = count_parameters(TPCA(c, 27))
    assert count_parameters(RTPCA(**SMALL, tpca=False)) == full - depth * tpca
    assert count_parameters(RTPCA(**SMALL, xlr=False)) == full  # XLR has no parameters
    for connection in ("previous", "chained", "first"):
        assert count_parameters(RTPCA(**SMALL, xlr_connection=connection)) == full
    # without TPCA and XLR, RTPCA is MixSTE (split q/kv instead of fused qkv: same size)
    assert count_parameters(RTPCA(**SMALL, tpca=False, xlr=False)) == count_parameters(MixSTE(**SMALL))
    # Table 6 variants: strided depthwise compression adds kernels 3, 3, 2 (27 -> 13 -> 6 -> 3)
    compress_conv = _conv_params(c, (27 - 2 * 12, 13 - 2 * 5, 6 - 2 * 2))
    assert count_parameters(RTPCA(**SMALL, tpca_compress="conv")) == full + depth * compress_conv
    assert count_parameters(RTPCA(**SMALL, tpca_compress="pool+conv")) == full + depth * compress_conv
    amplify = _conv_params(c, (6 - 2 * 2, 13 - 2 * 5, 27 - 2 * 12))
    assert count_parameters(RTPCA(**SMALL, tpca_amplify="linear")) == full - depth * amplify
    assert count_parameters(RTPCA(**{**SMALL, "depth": 4})) - full == count_parameters(
        RTPCA(**SMALL)
    ) - count_parameters(RTPCA(**{**SMALL, "depth": 2}))


def test_blocks_are_the_shared_layers() -> None:
    model = RTPCA(**SMALL)
    assert all(isinstance(b, SpatialBlock) and isinstance(b, TransformerBlock) for b in model.spatial_blocks)
    assert all(isinstance(b, XLRBlock) and isinstance(b, TransformerBlock) for b in model.temporal_blocks)
    assert all(isinstance(b.attn.tpca, TPCA) for b in model.temporal_blocks)
    assert all(b.attn.tpca is None for b in RTPCA(**SMALL, tpca=False).temporal_blocks)
    keys = set(MixSTE(**SMALL).state_dict())
    assert {"spatial_blocks.0.attn.qkv.weight", "temporal_blocks.2.mlp.fc2.bias", "head_norm.weight"} <= keys


# ---------------------------------------------------------------------------- behaviour


def _same_weights(model: torch.nn.Module, reference: torch.nn.Module) -> torch.nn.Module:
    model.load_state_dict(reference.state_dict())
    return model.eval()


def test_xlr_switch_and_connection_patterns_change_the_output() -> None:
    torch.manual_seed(0)
    ref = RTPCA(**SMALL).eval()
    x = torch.rand(2, 27, 17, 2) * 2 - 1
    with torch.no_grad():
        outs = {c: _same_weights(RTPCA(**SMALL, xlr_connection=c), ref)(x) for c in ("previous", "chained", "first")}
        no_xlr = _same_weights(RTPCA(**SMALL, xlr=False), ref)(x)
        _, maps = ref(x, return_attention=True)
    torch.testing.assert_close(outs["previous"], ref(x))
    for name, out in outs.items():
        assert (out - no_xlr).abs().max() > 1e-4, name
    # depth 3: block 2 attends to block 1's own K/V ("previous"), to block 1's [own; memory] ("chained")
    # or to block 0's K/V ("first"): three different results
    assert (outs["previous"] - outs["chained"]).abs().max() > 1e-5
    assert (outs["previous"] - outs["first"]).abs().max() > 1e-5
    memory = SMALL["num_frames"] // 8
    assert [m.shape[-1] for m in maps["temporal"]] == [27, 27 + memory, 27 + memory]


def test_tpca_switch_changes_the_output() -> None:
    torch.manual_seed(0)
    ref = RTPCA(**SMALL).eval()
    no_tpca = RTPCA(**SMALL, tpca=False).eval()
    no_tpca.load_state_dict({k: v for k, v in ref.state_dict().items() if ".tpca." not in k})
    x = torch.rand(2, 27, 17, 2) * 2 - 1
    with torch.no_grad():
        assert (ref(x) - no_tpca(x)).abs().max() > 1e-4


def test_official_compat_doubles_the_stream_after_temporal_blocks_from_the_second_on() -> None:
    torch.manual_seed(0)
    for compat, factors in ((True, [1.0, 2.0, 2.0]), (False, [1.0, 1.0, 1.0])):
        model = RTPCA(**SMALL, official_compat=compat).eval()
        norm_outs, next_inputs = [], []
        model.temporal_norm.register_forward_hook(lambda m, i, o: norm_outs.append(o.detach().clone()))  # noqa: B023
        for block in list(model.spatial_blocks)[1:]:
            block.register_forward_pre_hook(lambda m, args: next_inputs.append(args[0].detach().clone()))  # noqa: B023
        model.head_norm.register_forward_pre_hook(lambda m, args: next_inputs.append(args[0].detach().clone()))  # noqa: B023
        with torch.no_grad():
            model(torch.rand(1, 27, 17, 2))
        for t_i, nxt, factor in zip(norm_outs, next_inputs, factors):
            torch.testing.assert_close(nxt, factor * t_i, rtol=0, atol=0)


def test_official_compat_layer_norm_eps_and_connection() -> None:
    compat, clean = RTPCA(**SMALL, official_compat=True), RTPCA(**SMALL)
    assert compat.xlr_connection == "chained" and clean.xlr_connection == "previous"
    for model, tpca_eps, head_eps in ((compat, 1e-5, 1e-5), (clean, 1e-6, 1e-6)):
        assert model.head_norm.eps == head_eps
        assert model.spatial_norm.eps == model.temporal_norm.eps == 1e-6
        assert all(b.norm1.eps == b.norm2.eps == 1e-6 for b in [*model.spatial_blocks, *model.temporal_blocks])
        norms = [m for b in model.temporal_blocks for m in b.attn.tpca.modules() if isinstance(m, torch.nn.LayerNorm)]
        assert len(norms) == SMALL["depth"] * 7 and all(n.eps == tpca_eps for n in norms)
    assert MixSTE(**SMALL, official_compat=True).head_norm.eps == 1e-5
    assert MixSTE(**SMALL).head_norm.eps == 1e-6
    with pytest.raises(ValueError, match="official_compat=True reproduces the official 'chained'"):
        RTPCA(**SMALL, official_compat=True, xlr_connection="previous")


@pytest.mark.parametrize("frames", [8, 9, 16, 50, 81])
def test_rtpca_any_frame_count(frames: int) -> None:
    model = RTPCA(**{**SMALL, "num_frames": frames, "depth": 2}).eval()
    out, maps = model(torch.rand(2, frames, 17, 2), return_attention=True)
    assert out.shape == (2, frames, 17, 3) and torch.isfinite(out).all()
    assert maps["temporal"][1].shape[-1] == frames + max(1, frames // 8)


def test_frame_count_limits() -> None:
    with pytest.raises(ValueError, match="at least 8 frames"):
        RTPCA(**{**SMALL, "num_frames": 7})
    tiny = RTPCA(**{**SMALL, "num_frames": 5}, tpca=False).eval()  # without TPCA any T works
    assert tiny(torch.rand(1, 5, 17, 2)).shape == (1, 5, 17, 3)
    assert RTPCA(**{**SMALL, "num_frames": 16}, tpca_stages=2, tpca_ratio=4).temporal_blocks[0].attn.tpca.lengths == [
        16,
        4,
        1,
    ]
    for frames in (1, 2, 50):
        assert MixSTE(**{**SMALL, "num_frames": frames}).eval()(torch.rand(1, frames, 17, 2)).shape == (
            1,
            frames,
            17,
            3,
        )


@pytest.mark.parametrize("cls", [RTPCA, MixSTE])
def test_other_joint_counts_widths_and_heads(cls) -> None:
    model = cls(
        num_frames=16, num_joints=15, in_channels=3, out_channels=3, dim=24, depth=2, num_heads=3, mlp_ratio=1.5
    ).eval()
    assert model.temporal_blocks[0].mlp.fc1.out_features == 36
    assert model(torch.rand(2, 16, 15, 3)).shape == (2, 16, 15, 3)


@pytest.mark.parametrize("cls", [RTPCA, MixSTE])
def test_bad_input_is_rejected(cls) -> None:
    model = cls(**SMALL)
    for shape in [(2, 26, 17, 2), (2, 27, 16, 2), (2, 27, 17, 3), (27, 17, 2)]:
        with pytest.raises(ValueError, match=r"expects input \(B, T=27, J=17, C=2\)"):
            model(torch.zeros(shape))
    bad = torch.zeros(1, 27, 17, 2)
    bad[0, 3, 4, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN or Inf"):
        model(bad)
    with pytest.raises(TypeError):
        model(bad.numpy())
    with pytest.raises(ValueError, match="divisible"):
        cls(**{**SMALL, "num_heads": 5})
    with pytest.raises(ValueError, match="depth must be a positive int"):
        cls(**{**SMALL, "depth": 0})


def test_bad_ablation_arguments_are_rejected() -> None:
    with pytest.raises(ValueError, match="tpca_compress"):
        RTPCA(**SMALL, tpca_compress="max")
    with pytest.raises(ValueError, match="tpca_amplify"):
        RTPCA(**SMALL, tpca_amplify="nearest")
    with pytest.raises(ValueError, match="xlr_connection"):
        RTPCA(**SMALL, xlr_connection="dense")
    with pytest.raises(ValueError, match="xlr_memory_len"):
        RTPCA(**SMALL, xlr_memory_len=0)


@pytest.mark.parametrize("cls", [RTPCA, MixSTE])
def test_return_attention_maps(cls) -> None:
    torch.manual_seed(0)
    model = cls(**SMALL).eval()
    x = torch.rand(2, 27, 17, 2)
    with torch.no_grad():
        out, maps = model(x, return_attention=True)
        torch.testing.assert_close(out, model(x), atol=1e-5, rtol=1e-5)
    assert len(maps["spatial"]) == len(maps["temporal"]) == SMALL["depth"]
    for w in maps["spatial"]:
        assert w.shape == (2, 27, 4, 17, 17)
        torch.testing.assert_close(w.sum(-1), torch.ones(w.shape[:-1]))
    for i, w in enumerate(maps["temporal"]):
        keys = 27 + (3 if (cls is RTPCA and i > 0) else 0)
        assert w.shape == (2, 17, 4, 27, keys)
        torch.testing.assert_close(w.sum(-1), torch.ones(w.shape[:-1]))


def test_drop_path_is_active_only_in_training() -> None:
    torch.manual_seed(0)
    model = RTPCA(**SMALL, drop_path_rate=0.3)
    from timm.layers import DropPath  # a core dependency, imported by the layer only when needed

    assert isinstance(model.temporal_blocks[-1].drop_path, DropPath)  # timm's, not a copy
    assert model.temporal_blocks[-1].drop_path.drop_prob == pytest.approx(0.3)
    assert isinstance(model.temporal_blocks[0].drop_path, torch.nn.Identity)  # rate 0: nothing to drop
    x = torch.rand(4, 27, 17, 2)
    model.train()
    assert (model(x) - model(x)).abs().max() > 0
    model.eval()
    torch.testing.assert_close(model(x), model(x), rtol=0, atol=0)


# ---------------------------------------------------------------------------- FLOPs


def _analytic_flops(model, frames: int, joints: int) -> int:
    """matmul + attention FLOPs (2 per multiply-add) of one clip, from the architecture."""
    c, depth, hidden = model.dim, model.depth, model.spatial_blocks[0].mlp.fc1.out_features
    tokens = frames * joints
    linear_per_token = 2 * (4 * c * c + 2 * c * hidden)  # qkv (or q + kv), proj, fc1, fc2
    flops = 2 * tokens * model.in_channels * c + 2 * tokens * c * model.out_channels
    flops += depth * 2 * tokens * linear_per_token
    flops += depth * 4 * frames * joints * joints * c  # spatial q k^T and attn v
    for i in range(depth):
        keys = frames
        if isinstance(model, RTPCA) and model.use_xlr and i > 0:
            keys += model.xlr_memory_len
        flops += 4 * joints * frames * keys * c  # temporal q k^T and attn v
        if isinstance(model, RTPCA) and model.use_tpca:
            tpca = model.temporal_blocks[i].attn.tpca
            flops += count_flops(tpca, torch.zeros(joints, frames, c))  # depthwise (transposed) convolutions
    return flops


@pytest.mark.parametrize("name", ["rtpca_small", "mixste_small"])
def test_model_info_flops_small_variants(name: str) -> None:
    info = posezoo.model_info(name, flops=True)
    model = posezoo.create_model(name)
    expected = _analytic_flops(model, model.num_frames, model.num_joints)
    assert info["flops"]["per_clip"] == expected
    assert info["flops"]["per_output_frame"] == pytest.approx(expected / model.num_frames)
    assert info["flops"]["macs_per_clip"] == expected // 2


@pytest.mark.slow
@pytest.mark.parametrize("name", ["rtpca_243", "mixste_243"])
def test_model_info_flops_paper_variants(name: str) -> None:
    info = posezoo.model_info(name, flops=True)
    model = posezoo.create_model(name)
    expected = _analytic_flops(model, 243, 17)
    assert info["flops"]["per_clip"] == expected
    # the paper's 139.4 G (RTPCA) / 139.0 G (MixSTE) are close to the MACs of the linear layers alone
    # (138.6 G: 8 spatial + 8 temporal blocks of 4C^2 + 2C*hidden per token), i.e. MACs without the
    # attention matmuls; torch's FLOP count is 2 x MACs and includes attention
    c, hidden, tokens = 512, 1024, 243 * 17
    linear_macs = tokens * (2 * c + 3 * c) + 8 * 2 * tokens * (4 * c * c + 2 * c * hidden)
    assert linear_macs / 1e9 == pytest.approx(139.0, abs=0.5)
    assert info["flops"]["macs_per_clip"] > linear_macs
