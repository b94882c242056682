"""Cameras: the calibrated :class:`Camera` and the random :class:`VirtualCameraSampler`.

The geometry (conventions, screen normalisation, quaternions, world <-> camera
transforms, H36M projection with distortion) lives in
:mod:`posezoo.data.projection`; its functions are re-exported here, so
``from posezoo.data.camera import project_points`` keeps working.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, Optional, Union

import numpy as np
import torch

from ._array import Array, ArrayLike, as_like
from .projection import (
    camera_to_world,
    image_coordinates,
    look_at,
    matrix_to_quaternion,
    normalize_screen_coordinates,
    project_points,
    project_to_2d,
    qinverse,
    qrot,
    quaternion_to_matrix,
    world_to_camera,
)

__all__ = [
    "normalize_screen_coordinates",
    "image_coordinates",
    "qrot",
    "qinverse",
    "quaternion_to_matrix",
    "matrix_to_quaternion",
    "world_to_camera",
    "camera_to_world",
    "project_points",
    "project_to_2d",
    "look_at",
    "Camera",
    "VirtualCameraSampler",
]


# --------------------------------------------------------------------------- Camera


@dataclass(frozen=True)
class Camera:
    """A calibrated camera (or a batch of cameras, every field with leading axes ``L``).

    Attributes:
        orientation: ``(*L, 4)`` camera->world unit quaternion ``(w, x, y, z)``.
        translation: ``(*L, 3)`` camera centre in world coordinates, metres.
        focal_length: ``(*L, 2)`` ``(fx, fy)``, pixels.
        center: ``(*L, 2)`` principal point ``(cx, cy)``, pixels.
        radial_distortion: ``(*L, 3)`` ``(k1, k2, k3)``.
        tangential_distortion: ``(*L, 2)`` ``(p1, p2)`` (VideoPose3D order).
        res_w, res_h: ``L``-shaped image width / height in pixels.
        name: optional identifier (e.g. the H36M camera id).
    """

    orientation: Any
    translation: Any
    focal_length: Any
    center: Any
    radial_distortion: Any
    tangential_distortion: Any
    res_w: Any
    res_h: Any
    name: Optional[str] = field(default=None, compare=False)

    _SIZES = {
        "orientation": 4,
        "translation": 3,
        "focal_length": 2,
        "center": 2,
        "radial_distortion": 3,
        "tangential_distortion": 2,
    }

    def __post_init__(self) -> None:
        lead = None
        for key, size in self._SIZES.items():
            value = getattr(self, key)
            if not isinstance(value, (np.ndarray, torch.Tensor)):
                value = np.asarray(value, dtype=np.float64)
                object.__setattr__(self, key, value)
            if value.ndim < 1 or value.shape[-1] != size:
                raise ValueError(f"Camera.{key} must have shape (..., {size}), got {tuple(value.shape)}")
            if lead is None:
                lead = tuple(value.shape[:-1])
            elif tuple(value.shape[:-1]) != lead:
                raise ValueError(
                    f"Camera.{key} has leading shape {tuple(value.shape[:-1])}, expected {lead} like the other fields"
                )
        for key in ("res_w", "res_h"):
            value = getattr(self, key)
            if not isinstance(value, (np.ndarray, torch.Tensor)):
                value = np.asarray(value)
            if tuple(value.shape) != lead:
                value = value + np.zeros(lead) if isinstance(value, np.ndarray) else value.expand(lead)
            object.__setattr__(self, key, value)

    # -- shape and conversion
    @property
    def batch_shape(self) -> tuple[int, ...]:
        return tuple(self.orientation.shape[:-1])

    def __getitem__(self, index: Any) -> Camera:
        """Select cameras of a batch (``cams[0]``, ``cams[2:5]``)."""
        if not self.batch_shape:
            raise IndexError("cannot index a single (unbatched) Camera")
        return replace(self, **{f.name: getattr(self, f.name)[index] for f in fields(self) if f.name != "name"})

    def to_torch(self, device: Union[str, torch.device, None] = None, dtype: torch.dtype = torch.float32) -> Camera:
        """The same camera with every field a torch tensor."""

        def conv(v: Any) -> torch.Tensor:
            return torch.as_tensor(np.asarray(v) if not isinstance(v, torch.Tensor) else v).to(
                device=device, dtype=dtype
            )

        return replace(self, **{f.name: conv(getattr(self, f.name)) for f in fields(self) if f.name != "name"})

    def to_numpy(self, dtype: Any = np.float64) -> Camera:
        """The same camera with every field a numpy array."""

        def conv(v: Any) -> np.ndarray:
            if isinstance(v, torch.Tensor):
                v = v.detach().cpu().numpy()
            return np.asarray(v, dtype=dtype)

        return replace(self, **{f.name: conv(getattr(self, f.name)) for f in fields(self) if f.name != "name"})

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict (lists of floats) of this camera."""
        out: dict[str, Any] = {"name": self.name}
        for f in fields(self):
            if f.name == "name":
                continue
            v = getattr(self, f.name)
            v = v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v)
            out[f.name] = v.tolist()
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Camera:
        keys = [f.name for f in fields(cls) if f.name != "name"]
        missing = [k for k in keys if k not in d]
        if missing:
            raise ValueError(f"camera dict lacks {', '.join(missing)}")
        return cls(**{k: np.asarray(d[k], dtype=np.float64) for k in keys}, name=d.get("name"))

    # -- parameters
    def intrinsics(self) -> Any:
        """``(*L, 9)`` pixel intrinsics ``(fx, fy, cx, cy, k1, k2, k3, p1, p2)``."""
        return _cat_like([self.focal_length, self.center, self.radial_distortion, self.tangential_distortion])

    def normalized_intrinsics(self) -> Any:
        """``(*L, 9)`` intrinsics in normalised screen units, as VideoPose3D's ``cam['intrinsic']``.

        ``f / w * 2`` and the normalised principal point; distortion unchanged.
        """
        w = self.res_w[..., None]
        f = self.focal_length / w * 2
        c = normalize_screen_coordinates(self.center, self.res_w, self.res_h)
        return _cat_like([f, c, self.radial_distortion, self.tangential_distortion])

    # -- geometry
    def world_to_camera(self, x: Array) -> Array:
        """``(..., 3)`` world points -> camera frame (camera batch axes a prefix of ``x``'s)."""
        return world_to_camera(x, self.orientation, self.translation)

    def camera_to_world(self, x: Array) -> Array:
        return camera_to_world(x, self.orientation, self.translation)

    def project(self, x_cam: Array, distort: bool = True, clamp: Optional[float] = None) -> Array:
        """Camera-frame points ``(..., 3)`` -> pixels ``(..., 2)``."""
        if distort:
            return project_points(
                x_cam, self.focal_length, self.center, self.radial_distortion, self.tangential_distortion, clamp=clamp
            )
        return project_points(x_cam, self.focal_length, self.center, clamp=clamp)

    def project_world(self, x_world: Array, distort: bool = True) -> Array:
        """World points ``(..., 3)`` -> pixels ``(..., 2)``."""
        return self.project(self.world_to_camera(x_world), distort=distort)

    def normalize(self, pixels: Array) -> Array:
        """Pixels -> normalised screen coordinates with this camera's resolution."""
        return normalize_screen_coordinates(pixels, self.res_w, self.res_h)


def _cat_like(items: list) -> Any:
    if any(isinstance(i, torch.Tensor) for i in items):
        like = next(i for i in items if isinstance(i, torch.Tensor))
        return torch.cat([as_like(i, like) for i in items], dim=-1)
    return np.concatenate([np.asarray(i, dtype=np.float64) for i in items], axis=-1)


# --------------------------------------------------------------------------- virtual cameras


def _as_rng(rng: Union[np.random.Generator, int, None]) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


@dataclass
class VirtualCameraSampler:
    """Random pinhole cameras around a subject, to synthesise 2D views of 3D motion capture.

    A camera stands at horizontal ``distance`` from an aim point, at a random
    ``yaw`` around the vertical axis and a random ``elevation`` angle, and looks
    at the aim point (no roll). The aim point is the subject's pelvis (mean over
    the frames) plus a small random offset, so the subject is not always centred.
    Intrinsics are drawn per camera: square pixels with a random focal length and
    a principal point jittered around the image centre. No lens distortion.

    The world frame is Z-up (``up``) as the bundled motion capture and H36M.
    Ranges are ``(low, high)``, sampled uniformly.

    Attributes:
        yaw_deg: azimuth of the camera around the subject, degrees.
        elevation_deg: angle of the line of sight above the horizontal, degrees.
        distance_m: horizontal distance camera - aim point, metres.
        focal_length_px: focal length, pixels.
        image_size: ``(w, h)`` in pixels.
        principal_point_jitter_px: max offset of the principal point from the image centre.
        aim_jitter_m: max offset of the aim point from the pelvis (x, y, z), metres.
        min_depth_m: every point of the motion must be at least this far in front
            of the camera; draws that violate it are redrawn.
        up: world up axis.
    """

    yaw_deg: tuple[float, float] = (-180.0, 180.0)
    elevation_deg: tuple[float, float] = (-5.0, 25.0)
    distance_m: tuple[float, float] = (3.5, 7.0)
    focal_length_px: tuple[float, float] = (900.0, 1300.0)
    image_size: tuple[int, int] = (1000, 1000)
    principal_point_jitter_px: float = 15.0
    aim_jitter_m: float = 0.15
    min_depth_m: float = 0.5
    up: tuple[float, float, float] = (0.0, 0.0, 1.0)

    def __post_init__(self) -> None:
        for name in ("yaw_deg", "elevation_deg", "distance_m", "focal_length_px"):
            lo, hi = getattr(self, name)
            if hi < lo:
                raise ValueError(f"{name}: low {lo} > high {hi}")
        if self.distance_m[0] <= 0 or self.focal_length_px[0] <= 0:
            raise ValueError("distance_m and focal_length_px must be positive")
        if not (-90 < self.elevation_deg[0] and self.elevation_deg[1] < 90):
            raise ValueError(f"elevation_deg must lie in (-90, 90), got {self.elevation_deg}")
        if len(self.image_size) != 2 or min(self.image_size) <= 0:
            raise ValueError(f"image_size must be (w, h) > 0, got {self.image_size}")

    def sample(self, target: ArrayLike, rng: Union[np.random.Generator, int, None] = None) -> Camera:
        """Cameras aimed at ``target``: ``(3,)`` gives one camera, ``(N, 3)`` a batch of N (numpy)."""
        rng = _as_rng(rng)
        target = np.asarray(target, dtype=np.float64)
        if target.ndim not in (1, 2) or target.shape[-1] != 3:
            raise ValueError(f"target must have shape (3,) or (N, 3), got {target.shape}")
        single = target.ndim == 1
        tgt = target.reshape(-1, 3)
        n = tgt.shape[0]
        yaw = np.deg2rad(rng.uniform(*self.yaw_deg, size=n))
        elev = np.deg2rad(rng.uniform(*self.elevation_deg, size=n))
        dist = rng.uniform(*self.distance_m, size=n)
        aim = tgt + rng.uniform(-self.aim_jitter_m, self.aim_jitter_m, size=(n, 3))
        up = np.asarray(self.up, dtype=np.float64)
        up = up / np.linalg.norm(up)
        # horizontal basis perpendicular to `up`
        ref = np.array([1.0, 0.0, 0.0]) if abs(up[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
        e1 = ref - up * (ref @ up)
        e1 /= np.linalg.norm(e1)
        e2 = np.cross(up, e1)
        horizontal = np.cos(yaw)[:, None] * e1 + np.sin(yaw)[:, None] * e2
        position = aim + dist[:, None] * horizontal + (dist * np.tan(elev))[:, None] * up
        orientation = look_at(position, aim, up=tuple(up))
        w, h = self.image_size
        f = rng.uniform(*self.focal_length_px, size=n)
        c = np.array([w / 2, h / 2]) + rng.uniform(
            -self.principal_point_jitter_px, self.principal_point_jitter_px, size=(n, 2)
        )
        cam = Camera(
            orientation=orientation,
            translation=position,
            focal_length=np.stack([f, f], -1),
            center=c,
            radial_distortion=np.zeros((n, 3)),
            tangential_distortion=np.zeros((n, 2)),
            res_w=np.full(n, float(w)),
            res_h=np.full(n, float(h)),
            name="virtual",
        )
        return cam[0] if single else cam

    def sample_for_motion(
        self,
        poses_world: np.ndarray,
        rng: Union[np.random.Generator, int, None] = None,
        root: int = 0,
        max_tries: int = 50,
    ) -> Camera:
        """One camera for a whole motion ``(T, J, 3)``, aimed at its mean root position.

        Redraws until every joint of every frame is at least ``min_depth_m`` in
        front of the camera; raises ``ValueError`` after ``max_tries`` draws
        (the motion travels further than the distance range allows).
        """
        rng = _as_rng(rng)
        poses_world = np.asarray(poses_world, dtype=np.float64)
        if poses_world.ndim != 3 or poses_world.shape[-1] != 3 or poses_world.shape[0] == 0:
            raise ValueError(f"poses_world must have shape (T>=1, J, 3), got {poses_world.shape}")
        target = poses_world[:, root].mean(0)
        for _ in range(max_tries):
            cam = self.sample(target, rng)
            depth = cam.world_to_camera(poses_world)[..., 2]
            if float(depth.min()) >= self.min_depth_m:
                return cam
        raise ValueError(
            f"no camera within distance_m={self.distance_m} keeps the motion (extent "
            f"{np.ptp(poses_world.reshape(-1, 3), axis=0).round(2).tolist()} m) at least "
            f"{self.min_depth_m} m in front of it after {max_tries} draws; use a shorter window "
            "or a larger distance range"
        )
