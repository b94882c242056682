"""posezoo.data.camera: normalisation, quaternions, projection with H36M distortion, virtual cameras."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from posezoo.data.camera import (
    Camera,
    VirtualCameraSampler,
    camera_to_world,
    image_coordinates,
    look_at,
    matrix_to_quaternion,
    normalize_screen_coordinates,
    project_points,
    project_to_2d,
    qrot,
    quaternion_to_matrix,
    world_to_camera,
)
from posezoo.data.h36m import H36M_CAMERA_IDS, H36M_SUBJECTS, h36m_camera


def _random_rotations(n: int, seed: int = 0) -> np.ndarray:
    q = np.random.default_rng(seed).normal(size=(n, 4))
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


# ---------------------------------------------------------------- normalisation


def test_normalize_known_values_and_aspect() -> None:
    px = np.array([[0.0, 0.0], [1000.0, 1002.0], [500.0, 501.0], [250.0, 0.0]])
    out = normalize_screen_coordinates(px, 1000, 1002)
    np.testing.assert_allclose(out, [[-1, -1.002], [1, 1.002], [0, 0], [-0.5, -1.002]], atol=1e-12)
    # y uses the same scale as x: a 100 px step is 0.2 in both axes
    step = normalize_screen_coordinates(np.array([[100.0, 100.0]]), 1000, 500) - normalize_screen_coordinates(
        np.array([[0.0, 0.0]]), 1000, 500
    )
    np.testing.assert_allclose(step, [[0.2, 0.2]])


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_normalize_round_trip_batched(kind: str) -> None:
    rng = np.random.default_rng(1)
    px = rng.uniform(0, 1920, size=(3, 7, 17, 2))
    w = np.array([1920.0, 1000.0, 640.0])
    h = np.array([1080.0, 1002.0, 480.0])
    if kind == "torch":
        px, w, h = torch.tensor(px), torch.tensor(w), torch.tensor(h)
    n = normalize_screen_coordinates(px, w, h)
    assert type(n) is type(px) and n.shape == px.shape
    back = image_coordinates(n, w, h)
    np.testing.assert_allclose(np.asarray(back), np.asarray(px), rtol=0, atol=1e-9)
    # per-sequence sizes equal per-sequence calls
    for b in range(3):
        single = normalize_screen_coordinates(px[b], float(w[b]), float(h[b]))
        np.testing.assert_allclose(np.asarray(n[b]), np.asarray(single), atol=1e-12)


def test_normalize_validates() -> None:
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\)"):
        normalize_screen_coordinates(np.zeros((5, 3)), 100, 100)
    with pytest.raises(ValueError, match="w must be > 0"):
        normalize_screen_coordinates(np.zeros((5, 2)), 0, 100)
    with pytest.raises(TypeError):
        normalize_screen_coordinates([[1.0, 2.0]], 100, 100)  # type: ignore[arg-type]


# ---------------------------------------------------------------- quaternions and transforms


def test_quaternion_matrix_round_trip() -> None:
    q = _random_rotations(64)
    # include 180-degree rotations (w = 0), where the naive formula divides by zero
    q[:3] = [[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0.6, 0.8]]
    q[q[:, 0] < 0] *= -1
    r = quaternion_to_matrix(q)
    np.testing.assert_allclose(r @ np.swapaxes(r, -1, -2), np.broadcast_to(np.eye(3), r.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(r), 1.0, atol=1e-12)
    np.testing.assert_allclose(matrix_to_quaternion(r), q, atol=1e-12)
    rt = quaternion_to_matrix(torch.tensor(q))
    np.testing.assert_allclose(matrix_to_quaternion(rt).numpy(), q, atol=1e-12)


def test_qrot_known_rotation() -> None:
    # 90 degrees about z: x -> y
    q = np.array([np.cos(np.pi / 4), 0, 0, np.sin(np.pi / 4)])
    np.testing.assert_allclose(qrot(q, np.array([1.0, 0, 0])), [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(qrot(q, np.array([0, 0, 2.0])), [0, 0, 2], atol=1e-12)


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_world_camera_round_trip_batched(kind: str) -> None:
    rng = np.random.default_rng(2)
    q = _random_rotations(4, seed=3)
    t = rng.normal(size=(4, 3))
    x = rng.normal(size=(4, 6, 17, 3))
    if kind == "torch":
        q, t, x = torch.tensor(q), torch.tensor(t), torch.tensor(x)
    cam = world_to_camera(x, q, t)
    assert type(cam) is type(x) and cam.shape == x.shape
    np.testing.assert_allclose(np.asarray(camera_to_world(cam, q, t)), np.asarray(x), atol=1e-12)
    # equals R^T (x - t) with the rotation matrix of each camera
    r = quaternion_to_matrix(np.asarray(q))
    expected = np.einsum("bji,btkj->btki", r, np.asarray(x) - np.asarray(t)[:, None, None])
    np.testing.assert_allclose(np.asarray(cam), expected, atol=1e-12)


# ---------------------------------------------------------------- projection


def test_project_known_points_pinhole() -> None:
    pts = np.array([[1.0, 2.0, 4.0], [0.0, 0.0, 5.0], [-1.0, 0.5, 2.0]])
    px = project_points(pts, [1000.0, 900.0], [500.0, 400.0])
    np.testing.assert_allclose(px, [[750.0, 850.0], [500.0, 400.0], [0.0, 625.0]])


def test_project_known_point_with_h36m_distortion() -> None:
    k = (0.1, 0.01, 0.001)
    p = (0.001, 0.002)
    x, y = 0.25, 0.5  # the point (1, 2, 4)
    r2 = x * x + y * y
    radial = 1 + k[0] * r2 + k[1] * r2**2 + k[2] * r2**3
    tan = p[0] * x + p[1] * y
    xd = x * (radial + tan) + p[0] * r2
    yd = y * (radial + tan) + p[1] * r2
    expected = [1000 * xd + 500, 1000 * yd + 500]
    assert expected == pytest.approx([758.68927001953125, 1017.3785400390625], abs=1e-9)
    got = project_points(np.array([1.0, 2.0, 4.0]), [1000.0, 1000.0], [500.0, 500.0], k, p)
    np.testing.assert_allclose(got, expected, atol=1e-9)
    got_t = project_to_2d(
        torch.tensor([[1.0, 2.0, 4.0]], dtype=torch.float64),
        torch.tensor([[1000.0, 1000.0, 500.0, 500.0, *k, *p]], dtype=torch.float64),
    )
    np.testing.assert_allclose(got_t.numpy()[0], expected, atol=1e-9)


def test_project_clamp_as_videopose3d() -> None:
    pts = np.array([[3.0, 0.0, 1.0]])
    assert project_points(pts, [10.0, 10.0], [0.0, 0.0], clamp=1.0)[0, 0] == pytest.approx(10.0)


def test_normalized_intrinsics_give_normalized_projection() -> None:
    cam = h36m_camera("S9", "58860488")
    pts = np.random.default_rng(4).normal(size=(20, 3)) * 0.5 + [0, 0, 5]
    px = cam.project(pts)
    norm = project_to_2d(pts, cam.normalized_intrinsics())
    np.testing.assert_allclose(norm, cam.normalize(px), atol=1e-12)


@pytest.mark.parametrize("subject", H36M_SUBJECTS)
def test_h36m_cameras_look_at_the_capture_area(subject: str) -> None:
    # the centre of the capture volume (0, 0, 1 m) lies ~4-6 m in front of every camera
    # and projects near the middle of its image
    for i in range(4):
        cam = h36m_camera(subject, i)
        assert cam.name == H36M_CAMERA_IDS[i]
        np.testing.assert_allclose(np.linalg.norm(cam.orientation), 1.0, atol=1e-6)
        p = cam.world_to_camera(np.array([0.0, 0.0, 1.0]))
        assert 3.5 < p[2] < 6.5
        u, v = cam.project(p)
        assert 250 < u < 750 and 250 < v < 750
        # the world up axis points up in the image (negative camera y)
        up = cam.world_to_camera(np.array([0.0, 0.0, 2.0])) - p
        assert up[1] < -0.9


def test_camera_batching_dict_and_torch() -> None:
    cams = [h36m_camera("S1", i) for i in range(4)]
    stacked = Camera(
        **{
            k: np.stack([getattr(c, k) for c in cams])
            for k in (
                "orientation",
                "translation",
                "focal_length",
                "center",
                "radial_distortion",
                "tangential_distortion",
                "res_w",
                "res_h",
            )
        }
    )
    assert stacked.batch_shape == (4,)
    world = np.random.default_rng(5).normal(size=(4, 10, 17, 3)) * 0.3 + [0, 0, 1]
    px = stacked.project_world(world)
    for i, c in enumerate(cams):
        np.testing.assert_allclose(px[i], c.project_world(world[i]), atol=1e-9)
        np.testing.assert_allclose(stacked[i].intrinsics(), c.intrinsics())
    back = Camera.from_dict(cams[2].to_dict())
    np.testing.assert_allclose(back.translation, cams[2].translation)
    assert back.name == "58860488"
    tcam = stacked.to_torch(dtype=torch.float64)
    np.testing.assert_allclose(tcam.project_world(torch.tensor(world)).numpy(), px, atol=1e-9)
    with pytest.raises(ValueError, match="leading shape"):
        Camera(
            np.zeros((2, 4)),
            np.zeros((3, 3)),
            np.ones((2, 2)),
            np.zeros((2, 2)),
            np.zeros((2, 3)),
            np.zeros((2, 2)),
            1,
            1,
        )


# ---------------------------------------------------------------- look-at and virtual cameras


def test_look_at_centres_the_target() -> None:
    pos = np.array([[4.0, -3.0, 2.0], [-1.0, 6.0, 0.5]])
    tgt = np.array([[0.0, 0.0, 1.0], [0.5, 0.0, 1.2]])
    q = look_at(pos, tgt)
    for i in range(2):
        p = world_to_camera(tgt[i], q[i], pos[i])
        np.testing.assert_allclose(p[:2], [0, 0], atol=1e-12)
        np.testing.assert_allclose(p[2], np.linalg.norm(tgt[i] - pos[i]))
        # no roll: the camera x axis is horizontal
        x_axis_world = qrot(q[i], np.array([1.0, 0, 0]))
        assert abs(x_axis_world[2]) < 1e-12
    with pytest.raises(ValueError, match="parallel"):
        look_at(np.array([0.0, 0, 5]), np.array([0.0, 0, 0]))


def test_virtual_camera_sampler_ranges_and_determinism() -> None:
    sampler = VirtualCameraSampler(
        distance_m=(4.0, 5.0),
        elevation_deg=(0.0, 20.0),
        aim_jitter_m=0.0,
        principal_point_jitter_px=10.0,
        image_size=(1280, 720),
    )
    target = np.array([[0.3, -0.2, 1.0]] * 200)
    cams = sampler.sample(target, rng=7)
    assert cams.batch_shape == (200,)
    offset = cams.translation - target
    horizontal = np.linalg.norm(offset[:, :2], axis=1)
    assert horizontal.min() >= 4.0 - 1e-9 and horizontal.max() <= 5.0 + 1e-9
    elevation = np.degrees(np.arctan2(offset[:, 2], horizontal))
    assert elevation.min() >= -1e-9 and elevation.max() <= 20.0 + 1e-9
    # the aim point projects onto the principal point, which is near the image centre
    px = cams.project_world(target)
    np.testing.assert_allclose(px, cams.center, atol=1e-9)
    assert np.all(np.abs(cams.center - [640, 360]) <= 10.0)
    np.testing.assert_array_equal(cams.res_w, 1280)
    again = sampler.sample(target, rng=7)
    np.testing.assert_array_equal(again.orientation, cams.orientation)
    # yaw covers all directions
    yaw = np.degrees(np.arctan2(offset[:, 1], offset[:, 0]))
    assert yaw.min() < -150 and yaw.max() > 150


def test_sample_for_motion_keeps_points_in_front() -> None:
    rng = np.random.default_rng(8)
    motion = np.zeros((50, 17, 3))
    motion[:, :, 1] = np.linspace(0, 6, 50)[:, None]  # walks 6 m
    motion[:, :, 2] = 1.0
    sampler = VirtualCameraSampler(distance_m=(3.5, 4.0), min_depth_m=0.5)
    for _ in range(10):
        cam = sampler.sample_for_motion(motion, rng)
        assert cam.world_to_camera(motion)[..., 2].min() >= 0.5
    impossible = VirtualCameraSampler(distance_m=(0.5, 0.6), min_depth_m=0.5)
    with pytest.raises(ValueError, match="in front of it"):
        impossible.sample_for_motion(motion, rng, max_tries=5)
