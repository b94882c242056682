"""Shared test suite run over every registered model (timm's tests/test_models.py style).

It grows automatically: each family's variants are picked up from the registry.
Variants above ``FAST_PARAM_LIMIT`` parameters (the paper-size models) run
their forward/backward checks only under ``-m slow``; their parameter count
is still checked in the default run.
"""

from __future__ import annotations

import json

import pytest
import torch

import posezoo
from posezoo.models import count_parameters, get_model_entry
from posezoo.utils import example_input

FAST_PARAM_LIMIT = 3_000_000
ALL_MODELS = posezoo.list_models()


def _param(name: str):
    entry = get_model_entry(name)
    n = count_parameters(entry.model_cls(**entry.config))
    marks = [pytest.mark.slow] if n > FAST_PARAM_LIMIT else []
    return pytest.param(name, marks=marks, id=name)


MODEL_PARAMS = [_param(n) for n in ALL_MODELS]


def _outputs(out) -> list[torch.Tensor]:
    """Flatten a model output (tensor, tuple or dataclass of tensors) into a list of tensors."""
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _outputs(o)]
    if hasattr(out, "__dataclass_fields__"):
        return [t for f in out.__dataclass_fields__ for t in _outputs(getattr(out, f))]
    if out is None:
        return []
    raise TypeError(f"unexpected output type {type(out).__name__}")


@pytest.mark.parametrize("name", MODEL_PARAMS)
def test_forward_shape_and_finite(name: str) -> None:
    torch.manual_seed(0)
    model = posezoo.create_model(name).eval()
    inputs = example_input(model, batch_size=2)
    with torch.no_grad():
        outs = _outputs(model(*inputs))
    assert outs, "model returned no tensor"
    for out in outs:
        assert out.shape[0] == 2
        assert torch.isfinite(out).all()
    main = outs[0]
    frames = getattr(model, "num_output_frames", None) or getattr(model, "num_frames", None)
    if frames is not None and main.ndim == 4:
        assert main.shape[1] == frames
        assert main.shape[2] == getattr(model, "num_joints", main.shape[2])


@pytest.mark.parametrize("name", MODEL_PARAMS)
def test_backward_reaches_every_parameter(name: str) -> None:
    torch.manual_seed(0)
    model = posezoo.create_model(name).train()
    inputs = example_input(model, batch_size=2)
    loss = sum(o.float().square().mean() for o in _outputs(model(*inputs)))
    loss.backward()
    no_grad = [n for n, p in model.named_parameters() if p.requires_grad and (p.grad is None)]
    assert not no_grad, f"parameters without gradient: {no_grad[:10]}"
    bad = [n for n, p in model.named_parameters() if p.grad is not None and not torch.isfinite(p.grad).all()]
    assert not bad, f"non-finite gradients: {bad[:10]}"


@pytest.mark.parametrize("name", MODEL_PARAMS)
def test_save_load_round_trip(name: str, tmp_path) -> None:
    torch.manual_seed(0)
    model = posezoo.create_model(name).eval()
    posezoo.save_pretrained(model, tmp_path / "m")
    loaded = posezoo.from_pretrained(tmp_path / "m")
    assert type(loaded) is type(model)
    assert json.loads(json.dumps(loaded.init_kwargs)) == json.loads(json.dumps(model.init_kwargs))
    inputs = example_input(model, batch_size=1)
    with torch.no_grad():
        for a, b in zip(_outputs(model(*inputs)), _outputs(loaded(*inputs))):
            torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("name", [pytest.param(n, id=n) for n in ALL_MODELS])
def test_model_info_param_count(name: str) -> None:
    info = posezoo.model_info(name)
    model = posezoo.create_model(name)
    assert info["params"] == sum(p.numel() for p in model.parameters())
    assert info["params"] > 0
    assert {"family", "paper", "config", "params", "weights"} <= set(info)
    assert info["config"] == get_model_entry(name).config
    assert model.pretrained_cfg["name"] == name


@pytest.mark.parametrize("name", MODEL_PARAMS)
def test_torch_compile_eager_backend(name: str) -> None:
    torch.manual_seed(0)
    model = posezoo.create_model(name).eval()
    inputs = example_input(model, batch_size=1)
    compiled = torch.compile(model, backend="eager", fullgraph=False)
    with torch.no_grad():
        for a, b in zip(_outputs(model(*inputs)), _outputs(compiled(*inputs))):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
