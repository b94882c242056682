"""Re-derive the detector -> H36M-17 conversion weights in ``posezoo/skeleton/conversions.py``.

Data: the CMU mocap of the repository (``posezoo.data.cmu_mocap(split)``), every
``--every``-th frame, ``--cameras`` static virtual cameras per clip
(``VirtualCameraSampler`` defaults: 1000x1000 px, focal 900-1300 px, 3.5-7 m).
H36M joints are projected as they are; detector joints are placed by the
anatomical model of ``posezoo.skeleton.synthetic`` and projected by the same
cameras. Every rule of every registered conversion is refitted (same sources,
same priority) by constrained least squares in pixels, robust to 3 px of
independent detector jitter per keypoint (``--noise-px``), and its error reported.

    python tools/fit_keypoint_conversions.py            # print fitted weights and errors
    python tools/fit_keypoint_conversions.py --check    # exit 1 if the code's weights differ by > 0.01
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout this script belongs to

from posezoo.data import VirtualCameraSampler, cmu_mocap
from posezoo.skeleton import COCO_17, H36M_17, get_conversion, list_conversions, synthesize_keypoints
from posezoo.skeleton.fit import RuleFit, refit_conversion

LAYOUTS = tuple(src for src, dst in list_conversions() if dst == "h36m")
#: detector jitter (px on the 1000 px images) the weights are made robust to
NOISE_PX = 3.0


def make_pairs(
    split: str = "train", every: int = 10, cameras: int = 4, seed: int = 0, layouts: Sequence[str] = LAYOUTS
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """``(h36m_px (N, 17, 2), {layout: (N, J, 2) px}, {"h36m_cam": (N, 17, 3), layout_cam...})``."""
    rng = np.random.default_rng(seed)
    sampler = VirtualCameraSampler()
    wide = VirtualCameraSampler(distance_m=(7.0, 12.0))
    h36m, det = [], {name: [] for name in layouts}
    cam3d: dict[str, list] = {"h36m": [], **{name: [] for name in layouts}}
    for _name, clip in sorted(cmu_mocap(split).items()):
        poses = clip[::every].astype(np.float64)
        synth = {layout: synthesize_keypoints(poses, layout) for layout in layouts}
        for _ in range(cameras):
            try:
                cam = sampler.sample_for_motion(poses, rng)
            except ValueError:  # the subject travels further than 3.5-7 m allows
                cam = wide.sample_for_motion(poses, rng)
            c = cam.world_to_camera(poses)
            h36m.append(cam.project(c))
            cam3d["h36m"].append(c)
            for layout, pts in synth.items():
                cl = cam.world_to_camera(pts)
                det[layout].append(cam.project(cl))
                cam3d[layout].append(cl)
    return (
        np.concatenate(h36m),
        {k: np.concatenate(v) for k, v in det.items()},
        {k: np.concatenate(v) for k, v in cam3d.items()},
    )


def refit_all(h36m_px: np.ndarray, det_px: dict[str, np.ndarray], noise_px: float = NOISE_PX) -> dict[str, tuple]:
    """``{layout: (refitted Conversion, [RuleFit])}`` for every layout in ``det_px``."""
    return {
        layout: refit_conversion(get_conversion(layout), pts, h36m_px, noise=noise_px) for layout, pts in det_px.items()
    }


def max_weight_difference(layout: str, refitted) -> float:
    code = get_conversion(layout)
    diff = 0.0
    for (_target, rules), (_, new_rules) in zip(code.rules, refitted.rules):
        for a, b in zip(rules, new_rules):
            diff = max(diff, float(np.max(np.abs(np.subtract(a.weights, b.weights)))))
    return diff


def ratios(cam3d: dict[str, np.ndarray], h36m_px: np.ndarray, coco_px: np.ndarray) -> dict[str, float]:
    """The issue's measures: heights above the thorax in shoulder widths, in 3D and in the image."""
    h, c = cam3d["h36m"], cam3d["coco"]
    idx = H36M_17.index
    sw3 = np.linalg.norm(h[:, idx("left_shoulder")] - h[:, idx("right_shoulder")], axis=-1)
    up3 = h[:, idx("thorax")] - h[:, idx("pelvis")]
    up3 /= np.linalg.norm(up3, axis=-1, keepdims=True)

    def above3(p: np.ndarray) -> float:
        return float(np.median(np.sum((p - h[:, idx("thorax")]) * up3, -1) / sw3))

    sw2 = np.linalg.norm(h36m_px[:, idx("left_shoulder")] - h36m_px[:, idx("right_shoulder")], axis=-1)

    def above2(p: np.ndarray) -> float:  # image rows above the thorax, per 2D shoulder width
        return float(np.median((h36m_px[:, idx("thorax"), 1] - p[:, 1]) / np.maximum(sw2, 1e-6)))

    hip_ratio = np.linalg.norm(c[:, 11] - c[:, 12], axis=-1) / np.linalg.norm(
        h[:, idx("left_hip")] - h[:, idx("right_hip")], axis=-1
    )
    mid2 = (h36m_px[:, idx("left_shoulder")] + h36m_px[:, idx("right_shoulder")]) / 2
    return {
        "detector_nose_above_shoulder_midpoint_2d": float(
            np.median((mid2[:, 1] - coco_px[:, 0, 1]) / np.maximum(sw2, 1e-6))
        ),
        "h36m_nose_above_thorax_3d": above3(h[:, idx("nose")]),
        "detector_nose_above_thorax_3d": above3(c[:, 0]),
        "h36m_nose_above_thorax_2d": above2(h36m_px[:, idx("nose")]),
        "detector_nose_above_thorax_2d": above2(coco_px[:, 0]),
        "eye_midpoint_below_head_top_m": float(
            np.median(np.linalg.norm((c[:, 1] + c[:, 2]) / 2 - h[:, idx("head_top")], axis=-1))
        ),
        "detector_hip_width_ratio": float(np.median(hip_ratio)),
    }


def naive_coco_to_h36m(coco: np.ndarray) -> np.ndarray:
    """posezoo <= 0.1.0.dev0's conversion, for comparison: means of hips / shoulders, head top = eye midpoint."""
    out = np.empty(coco.shape[:-2] + (17, coco.shape[-1]))
    c = {n: coco[..., i, :] for i, n in enumerate(COCO_17.joint_names)}
    c["pelvis"] = (c["left_hip"] + c["right_hip"]) / 2
    c["thorax"] = (c["left_shoulder"] + c["right_shoulder"]) / 2
    c["spine"] = (c["pelvis"] + c["thorax"]) / 2
    c["head_top"] = (c["left_eye"] + c["right_eye"]) / 2
    for i, n in enumerate(H36M_17.joint_names):
        out[..., i, :] = c[n]
    return out


def conversion_errors(
    h36m_px: np.ndarray, coco_px: np.ndarray, noise_px: float, seed: int = 0
) -> dict[str, np.ndarray]:
    """Per-joint mean 2D error (px) of COCO -> H36M: fitted rules clean / with jitter, and the old conversion."""
    from posezoo.skeleton import coco_to_h36m

    noisy = coco_px + np.random.default_rng(seed).normal(0.0, noise_px, coco_px.shape)
    err = lambda a: np.linalg.norm(a - h36m_px, axis=-1).mean(0)  # noqa: E731
    return {
        "fitted": err(coco_to_h36m(coco_px)),
        f"fitted+{noise_px:g}px": err(coco_to_h36m(noisy)),
        "old": err(naive_coco_to_h36m(coco_px)),
        f"old+{noise_px:g}px": err(naive_coco_to_h36m(noisy)),
    }


def _print_fits(layout: str, fits: list[RuleFit]) -> None:
    print(f"\n## {layout} -> h36m (noise-free errors in px on 1000x1000 images: mean / p95 / max; noise gain)")
    for f in fits:
        if len(f.rule.sources) == 1 and f.mean_error == 0.0:
            continue
        w = ", ".join(f"{v:.4f}" for v in f.rule.weights)
        print(
            f"{f.target:9s} {f.mean_error:6.2f} {f.p95_error:6.2f} {f.max_error:7.2f} {f.noise_gain:5.2f}  "
            f"Rule({f.rule.sources}, ({w}))"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", default="train")
    parser.add_argument("--every", type=int, default=10, help="use every N-th frame")
    parser.add_argument("--cameras", type=int, default=4, help="virtual cameras per clip")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--noise-px", type=float, default=NOISE_PX, help="detector jitter to be robust to (px)")
    parser.add_argument("--check", action="store_true", help="exit 1 if the code's weights differ by > 0.01")
    args = parser.parse_args(argv)
    h36m_px, det_px, cam3d = make_pairs(args.split, args.every, args.cameras, args.seed)
    print(f"{len(h36m_px)} poses ({args.split}, every {args.every}th frame, {args.cameras} cameras per clip)")
    for key, value in ratios(cam3d, h36m_px, det_px["coco"]).items():
        print(f"  {key}: {value:.3f}")
    errors = conversion_errors(h36m_px, det_px["coco"], args.noise_px, args.seed)
    print("\nCOCO -> H36M per-joint mean 2D error (px):\n" + f"{'joint':10s}" + "".join(f"{k:>13s}" for k in errors))
    for j, name in enumerate(H36M_17.joint_names):
        if any(v[j] > 1e-9 for v in errors.values()):
            print(f"{name:10s}" + "".join(f"{v[j]:13.2f}" for v in errors.values()))
    print(f"{'mean':10s}" + "".join(f"{v.mean():13.2f}" for v in errors.values()))
    worst = 0.0
    for layout, (conv, fits) in refit_all(h36m_px, det_px, args.noise_px).items():
        _print_fits(layout, fits)
        diff = max_weight_difference(layout, conv)
        worst = max(worst, diff)
        print(f"max |weight(code) - weight(refit)| = {diff:.4f}")
    if args.check and worst > 0.01:
        print(f"FAIL: the code's weights differ from the refit by {worst:.4f} > 0.01", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
