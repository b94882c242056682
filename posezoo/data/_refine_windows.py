"""Sliding windows with overlap averaging for :func:`posezoo.refine` (MixSynthFormer / DeciWatch style).

Windows of ``W`` frames start at ``0, step, 2*step, ...``, with one more aligned
to the end of the sequence so that every frame is covered; a sequence shorter
than ``W`` gets one window edge-padded at the end. The outputs of all windows
that cover a frame are averaged.

TODO(after merge): unify with ``posezoo/data/keyframe_windows.py`` (written in
parallel for the MixSynthFormer family) so that there is one implementation.
"""

from __future__ import annotations

import numpy as np
import torch

from .windows import clip_frames, mixsynth_window_starts

__all__ = ["sliding_window_frames", "average_overlapping"]


def sliding_window_frames(length: int, window: int, step: int) -> tuple[np.ndarray, np.ndarray]:
    """``(starts (n,), frames (n, window))``: window starts and their (edge-clipped) frame indices."""
    starts = mixsynth_window_starts(length, window, step)
    frames = clip_frames(starts[:, None] + np.arange(window)[None, :], length)
    return starts, frames


def average_overlapping(outputs: torch.Tensor, starts: np.ndarray, length: int) -> torch.Tensor:
    """Average window outputs ``(n, W, ...)`` starting at ``starts`` into a ``(length, ...)`` sequence.

    Positions past the end of the sequence (edge padding) are dropped.
    """
    n, window = outputs.shape[:2]
    if len(starts) != n:
        raise ValueError(f"{n} window outputs for {len(starts)} starts")
    frames = torch.as_tensor(starts[:, None] + np.arange(window)[None, :], device=outputs.device).reshape(-1)
    flat = outputs.reshape(n * window, *outputs.shape[2:])
    keep = frames < length
    frames, flat = frames[keep], flat[keep]
    total = torch.zeros((length, *outputs.shape[2:]), dtype=outputs.dtype, device=outputs.device)
    total.index_add_(0, frames, flat)
    count = torch.zeros(length, dtype=outputs.dtype, device=outputs.device)
    count.index_add_(0, frames, torch.ones_like(frames, dtype=outputs.dtype))
    if bool((count == 0).any()):
        raise ValueError("the windows leave some frames uncovered")
    return total / count.reshape(-1, *[1] * (outputs.ndim - 2))
