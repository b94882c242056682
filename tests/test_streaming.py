"""StreamingLifter: streaming equals its definition (direct window computations) frame by frame."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import posezoo
from posezoo.data import normalize_screen_coordinates
from posezoo.skeleton import coco_to_h36m, flip_pose

from .conftest import TinyLifter

FRAMES = 40


@pytest.fixture(scope="module")
def rtpca() -> torch.nn.Module:
    torch.manual_seed(0)
    return posezoo.create_model("rtpca_small").eval()


@pytest.fixture(scope="module")
def mixste() -> torch.nn.Module:
    torch.manual_seed(1)
    return posezoo.create_model("mixste_small").eval()


@pytest.fixture(scope="module")
def uplift() -> torch.nn.Module:
    torch.manual_seed(2)
    return posezoo.create_model("uplift_upsample_small").eval()


def _walk(n: int, seed: int = 0) -> np.ndarray:
    """``(n, 17, 2)`` normalised 2D: a random pose plus a smooth random drift."""
    rng = np.random.default_rng(seed)
    base = 0.3 * rng.standard_normal((1, 17, 2))
    drift = np.cumsum(0.02 * rng.standard_normal((n, 17, 2)), axis=0)
    return (base + drift).astype(np.float32)


def _definition(model: torch.nn.Module, x: np.ndarray, latency: int, flip: bool = False) -> np.ndarray:
    """Frame i = model output at position T-1-L of frames i+L-T+1 .. i+L clamped to [0, n-1]."""
    t, n = model.num_frames, len(x)
    index = np.clip(np.arange(n)[:, None] + latency - t + 1 + np.arange(t)[None, :], 0, n - 1)
    windows = torch.as_tensor(x[index])
    with torch.no_grad():
        out = model(windows)[:, t - 1 - latency]
        if flip:
            out = (out + flip_pose(model(flip_pose(windows))[:, t - 1 - latency])) / 2
    return (out - out[:, :1]).numpy()


def _stream(lifter: posezoo.StreamingLifter, frames, confidence=None) -> tuple[list[list[int]], list[int], np.ndarray]:
    """Push every frame; returns (indices returned by each push, indices of flush, poses in order)."""
    per_push, poses = [], {}
    for k, frame in enumerate(frames):
        out = lifter.push(frame, None if confidence is None else confidence[k])
        per_push.append([i for i, _ in out])
        poses.update(out)
    tail = lifter.flush()
    poses.update(tail)
    for pose in poses.values():
        assert pose.dtype == np.float32 and pose.shape == (17, 3)
    return per_push, [i for i, _ in tail], np.stack([poses[i] for i in sorted(poses)])


@pytest.mark.parametrize("latency", [0, 5, 13])
def test_streaming_equals_the_definition(rtpca: torch.nn.Module, latency: int) -> None:
    x = _walk(FRAMES)
    per_push, tail, poses = _stream(posezoo.StreamingLifter(rtpca, latency=latency), x)
    # after pushing frame t, frame t - latency (and only it) is final; flush returns the last `latency`
    assert per_push == [[t - latency] if t >= latency else [] for t in range(FRAMES)]
    assert tail == list(range(FRAMES - latency, FRAMES))
    np.testing.assert_allclose(poses, _definition(rtpca, x, latency), atol=1e-4)
    assert np.abs(poses).max() > 1e-3  # not all zeros
    assert np.abs(poses[:, 0]).max() == 0  # root-relative


def test_streaming_flip_pixels_and_layout(mixste: torch.nn.Module) -> None:
    """COCO pixels in: converted to H36M and normalised once per frame; flip TTA averaged."""
    w, h = 1280, 720
    coco = (_walk(30, seed=3)[:, :17] + [1.0, h / w]) * w / 2  # any 17 points, as COCO pixels
    lifter = posezoo.StreamingLifter(mixste, latency=4, flip_tta=True, layout="coco", image_size=(w, h))
    _, _, poses = _stream(lifter, coco)
    expected = normalize_screen_coordinates(coco_to_h36m(coco.astype(np.float64)), w, h).astype(np.float32)
    np.testing.assert_allclose(poses, _definition(mixste, expected, 4, flip=True), atol=1e-4)


def test_stream_shorter_than_latency_and_window(mixste: torch.nn.Module) -> None:
    x = _walk(4, seed=4)
    lifter = posezoo.StreamingLifter(mixste, latency=26)
    per_push, tail, poses = _stream(lifter, x)
    assert per_push == [[]] * 4 and tail == [0, 1, 2, 3]
    np.testing.assert_allclose(poses, _definition(mixste, x, 26), atol=1e-4)
    # a stream can restart after flush() with reset(); the same input gives the same poses
    with pytest.raises(RuntimeError, match="reset"):
        lifter.push(x[0])
    lifter.reset()
    assert lifter.frames_pushed == 0
    np.testing.assert_allclose(_stream(lifter, x)[2], poses, atol=0)


def test_models_without_a_per_frame_stage_run_whole_windows() -> None:
    torch.manual_seed(5)
    tiny = TinyLifter(num_frames=5).eval()
    x = _walk(12, seed=5)
    for latency in (0, 2, 4):
        np.testing.assert_allclose(
            _stream(posezoo.StreamingLifter(tiny, latency=latency, flip_tta=True), x)[2],
            _definition(tiny, x, latency, flip=True),
            atol=1e-5,
        )


def test_missing_keypoints_hold_their_last_position(mixste: torch.nn.Module) -> None:
    x = _walk(20, seed=6)
    conf = np.ones((20, 17), np.float32)
    noisy = x.copy()
    conf[5:9, 3] = 0.0
    noisy[5:9, 3] = np.nan  # missing keypoints may be NaN
    conf[0:3, 16] = 0.0  # never seen yet: the mean of the frame's other joints
    held = x.copy()
    held[5:9, 3] = x[4, 3]
    held[0:3, 16] = x[0:3, :16].mean(1)
    lifter = posezoo.StreamingLifter(mixste, latency=2)
    np.testing.assert_allclose(_stream(lifter, noisy, conf)[2], _definition(mixste, held, 2), atol=1e-4)
    lifter = posezoo.StreamingLifter(mixste, latency=2)
    with pytest.raises(ValueError, match="no confident keypoint"):
        lifter.push(x[0], np.zeros(17))
    with pytest.raises(ValueError, match="non-finite"):
        lifter.push(noisy[5])  # NaN without a confidence


def _uplift_definition(model, keys: np.ndarray, s_in: int, latency: int, length: int, flip: bool = False) -> np.ndarray:
    """Grid point g from token N-1-L of grid points g+L-N+1 .. g+L; full-rate frames interpolated.
    ``keys``: the model's keyframes, at video frames 0, s_in, 2 s_in, ..."""
    n, s_out = model.num_frames, model.output_stride
    grid = np.arange(-(-(length - 1) // s_out) + 1)
    frames = (grid[:, None] + latency - n + 1 + np.arange(n)[None, :]) * s_out
    mask = torch.as_tensor(frames % s_in == 0)
    kp = torch.as_tensor(keys[np.clip(frames // s_in, 0, len(keys) - 1)])
    p = n - 1 - latency

    def run(inputs):
        out = model(inputs, mask)
        return out.central if p == n // 2 else out.full[:, p]

    with torch.no_grad():
        pose = run(kp)
        if flip:
            pose = (pose + flip_pose(run(flip_pose(kp)))) / 2
    pose = (pose - pose[:, :1]).numpy()
    t = np.arange(length)
    return np.stack([np.interp(t, grid * s_out, c) for c in pose.reshape(len(grid), -1).T], -1).reshape(length, 17, 3)


@pytest.mark.parametrize(("latency", "stride"), [(0, 4), (5, 4), (13, 4), (3, 1)])
def test_uplift_streaming_equals_the_definition(uplift: torch.nn.Module, latency: int, stride: int) -> None:
    """Pushes every `stride` frames; the model's s_in is 4 for stride 4, and 2 (every 2nd push) for stride 1."""
    keys, s_out = _walk(14 if stride == 4 else 40, seed=7), 2
    s_in, every = (4, 1) if stride == 4 else (2, 2)
    length = len(keys) * stride
    per_push, tail, poses = _stream(posezoo.StreamingLifter(uplift, latency=latency, input_stride=stride), keys)
    np.testing.assert_allclose(poses, _uplift_definition(uplift, keys[::every], s_in, latency, length), atol=1e-4)
    # frame f is returned by the first push after which the stream reached f and the keyframe at
    # ((ceil(f / s_out) + latency) * s_out // s_in) * s_in was pushed
    returned_by = {f: k for k, fs in enumerate(per_push) for f in fs}
    for f in range(length):
        due = max(f // stride, ((-(-f // s_out) + latency) * s_out // s_in) * s_in // stride)
        assert returned_by.get(f, len(keys)) == min(due, len(keys)), f
    assert tail == [f for f in range(length) if f not in returned_by]


def test_uplift_centred_latency_reproduces_lift(uplift: torch.nn.Module) -> None:
    keys = _walk(9, seed=8)
    for s_in in (1, 2, 8):  # 1: every frame pushed, every 2nd used (the model's smallest s_in is 2), as lift()
        _, _, poses = _stream(posezoo.StreamingLifter(uplift, latency=13, input_stride=s_in, flip_tta=True), keys)
        expected = posezoo.lift(keys, uplift, input_stride=s_in, output_length=9 * s_in, flip_tta=True)
        np.testing.assert_allclose(poses, expected, atol=1e-4)


def test_optimize_hook(mixste: torch.nn.Module, monkeypatch: pytest.MonkeyPatch) -> None:
    x = _walk(8, seed=9)
    monkeypatch.delattr(posezoo, "optimize_for_inference", raising=False)
    with pytest.warns(UserWarning, match="no optimize_for_inference"):
        lifter = posezoo.StreamingLifter(mixste, latency=1, optimize=True)
    np.testing.assert_allclose(_stream(lifter, x)[2], _definition(mixste, x, 1), atol=1e-4)
    calls = []

    class Wrapped(torch.nn.Module):  # an optimised module: same call signature, no per-frame stage
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return self.inner(x)

    def fake(model, **kwargs):
        calls.append(kwargs)
        return Wrapped(model)

    monkeypatch.setattr(posezoo, "optimize_for_inference", fake, raising=False)
    lifter = posezoo.StreamingLifter(mixste, latency=1, optimize={"dtype": torch.float32})
    np.testing.assert_allclose(_stream(lifter, x)[2], _definition(mixste, x, 1), atol=1e-4)
    assert calls == [{"dtype": torch.float32}]


def test_bad_arguments_raise_clear_errors(mixste: torch.nn.Module, uplift: torch.nn.Module) -> None:
    with pytest.raises(ValueError, match="latency"):
        posezoo.StreamingLifter(mixste, latency=27)
    with pytest.raises(ValueError, match="latency"):
        posezoo.StreamingLifter(mixste, latency=-1)
    with pytest.raises(ValueError, match="input_stride"):
        posezoo.StreamingLifter(mixste, latency=0, input_stride=2)
    with pytest.raises(ValueError, match="input_stride=3 is not supported"):
        posezoo.StreamingLifter(uplift, latency=0, input_stride=3)
    with pytest.raises(ValueError, match="refinement model"):
        posezoo.StreamingLifter(posezoo.create_model("mixsynthformer_h36m_3d"), latency=0)
    with pytest.raises(ValueError, match="image_size"):
        posezoo.StreamingLifter(mixste, latency=0, image_size=(0, 10))
    with pytest.raises(ValueError, match="model expects 16 joints, the stream has 17"):
        posezoo.StreamingLifter(TinyLifter(num_joints=16), latency=0)
    lifter = posezoo.StreamingLifter(mixste, latency=0)
    with pytest.raises(ValueError, match=r"shape \(J, 2\)"):
        lifter.push(np.zeros((1, 17, 2)))
    with pytest.raises(ValueError, match="17 joints"):
        lifter.push(np.zeros((16, 2)))
    with pytest.raises(TypeError, match="numpy array or torch tensor"):
        lifter.push([[0.0, 0.0]] * 17)
    with pytest.raises(ValueError, match=r"shape \(J,\)"):
        lifter.push(np.zeros((17, 2)), np.ones((1, 17)))
    assert lifter.frames_pushed == 0  # nothing was added by the failed pushes


def test_stream_keypoints_example_matches_lift(tmp_path) -> None:
    """examples/stream_keypoints.py: the bundled clip pushed every 4th frame; centred latency = lift()."""
    import importlib.util

    from posezoo.data.bundled import load_sample

    from .conftest import REPO_ROOT

    spec = importlib.util.spec_from_file_location("stream_keypoints", REPO_ROOT / "examples" / "stream_keypoints.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    threads = torch.get_num_threads()
    try:
        result = example.main(["--frames", "64", "--quiet", "--out", str(tmp_path / "poses.npz")])
    finally:
        torch.set_num_threads(threads)
    saved = np.load(tmp_path / "poses.npz")
    np.testing.assert_array_equal(saved["frames"], np.arange(64))
    assert saved["push_ms"].shape == (16,) and (saved["push_ms"] > 0).all()
    sample = load_sample("06_01")
    model = posezoo.create_model("uplift_upsample_small", pretrained=True)
    expected = posezoo.lift(
        sample.keypoints_2d_px[:64:4],
        model,
        image_size=sample.image_size,
        input_stride=4,
        output_length=64,
        flip_tta=False,
    )
    np.testing.assert_allclose(saved["poses_3d"], expected, atol=1e-4)
    assert result["mpjpe_mm"] < 100  # bundled weights on a clean clip
