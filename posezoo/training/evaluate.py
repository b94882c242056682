"""Whole-clip evaluation as a user runs the models: static cameras, any length, ``lift()`` / ``refine()``.

Every clip is seen through ``views`` static virtual cameras (drawn with
``seed``, independent of the training draws), optionally with detector-like
noise (``DetectorNoise``: sigma 3 px and 2 % outliers on a 1000 px image,
scaled with the image size), and the whole clip is lifted with
:func:`posezoo.lift` (flip TTA on). Uplift-and-Upsample models get every
``input_stride``-th frame. MixSynthFormer models refine lifter-like noisy 3D
keyframes every K frames (:func:`posezoo.refine`) and are compared with
nearest / linear / cubic interpolation of the same keyframes.

Metrics are frame-weighted over all clips, in millimetres: ``mpjpe``,
``p_mpjpe``, ``n_mpjpe``, ``mpjve`` and ``accel``.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

import numpy as np
import torch
from torch import nn

from ..data.mocap import DetectorNoise
from ..inference import lift, refine
from .cameras import StaticCameraSampler
from .recipes.base import WindowMetrics
from .recipes.mixsynthformer import lifter_like_noise
from .sources import MocapViews

__all__ = ["evaluate_lifter", "evaluate_refiner", "interpolate_keyframes", "refine_sequence"]

MM = 1000.0


#: the noisy pass of :func:`evaluate_lifter`: Gaussian sigma (px per 1000 px of image) and outlier fraction
DEFAULT_NOISE_SIGMA_PX = 3.0
DEFAULT_OUTLIER_PROB = 0.02


def _detector_noise(image_size: np.ndarray, sigma_px: float, outlier_prob: float) -> DetectorNoise:
    scale = float(max(image_size)) / 1000.0
    return DetectorNoise(sigma_px=sigma_px * scale, outlier_prob=outlier_prob, outlier_sigma_px=40.0 * scale)


#: second seed word of ``evaluate_lifter``'s noise stream (its cameras use the bare seed)
NOISE_STREAM = 1


def default_input_stride(model: nn.Module) -> int:
    """Uplift and Upsample: 4 when the model supports it, else its smallest input stride."""
    strides = sorted(int(s) for s in model.input_strides)
    return 4 if 4 in strides else strides[0]


def evaluate_lifter(
    model: nn.Module,
    clips: Mapping[str, np.ndarray],
    *,
    noise: bool = False,
    views: int = 2,
    seed: int = 1234,
    input_stride: Optional[int] = None,
    flip_tta: bool = True,
    cameras: Optional[StaticCameraSampler] = None,
    noise_sigma_px: float = DEFAULT_NOISE_SIGMA_PX,
    outlier_prob: float = DEFAULT_OUTLIER_PROB,
) -> dict[str, Any]:
    """Lift every clip seen through ``views`` static cameras; returns metrics (mm) and counts.

    Args:
        model: a lifting model (RTPCA / MixSTE) or an Uplift-and-Upsample model.
        clips: ``{name: (T, 17, 3)}`` world-frame clips (metres), e.g. ``cmu_mocap("test")``.
        noise: add detector-like noise: Gaussian ``noise_sigma_px`` pixels per 1000 px of image size and a
            fraction ``outlier_prob`` of joints moved by 40 px (per 1000 px) outliers.
        views: cameras per clip.
        seed: seeds the cameras and, through a separate stream, the noise: the clean and the noisy pass
            see every clip through the same cameras, so their numbers are paired.
        input_stride: Uplift-and-Upsample: keyframe spacing (default: 4 if supported, else its smallest).
    """
    source = MocapViews(clips, cameras=cameras or StaticCameraSampler())
    rng = np.random.default_rng(seed)
    noise_rng = np.random.default_rng([seed, NOISE_STREAM])
    totals = WindowMetrics(torch.float64)
    uu = hasattr(model, "output_stride")
    if uu and input_stride is None:
        input_stride = default_input_stride(model)
    for index in range(len(source)):
        world = source.clips[index]
        for _ in range(int(views)):
            cam = source.camera(index, rng)
            view = source.view(world, cam, rng)
            size = view["image_size"]
            pixels = cam.project(cam.world_to_camera(world), distort=False)
            conf = None
            if noise:
                pixels, conf = _detector_noise(size, noise_sigma_px, outlier_prob)(pixels, noise_rng)
            kp = pixels
            kwargs: dict[str, Any] = {}
            if uu:
                kp, conf = kp[::input_stride], (conf[::input_stride] if conf is not None else None)
                kwargs = {"input_stride": input_stride, "output_length": world.shape[0]}
            pred = lift(
                kp.astype(np.float32),
                model,
                image_size=(float(size[0]), float(size[1])),
                confidence=conf,
                flip_tta=flip_tta,
                **kwargs,
            )
            totals.update(pred, view["pose_3d"])
    out = {k: round(v, 3) for k, v in totals.result().items()}
    out.update(
        clips=len(source),
        views=int(views),
        frames=int(sum(c.shape[0] for c in source.clips)) * int(views),
        noise=bool(noise),
        seed=int(seed),
    )
    if noise:
        out.update(noise_sigma_px=float(noise_sigma_px), outlier_prob=float(outlier_prob))
    if uu:
        out["input_stride"] = int(input_stride)
    return out


def interpolate_keyframes(poses: np.ndarray, k: int, kind: str) -> np.ndarray:
    """Rebuild ``(T, J, C)`` from frames ``0, k, 2k, ...`` and the last one: ``nearest``, ``linear`` or ``cubic``."""
    t = poses.shape[0]
    keys = np.unique(np.r_[np.arange(0, t, k), t - 1])
    frames = np.arange(t)
    flat = poses.reshape(t, -1)
    if kind == "nearest":
        idx = keys[np.abs(frames[:, None] - keys[None, :]).argmin(1)]
        return poses[idx]
    if kind == "linear":
        out = np.stack([np.interp(frames, keys, flat[keys, c]) for c in range(flat.shape[1])], -1)
        return out.reshape(poses.shape)
    if kind == "cubic":
        from ..layers.keyframe_interp import interpolation_matrix

        m = (t - 1) // k  # natural cubic spline over the evenly spaced keyframes 0, k, ..., m*k
        out = poses.astype(np.float64).copy()
        grid = flat[np.arange(m + 1) * k].astype(np.float64)
        if m >= 1:
            out[: m * k + 1] = (interpolation_matrix(m + 1, k, "cubic").numpy() @ grid).reshape(-1, *poses.shape[1:])
        tail = np.arange(m * k, t)  # after the last grid keyframe: linear to the last frame
        if tail.size > 1:
            w = ((tail - m * k) / max(t - 1 - m * k, 1))[:, None]
            out[tail] = ((1 - w) * flat[m * k] + w * flat[t - 1]).reshape(-1, *poses.shape[1:])
        return out
    raise ValueError(f"kind must be 'nearest', 'linear' or 'cubic', got {kind!r}")


def refine_sequence(
    model: nn.Module,
    gt: np.ndarray,
    totals: WindowMetrics,
    generator: torch.Generator,
    sigma_m: float = 0.02,
    outlier_prob: float = 0.02,
    outlier_sigma_m: float = 0.1,
) -> None:
    """Refine lifter-like noisy keyframes of ``gt`` ``(T, J, 3)`` (metres, root-relative) into ``totals``.

    Adds the model's metrics, those of ``nearest_`` / ``linear_`` / ``cubic_`` interpolation of the same
    keyframes and ``noisy_keyframes_`` (the noisy input on the keyframes).
    """
    k = int(model.sample_interval)
    gt = np.asarray(gt, dtype=np.float64)
    noisy = lifter_like_noise(
        torch.from_numpy(gt)[None],
        torch.tensor([sigma_m], dtype=torch.float64),
        torch.tensor([outlier_prob], dtype=torch.float64),
        outlier_sigma_m,
        generator,
    )[0].numpy()
    noisy = noisy - noisy[:, :1]
    pred = refine(noisy.astype(np.float32), model)
    totals.update(pred, gt)
    for kind in ("nearest", "linear", "cubic"):
        totals.update(interpolate_keyframes(noisy, k, kind), gt, prefix=f"{kind}_")
    keys = np.arange(0, gt.shape[0], k)
    totals.update(noisy[keys], gt[keys], prefix="noisy_keyframes_")


def evaluate_refiner(
    model: nn.Module,
    clips: Mapping[str, np.ndarray],
    *,
    sigma_m: float = 0.02,
    outlier_prob: float = 0.02,
    outlier_sigma_m: float = 0.1,
    views: int = 2,
    seed: int = 1234,
) -> dict[str, Any]:
    """Refine noisy keyframes of every clip (camera frame, root-relative) vs interpolation baselines.

    Returns ``mpjpe`` etc. of the model, ``linear_mpjpe`` / ``nearest_mpjpe`` / ``cubic_mpjpe``
    (and their other metrics) of interpolating the same noisy keyframes, and ``noisy_mpjpe`` of the
    noisy input itself (on the keyframes).
    """
    source = MocapViews(clips)
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    k = int(model.sample_interval)
    totals = WindowMetrics(torch.float64)
    for index in range(len(source)):
        world = source.clips[index]
        for _ in range(int(views)):
            gt = source.view(world, source.camera(index, rng), rng)["pose_3d"]
            refine_sequence(model, gt, totals, gen, sigma_m, outlier_prob, outlier_sigma_m)
    out = {k: round(v, 3) for k, v in totals.result().items()}
    out.update(
        clips=len(source),
        views=int(views),
        sample_interval=k,
        sigma_m=sigma_m,
        outlier_prob=outlier_prob,
        seed=int(seed),
    )
    return out
