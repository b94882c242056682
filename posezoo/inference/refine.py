""":func:`refine`: recover and refine pose sequences of any length with MixSynthFormer-style models."""

from __future__ import annotations

from typing import Optional, Union

import torch

from .._validation import check_bool, check_int
from ..data.keyframe_windows import merge_windows, sliding_windows
from ._common import (
    ArrayOrTensor,
    ModelArg,
    _check_sequence,
    _checked_device,
    _fill_missing,
    _inference,
    _load_model,
    _missing_mask,
    _model_dtype,
    _on_device,
    _restore_kind,
    _to_cpu64,
)
from ._progress import check_progress, window_progress
from .optimize import inference_runner

__all__ = ["refine"]


def refine(
    poses: ArrayOrTensor,
    model: ModelArg,
    *,
    sample_interval: Optional[int] = None,
    window_step: Optional[int] = None,
    confidence: Optional[ArrayOrTensor] = None,
    min_confidence: float = 0.0,
    batch_size: int = 64,
    device: Union[str, torch.device, None] = None,
    amp: Union[bool, torch.dtype] = True,
    pretrained: Union[bool, str] = True,
    progress: Optional[bool] = None,
    optimize: bool = True,
) -> ArrayOrTensor:
    """Refine a noisy pose sequence of any length with a MixSynthFormer-style model.

    The model reads windows of ``W = K*Q + 1`` frames (``model.num_frames``) and
    uses only the keyframes ``0, K, ..., W-1`` (``K = model.sample_interval``).
    Windows start every ``window_step`` keyframes (``window_step * K`` frames,
    default 1 keyframe), so every window's keyframes lie on the global grid of
    frames divisible by K: only frames ``0, K, 2K, ...`` and the last frame are
    read, as when a detector runs every K frames. The sequence is edge-padded
    at the end (repeating its last frame) so the last window ends on the grid;
    the outputs of all windows covering a frame are averaged (DeciWatch's
    sliding evaluation). See :mod:`posezoo.data.keyframe_windows`.

    Args:
        poses: ``(T, J, D)`` or ``(T, J*D)``, any ``T >= 1``, with ``J`` =
            ``model.num_joints`` and ``D`` = ``model.in_channels``.
        model: a registered model name or module with ``sample_interval``,
            ``num_frames``, ``num_joints`` and ``in_channels``.
        sample_interval: optional check: must equal the model's K.
        window_step: keyframes between window starts, ``1 <= window_step <= Q``
            (default 1: the densest overlap).
        confidence: optional ``(T, J)``; poses with ``confidence <= min_confidence``
            are missing (may be non-finite) and filled by interpolation over time.
        batch_size, device, amp, pretrained, progress: as in :func:`lift` (the progress bar
            counts windows; automatic by default: only in a terminal, for long inputs).
        optimize: as in :func:`lift`: on the CPU, a cached :func:`posezoo.optimize_for_inference`
            copy (float32, one thread for small models) for large enough inputs; ``False`` = never.

    Returns:
        The refined sequence with the input's shape, kind, device and floating dtype.
    """
    net, from_name = _load_model(model, pretrained)
    required = ("sample_interval", "num_frames", "num_joints", "in_channels")
    lacking = [a for a in required if getattr(net, a, None) is None]
    if lacking:
        raise ValueError(
            f"refine() needs a MixSynthFormer-style model with {', '.join(required)}; "
            f"{type(net).__name__} lacks {', '.join(lacking)}"
        )
    k, window = int(net.sample_interval), int(net.num_frames)
    joints, channels = int(net.num_joints), int(net.in_channels)
    if sample_interval is not None and sample_interval != k:
        raise ValueError(f"sample_interval={sample_interval} does not match the model's sample_interval={k}")
    step = 1 if window_step is None else check_int("window_step", window_step, numpy_ok=True)
    batch_size = check_int("batch_size", batch_size, numpy_ok=True, limit="max_windows")
    check_progress(progress)

    _check_sequence(poses, "poses")
    flat = poses.ndim == 2
    expected = f"(T, {joints}, {channels}) or (T, {joints * channels})"
    if poses.ndim not in (2, 3):
        raise ValueError(f"poses must have shape {expected}, got {tuple(poses.shape)} (rank {poses.ndim})")
    if poses.shape[0] == 0:
        raise ValueError(f"poses is empty: expected at least 1 frame, got shape {tuple(poses.shape)}")
    if tuple(poses.shape[1:]) != ((joints * channels,) if flat else (joints, channels)):
        raise ValueError(f"poses must have shape {expected}, got {tuple(poses.shape)}")
    x = _to_cpu64(poses).reshape(poses.shape[0], joints, channels)
    missing = _missing_mask(x, confidence, min_confidence, "poses")
    x = _fill_missing(x, missing, [str(j) for j in range(joints)])

    dev = _checked_device(device, net, from_name, [poses])  # validated before the model moves
    with _on_device(net, dev):  # moved back if anything below fails
        x = x.to(device=dev, dtype=_model_dtype(net))
        if flat:
            x = x.reshape(x.shape[0], joints * channels)
        length = x.shape[0]
        windows, starts = sliding_windows(x[None], window, k, step)
        inputs = windows[0]  # (n, W, ...)
        net = inference_runner(net, dev, check_bool("optimize", optimize), len(inputs) * window)
        outs = []
        with _inference(net, dev, amp), window_progress(progress, len(inputs), batch_size, "refine") as advance:
            for chunk in inputs.split(batch_size):
                out = net(chunk)
                if not isinstance(out, torch.Tensor) or out.shape != chunk.shape:
                    got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
                    raise ValueError(f"the model returned {got}, expected {tuple(chunk.shape)}")
                outs.append(out.float())
                advance(len(chunk))
        result = merge_windows(torch.cat(outs)[None], starts, length)[0]
    return _restore_kind(result, poses)
