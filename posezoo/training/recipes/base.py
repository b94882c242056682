"""What every recipe provides to the engine, and the window metrics they share."""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Optional

import numpy as np
import torch
from torch import nn
from torch.utils.data import default_collate

from ... import metrics
from ..augment import BoneScale, NoiseProfile
from ..cameras import StaticCameraSampler
from ..sources import MocapViews

__all__ = ["Recipe", "WindowMetrics", "training_source", "noise_profile", "AUGMENTATION_DEFAULTS"]

MM = 1000.0

#: Default options of the 2D-input augmentation that :func:`training_source` applies: simulated detector
#: noise (:class:`~posezoo.training.augment.NoiseProfile`) and bone-length scaling (``BoneScale``).
AUGMENTATION_DEFAULTS: dict[str, Any] = {
    "noise": True,
    "clean_prob": 0.25,
    "max_sigma_frac": 0.012,
    "max_outlier_prob": 0.04,
    "max_missing_prob": 0.03,
    "bone_augment": True,
    "bone_spread": 0.1,
    "global_spread": 0.08,
}


class WindowMetrics:
    """Accumulates the field's metrics (mm) over predictions and targets in metres.

    ``update`` takes windows ``(B, T, J, 3)`` or one sequence ``(T, J, 3)`` (tensors or numpy arrays,
    computed in ``dtype``); ``prefix`` names a separate set of results (e.g. ``"linear_"`` for a
    baseline). MPJVE / accel are added for sequences of 3+ frames.
    """

    def __init__(self, dtype: torch.dtype = torch.float32) -> None:
        self.dtype = dtype
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}

    def _add(self, key: str, value: torch.Tensor, count: int) -> None:
        self.sums[key] = self.sums.get(key, 0.0) + float(value) * count
        self.counts[key] = self.counts.get(key, 0) + count

    def update(self, pred: Any, target: Any, prefix: str = "") -> None:
        pred, target = torch.as_tensor(pred, dtype=self.dtype), torch.as_tensor(target, dtype=self.dtype)
        if pred.ndim == 3:  # one sequence
            pred, target = pred[None], target[None]
        poses = int(np.prod(pred.shape[:-2]))
        self._add(prefix + "mpjpe", metrics.mpjpe(pred, target, root=0, scale=MM), poses)
        self._add(prefix + "p_mpjpe", metrics.p_mpjpe(pred, target, scale=MM), poses)
        self._add(prefix + "n_mpjpe", metrics.n_mpjpe(pred, target, root=0, scale=MM), poses)
        if pred.ndim == 4 and pred.shape[1] >= 3:
            b, t = pred.shape[:2]
            self._add(prefix + "mpjve", metrics.mpjve(pred, target, root=0, scale=MM), b * (t - 1))
            self._add(prefix + "accel", metrics.accel_error(pred, target, root=0, scale=MM), b * (t - 2))

    def result(self) -> dict[str, float]:
        return {k: self.sums[k] / max(self.counts[k], 1) for k in self.sums}


def noise_profile(options: Mapping[str, Any]) -> NoiseProfile:
    """The recipe's detector model (options ``clean_prob``, ``max_sigma_frac``, ...)."""
    o = {**AUGMENTATION_DEFAULTS, **options}
    return NoiseProfile(
        clean_prob=float(o["clean_prob"]),
        max_sigma_frac=float(o["max_sigma_frac"]),
        max_outlier_prob=float(o["max_outlier_prob"]),
        max_missing_prob=float(o["max_missing_prob"]),
    )


def training_source(data: Any, options: Mapping[str, Any], train: bool) -> Any:
    """The window source of a recipe's datasets.

    World-frame clips ``{name: (T, J, 3)}`` become :class:`MocapViews` with the recipe's augmentation
    (train) or clean static cameras (validation). A ready window source (an object with ``window``,
    e.g. :class:`posezoo.training.PairedSequences` of Human3.6M) is used as it is.
    """
    if not isinstance(data, Mapping) and hasattr(data, "window") and hasattr(data, "sequence_length"):
        return data
    cameras = StaticCameraSampler()
    if not train:
        return MocapViews(data, cameras=cameras)
    o = {**AUGMENTATION_DEFAULTS, **options}
    noise = noise_profile(o) if o["noise"] else None
    bones = BoneScale(float(o["bone_spread"]), float(o["global_spread"]))
    if not o["bone_augment"]:
        bones = None
    return MocapViews(data, cameras=cameras, noise=noise, bones=bones)


class Recipe:
    """A family's objective, data pipeline and validation, for :class:`posezoo.training.Trainer`.

    Subclasses set ``name``, ``families``, ``engine_defaults`` (TrainConfig
    overrides, e.g. the learning rate) and ``default_options(model)``, and
    implement :meth:`datasets`, :meth:`loss` and :meth:`predict`.
    """

    name = "base"
    families: tuple[str, ...] = ()
    select_metric = "mpjpe"
    engine_defaults: dict[str, Any] = {}

    def __init__(self, model: nn.Module, **options: Any) -> None:
        defaults = self.default_options(model)
        unknown = sorted(set(options) - set(defaults))
        if unknown:
            raise ValueError(f"{self.name} recipe: unknown options {unknown}; accepted: {sorted(defaults)}")
        self.options = {**defaults, **options}

    def default_options(self, model: nn.Module) -> dict[str, Any]:
        return {}

    def datasets(
        self, train_clips: Mapping[str, np.ndarray], val_clips: Optional[Mapping[str, np.ndarray]], seed: int
    ) -> tuple[Any, Any]:  # pragma: no cover - abstract
        """``(train, val)`` window datasets from clips or ready sources (see :func:`training_source`)."""
        raise NotImplementedError

    def collate(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        return default_collate([{k: v for k, v in item.items() if k != "meta"} for item in items])

    def loss(self, model: nn.Module, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        raise NotImplementedError  # pragma: no cover - abstract

    def predict(self, model: nn.Module, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError  # pragma: no cover - abstract

    def validate(self, model: nn.Module, batches: Iterable[dict[str, Any]]) -> dict[str, float]:
        acc = WindowMetrics()
        for batch in batches:
            pred, target = self.predict(model, batch)
            acc.update(pred, target)
        return acc.result()
