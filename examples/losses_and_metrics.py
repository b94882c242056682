"""Losses and metrics on real motion: score a noisy and a smoothed "prediction" of mocap clips.

    python examples/losses_and_metrics.py                      # synthetic motion
    python examples/losses_and_metrics.py --split test         # the repository's CMU clips (H36M-17, metres)
    python examples/losses_and_metrics.py --npz my_clips.npz   # your own (T, 17, 3) clips in metres

Each clip becomes root-relative windows of 27 frames. The "prediction" is the
ground truth plus noise that is independent per frame (jittery) or smoothed in time.
The script prints the RTPCA training loss, the H36M protocol metrics in mm with
per-clip averaging, and the error at each frame index of the window.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from posezoo.data import CMU_SPLITS, cmu_mocap
from posezoo.losses import RTPCALoss
from posezoo.metrics import Evaluator, flip_tta_average, unit_scale


def synthetic_clips(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Two random-walk 'clips' (T, 17, 3) in metres when no mocap file is given."""
    base = rng.normal(scale=0.25, size=(1, 17, 3))
    return {name: base + np.cumsum(rng.normal(scale=0.004, size=(300, 17, 3)), axis=0) for name in ("walk", "jump")}


def windows(clip: np.ndarray, size: int) -> np.ndarray:
    """Non-overlapping root-relative windows (N, size, 17, 3)."""
    n = len(clip) // size
    w = clip[: n * size].reshape(n, size, 17, 3)
    return w - w[..., :1, :]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--npz", default=None, help="npz of (T, 17, 3) clips in metres (H36M-17 order)")
    parser.add_argument(
        "--split",
        default=None,
        choices=sorted(CMU_SPLITS),
        help="a split of the repository's CMU motion capture (posezoo.data.cmu_mocap)",
    )
    parser.add_argument("--frames", type=int, default=27)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    if args.split:
        clips = {k: v.astype(np.float64) for k, v in cmu_mocap(args.split).items()}
    elif args.npz:
        with np.load(args.npz, allow_pickle=False) as data:
            clips = {k: data[k].astype(np.float64) for k in data.files}
    else:
        clips = synthetic_clips(rng)

    mm = unit_scale("m", "mm")
    loss_fn = RTPCALoss()
    for kind in ("jittery", "smooth"):
        ev = Evaluator(
            ("mpjpe", "n_mpjpe", "p_mpjpe", "mpjve", "accel_error"), scale=mm, averaging="action", group_actions=False
        )
        losses = []
        for name, clip in clips.items():
            gt = windows(clip, args.frames)
            noise = rng.normal(scale=0.03, size=gt.shape)
            if (
                kind == "smooth"
            ):  # 9-frame moving average: far less jitter (zero-padded, so window edges get less noise)
                kernel = np.ones(9) / 9
                noise = np.apply_along_axis(lambda v: np.convolve(v, kernel, mode="same"), 1, noise) * 3  # noqa: B023
            pred = gt + noise
            pred[..., 0, :] = 0.0  # root-relative prediction
            losses.append(float(loss_fn(torch.from_numpy(pred), torch.from_numpy(gt))))
            ev.update(pred, gt, actions=name)
        res = ev.compute()
        print(f"== {kind} prediction: RTPCA loss {np.mean(losses):.4f} (metres)")
        print("   " + ", ".join(f"{k} {v:.1f}" for k, v in res.overall.items()) + "  (mm, mm/frame, mm/frame^2)")
        curve = res.frame_curves["mpjpe"]
        print(
            f"   MPJPE at frame index 0 / {len(curve) // 2} / {len(curve) - 1}: "
            f"{curve[0]:.1f} / {curve[len(curve) // 2]:.1f} / {curve[-1]:.1f} mm"
        )

    # Flip test-time augmentation with a stand-in "model" that lifts by adding a fixed depth per joint.
    depth = torch.linspace(-0.1, 0.1, 17)[:, None]
    model = lambda x2d: torch.cat([x2d, depth.expand(*x2d.shape[:-1], 1)], dim=-1)  # noqa: E731
    x2d = torch.from_numpy(windows(next(iter(clips.values())), args.frames)[..., :2]).float()
    out = flip_tta_average(model, x2d)
    print(
        f"flip TTA output {tuple(out.shape)}; x/y unchanged by the average: "
        f"{torch.allclose(out[..., :2], x2d, atol=1e-6)}; depths averaged with the mirrored joints"
    )


if __name__ == "__main__":
    main()
