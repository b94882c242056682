"""posezoo.data.mocap (clips, virtual-camera pairs, detector noise) and the bundled sample."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import posezoo
from posezoo.data import DetectorNoise, VirtualCameraPairs, list_samples, load_clips, load_sample
from posezoo.data.bundled import SAMPLES_DIR
from posezoo.data.camera import VirtualCameraSampler
from posezoo.data.windows import Seq2SeqWindows, UpliftUpsampleWindows
from posezoo.skeleton import H36M_17


def _bone_lengths(poses: np.ndarray) -> np.ndarray:
    return np.stack([np.linalg.norm(poses[..., c, :] - poses[..., p, :], axis=-1) for c, p in H36M_17.bones], -1)


def test_bundled_files_are_small_and_attributed() -> None:
    files = sorted(p.name for p in SAMPLES_DIR.iterdir())
    assert files == ["ATTRIBUTION.txt", "cmu_mocap17.npz", "samples.json"]
    assert sum(p.stat().st_size for p in SAMPLES_DIR.iterdir()) <= 2 * 1024 * 1024
    text = (SAMPLES_DIR / "ATTRIBUTION.txt").read_text()
    assert "mocap.cs.cmu.edu" in text and "NSF EIA-0196217" in text and "may not resell" in text


def test_load_clips_and_validation(tmp_path: Path) -> None:
    clips = load_clips(SAMPLES_DIR / "cmu_mocap17.npz")
    assert set(clips) == {"06_01", "06_14"}
    assert clips["06_01"].shape == (205, 17, 3) and clips["06_01"].dtype == np.float32
    # world frame, Z up, metres: feet near the floor, head ~1.6-1.9 m up
    assert clips["06_01"][:, [3, 6], 2].min() > -0.05 and 1.5 < clips["06_01"][:, 10, 2].mean() < 1.95
    bad = tmp_path / "bad.npz"
    np.savez(bad, a=np.zeros((4, 16, 3), np.float32))
    with pytest.raises(ValueError, match=r"must be \(T, 17, 3\)"):
        load_clips(bad)
    nan = tmp_path / "nan.npz"
    np.savez(nan, a=np.full((4, 17, 3), np.nan, np.float32))
    with pytest.raises(ValueError, match="non-finite"):
        load_clips(nan)


def test_load_sample() -> None:
    assert list_samples() == ["06_01", "06_14"]
    s = posezoo.data.load_sample("06_01")
    assert s.fps == 50 and s.description == "walk" and s.image_size == (1000, 1000)
    assert s.poses_world.shape == s.pose_3d.shape == (205, 17, 3)
    assert s.keypoints_2d_px.shape == s.keypoints_2d.shape == (205, 17, 2)
    # the whole clip is inside the image
    assert s.keypoints_2d_px.min() > 0 and s.keypoints_2d_px.max() < 1000
    np.testing.assert_allclose(s.keypoints_2d, s.keypoints_2d_px / 500.0 - 1.0, atol=1e-6)
    # the 2D is the projection of the 3D through the camera
    cam3d = s.camera.world_to_camera(s.poses_world.astype(np.float64))
    np.testing.assert_allclose(s.keypoints_2d_px, s.camera.project(cam3d), atol=1e-3)
    np.testing.assert_allclose(s.pose_3d, cam3d - cam3d[:, :1], atol=1e-5)
    # a rigid transform keeps bone lengths
    np.testing.assert_allclose(_bone_lengths(s.pose_3d), _bone_lengths(s.poses_world), atol=1e-5)
    assert "NSF EIA-0196217" in s.attribution
    with pytest.raises(ValueError, match="unknown sample"):
        load_sample("01_01")


def test_virtual_camera_pairs() -> None:
    clips = load_clips(SAMPLES_DIR / "cmu_mocap17.npz")
    pairs = VirtualCameraPairs(clips, seed=1)
    assert len(pairs) == 2 and pairs.names == ["06_01", "06_14"]
    item = pairs[1]
    assert item["keypoints_2d"].shape == (199, 17, 2) and item["pose_3d"].dtype == torch.float32
    assert torch.all(item["pose_3d"][:, 0] == 0) and torch.all(item["confidence"] == 1)
    np.testing.assert_allclose(_bone_lengths(item["pose_3d"].numpy()), _bone_lengths(clips["06_14"]), atol=1e-5)
    # intrinsics drawn from the sampler's ranges; the subject stays inside the image width
    f, c = item["camera_intrinsics"][:2].numpy(), item["camera_intrinsics"][2:4].numpy()
    w = float(item["image_size"][0])
    assert np.abs(item["keypoints_2d"].numpy()[..., 0]).max() < 1.0
    assert f[0] == f[1] and 900 <= f[0] <= 1300 and np.all(np.abs(c - w / 2) <= 15)
    # reproducible per (seed, epoch, index); a new epoch gives a new camera
    torch.testing.assert_close(pairs[1]["keypoints_2d"], item["keypoints_2d"])
    pairs.set_epoch(1)
    assert not torch.allclose(pairs[1]["keypoints_2d"], item["keypoints_2d"])
    # as a source: every window gets its own camera, aimed at the window
    ds = Seq2SeqWindows(pairs, num_frames=27, stride=27)
    a, b = ds[0], ds[1]
    assert a["keypoints_2d"].shape == (27, 17, 2) and not torch.allclose(a["camera_intrinsics"], b["camera_intrinsics"])
    uu = UpliftUpsampleWindows(pairs, num_tokens=9, output_stride=5, input_strides=[5, 10], train=True)
    assert uu[100]["keypoints_2d"].shape == (9, 17, 2)
    with pytest.raises(ValueError, match=r"\(T >= 1, J, 3\)"):
        VirtualCameraPairs([np.zeros((0, 17, 3))])


def test_virtual_camera_pairs_without_noise_reprojects_exactly() -> None:
    # a static pose: the 2D of every frame equals the projection of pose_3d + the camera-frame root
    world = np.repeat(load_clips(SAMPLES_DIR / "cmu_mocap17.npz")["06_01"][:1], 5, axis=0)
    sampler = VirtualCameraSampler(aim_jitter_m=0.0)
    pairs = VirtualCameraPairs([world], sampler=sampler, seed=0)
    rng = np.random.default_rng([0, 0, 0])
    cam = sampler.sample_for_motion(world.astype(np.float64), rng)
    item = pairs[0]
    expected = cam.normalize(cam.project_world(world.astype(np.float64)))
    np.testing.assert_allclose(item["keypoints_2d"].numpy(), expected, atol=1e-6)


def test_detector_noise_statistics() -> None:
    rng = np.random.default_rng(0)
    clean = rng.uniform(0, 1000, size=(4000, 17, 2))
    noise = DetectorNoise(sigma_px=2.0, outlier_prob=0.05, outlier_sigma_px=50.0, missing_prob=0.1)
    noisy, conf = noise(clean, np.random.default_rng(1))
    assert noisy.shape == clean.shape and conf.shape == (4000, 17)
    missing = conf == 0
    outlier = (conf > 0) & (conf <= 0.5)
    inlier = conf >= 0.7
    assert missing.mean() == pytest.approx(0.1, abs=0.005)
    assert outlier.mean() == pytest.approx(0.05, abs=0.005)
    assert (missing | outlier | inlier).all()
    err = noisy - clean
    assert err[inlier].std() == pytest.approx(2.0, rel=0.02)
    assert err[outlier].std() == pytest.approx(50.0, rel=0.05)
    # missing keypoints sit at the frame's mean keypoint
    f, j = np.argwhere(missing)[0]
    np.testing.assert_allclose(noisy[f, j], clean[f].mean(0))
    with pytest.raises(ValueError, match="missing_prob"):
        DetectorNoise(missing_prob=1.5)


def test_pairs_with_noise_give_confidences() -> None:
    world = load_clips(SAMPLES_DIR / "cmu_mocap17.npz")["06_14"]
    pairs = VirtualCameraPairs({"x": world}, noise=DetectorNoise(missing_prob=0.05), seed=2)
    item = pairs[0]
    conf = item["confidence"].numpy()
    assert 0.02 < (conf == 0).mean() < 0.08 and conf.max() <= 1.0
