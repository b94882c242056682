"""Use posezoo's TPCA and XLR layers inside your own sequence model.

A small temporal transformer that denoises 1D trajectories ``(N, T, C)``:
every block computes its keys/values from a TPCA-refined sequence, and every
block after the first also attends to the previous block's keys/values pooled
to 4 steps (cross-layer refinement). It trains for 40 steps on
synthetic noisy sine waves and prints the loss (runs in seconds on a CPU).

    python examples/tpca_in_your_model.py
"""

from __future__ import annotations

import math

import torch
from torch import nn

from posezoo.layers import TPCA, XLRBlock


class TrajectoryDenoiser(nn.Module):
    """``(N, T, channels) -> (N, T, channels)`` with XLR blocks and TPCA keys/values."""

    def __init__(self, frames: int = 32, channels: int = 3, dim: int = 32, depth: int = 3, heads: int = 4) -> None:
        super().__init__()
        self.embed = nn.Linear(channels, dim)
        self.pos = nn.Parameter(torch.zeros(frames, dim))
        self.blocks = nn.ModuleList(
            XLRBlock(dim, heads, mlp_ratio=2.0, tpca=TPCA(dim, frames, stages=2, compress="pool+conv"), memory_len=4)
            for _ in range(depth)
        )
        self.out = nn.Linear(dim, channels)
        nn.init.zeros_(self.out.weight)  # start as the identity (no correction)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor, return_attention: bool = False):
        h = self.embed(x) + self.pos
        memory, maps = None, []
        for block in self.blocks:
            res = block(h, memory=memory, need_weights=return_attention)
            h, memory = res.out, res.own  # hand this block's own K/V to the next block
            maps.append(res.weights)
        y = x + self.out(h)  # predict a correction of the noisy input
        return (y, maps) if return_attention else y


def make_batch(batch: int, frames: int, channels: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    t = torch.linspace(0, 1, frames)
    freq = 1 + 3 * torch.rand(batch, 1, channels, generator=generator)
    phase = 2 * math.pi * torch.rand(batch, 1, channels, generator=generator)
    clean = torch.sin(2 * math.pi * freq * t[None, :, None] + phase)
    noisy = clean + 0.3 * torch.randn(clean.shape, generator=generator)
    return noisy, clean


def main() -> None:
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    frames, channels = 32, 3
    model = TrajectoryDenoiser(frames, channels)
    print(
        f"TrajectoryDenoiser: {sum(p.numel() for p in model.parameters()):,} parameters; "
        f"TPCA pyramid {model.blocks[0].attn.tpca.lengths}"
    )
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    val_noisy, val_clean = make_batch(64, frames, channels, gen)
    noise_mse = nn.functional.mse_loss(val_noisy, val_clean).item()
    for step in range(40):
        noisy, clean = make_batch(16, frames, channels, gen)
        loss = nn.functional.mse_loss(model(noisy), clean)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 10 == 0 or step == 39:
            with torch.no_grad():
                val = nn.functional.mse_loss(model(val_noisy), val_clean).item()
            print(f"step {step:3d}  train mse {loss.item():.4f}  val mse {val:.4f}  (input noise mse {noise_mse:.4f})")
    with torch.no_grad():
        _, maps = model(val_noisy[:1], return_attention=True)
    print("attention maps (N, H, T, keys):", [tuple(m.shape) for m in maps])


if __name__ == "__main__":
    main()
