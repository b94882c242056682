"""Official pickles load with weights_only=True; foreign globals become inert, never executed."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from posezoo.convert import load_pickled_checkpoint, strip_prefix


class _Exploit:
    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


def test_numpy_random_state_is_replaced_by_placeholder(tmp_path: Path) -> None:
    weights = {"module.head.weight": torch.randn(3, 4)}
    torch.save({"epoch": 3, "random_state": np.random.RandomState(1234), "model_pos": weights}, tmp_path / "ckpt.bin")
    with pytest.raises(Exception):
        torch.load(tmp_path / "ckpt.bin", weights_only=True)  # what the converter must work around
    ckpt = load_pickled_checkpoint(tmp_path / "ckpt.bin")
    assert ckpt["epoch"] == 3
    assert not isinstance(ckpt["random_state"], np.random.RandomState)
    assert torch.equal(ckpt["model_pos"]["module.head.weight"], weights["module.head.weight"])
    assert list(strip_prefix(ckpt["model_pos"], "module.")) == ["head.weight"]


class _Custom:
    def __init__(self) -> None:
        self.value = 7


def test_unknown_class_becomes_inert(tmp_path: Path) -> None:
    torch.save({"extra": _Custom(), "state_dict": {"w": torch.ones(2)}}, tmp_path / "c.pth")
    ckpt = load_pickled_checkpoint(tmp_path / "c.pth")
    assert not isinstance(ckpt["extra"], _Custom) and not hasattr(ckpt["extra"], "value")
    assert torch.equal(ckpt["state_dict"]["w"], torch.ones(2))


def test_pickled_code_is_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    torch.save({"payload": _Exploit(marker), "state_dict": {"w": torch.ones(2)}}, tmp_path / "evil.pth")
    with pytest.raises(pickle.UnpicklingError, match="refusing to load"):
        load_pickled_checkpoint(tmp_path / "evil.pth")
    assert not marker.exists()


def test_non_dict_checkpoint_is_rejected(tmp_path: Path) -> None:
    torch.save(torch.zeros(2), tmp_path / "t.pt")
    with pytest.raises(ValueError, match="expected a pickled dict"):
        load_pickled_checkpoint(tmp_path / "t.pt")
