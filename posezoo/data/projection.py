"""Camera geometry: screen normalisation, quaternions, world <-> camera transforms, H36M projection.

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

The :class:`~posezoo.data.camera.Camera` class builds on these functions; every
name here is also importable from :mod:`posezoo.data.camera`.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

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
