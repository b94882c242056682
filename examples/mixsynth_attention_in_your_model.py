"""Use MixSynthFormer's mixed synthetic attention inside another model.

``MixSynthAttention`` is an ordinary ``nn.Module`` mapping ``(B, T, C)`` to
``(B, T, C)``: it drops into posezoo's pre-norm ``TransformerBlock`` as its
``attn``. Here it replaces dot-product attention in a tiny 2D -> 3D lifter
that mixes information across frames (temporal synthetic attention) and across
embedding channels (channel synthetic attention). The script trains it for a
few steps on a toy task and prints the loss (a few seconds on CPU).

Run::

    python examples/mixsynth_attention_in_your_model.py
"""

from __future__ import annotations

import torch
from torch import nn

from posezoo.layers import MixSynthAttention, TransformerBlock


class SynthLifter(nn.Module):
    """``(B, T, J, 2)`` 2D keypoints -> ``(B, T, J, 3)`` 3D joints, with MixSynth attention over frames."""

    def __init__(self, num_frames: int = 27, num_joints: int = 17, dim: int = 32, depth: int = 2) -> None:
        super().__init__()
        self.num_joints = num_joints
        self.embed = nn.Linear(num_joints * 2, dim)
        self.blocks = nn.ModuleList(
            [
                TransformerBlock(dim, attn=MixSynthAttention(num_frames, dim, reduce_token=3, reduce_channel=1))
                for _ in range(depth)
            ]
        )
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_joints * 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.embed(x.flatten(2))  # (B, T, C): one token per frame
        for block in self.blocks:
            h = block(h)
        return self.head(self.norm(h)).unflatten(2, (self.num_joints, 3))


def main(steps: int = 30) -> list[float]:
    torch.manual_seed(0)
    model = SynthLifter()
    # Toy task: 3D poses that move smoothly; the "camera" drops depth and adds a little noise.
    basis = torch.randn(4, 17, 3)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(steps):
        phase = torch.rand(16, 1, 4) * 6.28
        t = torch.linspace(0, 1, 27)[None, :, None]
        coeff = torch.sin(phase + 3 * t)  # (B, T, 4)
        poses = torch.einsum("btk,kjc->btjc", coeff, basis) * 0.2
        keypoints = poses[..., :2] + 0.01 * torch.randn(16, 27, 17, 2)
        loss = (model(keypoints) - poses).norm(dim=-1).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    params = sum(p.numel() for p in model.parameters())
    print(f"SynthLifter: {params:,} parameters; mean joint error {losses[0]:.3f} -> {losses[-1]:.3f} (toy units)")
    return losses


if __name__ == "__main__":
    main()
