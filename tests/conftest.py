"""Test fixtures: the repository's fixture folder, and a tiny model that exercises the registry machinery."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
import torch
from torch import nn

from posezoo.models import PoseModel, register_model
from posezoo.models._registry import _MODEL_REGISTRY

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def load_official_reference() -> ModuleType:
    """``benchmarks/official_reference.py`` (the official forward passes re-run, and the inverse key
    mappings posezoo -> official layout) as a module."""
    spec = importlib.util.spec_from_file_location(
        "official_reference", REPO_ROOT / "benchmarks" / "official_reference.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


torch.set_num_threads(min(2, torch.get_num_threads()))


class TinyLifter(PoseModel):
    """Test-only lifting model: per-frame MLP plus a temporal mixing layer."""

    def __init__(self, num_frames: int = 5, num_joints: int = 17, dim: int = 8, in_channels: int = 2):
        super().__init__()
        self.num_frames, self.num_joints, self.in_channels = num_frames, num_joints, in_channels
        self.embed = nn.Linear(in_channels, dim)
        self.time_mix = nn.Linear(num_frames, num_frames)
        self.head = nn.Linear(dim, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.embed(x))  # (B, T, J, D)
        h = self.time_mix(h.transpose(1, -1)).transpose(1, -1)
        return self.head(h)


def _test_tiny_lifter() -> dict:
    return dict(num_frames=5, num_joints=17, dim=8)


TINY_NAME = _test_tiny_lifter.__name__
if TINY_NAME not in _MODEL_REGISTRY:
    register_model(TinyLifter, family="_test", paper="(test-only model)")(_test_tiny_lifter)


@pytest.fixture
def tiny_name() -> str:
    return TINY_NAME
