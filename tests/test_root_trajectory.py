"""posezoo.root_trajectory and lift(camera=...): the person's position in the camera frame."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import posezoo
from posezoo.data import VirtualCameraSampler, cmu_mocap
from posezoo.inference import Intrinsics, default_intrinsics


def _views(clips: int = 6, seed: int = 0):
    """Projected test-split mocap: ``[(camera-frame poses (T, 17, 3), pixels (T, 17, 2), camera)]``."""
    rng = np.random.default_rng(seed)
    sampler = VirtualCameraSampler(distance_m=(4.0, 9.0))
    out = []
    for _name, clip in sorted(cmu_mocap("test").items())[:clips]:
        clip = clip[:150].astype(np.float64)
        cam = sampler.sample_for_motion(clip, rng)
        c3 = cam.world_to_camera(clip)
        out.append((c3, cam.project(c3), cam))
    return out


def test_exact_3d_and_2d_recover_the_root_to_millimetres() -> None:
    worst = 0.0
    for c3, px, cam in _views():
        root = posezoo.root_trajectory(px, c3 - c3[:, :1], focal_length=cam.focal_length, principal_point=cam.center)
        assert root.shape == (len(c3), 3) and root.dtype == np.float64
        worst = max(worst, float(np.abs(root - c3[:, 0]).max()))
        assert (root[:, 2] > 1.0).all()  # in front of the camera, metres
    assert worst < 0.01  # the bound: within 1 cm (closed form: exact to rounding)
    assert worst < 1e-6


def test_confidence_missing_joints_and_frames() -> None:
    c3, px, cam = _views(clips=1)[0]
    rel = c3 - c3[:, :1]
    kw = dict(focal_length=cam.focal_length, principal_point=cam.center)
    px = px.copy()
    conf = np.ones(px.shape[:2])
    px[:, 3], conf[:, 3] = np.nan, 0.0  # one joint never seen
    px[20:25] = np.nan
    conf[20:25] = 0.0  # five frames without a detection: interpolated over time
    root = posezoo.root_trajectory(px, rel, confidence=conf, **kw)
    ok = np.r_[0:20, 25 : len(c3)]
    np.testing.assert_allclose(root[ok], c3[ok, 0], atol=1e-6)
    for f in range(20, 25):
        np.testing.assert_allclose(root[f], c3[19, 0] + (c3[25, 0] - c3[19, 0]) * (f - 19) / 6, atol=1e-9)
    with pytest.raises(ValueError, match="no frame has two usable keypoints"):
        posezoo.root_trajectory(px, rel, confidence=np.zeros_like(conf), **kw)
    # NaN/inf only where the confidence marks them missing (issue 13): unmarked ones are refused, not skipped
    unmarked = len(px) + 5 * 16  # joint 3 everywhere, the other 16 joints in frames 20..24
    with pytest.raises(ValueError, match=rf"holds {unmarked} non-finite keypoints \(first at frame 0, joint 3\)"):
        posezoo.root_trajectory(px, rel, **kw)
    conf[22, 5] = 0.5
    with pytest.raises(ValueError, match="first at frame 22, joint 5"):
        posezoo.root_trajectory(px, rel, confidence=conf, **kw)
    conf[22, 5] = np.nan
    with pytest.raises(ValueError, match="confidence holds non-finite values"):
        posezoo.root_trajectory(px, rel, confidence=conf, **kw)


def test_smoothing_reduces_the_error_of_noisy_predictions() -> None:
    errs = {}
    rng = np.random.default_rng(3)
    for smooth in (None, 3.0):
        e = []
        for c3, px, cam in _views(clips=4):
            rel = c3 - c3[:, :1] + np.random.default_rng(7).normal(0, 0.03, c3.shape)  # a 30 mm "prediction"
            rel -= rel[:, :1]
            root = posezoo.root_trajectory(
                px + rng.normal(0, 2, px.shape),
                rel,
                focal_length=cam.focal_length,
                principal_point=cam.center,
                smooth=smooth,
            )
            e.append(np.linalg.norm(root - c3[:, 0], axis=-1))
        errs[smooth] = float(np.concatenate(e).mean())
    assert errs[3.0] < 0.6 * errs[None] and errs[3.0] < 0.06  # metres
    c3, px, cam = _views(clips=1)[0]  # smoothing the exact solution keeps it within a centimetre
    root = posezoo.root_trajectory(
        px, c3 - c3[:, :1], focal_length=cam.focal_length, principal_point=cam.center, smooth=2.0
    )
    assert np.abs(root - c3[:, 0]).max() < 0.01


def test_default_intrinsics_and_torch() -> None:
    c3, px, cam = _views(clips=1)[0]
    rel = c3 - c3[:, :1]
    w, h = 1000, 1000
    with pytest.warns(UserWarning, match="focal length = image diagonal"):
        root = posezoo.root_trajectory(px, rel, image_size=(w, h))
    explicit = posezoo.root_trajectory(px, rel, focal_length=np.hypot(w, h), principal_point=(w / 2, h / 2))
    np.testing.assert_allclose(root, explicit)
    with pytest.warns(UserWarning):
        intr = default_intrinsics((1920, 1080))
    assert intr.focal_length == (np.hypot(1920, 1080),) * 2 and intr.principal_point == (960.0, 540.0)
    t = posezoo.root_trajectory(
        torch.from_numpy(px).float(),
        torch.from_numpy(rel).float(),
        focal_length=float(cam.focal_length[0]),
        principal_point=cam.center,
    )
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float32
    np.testing.assert_allclose(t.numpy(), c3[:, 0], atol=1e-3)
    with pytest.raises(ValueError, match="image_size"):
        posezoo.root_trajectory(px, rel)
    with pytest.raises(ValueError, match=r"must have shape \(150, 17, 3\)"):
        posezoo.root_trajectory(px, rel[:, :16], focal_length=1000.0, principal_point=(500, 500))
    with pytest.warns(UserWarning, match="behind the camera"):  # a pose that cannot be seen as drawn
        posezoo.root_trajectory(px, -rel * 20, focal_length=cam.focal_length, principal_point=cam.center)
    with pytest.raises(ValueError, match="focal_length must be positive"):
        posezoo.root_trajectory(px, rel, focal_length=-5.0, principal_point=(500, 500))


@pytest.mark.filterwarnings("ignore:the root lands behind the camera")  # a random tiny model
def test_lift_with_camera_returns_camera_space_poses() -> None:
    s = posezoo.data.load_sample("06_01")
    c3 = s.camera.world_to_camera(s.poses_world.astype(np.float64))
    px = s.camera.project(c3)
    model = posezoo.create_model("_test_tiny_lifter")
    rel = posezoo.lift(px, model, image_size=s.image_size, flip_tta=False)
    cam = posezoo.lift(px, model, image_size=s.image_size, flip_tta=False, camera=s.camera)
    expected_root = posezoo.root_trajectory(
        px, rel, focal_length=s.camera.focal_length, principal_point=s.camera.center
    )
    np.testing.assert_allclose(cam, rel + expected_root[:, None].astype(np.float32), atol=1e-5)
    np.testing.assert_allclose(cam[:, 0], expected_root, atol=1e-5)
    same = posezoo.lift(
        px,
        model,
        image_size=s.image_size,
        flip_tta=False,
        camera={"focal_length": s.camera.focal_length, "principal_point": s.camera.center},
    )
    np.testing.assert_array_equal(same, cam)
    intr = Intrinsics(tuple(s.camera.focal_length), tuple(s.camera.center))
    np.testing.assert_array_equal(posezoo.lift(px, model, image_size=s.image_size, flip_tta=False, camera=intr), cam)
    with pytest.warns(UserWarning, match="intrinsics unknown"):
        posezoo.lift(px, model, image_size=s.image_size, camera="default")
    with pytest.raises(ValueError, match="needs pixel keypoints"):
        posezoo.lift(px, model, camera=intr)
    with pytest.raises(ValueError, match="camera must be 'default'"):
        posezoo.lift(px, model, image_size=s.image_size, camera="wide")


def test_lift_camera_with_exact_model_recovers_the_trajectory() -> None:
    """With a model that predicts the true relative pose, lift(camera=) gives the true camera-space poses."""
    s = posezoo.data.load_sample("06_01")
    c3 = s.camera.world_to_camera(s.poses_world.astype(np.float64))
    px = s.camera.project(c3)
    truth = (c3 - c3[:, :1]).astype(np.float32)
    t = len(c3)

    class Exact(posezoo.PoseModel):
        def __init__(self) -> None:
            super().__init__()
            self.num_frames, self.num_joints, self.in_channels = t, 17, 2
            self.register_buffer("truth", torch.from_numpy(truth))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.truth[None].expand(x.shape[0], -1, -1, -1).to(x.dtype)

    out = posezoo.lift(px, Exact(), image_size=s.image_size, flip_tta=False, camera=s.camera)
    assert np.abs(out - c3).max() < 0.01
