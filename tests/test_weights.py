"""Weights: save/load, strict key checking, sha256 verification, offline Hub cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

import posezoo
from posezoo.models import WeightsError, WeightsMeta, load_state_dict_checked, register_model
from posezoo.models._registry import _unregister
from posezoo.models._weights import sha256_file

from .conftest import TinyLifter

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _make_hub_cache(cache: Path, repo: str, files: dict[str, Path]) -> Path:
    """Lay out ``cache`` as huggingface_hub does: refs/main -> snapshots/<commit>/<files>."""
    org, name = repo.split("/")
    root = cache / f"models--{org}--{name}"
    (root / "refs").mkdir(parents=True)
    (root / "refs" / "main").write_text(COMMIT)
    snap = root / "snapshots" / COMMIT
    snap.mkdir(parents=True)
    for fname, src in files.items():
        (snap / fname).write_bytes(src.read_bytes())
    return snap


def test_save_pretrained_layout_and_round_trip(tiny_name: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = posezoo.create_model(tiny_name, num_frames=6).eval()
    out = posezoo.save_pretrained(model, tmp_path / "ckpt")
    config = json.loads((out / "config.json").read_text())
    assert config["architecture"] == tiny_name
    assert config["config"] == {"num_frames": 6, "num_joints": 17, "dim": 8, "in_channels": 2}
    x = torch.randn(2, 6, 17, 2)
    for source in (out, out / "model.safetensors", out / "config.json"):
        loaded = posezoo.from_pretrained(source)
        assert not loaded.training
        torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)
        assert loaded.pretrained_cfg["source"] == str(source)


def test_strict_loading_lists_offending_keys(tiny_name: str) -> None:
    model = posezoo.create_model(tiny_name)
    sd = model.state_dict()
    bad = dict(sd)
    bad.pop("head.bias")
    bad["extra.weight"] = torch.zeros(1)
    bad["embed.weight"] = torch.zeros(3, 3)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(WeightsError) as err:
        load_state_dict_checked(model, bad)
    msg = str(err.value)
    assert "missing keys (1): head.bias" in msg
    assert "unexpected keys (1): extra.weight" in msg
    assert "embed.weight (file (3, 3) vs model (8, 2))" in msg
    for k, v in model.state_dict().items():  # nothing was loaded
        assert torch.equal(v, before[k])
    result = load_state_dict_checked(model, bad, strict=False)
    assert result.missing_keys == ["head.bias"]
    assert result.unexpected_keys == ["extra.weight"]
    assert [k for k, _, _ in result.mismatched_keys] == ["embed.weight"]


def test_long_key_lists_are_truncated(tiny_name: str) -> None:
    model = posezoo.create_model(tiny_name)
    junk = {f"junk.{i}": torch.zeros(1) for i in range(25)}
    with pytest.raises(WeightsError, match=r"unexpected keys \(25\): .*\(\+15 more\)"):
        load_state_dict_checked(model, {**model.state_dict(), **junk})


def test_create_model_from_local_safetensors(tiny_name: str, tmp_path: Path) -> None:
    src = posezoo.create_model(tiny_name)
    save_file(src.state_dict(), str(tmp_path / "w.safetensors"))
    model = posezoo.create_model(tiny_name, pretrained=tmp_path / "w.safetensors")
    for k, v in src.state_dict().items():
        assert torch.equal(model.state_dict()[k], v)
    assert model.pretrained_cfg["source"] == str(tmp_path / "w.safetensors")
    with pytest.raises(WeightsError, match="shape-mismatched"):
        posezoo.create_model(tiny_name, pretrained=tmp_path / "w.safetensors", num_frames=9)
    (tmp_path / "w.txt").write_text("x")
    with pytest.raises(ValueError, match="not a .safetensors file"):
        posezoo.create_model(tiny_name, pretrained=tmp_path / "w.txt")


def test_hub_loading_offline_from_local_cache(tiny_name: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    torch.manual_seed(1)
    model = posezoo.create_model(tiny_name).eval()
    saved = posezoo.save_pretrained(model, tmp_path / "saved")
    cache = tmp_path / "hub"
    _make_hub_cache(
        cache,
        "posezoo-test/tiny",
        {"config.json": saved / "config.json", "model.safetensors": saved / "model.safetensors"},
    )
    loaded = posezoo.from_pretrained("hf-hub:posezoo-test/tiny", cache_dir=cache)
    x = torch.randn(1, 5, 17, 2)
    torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)
    assert loaded.pretrained_cfg["source"] == "hf-hub:posezoo-test/tiny"
    again = posezoo.create_model(tiny_name, pretrained="hf-hub:posezoo-test/tiny", cache_dir=cache)
    torch.testing.assert_close(again.eval()(x), model(x), rtol=0, atol=0)


def test_hub_missing_file_says_how_to_get_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match="huggingface-cli download posezoo-test/absent"):
        posezoo.from_pretrained("hf-hub:posezoo-test/absent", cache_dir=tmp_path)
    with pytest.raises(ValueError, match="hf-hub:org/repo"):
        posezoo.from_pretrained("hf-hub:no-slash")


def test_registered_weight_sha256_is_verified(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    src = TinyLifter()
    file = tmp_path / "model.safetensors"
    save_file(src.state_dict(), str(file))
    cache = tmp_path / "hub"
    _make_hub_cache(cache, "posezoo-test/tagged", {"model.safetensors": file})
    good = WeightsMeta(
        tag="good",
        source="hf-hub:posezoo-test/tagged",
        sha256=sha256_file(file),
        license="Apache-2.0",
        training_data="none (test)",
        metrics={"mpjpe_mm": 1.0},
    )
    corrupt = WeightsMeta(
        tag="corrupt",
        source="hf-hub:posezoo-test/tagged",
        sha256="0" * 64,
        license="Apache-2.0",
        training_data="none (test)",
    )

    def _tagged_tiny() -> dict:
        return {}

    register_model(TinyLifter, family="_test", paper="x", weights=[good, corrupt])(_tagged_tiny)
    try:
        assert "_tagged_tiny" in posezoo.list_models(pretrained=True)
        model = posezoo.create_model("_tagged_tiny", pretrained=True, cache_dir=cache)
        assert model.pretrained_cfg["tag"] == "good"
        assert model.pretrained_cfg["metrics"] == {"mpjpe_mm": 1.0}
        assert model.pretrained_cfg["sha256"] == sha256_file(file)
        for k, v in src.state_dict().items():
            assert torch.equal(model.state_dict()[k], v)
        with pytest.raises(WeightsError, match="sha256 mismatch"):
            posezoo.create_model("_tagged_tiny", pretrained="corrupt", cache_dir=cache)
        assert posezoo.model_info("_tagged_tiny")["weights"]["good"]["license"] == "Apache-2.0"
    finally:
        _unregister("_tagged_tiny")


def test_save_pretrained_names_the_closest_variant(tmp_path: Path) -> None:
    """A model built outside the registry (e.g. by from_official) is saved under its closest variant."""
    model = posezoo.models.mixste.MixSTE(**{**posezoo.models.get_model_entry("mixste_small").config})
    out = posezoo.save_pretrained(model, tmp_path / "m")
    assert json.loads((out / "config.json").read_text())["architecture"] == "mixste_small"
    assert type(posezoo.from_pretrained(out)) is type(model)
