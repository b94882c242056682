"""UpliftUpsample model: geometry checks, input validation, masking behaviour, variants."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import posezoo
from posezoo.data import stride_mask
from posezoo.models.uplift_upsample import UpliftUpsample, UpliftUpsampleOutput, strided_lengths

TINY = dict(spatial_dim=8, temporal_dim=16, spatial_depth=1, temporal_depth=2, num_heads=2, mlp_ratio=2.0)


def _tiny(**kw) -> UpliftUpsample:
    torch.manual_seed(0)
    cfg = dict(TINY, num_frames=27, strides=[3, 3, 3], paddings=[[1, 1]] * 3, output_stride=1, input_strides=[3, 9])
    cfg.update(kw)
    return UpliftUpsample(**cfg).eval()


def _batch(model: UpliftUpsample, strides: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.randn(len(strides), model.num_frames, model.num_joints, 2)
    mask = torch.stack([stride_mask(model.num_frames, s, model.output_stride) for s in strides])
    return x, mask


# ---------------------------------------------------------------- geometry


@pytest.mark.parametrize(
    "n,strides,paddings",
    [
        (27, [3, 3, 3], [[1, 1]] * 3),
        (41, [4, 4, 3], [[1, 1], [0, 0], [0, 0]]),  # h36m_81
        (71, [3, 10, 3], [[0, 0]] * 3),  # h36m_351
        (81, [3, 3, 3, 3], [[0, 0]] * 4),
        (9, [9], [[1, 1]]),
        (10, [3, 4], [[1, 0], [0, 1]]),
        (7, [], []),
    ],
)
def test_valid_geometries_reduce_to_one_token(n: int, strides: list, paddings: list) -> None:
    model = _tiny(num_frames=n, strides=strides, paddings=paddings, input_strides=[1])
    x = torch.randn(2, n, 17, 2)
    with torch.no_grad():
        out = model(x, None)
    assert isinstance(out, UpliftUpsampleOutput)
    assert out.full.shape == (2, n, 17, 3) and out.central.shape == (2, 17, 3)
    assert model.token_lengths[0] == n and (not strides or model.token_lengths[-1] == 1)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(num_frames=27, strides=[3, 3], paddings=[[1, 1]] * 2), r"reduce N=27 tokens to 3, not 1"),
        (dict(num_frames=5, strides=[3, 3, 3], paddings=[[0, 0]] * 3), r"strided block 1 .* receives only 1 tokens"),
        (dict(strides=[3, 3, 3], paddings=[[1, 1]] * 2), r"got 2 paddings for 3 strides"),
        (dict(paddings=[[2, 2]] * 3), r"each side 0 or 1"),
        (dict(input_strides=[3, 4], output_stride=2), r"multiples of output_stride \(2\), got \[3\]"),
        (dict(strided_input=False), r"strided_input=False cannot upsample"),
        (dict(temporal_depth=0), r"full_output=True needs temporal_depth >= 1"),
        (dict(temporal_dim=17), r"temporal_dim \(17\) must be divisible by num_heads \(2\)"),
        (dict(joint_order="coco", num_joints=15), r"joint_order 'coco' has 17 joints but num_joints=15"),
        (dict(joint_order="nope"), r"unknown skeleton"),
        (dict(num_frames=0), r"num_frames must be a positive int, got 0"),
    ],
)
def test_invalid_geometries_fail_at_construction(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        _tiny(**kwargs)


@settings(max_examples=15, deadline=None)
@given(
    n=st.integers(1, 60),
    strides=st.lists(st.integers(1, 6), max_size=4),
    pads=st.lists(st.tuples(st.integers(0, 1), st.integers(0, 1)), min_size=4, max_size=4),
)
def test_any_geometry_either_reduces_to_one_or_is_refused(n: int, strides: list, pads: list) -> None:
    paddings = [list(p) for p in pads[: len(strides)]]
    try:
        lengths = strided_lengths(n, strides, paddings)
        valid = not strides or lengths[-1] == 1
    except ValueError:
        valid = False
    kw = dict(
        TINY,
        spatial_depth=0,
        temporal_depth=1,
        temporal_dim=8,
        num_frames=n,
        strides=strides,
        paddings=paddings,
        output_stride=1,
        input_strides=[1],
    )
    if not valid:
        with pytest.raises(ValueError):
            UpliftUpsample(**kw)
        return
    model = UpliftUpsample(**kw).eval()
    with torch.no_grad():
        out = model(torch.randn(1, n, 17, 2))
    assert out.central.shape == (1, 17, 3) and out.full.shape == (1, n, 17, 3)


# ---------------------------------------------------------------- inputs and masking


def test_non_keyframe_inputs_are_ignored_even_nan() -> None:
    model = _tiny()
    x, mask = _batch(model, [3, 9, 3])
    garbage = x.clone()
    garbage[~mask] = float("nan")
    with torch.no_grad():
        a, b = model(x, mask), model(garbage, mask)
    torch.testing.assert_close(a.full, b.full, rtol=0, atol=0)
    torch.testing.assert_close(a.central, b.central, rtol=0, atol=0)
    assert torch.isfinite(a.full).all()


def test_float_int_and_bool_masks_agree_and_all_true_mask_equals_none() -> None:
    model = _tiny()
    x, mask = _batch(model, [3, 9])
    with torch.no_grad():
        ref = model(x, mask)
        for other in (mask.float(), mask.long()):
            out = model(x, other)
            torch.testing.assert_close(out.central, ref.central, rtol=0, atol=0)
        full_mask = model(x, torch.ones_like(mask))
        none_mask = model(x, None)
    torch.testing.assert_close(full_mask.full, none_mask.full, rtol=0, atol=0)


def test_mask_changes_the_prediction() -> None:
    model = _tiny()
    x, _ = _batch(model, [3, 3])
    with torch.no_grad():
        dense = model(x, None).central
        sparse = model(x, stride_mask(27, 9).expand(2, -1)).central
    assert (dense - sparse).abs().max() > 1e-3


@pytest.mark.parametrize(
    "x_shape,mask,match",
    [
        ((2, 27, 16, 2), None, r"keypoints_2d must have shape \(B, 27, 17, 2\)"),
        ((2, 26, 17, 2), None, r"keypoints_2d must have shape"),
        ((2, 27, 17, 2), torch.ones(2, 26, dtype=torch.bool), r"stride_mask must have shape \(B, N\) = \(2, 27\)"),
        ((2, 27, 17, 2), torch.full((2, 27), 0.5), r"only 0 \(upsampling\) and 1 \(keyframe\)"),
        ((2, 27, 17, 2), torch.zeros(2, 27, dtype=torch.bool), r"at least one keyframe; none in batch rows \[0, 1\]"),
    ],
)
def test_bad_inputs_raise(x_shape: tuple, mask, match: str) -> None:
    model = _tiny()
    with pytest.raises(ValueError, match=match):
        model(torch.randn(*x_shape), mask)


def test_non_finite_keyframe_and_type_errors() -> None:
    model = _tiny()
    x, mask = _batch(model, [3])
    x[0, 13, 0, 0] = float("inf")  # the central token is a keyframe of the centred mask
    with pytest.raises(ValueError, match="non-finite values at keyframes"):
        model(x, mask)
    with pytest.raises(TypeError, match="keypoints_2d must be a torch.Tensor"):
        model(x.numpy(), mask)
    with pytest.raises(TypeError, match="stride_mask must be a torch.Tensor"):
        model(torch.zeros(1, 27, 17, 2), [True] * 27)


def test_model_without_strided_input_refuses_upsampling_masks() -> None:
    model = _tiny(strided_input=False, input_strides=[1])
    assert model.upsampling_tokens is None
    x, mask = _batch(model, [3])
    with pytest.raises(ValueError, match="strided_input=False"):
        model(x, mask)
    with torch.no_grad():
        assert model(x, None).central.shape == (1, 17, 3)


def test_duta_in_model_first_temporal_block() -> None:
    """Changing the upsampling token leaves keyframe outputs of temporal block 1 unchanged, not of block 2."""
    model = _tiny()
    x, mask = _batch(model, [3, 9])
    outs: list[torch.Tensor] = []
    for block in model.temporal_encoder.blocks:
        block.register_forward_hook(lambda m, i, o: outs.append(o))
    with torch.no_grad():
        a = model(x, mask)
        model.upsampling_tokens.token.add_(torch.randn(16))
        b = model(x, mask)
    a1, a2, b1, b2 = outs
    torch.testing.assert_close(a1[mask], b1[mask], rtol=0, atol=1e-6)
    assert (a2[mask] - b2[mask]).abs().max() > 1e-3
    assert (a.central - b.central).abs().max() > 1e-4


def test_no_temporal_blocks_and_no_strides_branches() -> None:
    no_temporal = _tiny(temporal_depth=0, full_output=False)
    x, mask = _batch(no_temporal, [3, 9])
    with torch.no_grad():
        out = no_temporal(x, mask)
    assert out.full is None and out.central.shape == (2, 17, 3)
    no_strides = _tiny(num_frames=5, strides=[], paddings=[], input_strides=[1])
    with torch.no_grad():
        direct = no_strides(torch.randn(2, 5, 17, 2))
    assert direct.central.shape == (2, 17, 3)


# ---------------------------------------------------------------- variants


def test_registered_variants_have_the_paper_geometry() -> None:
    names = posezoo.list_models("uplift_upsample*")
    assert names == ["uplift_upsample_h36m_351", "uplift_upsample_h36m_81", "uplift_upsample_small"]
    m81 = posezoo.create_model("uplift_upsample_h36m_81")
    assert (m81.num_frames, m81.output_stride, m81.input_strides, m81.receptive_field) == (41, 2, [4, 10, 20], 81)
    assert m81.token_lengths == [41, 11, 3, 1]
    assert [b.pos_embed.weight.shape[0] for b in m81.strided_blocks] == [41, 11, 3]
    m351 = posezoo.create_model("uplift_upsample_h36m_351")
    assert (m351.num_frames, m351.output_stride, m351.input_strides, m351.receptive_field) == (71, 5, [5, 10, 20], 351)
    assert m351.token_lengths == [71, 23, 3, 1]
    for m in (m81, m351):
        assert (
            m.spatial_blocks[0].mlp.fc1.out_features == 64 and m.temporal_encoder.blocks[0].mlp.fc1.out_features == 768
        )
        assert m.spatial_blocks[0].norm1.eps == 1e-5 and m.spatial_norm.eps == 1e-6
        assert m.temporal_encoder.first_strided_token_attention_layer == 1
        assert m.joint_order == "h36m" and m.in_channels == 2 and m.num_joints == 17
    small = posezoo.create_model("uplift_upsample_small")
    assert sum(p.numel() for p in small.parameters()) < 1_500_000


def test_example_inputs_use_an_upsampling_stride() -> None:
    model = posezoo.create_model("uplift_upsample_h36m_351")
    x, mask = model.example_inputs(3)
    assert x.shape == (3, 71, 17, 2) and mask.shape == (3, 71) and mask.dtype == torch.bool
    assert torch.equal(mask[0], stride_mask(71, 10, 5))  # first s_in > s_out


def test_bfloat16_autocast_and_half_precision() -> None:
    model = _tiny()
    x, mask = _batch(model, [3, 9])
    with torch.no_grad():
        ref = model(x, mask)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = model(x, mask)
        half = _tiny().half()(x.half(), mask)
    assert out.central.dtype == torch.bfloat16 and half.central.dtype == torch.float16
    torch.testing.assert_close(out.central.float(), ref.central, rtol=0, atol=0.05)
    torch.testing.assert_close(half.full.float(), ref.full, rtol=0, atol=0.02)


def test_torch_export_returns_the_output_dataclass() -> None:
    model = _tiny()
    x, mask = _batch(model, [3, 9])
    exported = torch.export.export(model, (x, mask)).module()
    other_x, other_mask = _batch(model, [9, 3])
    with torch.no_grad():
        out, ref = exported(other_x, other_mask), model(other_x, other_mask)
    assert isinstance(out, UpliftUpsampleOutput)
    torch.testing.assert_close(out.full, ref.full, rtol=0, atol=1e-6)
    torch.testing.assert_close(out.central, ref.central, rtol=0, atol=1e-6)
