"""Small helpers shared across posezoo: FLOP counting and example inputs."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["count_flops", "example_input"]


def example_input(model: nn.Module, batch_size: int = 1, num_frames: int | None = None) -> tuple:
    """A random input tuple that ``model`` accepts.

    Models with several inputs define ``example_inputs(batch_size)``; plain
    lifting models are fed ``(B, T, J, C_in)`` from their ``num_frames``,
    ``num_joints`` and ``in_channels`` attributes.
    """
    maker = getattr(model, "example_inputs", None)
    if callable(maker):
        return tuple(maker(batch_size))
    frames = num_frames or getattr(model, "num_frames", None)
    joints = getattr(model, "num_joints", None)
    channels = getattr(model, "in_channels", None)
    if frames is None or joints is None or channels is None:
        raise ValueError(
            f"{type(model).__name__} defines neither example_inputs() nor num_frames/num_joints/in_channels"
        )
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    return (torch.randn(batch_size, frames, joints, channels, device=device),)


def count_flops(model: nn.Module, *inputs: Any, **kwargs: Any) -> int:
    """Total floating-point operations of one forward call.

    Counted with ``torch.utils.flop_counter.FlopCounterMode``: one
    multiply-add counts as 2 FLOPs (so MACs = FLOPs / 2). Papers in this
    field often report MACs under the name "FLOPs"; compare accordingly.
    Only matmul/conv/attention kernels are counted (norms, activations and
    pooling are negligible and not counted).
    """
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(*inputs, **kwargs)
    return int(counter.get_total_flops())
