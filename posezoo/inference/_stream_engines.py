"""The window bookkeeping behind :class:`~posezoo.inference.streaming.StreamingLifter`.

Two engines share one interface: ``add(x)`` stores one normalised frame (or keyframe),
``ready(final)`` says which output frames are determined, ``compute(frames, final)`` runs the
model on their windows. Each keeps a ring buffer of per-frame items: the model's per-frame
stage (``frame_features`` / ``frame_tokens``, computed once per frame) when the model exposes
it, else the normalised 2D frame itself (the whole forward pass then runs per window).
"""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np
import torch
from torch import nn

from ..skeleton import Skeleton, flip_pose

__all__ = ["LifterEngine", "UpliftEngine"]


class _Ring:
    """``(S, capacity, *item)`` ring buffer: item ``k`` lives in slot ``k % capacity``."""

    def __init__(self, capacity: int) -> None:
        self.capacity, self.count, self.data = capacity, 0, None

    def reset(self) -> None:
        self.count, self.data = 0, None

    def add(self, item: torch.Tensor) -> None:  # item (S, *shape)
        if self.data is None:
            self.data = item.new_zeros((item.shape[0], self.capacity, *item.shape[1:]))
        self.data[:, self.count % self.capacity] = item
        self.count += 1

    def gather(self, index: np.ndarray) -> torch.Tensor:
        """``index`` ``(K, W)`` of stored items (each within the last ``capacity``) -> ``(S, K, W, *item)``."""
        if index.min() < max(0, self.count - self.capacity) or index.max() >= self.count:  # a bug, not bad input
            raise RuntimeError(f"ring buffer overrun: items {index.min()}..{index.max()} of {self.count}")
        slots = torch.as_tensor(index % self.capacity, device=self.data.device)
        return self.data[:, slots]


class _Engine:
    """Shared parts: the per-frame stage, the flip pair, the output post-processing."""

    def __init__(
        self,
        net: nn.Module,
        skel: Skeleton,
        flip_tta: bool,
        latency: int,
        capacity: int,
        per_frame: Optional[Callable[[torch.Tensor], torch.Tensor]],
        to_model: Callable[[torch.Tensor], torch.Tensor],
        from_model: Callable[[torch.Tensor], torch.Tensor],
    ) -> None:
        self.net, self.skel, self.flip_tta, self.latency = net, skel, flip_tta, latency
        self.per_frame, self.to_model, self.from_model = per_frame, to_model, from_model
        self.ring = _Ring(capacity)

    def reset(self) -> None:
        self.ring.reset()

    def _store(self, x: torch.Tensor) -> None:
        """``x`` ``(J, 2)`` normalised, input layout -> one ring item ``(S, ...)``, S = 2 with flip TTA."""
        pair = torch.stack([x, flip_pose(x, self.skel)]) if self.flip_tta else x[None]
        pair = self.to_model(pair)
        self.ring.add(self.per_frame(pair[:, None])[:, 0] if self.per_frame is not None else pair)

    def _finish(self, out: torch.Tensor) -> torch.Tensor:
        """``(S, K, J, 3)`` model outputs -> ``(K, J, 3)`` float32 root-relative, flip pair averaged."""
        out = self.from_model(out.float())
        pose = (out[0] + flip_pose(out[1], self.skel)) / 2 if self.flip_tta else out[0]
        return pose - pose[:, self.skel.root : self.skel.root + 1]


class LifterEngine(_Engine):
    """Seq2seq lifters (``(B, T, J, 2) -> (B, T, J, 3)``): frame ``i`` from position ``T - 1 - L`` of
    the window of frames ``i + L - T + 1 .. i + L``, indices clamped to ``[0, n - 1]``."""

    def __init__(self, net: nn.Module, window: int, **kw) -> None:
        self.window = window
        reuse = hasattr(net, "frame_features") and hasattr(net, "lift_features")
        super().__init__(net, capacity=window, per_frame=net.frame_features if reuse else None, **kw)
        self.run = net.lift_features if reuse else net

    @property
    def frames_in(self) -> int:
        return self.ring.count

    def add(self, x: torch.Tensor) -> None:
        self._store(x)

    def ready(self, start: int, final: bool) -> list[int]:
        """Output frames from ``start`` that are determined (all when ``final``)."""
        stop = self.ring.count if final else self.ring.count - self.latency
        return list(range(start, max(start, stop)))

    def compute(self, frames: list[int], final: bool) -> dict[int, torch.Tensor]:
        t, n = self.window, self.ring.count
        first = np.asarray(frames)[:, None] + self.latency - t + 1
        index = np.clip(first + np.arange(t)[None, :], 0, n - 1)  # (K, T)
        items = self.ring.gather(index)  # (S, K, T, ...)
        s, k = items.shape[:2]
        out = self.run(items.reshape(s * k, *items.shape[2:]))
        if not isinstance(out, torch.Tensor) or out.ndim != 4 or out.shape[:2] != (s * k, t):
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ValueError(f"the model returned {got}, expected ({s * k}, {t}, J, 3)")
        pose = self._finish(out[:, t - 1 - self.latency].reshape(s, k, *out.shape[2:]))
        return dict(zip(frames, pose))


class UpliftEngine(_Engine):
    """Uplift and Upsample: keyframes at video frames ``m * s_in``, output grid every ``s_out`` frames.

    Grid point ``g`` (video frame ``g * s_out``) comes from position ``p = N - 1 - L`` of the window of
    grid points ``g + L - N + 1 .. g + L`` (``central`` when ``p == N // 2``, else ``full[:, p]``);
    a token at video frame ``f`` is a keyframe when ``f % s_in == 0`` and then shows keyframe
    ``clip(f // s_in, 0, M - 1)`` (edge padding that keeps the stride pattern, as ``lift()``).
    Frames between grid points are linearly interpolated.
    """

    def __init__(self, net: nn.Module, tokens: int, s_out: int, s_in: int, every: int, input_stride: int, **kw) -> None:
        self.tokens, self.s_out, self.s_in, self.every, self.input_stride = tokens, s_out, s_in, every, input_stride
        reuse = hasattr(net, "frame_tokens") and hasattr(net, "forward_tokens")
        super().__init__(net, capacity=tokens + 2, per_frame=net.frame_tokens if reuse else None, **kw)
        self.run = net.forward_tokens if reuse else net
        self.position = tokens - 1 - self.latency
        self.reset()

    def reset(self) -> None:
        super().reset()
        self.pushed = 0
        self.grid: dict[int, torch.Tensor] = {}  # computed grid poses still needed

    @property
    def frames_in(self) -> int:
        """Video frames the stream has reached: ``pushes * input_stride``."""
        return self.pushed * self.input_stride

    def add(self, x: torch.Tensor) -> None:
        if self.pushed % self.every == 0:  # a model keyframe (the others are dropped: s_in = every * stride)
            self._store(x)
        self.pushed += 1

    def _grid_ready(self, g: int, final: bool) -> bool:
        return final or ((g + self.latency) * self.s_out) // self.s_in <= self.ring.count - 1

    def ready(self, start: int, final: bool) -> list[int]:
        out = []
        for f in range(start, self.frames_in):
            if not self._grid_ready(-(-f // self.s_out), final):
                break
            out.append(f)
        return out

    def compute(self, frames: list[int], final: bool) -> dict[int, torch.Tensor]:
        lo, hi = frames[0] // self.s_out, -(-frames[-1] // self.s_out)
        missing = [g for g in range(lo, hi + 1) if g not in self.grid]
        if missing:
            self.grid.update(zip(missing, self._run_grid(missing)))
        out = {}
        for f in frames:
            g, r = divmod(f, self.s_out)
            w = r / self.s_out
            out[f] = self.grid[g] if r == 0 else self.grid[g] * (1 - w) + self.grid[g + 1] * w
        keep = (frames[-1] + 1) // self.s_out  # the next frame's left grid point
        for g in [g for g in self.grid if g < keep]:
            del self.grid[g]
        return out

    def _run_grid(self, grid: list[int]) -> list[torch.Tensor]:
        n, m = self.tokens, self.ring.count
        frames = (np.asarray(grid)[:, None] + self.latency - n + 1 + np.arange(n)[None, :]) * self.s_out  # (K, N)
        mask_np = np.remainder(frames, self.s_in) == 0
        items = self.ring.gather(np.clip(np.floor_divide(frames, self.s_in), 0, m - 1))  # (S, K, N, ...)
        s, k = items.shape[:2]
        mask = torch.as_tensor(mask_np, device=items.device).repeat(s, 1)
        result = self.run(items.reshape(s * k, *items.shape[2:]), mask)
        if self.position == n // 2:
            pose = getattr(result, "central", None)
        else:
            full = getattr(result, "full", None)
            pose = full[:, self.position] if isinstance(full, torch.Tensor) else None
        if not isinstance(pose, torch.Tensor) or pose.ndim != 3 or pose.shape[0] != s * k:
            raise ValueError("an Uplift-and-Upsample model must return .central (B, J, 3) and .full (B, N, J, 3)")
        return list(self._finish(pose.reshape(s, k, *pose.shape[1:])))
