"""Official RTPCA / MixSTE checkpoints: conversion, parity with the official outputs, errors.

Every case directory under ``tests/fixtures/rtpca/`` and ``tests/fixtures/mixste/``
(``config.json``, ``checkpoint.bin``, ``input.npy``, ``output.npy``, made with
the official code) is tested; nothing below depends on a case's sizes.
"""

from __future__ import annotations

import json
import pickle
import re
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch

import posezoo
from posezoo.convert import convert_official, is_official_checkpoint, load_pickled_checkpoint, strip_prefix
from posezoo.models import WeightsError, count_parameters
from posezoo.models.mixste import MixSTE
from posezoo.models.rtpca import RTPCA

from .conftest import FIXTURES, load_official_reference

_REFERENCE = load_official_reference()

ATOL, RTOL = 5e-6, 1e-5
FAMILIES = ("rtpca", "mixste")
CASES = sorted(p.parent for family in FAMILIES for p in (FIXTURES / family).glob("*/config.json"))
CASE_IDS = [f"{p.parent.name}/{p.name}" for p in CASES]
RTPCA_CASE = next(p for p in CASES if p.parent.name == "rtpca")
MIXSTE_CASE = next(p for p in CASES if p.parent.name == "mixste")


def _config(case: Path) -> dict:
    return json.loads((case / "config.json").read_text())


def _run(model: torch.nn.Module, case: Path) -> np.ndarray:
    x = torch.from_numpy(np.load(case / "input.npy"))
    with torch.inference_mode():
        return model(x).numpy()


def test_every_family_has_a_fixture() -> None:
    assert {p.parent.name for p in CASES} == set(FAMILIES)


def _shapes_only_config(cfg: dict):
    """What a user must pass when only the checkpoint is known: nothing, unless the head count
    (invisible in tensor shapes) differs from the official default 8."""
    heads = cfg["constructor_kwargs"].get("num_heads", 8)
    return None if heads == 8 else {"num_heads": heads}


@pytest.mark.parametrize("config_source", ["shapes", "file", "dict"])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_from_official_reproduces_the_official_output(case: Path, config_source: str) -> None:
    cfg = _config(case)
    config = {"shapes": _shapes_only_config(cfg), "file": case / "config.json", "dict": cfg["constructor_kwargs"]}[
        config_source
    ]
    model = posezoo.from_official(cfg["family"], case / cfg["checkpoint_file"], config=config)
    assert not model.training
    expected = np.load(case / "output.npy")
    out = _run(model, case)
    assert out.shape == tuple(cfg["output_shape"]) == expected.shape
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected, atol=ATOL, rtol=RTOL)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_conversion_infers_the_architecture_and_drops_only_unused_keys(case: Path) -> None:
    cfg = _config(case)
    kwargs = cfg["constructor_kwargs"]
    family = cfg["family"]
    ckpt = case / cfg["checkpoint_file"]
    conv = convert_official(family, ckpt)
    arch = conv.arch_kwargs
    assert conv.model_cls is (RTPCA if family == "rtpca" else MixSTE)
    assert (arch["num_frames"], arch["dim"], arch["depth"], arch["num_joints"], arch["in_channels"]) == (
        kwargs["num_frame"],
        kwargs["embed_dim_ratio"],
        kwargs["depth"],
        kwargs["num_joints"],
        kwargs["in_chans"],
    )
    assert arch["mlp_ratio"] == kwargs["mlp_ratio"]
    assert "num_heads" not in arch  # invisible in shapes: only a config sets it
    assert convert_official(family, ckpt, config=case / "config.json").arch_kwargs["num_heads"] == kwargs["num_heads"]
    assert conv.compat_kwargs["official_compat"] is True
    assert conv.dropped_keys == sorted(cfg["unused_in_forward_parameter_keys"])
    raw = strip_prefix(load_pickled_checkpoint(ckpt)[cfg["checkpoint_layout"]["state_dict_key"]], "module.")
    assert len(raw) == cfg["checkpoint_layout"]["num_state_dict_tensors"]
    model = posezoo.from_official(family, ckpt, config=_shapes_only_config(cfg))
    dropped = sum(raw[k].numel() for k in conv.dropped_keys)
    assert count_parameters(model) + dropped == cfg["num_parameters"]
    assert model.pretrained_cfg["dropped_official_keys"] == conv.dropped_keys
    assert model.pretrained_cfg["source"].endswith(cfg["checkpoint_file"])


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_official_checkpoint_needs_the_safe_loader(case: Path) -> None:
    ckpt = case / _config(case)["checkpoint_file"]
    with pytest.raises(pickle.UnpicklingError):  # the pickled numpy RandomState is refused by weights_only
        torch.load(ckpt, weights_only=True)
    loaded = load_pickled_checkpoint(ckpt)
    assert {"epoch", "lr", "model_pos", "optimizer", "random_state"} <= set(loaded)
    assert all(k.startswith("module.") for k in loaded["model_pos"])
    assert is_official_checkpoint(ckpt, _config(case)["family"])


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_create_model_with_an_official_checkpoint_path(case: Path) -> None:
    cfg = _config(case)
    family, ckpt = cfg["family"], case / cfg["checkpoint_file"]
    arch = convert_official(family, ckpt).arch_kwargs
    overrides = {k: arch[k] for k in ("num_frames", "num_joints", "dim", "depth", "mlp_ratio")}
    overrides["num_heads"] = cfg["constructor_kwargs"].get("num_heads", 8)
    model = posezoo.create_model(f"{family}_243", pretrained=ckpt, **overrides).eval()
    assert model.official_compat is True
    assert model.pretrained_cfg["source"] == str(ckpt)
    np.testing.assert_allclose(_run(model, case), np.load(case / "output.npy"), atol=ATOL, rtol=RTOL)
    with pytest.raises(WeightsError, match="does not match"):
        posezoo.create_model(f"{family}_small", pretrained=ckpt)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_converted_model_round_trips_through_save_pretrained(case: Path, tmp_path: Path) -> None:
    cfg = _config(case)
    model = posezoo.from_official(cfg["family"], case / cfg["checkpoint_file"], config=case / "config.json")
    posezoo.save_pretrained(model, tmp_path / "converted")
    loaded = posezoo.from_pretrained(tmp_path / "converted")
    assert loaded.init_kwargs == model.init_kwargs and loaded.official_compat
    np.testing.assert_array_equal(_run(loaded, case), _run(model, case))


def test_official_quirks_matter_for_parity() -> None:
    """Without official_compat (clean model, same weights) the RTPCA output moves far beyond tolerance."""
    cfg = _config(RTPCA_CASE)
    conv = convert_official("rtpca", RTPCA_CASE / "checkpoint.bin", config=RTPCA_CASE / "config.json")
    clean = RTPCA(**conv.arch_kwargs).eval()
    clean.load_state_dict(conv.state_dict)
    err = np.abs(_run(clean, RTPCA_CASE) - np.load(RTPCA_CASE / "output.npy")).max()
    assert err > 0.05, err
    assert cfg["family"] == "rtpca"


# ---------------------------------------------------------------------------- errors


def _rewrite(src: Path, dst: Path, edit) -> Path:
    ckpt = load_pickled_checkpoint(src)
    state = OrderedDict(ckpt["model_pos"])
    edit(state)
    torch.save({"epoch": 1, "lr": 4e-5, "model_pos": state}, dst)
    return dst


def test_unmappable_keys_are_listed(tmp_path: Path) -> None:
    def add(state):
        state["module.extra_head.weight"] = torch.zeros(3)
        state["module.TTEblocks.0.attn.gate.weight"] = torch.zeros(3)

    bad = _rewrite(RTPCA_CASE / "checkpoint.bin", tmp_path / "extra.bin", add)
    with pytest.raises(ValueError, match=r"2 official rtpca keys cannot be mapped: .*extra_head\.weight.*attn\.gate"):
        posezoo.from_official("rtpca", bad)


def test_missing_keys_are_listed(tmp_path: Path) -> None:
    bad = _rewrite(
        MIXSTE_CASE / "checkpoint.bin", tmp_path / "missing.bin", lambda s: s.pop("module.TTEblocks.1.mlp.fc2.bias")
    )
    with pytest.raises(WeightsError, match=r"missing keys \(1\): temporal_blocks\.1\.mlp\.fc2\.bias"):
        posezoo.from_official("mixste", bad)


def test_half_of_a_split_qkv_is_an_error(tmp_path: Path) -> None:
    bad = _rewrite(
        RTPCA_CASE / "checkpoint.bin", tmp_path / "noq.bin", lambda s: s.pop("module.STEblocks.1.attn.q.bias")
    )
    with pytest.raises(ValueError, match=r"spatial_blocks\.1\.attn\.qkv\.bias \(only attn\.kv present\)"):
        posezoo.from_official("rtpca", bad)


def test_config_must_match_the_checkpoint() -> None:
    kwargs = _config(MIXSTE_CASE)["constructor_kwargs"]
    with pytest.raises(ValueError, match=r"embed_dim_ratio=64 but the checkpoint has 32"):
        posezoo.from_official("mixste", MIXSTE_CASE / "checkpoint.bin", config={**kwargs, "embed_dim_ratio": 64})
    with pytest.raises(ValueError, match=r"mlp_ratio=4.0 gives hidden width 128"):
        posezoo.from_official("mixste", MIXSTE_CASE / "checkpoint.bin", config={**kwargs, "mlp_ratio": 4.0})
    with pytest.raises(ValueError, match="unknown official constructor arguments"):
        posezoo.from_official("mixste", MIXSTE_CASE / "checkpoint.bin", config={"frames": 27})
    with pytest.raises(ValueError, match="qk_scale"):
        posezoo.from_official("mixste", MIXSTE_CASE / "checkpoint.bin", config={"qk_scale": 0.5})
    with pytest.raises(ValueError, match="not divisible by num_heads=5"):
        posezoo.from_official("mixste", MIXSTE_CASE / "checkpoint.bin", config={"num_heads": 5})


def test_wrong_family_joint_order_and_file_content(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"holds a MixSTE .* not a rtpca one"):
        posezoo.from_official("rtpca", MIXSTE_CASE / "checkpoint.bin")
    with pytest.raises(ValueError, match=r"holds a RTPCA .* not a mixste one"):
        posezoo.from_official("mixste", RTPCA_CASE / "checkpoint.bin")
    with pytest.raises(ValueError, match="joint_order must be one of"):
        posezoo.from_official("mixste", MIXSTE_CASE / "checkpoint.bin", joint_order="coco")
    torch.save({"epoch": 1, "net": {"w": torch.zeros(1)}}, tmp_path / "other.bin")
    with pytest.raises(ValueError, match=r"'model_pos' state dict, found top-level keys \['epoch', 'net'\]"):
        posezoo.from_official("mixste", tmp_path / "other.bin")


# ------------------------------------------------- other sizes, written in the official format


#: official names of the TPCA tensors of a temporal block (the official spatial blocks hold unused twins)
_TEMPORAL_TPCA = re.compile(r"^TTEblocks\.\d+\.attn\.(norm|up|upnorm)\d+\.")


def _official_state_dict(model: torch.nn.Module, family: str, seed: int) -> OrderedDict[str, torch.Tensor]:
    """Write a posezoo model in the official key layout (the benchmarks' inverse of the converter),
    adding the official RTPCA's never-used spatial-block TPCA tensors with random values."""
    gen = torch.Generator().manual_seed(seed)
    out: OrderedDict[str, torch.Tensor] = OrderedDict()
    for name, value in _REFERENCE.to_official_ste(model, family).items():
        if _TEMPORAL_TPCA.match(name):
            spatial = name.replace("TTEblocks.", "STEblocks.")
            out[spatial] = torch.randn(value.shape, generator=gen)  # unused by the official forward
        out[name] = value.clone()
    return out


@pytest.mark.parametrize(
    "family, kwargs, batch",
    [
        ("rtpca", dict(num_frames=243, dim=16, depth=2, num_heads=4, mlp_ratio=3.0), 3),
        ("rtpca", dict(num_frames=243, dim=48, depth=4, num_heads=8, mlp_ratio=2.0), 1),
        ("mixste", dict(num_frames=9, dim=24, depth=4, num_heads=8, mlp_ratio=2.0, num_joints=15), 4),
        ("mixste", dict(num_frames=81, dim=40, depth=1, num_heads=4, mlp_ratio=2.0), 2),
    ],
)
def test_other_sizes_in_the_official_format_convert_exactly(
    family: str, kwargs: dict, batch: int, tmp_path: Path
) -> None:
    torch.manual_seed(0)
    cls = RTPCA if family == "rtpca" else MixSTE
    extra = {"xlr_memory_len": 30} if family == "rtpca" else {}  # the official memory length is hard-coded
    source = cls(**kwargs, **extra, official_compat=True).eval()
    with torch.no_grad():
        for p in source.parameters():
            p.add_(0.02 * torch.randn_like(p))
    state = OrderedDict(("module." + k, v) for k, v in _official_state_dict(source, family, seed=1).items())
    path = tmp_path / "best_epoch.bin"
    torch.save(
        {
            "epoch": 7,
            "lr": 4e-5,
            "random_state": np.random.RandomState(0),
            "optimizer": {"state": {}, "param_groups": [{"lr": 4e-5, "weight_decay": 0.1}]},
            "model_pos": state,
        },
        path,
    )
    config = {"num_heads": kwargs["num_heads"]} if kwargs["num_heads"] != 8 else None
    model = posezoo.from_official(family, path, config=config)
    assert model.init_kwargs == source.init_kwargs
    assert model.pretrained_cfg["epoch"] == 7
    if family == "rtpca":
        assert len(model.pretrained_cfg["dropped_official_keys"]) == 20 * kwargs["depth"]
    x = torch.rand(batch, kwargs["num_frames"], kwargs.get("num_joints", 17), 2) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(model(x), source(x), atol=1e-6, rtol=1e-6)
