"""Helpers shared by :func:`~posezoo.inference.lift` and :func:`~posezoo.inference.refine`:
input checks, missing-keypoint filling, model/device resolution, the inference context."""

from __future__ import annotations

import contextlib
from typing import Any, Iterator, Optional, Sequence, Union

import numpy as np
import torch
from torch import nn

from .._validation import check_device, check_float

ArrayOrTensor = Union[np.ndarray, torch.Tensor]
ModelArg = Union[str, nn.Module]


def _check_sequence(x: Any, name: str) -> None:
    if not isinstance(x, (np.ndarray, torch.Tensor)):
        raise TypeError(f"{name} must be a numpy array or torch tensor, got {type(x).__name__}")
    dtype_ok = (
        (x.is_floating_point() or not (x.is_complex() or x.dtype == torch.bool))
        if isinstance(x, torch.Tensor)
        else (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer))
    )
    if not dtype_ok:
        raise TypeError(f"{name} must hold real numbers, got dtype {x.dtype}")


def _to_cpu64(x: ArrayOrTensor) -> torch.Tensor:
    if isinstance(x, np.ndarray):
        return torch.from_numpy(np.asarray(x, dtype=np.float64))
    return x.detach().to("cpu", torch.float64)


def _restore_kind(out: torch.Tensor, like: ArrayOrTensor) -> ArrayOrTensor:
    """``out`` as the kind (numpy / torch), device and floating dtype of the input ``like``."""
    if isinstance(like, torch.Tensor):
        dtype = like.dtype if like.is_floating_point() else torch.float32
        return out.to(device=like.device, dtype=dtype)
    dtype = like.dtype if np.issubdtype(like.dtype, np.floating) else np.float32
    return out.detach().to("cpu", torch.float64).numpy().astype(dtype)


def _missing_mask(
    x: torch.Tensor, confidence: Optional[ArrayOrTensor], min_confidence: float, name: str
) -> torch.Tensor:
    """``(T, J)`` bool mask of keypoints to treat as missing; validates finiteness."""
    min_confidence = check_float("min_confidence", min_confidence)
    t, j = x.shape[:2]
    if confidence is None:
        missing = torch.zeros(t, j, dtype=torch.bool)
    else:
        _check_sequence(confidence, "confidence")
        conf = _to_cpu64(confidence)
        if tuple(conf.shape) != (t, j):
            raise ValueError(f"confidence must have shape (T, J) = {(t, j)}, got {tuple(conf.shape)}")
        if not torch.isfinite(conf).all():
            raise ValueError("confidence holds non-finite values")
        missing = conf <= min_confidence
    bad = ~torch.isfinite(x).all(-1) & ~missing
    if bad.any():
        frame, joint = (int(v) for v in bad.nonzero()[0])
        raise ValueError(
            f"{name} holds {int(bad.sum())} non-finite keypoints (first at frame {frame}, joint {joint}); "
            "pass a confidence array with 0 there to mark them missing"
        )
    return missing


def _fill_missing(x: torch.Tensor, missing: torch.Tensor, joint_names: Sequence[str]) -> torch.Tensor:
    """Replace missing keypoints by linear interpolation over time (edges held) per joint."""
    if not missing.any():
        return x
    xn = x.numpy().copy()
    miss = missing.numpy()
    frames = np.arange(xn.shape[0])
    for j in np.flatnonzero(miss.any(0)):
        ok = ~miss[:, j]
        if not ok.any():
            name = joint_names[j] if j < len(joint_names) else str(j)
            raise ValueError(f"joint {j} ({name}) is missing in every frame; cannot fill it in")
        for c in range(xn.shape[-1]):
            xn[:, j, c] = np.interp(frames, frames[ok], xn[ok, j, c])
    return torch.from_numpy(xn)


def _load_model(model: ModelArg, pretrained: Union[bool, str]) -> tuple[nn.Module, bool]:
    if isinstance(model, str):
        from ..models import create_model

        return create_model(model, pretrained=pretrained), True
    if isinstance(model, nn.Module):
        return model, False
    raise TypeError(f"model must be a registered model name or an nn.Module, got {type(model).__name__}")


def _module_device(net: nn.Module) -> Optional[torch.device]:
    for p in net.parameters():
        return p.device
    for b in net.buffers():
        return b.device
    return None


def _resolve_device(
    device: Union[str, torch.device, None], net: nn.Module, from_name: bool, inputs: Sequence[ArrayOrTensor]
) -> torch.device:
    if device is not None:
        return torch.device(device)
    own = _module_device(net)
    if not from_name and own is not None:
        return own
    for x in inputs:
        if isinstance(x, torch.Tensor):
            return x.device
    return own or torch.device("cpu")


def _checked_device(
    device: Union[str, torch.device, None], net: nn.Module, from_name: bool, inputs: Sequence[ArrayOrTensor]
) -> torch.device:
    """:func:`_resolve_device`, validated before anything moves: an unknown, unavailable or ``meta``
    device raises ``ValueError`` (``TypeError`` for a non-device) and the model stays where it is."""
    if device is not None:
        check_device(device)
    return check_device(_resolve_device(device, net, from_name, inputs), "device (the model's)")


@contextlib.contextmanager
def _on_device(net: nn.Module, dev: torch.device) -> Iterator[None]:
    """Move ``net`` to ``dev`` for the call; if the call fails, move it back (the caller's module is
    never left changed by a failed call). On success it stays on ``dev`` (documented by lift/refine)."""
    original = _module_device(net)
    moved = original is not None and original != dev
    if moved:
        net.to(dev)
    try:
        yield
    except BaseException:
        if moved:
            net.to(original)
        raise


def _model_dtype(net: nn.Module) -> torch.dtype:
    for p in net.parameters():
        if p.is_floating_point():
            return p.dtype
    return torch.float32


@contextlib.contextmanager
def _inference(net: nn.Module, device: torch.device, amp: Union[bool, torch.dtype]) -> Iterator[None]:
    """eval() (restored afterwards), inference_mode, autocast on CUDA only."""
    was_training = net.training
    net.eval()
    if device.type == "cuda" and amp:
        dtype = amp if isinstance(amp, torch.dtype) else torch.float16
        cast: Any = torch.autocast("cuda", dtype=dtype)
    else:
        cast = contextlib.nullcontext()
    try:
        with torch.inference_mode(), cast:
            yield
    finally:
        net.train(was_training)


def _as_list(value: Any, n: int, name: str) -> list:
    if value is None:
        return [None] * n
    if not isinstance(value, (list, tuple)) or len(value) != n:
        raise ValueError(f"with a list of {n} sequences, {name} must be None or a list of {n} arrays")
    return list(value)
