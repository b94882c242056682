""":func:`root_trajectory`: where the person is in the camera frame, from 2D keypoints and root-relative 3D.

A root-relative pose ``p_j = (x_j, y_j, z_j)`` placed at the unknown root
position ``R = (X, Y, Z)`` projects (pinhole, no distortion) to
``u_j = fx (X + x_j) / (Z + z_j) + cx`` and ``v_j = fy (Y + y_j) / (Z + z_j) + cy``.
With ``a_j = (u_j - cx) / fx`` and ``b_j = (v_j - cy) / fy`` that is linear in R:

    X - a_j Z = a_j z_j - x_j        Y - b_j Z = b_j z_j - y_j

so every frame is a 3-unknown weighted least-squares problem in closed form
(weights: the keypoint confidences). The residuals of these equations are the
reprojection errors times the joint depth ``Z + z_j``; ``iterations``
re-weightings by ``1 / (Z + z_j)^2`` turn the fit into the reprojection-error
fit. Frames with fewer than two usable joints are interpolated over time.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np
import torch

from ._common import ArrayOrTensor, _check_sequence, _missing_mask, _restore_kind, _to_cpu64

__all__ = ["Intrinsics", "default_intrinsics", "root_trajectory", "resolve_intrinsics"]


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics in pixels: ``focal_length = (fx, fy)``, ``principal_point = (cx, cy)``."""

    focal_length: tuple[float, float]
    principal_point: tuple[float, float]

    def __post_init__(self) -> None:
        f = _pair(self.focal_length, "focal_length")
        c = _pair(self.principal_point, "principal_point")
        if not (f[0] > 0 and f[1] > 0):
            raise ValueError(f"focal_length must be positive pixels, got {self.focal_length!r}")
        object.__setattr__(self, "focal_length", f)
        object.__setattr__(self, "principal_point", c)

    def to_dict(self) -> dict[str, list[float]]:
        return {"focal_length": list(self.focal_length), "principal_point": list(self.principal_point)}


def _pair(value: Any, name: str) -> tuple[float, float]:
    if isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool):
        value = (value, value)
    try:
        a, b = (float(v) for v in np.asarray(value, dtype=np.float64).reshape(-1))
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number or a pair of numbers, got {value!r}") from None
    if not (math.isfinite(a) and math.isfinite(b)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return a, b


def _image_size(image_size: Any) -> tuple[float, float]:
    if image_size is None:
        raise ValueError("image_size=(w, h) is needed for default intrinsics (focal = image diagonal)")
    w, h = _pair(image_size, "image_size")
    if not (w > 0 and h > 0):
        raise ValueError(f"image_size must be positive (w, h), got {image_size!r}")
    return w, h


def default_intrinsics(image_size: Sequence[float], *, warn: bool = True) -> Intrinsics:
    """Intrinsics for an unknown camera: focal length = the image diagonal, principal point = the centre.

    A diagonal focal length is a ~47 degree horizontal field of view on a 16:9
    image (a normal lens); a wide phone camera has a shorter focal length, which
    puts the person closer than this estimate (depth scales with the focal length).
    """
    w, h = _image_size(image_size)
    if warn:
        warnings.warn(
            f"camera intrinsics unknown: assuming focal length = image diagonal ({math.hypot(w, h):.0f} px) and the "
            "principal point at the image centre; depth scales with the focal length (pass the real one if known)",
            UserWarning,
            stacklevel=3,
        )
    return Intrinsics((math.hypot(w, h),) * 2, (w / 2, h / 2))


def resolve_intrinsics(camera: Any, image_size: Optional[Sequence[float]] = None) -> Intrinsics:
    """An :class:`Intrinsics` from ``"default"``, an Intrinsics, a ``posezoo.data.Camera``, a mapping with
    ``focal_length`` (and optional ``principal_point``), or a focal length number (principal point = centre)."""
    if isinstance(camera, Intrinsics):
        return camera
    if isinstance(camera, str):
        if camera != "default":
            raise ValueError(f"camera must be 'default', Intrinsics, a Camera or a mapping, got {camera!r}")
        return default_intrinsics(_image_size(image_size), warn=True)
    if hasattr(camera, "focal_length") and hasattr(camera, "center"):  # posezoo.data.Camera
        f, c = (
            np.asarray(v.detach().cpu() if isinstance(v, torch.Tensor) else v, dtype=np.float64)
            for v in (camera.focal_length, camera.center)
        )
        if f.shape != (2,) or c.shape != (2,):
            raise ValueError(f"expected one camera (focal_length (2,)), got focal_length {f.shape}")
        return Intrinsics(tuple(f), tuple(c))
    if isinstance(camera, Mapping):
        unknown = set(camera) - {"focal_length", "principal_point"}
        if unknown or "focal_length" not in camera:
            raise ValueError(
                f"camera mapping needs 'focal_length' (and optional 'principal_point'), got {sorted(camera)}"
            )
        pp = camera.get("principal_point")
        if pp is None:
            w, h = _image_size(image_size)
            pp = (w / 2, h / 2)
        return Intrinsics(camera["focal_length"], pp)
    if isinstance(camera, (int, float)) and not isinstance(camera, bool):
        w, h = _image_size(image_size)
        return Intrinsics(camera, (w / 2, h / 2))
    raise TypeError(
        f"camera must be 'default', Intrinsics, a Camera, a mapping or a number, got {type(camera).__name__}"
    )


def root_trajectory(
    keypoints_2d_px: ArrayOrTensor,
    poses_3d_root_relative: ArrayOrTensor,
    *,
    focal_length: Union[float, Sequence[float], None] = None,
    principal_point: Optional[Sequence[float]] = None,
    image_size: Optional[Sequence[float]] = None,
    confidence: Optional[ArrayOrTensor] = None,
    min_confidence: float = 0.0,
    smooth: Optional[float] = None,
    iterations: int = 2,
) -> ArrayOrTensor:
    """Camera-frame position of the pose origin (the root), by least-squares reprojection.

    Args:
        keypoints_2d_px: ``(T, J, 2)`` pixel keypoints (u right, v down), the
            same joints as the 3D poses (H36M-17 after :func:`posezoo.skeleton.to_h36m`).
        poses_3d_root_relative: ``(T, J, 3)`` metres, camera frame (x right,
            y down, z forward), relative to the root (``lift()``'s output).
        focal_length: ``f`` or ``(fx, fy)`` in pixels. ``None``: the image
            diagonal, with a warning (needs ``image_size``).
        principal_point: ``(cx, cy)`` pixels; ``None``: the image centre (needs ``image_size``).
        image_size: ``(w, h)`` pixels, for the defaults.
        confidence: optional ``(T, J)`` finite weights; keypoints scoring
            ``<= min_confidence`` are ignored and may be NaN/inf (missing).
            Without it (or where it scores higher), NaN/inf keypoints raise
            ``ValueError``, as in :func:`posezoo.lift`.
        smooth: temporal smoothing: a local straight-line fit with Gaussian
            weights of this standard deviation in frames (times the frame's
            confidence), so steady motion is kept; ``None`` or 0: none.
        iterations: re-weightings by ``1 / depth^2`` after the first solve.

    Returns:
        ``(T, 3)`` root positions in metres (camera frame), as the input kind
        (numpy / torch) and floating dtype of ``keypoints_2d_px``. Add them to the
        poses (``poses + root[:, None]``) for camera-space poses.
    """
    _check_sequence(keypoints_2d_px, "keypoints_2d_px")
    _check_sequence(poses_3d_root_relative, "poses_3d_root_relative")
    kp, pose = _to_cpu64(keypoints_2d_px).numpy(), _to_cpu64(poses_3d_root_relative).numpy()
    if kp.ndim != 3 or kp.shape[-1] != 2 or kp.shape[0] == 0:
        raise ValueError(f"keypoints_2d_px must have shape (T, J, 2) with T >= 1, got {kp.shape}")
    if pose.shape != kp.shape[:2] + (3,):
        raise ValueError(f"poses_3d_root_relative must have shape {kp.shape[:2] + (3,)}, got {pose.shape}")
    if not np.isfinite(pose).all():
        raise ValueError("poses_3d_root_relative holds non-finite values")
    if focal_length is None:
        intr = default_intrinsics(_image_size(image_size), warn=True)
        f = intr.focal_length
        c = intr.principal_point if principal_point is None else _pair(principal_point, "principal_point")
    else:
        if principal_point is None:
            w, h = _image_size(image_size)
            principal_point = (w / 2, h / 2)
        intr = Intrinsics(focal_length, principal_point)
        f, c = intr.focal_length, intr.principal_point
    missing = _missing_mask(torch.from_numpy(kp), confidence, min_confidence, "keypoints_2d_px").numpy()
    weight = np.ones(kp.shape[:2]) if confidence is None else _to_cpu64(confidence).numpy()
    weight = np.where(missing, 0.0, weight)
    if iterations < 0:
        raise ValueError(f"iterations must be >= 0, got {iterations}")
    root = _solve(kp, pose, f, c, weight, iterations)
    usable = np.isfinite(root).all(-1)
    if not usable.any():
        raise ValueError("no frame has two usable keypoints; cannot place the root")
    behind = int((root[usable, 2] <= 0).sum())
    if behind:
        warnings.warn(
            f"the root lands behind the camera (z <= 0) in {behind} of {int(usable.sum())} frames: the 3D poses do not "
            "fit the 2D keypoints (other joint layout, left/right swapped, or an unreliable 3D prediction)",
            UserWarning,
            stacklevel=2,
        )
    frame_weight = np.where(usable, weight.sum(-1), 0.0)
    if smooth:
        root = _gaussian_smooth(np.nan_to_num(root), frame_weight, float(smooth))
    elif not usable.all():
        frames = np.arange(len(root))
        root = np.stack([np.interp(frames, frames[usable], root[usable, k]) for k in range(3)], -1)
    return _restore_kind(torch.from_numpy(root), keypoints_2d_px)


def _solve(kp: np.ndarray, pose: np.ndarray, f: tuple, c: tuple, weight: np.ndarray, iterations: int) -> np.ndarray:
    a = (kp[..., 0] - c[0]) / f[0]
    b = (kp[..., 1] - c[1]) / f[1]
    a, b = np.nan_to_num(a), np.nan_to_num(b)
    x, y, z = pose[..., 0], pose[..., 1], pose[..., 2]
    zeros, ones = np.zeros_like(a), np.ones_like(a)
    rows = np.stack([np.stack([ones, zeros, -a], -1), np.stack([zeros, ones, -b], -1)], -2)  # (T, J, 2, 3)
    rhs = np.stack([a * z - x, b * z - y], -1)  # (T, J, 2)
    enough = (weight > 0).sum(-1) >= 2
    w = weight
    root = np.full((kp.shape[0], 3), np.nan)
    for _ in range(iterations + 1):
        m = np.einsum("tj,tjki,tjkl->til", w, rows, rows)
        v = np.einsum("tj,tjki,tjk->ti", w, rows, rhs)
        ok = enough & (np.abs(np.linalg.det(m)) > 1e-12)
        sol = np.full_like(root, np.nan)
        if ok.any():
            sol[ok] = np.linalg.solve(m[ok], v[ok][..., None])[..., 0]
        root = sol
        depth = np.where(ok[:, None], root[:, 2:3] + z, 1.0)
        w = weight / np.maximum(depth, 1e-3) ** 2
    return root


def _gaussian_smooth(values: np.ndarray, weight: np.ndarray, sigma: float) -> np.ndarray:
    """Local-linear Gaussian smoothing over axis 0 (``sigma`` frames), weighted; zero-weight frames are filled in.

    Each frame gets the value at its time of a weighted straight-line fit to its neighbours (Gaussian kernel
    times ``weight``): a person moving at constant velocity is not pulled back at the ends of the sequence.
    """
    if sigma < 0:
        raise ValueError(f"smooth must be >= 0 frames, got {sigma}")
    radius = max(1, int(math.ceil(3 * sigma)))
    s = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (s / sigma) ** 2)

    def corr(a: np.ndarray, kernel: np.ndarray) -> np.ndarray:  # sum_s a[t + s] * kernel(s)
        return np.correlate(np.pad(a, radius), kernel, mode="valid")

    m0, m1, m2 = corr(weight, k), corr(weight, k * s), corr(weight, k * s * s)
    det = m0 * m2 - m1 * m1
    out = np.empty_like(values)
    for i in range(values.shape[1]):
        b0, b1 = corr(weight * values[:, i], k), corr(weight * values[:, i], k * s)
        linear = (m2 * b0 - m1 * b1) / np.where(det > 1e-9 * np.maximum(m0 * m2, 1e-300), det, np.inf)
        mean = b0 / np.maximum(m0, 1e-300)
        out[:, i] = np.where(det > 1e-9 * np.maximum(m0 * m2, 1e-300), linear, mean)
    empty = m0 <= 1e-12
    if empty.any():  # frames farther than 3 sigma from any usable one
        frames = np.arange(len(out))
        out[empty] = np.stack(
            [np.interp(frames[empty], frames[~empty], out[~empty, i]) for i in range(out.shape[1])], -1
        )
    return out
