"""Stride masks of Uplift and Upsample (re-exported; they live in :mod:`posezoo.layers.stride_masks`,
next to the model input they describe, so that models need not import the data package)."""

from ..layers.stride_masks import random_shift, receptive_field, sample_stride_masks, stride_mask, token_offsets

__all__ = ["token_offsets", "receptive_field", "stride_mask", "random_shift", "sample_stride_masks"]
