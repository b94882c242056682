"""Registry: listing, lookup errors, create_model overrides, model_info, FLOPs."""

from __future__ import annotations

import subprocess
import sys

import pytest

import posezoo
from posezoo.models import get_model_entry, register_model
from posezoo.models._registry import _unregister

from .conftest import TinyLifter


def test_list_models_pattern_and_pretrained(tiny_name: str) -> None:
    assert tiny_name in posezoo.list_models()
    assert posezoo.list_models("_TEST_tiny*") == [tiny_name]
    assert posezoo.list_models("no_such_model*") == []
    assert tiny_name not in posezoo.list_models(pretrained=True)
    assert posezoo.list_models() == sorted(posezoo.list_models())


def test_unknown_name_lists_close_matches(tiny_name: str) -> None:
    with pytest.raises(ValueError, match="Did you mean: _test_tiny_lifter"):
        posezoo.create_model("_test_tiny_lifterr")
    with pytest.raises(ValueError, match="unknown model"):
        posezoo.model_info("zzzzzzzz")
    with pytest.raises(TypeError):
        get_model_entry(3)  # type: ignore[arg-type]


def test_create_model_overrides_and_cfg(tiny_name: str) -> None:
    model = posezoo.create_model(tiny_name, num_frames=7)
    assert isinstance(model, TinyLifter)
    assert model.num_frames == 7
    assert model.init_kwargs == {"num_frames": 7, "num_joints": 17, "dim": 8, "in_channels": 2}
    cfg = model.pretrained_cfg
    assert cfg["name"] == tiny_name and cfg["tag"] is None and cfg["source"] is None
    assert cfg["input_spec"]["num_frames"] == 7
    with pytest.raises(TypeError, match="invalid constructor arguments"):
        posezoo.create_model(tiny_name, no_such_kwarg=1)


def test_pretrained_true_without_weights_is_an_error(tiny_name: str) -> None:
    with pytest.raises(ValueError, match="no pretrained weights registered"):
        posezoo.create_model(tiny_name, pretrained=True)
    with pytest.raises(ValueError, match="neither a bool, a weight tag"):
        posezoo.create_model(tiny_name, pretrained="not-a-tag-nor-path")


def test_model_info_keys_and_flops(tiny_name: str) -> None:
    info = posezoo.model_info(tiny_name, flops=True)
    expected_params = 2 * 8 + 8 + 5 * 5 + 5 + 8 * 3 + 3
    assert info["params"] == expected_params
    assert info["family"] == "_test" and info["config"]["num_frames"] == 5
    # embed: B*T*J*2*8 MACs, time mix: B*J*8*5*5, head: B*T*J*8*3 (x2 FLOPs per MAC)
    macs = 5 * 17 * 2 * 8 + 17 * 8 * 5 * 5 + 5 * 17 * 8 * 3
    assert info["flops"]["per_clip"] == 2 * macs
    assert info["flops"]["per_output_frame"] == pytest.approx(2 * macs / 5)


def test_register_rejects_duplicates_and_bad_default_tag() -> None:
    def _dup_model() -> dict:
        return {}

    register_model(TinyLifter, family="_test", paper="x")(_dup_model)
    try:
        with pytest.raises(ValueError, match="already registered"):
            register_model(TinyLifter, family="_test", paper="x")(_dup_model)
    finally:
        _unregister("_dup_model")

    def _bad_tag_model() -> dict:
        return {}

    with pytest.raises(ValueError, match="default_tag"):
        register_model(TinyLifter, family="_test", paper="x", default_tag="nope")(_bad_tag_model)


def test_import_is_light() -> None:
    """Importing posezoo must not import timm/huggingface_hub (slow) nor touch the network."""
    code = (
        "import sys, posezoo; posezoo.list_models(); "
        "bad = [m for m in ('timm', 'huggingface_hub', 'matplotlib', 'h5py') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
