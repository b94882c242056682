"""Cameras: screen normalisation, world <-> camera transforms, H36M projection, virtual cameras.

Conventions (the Human3.6M / VideoPose3D ones):

* **Pixels** ``(u, v)``: ``u`` to the right in ``[0, w]``, ``v`` downwards in ``[0, h]``.
* **Normalised screen coordinates**: ``x = u / w * 2 - 1`` and
  ``y = v / w * 2 - h / w``. The image width maps to ``[-1, 1]``; ``y`` is
  scaled by the same factor, so the aspect ratio is kept.
* **Camera frame** (metres): ``x`` right, ``y`` down, ``z`` forward (optical
  axis). Points in front of the camera have ``z > 0``.
* **Orientation** is a unit quaternion ``(w, x, y, z)`` that rotates camera-frame
  vectors into the world frame, and **translation** is the camera centre in
  world coordinates, exactly as in the H36M camera files:
  ``X_cam = R(q)^T (X_world - t)`` and ``X_world = R(q) X_cam + t``.
* **Distortion** follows the H36M calibration model (``ProjectPointRadial``)
  with the tangential coefficients in the order of VideoPose3D's camera table:
  for ``(x, y) = (X/Z, Y/Z)`` and ``r2 = x^2 + y^2``,
  ``radial = 1 + k1 r2 + k2 r2^2 + k3 r2^3``, ``tan = p1 x + p2 y`` and
  ``(x, y)_distorted = (x, y) (radial + tan) + (p1, p2) r2``; pixels are
  ``f * (x, y)_distorted + c``.

Every function accepts numpy arrays and torch tensors, keeps the kind (and
device) of its main input, and is batched: per-camera parameters have shape
``(*L, C)`` where ``L`` is a prefix of the leading axes of the points (for
example one camera per sequence, ``(B, 9)``, with points ``(B, T, J, 3)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, Optional, Sequence, Union

import numpy as np
import torch

from .._validation import check_float
from ._array import Array, ArrayLike, as_like, check_array, cross, expand_params, sqrt, stack

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


def _check_last(x: Any, size: int, name: str) -> Any:
    """``x`` validated as ``(..., size)`` finite real numbers; integer arrays come back as floating."""
    check_array(x, name)
    if x.ndim < 1 or x.shape[-1] != size:
        raise ValueError(f"{name} must have shape (..., {size}), got {tuple(x.shape)}")
    if isinstance(x, torch.Tensor):
        return x if x.is_floating_point() else x.float()
    return x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float64)


def _check_positive(value: Array, name: str) -> None:
    bad = bool((value <= 0).any()) if isinstance(value, torch.Tensor) else bool(np.any(value <= 0))
    if bad:
        raise ValueError(f"{name} must be > 0, got {value}")


def _size_params(x: Array, w: ArrayLike, h: ArrayLike) -> tuple[Array, Array]:
    """``w`` and ``h`` as ``(*L, 1, ..., 1)`` (scale) and ``(*L, 1, ..., 2)`` (offset) arrays."""
    w_, h_ = as_like(w, x), as_like(h, x)
    if tuple(w_.shape) != tuple(h_.shape):
        raise ValueError(f"w and h must have the same shape, got {tuple(w_.shape)} and {tuple(h_.shape)}")
    _check_positive(w_, "w")
    _check_positive(h_, "h")
    one = w_ * 0 + 1
    offset = stack([one, h_ / w_], axis=-1)  # (*L, 2)
    scale = w_[..., None]
    return expand_params(scale, x), expand_params(offset, x)


def normalize_screen_coordinates(x: Array, w: ArrayLike, h: ArrayLike) -> Array:
    """Pixels -> normalised screen coordinates (VideoPose3D convention).

    Args:
        x: ``(..., 2)`` pixel coordinates ``(u, v)``.
        w, h: image width and height in pixels: numbers, or arrays of shape ``L``
            (a prefix of ``x``'s leading axes) for one size per sequence.

    Returns:
        ``(..., 2)``: ``u / w * 2 - 1`` and ``v / w * 2 - h / w``; the image
        width spans ``[-1, 1]`` and the aspect ratio is kept.
    """
    x = _check_last(x, 2, "x")
    scale, offset = _size_params(x, w, h)
    return x / scale * 2 - offset


def image_coordinates(x: Array, w: ArrayLike, h: ArrayLike) -> Array:
    """Normalised screen coordinates -> pixels; the inverse of :func:`normalize_screen_coordinates`."""
    x = _check_last(x, 2, "x")
    scale, offset = _size_params(x, w, h)
    return (x + offset) * scale / 2


# --------------------------------------------------------------------------- quaternions


def qinverse(q: Array) -> Array:
    """Inverse of unit quaternions ``(..., 4)`` ``(w, x, y, z)``: the conjugate."""
    q = _check_last(q, 4, "q")
    sign = as_like([1.0, -1.0, -1.0, -1.0], q)
    return q * sign


def qrot(q: Array, v: Array) -> Array:
    """Rotate vectors ``v (..., 3)`` by unit quaternions ``q (*L, 4)`` (``L`` a prefix of ``v``'s axes)."""
    q = _check_last(q, 4, "q")
    v = _check_last(v, 3, "v")
    q = expand_params(as_like(q, v), v)
    w, u = q[..., :1], q[..., 1:]
    uv = cross(u, v)
    uuv = cross(u, uv)
    return v + 2 * (w * uv + uuv)


def quaternion_to_matrix(q: Array) -> Array:
    """Rotation matrices ``(..., 3, 3)`` of unit quaternions ``(..., 4)``: ``R @ v == qrot(q, v)``."""
    q = _check_last(q, 4, "q")
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    rows = [
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ]
    return stack([stack(r, axis=-1) for r in rows], axis=-2)


def matrix_to_quaternion(m: Array) -> Array:
    """Unit quaternions ``(..., 4)`` ``(w, x, y, z)`` with ``w >= 0`` of rotation matrices ``(..., 3, 3)``.

    Uses the numerically stable branch (largest of ``4w^2, 4x^2, 4y^2, 4z^2``) per matrix.
    """
    m = _check_last(m, 3, "m")
    if m.ndim < 2 or tuple(m.shape[-2:]) != (3, 3):
        raise ValueError(f"m must have shape (..., 3, 3), got {tuple(m.shape)}")
    m00, m01, m02 = m[..., 0, 0], m[..., 0, 1], m[..., 0, 2]
    m10, m11, m12 = m[..., 1, 0], m[..., 1, 1], m[..., 1, 2]
    m20, m21, m22 = m[..., 2, 0], m[..., 2, 1], m[..., 2, 2]
    t = stack([1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22])
    floor = as_like(1e-12, m)
    if isinstance(m, torch.Tensor):
        s = torch.sqrt(torch.clamp(t, min=float(floor))) * 2  # 4*|component|
    else:
        s = np.sqrt(np.maximum(t, floor)) * 2
    s0, s1, s2, s3 = s[..., 0], s[..., 1], s[..., 2], s[..., 3]
    candidates = stack(
        [
            stack([s0 / 4, (m21 - m12) / s0, (m02 - m20) / s0, (m10 - m01) / s0]),
            stack([(m21 - m12) / s1, s1 / 4, (m01 + m10) / s1, (m02 + m20) / s1]),
            stack([(m02 - m20) / s2, (m01 + m10) / s2, s2 / 4, (m12 + m21) / s2]),
            stack([(m10 - m01) / s3, (m02 + m20) / s3, (m12 + m21) / s3, s3 / 4]),
        ],
        axis=-2,
    )  # (..., 4 branches, 4)
    if isinstance(m, torch.Tensor):
        best = t.argmax(dim=-1)
        q = torch.gather(candidates, -2, best[..., None, None].expand(*best.shape, 1, 4))[..., 0, :]
        q = q / torch.linalg.norm(q, dim=-1, keepdim=True)
        return torch.where(q[..., :1] < 0, -q, q)
    best = np.argmax(t, axis=-1)
    q = np.take_along_axis(candidates, best[..., None, None], axis=-2)[..., 0, :]
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    return np.where(q[..., :1] < 0, -q, q)


# --------------------------------------------------------------------------- transforms


def world_to_camera(x: Array, orientation: ArrayLike, translation: ArrayLike) -> Array:
    """World -> camera frame: ``R(q)^T (x - t)``.

    Args:
        x: ``(..., 3)`` world points (metres).
        orientation: ``(*L, 4)`` camera->world quaternions ``(w, x, y, z)`` (H36M files).
        translation: ``(*L, 3)`` camera centres in world coordinates (metres).
    """
    x = _check_last(x, 3, "x")
    q = _check_last(as_like(orientation, x, "orientation"), 4, "orientation")
    t = expand_params(_check_last(as_like(translation, x, "translation"), 3, "translation"), x)
    return qrot(qinverse(q), x - t)


def camera_to_world(x: Array, orientation: ArrayLike, translation: ArrayLike) -> Array:
    """Camera -> world frame: ``R(q) x + t``; the inverse of :func:`world_to_camera`."""
    x = _check_last(x, 3, "x")
    q = _check_last(as_like(orientation, x, "orientation"), 4, "orientation")
    t = expand_params(_check_last(as_like(translation, x, "translation"), 3, "translation"), x)
    return qrot(q, x) + t


def project_points(
    x: Array,
    focal_length: ArrayLike,
    center: ArrayLike,
    radial_distortion: Optional[ArrayLike] = None,
    tangential_distortion: Optional[ArrayLike] = None,
    clamp: Optional[float] = None,
) -> Array:
    """Project camera-frame points to pixels with the H36M distortion model.

    Args:
        x: ``(..., 3)`` camera-frame points (``z > 0`` in front of the camera).
        focal_length: ``(*L, 2)`` ``(fx, fy)`` in pixels.
        center: ``(*L, 2)`` principal point ``(cx, cy)`` in pixels.
        radial_distortion: ``(*L, 3)`` ``(k1, k2, k3)``; ``None`` = 0.
        tangential_distortion: ``(*L, 2)`` ``(p1, p2)`` in VideoPose3D's order; ``None`` = 0.
        clamp: if given, clamp ``X/Z`` and ``Y/Z`` to ``[-clamp, clamp]`` before
            distortion (VideoPose3D's differentiable ``project_to_2d`` uses 1).

    Returns:
        ``(..., 2)`` pixel coordinates. Points with ``z == 0`` raise ``ValueError``
        (no projection); points behind the camera (``z < 0``) project through
        the centre, as in the H36M code. Non-finite inputs raise ``ValueError``.
    """
    x = _check_last(x, 3, "x")
    f = expand_params(as_like(focal_length, x), x)
    c = expand_params(as_like(center, x), x)
    f = _check_last(f, 2, "focal_length")
    c = _check_last(c, 2, "center")
    on_plane = (x[..., 2] == 0).any() if isinstance(x, torch.Tensor) else np.any(x[..., 2] == 0)
    if not (isinstance(x, torch.Tensor) and torch.compiler.is_compiling()) and bool(on_plane):
        raise ValueError(
            "x holds points with z == 0 (on the camera plane): they have no projection; "
            "points must lie in front of the camera (z > 0)"
        )
    xy = x[..., :2] / x[..., 2:3]
    if clamp is not None:
        clamp = check_float("clamp", clamp, minimum=0.0, exclusive_minimum=True)
        xy = xy.clamp(-clamp, clamp) if isinstance(xy, torch.Tensor) else np.clip(xy, -clamp, clamp)
    if radial_distortion is not None or tangential_distortion is not None:
        r2 = (xy * xy).sum(-1, keepdims=True) if isinstance(xy, np.ndarray) else (xy * xy).sum(-1, keepdim=True)
        factor = 1
        if radial_distortion is not None:
            k = expand_params(as_like(radial_distortion, x), x)
            k = _check_last(k, 3, "radial_distortion")
            factor = 1 + k[..., 0:1] * r2 + k[..., 1:2] * r2**2 + k[..., 2:3] * r2**3
        offset = 0
        if tangential_distortion is not None:
            p = expand_params(as_like(tangential_distortion, x), x)
            p = _check_last(p, 2, "tangential_distortion")
            tan = p[..., 0:1] * xy[..., 0:1] + p[..., 1:2] * xy[..., 1:2]
            factor = factor + tan
            offset = p * r2
        xy = xy * factor + offset
    return f * xy + c


def project_to_2d(x: Array, intrinsics: ArrayLike, clamp: Optional[float] = None) -> Array:
    """:func:`project_points` with VideoPose3D's 9-vector ``(fx, fy, cx, cy, k1, k2, k3, p1, p2)``.

    ``intrinsics`` has shape ``(*L, 9)``. With pixel intrinsics the result is in
    pixels; with VideoPose3D's normalised intrinsics (``f / w * 2`` and the
    normalised centre) it is in normalised screen coordinates.
    """
    x = _check_last(x, 3, "x")
    k = as_like(intrinsics, x)
    k = _check_last(k, 9, "intrinsics")
    return project_points(x, k[..., 0:2], k[..., 2:4], k[..., 4:7], k[..., 7:9], clamp=clamp)


def look_at(position: Array, target: Array, up: Sequence[float] = (0.0, 0.0, 1.0)) -> Array:
    """Orientation quaternions ``(..., 4)`` of cameras at ``position`` looking at ``target`` with no roll.

    The camera's ``z`` axis points at the target, its ``x`` axis is horizontal
    (perpendicular to ``up``) and its ``y`` axis points downwards.
    """
    position = _check_last(position, 3, "position")
    target = _check_last(target, 3, "target")
    target = as_like(target, position)
    up_ = as_like(up, position)
    forward = target - position
    norm = sqrt((forward * forward).sum(-1))[..., None]
    if bool((norm < 1e-12).any()):
        raise ValueError("look_at: position and target coincide; the viewing direction is undefined")
    forward = forward / norm
    right = cross(forward, up_ + forward * 0)
    right_norm = sqrt((right * right).sum(-1))[..., None]
    if bool((right_norm < 1e-9).any()):
        raise ValueError("look_at: the viewing direction is parallel to `up`")
    right = right / right_norm
    down = cross(forward, right)
    camera_to_world_matrix = stack([right, down, forward], axis=-1)  # columns = camera axes in world
    return matrix_to_quaternion(camera_to_world_matrix)


# --------------------------------------------------------------------------- Camera


def _field_array(value: Any, like: Any, dtype: Any) -> Any:
    if isinstance(like, torch.Tensor):
        return torch.as_tensor(value, dtype=dtype, device=like.device)
    return np.asarray(value, dtype=dtype)


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
