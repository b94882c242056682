"""Training smoke tests of RTPCA / MixSTE on real motion-capture windows (CPU).

2D inputs come from projecting the CMU mocap windows (H36M-17, metres, Z up)
through one fixed pinhole camera; targets are the root-relative camera-frame
3D poses. The loss is the family's training objective,
:class:`posezoo.losses.RTPCALoss` with the released coefficients (weighted
MPJPE + 0.5 temporal consistency + 2 velocity error).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import posezoo
from posezoo.data import cmu_mocap
from posezoo.losses import RTPCALoss
from posezoo.skeleton import joint_weights

FRAMES = 27
CAMERA_DISTANCE_M = 4.5
CAMERA_HEIGHT_M = 1.0
FOCAL = 2.0  # normalised focal length: the 2D poses span about [-0.8, 0.8]


def mocap_windows(split: str, frames: int, stride: int, limit: int | None = None) -> np.ndarray:
    """``(N, frames, 17, 3)`` windows of every clip of a CMU split (world metres); ``limit`` picks evenly
    spaced ones."""
    data = cmu_mocap(split)
    windows = [data[k][s : s + frames] for k in sorted(data) for s in range(0, len(data[k]) - frames + 1, stride)]
    out = np.stack(windows)
    if limit is not None:
        out = out[np.linspace(0, len(out) - 1, limit).astype(int)]
    return out


def project(world: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Fixed camera looking along +Y at the window's first pelvis position.

    Returns ``(x2d (N, T, 17, 2), y3d (N, T, 17, 3))``: normalised image
    coordinates and root-relative camera-frame poses in metres.
    """
    w = torch.from_numpy(world).float()
    origin = w[:, :1, :1, :]
    cam = torch.stack(
        [w[..., 0] - origin[..., 0], CAMERA_HEIGHT_M - w[..., 2], w[..., 1] - origin[..., 1] + CAMERA_DISTANCE_M],
        dim=-1,
    )
    x2d = FOCAL * cam[..., :2] / cam[..., 2:]
    return x2d, cam - cam[:, :, :1]


_WEIGHTS = joint_weights("h36m")
rtpca_objective = RTPCALoss()  # H36M joint weights, lambda_t 0.5, lambda_m 2.0 (the released loop)


def _released_objective(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L_w + 0.5 L_tc + 2 L_v as the released training loop writes it (reference README 7.1)."""
    weighted = (_WEIGHTS * (pred - target).norm(dim=-1)).mean()
    dp, dt = pred.diff(dim=1), target.diff(dim=1)
    consistency = (_WEIGHTS[:, None] * dp.square()).mean()
    velocity = (dp - dt).norm(dim=-1).mean()
    return weighted + 0.5 * consistency + 2.0 * velocity


def mpjpe_mm(pred: torch.Tensor, target: torch.Tensor) -> float:
    return float((pred - target).norm(dim=-1).mean()) * 1000


def _train(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int, batch: int, lr: float) -> list[float]:
    gen = torch.Generator().manual_seed(0)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.1)
    model.train()
    losses = []
    for _ in range(steps):
        idx = torch.randint(0, len(x), (batch,), generator=gen)
        loss = rtpca_objective(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def _evaluate(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    model.eval()
    with torch.no_grad():
        pred = model(x)
    return rtpca_objective(pred, y).item(), mpjpe_mm(pred, y)


def test_projection_and_objective_are_sane() -> None:
    x, y = project(mocap_windows("sample", FRAMES, FRAMES, limit=4))
    assert x.shape == (4, FRAMES, 17, 2) and y.shape == (4, FRAMES, 17, 3)
    assert x.abs().max() < 1.5 and (y[:, :, 0] == 0).all()
    # a perfect prediction leaves only the temporal-consistency term (it penalises the prediction's own motion)
    smoothness = 0.5 * (_WEIGHTS[:, None] * y.diff(dim=1).square()).mean()
    torch.testing.assert_close(rtpca_objective(y, y), smoothness)
    assert smoothness > 0
    shifted = y + torch.tensor([0.01, 0.0, 0.0])  # 1 cm everywhere: L_w = mean joint weight * 0.01, same motion
    torch.testing.assert_close(rtpca_objective(shifted, y), _WEIGHTS.mean() * 0.01 + smoothness)
    noisy = y + 0.05 * torch.randn(y.shape, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(rtpca_objective(noisy, y), _released_objective(noisy, y))


@pytest.mark.parametrize("name", ["rtpca_small"])  # MixSTE shares the encoder; it trains in the slow test
def test_a_few_dozen_steps_reduce_the_loss_on_tiny_data(name: str) -> None:
    torch.manual_seed(0)
    x, y = project(mocap_windows("train", FRAMES, FRAMES, limit=16))
    model = posezoo.create_model(name, dim=32, depth=2)  # a narrower, shallower copy of the small variant
    before, _ = _evaluate(model, x, y)
    losses = _train(model, x, y, steps=20, batch=4, lr=3e-3)
    after, _ = _evaluate(model, x, y)
    assert np.isfinite(losses).all()
    assert after < 0.6 * before, (before, after)
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["rtpca_small", "mixste_small"])
def test_a_few_hundred_steps_learn_to_lift_held_out_mocap(name: str) -> None:
    torch.manual_seed(0)
    x, y = project(mocap_windows("train", FRAMES, 13))
    x_test, y_test = project(mocap_windows("test", FRAMES, FRAMES, limit=64))
    model = posezoo.create_model(name)
    before, mpjpe_before = _evaluate(model, x_test, y_test)
    _train(model, x, y, steps=300, batch=8, lr=1e-3)
    after, mpjpe_after = _evaluate(model, x_test, y_test)
    mean_pose = y.mean(dim=(0, 1), keepdim=True).expand_as(y_test)
    assert after < 0.4 * before, (before, after)
    # better than always predicting the training set's mean pose (about 180 mm here)
    assert mpjpe_after < mpjpe_mm(mean_pose, y_test), (mpjpe_before, mpjpe_after)
