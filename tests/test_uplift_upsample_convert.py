"""Official Keras .h5 -> UpliftUpsample: parity with the official TF outputs, config forms, errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

import posezoo
from posezoo.convert import convert_official
from posezoo.convert.uplift_upsample import resolve_config
from posezoo.models.uplift_upsample import UpliftUpsample
from posezoo.skeleton import reorder_joints

from .conftest import FIXTURES

CASE = FIXTURES / "uplift_upsample" / "n27_s333_duta"
ATOL = 1e-5


@pytest.fixture(scope="module")
def fixture_data() -> dict[str, torch.Tensor]:
    names = ("input", "input_unmasked", "stride_mask", "output_full", "output_central")
    return {n: torch.from_numpy(np.load(CASE / f"{n}.npy")) for n in names}


def _official_to_h36m(x: torch.Tensor) -> torch.Tensor:
    return reorder_joints(x, "uplift_upsample", "h36m")


def _h36m_to_official(x: torch.Tensor) -> torch.Tensor:
    return reorder_joints(x, "h36m", "uplift_upsample")


def _assert_parity(full: torch.Tensor, central: torch.Tensor, data: dict) -> None:
    for b in range(full.shape[0]):  # every sample: s_in 3 shift 0/+1/-1, s_in 9
        torch.testing.assert_close(full[b], data["output_full"][b], rtol=0, atol=ATOL)
        torch.testing.assert_close(central[b], data["output_central"][b], rtol=0, atol=ATOL)


# ---------------------------------------------------------------- parity


def test_parity_official_joint_order(fixture_data) -> None:
    model = posezoo.from_official(
        "uplift_upsample", CASE / "weights.h5", config=CASE / "config.json", joint_order="official"
    )
    assert not model.training and model.joint_order == "official"
    assert model.pretrained_cfg["keras_version"] == "2.4.0"
    with torch.no_grad():
        out = model(fixture_data["input"], fixture_data["stride_mask"])
        unmasked = model(fixture_data["input_unmasked"], fixture_data["stride_mask"] > 0.5)
    _assert_parity(out.full, out.central, fixture_data)
    torch.testing.assert_close(unmasked.full, out.full, rtol=0, atol=0)
    torch.testing.assert_close(unmasked.central, out.central, rtol=0, atol=0)


def test_parity_h36m_joint_order(fixture_data) -> None:
    model = posezoo.from_official("uplift_upsample", CASE / "weights.h5", config=CASE / "config.json")
    assert model.joint_order == "h36m"
    with torch.no_grad():
        out = model(_official_to_h36m(fixture_data["input"]), fixture_data["stride_mask"].bool())
    _assert_parity(_h36m_to_official(out.full), _h36m_to_official(out.central), fixture_data)
    # the pelvis (H36M joint 0) is official joint 6
    torch.testing.assert_close(out.central[:, 0], fixture_data["output_central"][:, 6], rtol=0, atol=ATOL)


# ---------------------------------------------------------------- config forms


def _fixture_config() -> dict:
    return json.loads((CASE / "config.json").read_text())


def test_all_config_forms_give_the_same_architecture(tmp_path: Path) -> None:
    wrapper = _fixture_config()
    official_json = dict(wrapper["config_fields"], BATCH_SIZE=256, OPTIMIZER="AdamW", SEQUENCE_STRIDE=1)
    (tmp_path / "h36m_like.json").write_text(json.dumps(official_json))
    kwargs_dict = dict(wrapper["constructor_kwargs"], mask_stride=[3, 9])
    forms = [CASE / "config.json", wrapper, tmp_path / "h36m_like.json", official_json, kwargs_dict]
    resolved = [resolve_config(f) for f in forms]
    for r in resolved[1:]:
        assert r == resolved[0]
    expected = dict(
        num_frames=27,
        spatial_dim=16,
        temporal_dim=64,
        spatial_depth=2,
        temporal_depth=2,
        strides=[3, 3, 3],
        paddings=[[1, 1]] * 3,
        output_stride=1,
        input_strides=[3, 9],
        strided_input=True,
        first_strided_token_attention_layer=1,
        full_output=True,
        drop_path_rate=[0.1, 0.1, 0.0],
        joint_order="h36m",
    )
    assert {k: resolved[0][k] for k in expected} == expected
    # posezoo kwargs pass through unchanged
    assert resolve_config(resolved[0]) == resolved[0]
    conv_a = convert_official("uplift_upsample", CASE / "weights.h5", config=official_json)
    conv_b = convert_official("uplift_upsample", CASE / "weights.h5", config=resolved[0])
    assert conv_a.state_dict.keys() == conv_b.state_dict.keys()
    for k in conv_a.state_dict:
        assert torch.equal(conv_a.state_dict[k], conv_b.state_dict[k])


def test_released_h36m_81_config_maps_to_the_registered_variant() -> None:
    official = {  # the architecture keys of config/h36m_81.json
        "SEQUENCE_LENGTH": 41,
        "SEQUENCE_STRIDE": 2,
        "MASK_STRIDE": [4, 10, 20],
        "SPATIAL_EMBED_DIM": 32,
        "TEMPORAL_EMBED_DIM": 384,
        "SPATIAL_TRANSFORMER_BLOCKS": 4,
        "TEMPORAL_TRANSFORMER_BLOCKS": 4,
        "STRIDES": [4, 4, 3],
        "PADDINGS": [[1, 1], [0, 0], [0, 0]],
        "NUM_HEADS": 8,
        "MLP_RATIO": 2,
        "QKV_BIAS": True,
        "DROP_PATH_RATE": [0.1, 0.1, 0.0],
        "DROP_RATE": 0.0,
        "ATTENTION_DROP_RATE": 0.0,
        "OUTPUT_BN": False,
        "USE_REFINE": False,
        "TOKEN_MASK_RATE": 0.0,
        "LEARNABLE_MASKED_TOKEN": False,
        "FIRST_STRIDED_TOKEN_ATTENTION_LAYER": 1,
        "NUM_KEYPOINTS": 17,
        "EMA_ENABLED": True,
    }
    resolved = resolve_config(official)
    variant = posezoo.models.get_model_entry("uplift_upsample_h36m_81").config
    for key, value in resolved.items():
        assert variant[key] == value, key


def test_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="`config` is required"):
        posezoo.from_official("uplift_upsample", CASE / "weights.h5")
    with pytest.raises(ValueError, match="unrecognised uplift_upsample config"):
        resolve_config({"foo": 1})
    with pytest.raises(ValueError, match="OUTPUT_BN=true"):
        resolve_config(dict(_fixture_config()["config_fields"], OUTPUT_BN=True))
    with pytest.raises(ValueError, match="unknown official UpliftUpsampleTransformer kwargs: \\['spatial_dim'\\]"):
        resolve_config({"spatial_d_model": 16, "spatial_dim": 3})
    with pytest.raises(FileNotFoundError):
        resolve_config(tmp_path / "missing.json")
    with pytest.raises(ValueError, match="asks for joint_order='official'"):
        resolve_config({"num_frames": 27, "joint_order": "official"}, joint_order="h36m")


# ---------------------------------------------------------------- mapping robustness


def _copy_h5(src: Path, dst: Path, rename=None, drop_group=None, extra_group=None) -> None:
    """Rewrite a Keras weights file, optionally renaming inner weight names / dropping / adding a group."""
    with h5py.File(src, "r") as fin, h5py.File(dst, "w") as fout:
        for key, value in fin.attrs.items():
            fout.attrs[key] = value
        layer_names = [n.decode() for n in fin.attrs["layer_names"]]
        if drop_group:
            layer_names.remove(drop_group)
        if extra_group:
            layer_names.append(extra_group)
        fout.attrs["layer_names"] = [n.encode() for n in layer_names]
        for group in layer_names:
            g = fout.create_group(group)
            if group == extra_group:
                g.attrs["weight_names"] = [f"{group}/dense_99/kernel:0".encode()]
                g.create_dataset(f"{group}/dense_99/kernel:0", data=np.zeros((2, 2), np.float32))
                continue
            names = [n.decode() for n in fin[group].attrs["weight_names"]]
            new_names = [rename(n) if rename else n for n in names]
            g.attrs["weight_names"] = [n.encode() for n in new_names]
            for old, new in zip(names, new_names):
                g.create_dataset(new, data=fin[group][old][()])


def _shift_auto_numbers(name: str) -> str:
    """EMA-copy style names: every auto-numbered inner layer gets +37 (so 'dense_9' sorts after 'dense_10')."""
    import re

    parts = name.split("/")
    inner = [
        re.sub(
            r"^(dense|mha|mlp|layer_normalization|conv1d|strided_mlp)(?:_(\d+))?$",
            lambda m: f"{m.group(1)}_{int(m.group(2) or 0) + 37}",
            p,
        )
        for p in parts[1:-1]
    ]
    return "/".join([parts[0], *inner, parts[-1]])


def test_shifted_inner_names_map_by_position(tmp_path: Path) -> None:
    assert (
        _shift_auto_numbers("spatial_block_1/spatial_block_1/mha/dense_2/kernel:0")
        == "spatial_block_1/spatial_block_1/mha_37/dense_39/kernel:0"
    )
    shifted = tmp_path / "ema_copy.h5"
    _copy_h5(CASE / "weights.h5", shifted, rename=_shift_auto_numbers)
    ref = convert_official("uplift_upsample", CASE / "weights.h5", config=CASE / "config.json").state_dict
    got = convert_official("uplift_upsample", shifted, config=CASE / "config.json").state_dict
    assert ref.keys() == got.keys()
    for k in ref:
        assert torch.equal(ref[k], got[k]), k


def test_missing_extra_and_mismatched_groups_are_listed(tmp_path: Path) -> None:
    missing = tmp_path / "missing.h5"
    _copy_h5(CASE / "weights.h5", missing, drop_group="temporal_block_2")
    with pytest.raises(ValueError, match=r"groups this config needs but the file lacks: \['temporal_block_2'\]"):
        convert_official("uplift_upsample", missing, config=CASE / "config.json")
    extra = tmp_path / "extra.h5"
    _copy_h5(CASE / "weights.h5", extra, extra_group="refine_fc")
    with pytest.raises(ValueError, match=r"groups with weights that this config does not have: refine_fc"):
        convert_official("uplift_upsample", extra, config=CASE / "config.json")
    wrong = dict(_fixture_config()["constructor_kwargs"], temporal_depth=3, temporal_d_model=32)
    with pytest.raises(ValueError) as info:
        convert_official("uplift_upsample", CASE / "weights.h5", config=wrong)
    assert "temporal_block_3" in str(info.value) and "shape mismatches" not in str(info.value)
    narrow = dict(_fixture_config()["constructor_kwargs"], temporal_d_model=32)
    with pytest.raises(ValueError, match=r"shape mismatches \(wrong config\?\)") as info:
        convert_official("uplift_upsample", CASE / "weights.h5", config=narrow)
    assert "temporal_pos_embed.weight: file (27, 64) vs model (27, 32)" in str(info.value)
    assert "... and 61 more" in str(info.value)


def test_missing_h5py_gives_install_hint(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match=r"pip install posezoo\[h5\]"):
        convert_official("uplift_upsample", CASE / "weights.h5", config=CASE / "config.json")


# ---------------------------------------------------------------- create_model(..., pretrained="x.h5")

FIXTURE_GEOMETRY = dict(
    num_frames=27,
    spatial_dim=16,
    temporal_dim=64,
    num_heads=8,
    output_stride=1,
    input_strides=[3, 9],
    strides=[3, 3, 3],
    paddings=[[1, 1], [1, 1], [1, 1]],
)


def test_create_model_with_official_h5(fixture_data) -> None:
    model = posezoo.create_model("uplift_upsample_small", pretrained=CASE / "weights.h5", **FIXTURE_GEOMETRY).eval()
    assert model.pretrained_cfg["source"] == str(CASE / "weights.h5")
    with torch.no_grad():
        out = model(_official_to_h36m(fixture_data["input"]), fixture_data["stride_mask"])
    _assert_parity(_h36m_to_official(out.full), _h36m_to_official(out.central), fixture_data)
    official = posezoo.create_model(
        "uplift_upsample_small", pretrained=CASE / "weights.h5", joint_order="official", **FIXTURE_GEOMETRY
    ).eval()
    with torch.no_grad():
        out = official(fixture_data["input"], fixture_data["stride_mask"])
    _assert_parity(out.full, out.central, fixture_data)


def test_create_model_with_h5_of_another_geometry_fails() -> None:
    with pytest.raises(ValueError, match="shape mismatches") as info:
        posezoo.create_model("uplift_upsample_small", pretrained=CASE / "weights.h5")
    assert "spatial_to_temporal.weight" in str(info.value)


def _write_official_h5(model: UpliftUpsample, path: Path) -> None:
    """Test-only exporter: a posezoo model in the official joint order -> Keras save_weights layout."""
    sd = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    counter = iter(range(100, 10_000))
    groups: dict[str, list[tuple[str, np.ndarray]]] = {}

    def dense(group: str, prefix: str) -> None:
        n = next(counter)
        groups[group] = [
            (f"{group}/dense_{n}/kernel:0", sd[f"{prefix}.weight"].T),
            (f"{group}/dense_{n}/bias:0", sd[f"{prefix}.bias"]),
        ]

    def block(group: str, prefix: str, strided: bool) -> None:
        c = sd[f"{prefix}.norm1.weight"].shape[0]
        qkv_w, qkv_b = sd[f"{prefix}.attn.qkv.weight"], sd.get(f"{prefix}.attn.qkv.bias")
        ln, mha = next(counter), next(counter)
        w = [(f"ln_{ln}/gamma:0", sd[f"{prefix}.norm1.weight"]), (f"ln_{ln}/beta:0", sd[f"{prefix}.norm1.bias"])]
        for i in range(3):
            d = next(counter)
            w += [(f"mha_{mha}/dense_{d}/kernel:0", qkv_w[i * c : (i + 1) * c].T)]
            if qkv_b is not None:  # qkv_bias=False: no bias positions
                w += [(f"mha_{mha}/dense_{d}/bias:0", qkv_b[i * c : (i + 1) * c])]
        d = next(counter)
        w += [
            (f"mha_{mha}/dense_{d}/kernel:0", sd[f"{prefix}.attn.proj.weight"].T),
            (f"mha_{mha}/dense_{d}/bias:0", sd[f"{prefix}.attn.proj.bias"]),
        ]
        ln = next(counter)
        w += [(f"ln_{ln}/gamma:0", sd[f"{prefix}.norm2.weight"]), (f"ln_{ln}/beta:0", sd[f"{prefix}.norm2.bias"])]
        if strided:
            w += [
                ("conv1d_a/kernel:0", sd[f"{prefix}.mlp.fc1.weight"].T[None]),
                ("conv1d_a/bias:0", sd[f"{prefix}.mlp.fc1.bias"]),
                ("conv1d_b/kernel:0", sd[f"{prefix}.mlp.conv.weight"].transpose(2, 1, 0)),
                ("conv1d_b/bias:0", sd[f"{prefix}.mlp.conv.bias"]),
            ]
        else:
            w += [
                ("mlp/fc_a/kernel:0", sd[f"{prefix}.mlp.fc1.weight"].T),
                ("mlp/fc_a/bias:0", sd[f"{prefix}.mlp.fc1.bias"]),
                ("mlp/fc_b/kernel:0", sd[f"{prefix}.mlp.fc2.weight"].T),
                ("mlp/fc_b/bias:0", sd[f"{prefix}.mlp.fc2.bias"]),
            ]
        groups[group] = [(f"{group}/{n}", a) for n, a in w]

    groups["token_dropout"] = []
    if model.spatial_depth > 0:
        dense("keypoint_embedding", "keypoint_embed")
        groups["spatial_pe"] = [("spatial_pe/positional_encoding_weights:0", sd["spatial_pos_embed.weight"])]
    groups["temporal_pe"] = [("temporal_pe/positional_encoding_weights:0", sd["temporal_pos_embed.weight"])]
    for i in range(len(model.strided_blocks)):
        groups[f"strided_temporal_pe_{i + 1}"] = [
            (f"strided_temporal_pe_{i + 1}/positional_encoding_weights:0", sd[f"strided_blocks.{i}.pos_embed.weight"])
        ]
    if model.upsampling_tokens is not None:
        groups["strided_input_token_layer"] = [
            ("strided_input_token_layer/learnable_masked_token:0", sd["upsampling_tokens.token"])
        ]
    if model.spatial_depth > 0:
        for i in range(len(model.spatial_blocks)):
            block(f"spatial_block_{i + 1}", f"spatial_blocks.{i}", False)
        groups["spatial_norm"] = [
            ("spatial_norm/gamma:0", sd["spatial_norm.weight"]),
            ("spatial_norm/beta:0", sd["spatial_norm.bias"]),
        ]
    dense("spatial_to_temporal_fc", "spatial_to_temporal")
    for i in range(len(model.temporal_encoder.blocks)):
        block(f"temporal_block_{i + 1}", f"temporal_encoder.blocks.{i}", False)
    for i in range(len(model.strided_blocks)):
        block(f"strided_temporal_block_{i + 1}", f"strided_blocks.{i}", True)
    if model.full_head is not None:
        dense("temporal_fc", "full_head")
    dense("strided_temporal_fc", "central_head")
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [g.encode() for g in groups]
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.4.0"
        for group in sorted(groups):  # Keras creates the groups sorted by name
            g = f.create_group(group)
            g.attrs["weight_names"] = [n.encode() for n, _ in groups[group]]
            for name, array in groups[group]:
                g.create_dataset(name, data=np.asarray(array, np.float32))


@pytest.mark.parametrize(
    "name",
    [
        "uplift_upsample_h36m_81",
        pytest.param("uplift_upsample_h36m_351", marks=pytest.mark.slow),
        "uplift_upsample_small",
    ],
)
def test_registered_geometry_loads_official_layout(name: str, tmp_path: Path) -> None:
    """An official-layout file of each registered geometry loads through create_model in both joint orders."""
    torch.manual_seed(0)
    source = posezoo.create_model(name, joint_order="official").eval()
    path = tmp_path / "weights.h5"
    _write_official_h5(source, path)
    same = posezoo.create_model(name, pretrained=path, joint_order="official")
    for k, v in source.state_dict().items():
        assert torch.equal(same.state_dict()[k], v), k
    h36m = posezoo.create_model(name, pretrained=path).eval()
    x, mask = source.example_inputs(2)
    with torch.no_grad():
        ref = source(x, mask)
        out = h36m(_official_to_h36m(x), mask)
    torch.testing.assert_close(_h36m_to_official(out.full), ref.full, rtol=0, atol=1e-5)
    torch.testing.assert_close(_h36m_to_official(out.central), ref.central, rtol=0, atol=1e-5)


def test_cli_convert_then_from_pretrained(tmp_path: Path, fixture_data) -> None:
    from posezoo.cli import main

    assert (
        main(
            [
                "convert",
                "uplift_upsample",
                str(CASE / "weights.h5"),
                str(tmp_path / "out"),
                "--config",
                str(CASE / "config.json"),
                "--joint-order",
                "official",
            ]
        )
        == 0
    )
    model = posezoo.from_pretrained(tmp_path / "out")
    assert model.joint_order == "official" and model.input_strides == [3, 9]
    with torch.no_grad():
        out = model(fixture_data["input"], fixture_data["stride_mask"])
    _assert_parity(out.full, out.central, fixture_data)


@pytest.mark.parametrize(
    "options",
    [
        dict(qkv_bias=False),
        dict(spatial_depth=0),
        dict(temporal_depth=0, full_output=False),
        dict(strided_input=False, input_strides=[1]),
        dict(strides=[], paddings=[], num_frames=5),
    ],
)
def test_less_common_official_branches_round_trip(options: dict, tmp_path: Path) -> None:
    """Groups appear/disappear and positions shift exactly as the official model does for these options."""
    torch.manual_seed(0)
    kwargs = dict(
        num_frames=9,
        spatial_dim=8,
        temporal_dim=16,
        spatial_depth=1,
        temporal_depth=1,
        num_heads=2,
        strides=[3, 3],
        paddings=[[1, 1], [1, 1]],
        output_stride=1,
        input_strides=[3],
        joint_order="official",
    )
    kwargs.update(options)
    source = UpliftUpsample(**kwargs).eval()
    path = tmp_path / "weights.h5"
    _write_official_h5(source, path)
    loaded = posezoo.from_official("uplift_upsample", path, config=kwargs, joint_order="official")
    x, mask = source.example_inputs(2)
    with torch.no_grad():
        a, b = source(x, mask), loaded(x, mask)
    torch.testing.assert_close(b.central, a.central, rtol=0, atol=0)
    assert (a.full is None) == (b.full is None)
