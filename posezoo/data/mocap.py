"""Motion-capture clips and "any 3D motion -> (2D, 3D) training pairs" through virtual cameras.

Clip format (the repository's ``datasets/cmu_mocap17/mocap17_*.npz``, read
with :func:`posezoo.data.cmu_mocap`, and the bundled sample): one npz per split
holding one ``float32`` array ``(T, 17, 3)`` per clip, keyed by clip name,
H36M-17 joint order (:data:`posezoo.skeleton.H36M_17`), metres, 50 Hz, **world
frame with Z up** (floor at z = 0). A ``meta.json`` beside it describes the
clips (source, licence, frame rate, per-clip notes).

:class:`VirtualCameraPairs` turns such world-frame motion into what a lifting
model trains on: each window is seen through a random virtual camera
(:class:`posezoo.data.camera.VirtualCameraSampler`), giving 2D keypoints in
normalised screen coordinates and root-relative camera-frame 3D poses, with
optional detector-like noise (:class:`DetectorNoise`: Gaussian jitter,
occasional outlier joints, missing joints) and per-joint confidences.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np
from torch.utils.data import Dataset

from .._validation import check_int, read_json
from ._safe_npz import load_npz_safe
from .camera import VirtualCameraSampler
from .windows import _to_tensors

__all__ = ["load_clips", "load_clip_meta", "DetectorNoise", "VirtualCameraPairs", "camera_view"]

PathLike = Union[str, os.PathLike]


def load_clips(path: PathLike, num_joints: int = 17) -> dict[str, np.ndarray]:
    """Read a clip npz: ``{name: (T, num_joints, 3) float32}`` (world frame, metres).

    Raises ``ValueError`` for an entry that is not ``(T >= 1, num_joints, 3)``
    real numbers or holds non-finite values, and for unreadable or oversized
    files (see :data:`posezoo.limits`). Never unpickles.
    """
    num_joints = check_int("num_joints", num_joints, limit="max_width", numpy_ok=True)
    out: dict[str, np.ndarray] = {}
    for name, clip in load_npz_safe(path, allow_objects=False).items():
        if not isinstance(clip, np.ndarray) or clip.dtype.kind not in "fiu":
            kind = clip.dtype if isinstance(clip, np.ndarray) else type(clip).__name__
            raise ValueError(f"{path}: clip {name!r} must hold real numbers (metres), got {kind}")
        if clip.ndim != 3 or clip.shape[1:] != (num_joints, 3) or clip.shape[0] < 1:
            raise ValueError(f"{path}: clip {name!r} must be (T, {num_joints}, 3), got {clip.shape}")
        if not np.isfinite(clip).all():
            raise ValueError(f"{path}: clip {name!r} holds non-finite values")
        out[name] = np.ascontiguousarray(clip, dtype=np.float32)
    if not out:
        raise ValueError(f"{path} holds no clips")
    return out


def load_clip_meta(path: PathLike) -> dict[str, Any]:
    """Read ``meta.json`` (a path to the file or to its folder); ``ValueError`` unless it is a JSON object."""
    p = Path(path)
    if p.is_dir():
        p = p / "meta.json"
    meta = read_json(p, "clip meta.json")
    if not isinstance(meta, dict):
        raise ValueError(f"{p}: a clip meta.json must hold a JSON object, got {type(meta).__name__}")
    return meta


@dataclass
class DetectorNoise:
    """Detector-like corruption of pixel keypoints, with confidences.

    Per keypoint, independently:

    * with probability ``missing_prob`` it is **missing**: confidence 0 and its
      coordinates replaced by the mean of the frame's keypoints (a neutral
      value; use the confidence to mask it);
    * else with probability ``outlier_prob`` it is an **outlier**: displaced by
      Gaussian noise of ``outlier_sigma_px`` and given a confidence drawn from
      ``outlier_confidence``;
    * else it gets Gaussian jitter of ``sigma_px`` and a confidence drawn from
      ``inlier_confidence``.

    Attributes are in pixels; confidences uniform in the given ``(low, high)``.
    """

    sigma_px: float = 3.0
    outlier_prob: float = 0.02
    outlier_sigma_px: float = 40.0
    missing_prob: float = 0.0
    inlier_confidence: tuple[float, float] = (0.7, 1.0)
    outlier_confidence: tuple[float, float] = (0.05, 0.5)

    def __post_init__(self) -> None:
        for name in ("outlier_prob", "missing_prob"):
            p = getattr(self, name)
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {p}")
        if self.sigma_px < 0 or self.outlier_sigma_px < 0:
            raise ValueError("noise sigmas must be >= 0")
        for name in ("inlier_confidence", "outlier_confidence"):
            lo, hi = getattr(self, name)
            if not 0.0 < lo <= hi <= 1.0:
                raise ValueError(f"{name} must satisfy 0 < low <= high <= 1, got {(lo, hi)}")

    def __call__(self, keypoints_px: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Corrupt ``(..., J, 2)`` pixel keypoints; returns ``(noisy (..., J, 2), confidence (..., J))``."""
        kp = np.asarray(keypoints_px, dtype=np.float64)
        if kp.ndim < 2 or kp.shape[-1] != 2:
            raise ValueError(f"keypoints_px must be (..., J, 2), got {kp.shape}")
        shape = kp.shape[:-1]
        u = rng.random(shape)
        missing = u < self.missing_prob
        outlier = ~missing & (u < self.missing_prob + self.outlier_prob)
        sigma = np.where(outlier, self.outlier_sigma_px, self.sigma_px)[..., None]
        noisy = kp + rng.normal(size=kp.shape) * sigma
        conf = np.where(
            outlier, rng.uniform(*self.outlier_confidence, size=shape), rng.uniform(*self.inlier_confidence, size=shape)
        )
        if missing.any():
            neutral = np.broadcast_to(kp.mean(axis=-2, keepdims=True), kp.shape)
            noisy = np.where(missing[..., None], neutral, noisy)
            conf = np.where(missing, 0.0, conf)
        return noisy, conf


def camera_view(
    world: np.ndarray, cam: Any, noise: Any, rng: np.random.Generator, root: int = 0, distort: bool = True
) -> dict[str, np.ndarray]:
    """World-frame poses ``(F, J, 3)`` seen through ``cam``: the fields of a training pair.

    ``noise`` (e.g. :class:`DetectorNoise`, or ``None``) corrupts the pixels and gives confidences.
    Returns float32 ``keypoints_2d`` ``(F, J, 2)`` (normalised screen coordinates), ``pose_3d``
    ``(F, J, 3)`` (camera frame, metres, relative to joint ``root``), ``confidence`` ``(F, J)``,
    ``camera_intrinsics`` ``(9,)`` and ``image_size`` ``(2,)`` (pixels).
    """
    cam3d = cam.world_to_camera(world)
    pixels = cam.project(cam3d, distort=distort)
    if noise is not None:
        pixels, confidence = noise(pixels, rng)
    else:
        confidence = np.ones(pixels.shape[:-1])
    return {
        "keypoints_2d": cam.normalize(pixels).astype(np.float32),
        "pose_3d": (cam3d - cam3d[:, root : root + 1]).astype(np.float32),
        "confidence": confidence.astype(np.float32),
        "camera_intrinsics": cam.intrinsics().astype(np.float32),
        "image_size": np.array([float(cam.res_w), float(cam.res_h)], dtype=np.float32),
    }


class VirtualCameraPairs(Dataset):
    """World-frame 3D motion seen through random virtual cameras: (2D, 3D) pairs.

    A torch ``Dataset`` over whole clips (item ``i`` = clip ``i`` through a
    freshly sampled camera), and a *source* for the window datasets of
    :mod:`posezoo.data.windows` (``Seq2SeqWindows(VirtualCameraPairs(clips), 243)``),
    where every window gets its own camera, aimed at the window's mean root.

    Each item / window is a dict:

    * ``keypoints_2d`` ``(T, J, 2)`` float32, normalised screen coordinates;
    * ``pose_3d`` ``(T, J, 3)`` float32, camera frame, metres, root-relative;
    * ``confidence`` ``(T, J)`` float32 (1 without noise, 0 = missing);
    * ``camera_intrinsics`` ``(9,)`` pixel intrinsics and ``image_size`` ``(2,)``.

    Args:
        clips: ``{name: (T, J, 3)}`` or a list of world-frame arrays (Z up, metres).
        sampler: the virtual camera distribution (default :class:`VirtualCameraSampler`).
        noise: optional :class:`DetectorNoise` applied in pixels.
        root: root joint for root-relative 3D.
        seed: base seed; item ``i`` of epoch ``e`` uses ``default_rng([seed, e, i])``.
    """

    def __init__(
        self,
        clips: Union[Mapping[str, np.ndarray], Sequence[np.ndarray]],
        sampler: Optional[VirtualCameraSampler] = None,
        noise: Optional[DetectorNoise] = None,
        root: int = 0,
        seed: int = 0,
    ) -> None:
        if isinstance(clips, Mapping):
            self.names = list(clips)
            arrays = list(clips.values())
        else:
            arrays = list(clips)
            self.names = [str(i) for i in range(len(arrays))]
        if not arrays:
            raise ValueError("no clips given")
        self.clips = []
        for name, clip in zip(self.names, arrays):
            clip = np.asarray(clip, dtype=np.float64)
            if clip.ndim != 3 or clip.shape[-1] != 3 or clip.shape[0] < 1:
                raise ValueError(f"clip {name!r} must be (T >= 1, J, 3), got {clip.shape}")
            if not np.isfinite(clip).all():
                raise ValueError(f"clip {name!r} holds non-finite values")
            self.clips.append(clip)
        self.sampler = sampler or VirtualCameraSampler()
        self.noise = noise
        self.root = int(root)
        self.seed = int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.clips)

    def sequence_length(self, index: int) -> int:
        return int(self.clips[index].shape[0])

    def window(self, index: int, frames: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Frames of clip ``index`` through a camera drawn from ``rng``."""
        world = self.clips[index][np.asarray(frames)]
        cam = self.sampler.sample_for_motion(world, rng, root=self.root)
        return camera_view(world, cam, self.noise, rng, root=self.root)

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} clips")
        rng = np.random.default_rng([self.seed, self.epoch, index])
        sample: dict[str, Any] = self.window(index, np.arange(self.sequence_length(index)), rng)
        sample["meta"] = {"sequence": index, "name": self.names[index]}
        return _to_tensors(sample)
