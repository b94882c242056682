"""Uplift-and-Upsample training pieces: recipe settings, EMA, flips, within-batch augmentation, training runs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

import posezoo
from posezoo.data import VirtualCameraPairs, cmu_mocap, flip_sample
from posezoo.data.windows import UpliftUpsampleWindows
from posezoo.skeleton import reorder_joints
from posezoo.training.recipes.uplift_upsample import (
    RELEASED_TRAINING_CONFIGS,
    ema_decay,
    make_ema,
    make_loss,
    make_optimizer,
    make_scheduler,
    skeleton_for,
    training_config,
    training_windows,
)

OFFICIAL_FLIP = [5, 4, 3, 2, 1, 0, 6, 7, 8, 9, 10, 16, 15, 14, 13, 12, 11]


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


def test_make_loss_is_the_library_loss_with_the_released_weights() -> None:
    loss = make_loss()
    assert isinstance(loss, posezoo.losses.UpliftUpsampleLoss) and (loss.w_seq, loss.w_center) == (0.5, 0.5)
    full, target, central = torch.randn(4, 9, 17, 3), torch.randn(4, 9, 17, 3), torch.randn(4, 17, 3)
    expected = 0.5 * (full - target).norm(dim=-1).mean() + 0.5 * (central - target[:, 4]).norm(dim=-1).mean()
    torch.testing.assert_close(loss(full, central, target), expected)


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


# ---------------------------------------------------------------- flips and windows


def test_official_joint_order_flips_with_the_official_permutation() -> None:
    assert list(skeleton_for("official").flip_permutation) == OFFICIAL_FLIP
    x2, x3 = torch.randn(3, 17, 2), torch.randn(3, 17, 3)
    flipped = flip_sample({"keypoints_2d": x2, "pose_3d": x3}, skeleton_for("official"))
    for before, after in ((x2, flipped["keypoints_2d"]), (x3, flipped["pose_3d"])):
        expected = before[:, OFFICIAL_FLIP].clone()
        expected[..., 0] *= -1
        torch.testing.assert_close(after, expected, rtol=0, atol=0)


def test_h36m_flip_equals_the_official_flip_after_reordering() -> None:
    x3 = torch.randn(2, 5, 17, 3)
    ours = flip_sample({"pose_3d": x3}, skeleton_for("h36m"))["pose_3d"]
    official = flip_sample({"pose_3d": reorder_joints(x3, "h36m", "uplift_upsample")}, skeleton_for("official"))
    torch.testing.assert_close(reorder_joints(ours, "h36m", "uplift_upsample"), official["pose_3d"], rtol=0, atol=0)


def _tiny_source() -> VirtualCameraPairs:
    gen = np.random.default_rng(0)
    return VirtualCameraPairs([np.cumsum(0.01 * gen.standard_normal((40, 17, 3)), 0) + [0, 0, 1] for _ in range(2)])


def test_training_windows_in_batch_augment_pairs_each_window_with_its_mirror() -> None:
    model = posezoo.create_model("uplift_upsample_small")
    dataset, collate = training_windows(model, _tiny_source(), training_config("h36m_351"))
    assert isinstance(dataset, UpliftUpsampleWindows) and len(dataset) == 80  # mirrors come from the collate
    assert dataset.random_shift and dataset.input_strides == [2, 4, 8] and dataset.num_tokens == 27
    batch = next(iter(DataLoader(dataset, batch_size=3, shuffle=False, collate_fn=collate)))
    assert batch["keypoints_2d"].shape == (6, 27, 17, 2)
    assert batch["meta"]["flipped"].tolist() == [0, 1, 0, 1, 0, 1]
    for i in range(0, 6, 2):
        assert torch.equal(batch["stride_mask"][i], batch["stride_mask"][i + 1])
        mirror = flip_sample({"keypoints_2d": batch["keypoints_2d"][i], "pose_3d": batch["pose_3d"][i]})
        assert torch.equal(batch["keypoints_2d"][i + 1], mirror["keypoints_2d"])
        assert torch.equal(batch["pose_3d"][i + 1], mirror["pose_3d"])
        assert torch.all(batch["keypoints_2d"][i][~batch["stride_mask"][i]] == 0)  # model input X * m


def test_training_windows_without_in_batch_augment_double_the_dataset() -> None:
    model = posezoo.create_model("uplift_upsample_small")
    dataset, collate = training_windows(model, _tiny_source(), training_config("h36m_81"))
    assert collate is None and len(dataset) == 160 and dataset.flip
    # the mirrored copies are separate items with their own draws (camera, s_in, phase), as officially
    assert [dataset[i]["meta"]["flipped"] for i in (5, 79, 80, 159)] == [0, 0, 1, 1]
    assert dataset[85]["meta"]["center"] == dataset[5]["meta"]["center"]


# ---------------------------------------------------------------- training runs


@pytest.fixture
def one_thread():
    """The small model's ops are too small for intra-op threads to pay off; one thread also avoids
    oversubscribing a shared 2-core machine. Restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _train(steps: int, pairs: int, lr: float, seed: int = 0):
    """Small variant on mocap through random virtual cameras; 351-style in-batch flips, h36m_81 EMA."""
    torch.manual_seed(seed)
    clips = cmu_mocap("train")
    model = posezoo.create_model("uplift_upsample_small").train()
    cfg = training_config("h36m_81", lr=lr, lr_decay_steps=max(1, steps // 4), lr_decay=0.7, in_batch_augment=True)
    dataset, collate = training_windows(model, VirtualCameraPairs(clips, seed=seed), cfg, seed=seed)
    loader = DataLoader(
        dataset,
        batch_size=pairs,
        shuffle=True,
        collate_fn=collate,
        drop_last=True,
        generator=torch.Generator().manual_seed(seed),
    )
    opt = make_optimizer(model, cfg)
    sched = make_scheduler(opt, cfg)
    ema = make_ema(model, cfg)
    loss_fn = make_loss(cfg)
    losses = []
    for _step, batch in zip(range(steps), loader):
        out = model(batch["keypoints_2d"], batch["stride_mask"])
        loss = loss_fn(out.full, out.central, batch["pose_3d"])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        ema.update_parameters(model)
        losses.append(loss.item())
    return model, ema.module, losses


def test_training_reduces_the_loss_on_mocap(one_thread) -> None:
    """Small variant, 80 steps of 8 windows (4 mocap windows + their mirrors), mixed s_in and random phase."""
    _, _, losses = _train(steps=80, pairs=4, lr=1e-3)
    first, last = np.mean(losses[:10]), np.mean(losses[-20:])
    assert np.isfinite(losses).all()
    assert last < 0.5 * first, (first, last)


@pytest.mark.slow
def test_training_beats_the_mean_pose_on_held_out_mocap(one_thread) -> None:
    """400 steps of 16 windows; the central MPJPE on the test subjects clearly beats predicting the mean pose."""
    model, ema_model, losses = _train(steps=400, pairs=8, lr=1e-3)
    assert np.mean(losses[-50:]) < 0.5 * np.mean(losses[:10])
    test = VirtualCameraPairs(cmu_mocap("test"), seed=1)
    n = model.num_frames
    for net in (model.eval(), ema_model.eval()):
        for s_in in model.input_strides:
            windows = UpliftUpsampleWindows(test, n, model.output_stride, [s_in], train=False, center_step=10)
            batch = next(iter(DataLoader(windows, batch_size=len(windows))))
            centre = batch["pose_3d"][:, n // 2]
            baseline = (centre - centre.mean(0)).norm(dim=-1).mean()
            with torch.no_grad():
                out = net(batch["keypoints_2d"], batch["stride_mask"])
            error = (out.central - centre).norm(dim=-1).mean()
            assert error < 0.75 * baseline, (s_in, float(error), float(baseline))
