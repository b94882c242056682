"""Data conventions: stride masks, cameras, datasets, windows and samples."""

from .keyframe_windows import (
    keyframe_frame_indices,
    merge_windows,
    pad_edge,
    padded_length,
    sliding_windows,
    window_starts,
    window_stride,
)
from .stride_masks import (
    random_shift,
    receptive_field,
    sample_stride_masks,
    stride_mask,
    token_offsets,
)

__all__ = [
    "keyframe_frame_indices",
    "merge_windows",
    "pad_edge",
    "padded_length",
    "sliding_windows",
    "window_starts",
    "window_stride",
    "random_shift",
    "receptive_field",
    "sample_stride_masks",
    "stride_mask",
    "token_offsets",
]
