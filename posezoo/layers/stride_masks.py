"""Keyframe (stride) masks for Uplift-and-Upsample style models.

A window holds N tokens sampled every ``output_stride`` (s_out) video frames,
centred on frame ``c``: token n shows frame ``c + (n - N//2) * s_out``. Only
every ``input_stride`` (s_in) frame has a 2D input (a keyframe); the others are
upsampling positions. ``s_in`` must be a multiple of ``s_out``; the mask
stride in tokens is ``r = s_in / s_out``.

Masks are boolean, ``True`` = keyframe.
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch

from .._validation import check_int

__all__ = ["token_offsets", "receptive_field", "stride_mask", "random_shift", "sample_stride_masks"]


def _check_strides(input_stride: int, output_stride: int) -> int:
    check_int("input_stride", input_stride, limit="max_sequence_frames")
    check_int("output_stride", output_stride, limit="max_sequence_frames")
    if input_stride % output_stride != 0:
        raise ValueError(f"input_stride ({input_stride}) must be a multiple of output_stride ({output_stride})")
    return input_stride // output_stride


def token_offsets(num_tokens: int, output_stride: int = 1) -> torch.Tensor:
    """Frame offset of each token from the central token: ``(n - N//2) * s_out``, shape ``(N,)``."""
    num_tokens = check_int("num_tokens", num_tokens, numpy_ok=True, limit="max_sequence_frames")
    output_stride = check_int("output_stride", output_stride, numpy_ok=True, limit="max_sequence_frames")
    return (torch.arange(num_tokens) - num_tokens // 2) * output_stride


def receptive_field(num_tokens: int, output_stride: int = 1) -> int:
    """Frames spanned by a window of N tokens: ``(N - 1) * s_out + 1``."""
    return (num_tokens - 1) * output_stride + 1


def stride_mask(
    num_tokens: int,
    input_stride: int,
    output_stride: int = 1,
    shift: int = 0,
    center_frame: Optional[int] = None,
) -> torch.Tensor:
    """Keyframe mask ``(N,)`` of one window.

    Args:
        num_tokens: N.
        input_stride: s_in in frames.
        output_stride: s_out in frames.
        shift: shift in tokens (training-time random phase, see :func:`random_shift`).
            0 makes the central token a keyframe.
        center_frame: absolute video index of the central frame. When given,
            keyframes are the video frames divisible by s_in (evaluation-time
            global alignment) and ``shift`` must be 0.
    """
    _check_strides(input_stride, output_stride)
    offsets = token_offsets(num_tokens, output_stride) + shift * output_stride
    if center_frame is not None:
        if shift != 0:
            raise ValueError("pass either shift or center_frame, not both")
        offsets = offsets + center_frame
    return offsets.remainder(input_stride) == 0


def random_shift(input_stride: int, output_stride: int = 1, generator: Optional[torch.Generator] = None) -> int:
    """Uniform random phase (in tokens) covering each of the r = s_in/s_out phases once.

    Odd r: ``[-(r-1)/2, (r-1)/2]``; even r: ``[-r/2, r/2 - 1]``.
    """
    r = _check_strides(input_stride, output_stride)
    low = -(r // 2)
    return int(torch.randint(low, low + r, (1,), generator=generator))


def sample_stride_masks(
    batch_size: int,
    num_tokens: int,
    input_strides: Sequence[int],
    output_stride: int = 1,
    random_phase: bool = True,
    generator: Optional[torch.Generator] = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Masks for a multi-stride training batch: one s_in (and phase) per sequence.

    Returns:
        ``(masks, strides)``: bool ``(B, N)`` and the drawn s_in ``(B,)``.
    """
    if not input_strides:
        raise ValueError("input_strides must not be empty")
    for s in input_strides:
        _check_strides(int(s), output_stride)
    choice = torch.randint(0, len(input_strides), (batch_size,), generator=generator)
    strides = torch.tensor([int(input_strides[i]) for i in choice.tolist()], dtype=torch.long)
    masks = (
        torch.stack(
            [
                stride_mask(
                    num_tokens,
                    int(s),
                    output_stride,
                    shift=random_shift(int(s), output_stride, generator) if random_phase else 0,
                )
                for s in strides.tolist()
            ]
        )
        if batch_size > 0
        else torch.zeros(0, num_tokens, dtype=torch.bool)
    )
    return masks, strides
