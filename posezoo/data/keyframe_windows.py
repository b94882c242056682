"""Sliding keyframe windows over a sequence of any length, and their reassembly.

Keyframe models (MixSynthFormer, DeciWatch) read windows of ``T = K * Q + 1``
frames whose keyframes are the frames ``0, K, ..., T - 1`` of the window. To
cover a sequence of N frames:

1. windows start every ``stride = step * K`` frames (``step`` in keyframes,
   ``1 <= step <= Q``), so every window's keyframes fall on the global
   keyframe grid (video frames divisible by K) and consecutive windows
   share ``Q + 1 - step`` keyframes;
2. the sequence is padded at the end by repeating its last frame up to
   ``padded_length(N, T, stride)`` frames, so that the last window ends
   exactly at the end of the padded sequence (a sequence shorter than T
   becomes one window);
3. the model's per-window outputs are put back at their frames and the
   overlapping predictions of each frame are averaged (DeciWatch's and the
   official MixSynthFormer's sliding evaluation), then the padding is cut.

Because padding repeats the last frame, the frames a model actually reads are
the global keyframes ``0, K, 2K, ... < N`` plus the last frame ``N - 1``
(:func:`keyframe_frame_indices`); only those need a pose estimate.

Tensors are batch-first with time on axis 1: ``(B, N, ...)``.
"""

from __future__ import annotations

import math

import torch

from .._validation import check_int

__all__ = [
    "window_stride",
    "padded_length",
    "window_starts",
    "pad_edge",
    "sliding_windows",
    "merge_windows",
    "keyframe_frame_indices",
]


def window_stride(window: int, sample_interval: int, step: int = 1) -> int:
    """Frames between window starts, ``step * sample_interval``.

    Args:
        window: T, must be ``K * Q + 1``.
        sample_interval: K.
        step: windows advance by ``step`` keyframes, ``1 <= step <= Q``.
    """
    check_int("window", window, 2, limit="max_sequence_frames")
    check_int("sample_interval", sample_interval, 1, limit="max_sequence_frames")
    check_int("step", step, 1, limit="max_sequence_frames")
    if (window - 1) % sample_interval != 0:
        raise ValueError(f"window ({window}) must be sample_interval * Q + 1 for sample_interval {sample_interval}")
    intervals = (window - 1) // sample_interval
    if step > intervals:
        raise ValueError(f"step must be between 1 and Q = {intervals} keyframes (else frames are skipped), got {step}")
    return step * sample_interval


def padded_length(length: int, window: int, stride: int) -> int:
    """Smallest ``L >= max(length, window)`` with ``(L - window) % stride == 0``."""
    check_int("length", length, 1, limit="max_sequence_frames")
    check_int("window", window, 1, limit="max_sequence_frames")
    check_int("stride", stride, 1, limit="max_sequence_frames")
    return window + math.ceil(max(length - window, 0) / stride) * stride


def window_starts(length: int, window: int, stride: int) -> torch.Tensor:
    """Start frame of every window, ``(W,)`` int64: ``0, stride, ..., padded_length - window``."""
    total = padded_length(length, window, stride)
    check_int("number of windows", (total - window) // stride + 1, limit="max_windows")
    return torch.arange(0, total - window + 1, stride)


def _check_sequence(x: torch.Tensor, what: str = "x") -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{what} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim < 2 or x.shape[1] < 1:
        raise ValueError(f"{what} must be (B, N, ...) with N >= 1 frames, got {tuple(x.shape)}")


def pad_edge(x: torch.Tensor, length: int) -> torch.Tensor:
    """Pad ``(B, N, ...)`` to ``(B, length, ...)`` by repeating frame N - 1 (``length >= N``)."""
    _check_sequence(x)
    n = x.shape[1]
    if length < n:
        raise ValueError(f"cannot pad {n} frames to fewer ({length})")
    if length == n:
        return x
    return torch.cat([x, x[:, -1:].expand(-1, length - n, *x.shape[2:])], dim=1)


def sliding_windows(
    x: torch.Tensor, window: int, sample_interval: int, step: int = 1
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut ``(B, N, ...)`` into keyframe-aligned windows ``(B, W, T, ...)``.

    Args:
        x: the sequence, time on axis 1; any N >= 1.
        window: T = K * Q + 1.
        sample_interval: K.
        step: window advance in keyframes (1 = densest, Q = windows share only
            their boundary keyframe).

    Returns:
        ``(windows, starts)``: ``windows[:, w]`` is frames
        ``starts[w] ... starts[w] + T - 1`` of the edge-padded sequence.
    """
    _check_sequence(x)
    stride = window_stride(window, sample_interval, step)
    starts = window_starts(x.shape[1], window, stride)  # bounds the number of windows first
    total = padded_length(x.shape[1], window, stride)
    padded = pad_edge(x, total)
    windows = padded.unfold(1, window, stride)  # (B, W, ..., T)
    return windows.movedim(-1, 2), starts


def merge_windows(windows: torch.Tensor, starts: torch.Tensor, length: int) -> torch.Tensor:
    """Average overlapping per-window outputs back into ``(B, length, ...)``.

    Args:
        windows: ``(B, W, T, ...)`` outputs, window ``w`` covering frames
            ``starts[w] ... starts[w] + T - 1``.
        starts: ``(W,)`` start frames (from :func:`sliding_windows`).
        length: N, frames of the original sequence (the padding is cut off).

    Every frame ``< length`` must be covered by at least one window. Each
    frame gets the mean of all windows' predictions for it (differentiable).
    """
    if not isinstance(windows, torch.Tensor) or windows.ndim < 3:
        raise ValueError(f"windows must be (B, W, T, ...), got {getattr(windows, 'shape', type(windows))}")
    starts = torch.as_tensor(starts, dtype=torch.long, device=windows.device)
    if starts.ndim != 1 or starts.shape[0] != windows.shape[1]:
        raise ValueError(
            f"starts must be ({windows.shape[1]},) for {windows.shape[1]} windows, got {tuple(starts.shape)}"
        )
    check_int("length", length, 1, limit="max_sequence_frames")
    if (starts < 0).any():
        raise ValueError("window starts must be >= 0")
    b, w, t = windows.shape[:3]
    total = max(int(starts.max()) + t, length)
    frames = (starts[:, None] + torch.arange(t, device=windows.device)).flatten()  # (W*T,)
    sums = windows.new_zeros((b, total, *windows.shape[3:]))
    sums = sums.index_add(1, frames, windows.flatten(1, 2))
    counts = torch.zeros(total, dtype=windows.dtype, device=windows.device)
    counts = counts.index_add(0, frames, torch.ones_like(frames, dtype=windows.dtype))
    counts = counts[:length]
    if (counts == 0).any():
        missing = torch.nonzero(counts == 0).flatten()[:10].tolist()
        raise ValueError(f"frames not covered by any window (first ones): {missing}")
    return sums[:, :length] / counts.view(1, length, *([1] * (windows.ndim - 3)))


def keyframe_frame_indices(length: int, sample_interval: int) -> torch.Tensor:
    """Frames of an N-frame sequence that keyframe windows read: ``0, K, 2K, ... < N`` and ``N - 1``."""
    check_int("length", length, 1, limit="max_sequence_frames")
    check_int("sample_interval", sample_interval, 1, limit="max_sequence_frames")
    idx = torch.arange(0, length, sample_interval)
    if idx[-1] != length - 1:
        idx = torch.cat([idx, torch.tensor([length - 1])])
    return idx
