"""Real-time lifting: feed 2D keypoints frame by frame to posezoo.StreamingLifter.

The bundled CMU clip, seen by its virtual camera (pixel keypoints), plays the part of a detector
running on a live video: every ``--input-stride``-th frame is pushed as it "arrives"; each push
prints the frames that became final and how long the push took. The 3D poses go to an ``.npz``.

    python examples/stream_keypoints.py                                   # uplift_upsample_small, bundled weights
    python examples/stream_keypoints.py --latency 2 --out poses.npz      # 2 output-grid steps of delay
    python examples/stream_keypoints.py --model rtpca_small --input-stride 1 --latency 0   # random init
"""

from __future__ import annotations

import argparse
import time
from typing import Optional, Sequence

import numpy as np
import torch

import posezoo
from posezoo.data.bundled import list_samples, load_sample


def main(argv: Optional[Sequence[str]] = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="uplift_upsample_small", help="registered lifter (default: bundled weights)")
    parser.add_argument(
        "--latency",
        type=int,
        default=None,
        help="frames (output-grid steps for Uplift and Upsample) of delay; default: centred",
    )
    parser.add_argument("--input-stride", type=int, default=4, help="push every k-th frame (Uplift and Upsample)")
    parser.add_argument("--sample", default="06_01", choices=list_samples(), help="bundled clip")
    parser.add_argument("--frames", type=int, default=None, help="use only the first N frames")
    parser.add_argument("--flip-tta", action="store_true", help="average with the mirrored prediction")
    parser.add_argument("--out", default="stream_poses.npz", help="output .npz")
    parser.add_argument("--quiet", action="store_true", help="no line per push")
    args = parser.parse_args(argv)

    torch.set_num_threads(1)  # a small model on one core: lowest per-push latency on a busy machine
    entry = posezoo.models.get_model_entry(args.model)
    model = posezoo.create_model(args.model, pretrained=bool(entry.weights)).eval()
    sample = load_sample(args.sample)
    keypoints = sample.keypoints_2d_px[: args.frames]  # (T, 17, 2) pixels, as a detector gives them
    stride = args.input_stride if hasattr(model, "output_stride") else 1
    latency = model.num_frames // 2 if args.latency is None else args.latency
    lifter = posezoo.StreamingLifter(
        model, latency=latency, input_stride=stride, image_size=sample.image_size, flip_tta=args.flip_tta
    )
    print(
        f"{args.model} ({'weights ' + str(model.pretrained_cfg.get('tag')) if entry.weights else 'random init'}), "
        f"latency {latency}, clip {sample.name} ({len(keypoints)} frames at {sample.fps} fps), push every "
        f"{stride} frame(s)"
    )

    poses: dict[int, np.ndarray] = {}
    push_ms = []
    for t in range(0, len(keypoints), stride):
        start = time.perf_counter()
        ready = lifter.push(keypoints[t])
        push_ms.append(1e3 * (time.perf_counter() - start))
        poses.update(ready)
        if not args.quiet:
            got = f"frames {ready[0][0]}..{ready[-1][0]}" if ready else "nothing yet"
            print(f"push frame {t:4d}: {got:>18} final, {push_ms[-1]:6.2f} ms")
    poses.update(lifter.flush())
    frames = np.array([f for f in sorted(poses) if f < len(keypoints)])  # the last keyframe's stride may overrun
    pred = np.stack([poses[f] for f in frames])
    truth = sample.pose_3d[frames] - sample.pose_3d[frames][:, :1]
    mpjpe = float(np.linalg.norm(pred - truth, axis=-1).mean() * 1000)
    ms = np.array(push_ms)
    print(
        f"{len(frames)} frames; per push: mean {ms.mean():.2f} ms, median {np.median(ms):.2f}, "
        f"p95 {np.percentile(ms, 95):.2f}, max {ms.max():.2f}; MPJPE vs ground truth {mpjpe:.1f} mm"
    )
    np.savez(args.out, frames=frames, poses_3d=pred, push_ms=ms, latency=latency, input_stride=stride)
    print(f"wrote {args.out}")
    return {"frames": frames, "poses_3d": pred, "push_ms": ms, "mpjpe_mm": mpjpe}


if __name__ == "__main__":
    main()
