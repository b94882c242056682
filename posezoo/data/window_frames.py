"""Frame indices of pose-sequence windows (numpy; no Dataset machinery).

* :func:`training_window_starts`: seq2seq training windows (MixSTE / RTPCA) of
  ``num_frames`` every ``stride`` frames; the windows are centred on the
  sequence, the parts that stick out at the ends are edge-padded.
* :func:`evaluation_windows` + :func:`reassemble`: windows that cover every
  frame of a sequence **exactly once** and put per-window predictions back in
  order (consecutive chunks; the last one is aligned to the end of the
  sequence and contributes only its new frames; a sequence shorter than one
  window is edge-padded on both sides).
* :func:`keyframe_window_frames` / :func:`central_frames` /
  :func:`interpolate_frames`: Uplift-and-Upsample windows of N tokens every
  ``s_out`` frames centred on a frame (stride masks from
  :mod:`posezoo.data.stride_masks`), the evaluation centres and the linear
  interpolation between central predictions (official ``TEST_STRIDED_EVAL``).
* :func:`mixsynth_keyframe_mask` / :func:`mixsynth_window_starts`:
  MixSynthFormer windows ``W = K*Q + 1`` with keyframes every K frames,
  including the last.

Edge padding repeats the first / last frame (:func:`clip_frames`). Everything
here is also importable from :mod:`posezoo.data.windows`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np
import torch

from .._validation import check_int
from .stride_masks import token_offsets

__all__ = [
    "clip_frames",
    "training_window_starts",
    "EvalWindow",
    "evaluation_windows",
    "reassemble",
    "keyframe_window_frames",
    "central_frames",
    "interpolate_frames",
    "mixsynth_window_length",
    "mixsynth_keyframe_mask",
    "mixsynth_window_starts",
]


def clip_frames(frames: np.ndarray, length: int) -> np.ndarray:
    """Clip frame indices to ``[0, length - 1]``: edge padding by repetition."""
    length = check_int("length", length, numpy_ok=True, limit="max_sequence_frames")
    return np.clip(np.asarray(frames, dtype=np.int64), 0, length - 1)


def training_window_starts(length: int, num_frames: int, stride: Optional[int] = None) -> np.ndarray:
    """Start frames of seq2seq training windows (may be < 0 or run past the end: edge-pad).

    ``n = ceil((length - num_frames) / stride) + 1`` windows (1 when the
    sequence is shorter than a window), every ``stride`` frames, with the
    overhang split evenly between the two ends (as the chunked generators of
    VideoPose3D / MixSTE). ``stride`` defaults to ``num_frames``.
    """
    length = check_int("length", length, numpy_ok=True, limit="max_sequence_frames")
    num_frames = check_int("num_frames", num_frames, numpy_ok=True, limit="max_sequence_frames")
    stride = num_frames if stride is None else check_int("stride", stride, numpy_ok=True, limit="max_sequence_frames")
    n = 1 if length <= num_frames else -(-(length - num_frames) // stride) + 1
    check_int("number of training windows", n, limit="max_windows")
    span = (n - 1) * stride + num_frames
    offset = (span - length) // 2
    return np.arange(n, dtype=np.int64) * stride - offset


@dataclass(frozen=True)
class EvalWindow:
    """One evaluation window.

    Attributes:
        frames: ``(num_frames,)`` sequence frame of each window position (edge-padded).
        window_slice: positions of the window whose predictions are kept.
        sequence_slice: the sequence frames they fill (same length).
    """

    frames: np.ndarray
    window_slice: slice
    sequence_slice: slice


def evaluation_windows(length: int, num_frames: int) -> list[EvalWindow]:
    """Windows of ``num_frames`` covering frames ``0 .. length-1`` exactly once.

    Consecutive chunks ``[0, T), [T, 2T), ...``; if ``length`` is not a multiple
    of ``T`` the last window is ``[length - T, length)`` and keeps only its last
    ``length % T`` positions. A sequence shorter than ``T`` gets one window,
    edge-padded by ``(T - length) // 2`` frames before and the rest after.
    """
    length = check_int("length", length, numpy_ok=True, limit="max_sequence_frames")
    t = check_int("num_frames", num_frames, numpy_ok=True, limit="max_sequence_frames")
    check_int("number of evaluation windows", -(-length // t), limit="max_windows")
    if length < t:
        before = (t - length) // 2
        frames = clip_frames(np.arange(t) - before, length)
        return [EvalWindow(frames, slice(before, before + length), slice(0, length))]
    windows = [
        EvalWindow(np.arange(s, s + t, dtype=np.int64), slice(0, t), slice(s, s + t))
        for s in range(0, length - t + 1, t)
    ]
    rest = length % t
    if rest:
        windows.append(
            EvalWindow(np.arange(length - t, length, dtype=np.int64), slice(t - rest, t), slice(length - rest, length))
        )
    return windows


def reassemble(predictions: Any, windows: Sequence[EvalWindow], length: int) -> Any:
    """Put per-window predictions ``(num_windows, T, ...)`` back into a ``(length, ...)`` sequence.

    Works for numpy arrays and torch tensors; each output frame is taken from
    exactly one window (see :func:`evaluation_windows`).
    """
    if not isinstance(predictions, (np.ndarray, torch.Tensor)) and not isinstance(predictions, (list, tuple)):
        raise TypeError(f"predictions must be an array, tensor or list, got {type(predictions).__name__}")
    if len(predictions) != len(windows):
        raise ValueError(f"got predictions for {len(predictions)} windows, expected {len(windows)}")
    parts = []
    for pred, win in zip(predictions, windows):
        if pred.shape[0] != len(win.frames):
            raise ValueError(f"a window prediction has {pred.shape[0]} frames, expected {len(win.frames)}")
        parts.append(pred[win.window_slice])
    out = torch.cat(parts, 0) if isinstance(parts[0], torch.Tensor) else np.concatenate(parts, 0)
    if out.shape[0] != length:
        raise ValueError(f"windows cover {out.shape[0]} frames, expected {length}")
    return out


def keyframe_window_frames(center: int, num_tokens: int, output_stride: int = 1) -> np.ndarray:
    """Frames ``center + (n - N//2) * s_out`` of an Uplift-and-Upsample window (unclipped)."""
    return int(center) + token_offsets(num_tokens, output_stride).numpy()


def central_frames(length: int, output_stride: int = 1) -> np.ndarray:
    """Evaluation centres on the output-stride grid: ``0, s_out, 2 s_out, ...`` up to the first >= ``length - 1``.

    Every centre is a multiple of ``s_out``, so every window's tokens fall on
    frames where global keyframes (multiples of ``s_in``) can be. When
    ``length - 1`` is off the grid, the last centre lies past the end of the
    sequence (its window is edge-padded) and :func:`interpolate_frames` covers
    the frames after the last on-grid centre.
    """
    length = check_int("length", length, numpy_ok=True, limit="max_sequence_frames")
    output_stride = check_int("output_stride", output_stride, numpy_ok=True, limit="max_sequence_frames")
    check_int("number of window centres", -(-length // output_stride) + 1, limit="max_windows")
    return np.arange(0, length - 1 + output_stride, output_stride, dtype=np.int64)


def interpolate_frames(values: Any, positions: np.ndarray, length: int) -> Any:
    """Linear interpolation of per-frame values known at ``positions`` to frames ``0 .. length-1``.

    Args:
        values: ``(C, ...)`` numpy array or tensor, one entry per position.
        positions: ``(C,)`` strictly increasing frame indices, first 0 and last
            ``>= length-1`` (a position past the end only anchors the interpolation).
    """
    positions = np.asarray(positions, dtype=np.int64)
    if positions.ndim != 1 or len(positions) != len(values) or len(positions) == 0:
        raise ValueError(f"need one position per value, got {positions.shape} for {len(values)} values")
    if positions[0] != 0 or positions[-1] < length - 1 or np.any(np.diff(positions) <= 0):
        raise ValueError("positions must increase strictly from 0 to at least length - 1")
    if len(positions) == 1:
        return (
            values[[0] * length]
            if isinstance(values, np.ndarray)
            else values[torch.zeros(length, dtype=torch.long, device=values.device)]
        )
    frames = np.arange(length)
    left = np.clip(np.searchsorted(positions, frames, side="right") - 1, 0, len(positions) - 2)
    weight = (frames - positions[left]) / (positions[left + 1] - positions[left])
    if isinstance(values, torch.Tensor):
        li = torch.as_tensor(left, device=values.device)
        w = torch.as_tensor(weight, dtype=values.dtype, device=values.device).reshape(-1, *[1] * (values.ndim - 1))
        return values[li] * (1 - w) + values[li + 1] * w
    w = weight.reshape(-1, *[1] * (values.ndim - 1)).astype(values.dtype)
    return values[left] * (1 - w) + values[left + 1] * w


def mixsynth_window_length(sample_interval: int, num_keyframes: int) -> int:
    """``W = K * Q + 1`` for K = ``sample_interval`` and Q + 1 = ``num_keyframes``."""
    k = check_int("sample_interval", sample_interval, numpy_ok=True, limit="max_sequence_frames")
    q1 = check_int("num_keyframes", num_keyframes, 2, numpy_ok=True, limit="max_sequence_frames")
    return k * (q1 - 1) + 1


def mixsynth_keyframe_mask(sample_interval: int, num_keyframes: int) -> np.ndarray:
    """Bool ``(W,)``: True at frames ``0, K, 2K, ..., W-1`` (the keyframes MixSynthFormer reads)."""
    w = mixsynth_window_length(sample_interval, num_keyframes)
    mask = np.zeros(w, dtype=bool)
    mask[::sample_interval] = True
    return mask


def mixsynth_window_starts(length: int, window: int, step: int) -> np.ndarray:
    """Window starts ``0, step, 2*step, ...`` plus one aligned to the end; ``[0]`` if shorter than a window."""
    length = check_int("length", length, numpy_ok=True, limit="max_sequence_frames")
    window = check_int("window", window, numpy_ok=True, limit="max_sequence_frames")
    step = check_int("step", step, numpy_ok=True, limit="max_sequence_frames")
    if length <= window:
        return np.zeros(1, dtype=np.int64)
    check_int("number of windows", (length - window) // step + 2, limit="max_windows")
    starts = np.arange(0, length - window + 1, step, dtype=np.int64)
    if starts[-1] != length - window:
        starts = np.append(starts, length - window)
    return starts
