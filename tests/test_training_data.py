"""Training data: static cameras over whole clips, bone-length augmentation, detector noise, sources."""

from __future__ import annotations

import numpy as np
import pytest

from posezoo.data import cmu_mocap
from posezoo.data.windows import Seq2SeqWindows
from posezoo.skeleton import get_skeleton
from posezoo.training import BoneScale, MocapViews, NoiseProfile, StaticCameraSampler, scale_bones, split_clips
from posezoo.training.augment import fill_missing

H36M = get_skeleton("h36m")


@pytest.fixture(scope="module")
def clips() -> dict[str, np.ndarray]:
    return cmu_mocap("sample")


def _bone_lengths(poses: np.ndarray) -> np.ndarray:
    return np.stack([np.linalg.norm(poses[:, j] - poses[:, p], axis=-1) for j, p in H36M.bones], -1)


def test_static_camera_keeps_the_whole_clip_in_front_and_mostly_in_view(clips) -> None:
    sampler = StaticCameraSampler()
    rng = np.random.default_rng(0)
    for clip in clips.values():
        for _ in range(5):
            cam = sampler.sample(clip, rng)
            xc = cam.world_to_camera(clip.astype(np.float64))
            assert xc[..., 2].min() >= sampler.min_depth_m
            px = cam.project(xc, distort=False)
            w, h = float(cam.res_w), float(cam.res_h)
            inside = ((px[..., 0] >= 0) & (px[..., 0] < w) & (px[..., 1] >= 0) & (px[..., 1] < h)).mean()
            assert inside >= 0.85
            assert (w, h) in sampler.image_sizes
            assert 500 * 0.5 <= float(cam.focal_length[0]) <= 2000


def test_static_camera_sees_the_subject_move_through_the_frame(clips) -> None:
    """The walk clip travels metres: its root moves across the image (the camera does not follow)."""
    walk = clips["06_01"]
    cam = StaticCameraSampler().sample(walk, np.random.default_rng(3))
    root_px = cam.project(cam.world_to_camera(walk[:, :1].astype(np.float64)), distort=False)[:, 0]
    travel = np.ptp(root_px, axis=0).max() / float(cam.res_w)
    assert travel > 0.1, travel
    depth = cam.world_to_camera(walk[:, 0].astype(np.float64))[:, 2]
    assert np.ptp(depth) > 0.1 or travel > 0.2


def test_static_camera_is_reproducible_and_validates() -> None:
    clip = np.zeros((5, 17, 3))
    clip[..., 2] = np.linspace(0, 1.7, 17)
    a = StaticCameraSampler().sample(clip, 7)
    b = StaticCameraSampler().sample(clip, 7)
    np.testing.assert_array_equal(a.translation, b.translation)
    with pytest.raises(ValueError, match="distance_m"):
        StaticCameraSampler(distance_m=(5.0, 3.0))
    with pytest.raises(ValueError, match="clip_world"):
        StaticCameraSampler().sample(np.zeros((4, 17)), 0)


def test_scale_bones_scales_each_bone_and_keeps_directions(clips) -> None:
    poses = clips["06_01"][:20].astype(np.float64)
    factors = np.linspace(0.9, 1.1, 17)
    out = scale_bones(poses, factors, H36M)
    np.testing.assert_allclose(out[:, 0], poses[:, 0])  # root trajectory kept
    before, after = _bone_lengths(poses), _bone_lengths(out)
    np.testing.assert_allclose(after, before * factors[[j for j, _ in H36M.bones]], rtol=1e-9)
    for j, p in H36M.bones:  # joint angles kept: every bone keeps its direction
        d0 = poses[:, j] - poses[:, p]
        d1 = out[:, j] - out[:, p]
        cos = (d0 * d1).sum(-1) / np.linalg.norm(d0, axis=-1) / np.linalg.norm(d1, axis=-1)
        np.testing.assert_allclose(cos, 1.0, atol=1e-9)


def test_bone_scale_is_symmetric_and_bounded() -> None:
    aug = BoneScale(spread=0.1, global_spread=0.0)
    for seed in range(5):
        f = aug.factors(np.random.default_rng(seed))
        perm = H36M.flip_permutation
        np.testing.assert_allclose(f, f[list(perm)])
        assert ((f >= 0.9) & (f <= 1.1)).all()
    with pytest.raises(ValueError, match="spread"):
        BoneScale(spread=0.7)


def test_noise_profile_marks_and_fills_missing_joints() -> None:
    rng = np.random.default_rng(0)
    px = np.cumsum(np.ones((40, 17, 2)), axis=0) + np.arange(17)[None, :, None] * 10.0
    noise = NoiseProfile(clean_prob=0.0, max_sigma_frac=0.0, max_outlier_prob=0.0, max_missing_prob=0.5)
    out, conf = noise(px, rng)
    missing = conf == 0
    assert missing.any()
    # with zero jitter, filling a missing joint by linear interpolation over time recovers the linear track
    frames = np.arange(px.shape[0])[:, None]
    seen = ~missing
    has_before = np.maximum.accumulate(np.where(seen, frames, -1), axis=0) >= 0
    has_after = np.flip(np.maximum.accumulate(np.flip(seen, 0), axis=0), 0)
    inner = missing & has_before & has_after
    assert inner.any()
    np.testing.assert_allclose(out[inner], px[inner], atol=1e-9)
    clean, conf_clean = NoiseProfile(clean_prob=1.0)(px, rng)
    np.testing.assert_array_equal(clean, px)
    assert (conf_clean == 1).all()


def test_fill_missing_interpolates_over_time() -> None:
    x = np.arange(10, dtype=float)[:, None, None] * np.ones((1, 2, 2))
    miss = np.zeros((10, 2), bool)
    miss[3:6, 1] = True
    noisy = x.copy()
    noisy[miss] = 99.0
    np.testing.assert_allclose(fill_missing(noisy, miss), x)
    with pytest.raises(ValueError, match="every frame"):
        fill_missing(noisy, np.ones((10, 2), bool))


def test_mocap_views_windows_are_consistent_pairs(clips) -> None:
    source = MocapViews(clips)
    rng = np.random.default_rng(1)
    w = source.window(0, np.arange(10, 37), rng)
    assert w["keypoints_2d"].shape == (27, 17, 2) and w["pose_3d"].shape == (27, 17, 3)
    np.testing.assert_array_equal(w["pose_3d"][:, 0], 0)
    # the 2D is the projection of the 3D (root-relative 3D + some root depth): check with the intrinsics
    f, c = w["camera_intrinsics"][:2], w["camera_intrinsics"][2:4]
    wdt = w["image_size"][0]
    px = (w["keypoints_2d"] + np.array([1.0, w["image_size"][1] / wdt])) * wdt / 2
    ray = (px - c) / f  # x/z, y/z per joint
    assert np.isfinite(ray).all() and np.abs(ray).max() < 2.0
    ds = Seq2SeqWindows(source, 27, stride=27, flip=True)
    assert len(ds) == 2 * sum(-(-len(c) // 27) for c in clips.values())


def test_split_clips_is_by_clip_and_deterministic() -> None:
    clips = {f"c{i}": np.zeros((3, 17, 3)) for i in range(20)}
    tr, va = split_clips(clips, 0.1, seed=0)
    assert len(va) == 2 and not set(tr) & set(va) and set(tr) | set(va) == set(clips)
    assert split_clips(clips, 0.1, seed=0)[1].keys() == va.keys()
    with pytest.raises(ValueError):
        split_clips(clips, 1.5)
