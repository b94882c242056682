"""MixSynthFormer recipe: recover + refine full-rate 3D from noisy keyframes every K frames.

Released objective: L1 (``F.l1_loss``) over the whole recovered window,
keyframes included (:class:`posezoo.losses.PoseL1Loss`); Adam(amsgrad) at 1e-3,
x0.97 per epoch. posezoo trains with AdamW (``weight_decay`` 0 by default
here, so it is Adam) and the same learning rate.

Data: windows of ``W = K*Q + 1`` frames of camera-frame, root-relative 3D
(metres) as :func:`posezoo.lift` outputs them, seen through static virtual
cameras with bone-length augmentation; the model input is the target plus
lifter-like noise drawn per window: Gaussian jitter of ``U(0, max_sigma_m)``
per joint and ``U(0, max_outlier_prob)`` outlier joints displaced by
``outlier_sigma_m`` (options). Only keyframes are read by the model.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

import numpy as np
import torch
from torch import nn

from ...data.windows import MixSynthWindows
from ...losses import PoseL1Loss
from .base import Recipe, training_source

__all__ = ["MixSynthRecipe", "lifter_like_noise"]


def lifter_like_noise(
    poses: torch.Tensor,
    sigma_m: torch.Tensor,
    outlier_prob: torch.Tensor,
    outlier_sigma_m: float,
    generator: Optional[torch.Generator] = None,
) -> torch.Tensor:
    """``poses`` ``(B, T, J, 3)`` plus per-window jitter ``sigma_m (B,)`` and outlier joints (prob ``(B,)``)."""
    b = poses.shape[0]
    shape = (b, 1, 1, 1)
    noise = torch.randn(poses.shape, generator=generator, dtype=poses.dtype).to(poses.device) * sigma_m.view(shape)
    u = torch.rand(poses.shape[:-1], generator=generator).to(poses.device)
    out = (u < outlier_prob.view(b, 1, 1)).unsqueeze(-1)
    kick = torch.randn(poses.shape, generator=generator, dtype=poses.dtype).to(poses.device) * outlier_sigma_m
    return poses + noise + out * kick


class MixSynthRecipe(Recipe):
    """Recover-and-refine of 3D pose sequences (``MixSynthFormer`` with 17 joints x 3)."""

    name = "mixsynthformer"
    families = ("mixsynthformer",)
    select_metric = "mpjpe"
    engine_defaults = {"lr": 1e-3, "weight_decay": 0.0, "lr_decay": 0.97, "batch_size": 32}

    def default_options(self, model: nn.Module) -> dict[str, Any]:
        k = int(model.sample_interval)
        return {
            "sample_interval": k,
            "num_keyframes": int(model.num_keyframes),
            "window_step": k,
            "flip": True,
            "bone_augment": True,
            "bone_spread": 0.1,
            "global_spread": 0.08,
            "max_sigma_m": 0.04,
            "max_outlier_prob": 0.04,
            "outlier_sigma_m": 0.1,
            "val_sigma_m": 0.02,
            "val_outlier_prob": 0.02,
            "noise": False,
        }

    def __init__(self, model: nn.Module, **options: Any) -> None:
        if int(getattr(model, "in_channels", 0)) != 3 or int(getattr(model, "num_joints", 0)) != 17:
            raise ValueError("the MixSynthFormer recipe trains 17-joint 3D models (num_joints=17, in_channels=3)")
        super().__init__(model, **options)
        self.objective = PoseL1Loss()

    def datasets(
        self, train_clips: Mapping[str, np.ndarray], val_clips: Optional[Mapping[str, np.ndarray]], seed: int
    ) -> tuple[Any, Any]:
        o = self.options
        k, q1 = int(o["sample_interval"]), int(o["num_keyframes"])
        train = MixSynthWindows(
            training_source(train_clips, o, train=True),
            k,
            q1,
            step=int(o["window_step"]),
            flip=bool(o["flip"]),
            seed=seed,
        )
        val = None
        if val_clips:
            val = MixSynthWindows(training_source(val_clips, o, train=False), k, q1, step=k * (q1 - 1), seed=seed + 1)
            self._val_noise_seed = seed + 2
        return train, val

    def _noisy(self, target: torch.Tensor, train: bool, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        o, b = self.options, target.shape[0]
        if train:
            sigma = torch.rand(b, generator=generator) * float(o["max_sigma_m"])
            prob = torch.rand(b, generator=generator) * float(o["max_outlier_prob"])
        else:
            sigma = torch.full((b,), float(o["val_sigma_m"]))
            prob = torch.full((b,), float(o["val_outlier_prob"]))
        return lifter_like_noise(target, sigma, prob, float(o["outlier_sigma_m"]), generator)

    def loss(self, model: nn.Module, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        target = batch["pose_target"]
        pred = model(self._noisy(target, train=True))
        return self.objective(pred.float(), target), {}

    def predict(self, model: nn.Module, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        target = batch["pose_target"]
        gen = torch.Generator().manual_seed(getattr(self, "_val_noise_seed", 0))
        return model(self._noisy(target, train=False, generator=gen)).float(), target
