"""Sliding keyframe windows and overlap-averaging reassembly, checked frame by frame."""

from __future__ import annotations

import pytest
import torch

from posezoo.data import (
    keyframe_frame_indices,
    merge_windows,
    pad_edge,
    padded_length,
    sliding_windows,
    window_starts,
    window_stride,
)

SETTINGS = [(11, 5, 1), (11, 5, 2), (101, 10, 1), (101, 10, 3), (101, 10, 10)]  # (T, K, step)


def _lengths(t: int) -> list[int]:
    return [1, t - 1, t, 10 * t + 3]


def _brute_force_padded(n: int, t: int, stride: int) -> int:
    length = max(n, t)
    while (length - t) % stride:
        length += 1
    return length


@pytest.mark.parametrize("t,k,step", SETTINGS)
def test_windows_cover_sequence_with_edge_padding(t: int, k: int, step: int) -> None:
    stride = window_stride(t, k, step)
    assert stride == step * k
    for n in _lengths(t):
        x = torch.arange(n, dtype=torch.float64).view(1, n, 1, 1).repeat(2, 1, 3, 2)
        x[1] *= -1
        windows, starts = sliding_windows(x, t, k, step)
        total = _brute_force_padded(n, t, stride)
        assert padded_length(n, t, stride) == total
        assert starts.tolist() == list(range(0, total - t + 1, stride))
        assert torch.equal(window_starts(n, t, stride), starts)
        assert windows.shape == (2, len(starts), t, 3, 2)
        for w, s in enumerate(starts.tolist()):
            frames = torch.clamp(torch.arange(s, s + t), max=n - 1).to(torch.float64)
            assert torch.equal(windows[0, w, :, 0, 0], frames)
            assert torch.equal(windows[1, w, :, 2, 1], -frames)
            assert s % k == 0  # windows stay on the global keyframe grid


@pytest.mark.parametrize("t,k,step", SETTINGS)
def test_merge_averages_overlaps_exactly(t: int, k: int, step: int) -> None:
    for n in _lengths(t):
        x = torch.randn(2, n, 4, dtype=torch.float64)
        windows, starts = sliding_windows(x, t, k, step)
        torch.testing.assert_close(merge_windows(windows, starts, n), x, rtol=0, atol=1e-12)
        # Window w predicts (frame + 100 w): each frame must get the mean over the windows covering it.
        frame_ids = starts[:, None] + torch.arange(t)
        preds = (frame_ids + 100 * torch.arange(len(starts))[:, None]).to(torch.float64)
        preds = preds[None, :, :, None].expand(2, -1, -1, 4)
        merged = merge_windows(preds, starts, n)
        for f in range(n):
            covering = [w for w, s in enumerate(starts.tolist()) if s <= f < s + t]
            expected = sum(f + 100 * w for w in covering) / len(covering)
            assert merged[0, f, 0].item() == pytest.approx(expected, abs=1e-9)
        assert merged.shape == (2, n, 4)


def test_keyframe_frame_indices_are_exactly_the_frames_read() -> None:
    t, k = 11, 5
    for n in [1, 4, 10, 11, 12, 23, 113]:
        idx = keyframe_frame_indices(n, k)
        x = torch.full((1, n, 1), float("nan"))
        x[:, idx] = 1.0
        windows, _ = sliding_windows(x, t, k, 1)
        assert torch.isfinite(windows[:, :, ::k]).all()  # every keyframe of every window is a read frame
        read = set()
        for s in window_starts(n, t, k).tolist():
            read |= {min(s + i, n - 1) for i in range(0, t, k)}
        assert sorted(read) == idx.tolist()


def test_merge_is_differentiable_and_validates() -> None:
    windows = torch.randn(1, 3, 11, 2, requires_grad=True)
    starts = torch.tensor([0, 5, 10])
    merge_windows(windows, starts, 21).sum().backward()
    assert windows.grad is not None and torch.isfinite(windows.grad).all()
    with pytest.raises(ValueError, match="not covered"):
        merge_windows(torch.zeros(1, 2, 11, 1), torch.tensor([0, 20]), 31)
    with pytest.raises(ValueError, match="starts must be"):
        merge_windows(torch.zeros(1, 2, 11, 1), torch.tensor([0]), 11)


def test_windows_validate_arguments() -> None:
    x = torch.zeros(1, 30, 3)
    with pytest.raises(ValueError, match="sample_interval"):
        sliding_windows(x, 12, 5)  # 12 != 5 Q + 1
    with pytest.raises(ValueError, match="step must be between 1 and Q = 2"):
        sliding_windows(x, 11, 5, step=3)
    with pytest.raises(ValueError, match=r"\(B, N, \.\.\.\)"):
        sliding_windows(torch.zeros(5), 11, 5)
    with pytest.raises(ValueError, match="fewer"):
        pad_edge(x, 10)
    assert torch.equal(pad_edge(torch.tensor([[1.0, 2.0]]), 4), torch.tensor([[1.0, 2.0, 2.0, 2.0]]))
