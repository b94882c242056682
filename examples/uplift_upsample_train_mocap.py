"""Train an Uplift-and-Upsample model on motion capture (CPU-friendly), multi-stride, with the released recipe.

Windows of the CMU mocap clips (H36M-17, metres, 50 Hz) are seen through
random virtual cameras (``posezoo.data.VirtualCameraPairs``); each window gets
one s_in drawn from the model's ``input_strides`` with a random phase, and is
followed by its mirror in the batch (within-batch augmentation), see
``posezoo.training.recipes.uplift_upsample.training_windows``. Optimiser, schedule,
EMA and loss follow the recipe (learning rate raised for a short run).
Reports the held-out central-frame MPJPE per s_in (evaluation masks aligned to
the video frames, as the official evaluation).

    python examples/uplift_upsample_train_mocap.py --steps 800 --out runs/uu_small

Data: the repository's CMU splits (``posezoo.data.cmu_mocap``; ``--data-dir`` for another folder).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

import posezoo
from posezoo.data import UpliftUpsampleWindows, VirtualCameraPairs, cmu_mocap
from posezoo.training.recipes.uplift_upsample import (
    make_ema,
    make_loss,
    make_optimizer,
    make_scheduler,
    training_config,
    training_windows,
)


def evaluate(model: torch.nn.Module, source: VirtualCameraPairs, s_in: int, every: int = 5) -> tuple[float, float]:
    """Central and sequence MPJPE (mm) over held-out windows with globally aligned keyframes.

    Window centres lie on the output-stride grid (every ``every * s_out`` frames), as in the
    official evaluation: a centre between grid frames has no token on a keyframe.
    """
    windows = UpliftUpsampleWindows(
        source, model.num_frames, model.output_stride, [s_in], train=False, center_step=every * model.output_stride
    )
    central, sequence = [], []
    for batch in DataLoader(windows, batch_size=256):
        with torch.no_grad():
            out = model(batch["keypoints_2d"], batch["stride_mask"])
        central.append((out.central - batch["pose_3d"][:, model.num_frames // 2]).norm(dim=-1).mean(-1))
        sequence.append((out.full - batch["pose_3d"]).norm(dim=-1).mean((-2, -1)))
    return 1000 * torch.cat(central).mean().item(), 1000 * torch.cat(sequence).mean().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="folder holding mocap17_{train,test}.npz (default: $POSEZOO_CMU_MOCAP, else "
        "the checkout's datasets/cmu_mocap17)",
    )
    parser.add_argument("--model", default="uplift_upsample_small")
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--pairs", type=int, default=8, help="windows per batch before mirroring (batch = 2 x pairs)")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="save_pretrained directory for the EMA model")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    model = posezoo.create_model(args.model).train()
    cfg = training_config(
        "h36m_81", lr=args.lr, lr_decay_steps=max(1, args.steps // 4), lr_decay=0.7, in_batch_augment=True
    )
    train = VirtualCameraPairs(cmu_mocap("train", root=args.data_dir), seed=args.seed)
    dataset, collate = training_windows(model, train, cfg, seed=args.seed)
    loader = DataLoader(
        dataset,
        batch_size=args.pairs,
        shuffle=True,
        collate_fn=collate,
        drop_last=True,
        generator=torch.Generator().manual_seed(args.seed),
    )
    opt = make_optimizer(model, cfg)
    sched = make_scheduler(opt, cfg)
    ema = make_ema(model, cfg)
    loss_fn = make_loss(cfg)  # posezoo.losses.UpliftUpsampleLoss(w_seq=0.5, w_center=0.5)
    start, losses, step = time.time(), [], 0
    while step < args.steps:
        dataset.set_epoch(step)
        for batch in loader:
            out = model(batch["keypoints_2d"], batch["stride_mask"])
            loss = loss_fn(out.full, out.central, batch["pose_3d"])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            ema.update_parameters(model)
            losses.append(loss.item())
            step += 1
            if step % 50 == 0 or step == 1:
                print(f"step {step:5d}  loss {np.mean(losses[-50:]):.4f} m  ({time.time() - start:.0f} s)", flush=True)
            if step == args.steps:
                break

    net = ema.module.eval()
    test = VirtualCameraPairs(cmu_mocap("test", root=args.data_dir), seed=1)
    for s_in in model.input_strides:
        central, sequence = evaluate(net, test, s_in)
        print(f"held-out s_in={s_in:>2}: central MPJPE {central:.1f} mm, sequence MPJPE {sequence:.1f} mm")
    if args.out is not None:
        posezoo.save_pretrained(net, args.out)
        print(f"saved the EMA model to {args.out}")


if __name__ == "__main__":
    main()
