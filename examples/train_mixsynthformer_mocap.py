"""Train MixSynthFormer (H36M 3D variant) on real CMU mocap and compare with linear interpolation.

Task (the paper's setting): a pose estimator runs on one frame in 10; its
estimates are noisy. From those noisy keyframes, recover every frame.

* data: the repository's CMU motion capture (``posezoo.data.cmu_mocap``):
  the ``"train"`` split for training, ``"test"`` (other performers) held out;
  ``(T, 17, 3)`` clips in metres, H36M-17 order, made root-relative (pelvis at
  the origin);
* detector-like noise on every frame: Gaussian (``--noise-std`` metres per
  coordinate) plus occasional outlier joints (probability ``--outlier-prob``
  per joint and frame, displaced by ``--outlier-min`` .. ``--outlier-max``
  metres in a random direction);
* keyframes every 10 frames, windows of 101 frames (11 keyframes);
* loss: L1 over the whole window (``posezoo.losses.PoseL1Loss``, the official loss);
  optimiser Adam with AMSGrad (official), short linear warm-up, cosine decay to 10 %;
* evaluation on every frame of every test clip: sliding windows advancing by
  ``--eval-step`` keyframes with overlap averaging
  (:mod:`posezoo.data.keyframe_windows`). The baseline is linear
  interpolation of the very same noisy keyframes, windowed the same way.

Run (a few CPU minutes)::

    python examples/train_mixsynthformer_mocap.py --steps 300

Prints a JSON summary: MPJPE (mm) of the model and of linear interpolation
on the test split.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

import posezoo
from posezoo.data import cmu_mocap, merge_windows, sliding_windows
from posezoo.layers import KeyframeInterpolation
from posezoo.losses import PoseL1Loss
from posezoo.metrics import mpjpe, unit_scale


def load_root_relative_clips(split: str, root: Optional[Path] = None) -> list[torch.Tensor]:
    """Root-relative clips ``(T, 17, 3)`` of a CMU split in metres, float32 (pelvis = joint 0 at the origin)."""
    clips = cmu_mocap(split, root=root)
    return [
        torch.from_numpy(clips[name]).float() - torch.from_numpy(clips[name][:, :1]).float() for name in sorted(clips)
    ]


def add_detector_noise(poses: torch.Tensor, args: argparse.Namespace, generator: torch.Generator) -> torch.Tensor:
    """Gaussian jitter plus occasional outlier joints, on ``(..., J, 3)`` poses in metres."""
    noisy = poses + args.noise_std * torch.randn(poses.shape, generator=generator)
    outlier = torch.rand(poses.shape[:-1], generator=generator) < args.outlier_prob
    direction = torch.randn(poses.shape, generator=generator)
    direction = direction / direction.norm(dim=-1, keepdim=True).clamp_min(1e-8)
    size = args.outlier_min + (args.outlier_max - args.outlier_min) * torch.rand(poses.shape[:-1], generator=generator)
    return noisy + outlier.unsqueeze(-1) * direction * size.unsqueeze(-1)


def rotate_about_vertical(poses: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random rotation about the z (up) axis per sample: ``(B, T, J, 3)``."""
    angle = 2 * math.pi * torch.rand(poses.shape[0], generator=generator)
    c, s = angle.cos(), angle.sin()
    zeros, ones = torch.zeros_like(c), torch.ones_like(c)
    rot = torch.stack(
        [torch.stack([c, -s, zeros], -1), torch.stack([s, c, zeros], -1), torch.stack([zeros, zeros, ones], -1)], -2
    )  # (B, 3, 3)
    return torch.einsum("bij,btkj->btki", rot, poses)


def sample_batch(clips: list[torch.Tensor], window: int, batch: int, generator: torch.Generator) -> torch.Tensor:
    """Random windows ``(B, window, J, 3)``; clips are drawn in proportion to their usable starts."""
    usable = torch.tensor([clip.shape[0] - window + 1 for clip in clips], dtype=torch.float64)
    picks = torch.multinomial(usable, batch, replacement=True, generator=generator)
    out = []
    for i in picks.tolist():
        start = int(torch.randint(0, int(usable[i]), (1,), generator=generator))
        out.append(clips[i][start : start + window])
    return torch.stack(out)


def mpjpe_mm(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-frame MPJPE in millimetres, ``(..., J, 3) -> (...)`` (inputs in metres)."""
    return mpjpe(pred, target, scale=unit_scale("m", "mm"), reduction="none")


@torch.no_grad()
def evaluate(model, clips, noisy_clips, step: int, batch: int = 256) -> dict[str, float]:
    """MPJPE (mm) over every test frame: the model vs linear interpolation of the same keyframes."""
    model.eval()
    linear = KeyframeInterpolation(model.num_keyframes, model.sample_interval, "linear")
    errors = {"model": [], "linear_interp": [], "noisy_keyframes": []}
    for clean, noisy in zip(clips, noisy_clips):
        windows, starts = sliding_windows(noisy[None], model.num_frames, model.sample_interval, step)
        flat = windows[0]  # (W, T, J, 3)
        refined = torch.cat([model(flat[i : i + batch]) for i in range(0, flat.shape[0], batch)])
        keyframes = flat[:, :: model.sample_interval].flatten(2)
        interp = linear(keyframes).unflatten(2, (model.num_joints, 3))
        n = clean.shape[0]
        errors["model"].append(mpjpe_mm(merge_windows(refined[None], starts, n)[0], clean))
        errors["linear_interp"].append(mpjpe_mm(merge_windows(interp[None], starts, n)[0], clean))
        key = torch.arange(0, n, model.sample_interval)
        errors["noisy_keyframes"].append(mpjpe_mm(noisy[key], clean[key]))
    return {k: torch.cat(v).mean().item() for k, v in errors.items()}


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="folder holding mocap17_{train,test}.npz (default: $POSEZOO_CMU_MOCAP, else "
        "the checkout's datasets/cmu_mocap17)",
    )
    p.add_argument("--model", default="mixsynthformer_h36m_3d")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--noise-std", type=float, default=0.02, help="Gaussian noise per coordinate (m)")
    p.add_argument("--outlier-prob", type=float, default=0.02, help="chance of an outlier per joint and frame")
    p.add_argument("--outlier-min", type=float, default=0.1, help="smallest outlier displacement (m)")
    p.add_argument("--outlier-max", type=float, default=0.3, help="largest outlier displacement (m)")
    p.add_argument("--eval-step", type=int, default=1, help="evaluation window step in keyframes")
    p.add_argument(
        "--interp-init",
        choices=["linear", "xavier"],
        default="linear",
        help="start the learned recovery from linear interpolation, or keep the official xavier init",
    )
    p.add_argument(
        "--head-init",
        choices=["zero", "xavier"],
        default="zero",
        help="zero: the refinement starts as the identity on the recovered poses (fast start)",
    )
    p.add_argument("--dropout", type=float, default=0.0, help="model dropout (official training: 0.1)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--log-every", type=int, default=100)
    p.add_argument("--save", type=Path, default=None, help="save_pretrained directory for the trained model")
    return p.parse_args(argv)


def run(args: argparse.Namespace) -> dict:
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    model = posezoo.create_model(args.model, dropout=args.dropout)
    if args.interp_init == "linear":
        model.temporal_interp.init_from("linear")
    if args.head_init == "zero":
        torch.nn.init.zeros_(model.head.weight)
        torch.nn.init.zeros_(model.head.bias)
    window = model.num_frames
    train = [c for c in load_root_relative_clips("train", args.data_dir) if c.shape[0] >= window]
    test = load_root_relative_clips("test", args.data_dir)
    test_noisy = [add_detector_noise(c, args, torch.Generator().manual_seed(10_000 + i)) for i, c in enumerate(test)]

    criterion = PoseL1Loss()  # official MixSynthFormer loss: mean absolute error over the window
    optimiser = torch.optim.Adam(model.parameters(), lr=args.lr, amsgrad=True)
    warmup = max(1, min(50, args.steps // 10))

    def lr_factor(step: int) -> float:  # linear warm-up, then cosine decay to 10 %
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, args.steps - warmup)
        return 0.1 + 0.45 * (1 + math.cos(math.pi * min(progress, 1.0)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, lr_factor)
    losses = []
    start = time.time()
    model.train()
    for step in range(1, args.steps + 1):
        clean = rotate_about_vertical(sample_batch(train, window, args.batch_size, gen), gen)
        noisy = add_detector_noise(clean, args, gen)
        loss = criterion(model(noisy), clean)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        scheduler.step()
        losses.append(loss.item())
        if args.log_every and (step % args.log_every == 0 or step == 1):
            print(
                f"step {step:5d}  L1 {np.mean(losses[-args.log_every :]) * 1000:.2f} mm  ({time.time() - start:.0f} s)",
                flush=True,
            )
    train_seconds = time.time() - start
    metrics = evaluate(model, test, test_noisy, args.eval_step)
    if args.save is not None:
        posezoo.save_pretrained(model, args.save)
    return {
        "model": args.model,
        "steps": args.steps,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "dropout": args.dropout,
        "init": {"interp": args.interp_init, "head": args.head_init},
        "train_clips": len(train),
        "test_clips": len(test),
        "test_frames": int(sum(c.shape[0] for c in test)),
        "train_seconds": round(train_seconds, 1),
        "final_train_l1_mm": round(float(np.mean(losses[-50:])) * 1000, 2) if losses else None,
        "test_mpjpe_mm": {k: round(v, 2) for k, v in metrics.items()},
        "noise": {
            "std_m": args.noise_std,
            "outlier_prob": args.outlier_prob,
            "outlier_m": [args.outlier_min, args.outlier_max],
        },
    }


def main(argv: Optional[Sequence[str]] = None) -> dict:
    result = run(parse_args(argv))
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
