"""Training recipe of Uplift and Upsample: released optimiser/schedule settings, EMA, flip augmentation.

The numbers are those of the official configs (``config/h36m_81.json``,
``h36m_351.json``, ``h36m_351_pt.json``, ``amass_351.json``) translated to
PyTorch:

* Optimiser: the official code uses tensorflow-addons ``AdamW`` (eps 1e-8,
  no amsgrad) with learning rate 4e-5 (2e-5 for the AMASS-pretrained
  fine-tune ``h36m_351_pt``) and weight decay 4e-6 (2e-6), *both* following
  the same staircase schedule ``x0.99 every 6000 steps``. tfa applies the
  decay as ``p -= wd * p`` (not multiplied by the learning rate) to every
  variable, before the Adam step. ``torch.optim.AdamW`` applies
  ``p -= lr * weight_decay * p``, also before the Adam step, so the
  equivalent is a constant ``weight_decay = wd / lr = 0.1`` on *all*
  parameters (biases, LayerNorms, positional embeddings and the upsampling
  token included), with the learning-rate schedule doing the decaying.
* Schedule: :class:`torch.optim.lr_scheduler.StepLR` with ``step_size=6000``,
  ``gamma=0.99``, stepped once per optimisation step.
* EMA (``h36m_81`` only): decay ``min(0.999, (1 + step) / (10 + step))``;
  the EMA copy is the model that is validated and saved.
* Drop-path rates ``[0.1, 0.1, 0.0]`` (spatial, temporal, strided), growing
  linearly from 0 within each stack (set on the model:
  ``UpliftUpsample(drop_path_rate=...)``; the registered variants use them).
* Loss: ``0.5 * sequence + 0.5 * centre`` MPJPE (``posezoo.losses.UpliftUpsampleLoss``, :func:`make_loss`).
* Flip augmentation: every sequence is seen once plain and once mirrored per
  epoch (negate x, swap sides with the layout of the model's ``joint_order``:
  :func:`skeleton_for`); ``in_batch_augment`` (351-frame configs) puts the
  mirrored copy right after the original in the same batch, with the same
  stride mask (:class:`posezoo.data.WithinBatchFlip`).
* Stride masks: one s_in per sequence drawn from the model's
  ``input_strides``, random phase (``STRIDE_MASK_RAND_SHIFT``).
  :func:`training_windows` assembles all of this on top of
  :class:`posezoo.data.UpliftUpsampleWindows`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Callable, Mapping, Optional

import numpy as np
import torch
from torch import nn

from ...data.windows import UpliftUpsampleWindows, WithinBatchFlip
from ...losses import UpliftUpsampleLoss
from ...models.uplift_upsample import JOINT_ORDERS
from ...skeleton import Skeleton, get_skeleton
from .base import AUGMENTATION_DEFAULTS, Recipe, training_source

__all__ = [
    "UpliftUpsampleTrainingConfig",
    "RELEASED_TRAINING_CONFIGS",
    "training_config",
    "make_optimizer",
    "make_scheduler",
    "ema_decay",
    "make_ema",
    "make_loss",
    "skeleton_for",
    "training_windows",
    "UpliftUpsampleRecipe",
]


@dataclass(frozen=True)
class UpliftUpsampleTrainingConfig:
    """Optimisation settings of one released configuration (PyTorch terms).

    Attributes:
        name: official config name.
        lr: initial learning rate of AdamW.
        weight_decay: ``torch.optim.AdamW`` weight decay (= official wd / lr).
        betas, eps: AdamW moments and epsilon (tfa defaults).
        lr_decay, lr_decay_steps: staircase decay ``lr * lr_decay ** (step // lr_decay_steps)``.
        batch_size, epochs, steps_per_epoch: official training length.
        ema: keep an exponential moving average of the weights (validated/saved model).
        ema_max_decay: upper bound of the EMA decay.
        drop_path_rate: ``[spatial, temporal, strided]`` stochastic-depth rates.
        loss_weight_sequence, loss_weight_center: weights of the two MPJPE terms.
        flip: mirror augmentation (every sequence once plain, once mirrored).
        in_batch_augment: the mirrored copy follows its original in the same batch.
        random_shift: random stride-mask phase during training.
    """

    name: str = "h36m_81"
    lr: float = 4e-5
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    lr_decay: float = 0.99
    lr_decay_steps: int = 6000
    batch_size: int = 256
    epochs: int = 120
    steps_per_epoch: int = 6000
    ema: bool = True
    ema_max_decay: float = 0.999
    drop_path_rate: tuple[float, float, float] = (0.1, 0.1, 0.0)
    loss_weight_sequence: float = 0.5
    loss_weight_center: float = 0.5
    flip: bool = True
    in_batch_augment: bool = False
    random_shift: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_H36M_81 = UpliftUpsampleTrainingConfig()
_H36M_351 = replace(_H36M_81, name="h36m_351", batch_size=512, ema=False, in_batch_augment=True)

#: The four released configurations.
RELEASED_TRAINING_CONFIGS: dict[str, UpliftUpsampleTrainingConfig] = {
    "h36m_81": _H36M_81,
    "h36m_351": _H36M_351,
    "h36m_351_pt": replace(_H36M_351, name="h36m_351_pt", lr=2e-5, epochs=3),
    "amass_351": replace(_H36M_351, name="amass_351", epochs=100),
}


def training_config(name: str = "h36m_81", **overrides: Any) -> UpliftUpsampleTrainingConfig:
    """A released configuration (``h36m_81``, ``h36m_351``, ``h36m_351_pt``, ``amass_351``) with overrides."""
    if name not in RELEASED_TRAINING_CONFIGS:
        raise ValueError(f"unknown config {name!r}; released: {', '.join(RELEASED_TRAINING_CONFIGS)}")
    return replace(RELEASED_TRAINING_CONFIGS[name], **overrides)


def make_optimizer(model: nn.Module, config: Optional[UpliftUpsampleTrainingConfig] = None) -> torch.optim.AdamW:
    """``torch.optim.AdamW`` over all trainable parameters, one group, decay on everything (as tfa)."""
    cfg = config or _H36M_81
    params = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.AdamW(params, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, weight_decay=cfg.weight_decay)


def make_scheduler(
    optimizer: torch.optim.Optimizer, config: Optional[UpliftUpsampleTrainingConfig] = None
) -> torch.optim.lr_scheduler.StepLR:
    """Staircase exponential decay; call ``scheduler.step()`` after every optimiser step."""
    cfg = config or _H36M_81
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg.lr_decay_steps, gamma=cfg.lr_decay)


def ema_decay(step: int, max_decay: float = 0.999) -> float:
    """Official EMA decay at update ``step`` (0-based): ``min(max_decay, (1 + step) / (10 + step))``."""
    return min(max_decay, (1.0 + step) / (10.0 + step))


def make_ema(
    model: nn.Module, config: Optional[UpliftUpsampleTrainingConfig] = None
) -> Optional[torch.optim.swa_utils.AveragedModel]:
    """EMA copy of ``model`` (``torch.optim.swa_utils.AveragedModel``) or None when the config has no EMA.

    Call ``ema.update_parameters(model)`` after each optimiser step; use
    ``ema.module`` for validation and saving. The first update copies the
    weights (torch's convention; the official first decay is 0.1, so the two
    agree after a few steps), update ``n`` uses :func:`ema_decay` ``(n)``.
    """
    cfg = config or _H36M_81
    if not cfg.ema:
        return None
    max_decay = cfg.ema_max_decay

    def average(averaged: torch.Tensor, current: torch.Tensor, num_averaged: torch.Tensor) -> torch.Tensor:
        decay = ema_decay(int(num_averaged), max_decay)
        return decay * averaged + (1.0 - decay) * current

    return torch.optim.swa_utils.AveragedModel(model, avg_fn=average, use_buffers=True)


def make_loss(config: Optional[UpliftUpsampleTrainingConfig] = None):
    """``posezoo.losses.UpliftUpsampleLoss`` with the config's weights (0.5 sequence + 0.5 centre).

    Call it as ``loss(out.full, out.central, target)`` with ``target`` ``(B, N, J, 3)``.
    """

    cfg = config or _H36M_81
    return UpliftUpsampleLoss(w_seq=cfg.loss_weight_sequence, w_center=cfg.loss_weight_center)


def skeleton_for(joint_order: str) -> Skeleton:
    """The :mod:`posezoo.skeleton` layout of a model's ``joint_order`` (``"official"`` ->
    ``UPLIFT_UPSAMPLE_17``, whose flip permutation is the official
    ``[5, 4, 3, 2, 1, 0, 6, 7, 8, 9, 10, 16, 15, 14, 13, 12, 11]``)."""
    return get_skeleton(JOINT_ORDERS.get(joint_order, joint_order))


def training_windows(
    model: nn.Module,
    source: Any,
    config: Optional[UpliftUpsampleTrainingConfig] = None,
    center_step: int = 1,
    seed: int = 0,
) -> tuple[UpliftUpsampleWindows, Optional[Callable]]:
    """Training windows and ``collate_fn`` for ``model`` with the config's augmentation.

    One s_in per window from ``model.input_strides``, random phase when
    ``config.random_shift``, keypoints zeroed at non-keyframes. Flips follow
    the official scheme: every window appears once plain and once mirrored per
    epoch; with ``in_batch_augment`` the mirror directly follows its original
    in the batch (same mask and phase; use ``batch_size // 2`` windows per
    DataLoader batch), otherwise mirrored windows are separate dataset items.

    Args:
        model: an ``UpliftUpsample`` (geometry and ``joint_order`` are read from it).
        source: a sequence source of :mod:`posezoo.data.windows` in the model's
            joint order, e.g. ``posezoo.data.VirtualCameraPairs(clips)``.
        config: training config (default ``h36m_81``).
        center_step: every ``center_step``-th frame is a window centre.
        seed: base seed of the per-item draws.

    Returns:
        ``(dataset, collate_fn)``; ``collate_fn`` is None when the default collation applies.
    """
    cfg = config or _H36M_81
    skeleton = skeleton_for(model.joint_order)
    in_batch = cfg.flip and cfg.in_batch_augment
    dataset = UpliftUpsampleWindows(
        source,
        model.num_frames,
        model.output_stride,
        model.input_strides,
        train=True,
        random_shift=cfg.random_shift,
        center_step=center_step,
        flip=cfg.flip and not in_batch,
        skeleton=skeleton,
        seed=seed,
    )
    return dataset, (WithinBatchFlip(skeleton) if in_batch else None)


# --------------------------------------------------------------------------- engine recipe


class UpliftUpsampleRecipe(Recipe):
    """Multi-stride Uplift-and-Upsample training for :class:`posezoo.training.Trainer`.

    Windows of ``N`` tokens every ``s_out`` frames from static virtual cameras,
    one input stride per window drawn from the model's ``input_strides``,
    random stride-mask phase, within-batch flips (each window followed by its
    mirror with the same mask: a loader batch of ``batch_size`` windows is
    ``2 * batch_size`` sequences), loss ``0.5 * sequence + 0.5 * centre`` MPJPE.
    Options as the lifting recipe's (noise, bone lengths) plus ``center_step``
    (frames between training window centres) and ``random_shift``.
    """

    name = "uplift_upsample"
    families = ("uplift_upsample",)
    engine_defaults = {"lr": 1e-3, "weight_decay": 0.1, "lr_decay": 0.99, "batch_size": 16}

    def default_options(self, model: nn.Module) -> dict[str, Any]:
        return {
            "center_step": 8,
            "random_shift": True,
            "in_batch_flip": True,
            **AUGMENTATION_DEFAULTS,
            "w_seq": 0.5,
            "w_center": 0.5,
            "val_input_stride": int(sorted(model.input_strides)[len(model.input_strides) // 2]),
        }

    def __init__(self, model: nn.Module, **options: Any) -> None:
        super().__init__(model, **options)
        self.model_geometry = (int(model.num_frames), int(model.output_stride), [int(s) for s in model.input_strides])
        self.skeleton = skeleton_for(model.joint_order)
        self.objective = UpliftUpsampleLoss(float(self.options["w_seq"]), float(self.options["w_center"]))
        self._flip = WithinBatchFlip(self.skeleton) if self.options["in_batch_flip"] else None

    def datasets(
        self, train_clips: Mapping[str, np.ndarray], val_clips: Optional[Mapping[str, np.ndarray]], seed: int
    ) -> tuple[Any, Any]:
        o = self.options
        tokens, s_out, strides = self.model_geometry
        train = UpliftUpsampleWindows(
            training_source(train_clips, o, train=True),
            tokens,
            s_out,
            strides,
            train=True,
            random_shift=bool(o["random_shift"]),
            center_step=int(o["center_step"]),
            flip=not o["in_batch_flip"],
            skeleton=self.skeleton,
            seed=seed,
        )
        val = None
        if val_clips:
            val = UpliftUpsampleWindows(
                training_source(val_clips, o, train=False),
                tokens,
                s_out,
                [int(o["val_input_stride"])],
                train=False,
                center_step=s_out * 8,
                skeleton=self.skeleton,
                seed=seed + 1,
            )
        return train, val

    def collate(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        items = [{k: v for k, v in item.items() if k != "meta"} for item in items]
        return self._flip(items) if self._flip is not None else super().collate(items)

    def loss(self, model: nn.Module, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        out = model(batch["keypoints_2d"], batch["stride_mask"])
        target = batch["pose_3d"]
        full = out.full.float() if out.full is not None else None
        return self.objective(full, out.central.float(), target), {}

    def predict(self, model: nn.Module, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        out = model(batch["keypoints_2d"], batch["stride_mask"])
        target = batch["pose_3d"]
        if out.full is not None:
            return out.full.float(), target
        return out.central.float()[:, None], target[:, target.shape[1] // 2][:, None]
