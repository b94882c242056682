"""Measure ``posezoo.root_trajectory`` on projected CMU mocap (the numbers in ``docs/in_the_wild.md``).

Every clip of ``--split`` (default ``test``) is seen by ``--cameras`` static
virtual cameras (``VirtualCameraSampler`` defaults). The root-relative 3D is the
ground truth, optionally perturbed as a lifter's prediction would be (no
random-init model is meaningful here): independent Gaussian noise per joint and
frame (``--joint-noise-mm``, default 30), or the whole body scaled (a person of
another height than the training body). 2D keypoints get ``--pixel-noise`` px
of Gaussian jitter. Reported: mean root position error (mm), its depth part,
and its image-plane part, for several temporal smoothing widths.

    python tools/eval_root_trajectory.py
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout this script belongs to

from posezoo import root_trajectory  # noqa: E402
from posezoo.data import VirtualCameraSampler, cmu_mocap  # noqa: E402


def views(split: str, cameras: int, seed: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """``[(camera-frame poses (T, 17, 3), pixels (T, 17, 2), focal (2,), centre (2,))]``."""
    rng = np.random.default_rng(seed)
    sampler, wide = VirtualCameraSampler(), VirtualCameraSampler(distance_m=(7.0, 12.0))
    out = []
    for _, clip in sorted(cmu_mocap(split).items()):
        for _ in range(cameras):
            try:
                cam = sampler.sample_for_motion(clip, rng)
            except ValueError:
                cam = wide.sample_for_motion(clip, rng)
            c3 = cam.world_to_camera(clip.astype(np.float64))
            out.append((c3, cam.project(c3), np.asarray(cam.focal_length), np.asarray(cam.center)))
    return out


def evaluate(
    data,
    *,
    joint_noise_m: float = 0.0,
    scale: float = 1.0,
    pixel_noise: float = 0.0,
    focal_factor: float = 1.0,
    smooth: float | None = None,
    seed: int = 0,
) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    err, depth, plane = [], [], []
    for c3, px, f, c in data:
        rel = (c3 - c3[:, :1]) * scale
        rel = rel + rng.normal(0.0, joint_noise_m, rel.shape) if joint_noise_m else rel
        rel = rel - rel[:, :1]
        kp = px + rng.normal(0.0, pixel_noise, px.shape) if pixel_noise else px
        root = root_trajectory(kp, rel, focal_length=f * focal_factor, principal_point=c, smooth=smooth)
        d = root - c3[:, 0]
        err.append(np.linalg.norm(d, axis=-1))
        depth.append(np.abs(d[:, 2]))
        plane.append(np.linalg.norm(d[:, :2], axis=-1))
    cat = lambda v: float(np.concatenate(v).mean() * 1000)  # noqa: E731
    return {"root_mm": cat(err), "depth_mm": cat(depth), "image_plane_mm": cat(plane)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", default="test")
    parser.add_argument("--cameras", type=int, default=2)
    parser.add_argument("--joint-noise-mm", type=float, default=30.0)
    parser.add_argument("--pixel-noise", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    data = views(args.split, args.cameras, args.seed)
    frames = sum(len(d[0]) for d in data)
    print(
        f"{args.split}: {len(data)} clip views, {frames} frames; mean distance "
        f"{np.mean([d[0][:, 0, 2].mean() for d in data]):.2f} m\n"
    )
    n = args.joint_noise_mm / 1000
    rows = [
        ("exact 3D, exact 2D", {}),
        (f"3D + {args.joint_noise_mm:g} mm joint noise", {"joint_noise_m": n}),
        (
            f"3D + {args.joint_noise_mm:g} mm, 2D + {args.pixel_noise:g} px",
            {"joint_noise_m": n, "pixel_noise": args.pixel_noise},
        ),
        ("3D 10 % too small (shorter person)", {"scale": 0.9}),
        ("focal length 20 % too long", {"focal_factor": 1.2}),
    ]
    print("| condition | smoothing (frames) | root error (mm) | depth (mm) | image plane (mm) |\n|---|---|---|---|---|")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for label, kwargs in rows:
            for smooth in (None, 2.0, 5.0):
                if smooth is not None and not kwargs.get("joint_noise_m"):
                    continue
                r = evaluate(data, smooth=smooth, seed=args.seed, **kwargs)
                print(
                    f"| {label} | {smooth or 0:g} | {r['root_mm']:.1f} | {r['depth_mm']:.1f} | {r['image_plane_mm']:.1f} |"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
