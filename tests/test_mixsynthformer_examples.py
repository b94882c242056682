"""The MixSynthFormer examples run: attention-in-your-model (fast) and the mocap training run (slow)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_mixsynth_attention_example_trains() -> None:
    losses = _load("mixsynth_attention_in_your_model").main(steps=20)
    assert len(losses) == 20
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.slow
def test_mocap_training_beats_linear_interpolation() -> None:
    """Short CPU run of the H36M variant: MPJPE on held-out performers below linear interpolation."""
    script = _load("train_mixsynthformer_mocap")
    result = script.main(["--steps", "300", "--log-every", "0"])
    mpjpe = result["test_mpjpe_mm"]
    assert result["test_frames"] == 5384
    assert mpjpe["model"] < mpjpe["linear_interp"], mpjpe
