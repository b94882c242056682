"""Streaming evaluation: accumulate per-pose metric values over batches, per action and per frame index."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence, Union

import numpy as np
import torch

from .._arrays import ArrayLike
from ._common import check_scale
from .pck import auc3d, pck3d
from .position import mpjpe, n_mpjpe, p_mpjpe
from .temporal import accel_error, mpjve

__all__ = ["Evaluator", "EvaluationResult", "EVALUATOR_METRICS", "action_group"]

# name -> (function, frames consumed by a finite difference: 0 per pose, 1 velocity, 2 acceleration)
EVALUATOR_METRICS: dict[str, tuple[Callable[..., ArrayLike], int]] = {
    "mpjpe": (mpjpe, 0),
    "n_mpjpe": (n_mpjpe, 0),
    "p_mpjpe": (p_mpjpe, 0),
    "pck3d": (pck3d, 0),
    "auc3d": (auc3d, 0),
    "mpjve": (mpjve, 1),
    "accel_error": (accel_error, 2),
}

_AVERAGING = ("frame", "action")


def action_group(name: str) -> str:
    """H36M action group: the name before the first space (``"Walking 1"`` -> ``"Walking"``)."""
    return name.split(" ")[0]


@dataclass
class EvaluationResult:
    """Output of :meth:`Evaluator.compute`.

    Attributes:
        overall: metric -> value (frame-wise mean, or mean of per-action means).
        per_action: action -> metric -> mean over that action's valid values (empty without labels).
        frame_curves: metric -> ``(T,)`` mean value at each frame index of the windows
            (NaN where no valid value was seen); velocity/acceleration curves are shorter by 1/2.
        counts: metric -> number of valid values accumulated.
        averaging: ``"frame"`` or ``"action"``.
    """

    overall: dict[str, float]
    per_action: dict[str, dict[str, float]] = field(default_factory=dict)
    frame_curves: dict[str, np.ndarray] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    averaging: str = "frame"


class _Accumulator:
    """Sums and counts of one metric: total, per action, per frame index."""

    def __init__(self) -> None:
        self.total = 0.0
        self.count = 0
        self.by_action: dict[str, list[float]] = {}
        self.curve_sum = np.zeros(0)
        self.curve_count = np.zeros(0, dtype=np.int64)

    def add(self, values: np.ndarray, labels: Optional[list[str]]) -> None:
        ok = np.isfinite(values)  # (B, T'); invalid entries are NaN
        vals = np.where(ok, values, 0.0)
        self.total += float(vals.sum())
        self.count += int(ok.sum())
        if labels is not None:
            for label, row, row_ok in zip(labels, vals, ok):
                entry = self.by_action.setdefault(label, [0.0, 0])
                entry[0] += float(row.sum())
                entry[1] += int(row_ok.sum())
        length = values.shape[1]
        if length > self.curve_sum.size:
            grow = length - self.curve_sum.size
            self.curve_sum = np.concatenate([self.curve_sum, np.zeros(grow)])
            self.curve_count = np.concatenate([self.curve_count, np.zeros(grow, dtype=np.int64)])
        self.curve_sum[:length] += vals.sum(axis=0)
        self.curve_count[:length] += ok.sum(axis=0)


class Evaluator:
    """Accumulate metrics over an evaluation set.

    Args:
        metrics: names from :data:`EVALUATOR_METRICS` (``"mpjpe"``, ``"n_mpjpe"``,
            ``"p_mpjpe"``, ``"pck3d"``, ``"auc3d"``, ``"mpjve"``, ``"accel_error"``).
        scale: unit factor for all metrics (``unit_scale("m", "mm")`` for metre poses;
            the PCK/AUC thresholds are in mm, so they need mm after scaling).
        root: subtract this joint from pred and target first (``None``: as given).
        averaging: ``"frame"`` (mean over all valid frames) or ``"action"`` (H36M
            convention as VideoPose3D/MixSTE/RTPCA: mean of the per-action means;
            every update must then carry action labels).
        group_actions: group labels by the name before the first space
            (``"Walking 1"`` and ``"Walking"`` -> ``"Walking"``), as H36M evaluations do.
            With ``False`` any label (e.g. a sequence id) is its own group.

    Example::

        ev = Evaluator(("mpjpe", "p_mpjpe"), scale=unit_scale("m", "mm"), averaging="action")
        for pred, target, actions in batches:      # (B, T, J, 3), labels of length B
            ev.update(pred, target, actions)
        result = ev.compute()                      # result.overall["mpjpe"] in mm
    """

    def __init__(
        self,
        metrics: Sequence[str] = ("mpjpe", "p_mpjpe"),
        *,
        scale: float = 1.0,
        root: Optional[int] = None,
        averaging: str = "frame",
        group_actions: bool = True,
    ) -> None:
        if isinstance(metrics, str):
            metrics = (metrics,)
        unknown = [m for m in metrics if m not in EVALUATOR_METRICS]
        if unknown or not metrics:
            raise ValueError(
                f"unknown or no metrics {unknown or list(metrics)}; choose from {', '.join(EVALUATOR_METRICS)}"
            )
        if averaging not in _AVERAGING:
            raise ValueError(f"averaging must be 'frame' or 'action', got {averaging!r}")
        self.metrics = tuple(dict.fromkeys(metrics))
        self.scale = check_scale(scale)
        self.root = root
        self.averaging = averaging
        self.group_actions = bool(group_actions)
        self.reset()

    def reset(self) -> None:
        """Forget everything accumulated so far."""
        self._acc = {m: _Accumulator() for m in self.metrics}
        self._labelled: Optional[bool] = None

    def _labels(self, actions: Union[None, str, Sequence[str]], batch: int) -> Optional[list[str]]:
        if actions is None:
            labels = None
        elif isinstance(actions, str):
            labels = [actions] * batch
        else:
            labels = list(actions)
            if len(labels) != batch or not all(isinstance(a, str) for a in labels):
                raise ValueError(f"actions must be a str or {batch} str labels (one per sample), got {actions!r}")
        if self.averaging == "action" and labels is None:
            raise ValueError("averaging='action' needs action labels in every update")
        if self._labelled is not None and self._labelled != (labels is not None):
            raise ValueError("pass action labels in every update or in none")
        self._labelled = labels is not None
        if labels is not None and self.group_actions:
            labels = [action_group(a) for a in labels]
        return labels

    def update(
        self,
        pred: ArrayLike,
        target: ArrayLike,
        actions: Union[None, str, Sequence[str]] = None,
        valid: Optional[ArrayLike] = None,
    ) -> None:
        """Add a batch.

        Args:
            pred, target: ``(B, T, J, C)`` windows or ``(B, J, C)`` single poses (T = 1).
            actions: one label per sample (length B), one label for the whole batch, or ``None``.
            valid: bool ``(B, T)`` (or ``(B,)`` for single poses); invalid poses may hold NaN.
        """
        if not isinstance(pred, (np.ndarray, torch.Tensor)):
            raise TypeError(f"pred must be a numpy array or tensor, got {type(pred).__name__}")
        if pred.ndim not in (3, 4):
            raise ValueError(f"pred must be (B, T, J, C) or (B, J, C), got shape {tuple(pred.shape)}")
        if pred.ndim == 3:
            pred, target = pred[:, None], target[:, None]
            valid = None if valid is None else valid[:, None]
        labels = self._labels(actions, pred.shape[0])
        for name in self.metrics:
            fn, order = EVALUATOR_METRICS[name]
            if pred.shape[1] <= order:
                raise ValueError(f"{name} needs windows (B, T, J, C) with T >= {order + 1}, got {tuple(pred.shape)}")
            values = fn(pred, target, root=self.root, valid=valid, scale=self.scale, reduction="none")
            if isinstance(values, torch.Tensor):
                values = values.detach().to("cpu", torch.float64).numpy()
            self._acc[name].add(np.asarray(values, dtype=np.float64), labels)

    def compute(self) -> EvaluationResult:
        """Means of everything accumulated (NaN for a metric without any valid value)."""
        overall: dict[str, float] = {}
        per_action: dict[str, dict[str, float]] = {}
        curves: dict[str, np.ndarray] = {}
        counts: dict[str, int] = {}
        for name, acc in self._acc.items():
            action_means = {a: s / c for a, (s, c) in sorted(acc.by_action.items()) if c > 0}
            for action, value in action_means.items():
                per_action.setdefault(action, {})[name] = value
            if self.averaging == "action":
                overall[name] = float(np.mean(list(action_means.values()))) if action_means else float("nan")
            else:
                overall[name] = acc.total / acc.count if acc.count else float("nan")
            with np.errstate(invalid="ignore", divide="ignore"):
                curves[name] = np.where(acc.curve_count > 0, acc.curve_sum / np.maximum(acc.curve_count, 1), np.nan)
            counts[name] = acc.count
        return EvaluationResult(overall, per_action, curves, counts, self.averaging)
