"""RTPCA / MixSTE recipe: seq2seq lifting windows, WMPJPE + 0.5 TCLoss + 2 MPJVE.

Released settings (RTPCA and MixSTE share one training loop): AdamW with
weight decay 0.1, learning rate x0.99 per epoch, drop-path 0.1 (set on the
model), flip augmentation, and the composite loss
:class:`posezoo.losses.RTPCALoss` (``lambda_t = 0.5``, ``lambda_m = 2``). The
released learning rate 4e-5 goes with batches of 1024 windows of 243 frames;
posezoo's CPU-size variants train with 1e-3 at batch 32 (``engine_defaults``).

Options (``--set key=value``): ``window_stride`` (frames between training window
starts), ``flip``, ``noise`` / ``clean_prob`` / ``max_sigma_frac`` /
``max_outlier_prob`` / ``max_missing_prob`` (detector model, see
:class:`posezoo.training.augment.NoiseProfile`), ``bone_augment`` /
``bone_spread`` / ``global_spread``, ``lambda_t``, ``lambda_m``, ``target_offset``
(causal training: the loss covers only the last ``target_offset + 1`` frames
when >= 0; -1 = every frame, the paper's seq2seq).
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

import numpy as np
import torch
from torch import nn

from ...data.windows import Seq2SeqWindows
from ...losses import RTPCALoss
from .base import AUGMENTATION_DEFAULTS, Recipe, training_source

__all__ = ["LiftingRecipe"]


class LiftingRecipe(Recipe):
    """Seq2seq lifting (``(B, T, J, 2) -> (B, T, J, 3)``): RTPCA and MixSTE."""

    name = "rtpca"
    families = ("rtpca", "mixste")
    engine_defaults = {"lr": 1e-3, "weight_decay": 0.1, "lr_decay": 0.99, "batch_size": 32}

    def default_options(self, model: nn.Module) -> dict[str, Any]:
        frames = int(model.num_frames)
        return {
            "num_frames": frames,
            "window_stride": max(1, frames // 3),
            "flip": True,
            **AUGMENTATION_DEFAULTS,
            "lambda_t": 0.5,
            "lambda_m": 2.0,
            "target_offset": -1,
        }

    def __init__(self, model: nn.Module, **options: Any) -> None:
        super().__init__(model, **options)
        o = self.options
        self.objective = RTPCALoss(lambda_t=float(o["lambda_t"]), lambda_m=float(o["lambda_m"]))

    def datasets(
        self, train_clips: Mapping[str, np.ndarray], val_clips: Optional[Mapping[str, np.ndarray]], seed: int
    ) -> tuple[Any, Any]:
        o = self.options
        frames = int(o["num_frames"])
        train = Seq2SeqWindows(
            training_source(train_clips, o, train=True),
            frames,
            stride=int(o["window_stride"]),
            flip=bool(o["flip"]),
            seed=seed,
        )
        val = None
        if val_clips:
            val = Seq2SeqWindows(training_source(val_clips, o, train=False), frames, stride=frames, seed=seed + 1)
        return train, val

    def _span(self, t: int) -> slice:
        k = int(self.options["target_offset"])
        return slice(None) if k < 0 else slice(max(0, t - 1 - k), t)

    def loss(self, model: nn.Module, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        pred = model(batch["keypoints_2d"])
        target = batch["pose_3d"]
        span = self._span(target.shape[1])
        if span != slice(None) and target.shape[1] - (span.start or 0) < 2:
            err = (pred[:, span] - target[:, span]).norm(dim=-1).mean()
            return err, {}
        return self.objective(pred[:, span].float(), target[:, span]), {}

    def predict(self, model: nn.Module, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        pred = model(batch["keypoints_2d"]).float()
        span = self._span(pred.shape[1])
        return pred[:, span], batch["pose_3d"][:, span]
