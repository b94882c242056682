"""Test-split accuracy of a seq2seq lifter as a function of streaming latency.

    python tools/eval_latency.py --model mixste_small --weights cmu --latency 0 5 13 --json out.json

For every test clip seen through static cameras (the views of ``posezoo eval``),
frame ``i`` is predicted exactly as :class:`posezoo.StreamingLifter` with
``latency=L`` predicts it: the model's output at position ``T - 1 - L`` of the
window of frames ``i + L - T + 1 ... i + L`` (indices clamped to the clip).
The windows are batched here for speed; one clip is also streamed frame by
frame through ``StreamingLifter`` and must agree (printed ``stream_check``).
No flip TTA (streaming's default). Metrics in millimetres.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

import posezoo
from posezoo import metrics
from posezoo.data import cmu_mocap
from posezoo.training import MocapViews, StaticCameraSampler


def windows_for_latency(length: int, frames: int, latency: int) -> np.ndarray:
    """``(length, frames)`` frame indices of the window that finalises each frame."""
    ends = np.arange(length) + latency
    idx = ends[:, None] - (frames - 1) + np.arange(frames)[None, :]
    return np.clip(idx, 0, length - 1)


@torch.inference_mode()
def predict(model: torch.nn.Module, x: torch.Tensor, latency: int, batch: int = 256) -> torch.Tensor:
    t = int(model.num_frames)
    idx = torch.as_tensor(windows_for_latency(x.shape[0], t, latency))
    out = torch.cat([model(x[chunk]) for chunk in idx.split(batch)])  # (length, T, J, 3)
    pred = out[:, t - 1 - latency]
    return pred - pred[:, :1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--weights", default="cmu", help="tag or save_pretrained dir")
    parser.add_argument("--latency", type=int, nargs="+", default=[0, 5, 13])
    parser.add_argument("--views", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if Path(args.weights).is_dir():
        model = posezoo.from_pretrained(args.weights).eval()
    else:
        model = posezoo.create_model(args.model, pretrained=args.weights).eval()
    source = MocapViews(cmu_mocap("test"), cameras=StaticCameraSampler())
    rng = np.random.default_rng(args.seed)
    views = []
    for index in range(len(source)):
        for _ in range(args.views):
            cam = source.camera(index, rng)
            views.append(source.view(source.clips[index], cam, rng))
    results: dict[str, dict] = {}
    for latency in args.latency:
        errs, accs, frames = [], [], 0
        for v in views:
            pred = predict(model, torch.from_numpy(v["keypoints_2d"]), latency).double()
            gt = torch.from_numpy(v["pose_3d"]).double()
            errs.append(float(metrics.mpjpe(pred, gt, scale=1000)) * len(gt))
            accs.append(float(metrics.accel_error(pred, gt, scale=1000)) * (len(gt) - 2))
            frames += len(gt)
        results[str(latency)] = {
            "mpjpe": round(sum(errs) / frames, 3),
            "accel": round(sum(accs) / (frames - 2 * len(views)), 3),
            "frames": frames,
        }
    # the batched definition equals the streaming lifter: check on the first view
    check = {}
    for latency in args.latency:
        stream = posezoo.StreamingLifter(model, latency=latency)
        got = []
        for frame in views[0]["keypoints_2d"]:
            got += stream.push(frame)
        got += stream.flush()
        streamed = np.stack([p for _, p in sorted(got, key=lambda item: item[0])])
        direct = predict(model, torch.from_numpy(views[0]["keypoints_2d"]), latency).numpy()
        check[str(latency)] = float(np.abs(streamed - direct).max())
    report = {
        "model": args.model,
        "weights": args.weights,
        "latency": results,
        "stream_check_max_abs_m": check,
        "views": args.views,
        "seed": args.seed,
        "clips": len(source),
    }
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
