"""Input handling shared by :mod:`posezoo.losses` and :mod:`posezoo.metrics`.

Both accept numpy arrays or torch tensors of poses ``(..., J, C)`` and return
results of the same kind. Half and bfloat16 inputs are computed in float32;
float32 and float64 inputs keep their precision.
"""

from __future__ import annotations

from typing import Any, Optional, Union

import numpy as np
import torch

ArrayLike = Union[np.ndarray, torch.Tensor]

REDUCTIONS = ("mean", "sum", "none")


def check_reduction(reduction: Any) -> str:
    """Return ``reduction`` if it is ``"mean"``, ``"sum"`` or ``"none"``; else raise ``ValueError``."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {', '.join(map(repr, REDUCTIONS))}, got {reduction!r}")
    return reduction


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """float16/bfloat16 -> float32; float32/float64 unchanged."""
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


def as_tensor(x: Any, name: str) -> tuple[torch.Tensor, bool]:
    """Convert a numpy array or tensor to a floating tensor; also return whether it was numpy.

    ``TypeError`` for other kinds and non-floating dtypes, ``ValueError`` for empty inputs.
    """
    if isinstance(x, torch.Tensor):
        tensor, was_numpy = x, False
    elif isinstance(x, np.ndarray):
        if x.dtype.kind != "f":  # also refuses object/string arrays before torch sees them
            raise TypeError(f"{name} must have a floating-point dtype, got {x.dtype}")
        tensor, was_numpy = torch.from_numpy(np.ascontiguousarray(x)), True
    else:
        raise TypeError(f"{name} must be a numpy array or torch tensor, got {type(x).__name__}")
    if not torch.is_floating_point(tensor):
        raise TypeError(f"{name} must have a floating-point dtype, got {tensor.dtype}")
    if tensor.numel() == 0:  # a mean over nothing is NaN: refuse instead of returning it
        raise ValueError(f"{name} is empty (shape {tuple(tensor.shape)}); expected at least one pose")
    return tensor.to(compute_dtype(tensor.dtype)), was_numpy


def as_pair(
    pred: Any, target: Any, *, min_ndim: int = 2, names: tuple[str, str] = ("pred", "target")
) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """Validate a prediction/target pair of poses and convert both to tensors of one dtype.

    Raises ``TypeError`` for non-arrays, mixed numpy/torch, non-float dtypes;
    ``ValueError`` for shape mismatch, too few dims, or different devices.
    Returns ``(pred, target, was_numpy)``.
    """
    p, p_np = as_tensor(pred, names[0])
    t, t_np = as_tensor(target, names[1])
    if p_np != t_np:
        kinds = ("numpy array" if p_np else "torch tensor", "numpy array" if t_np else "torch tensor")
        raise TypeError(f"{names[0]} and {names[1]} must be the same kind, got {kinds[0]} and {kinds[1]}")
    if p.shape != t.shape:
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same shape, got {tuple(p.shape)} and {tuple(t.shape)}"
        )
    if p.ndim < min_ndim:
        layout = "(..., T, J, C)" if min_ndim >= 3 else "(..., J, C)"
        raise ValueError(f"{names[0]} must have shape {layout}, got {tuple(p.shape)}")
    if p.device != t.device:
        raise ValueError(f"{names[0]} and {names[1]} are on different devices: {p.device} and {t.device}")
    dtype = torch.promote_types(p.dtype, t.dtype)
    return p.to(dtype), t.to(dtype), p_np


def check_frames(x: torch.Tensor, min_frames: int, name: str = "pred") -> None:
    """Require ``(..., T, J, C)`` with ``T >= min_frames``."""
    if x.ndim < 3:
        raise ValueError(f"{name} must have shape (..., T, J, C), got {tuple(x.shape)}")
    if x.shape[-3] < min_frames:
        raise ValueError(f"{name} needs at least {min_frames} frames on dim -3, got shape {tuple(x.shape)}")


def check_finite(*named: tuple[str, torch.Tensor]) -> None:
    """Raise ``ValueError`` naming the first tensor that holds NaN or inf.

    Skipped while ``torch.compile`` traces (the check is data-dependent).
    """
    if torch.compiler.is_compiling():
        return
    tensors = [t for _, t in named]
    if bool(torch.stack([torch.isfinite(t).all() for t in tensors]).all()):
        return
    for name, t in named:
        if not bool(torch.isfinite(t).all()):
            raise ValueError(f"{name} contains NaN or inf values")


def to_output(x: torch.Tensor, was_numpy: bool) -> ArrayLike:
    """Return ``x`` as numpy (a numpy scalar for 0-d results) when the inputs were numpy."""
    if not was_numpy:
        return x
    arr = x.detach().cpu().numpy()
    return arr[()] if arr.ndim == 0 else arr


def normalise_index(index: Optional[int], size: int, name: str) -> Optional[int]:
    """Validate an optional joint index against ``size`` joints (negative indices allowed)."""
    if index is None:
        return None
    if isinstance(index, bool) or not isinstance(index, int):
        raise TypeError(f"{name} must be an int joint index or None, got {type(index).__name__}")
    if not -size <= index < size:
        raise ValueError(f"{name}={index} is out of range for {size} joints")
    return index % size
