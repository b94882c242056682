"""Two-layer feed-forward network used inside transformer blocks."""

from __future__ import annotations

from typing import Callable, Optional, Union

import torch
from torch import nn

__all__ = ["Mlp", "get_activation"]

_ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "gelu": nn.GELU,  # exact (erf) form, as every official implementation here
    "gelu_tanh": lambda: nn.GELU(approximate="tanh"),
    "relu": nn.ReLU,
    "silu": nn.SiLU,
}


def get_activation(act: Union[str, type, Callable[[], nn.Module]]) -> nn.Module:
    """Instantiate an activation from a name (gelu, gelu_tanh, relu, silu) or a class."""
    if isinstance(act, str):
        try:
            return _ACTIVATIONS[act.lower()]()
        except KeyError:
            raise ValueError(f"unknown activation {act!r}; known: {', '.join(_ACTIVATIONS)}") from None
    return act()


class Mlp(nn.Module):
    """``fc2(drop(act(fc1(x))))`` on the last axis: ``(..., C) -> (..., C_out)``.

    Args:
        in_features: C.
        hidden_features: hidden width (default C).
        out_features: output width (default C).
        act_layer: activation name or class (default exact GELU).
        drop: dropout after the activation and after ``fc2``.
    """

    def __init__(
        self,
        in_features: int,
        hidden_features: Optional[int] = None,
        out_features: Optional[int] = None,
        act_layer: Union[str, type] = "gelu",
        drop: float = 0.0,
    ) -> None:
        super().__init__()
        hidden_features = hidden_features or in_features
        out_features = out_features or in_features
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = get_activation(act_layer)
        self.fc2 = nn.Linear(hidden_features, out_features)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))
