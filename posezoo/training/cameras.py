"""Static virtual cameras over whole clips, as in real video.

A real camera does not follow the performer: it stands still while the subject
walks through the frame, off-axis and at changing depth. :class:`StaticCameraSampler`
draws such a camera for a whole world-frame clip: a random image size (16:9,
4:3, 1:1, 9:16), focal length, camera height and distance, and an aim point
offset from the clip's centre so that the subject is rarely in the middle of
the image. A draw is accepted when every joint of the clip stays at least
``min_depth_m`` in front of the camera, almost every joint projects inside the
image and the performer's size in the image is plausible for a detector crop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

import numpy as np

from ..data.camera import Camera, look_at

__all__ = ["IMAGE_SIZES", "StaticCameraSampler"]

#: ``(w, h)`` in pixels: 16:9 (1080p, 720p), 4:3 (1440x1080, 640x480), 1:1, 9:16 (phone portrait).
IMAGE_SIZES: tuple[tuple[int, int], ...] = (
    (1920, 1080),
    (1280, 720),
    (1440, 1080),
    (640, 480),
    (1000, 1000),
    (1080, 1920),
)


@dataclass(frozen=True)
class StaticCameraSampler:
    """Random pinhole cameras that stay still over a whole clip (world frame Z up, metres).

    Attributes:
        distance_m: horizontal distance camera - aim point, metres.
        height_m: camera height above the floor (z = 0), metres.
        focal_length_px: focal length, pixels (log-uniform).
        image_sizes: candidate ``(w, h)``; one is drawn uniformly.
        aim_offset_m: max horizontal offset of the aim point from the clip's mean root.
        aim_height_m: height range of the aim point, metres.
        min_depth_m: every joint of the clip must be this far in front of the camera.
        min_inside: fraction of joints (over the clip) that must project inside the image.
        person_height_frac: accepted range of the performer's median height in the image,
            as a fraction of the image height.
        max_tries: draws before giving up (then the most feasible draw is shrunk to fit).
    """

    distance_m: tuple[float, float] = (3.0, 10.0)
    height_m: tuple[float, float] = (0.5, 2.5)
    focal_length_px: tuple[float, float] = (500.0, 2000.0)
    image_sizes: tuple[tuple[int, int], ...] = IMAGE_SIZES
    aim_offset_m: float = 1.0
    aim_height_m: tuple[float, float] = (0.6, 1.4)
    min_depth_m: float = 1.0
    min_inside: float = 0.9
    person_height_frac: tuple[float, float] = (0.12, 0.9)
    max_tries: int = 40

    def __post_init__(self) -> None:
        for name in ("distance_m", "height_m", "focal_length_px", "aim_height_m", "person_height_frac"):
            lo, hi = getattr(self, name)
            if not (np.isfinite(lo) and np.isfinite(hi) and 0 < lo <= hi):
                raise ValueError(f"{name} must be a range 0 < low <= high, got {(lo, hi)}")
        if not self.image_sizes or any(len(s) != 2 or min(s) <= 0 for s in self.image_sizes):
            raise ValueError(f"image_sizes must be a non-empty list of (w, h) > 0, got {self.image_sizes}")
        if not 0.0 <= self.min_inside <= 1.0:
            raise ValueError(f"min_inside must lie in [0, 1], got {self.min_inside}")
        if not 1 <= int(self.max_tries) <= 10_000:
            raise ValueError(f"max_tries must lie in [1, 10000], got {self.max_tries}")

    def sample(self, clip_world: np.ndarray, rng: Union[np.random.Generator, int, None] = None) -> Camera:
        """One camera for the whole clip ``(T, J, 3)`` (world, Z up, metres; joint 0 = pelvis)."""
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        clip = np.asarray(clip_world, dtype=np.float64)
        if clip.ndim != 3 or clip.shape[-1] != 3 or clip.shape[0] < 1:
            raise ValueError(f"clip_world must have shape (T >= 1, J, 3), got {clip.shape}")
        probe = clip[:: max(1, clip.shape[0] // 60)]  # <= ~60 frames for the feasibility checks
        best, best_score = None, -np.inf
        for _ in range(int(self.max_tries)):
            cam = self._draw(probe, rng)
            score = self._score(cam, probe)
            if score >= 0:
                return cam
            if score > best_score:
                best, best_score = cam, score
        return self._shrink_to_fit(best, probe)

    # -- internals
    def _draw(self, probe: np.ndarray, rng: np.random.Generator) -> Camera:
        centre = probe[:, 0, :2].mean(0)
        offset = rng.uniform(-self.aim_offset_m, self.aim_offset_m, size=2)
        aim = np.array([*(centre + offset), rng.uniform(*self.aim_height_m)])
        yaw = rng.uniform(0, 2 * np.pi)
        dist = rng.uniform(*self.distance_m)
        position = np.array([aim[0] + dist * np.cos(yaw), aim[1] + dist * np.sin(yaw), rng.uniform(*self.height_m)])
        w, h = self.image_sizes[int(rng.integers(len(self.image_sizes)))]
        lo, hi = np.log(self.focal_length_px[0]), np.log(self.focal_length_px[1])
        f = float(np.exp(rng.uniform(lo, hi)))
        c = np.array([w / 2, h / 2]) + rng.uniform(-0.02, 0.02, size=2) * np.array([w, h])
        return _make_camera(position, aim, f, c, w, h)

    def _score(self, cam: Camera, probe: np.ndarray) -> float:
        """0 or more when acceptable; otherwise a negative distance from acceptability."""
        xc = cam.world_to_camera(probe)
        depth_gap = float(xc[..., 2].min()) - self.min_depth_m
        if depth_gap < 0:
            return -10.0 + depth_gap
        px = cam.project(xc, distort=False)
        w, h = float(cam.res_w), float(cam.res_h)
        inside = ((px[..., 0] >= 0) & (px[..., 0] < w) & (px[..., 1] >= 0) & (px[..., 1] < h)).mean()
        height = float(np.median(px[..., 1].max(-1) - px[..., 1].min(-1))) / h
        lo, hi = self.person_height_frac
        size_gap = min(0.0, height - lo, hi - height)
        return min(0.0, float(inside) - self.min_inside) + size_gap

    def _shrink_to_fit(self, cam: Camera, probe: np.ndarray) -> Camera:
        """Step the most feasible draw back along its line of sight and widen its view until the clip fits."""
        forward = _forward(cam)
        f = float(cam.focal_length[0])
        position = np.asarray(cam.translation, dtype=np.float64)
        w, h = float(cam.res_w), float(cam.res_h)
        for _ in range(60):
            if self._score(cam, probe) >= 0:
                break
            if float(cam.world_to_camera(probe)[..., 2].min()) < self.min_depth_m:
                position = position - 0.5 * forward
            else:
                f = max(50.0, 0.9 * f)
            cam = _make_camera(position, position + forward, f, np.asarray(cam.center), w, h)
        return cam


def _make_camera(position: np.ndarray, aim: np.ndarray, f: float, c: np.ndarray, w: float, h: float) -> Camera:
    return Camera(
        orientation=look_at(position, aim),
        translation=position,
        focal_length=np.array([f, f]),
        center=c,
        radial_distortion=np.zeros(3),
        tangential_distortion=np.zeros(2),
        res_w=float(w),
        res_h=float(h),
        name="static-virtual",
    )


def _forward(cam: Camera) -> np.ndarray:
    """Unit viewing direction of ``cam`` in world coordinates."""
    origin = cam.camera_to_world(np.zeros((1, 3)))[0]
    ahead = cam.camera_to_world(np.array([[0.0, 0.0, 1.0]]))[0]
    d = ahead - origin
    return d / np.linalg.norm(d)
