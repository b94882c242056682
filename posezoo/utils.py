"""Small helpers shared across posezoo: FLOP counting and example inputs."""

from __future__ import annotations

import math
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


# Fused scaled-dot-product-attention kernels that ``torch.utils.flop_counter`` sees as single ops.
# Depending on the torch version some of them have no formula there (torch 2.14 counts 0 for the CPU
# flash kernel), so posezoo registers its own for all of them. The math fallback runs as two batched
# matmuls, which the counter counts with the same numbers, so the total does not depend on the backend.
_SDPA_OPS = (
    "_scaled_dot_product_flash_attention_for_cpu",
    "_scaled_dot_product_flash_attention",
    "_scaled_dot_product_efficient_attention",
    "_scaled_dot_product_cudnn_attention",
    "_scaled_dot_product_fused_attention_overrideable",
)


def _sdpa_flops(query_shape, key_shape, value_shape, *args: Any, out_shape: Any = None, **kwargs: Any) -> int:
    """``q k^T`` plus ``attn v`` of one SDPA call: ``2 * B*H * Lq * Lk * (d + dv)`` FLOPs.

    Shapes are ``(B, H, Lq, d)``, ``(B, H', Lk, d)``, ``(B, H', Lk, dv)`` (``H' < H`` with grouped
    keys: every query head still attends over all ``Lk`` keys). Softmax, scaling and masking are not
    counted, as for the other kernels; a causal mask is counted as full attention.
    """
    *batch, lq, d = query_shape
    lk, dv = key_shape[-2], value_shape[-1]
    return 2 * math.prod(batch) * lq * lk * (d + dv)


def _sdpa_flop_formulas() -> dict[Any, Any]:
    """``{aten op packet: formula}`` for every fused SDPA op this torch has."""
    formulas = {}
    for name in _SDPA_OPS:
        try:
            packet = getattr(torch.ops.aten, name)
        except (AttributeError, RuntimeError):  # not in this torch version
            continue
        formulas[packet] = _sdpa_flops
    return formulas


def count_flops(model: nn.Module, *inputs: Any, **kwargs: Any) -> int:
    """Total floating-point operations of one forward call.

    Counted with ``torch.utils.flop_counter.FlopCounterMode``: one
    multiply-add counts as 2 FLOPs (so MACs = FLOPs / 2). Papers in this
    field often report MACs under the name "FLOPs"; compare accordingly.
    Only matmul/conv/attention kernels are counted (norms, activations,
    softmax and pooling are negligible and not counted). Attention through
    ``F.scaled_dot_product_attention`` is counted by posezoo's own formula,
    ``2 * B*H * Lq * Lk * (d + dv)`` per call (``q k^T`` and ``attn v``), whichever
    kernel runs, so counts agree across torch versions and backends.
    """
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False, custom_mapping=_sdpa_flop_formulas())
    with torch.no_grad(), counter:
        model(*inputs, **kwargs)
    return int(counter.get_total_flops())
