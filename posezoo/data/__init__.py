"""Data conventions: stride masks, cameras, datasets, windows and samples."""

from .stride_masks import (
    random_shift,
    receptive_field,
    sample_stride_masks,
    stride_mask,
    token_offsets,
)

__all__ = [
    "random_shift",
    "receptive_field",
    "sample_stride_masks",
    "stride_mask",
    "token_offsets",
]
