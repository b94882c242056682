"""Uplift-and-Upsample training pieces: recipe settings, EMA, flips, within-batch augmentation, training runs."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

import posezoo
from posezoo.data import sample_stride_masks, stride_mask
from posezoo.models.uplift_upsample import UpliftUpsampleOutput
from posezoo.recipes.uplift_upsample import (
    RELEASED_TRAINING_CONFIGS,
    ema_decay,
    flip_sample,
    make_ema,
    make_optimizer,
    make_scheduler,
    training_config,
    within_batch_flip,
)
from posezoo.skeleton import reorder_joints

OFFICIAL_FLIP = [5, 4, 3, 2, 1, 0, 6, 7, 8, 9, 10, 16, 15, 14, 13, 12, 11]


# ---------------------------------------------------------------- data helpers (mocap -> 2D/3D windows)


def load_clips(path, min_frames: int = 60) -> list[torch.Tensor]:
    """Mocap clips ``(T, 17, 3)`` (H36M-17, metres, Z-up world)."""
    with np.load(path) as data:
        return [torch.from_numpy(data[k]) for k in sorted(data.files) if len(data[k]) >= min_frames]


def mocap_windows(
    clips: list[torch.Tensor], batch: int, num_tokens: int, output_stride: int, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random windows seen by a pinhole camera at a random yaw, 3.5-8 m away, subject off-centre by up to 2 m.

    Returns 2D ``(B, N, 17, 2)`` (focal length 2 in normalised units) and
    root-relative camera-frame 3D ``(B, N, 17, 3)`` in metres.
    """
    kp2d, pose3d = [], []
    for _ in range(batch):
        clip = clips[int(torch.randint(len(clips), (1,), generator=gen))]
        centre = int(torch.randint(len(clip), (1,), generator=gen))
        idx = (centre + (torch.arange(num_tokens) - num_tokens // 2) * output_stride).clamp(0, len(clip) - 1)
        world = clip[idx]
        yaw = float(torch.rand(1, generator=gen)) * 2 * math.pi
        c, s = math.cos(yaw), math.sin(yaw)
        rot = torch.tensor([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
        p = (world - world[num_tokens // 2, 0]) @ rot.T  # centred on the central pelvis
        offset = torch.rand(3, generator=gen) * torch.tensor([4.0, 1.0, 4.5]) - torch.tensor([2.0, 0.5, -3.5])
        cam = torch.stack([p[..., 0], -p[..., 2], p[..., 1]], dim=-1) + offset  # x right, y down, z forward
        kp2d.append(2.0 * cam[..., :2] / cam[..., 2:])
        pose3d.append(cam - cam[:, :1])
    return torch.stack(kp2d), torch.stack(pose3d)


def uu_loss(out: UpliftUpsampleOutput, target: torch.Tensor) -> torch.Tensor:
    """0.5 * sequence MPJPE + 0.5 * centre MPJPE (the released weights), computed inline for the test."""
    centre = target.shape[1] // 2
    return 0.5 * (out.full - target).norm(dim=-1).mean() + 0.5 * (out.central - target[:, centre]).norm(dim=-1).mean()


# ---------------------------------------------------------------- recipe settings


def test_released_configs() -> None:
    h81 = training_config("h36m_81")
    assert (h81.lr, h81.weight_decay, h81.lr_decay, h81.lr_decay_steps) == (4e-5, 0.1, 0.99, 6000)
    assert h81.ema and not h81.in_batch_augment and h81.batch_size == 256 and h81.epochs == 120
    assert h81.drop_path_rate == (0.1, 0.1, 0.0) and (h81.loss_weight_sequence, h81.loss_weight_center) == (0.5, 0.5)
    h351 = RELEASED_TRAINING_CONFIGS["h36m_351"]
    assert not h351.ema and h351.in_batch_augment and h351.batch_size == 512
    pt = RELEASED_TRAINING_CONFIGS["h36m_351_pt"]
    assert (pt.lr, pt.epochs) == (2e-5, 3)
    # PyTorch AdamW decays by lr * weight_decay: the official 4e-6 (2e-6 for the fine-tune)
    assert h81.lr * h81.weight_decay == pytest.approx(4e-6) and pt.lr * pt.weight_decay == pytest.approx(2e-6)
    assert training_config("h36m_81", lr=1e-3).lr == 1e-3
    with pytest.raises(ValueError, match="released: h36m_81, h36m_351"):
        training_config("h36m_27")


def test_optimizer_decays_every_parameter_and_schedule_is_staircase() -> None:
    model = posezoo.create_model("uplift_upsample_small")
    opt = make_optimizer(model)
    assert len(opt.param_groups) == 1
    group = opt.param_groups[0]
    assert group["weight_decay"] == 0.1 and group["lr"] == 4e-5 and group["eps"] == 1e-8
    assert sum(p.numel() for p in group["params"]) == sum(p.numel() for p in model.parameters())
    cfg = training_config("h36m_81", lr_decay_steps=3)
    sched = make_scheduler(opt, cfg)
    lrs = []
    for _ in range(7):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs == pytest.approx([4e-5] * 3 + [4e-5 * 0.99] * 3 + [4e-5 * 0.99**2])


def test_pytorch_adamw_reproduces_tfa_decoupled_decay() -> None:
    """With zero gradient the tfa update is p -= wd_tf * p; torch's AdamW gives the same with wd = wd_tf / lr."""
    p = torch.nn.Parameter(torch.ones(4))
    cfg = training_config("h36m_81")
    opt = torch.optim.AdamW([p], lr=cfg.lr, weight_decay=cfg.weight_decay, eps=cfg.eps)
    p.grad = torch.zeros(4)
    opt.step()
    torch.testing.assert_close(p.detach(), torch.full((4,), 1 - 4e-6))


def test_ema_follows_the_official_decay() -> None:
    assert ema_decay(0) == pytest.approx(0.1) and ema_decay(10) == pytest.approx(11 / 20)
    assert ema_decay(100_000) == 0.999
    model = torch.nn.Linear(2, 1, bias=False)
    ema = make_ema(model)
    history = []
    for step in range(4):
        with torch.no_grad():
            model.weight.fill_(float(step))
        ema.update_parameters(model)
        history.append(ema.module.weight.detach().clone())
    expected = 0.0  # the first update copies
    for step in range(1, 4):
        d = ema_decay(step)
        expected = d * expected + (1 - d) * step
        torch.testing.assert_close(history[step], torch.full((1, 2), expected))
    assert make_ema(model, training_config("h36m_351")) is None


# ---------------------------------------------------------------- flips


def test_flip_uses_the_official_permutation_in_official_order() -> None:
    x = torch.randn(3, 17, 2)
    flipped = flip_sample(x, joint_order="official")
    expected = x[:, OFFICIAL_FLIP].clone()
    expected[..., 0] *= -1
    torch.testing.assert_close(flipped, expected, rtol=0, atol=0)


def test_flip_in_h36m_order_matches_the_official_flip_after_reordering() -> None:
    x2, x3 = torch.randn(2, 5, 17, 2), torch.randn(2, 5, 17, 3)
    f2, f3 = flip_sample(x2, x3, joint_order="h36m")
    o2, o3 = flip_sample(reorder_joints(x2, "h36m", "uplift_upsample"), reorder_joints(x3, "h36m", "uplift_upsample"),
                         joint_order="official")
    torch.testing.assert_close(reorder_joints(f2, "h36m", "uplift_upsample"), o2, rtol=0, atol=0)
    torch.testing.assert_close(reorder_joints(f3, "h36m", "uplift_upsample"), o3, rtol=0, atol=0)
    assert torch.equal(f3[..., 0, :], x3[..., 0, :] * torch.tensor([-1.0, 1, 1]))  # pelvis stays, x negated
    assert torch.equal(f3[..., 4, 1:], x3[..., 1, 1:])  # left hip <- right hip
    twice = flip_sample(*flip_sample(x2, x3))
    assert torch.equal(twice[0], x2) and torch.equal(twice[1], x3)


def test_within_batch_flip_pairs_each_sample_with_its_mirror() -> None:
    kp, pose = torch.randn(3, 9, 17, 2), torch.randn(3, 9, 17, 3)
    masks, _ = sample_stride_masks(3, 9, [3], 1, generator=torch.Generator().manual_seed(0))
    kp2, pose2, masks2 = within_batch_flip(kp, pose, masks)
    assert kp2.shape == (6, 9, 17, 2) and pose2.shape == (6, 9, 17, 3) and masks2.shape == (6, 9)
    for i in range(3):
        assert torch.equal(kp2[2 * i], kp[i]) and torch.equal(pose2[2 * i], pose[i])
        assert torch.equal(kp2[2 * i + 1], flip_sample(kp[i])) and torch.equal(pose2[2 * i + 1], flip_sample(pose[i]))
        assert torch.equal(masks2[2 * i], masks[i]) and torch.equal(masks2[2 * i + 1], masks[i])
    with pytest.raises(ValueError, match="disagree"):
        within_batch_flip(kp, pose[:, :8], masks)


# ---------------------------------------------------------------- training runs


@pytest.fixture
def one_thread():
    """The small model's ops are too small for intra-op threads to pay off; one thread also avoids
    oversubscribing a shared 2-core machine. Restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _train(shared_dir: Path, steps: int, pairs: int, lr: float, seed: int = 0):
    torch.manual_seed(seed)
    clips = load_clips(shared_dir / "data" / "mocap17_train.npz")
    model = posezoo.create_model("uplift_upsample_small").train()
    cfg = training_config("h36m_81", lr=lr, lr_decay_steps=max(1, steps // 4), lr_decay=0.7)
    opt = make_optimizer(model, cfg)
    sched = make_scheduler(opt, cfg)
    ema = make_ema(model, cfg)
    gen = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(steps):
        kp, pose = mocap_windows(clips, pairs, model.num_frames, model.output_stride, gen)
        masks, _ = sample_stride_masks(pairs, model.num_frames, model.input_strides, model.output_stride, generator=gen)
        kp, pose, masks = within_batch_flip(kp, pose, masks)
        loss = uu_loss(model(kp * masks[..., None, None], masks), pose)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        ema.update_parameters(model)
        losses.append(loss.item())
    return model, ema.module, losses


def test_training_reduces_the_loss_on_mocap(shared_dir: Path, one_thread) -> None:
    """Small variant, 80 steps of 8 windows (4 mocap windows + their mirrors), mixed s_in and random phase."""
    _, _, losses = _train(shared_dir, steps=80, pairs=4, lr=1e-3)
    first, last = np.mean(losses[:10]), np.mean(losses[-20:])
    assert np.isfinite(losses).all()
    assert last < 0.5 * first, (first, last)


@pytest.mark.slow
def test_training_beats_the_mean_pose_on_held_out_mocap(shared_dir: Path, one_thread) -> None:
    """400 steps of 16 windows; the central MPJPE on the test subjects clearly beats predicting the mean pose."""
    model, ema_model, losses = _train(shared_dir, steps=400, pairs=8, lr=1e-3)
    assert np.mean(losses[-50:]) < 0.5 * np.mean(losses[:10])
    test_clips = load_clips(shared_dir / "data" / "mocap17_test.npz")
    kp, pose = mocap_windows(test_clips, 256, model.num_frames, model.output_stride, torch.Generator().manual_seed(1))
    centre = model.num_frames // 2
    baseline = (pose[:, centre] - pose[:, centre].mean(0)).norm(dim=-1).mean()
    for net in (model.eval(), ema_model.eval()):
        for s_in in model.input_strides:
            mask = stride_mask(model.num_frames, s_in, model.output_stride).expand(256, -1)
            with torch.no_grad():
                out = net(kp, mask)
            error = (out.central - pose[:, centre]).norm(dim=-1).mean()
            assert error < 0.75 * baseline, (s_in, float(error), float(baseline))
