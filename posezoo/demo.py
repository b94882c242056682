"""``posezoo demo``: the bundled CMU clip through a virtual camera, lifted with bundled weights.

:func:`run_demo` does, on CPU in well under a minute:

1. loads the bundled sample (:func:`posezoo.data.load_sample`; CMU subject 6,
   one of the test subjects the weights never trained on);
2. films it with one static virtual camera for the whole clip
   (:class:`posezoo.data.VirtualCameraSampler`, fixed seed; not the sample's own
   camera; the first draw that keeps every keypoint inside the image), so the
   subject moves through the image as in real video;
3. corrupts the 2D keypoints like a detector (:class:`posezoo.data.DetectorNoise`:
   3 px jitter on the 1000 px image, 2 % outliers);
4. lifts them with the model's bundled weights (``posezoo.lift``; an
   Uplift-and-Upsample model gets only every ``input_stride``-th frame, a
   MixSynthFormer refines noisy 3D keyframes with ``posezoo.refine``);
5. measures MPJPE / P-MPJPE (mm) against the root-relative ground truth and
   writes a PNG (2D input above, 3D prediction over ground truth below, a few
   frames) and optionally an animated GIF / MP4.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

__all__ = ["run_demo", "DEFAULT_DEMO_MODEL"]

DEFAULT_DEMO_MODEL = "rtpca_small"
NOISE_SIGMA_PX = 3.0
NOISE_OUTLIER_PROB = 0.02
MAX_ANIMATION_FRAMES = 60
CAMERA_TRIES = 50


def _models_with_weights() -> list[str]:
    from .models import list_models

    return list_models(pretrained=True)


def _check_weights(model: str, pretrained: Union[bool, str]) -> Optional[str]:
    """The weight tag the demo will load; ``ValueError`` naming the models with weights if none."""
    from .models import get_model_entry

    entry = get_model_entry(model)
    if pretrained is False:
        return None
    if pretrained is True and entry.default_tag is None:
        have = _models_with_weights()
        listed = ", ".join(have) if have else "none in this installation"
        raise ValueError(f"{model} has no bundled weights; models with weights: {listed} (posezoo list --pretrained)")
    return entry.default_tag if pretrained is True else str(pretrained)


def _film(world: np.ndarray, seed: int, noise: bool) -> dict[str, Any]:
    """One static virtual camera for the whole clip; 2D pixels (noisy or clean) and root-relative 3D."""
    from .data import DetectorNoise, VirtualCameraSampler

    rng = np.random.default_rng(seed)
    sampler = VirtualCameraSampler()
    best = None
    for _ in range(CAMERA_TRIES):  # prefer a camera that keeps the whole motion inside the image
        camera = sampler.sample_for_motion(world, rng)
        cam3d = camera.world_to_camera(world.astype(np.float64))
        pixels = camera.project(cam3d)
        size = np.array([camera.res_w, camera.res_h], dtype=np.float64)
        inside = float(((pixels >= 0) & (pixels <= size)).all(-1).mean())
        if best is None or inside > best[0]:
            best = (inside, camera, cam3d, pixels)
        if inside == 1.0:
            break
    _, camera, cam3d, pixels = best
    confidence = np.ones(pixels.shape[:-1])
    if noise:
        pixels, confidence = DetectorNoise(sigma_px=NOISE_SIGMA_PX, outlier_prob=NOISE_OUTLIER_PROB)(pixels, rng)
    return {
        "pixels": pixels,
        "confidence": confidence,
        "gt": cam3d - cam3d[:, :1],
        "image_size": (int(camera.res_w), int(camera.res_h)),
        "camera": camera,
        "rng": rng,
    }


def _predict(net: Any, shot: dict[str, Any], input_stride: Optional[int], noise_3d_mm: float) -> dict[str, Any]:
    """Run the model; returns the prediction, the 2D shown as input, and mode-specific details."""
    from .inference import lift, refine

    pixels, gt = shot["pixels"], shot["gt"]
    frames = len(gt)
    if hasattr(net, "output_stride"):  # Uplift and Upsample: keyframes every s_in frames
        strides = list(getattr(net, "input_strides", [net.output_stride]))
        s_in = input_stride or (4 if 4 in strides else strides[len(strides) // 2])
        pred = lift(
            pixels[::s_in],
            net,
            image_size=shot["image_size"],
            confidence=shot["confidence"][::s_in],
            input_stride=s_in,
            output_length=frames,
        )
        shown = np.full_like(pixels, np.nan)
        shown[::s_in] = pixels[::s_in]
        return {"pred": pred, "shown_2d": shown, "mode": f"lift from every {s_in}th frame", "input_stride": s_in}
    if hasattr(net, "sample_interval"):  # MixSynthFormer: refine noisy 3D keyframes every K frames
        from .data.windows import interpolate_frames

        k = int(net.sample_interval)
        noisy = gt + shot["rng"].normal(0.0, noise_3d_mm / 1000.0, gt.shape)
        noisy = noisy - noisy[:, :1]
        pred = refine(noisy, net)
        keys = np.unique(np.r_[np.arange(0, frames, k), frames - 1])
        baseline = interpolate_frames(noisy[keys], keys, frames)
        return {
            "pred": pred,
            "shown_2d": pixels,
            "mode": f"refine noisy 3D keyframes every {k} frames",
            "baseline": baseline,
            "sample_interval": k,
            "input_label": "camera view",
        }
    pred = lift(pixels, net, image_size=shot["image_size"], confidence=shot["confidence"])
    return {"pred": pred, "shown_2d": pixels, "mode": "lift every frame"}


def run_demo(
    model: str = DEFAULT_DEMO_MODEL,
    out: Union[str, Path] = "demo.png",
    *,
    animate: bool = False,
    animation_out: Union[str, Path, None] = None,
    sample: str = "06_01",
    seed: int = 0,
    noise: bool = True,
    frames: Optional[int] = None,
    input_stride: Optional[int] = None,
    noise_3d_mm: float = 20.0,
    pretrained: Union[bool, str] = True,
    panels: int = 4,
) -> dict[str, Any]:
    """Lift the bundled sample seen by a virtual camera and draw the result.

    Args:
        model: registered model name with bundled weights (default ``rtpca_small``).
        out: PNG path of the figure.
        animate: also write an animation (every frame up to 60 drawn frames).
        animation_out: its path (default: ``out`` with ``.gif``; ``.mp4`` needs ffmpeg).
        sample: bundled clip (:func:`posezoo.data.list_samples`).
        seed: seed of the virtual camera and the noise.
        noise: corrupt the 2D keypoints like a detector (3 px, 2 % outliers).
        frames: use only the first ``frames`` frames of the clip (default all).
        input_stride: Uplift-and-Upsample keyframe stride (default 4 when trained for it).
        noise_3d_mm: MixSynthFormer only: std of the Gaussian noise (mm per
            coordinate) on the ground-truth 3D that stands in for a per-frame estimator.
        pretrained: weights to load (``True``: the bundled default tag; ``False``
            random init, for testing the pipeline).
        panels: frames shown in the figure.

    Returns:
        A dict with ``model``, ``tag``, ``mode``, ``sample``, ``frames``,
        ``image_size``, ``noise``, ``mpjpe_mm``, ``p_mpjpe_mm`` (and for
        MixSynthFormer ``mpjpe_interpolation_mm``, the linear interpolation of the
        same noisy keyframes), ``figure`` (path), ``animation`` (path or None) and
        ``seconds``.

    Raises:
        ValueError: the model has no bundled weights (the message lists those that have).
    """
    start = time.perf_counter()
    from . import metrics
    from .data import load_sample
    from .models import create_model

    tag = _check_weights(model, pretrained)
    net = create_model(model, pretrained=pretrained).eval()
    clip = load_sample(sample)
    world = clip.poses_world if frames is None else clip.poses_world[:frames]
    if len(world) < 2:
        raise ValueError(
            f"frames must leave at least 2 frames of the {len(clip.poses_world)}-frame sample, got {frames}"
        )
    shot = _film(world, seed, noise)
    result = _predict(net, shot, input_stride, noise_3d_mm)
    pred, gt = np.asarray(result["pred"], dtype=np.float64), shot["gt"]
    mm = metrics.unit_scale("m", "mm")
    report: dict[str, Any] = {
        "model": model,
        "tag": tag,
        "mode": result["mode"],
        "sample": sample,
        "frames": len(gt),
        "image_size": shot["image_size"],
        "noise": bool(noise),
        "mpjpe_mm": float(metrics.mpjpe(pred, gt, root=0, scale=mm)),
        "p_mpjpe_mm": float(metrics.p_mpjpe(pred, gt, scale=mm)),
    }
    if "baseline" in result:
        report["mpjpe_interpolation_mm"] = float(metrics.mpjpe(result["baseline"], gt, root=0, scale=mm))

    from . import viz

    weights = f"weights '{tag}'" if tag else "random weights"
    title = (
        f"posezoo demo: {model} ({weights}) on CMU clip {sample} (test subject), {result['mode']}\n"
        f"MPJPE {report['mpjpe_mm']:.1f} mm, P-MPJPE {report['p_mpjpe_mm']:.1f} mm"
        + (
            f" (linear interpolation of the keyframes: {report['mpjpe_interpolation_mm']:.1f} mm)"
            if "mpjpe_interpolation_mm" in report
            else ""
        )
    )
    fig = viz.plot_sequence(
        result["shown_2d"],
        pred,
        gt,
        frames=panels,
        image_size=shot["image_size"],
        title=title,
        fps=clip.fps,
        input_label=result.get("input_label", "2D input"),
    )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100, facecolor="white")
    report["figure"] = str(out)
    report["animation"] = None
    if animate:
        anim_path = Path(animation_out) if animation_out is not None else out.with_suffix(".gif")
        step = max(1, -(-len(gt) // MAX_ANIMATION_FRAMES))
        viz.animate(
            result["shown_2d"],
            pred,
            gt,
            anim_path,
            image_size=shot["image_size"],
            fps=clip.fps / step,
            step=step,
            title=f"{model}: {result['mode']}",
        )
        report["animation"] = str(anim_path)
    report["seconds"] = time.perf_counter() - start
    return report
