"""The benchmarks' re-run of the official forward passes (benchmarks/official_reference.py) reproduces
the official outputs of the parity fixtures, so the speed ratios in benchmarks/README.md compare
posezoo with the same computation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import posezoo
from posezoo.convert import load_pickled_checkpoint, strip_prefix

from .conftest import FIXTURES, load_official_reference

ref = load_official_reference()


@pytest.mark.parametrize("family", ["rtpca", "mixste"])
def test_ste_reference_reproduces_the_official_fixture(family: str) -> None:
    case = next((FIXTURES / family).glob("*/config.json")).parent
    heads = json.loads((case / "config.json").read_text())["constructor_kwargs"]["num_heads"]
    sd = strip_prefix(load_pickled_checkpoint(case / "checkpoint.bin")["model_pos"], "module.")
    x = torch.from_numpy(np.load(case / "input.npy"))
    with torch.no_grad():
        out = ref.ste_official_forward(sd, x, heads, family)
    np.testing.assert_allclose(out.numpy(), np.load(case / "output.npy"), atol=5e-6, rtol=1e-5)
    model = posezoo.from_official(family, case / "checkpoint.bin")  # and the inverse key mapping round-trips
    mapped = ref.to_official_ste(model, family)
    assert set(mapped) <= set(sd)
    for key, value in mapped.items():
        torch.testing.assert_close(value, sd[key], atol=0, rtol=0)


def test_mixsynthformer_reference_reproduces_the_official_fixture() -> None:
    case = next((FIXTURES / "mixsynthformer").glob("*/config.json")).parent
    cfg = json.loads((case / "config.json").read_text())["constructor_kwargs"]
    sd = load_pickled_checkpoint(case / "checkpoint.pth.tar")["state_dict"]
    x = torch.from_numpy(np.load(case / "input.npy"))
    with torch.no_grad():
        out = ref.msf_official_forward(sd, x, cfg["sample_interval"])
    np.testing.assert_allclose(out.numpy(), np.load(case / "output.npy"), atol=2e-5, rtol=1e-5)
    model = posezoo.from_official("mixsynthformer", case / "checkpoint.pth.tar")
    mapped = ref.to_official_msf(model)
    assert set(mapped) <= set(sd)
    for key, value in mapped.items():
        torch.testing.assert_close(value, sd[key], atol=0, rtol=0)
