"""Small helpers to write one function for numpy arrays and torch tensors alike."""

from __future__ import annotations

from typing import Any, Sequence, TypeVar, Union

import numpy as np
import torch

from .._validation import check_real_array

Array = TypeVar("Array", np.ndarray, torch.Tensor)
ArrayLike = Union[np.ndarray, torch.Tensor, float, int, Sequence[float]]

__all__ = [
    "Array",
    "ArrayLike",
    "is_torch",
    "as_like",
    "expand_params",
    "check_array",
    "cross",
    "stack",
    "concat",
    "sqrt",
]


def is_torch(x: Any) -> bool:
    return isinstance(x, torch.Tensor)


def check_array(x: Any, name: str) -> None:
    """A numpy array or tensor of finite real numbers (``TypeError`` / ``ValueError`` otherwise)."""
    check_real_array(name, x, finite=True)


def as_like(value: ArrayLike, like: Array, name: str = "camera parameter") -> Array:
    """``value`` as the kind of ``like``: same library, floating dtype of ``like``, same device.

    Integer ``like`` arrays give float32 (torch) / float64 (numpy) results.
    ``value`` must hold finite real numbers (``TypeError`` / ``ValueError`` otherwise).
    """
    if isinstance(value, (np.ndarray, torch.Tensor)):
        check_real_array(name, value, finite=True)
    else:
        try:
            arr = np.asarray(value)
        except (ValueError, TypeError) as exc:  # ragged nesting
            raise TypeError(
                f"{name} must be a number or an array of numbers, got {type(value).__name__}: {exc}"
            ) from None
        check_real_array(name, arr, finite=True)
    if isinstance(like, torch.Tensor):
        dtype = like.dtype if like.is_floating_point() else torch.float32
        out = (
            value.to(device=like.device, dtype=dtype)
            if isinstance(value, torch.Tensor)
            else torch.as_tensor(np.asarray(value), dtype=dtype, device=like.device)
        )
        if not bool(torch.isfinite(out).all()):  # finite values that overflow the points' precision
            raise ValueError(f"{name} does not fit in {dtype}: values overflow to inf")
        return out
    dtype = like.dtype if np.issubdtype(like.dtype, np.floating) else np.float64
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    with np.errstate(over="ignore"):
        out = np.asarray(value, dtype=dtype)
    if not np.isfinite(out).all():  # finite values that overflow the points' precision
        raise ValueError(f"{name} does not fit in {np.dtype(dtype).name}: values overflow to inf")
    return out


def expand_params(param: Array, points: Union[int, Array], trailing: int = 1) -> Array:
    """Insert singleton axes so that per-camera parameters broadcast against points.

    ``param`` has shape ``(*L, *C)`` with ``trailing = len(C)`` channel axes; its
    leading axes ``L`` must be a prefix of the points' leading axes (``points`` is
    the points array, or just its number of axes). The result has shape
    ``(*L, 1, ..., 1, *C)`` with as many axes as the points.
    """
    points_ndim = points if isinstance(points, int) else points.ndim
    if not isinstance(points, int):
        lead_shape = tuple(param.shape[: max(param.ndim - trailing, 0)])
        for i, size in enumerate(lead_shape[: points.ndim]):
            if size not in (1, points.shape[i]) and points.shape[i] != 1:
                raise ValueError(
                    f"camera parameters of shape {tuple(param.shape)} do not match the points of shape "
                    f"{tuple(points.shape)}: their leading axes {lead_shape} must be a prefix of the points' axes"
                )
    missing = points_ndim - param.ndim
    if missing < 0:
        raise ValueError(
            f"camera parameters of shape {tuple(param.shape)} have more leading axes than the "
            f"points ({points_ndim} axes)"
        )
    lead = param.ndim - trailing
    new_shape = tuple(param.shape[:lead]) + (1,) * missing + tuple(param.shape[lead:])
    return param.reshape(new_shape)


def cross(a: Array, b: Array) -> Array:
    if isinstance(a, torch.Tensor):
        a, b = torch.broadcast_tensors(a, b)
        return torch.linalg.cross(a, b, dim=-1)
    return np.cross(a, b)


def stack(items: list, axis: int = -1) -> Any:
    if isinstance(items[0], torch.Tensor):
        return torch.stack(items, dim=axis)
    return np.stack(items, axis=axis)


def concat(items: list, axis: int = -1) -> Any:
    if isinstance(items[0], torch.Tensor):
        return torch.cat(items, dim=axis)
    return np.concatenate(items, axis=axis)


def sqrt(x: Array) -> Array:
    return torch.sqrt(x) if isinstance(x, torch.Tensor) else np.sqrt(x)
