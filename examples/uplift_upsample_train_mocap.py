"""Train an Uplift-and-Upsample model on motion capture (CPU-friendly), multi-stride, with the released recipe.

Windows of the CMU mocap clips (H36M-17, metres, 50 Hz) are seen by a simple
pinhole camera at a random yaw, 3.5-8 m away and off-centre; each window gets one s_in drawn from
the model's ``input_strides`` with a random phase; every window is followed by
its mirror in the batch (within-batch augmentation). Optimiser, schedule and
EMA follow ``posezoo.recipes.uplift_upsample`` (learning rate raised for a
short run). Reports the held-out central-frame MPJPE per s_in.

    python examples/uplift_upsample_train_mocap.py --data-dir ../shared/data --steps 400 --out runs/uu_small
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import torch

import posezoo
from posezoo.data import sample_stride_masks, stride_mask
from posezoo.recipes.uplift_upsample import make_ema, make_optimizer, make_scheduler, training_config, within_batch_flip


def load_clips(path: Path, min_frames: int = 60) -> list[torch.Tensor]:
    with np.load(path) as data:
        return [torch.from_numpy(data[k]) for k in sorted(data.files) if len(data[k]) >= min_frames]


def camera_windows(clips, batch: int, num_tokens: int, output_stride: int, gen: torch.Generator):
    """2D ``(B, N, 17, 2)`` and root-relative camera-frame 3D ``(B, N, 17, 3)`` windows (metres)."""
    kp2d, pose3d = [], []
    for _ in range(batch):
        clip = clips[int(torch.randint(len(clips), (1,), generator=gen))]
        centre = int(torch.randint(len(clip), (1,), generator=gen))
        idx = (centre + (torch.arange(num_tokens) - num_tokens // 2) * output_stride).clamp(0, len(clip) - 1)
        yaw = float(torch.rand(1, generator=gen)) * 2 * math.pi
        c, s = math.cos(yaw), math.sin(yaw)
        rot = torch.tensor([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
        p = (clip[idx] - clip[idx][num_tokens // 2, 0]) @ rot.T  # Z-up world, centred on the central pelvis
        # camera 3.5-8 m away, subject up to 2 m off-centre horizontally and 0.5 m vertically
        offset = torch.rand(3, generator=gen) * torch.tensor([4.0, 1.0, 4.5]) - torch.tensor([2.0, 0.5, -3.5])
        cam = torch.stack([p[..., 0], -p[..., 2], p[..., 1]], dim=-1) + offset  # x right, y down, z forward
        kp2d.append(2.0 * cam[..., :2] / cam[..., 2:])  # focal length 2 (normalised units)
        pose3d.append(cam - cam[:, :1])
    return torch.stack(kp2d), torch.stack(pose3d)


def loss_fn(out, target: torch.Tensor, w_seq: float = 0.5, w_center: float = 0.5) -> torch.Tensor:
    centre = target.shape[1] // 2
    return (w_seq * (out.full - target).norm(dim=-1).mean()
            + w_center * (out.central - target[:, centre]).norm(dim=-1).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--model", default="uplift_upsample_small")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--pairs", type=int, default=8, help="windows per batch before mirroring (batch = 2 x pairs)")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="save_pretrained directory for the EMA model")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    train = load_clips(args.data_dir / "mocap17_train.npz")
    test = load_clips(args.data_dir / "mocap17_test.npz")
    model = posezoo.create_model(args.model).train()
    cfg = training_config("h36m_81", lr=args.lr, lr_decay_steps=max(1, args.steps // 4), lr_decay=0.7)
    opt = make_optimizer(model, cfg)
    sched = make_scheduler(opt, cfg)
    ema = make_ema(model, cfg)
    gen = torch.Generator().manual_seed(args.seed)
    n, s_out = model.num_frames, model.output_stride
    start, losses = time.time(), []
    for step in range(1, args.steps + 1):
        kp, pose = camera_windows(train, args.pairs, n, s_out, gen)
        masks, _ = sample_stride_masks(args.pairs, n, model.input_strides, s_out, generator=gen)
        kp, pose, masks = within_batch_flip(kp, pose, masks)
        loss = loss_fn(model(kp * masks[..., None, None], masks), pose)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        ema.update_parameters(model)
        losses.append(loss.item())
        if step % 50 == 0 or step == 1:
            print(f"step {step:5d}  loss {np.mean(losses[-50:]):.4f} m  ({time.time() - start:.0f} s)", flush=True)

    net = ema.module.eval()
    kp, pose = camera_windows(test, 512, n, s_out, torch.Generator().manual_seed(1))
    centre = pose[:, n // 2]
    print(f"held-out mean-pose baseline: {1000 * (centre - centre.mean(0)).norm(dim=-1).mean():.1f} mm")
    for s_in in model.input_strides:
        mask = stride_mask(n, s_in, s_out).expand(len(kp), -1)
        with torch.no_grad():
            out = net(kp, mask)
        print(f"held-out s_in={s_in:>2}: central MPJPE {1000 * (out.central - centre).norm(dim=-1).mean():.1f} mm, "
              f"sequence MPJPE {1000 * (out.full - pose).norm(dim=-1).mean():.1f} mm")
    if args.out is not None:
        posezoo.save_pretrained(net, args.out)
        print(f"saved the EMA model to {args.out}")


if __name__ == "__main__":
    main()
