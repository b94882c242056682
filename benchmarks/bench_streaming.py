"""StreamingLifter: time per push (one frame, or one keyframe for Uplift and Upsample) on this machine.

    python benchmarks/bench_streaming.py [--threads 1] [--pushes 200] [--paper] [--models ...] [--device cpu|cuda]

Each row streams random 2D keypoints through a random-init model (timings do not depend on the
weights): ``T + latency`` pushes to fill the window, then ``--pushes`` timed pushes. ``whole
window`` is the same stream through a wrapper that hides the model's per-frame stage (every
push re-runs the full forward on the window), pushed alternately with it (same machine load):
the gain of computing the per-frame stage once. For Uplift and Upsample a push is a keyframe and returns ``s_in``
output frames; ``ms / frame`` divides by ``s_in``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

import posezoo


class WholeWindow(torch.nn.Module):
    """The model without ``frame_features`` / ``frame_tokens``: StreamingLifter runs whole windows."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model
        for name in ("num_frames", "num_joints", "in_channels", "output_stride", "input_strides"):
            if hasattr(model, name):
                setattr(self, name, getattr(model, name))

    def forward(self, *args):
        return self.model(*args)


def per_push_ms(model, latency: int, stride: int, flip: bool, pushes: int, device: str) -> tuple[list, list]:
    """Times per push of the model and of its :class:`WholeWindow`, pushed alternately (same load)."""
    lifters = [
        posezoo.StreamingLifter(m, latency=latency, input_stride=stride, flip_tta=flip, device=device)
        for m in (model, WholeWindow(model))
    ]
    frames = 0.3 * np.random.default_rng(0).standard_normal((model.num_frames + latency + pushes, 17, 2))
    times: tuple[list, list] = ([], [])
    for i, frame in enumerate(frames.astype(np.float32)):
        for lifter, out in zip(lifters, times):
            if device == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            lifter.push(frame)
            if device == "cuda":
                torch.cuda.synchronize()
            if i >= model.num_frames + latency:
                out.append(1e3 * (time.perf_counter() - start))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--pushes", type=int, default=200)
    parser.add_argument("--paper", action="store_true", help="also the paper-width 27-frame / 81-frame variants")
    parser.add_argument("--models", nargs="+", default=None, help="these registered lifters instead")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    names = ["rtpca_small", "mixste_small", "uplift_upsample_small"]
    if args.paper:
        names += ["rtpca_27", "mixste_27", "uplift_upsample_h36m_81"]
    names = args.models or names
    print(
        f"device {args.device}, torch {torch.__version__}, threads {torch.get_num_threads()}, "
        f"{args.pushes} timed pushes per row"
    )
    print(
        "| model | s_in | latency | flip TTA | ms / push (median) | p95 | ms / frame | whole window (median) | gain |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name in names:
        torch.manual_seed(0)
        model = posezoo.create_model(name, drop_path_rate=0.0).eval().to(args.device)
        uplift = hasattr(model, "output_stride")
        strides = model.input_strides if uplift else [1]
        centred = model.num_frames // 2
        configs = [(s, lat, False) for s in strides for lat in (0, centred)] + [(strides[0], centred, True)]
        for stride, latency, flip in configs:
            ours, whole = per_push_ms(model, latency, stride, flip, args.pushes, args.device)
            med, base = statistics.median(ours), statistics.median(whole)
            print(
                f"| `{name}` | {stride if uplift else '-'} | {latency} | {'yes' if flip else 'no'} | {med:.2f} | "
                f"{np.percentile(ours, 95):.2f} | {med / stride:.2f} | {base:.2f} | {base / med:.2f}x |",
                flush=True,
            )


if __name__ == "__main__":
    main()
