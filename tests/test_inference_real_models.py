"""lift()/refine() with the registered models of every family (random weights, small variants)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import posezoo
from posezoo.skeleton import reorder_joints


def _walk(length: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.uniform(-0.4, 0.4, size=(1, 17, 2))
    t = np.linspace(0, 2 * np.pi, length)[:, None, None]
    return (base + 0.1 * np.sin(t + rng.uniform(0, 6, size=(1, 17, 1)))).astype(np.float32)


@pytest.mark.parametrize("name", ["rtpca_small", "mixste_small"])
def test_lift_with_seq2seq_models(name: str) -> None:
    torch.manual_seed(0)
    model = posezoo.create_model(name).eval()
    x = _walk(61)
    out = posezoo.lift(x, model, batch_size=4)
    assert out.shape == (61, 17, 3) and np.isfinite(out).all()
    np.testing.assert_allclose(out[:, 0], 0.0, atol=1e-6)  # root-relative
    # the first window by hand (flip TTA averaged with the mirrored prediction)
    with torch.no_grad():
        window = torch.tensor(x[: model.num_frames])[None]
        plain = model(window)[0]
        mirrored = posezoo.skeleton.flip_pose(model(posezoo.skeleton.flip_pose(window, "h36m"))[0], "h36m")
        expected = ((plain + mirrored) / 2).numpy()
    np.testing.assert_allclose(out[: model.num_frames], expected - expected[:, :1], atol=2e-5)


@pytest.mark.parametrize("length", [100, 101, 7])
def test_lift_uplift_upsample_any_length(length: int) -> None:
    """Even lengths leave the last frame off the s_out grid: centres stay on the grid."""
    torch.manual_seed(0)
    model = posezoo.create_model("uplift_upsample_small").eval()
    out = posezoo.lift(_walk(length), model, batch_size=16)
    assert out.shape == (length, 17, 3) and np.isfinite(out).all()
    s_in = model.input_strides[-1]
    keyframes = _walk(length)[::s_in]
    sparse = posezoo.lift(keyframes, model, input_stride=s_in, output_length=length, batch_size=16)
    assert sparse.shape == (length, 17, 3) and np.isfinite(sparse).all()


class _ReorderingWrapper(nn.Module):
    """An H36M-order view of an official-order model (what lift() must do internally)."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        for attr in ("num_frames", "num_joints", "in_channels", "output_stride", "input_strides"):
            setattr(self, attr, getattr(inner, attr))

    def forward(self, x: torch.Tensor, mask: torch.Tensor):
        out = self.inner(reorder_joints(x, "h36m", "uplift_upsample"), mask)
        out.central = reorder_joints(out.central, "uplift_upsample", "h36m")
        return out


def test_lift_respects_official_joint_order() -> None:
    torch.manual_seed(0)
    official = posezoo.create_model("uplift_upsample_small", joint_order="official").eval()
    x = _walk(40)
    got = posezoo.lift(x, official, batch_size=16)
    expected = posezoo.lift(x, _ReorderingWrapper(official), batch_size=16)
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_refine_with_mixsynthformer() -> None:
    torch.manual_seed(0)
    model = posezoo.create_model("mixsynthformer_h36m_3d").eval()
    noisy = np.random.default_rng(1).normal(scale=0.1, size=(257, 17, 3)).astype(np.float32)
    out = posezoo.refine(noisy, model)
    assert out.shape == noisy.shape and np.isfinite(out).all()
    # the first window alone covers frames 0..100; with step 1 keyframe frame 0 is only in window 0
    with torch.no_grad():
        first = model(torch.tensor(noisy[: model.num_frames])[None])[0].numpy()
    np.testing.assert_allclose(out[0], first[0], atol=1e-5)
