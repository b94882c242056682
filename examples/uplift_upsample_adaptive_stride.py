"""Adaptive input stride (Uplift and Upsample supplementary, section 6) on held-out mocap.

One multi-stride model, no reconfiguration: the input stride s_in is chosen
online from the estimated relative pose velocity (thresholds + hysteresis),
so the 2D detector runs rarely on slow motion and often on fast motion.
Compares detector calls and MPJPE with fixed strides.

    python examples/uplift_upsample_train_mocap.py --data-dir ../shared/data --out runs/uu_small
    python examples/uplift_upsample_adaptive_stride.py --data-dir ../shared/data --weights runs/uu_small
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import torch

import posezoo
from posezoo.models.uplift_upsample_adaptive import AdaptiveStrideController, lift_adaptive


def project(clip: torch.Tensor, yaw: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Whole clip ``(T, 17, 3)`` (Z-up world) -> 2D ``(T, 17, 2)`` and root-relative camera 3D (metres)."""
    c, s = math.cos(yaw), math.sin(yaw)
    rot = torch.tensor([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    p = (clip - clip[:, :1].mean(0, keepdim=True)) @ rot.T  # static camera, 6 m from the mean pelvis
    cam = torch.stack([p[..., 0], -p[..., 2], p[..., 1] + 6.0], dim=-1)
    return 2.0 * cam[..., :2] / cam[..., 2:], cam - cam[:, :1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--weights", type=Path, default=None, help="save_pretrained directory (default: random small model)")
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.35, 0.55], help="m/s, ascending")
    parser.add_argument("--hysteresis", type=float, default=0.15)
    parser.add_argument("--max-clips", type=int, default=None)
    args = parser.parse_args()

    model = posezoo.from_pretrained(args.weights) if args.weights else posezoo.create_model("uplift_upsample_small")
    model.eval()
    with np.load(args.data_dir / "mocap17_test.npz") as data:
        clips = [torch.from_numpy(data[k]) for k in sorted(data.files)][: args.max_clips]
    policies = {f"fixed s_in={s}": (lambda s=s: AdaptiveStrideController([s], [])) for s in model.input_strides}
    policies["adaptive"] = lambda: AdaptiveStrideController(model.input_strides, args.thresholds, args.hysteresis, min_hold=2)
    print(f"{len(clips)} clips, {sum(len(c) for c in clips)} frames at 50 fps; strides {model.input_strides}")
    for name, make in policies.items():
        errors, calls, frames, used = [], 0, 0, []
        for i, clip in enumerate(clips):
            kp2d, pose = project(clip, yaw=2 * math.pi * i / len(clips))
            result = lift_adaptive(model, kp2d, make(), velocity_source="prediction", fps=50)
            errors.append((result.poses - pose).norm(dim=-1).mean(-1))
            calls += len(result.keyframes)
            frames += len(clip)
            used += result.strides
        mpjpe = 1000 * torch.cat(errors).mean()
        share = {s: round(used.count(s) / len(used), 2) for s in sorted(set(used))}
        print(f"{name:>14}: detector on {calls:5d} of {frames} frames ({100 * calls / frames:4.1f} %), "
              f"MPJPE {mpjpe:6.1f} mm, stride use {share}")


if __name__ == "__main__":
    main()
