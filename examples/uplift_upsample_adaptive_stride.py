"""Adaptive input stride (Uplift and Upsample supplementary, section 6) on held-out mocap.

One multi-stride model, no reconfiguration: the input stride s_in is chosen
online from the estimated relative pose velocity (thresholds + hysteresis),
so the 2D detector runs rarely on slow motion and often on fast motion.
Compares detector calls and MPJPE with fixed strides.

    python examples/uplift_upsample_train_mocap.py --out runs/uu_small
    python examples/uplift_upsample_adaptive_stride.py --weights runs/uu_small

Data: the test split of the repository's CMU motion capture (``posezoo.data.cmu_mocap("test")``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

import posezoo
from posezoo.data import VirtualCameraPairs, cmu_mocap
from posezoo.models.uplift_upsample_adaptive import AdaptiveStrideController, lift_adaptive


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="folder holding mocap17_test.npz (default: $POSEZOO_CMU_MOCAP, else the checkout's datasets/cmu_mocap17)",
    )
    parser.add_argument(
        "--weights", type=Path, default=None, help="save_pretrained directory (default: random small model)"
    )
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.35, 0.55], help="m/s, ascending")
    parser.add_argument("--hysteresis", type=float, default=0.15)
    parser.add_argument("--max-clips", type=int, default=None)
    args = parser.parse_args()

    model = posezoo.from_pretrained(args.weights) if args.weights else posezoo.create_model("uplift_upsample_small")
    model.eval()
    clips = VirtualCameraPairs(cmu_mocap("test", root=args.data_dir), seed=1)  # one static camera per clip
    count = len(clips) if args.max_clips is None else min(args.max_clips, len(clips))
    policies = {f"fixed s_in={s}": (lambda s=s: AdaptiveStrideController([s], [])) for s in model.input_strides}
    policies["adaptive"] = lambda: AdaptiveStrideController(
        model.input_strides, args.thresholds, args.hysteresis, min_hold=2
    )
    print(
        f"{count} clips, {sum(clips.sequence_length(i) for i in range(count))} frames at 50 fps; "
        f"strides {model.input_strides}"
    )
    for name, make in policies.items():
        errors, calls, frames, used = [], 0, 0, []
        for i in range(count):
            clip = clips[i]  # keypoints_2d (T, 17, 2), pose_3d (T, 17, 3) root-relative, camera frame
            result = lift_adaptive(model, clip["keypoints_2d"], make(), velocity_source="prediction", fps=50)
            errors.append((result.poses - clip["pose_3d"]).norm(dim=-1).mean(-1))
            calls += len(result.keyframes)
            frames += len(result.poses)
            used += result.strides
        mpjpe = 1000 * torch.cat(errors).mean()
        share = {s: round(used.count(s) / len(used), 2) for s in sorted(set(used))}
        print(
            f"{name:>14}: detector on {calls:5d} of {frames} frames ({100 * calls / frames:4.1f} %), "
            f"MPJPE {mpjpe:6.1f} mm, stride use {share}"
        )


if __name__ == "__main__":
    main()
