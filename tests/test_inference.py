"""posezoo.lift() / posezoo.refine() against by-hand window loops, with test-only stand-in models.

The stand-ins follow the interface contracts of the three families:
plain lifters ``model(x (B, T, J, 2)) -> (B, T, J, 3)``; Uplift-and-Upsample
``model(keypoints (B, N, J, 2), stride_mask (B, N)) -> .central (B, J, 3)``;
MixSynthFormer ``model(x (B, T, J, D) | (B, T, J*D)) -> same shape``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import pytest
import torch
from torch import nn

import posezoo
from posezoo.data.stride_masks import stride_mask
from posezoo.models import PoseModel
from posezoo.skeleton import COCO_17, H36M_17, coco_to_h36m

from .conftest import TinyLifter

PERM = list(H36M_17.flip_permutation)


@pytest.fixture(autouse=True)
def _one_thread():
    """Thousands of tiny single-window forward calls: one intra-op thread is far faster on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@dataclass
class _UUOutput:
    full: Optional[torch.Tensor]
    central: torch.Tensor


class TinyUpliftUpsample(PoseModel):
    """Test-only stand-in: keyframe embedding, learnable upsampling token, temporal mixing."""

    def __init__(
        self,
        num_frames: int = 9,
        num_joints: int = 17,
        output_stride: int = 2,
        input_strides: tuple = (2, 4, 8),
        dim: int = 8,
    ) -> None:
        super().__init__()
        self.num_frames, self.num_joints, self.in_channels = num_frames, num_joints, 2
        self.output_stride, self.input_strides = output_stride, list(input_strides)
        self.embed = nn.Linear(2, dim)
        self.token = nn.Parameter(torch.randn(dim))
        self.time_mix = nn.Linear(num_frames, num_frames)
        self.head = nn.Linear(dim, 3)

    def forward(self, keypoints_2d: torch.Tensor, stride_mask: torch.Tensor) -> _UUOutput:
        h = torch.tanh(self.embed(keypoints_2d))  # (B, N, J, D)
        m = stride_mask[:, :, None, None].to(h.dtype)
        h = m * h + (1 - m) * self.token
        full = self.head(self.time_mix(h.transpose(1, -1)).transpose(1, -1))
        return _UUOutput(full=full, central=full[:, self.num_frames // 2])


class TinySynth(PoseModel):
    """Test-only MixSynthFormer stand-in: reads keyframes 0, K, ..., W-1 only."""

    def __init__(
        self, sample_interval: int = 3, num_keyframes: int = 4, num_joints: int = 17, in_channels: int = 3
    ) -> None:
        super().__init__()
        self.sample_interval, self.num_keyframes = sample_interval, num_keyframes
        self.num_frames = sample_interval * (num_keyframes - 1) + 1
        self.num_joints, self.in_channels = num_joints, in_channels
        self.interp = nn.Linear(num_keyframes, self.num_frames)
        self.mix = nn.Linear(num_joints * in_channels, num_joints * in_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t = x.shape[:2]
        flat = x.reshape(b, t, -1)
        keys = flat[:, :: self.sample_interval]
        interp = self.interp(keys.transpose(1, 2)).transpose(1, 2)
        return (interp + 0.1 * self.mix(interp)).reshape(x.shape)


def _seed_models():
    torch.manual_seed(0)
    return TinyLifter(num_frames=27), TinyUpliftUpsample(), TinySynth()


def _walk_2d(length: int, seed: int = 0) -> np.ndarray:
    """A smooth (T, 17, 2) sequence in normalised coordinates."""
    rng = np.random.default_rng(seed)
    base = rng.normal(scale=0.2, size=(1, 17, 2))
    t = np.arange(length)[:, None, None] / 50.0
    return (base + 0.05 * np.sin(2 * np.pi * t * rng.uniform(0.5, 2, size=(1, 17, 2)))).astype(np.float32)


def _mirror(x: np.ndarray) -> np.ndarray:
    out = x[:, PERM].copy()
    out[..., 0] *= -1
    return out


# ---------------------------------------------------------------- by-hand references


@torch.no_grad()
def _lift_by_hand(model: nn.Module, x: np.ndarray, flip: bool) -> np.ndarray:
    """Window by window, one window per call: chunks of T, the last aligned to the end."""
    t, length = model.num_frames, len(x)

    def run(window: np.ndarray) -> np.ndarray:
        y = model(torch.tensor(window[None], dtype=torch.float32))[0].numpy()
        if flip:
            y_m = model(torch.tensor(_mirror(window)[None], dtype=torch.float32))[0].numpy()
            y = (y + _mirror(y_m)) / 2
        return y

    out = np.zeros((length, x.shape[1], 3))
    if length < t:
        before = (t - length) // 2
        index = np.clip(np.arange(t) - before, 0, length - 1)
        out[:] = run(x[index])[before : before + length]
    else:
        for s in range(0, length - t + 1, t):
            out[s : s + t] = run(x[s : s + t])
        rest = length % t
        if rest:
            out[length - rest :] = run(x[length - t :])[t - rest :]
    return out - out[:, :1]


@torch.no_grad()
def _uplift_by_hand(model: TinyUpliftUpsample, keyframes: np.ndarray, s_in: int, length: int, flip: bool) -> np.ndarray:
    """One window per output centre (every s_out-th frame, the last at or past the end), then np.interp."""
    n, s_out = model.num_frames, model.output_stride
    centres = list(range(0, length, s_out))
    if centres[-1] != length - 1:
        centres.append(centres[-1] + s_out)
    preds = []
    for c in centres:
        mask = stride_mask(n, s_in, s_out, center_frame=c)
        frames = [c + (i - n // 2) * s_out for i in range(n)]
        tokens = np.zeros((n, 17, 2), np.float32)
        for i, f in enumerate(frames):
            if mask[i]:
                tokens[i] = keyframes[min(max(f // s_in, 0), len(keyframes) - 1)]
        y = model(torch.tensor(tokens[None]), mask[None]).central[0].numpy()
        if flip:
            y_m = model(torch.tensor(_mirror(tokens)[None]), mask[None]).central[0].numpy()
            y = (y + _mirror(y_m[None])[0]) / 2
        preds.append(y)
    preds = np.stack(preds)
    out = np.zeros((length, 17, 3))
    for j in range(17):
        for k in range(3):
            out[:, j, k] = np.interp(np.arange(length), centres, preds[:, j, k])
    return out - out[:, :1]


@torch.no_grad()
def _refine_by_hand(model: TinySynth, x: np.ndarray, step: int) -> np.ndarray:
    """Windows start every ``step`` keyframes (on the K grid); the end is padded with the last frame."""
    w, length, stride = model.num_frames, len(x), step * model.sample_interval
    padded = list(x)
    while len(padded) < w or (len(padded) - w) % stride:
        padded.append(x[-1])
    padded = np.stack(padded)
    total, count = np.zeros(padded.shape), np.zeros(len(padded))
    for s in range(0, len(padded) - w + 1, stride):
        assert s % model.sample_interval == 0  # keyframes stay on the global grid
        total[s : s + w] += model(torch.tensor(padded[s : s + w][None], dtype=torch.float32))[0].numpy()
        count[s : s + w] += 1
    return (total / count.reshape(-1, *[1] * (x.ndim - 1)))[:length]


# ---------------------------------------------------------------- lift: plain models


@pytest.mark.parametrize("flip", [True, False])
def test_lift_1000_frames_equals_window_loop(flip: bool) -> None:
    model, _, _ = _seed_models()
    x = _walk_2d(1000)
    out = posezoo.lift(x, model, flip_tta=flip, batch_size=8)
    assert isinstance(out, np.ndarray) and out.shape == (1000, 17, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out, _lift_by_hand(model, x, flip), atol=2e-6)
    assert np.all(out[:, 0] == 0)
    # the batch size does not change the result
    np.testing.assert_allclose(posezoo.lift(x, model, flip_tta=flip, batch_size=64), out, atol=2e-6)


@pytest.mark.parametrize("length", [1, 26, 27, 273])
def test_lift_any_length(length: int) -> None:
    model, _, _ = _seed_models()
    x = _walk_2d(length, seed=length)
    out = posezoo.lift(x, model)
    assert out.shape == (length, 17, 3)
    np.testing.assert_allclose(out, _lift_by_hand(model, x, True), atol=2e-6)


def test_lift_keeps_kind_device_and_dtype() -> None:
    model, _, _ = _seed_models()
    x = _walk_2d(60)
    ref = posezoo.lift(x, model)
    out_t = posezoo.lift(torch.tensor(x), model)
    assert isinstance(out_t, torch.Tensor) and out_t.dtype == torch.float32 and out_t.device.type == "cpu"
    assert not out_t.is_inference() and not out_t.requires_grad
    out_t.mul_(1.0)  # an ordinary tensor: in-place use outside inference_mode works
    np.testing.assert_allclose(out_t.numpy(), ref, atol=1e-6)
    out64 = posezoo.lift(x.astype(np.float64), model)
    assert out64.dtype == np.float64
    out_list = posezoo.lift([x, torch.tensor(x[:10])], model)
    assert isinstance(out_list, list) and isinstance(out_list[1], torch.Tensor)
    np.testing.assert_allclose(out_list[0], ref, atol=1e-6)
    assert out_list[1].shape == (10, 17, 3)
    # the module's train/eval mode is restored
    model.train()
    posezoo.lift(x, model)
    assert model.training


def test_lift_by_name(tiny_name: str) -> None:
    torch.manual_seed(0)
    out = posezoo.lift(_walk_2d(12), tiny_name, pretrained=False)
    assert out.shape == (12, 17, 3) and np.isfinite(out).all()


def test_lift_pixels_and_coco_layout() -> None:
    model, _, _ = _seed_models()
    x = _walk_2d(80)
    w, h = 1280, 720
    pixels = (x + [1.0, h / w]) * w / 2
    np.testing.assert_allclose(posezoo.lift(pixels, model, image_size=(w, h)), posezoo.lift(x, model), atol=1e-5)
    coco = np.random.default_rng(3).uniform(0, 1000, size=(50, 17, 2)).astype(np.float32)
    out = posezoo.lift(coco, model, layout="coco", image_size=(1000, 1000))
    expected = posezoo.lift(coco_to_h36m(coco), model, image_size=(1000, 1000))
    np.testing.assert_allclose(out, expected, atol=1e-6)
    with pytest.warns(UserWarning, match="looks like pixels"):
        posezoo.lift(coco, model, layout="coco")


def test_lift_confidence_masks_missing_keypoints() -> None:
    model, _, _ = _seed_models()
    x = _walk_2d(40)
    conf = np.ones((40, 17), np.float32)
    x_nan = x.copy()
    x_nan[10:13, 5] = np.nan  # the left knee is lost for three frames
    conf[10:13, 5] = 0
    filled = x.copy()
    for f in (10, 11, 12):  # linear interpolation between frames 9 and 13, by hand
        filled[f, 5] = x[9, 5] + (x[13, 5] - x[9, 5]) * (f - 9) / 4
    out = posezoo.lift(x_nan, model, confidence=conf)
    np.testing.assert_allclose(out, posezoo.lift(filled, model), atol=1e-6)
    # a threshold also marks low scores as missing
    conf_low = np.ones((40, 17)) * 0.9
    conf_low[10:13, 5] = 0.2
    np.testing.assert_allclose(posezoo.lift(x_nan, model, confidence=conf_low, min_confidence=0.3), out, atol=1e-6)
    with pytest.raises(ValueError, match=r"3 non-finite keypoints \(first at frame 10, joint 5\)"):
        posezoo.lift(x_nan, model)
    conf_all = np.ones((40, 17))
    conf_all[:, 5] = 0
    with pytest.raises(ValueError, match=r"joint 5 \(left_knee\) is missing in every frame"):
        posezoo.lift(x, model, confidence=conf_all)
    with pytest.raises(ValueError, match=r"confidence must have shape \(T, J\) = \(40, 17\)"):
        posezoo.lift(x, model, confidence=np.ones((40, 16)))


def test_lift_coco_confidence_in_coco_layout() -> None:
    model, _, _ = _seed_models()
    coco = np.random.default_rng(4).uniform(-0.5, 0.5, size=(30, 17, 2)).astype(np.float32)
    # a frame without any detection: every H36M joint is interpolated over time, which for the (linear)
    # conversion is the conversion of the interpolated COCO frame
    conf = np.ones((30, 17), np.float32)
    coco_nan = coco.copy()
    coco_nan[7], conf[7] = np.nan, 0
    out = posezoo.lift(coco_nan, model, layout="coco", confidence=conf)
    fixed = coco.copy()
    fixed[7] = (coco[6] + coco[8]) / 2
    np.testing.assert_allclose(out, posezoo.lift(fixed, model, layout="coco"), atol=1e-6)
    # one hip lost: the pelvis, hips and spine of that frame come from the fallback rules (the other hip and
    # the shoulder line), not from interpolation over time
    conf = np.ones((30, 17), np.float32)
    coco_nan = coco.copy()
    lh = COCO_17.index("left_hip")
    coco_nan[7, lh], conf[7, lh] = np.nan, 0
    h36m, h_conf = coco_to_h36m(coco_nan, conf)
    lost = np.zeros((30, 17), bool)
    lost[7, H36M_17.index("left_hip")] = True  # the only H36M joint no rule can make
    assert np.isnan(h36m[lost]).all() and np.isfinite(h36m[~lost]).all()
    assert (h_conf[lost] == 0).all() and (h_conf[~lost] == 1).all()
    np.testing.assert_allclose(h36m[np.arange(30) != 7], coco_to_h36m(coco)[np.arange(30) != 7], atol=1e-6)
    assert np.abs(h36m[7, H36M_17.index("pelvis")] - coco_to_h36m(coco)[7, 0]).max() > 1e-3  # not the old value
    out = posezoo.lift(coco_nan, model, layout="coco", confidence=conf)
    np.testing.assert_allclose(out, posezoo.lift(h36m, model, confidence=h_conf), atol=1e-6)


def test_lift_validation_errors() -> None:
    model, _, synth = _seed_models()
    x = _walk_2d(20)
    with pytest.raises(ValueError, match=r"must have shape \(T, J, 2\), got \(17, 2\) \(rank 2\)"):
        posezoo.lift(x[0], model)
    with pytest.raises(ValueError, match="is empty"):
        posezoo.lift(x[:0], model)
    with pytest.raises(ValueError, match="2 coordinates per joint"):
        posezoo.lift(np.zeros((5, 17, 3)), model)
    with pytest.raises(ValueError, match="layout 'h36m' has 17 joints, but keypoints_2d has 16"):
        posezoo.lift(np.zeros((5, 16, 2)), model)
    with pytest.raises(ValueError, match="the model expects 17 joints, the input has 15"):
        posezoo.lift(np.zeros((5, 15, 2)), model, layout="humaneva")
    with pytest.raises(TypeError, match="numpy array or torch tensor"):
        posezoo.lift(x.tolist()[0], model)
    with pytest.raises(ValueError, match="empty list"):
        posezoo.lift([], model)
    with pytest.raises(TypeError, match="registered model name or an nn.Module"):
        posezoo.lift(x, 3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="use posezoo.refine"):
        posezoo.lift(x, synth)
    with pytest.raises(ValueError, match="needs an Uplift-and-Upsample model"):
        posezoo.lift(x, model, input_stride=2)
    with pytest.raises(ValueError, match="image_size must be positive"):
        posezoo.lift(x, model, image_size=(0, 10))
    with pytest.raises(ValueError, match="keypoints_2d\\[1\\] must have shape"):
        posezoo.lift([x, x[0]], model)


# ---------------------------------------------------------------- lift: Uplift-and-Upsample


@pytest.mark.parametrize("s_in", [2, 4, 8])
def test_lift_uplift_upsample_1000_frames_equals_window_loop(s_in: int) -> None:
    _, uu, _ = _seed_models()
    video = _walk_2d(1000)
    keyframes = video[::s_in]  # the 2D is known only every s_in frames
    out = posezoo.lift(keyframes, uu, input_stride=s_in, output_length=1000)
    assert out.shape == (1000, 17, 3)
    np.testing.assert_allclose(out, _uplift_by_hand(uu, keyframes, s_in, 1000, flip=True), atol=2e-6)
    default = posezoo.lift(keyframes, uu, input_stride=s_in, flip_tta=False)
    assert default.shape == ((len(keyframes) - 1) * s_in + 1, 17, 3)
    np.testing.assert_allclose(default, _uplift_by_hand(uu, keyframes, s_in, len(default), flip=False), atol=2e-6)


def test_lift_uplift_upsample_full_rate_input_and_short_sequences() -> None:
    _, uu, _ = _seed_models()
    video = _walk_2d(101)
    # full-rate input: the smallest supported stride (2) is used on every 2nd frame
    full = posezoo.lift(video, uu)
    assert full.shape == (101, 17, 3)
    np.testing.assert_allclose(full, posezoo.lift(video[::2], uu, input_stride=2), atol=1e-6)
    one = posezoo.lift(video[:1], uu, input_stride=4)
    assert one.shape == (1, 17, 3)
    np.testing.assert_allclose(one, _uplift_by_hand(uu, video[:1], 4, 1, flip=True), atol=2e-6)
    with pytest.raises(ValueError, match=r"output_length must lie in \[9, 12\]"):
        posezoo.lift(video[:3], uu, input_stride=4, output_length=13)
    with pytest.raises(ValueError, match="none of them is a multiple"):
        posezoo.lift(video, uu, input_stride=3)


# ---------------------------------------------------------------- refine


@pytest.mark.parametrize("step", [None, 2])
def test_refine_1000_frames_equals_window_loop(step) -> None:
    _, _, synth = _seed_models()
    noisy = np.random.default_rng(5).normal(size=(1000, 17, 3)).astype(np.float32)
    out = posezoo.refine(noisy, synth, window_step=step)
    assert isinstance(out, np.ndarray) and out.shape == (1000, 17, 3)
    np.testing.assert_allclose(out, _refine_by_hand(synth, noisy, step or 1), atol=2e-6)
    flat = posezoo.refine(torch.tensor(noisy.reshape(1000, 51)), synth, window_step=step)
    assert isinstance(flat, torch.Tensor) and flat.shape == (1000, 51)
    np.testing.assert_allclose(flat.numpy().reshape(1000, 17, 3), out, atol=2e-6)


def test_refine_reads_only_the_keyframe_grid_and_last_frame() -> None:
    """A detector run every K frames supplies frames 0, K, 2K, ... and the last: nothing else is read."""
    _, _, synth = _seed_models()  # K = 3, W = 10
    x = np.random.default_rng(3).normal(size=(257, 17, 3)).astype(np.float32)
    perturbed = x.copy()
    off_grid = np.setdiff1d(np.arange(257), np.append(np.arange(0, 257, 3), 256))
    perturbed[off_grid] += 100.0
    np.testing.assert_allclose(posezoo.refine(perturbed, synth), posezoo.refine(x, synth), atol=1e-5)
    with pytest.raises(ValueError, match="step must be between 1 and Q"):
        posezoo.refine(x, synth, window_step=4)


@pytest.mark.parametrize("length", [1, 5, 10, 11])
def test_refine_short_sequences(length: int) -> None:
    _, _, synth = _seed_models()  # W = 10
    x = np.random.default_rng(length).normal(size=(length, 17, 3)).astype(np.float32)
    out = posezoo.refine(x, synth, sample_interval=3)
    assert out.shape == x.shape
    np.testing.assert_allclose(out, _refine_by_hand(synth, x, 1), atol=2e-6)


def test_refine_validation() -> None:
    lifter, _, synth = _seed_models()
    x = np.zeros((20, 17, 3), np.float32)
    with pytest.raises(ValueError, match="does not match the model's sample_interval=3"):
        posezoo.refine(x, synth, sample_interval=5)
    with pytest.raises(ValueError, match=r"must have shape \(T, 17, 3\) or \(T, 51\), got \(20, 17, 2\)"):
        posezoo.refine(x[..., :2], synth)
    with pytest.raises(ValueError, match="rank 4"):
        posezoo.refine(x[None], synth)
    with pytest.raises(ValueError, match="is empty"):
        posezoo.refine(x[:0], synth)
    with pytest.raises(ValueError, match="lacks sample_interval"):
        posezoo.refine(x, lifter)
    bad = x.copy()
    bad[3, 2] = np.inf
    with pytest.raises(ValueError, match="non-finite"):
        posezoo.refine(bad, synth)
    conf = np.ones((20, 17))
    conf[3, 2] = 0
    good = x.copy()
    np.testing.assert_allclose(posezoo.refine(bad, synth, confidence=conf), posezoo.refine(good, synth), atol=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_lift_and_refine_on_cuda_keep_device_with_autocast() -> None:
    model, uu, synth = _seed_models()
    x = _walk_2d(300)
    ref = posezoo.lift(x, model)
    out = posezoo.lift(torch.tensor(x, device="cuda"), model, device="cuda")
    assert out.device.type == "cuda" and out.dtype == torch.float32
    np.testing.assert_allclose(out.cpu().numpy(), ref, atol=2e-2)  # float16 autocast
    exact = posezoo.lift(torch.tensor(x, device="cuda"), model, amp=False)
    np.testing.assert_allclose(exact.cpu().numpy(), ref, atol=1e-4)
    uu_out = posezoo.lift(x[::4], uu.cuda(), input_stride=4)
    assert isinstance(uu_out, np.ndarray) and uu_out.shape == ((75 - 1) * 4 + 1, 17, 3)
    noisy = torch.randn(100, 17, 3, device="cuda")
    assert posezoo.refine(noisy, synth.cuda()).device.type == "cuda"


# ---------------------------------------------------------------- the in-the-wild example


def test_example_lift_coco_json(tmp_path) -> None:
    import importlib.util

    from .conftest import REPO_ROOT

    spec = importlib.util.spec_from_file_location("lift_coco_json", REPO_ROOT / "examples" / "lift_coco_json.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    path = tmp_path / "dets.json"
    w, h = example.write_demo_json(path)
    keypoints, confidence = example.read_coco_results(path)
    assert (w, h) == (1000, 1000) and keypoints.shape == (205, 17, 2) and confidence.shape == (205, 17)
    # frames 50 and 51 had no detection; the clutter "person" (score 0.3, +300 px) was not picked
    assert np.isnan(keypoints[50:52]).all() and np.all(confidence[50:52] == 0)
    truth = example.h36m_to_coco_pixels(posezoo.data.load_sample("06_01"))
    inlier = confidence >= 0.7  # DetectorNoise: inliers 2 px jitter, outliers / missing score lower
    assert inlier.mean() > 0.95 and np.abs(keypoints[inlier] - truth[inlier]).max() < 20
    torch.manual_seed(0)
    out = posezoo.lift(
        keypoints, example.DemoLifter(), image_size=(w, h), layout="coco", confidence=confidence, min_confidence=0.1
    )
    assert out.shape == (205, 17, 3) and np.isfinite(out).all()
