"""Adaptive input stride: controller on synthetic velocity profiles, online lifting without reconfiguration."""

from __future__ import annotations

import math

import pytest
import torch

import posezoo
from posezoo.models.uplift_upsample_adaptive import (
    AdaptiveStrideController,
    lift_adaptive,
    relative_pose_velocity,
)


def _run(controller: AdaptiveStrideController, velocities) -> list[int]:
    return [controller.update(v) for v in velocities]


def _switches(strides: list[int]) -> int:
    return sum(a != b for a, b in zip(strides, strides[1:]))


def test_controller_follows_a_slow_medium_fast_slow_profile() -> None:
    ctrl = AdaptiveStrideController([2, 4, 8], thresholds=[0.3, 0.8], hysteresis=0.2, min_hold=3)
    assert ctrl.stride == 2  # starts safe (smallest stride)
    profile = [0.1] * 20 + [0.5] * 20 + [1.5] * 20 + [0.1] * 20
    strides = _run(ctrl, profile)
    assert strides[3:20] == [8] * 17  # relaxes after min_hold updates
    assert strides[:3] == [2, 2, 2]
    assert set(strides[20:40]) == {4} and strides[40:60] == [2] * 20  # faster motion: immediately smaller
    assert strides[-1] == 8
    assert _switches(strides) == 4


def test_hysteresis_suppresses_flicker_around_a_threshold() -> None:
    gen = torch.Generator().manual_seed(0)
    noisy = (0.3 + 0.05 * (2 * torch.rand(200, generator=gen) - 1)).tolist()  # hovers around 0.3 +- 0.05
    without = _run(AdaptiveStrideController([4, 8], [0.3], hysteresis=0.0, min_hold=0), noisy)
    with_h = _run(AdaptiveStrideController([4, 8], [0.3], hysteresis=0.25, min_hold=0), noisy)
    assert _switches(without) > 50
    assert _switches(with_h) == 0
    # a real change of speed still switches through the band
    ctrl = AdaptiveStrideController([4, 8], [0.3], hysteresis=0.25, min_hold=0, initial_stride=8)
    assert _run(ctrl, [0.36, 0.38, 0.25, 0.24, 0.2]) == [8, 4, 4, 4, 8]  # band: (0.225, 0.375)


def test_controller_validation() -> None:
    with pytest.raises(ValueError, match="need 2 thresholds for 3 distinct strides"):
        AdaptiveStrideController([2, 4, 8], [0.3])
    with pytest.raises(ValueError, match="strictly ascending"):
        AdaptiveStrideController([2, 4, 8], [0.8, 0.3])
    with pytest.raises(ValueError, match=r"hysteresis must be in \[0, 1\)"):
        AdaptiveStrideController([2, 4], [0.3], hysteresis=1.0)
    with pytest.raises(ValueError, match="initial_stride 3 is not one of"):
        AdaptiveStrideController([2, 4], [0.3], initial_stride=3)
    with pytest.raises(ValueError, match="NaN"):
        AdaptiveStrideController([2, 4], [0.3]).update(float("nan"))


def test_relative_pose_velocity_ignores_global_motion() -> None:
    t = torch.arange(5.0)
    poses = torch.zeros(5, 17, 3)
    poses[:, :, 0] = t[:, None] * 0.5  # the whole body translates: relative pose is still
    assert torch.equal(relative_pose_velocity(poses), torch.zeros(4))
    poses[:, 3, 1] += t * 0.17  # one joint moves 0.17 per frame relative to the root
    torch.testing.assert_close(relative_pose_velocity(poses), torch.full((4,), 0.01))
    torch.testing.assert_close(relative_pose_velocity(poses[::2], frame_gap=2), torch.full((2,), 0.01))
    with pytest.raises(ValueError, match="T >= 2"):
        relative_pose_velocity(poses[:1])


def _profile_sequence(length: int = 120) -> torch.Tensor:
    """2D keypoints ``(T, 17, 2)``: still, then wrists and ankles circling (constant speed), then still.

    The moving part spans frames [T/3, 2T/3): four joints on circles of radius
    0.15 with a 40-frame period, i.e. a relative pose velocity of about 0.28/s at 50 fps.
    """
    gen = torch.Generator().manual_seed(0)
    base = 0.3 * torch.randn(17, 2, generator=gen)
    t = torch.arange(length, dtype=torch.float32)
    moving = ((t >= length // 3) & (t < 2 * length // 3)).float()
    phase = 2 * math.pi * t / 40
    circle = 0.15 * torch.stack([torch.cos(phase) - 1, torch.sin(phase)], dim=-1) * moving[:, None]
    seq = base.expand(length, -1, -1).clone()
    seq[:, [3, 6, 13, 16]] += circle[:, None]  # ankles and wrists
    return seq


def test_lift_adaptive_changes_stride_online_without_reconfiguring() -> None:
    torch.manual_seed(0)
    model = posezoo.create_model("uplift_upsample_small").eval()  # s_out 2, strides {2, 4, 8}
    before = {k: v.clone() for k, v in model.state_dict().items()}
    keypoints = _profile_sequence()
    ctrl = AdaptiveStrideController(model.input_strides, thresholds=[0.05, 0.15], hysteresis=0.2, min_hold=2)
    result = lift_adaptive(model, keypoints, ctrl, velocity_source="keypoints", fps=50)
    assert result.poses.shape == (120, 17, 3) and torch.isfinite(result.poses).all()
    assert all(k % model.output_stride == 0 for k in result.keyframes)
    gaps = {k: b - k for k, b in zip(result.keyframes, result.keyframes[1:])}
    slow_gaps = [g for k, g in gaps.items() if 10 <= k < 38 or 96 <= k < 110]
    fast_gaps = [g for k, g in gaps.items() if 50 <= k < 78]
    assert set(slow_gaps) == {8} and set(fast_gaps) == {2}, gaps
    assert len(result.keyframes) < 120 // 2  # fewer detector calls than a fixed s_in = 2
    assert model.num_frames == 27 and all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    # only keyframes were read: changing every other frame leaves the result unchanged
    others = torch.ones(120, dtype=torch.bool)
    others[result.keyframes] = False
    changed = keypoints.clone()
    changed[others] += 1.0
    again = lift_adaptive(
        model,
        changed,
        AdaptiveStrideController(model.input_strides, [0.05, 0.15], 0.2, 2),
        velocity_source="keypoints",
        fps=50,
    )
    assert again.keyframes == result.keyframes
    torch.testing.assert_close(again.poses, result.poses, rtol=0, atol=0)


def test_lift_adaptive_from_predicted_velocity_runs_causally() -> None:
    torch.manual_seed(0)
    model = posezoo.create_model("uplift_upsample_small").train()
    ctrl = AdaptiveStrideController(model.input_strides, thresholds=[0.05, 0.2])
    result = lift_adaptive(model, _profile_sequence(48), ctrl, velocity_source="prediction", fps=50)
    assert model.training  # evaluated in eval mode, the caller's mode restored
    assert result.poses.shape == (48, 17, 3)
    assert math.isnan(result.velocities[0]) and all(v >= 0 for v in result.velocities[1:])
    assert len(result.strides) == len(result.keyframes) and set(result.strides) <= {2, 4, 8}
    with pytest.raises(ValueError, match="not multiples of the model's output_stride"):
        lift_adaptive(model, _profile_sequence(48), AdaptiveStrideController([3, 6], [0.1]))
    with pytest.raises(ValueError, match=r"keypoints_2d must have shape \(T, 17, 2\)"):
        lift_adaptive(model, torch.zeros(50, 16, 2), ctrl)
