"""Stride masks against the official fixture's masks and the paper's bookkeeping."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from posezoo.data import random_shift, receptive_field, sample_stride_masks, stride_mask, token_offsets

from .conftest import FIXTURES


def test_offsets_and_receptive_field() -> None:
    assert token_offsets(5, 2).tolist() == [-4, -2, 0, 2, 4]
    assert receptive_field(41, 2) == 81  # h36m_81
    assert receptive_field(71, 5) == 351  # h36m_351


def test_matches_official_fixture_masks() -> None:
    """The four masks of the Uplift-and-Upsample fixture (N=27): s_in 3 shift 0/+1/-1, s_in 9."""
    expected = np.load(FIXTURES / "uplift_upsample" / "n27_s333_duta" / "stride_mask.npy") > 0.5
    assert expected.shape == (4, 27)
    ours = [stride_mask(27, 3, 1, 0), stride_mask(27, 3, 1, 1), stride_mask(27, 3, 1, -1), stride_mask(27, 9, 1, 0)]
    for e, o in zip(expected, ours):
        np.testing.assert_array_equal(o.numpy(), e)
    assert stride_mask(27, 3)[13]  # centred mask: the central token is a keyframe
    assert torch.nonzero(stride_mask(27, 9)).flatten().tolist() == [4, 13, 22]


def test_global_alignment_and_output_stride() -> None:
    mask = stride_mask(5, 4, 2, center_frame=10)  # frames 6, 8, 10, 12, 14
    assert mask.tolist() == [False, True, False, True, False]
    assert stride_mask(5, 4, 2).tolist() == [True, False, True, False, True]
    with pytest.raises(ValueError, match="multiple of output_stride"):
        stride_mask(5, 3, 2)
    with pytest.raises(ValueError, match="either shift or center_frame"):
        stride_mask(5, 4, 2, shift=1, center_frame=3)


@pytest.mark.parametrize("r,expected", [(3, {-1, 0, 1}), (4, {-2, -1, 0, 1}), (1, {0})])
def test_random_shift_covers_each_phase_once(r: int, expected: set) -> None:
    g = torch.Generator().manual_seed(0)
    seen = {random_shift(r, 1, g) for _ in range(400)}
    assert seen == expected


def test_sample_stride_masks_multi_stride() -> None:
    g = torch.Generator().manual_seed(0)
    masks, strides = sample_stride_masks(64, 27, [3, 9], 1, random_phase=False, generator=g)
    assert masks.shape == (64, 27) and masks.dtype == torch.bool
    assert set(strides.tolist()) == {3, 9}
    for m, s in zip(masks, strides):
        assert torch.equal(m, stride_mask(27, int(s)))
    shifted, _ = sample_stride_masks(200, 27, [3], generator=g)
    assert (~shifted[:, 13]).any() and shifted[:, 13].any()  # centre is a keyframe only sometimes
