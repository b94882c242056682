"""Official MixSynthFormer checkpoints: parity with the fixture and shape inference on other configurations."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

import posezoo
from posezoo.convert import convert_official
from posezoo.convert.mixsynthformer import rename_official_key
from posezoo.models import WeightsError
from posezoo.models.mixsynthformer import MixSynthFormer

from .conftest import FIXTURES

CASE = FIXTURES / "mixsynthformer" / "h36m3d_si10_step10_e64_l4_rt4_rc1_b2"
CKPT = CASE / "checkpoint.pth.tar"
ATOL, RTOL = 2e-5, 1e-5  # README: float32 vs float64 of the official model differs by 2.0e-6


def _fixture() -> tuple[torch.Tensor, np.ndarray]:
    return torch.from_numpy(np.load(CASE / "input.npy")), np.load(CASE / "output.npy")


def test_parity_with_official_output() -> None:
    model = posezoo.from_official("mixsynthformer", CKPT)
    assert not model.training
    x, expected = _fixture()
    with torch.no_grad():
        out = model(x)
    assert out.shape == expected.shape == (2, 101, 51)
    np.testing.assert_allclose(out.numpy(), expected, atol=ATOL, rtol=RTOL)
    # Same numbers through the (B, T, J, D) layout.
    with torch.no_grad():
        out4 = model(x.view(2, 101, 17, 3))
    np.testing.assert_allclose(out4.reshape(2, 101, 51).numpy(), expected, atol=ATOL, rtol=RTOL)


def test_intermediate_activations_match() -> None:
    """Stage by stage on batch element 0 (official intermediates, see README 1.1)."""
    ref = np.load(CASE / "intermediates_subset.npz")
    model = posezoo.from_official("mixsynthformer", CKPT)
    x, _ = _fixture()
    with torch.no_grad():
        interp = model.recover(x[:, ::10])
        h = model.embed(interp)
        layer = model.encoder.layers[0]
        t, c = layer.attn.branch_outputs(h)
        w = layer.attn.split_weights(t, c)
        mixed = layer.attn(h)
        out0 = layer(h)
        deep = out0
        for lay in model.encoder.layers[1:]:
            deep = lay(deep)
        final = model.norm(deep)
    for name, ours in [
        ("interp", interp),
        ("embedding", h),
        ("layer0_token_branch", t),
        ("layer0_channel_branch", c),
        ("layer0_split_weights", w),
        ("layer0_synthmix_out", mixed),
        ("layer0_out", out0),
        ("final_norm_out", final),
    ]:
        np.testing.assert_allclose(ours[0].numpy(), ref[name], atol=ATOL, rtol=RTOL, err_msg=name)


def test_inferred_architecture_and_dropped_keys() -> None:
    conv = convert_official("mixsynthformer", CKPT)
    assert conv.arch_kwargs == dict(
        num_joints=17,
        in_channels=3,
        sample_interval=10,
        num_keyframes=11,
        dim=64,
        depth=4,
        expansion_factor=2,
        reduce_token=4,
        reduce_channel=1,
        interp="learned",
    )
    unused = json.loads((CASE / "config.json").read_text())["unused_in_forward_parameter_keys"]
    assert sorted(conv.dropped_keys) == sorted(unused)
    assert conv.meta["epoch"] == 42 and conv.meta["official_metrics"]["output_mpjpe"] == pytest.approx(38.2)
    assert len(conv.state_dict) == 112 - len(unused)


def test_keep_unused_value_reduce_loads_every_tensor_and_official_count() -> None:
    cfg = json.loads((CASE / "config.json").read_text())
    model = posezoo.from_official("mixsynthformer", CKPT, config={"keep_unused_value_reduce": True})
    assert sum(p.numel() for p in model.parameters()) == cfg["num_parameters"] == 211_003
    assert model.pretrained_cfg["dropped_official_keys"] == []
    x, expected = _fixture()
    with torch.no_grad():
        np.testing.assert_allclose(model(x).numpy(), expected, atol=ATOL, rtol=RTOL)


def test_official_config_is_checked_and_eval_py_reduce_factors_are_overridden() -> None:
    kwargs = json.loads((CASE / "config.json").read_text())["constructor_kwargs"]
    with pytest.warns(UserWarning, match="reduce_token=1 does not fit"):
        model = posezoo.from_official("mixsynthformer", CKPT, config={**kwargs, "reduce_token": 1})
    assert model.init_kwargs["reduce_token"] == 4 and model.init_kwargs["dropout"] == 0.1
    with pytest.raises(ValueError, match="emb_dim: config 128 vs checkpoint 64"):
        posezoo.from_official("mixsynthformer", CKPT, config={**kwargs, "emb_dim": 128})
    with pytest.raises(ValueError, match="unknown MixSynthFormer config keys"):
        posezoo.from_official("mixsynthformer", CKPT, config={"window": 3})
    model = posezoo.from_official("mixsynthformer", CKPT, config=CASE / "config.json")  # the file itself
    assert (
        model.init_kwargs["reduce_token"] == 4
        and model.pretrained_cfg["joint_layout_source"] == "known data set layout"
    )
    with pytest.raises(ValueError, match="joint_order must be 'h36m' or 'official'"):
        posezoo.from_official("mixsynthformer", CKPT, joint_order="coco")
    model = posezoo.from_official("mixsynthformer", CKPT, config={"num_joints": 51})
    assert (model.num_joints, model.in_channels) == (51, 1)


def test_create_model_with_official_path() -> None:
    model = posezoo.create_model("mixsynthformer_h36m_3d", pretrained=str(CKPT)).eval()
    x, expected = _fixture()
    with torch.no_grad():
        np.testing.assert_allclose(model(x).numpy(), expected, atol=ATOL, rtol=RTOL)
    with pytest.raises(WeightsError, match="does not match mixsynthformer_jhmdb_2d"):
        posezoo.create_model("mixsynthformer_jhmdb_2d", pretrained=str(CKPT))


# ---------------------------------------------------------------- other shapes (held-back-like cases)
_INVERSE = [
    (r"^embed\.", "encoder_emb."),
    (r"^temporal_interp\.", "l_interp."),
    (r"^head\.", "fc."),
    (r"\.attn\.", ".synth_att."),
    (r"\.mlp\.", ".ff."),
]


def _to_official(sd: dict) -> dict:
    out = {}
    for key, value in sd.items():
        new = key
        for pattern, repl in _INVERSE:
            new = re.sub(pattern, repl, new)
        assert rename_official_key(new) == key
        out[new] = value.clone()
    return out


def _save_official(tmp_path, model: MixSynthFormer, name: str = "checkpoint.pth.tar"):
    path = tmp_path / name
    torch.save(
        {
            "epoch": 3,
            "state_dict": _to_official(model.state_dict()),
            "performance": {"output_mpjpe": torch.tensor(50.0)},
            "optimizer": {"state": {}, "param_groups": []},
        },
        path,
    )
    return path


@pytest.mark.parametrize(
    "cfg",
    [
        dict(
            num_joints=15,
            in_channels=2,
            sample_interval=10,
            num_keyframes=2,
            dim=32,
            depth=2,
            reduce_token=4,
            reduce_channel=1,
        ),
        dict(
            num_joints=14,
            in_channels=3,
            sample_interval=5,
            num_keyframes=6,
            dim=24,
            depth=3,
            reduce_token=3,
            reduce_channel=2,
            expansion_factor=3,
        ),
        dict(
            num_joints=24,
            in_channels=6,
            sample_interval=2,
            num_keyframes=5,
            dim=16,
            depth=1,
            reduce_token=1,
            reduce_channel=4,
        ),
        dict(
            num_joints=7,
            in_channels=3,
            sample_interval=3,
            num_keyframes=4,
            dim=20,
            depth=2,
            reduce_token=1,
            reduce_channel=1,
        ),
    ],
    ids=["jhmdb2d", "rt3rc2e3", "smpl6d_rt1rc4", "odd_rt1rc1"],
)
def test_shapes_inferred_for_other_configurations(tmp_path, cfg: dict) -> None:
    torch.manual_seed(0)
    source = MixSynthFormer(**cfg, keep_unused_value_reduce=True).eval()
    with torch.no_grad():
        for p in source.parameters():
            p.add_(0.02 * torch.randn_like(p))
    path = _save_official(tmp_path, source)
    model = posezoo.from_official("mixsynthformer", path)
    for key, value in cfg.items():
        if key == "reduce_token":
            assert source.sequence_length // model.init_kwargs[key] == source.sequence_length // value
        elif key == "reduce_channel":
            assert cfg["dim"] // model.init_kwargs[key] == cfg["dim"] // value
        else:
            assert model.init_kwargs[key] == value, key
    x = torch.randn(3, source.num_frames, cfg["num_joints"] * cfg["in_channels"])
    with torch.no_grad():
        torch.testing.assert_close(model(x), source(x), atol=1e-6, rtol=1e-6)
    unused = [k for k in model.pretrained_cfg["dropped_official_keys"]]
    expected_unused = (cfg["reduce_token"] == 1) * 2 * cfg["depth"] + (cfg["reduce_channel"] == 1) * 2 * cfg["depth"]
    assert len(unused) == expected_unused


def test_broken_checkpoints_list_offending_keys(tmp_path) -> None:
    source = MixSynthFormer(
        num_joints=5, in_channels=3, sample_interval=2, num_keyframes=3, dim=8, depth=2, reduce_token=2
    )
    sd = _to_official(source.state_dict())
    extra = dict(sd, **{"encoder.layers.0.synth_att.pos_embed": torch.zeros(3)})
    torch.save({"state_dict": extra}, tmp_path / "extra.pth.tar")
    with pytest.raises(WeightsError, match=r"unmappable official keys \(1\): encoder.layers.0.synth_att.pos_embed"):
        posezoo.from_official("mixsynthformer", tmp_path / "extra.pth.tar")
    missing = {k: v for k, v in sd.items() if "layers.1.norm2" not in k}
    torch.save({"state_dict": missing}, tmp_path / "missing.pth.tar")
    with pytest.raises(WeightsError, match=r"encoder.layers.1.norm2.weight"):
        posezoo.from_official("mixsynthformer", tmp_path / "missing.pth.tar")
    wrong = dict(sd, **{"fc.bias": torch.zeros(14)})
    torch.save({"state_dict": wrong}, tmp_path / "wrong.pth.tar")
    with pytest.raises(WeightsError, match=r"fc.bias \(14,\)"):
        posezoo.from_official("mixsynthformer", tmp_path / "wrong.pth.tar")
    torch.save({"model": sd}, tmp_path / "nokey.pth")
    with pytest.raises(WeightsError, match="no 'state_dict' entry; top-level keys: \\['model'\\]"):
        posezoo.from_official("mixsynthformer", tmp_path / "nokey.pth")
    layers = {k.replace("layers.1.", "layers.2."): v for k, v in sd.items()}
    torch.save({"state_dict": layers}, tmp_path / "gap.tar")
    with pytest.raises(WeightsError, match=r"0..L-1, found \[0, 2\]"):
        posezoo.from_official("mixsynthformer", tmp_path / "gap.tar")
