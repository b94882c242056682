"""Engine settings (:class:`TrainConfig`), the learning-rate schedule and ``key=value`` overrides."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Callable, Mapping

__all__ = ["TrainConfig", "lr_factor", "parse_overrides", "split_overrides"]

_SCHEDULES = ("exp", "cosine", "constant")
_AMP = ("none", "bf16", "fp16")


@dataclass(frozen=True)
class TrainConfig:
    """Settings of the training engine (the recipe holds the objective and the data settings).

    Attributes:
        steps: optimisation steps in total.
        batch_size: windows per step and per process (DDP: the global batch is ``world_size`` times this).
        lr: peak learning rate of AdamW.
        weight_decay: AdamW (decoupled) weight decay.
        betas, eps: AdamW moments and epsilon.
        warmup_steps: linear warm-up from ``lr / 100`` to ``lr``.
        schedule: ``"exp"`` (the papers': ``lr * lr_decay ** epoch``, one epoch = one pass over
            the training windows), ``"cosine"`` (to ``min_lr_frac * lr`` at ``steps``) or ``"constant"``.
        lr_decay: per-epoch factor of the ``"exp"`` schedule.
        min_lr_frac: final learning rate of ``"cosine"``, as a fraction of ``lr``.
        grad_clip: max global gradient norm (0: off).
        amp: ``"none"``, ``"bf16"`` (CPU or CUDA) or ``"fp16"`` (CUDA, with gradient scaling).
        ema: decay of an exponential moving average of the weights (0: off); the average is
            what is validated and saved as ``best/``.
        seed: seeds the model's random ops, the window order and every camera / noise draw.
        log_every: steps between log records in ``metrics.jsonl``.
        val_every: steps between validations (and checkpoints of ``last/``).
        val_windows: at most this many validation windows (evenly spaced; 0: all).
        workers: data-loader worker processes (0: load in the training process).
        threads: torch intra-op threads (0: leave torch's default).
    """

    steps: int = 1000
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    warmup_steps: int = 100
    schedule: str = "exp"
    lr_decay: float = 0.99
    min_lr_frac: float = 0.01
    grad_clip: float = 1.0
    amp: str = "none"
    ema: float = 0.0
    seed: int = 0
    log_every: int = 20
    val_every: int = 250
    val_windows: int = 512
    workers: int = 0
    threads: int = 0

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 10**9:
                raise ValueError(f"TrainConfig.{name} must be an int in [1, 1e9], got {v!r}")
        for name in ("warmup_steps", "log_every", "val_every", "val_windows", "workers", "threads", "seed"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 10**9:
                raise ValueError(f"TrainConfig.{name} must be an int in [0, 1e9], got {v!r}")
        for name in ("lr", "weight_decay", "eps", "grad_clip", "min_lr_frac"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise ValueError(f"TrainConfig.{name} must be a finite number >= 0, got {v!r}")
        if self.lr <= 0:
            raise ValueError(f"TrainConfig.lr must be > 0, got {self.lr}")
        if not 0 < self.lr_decay <= 1:
            raise ValueError(f"TrainConfig.lr_decay must lie in (0, 1], got {self.lr_decay}")
        if not 0 <= self.ema < 1:
            raise ValueError(f"TrainConfig.ema must lie in [0, 1), got {self.ema}")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"TrainConfig.betas must be two numbers in [0, 1), got {self.betas}")
        if self.schedule not in _SCHEDULES:
            raise ValueError(f"TrainConfig.schedule must be one of {_SCHEDULES}, got {self.schedule!r}")
        if self.amp not in _AMP:
            raise ValueError(f"TrainConfig.amp must be one of {_AMP}, got {self.amp!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def lr_factor(config: TrainConfig, steps_per_epoch: int) -> Callable[[int], float]:
    """Multiplier of ``config.lr`` at a step: warm-up times the schedule."""
    per_epoch = max(1, int(steps_per_epoch))

    def factor(step: int) -> float:
        warm = 1.0
        if config.warmup_steps and step < config.warmup_steps:
            warm = 0.01 + 0.99 * step / config.warmup_steps
        if config.schedule == "exp":
            return warm * config.lr_decay ** (step // per_epoch)
        if config.schedule == "cosine":
            t = min(1.0, step / max(1, config.steps))
            return warm * (config.min_lr_frac + (1 - config.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * t)))
        return warm

    return factor


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["lr=3e-4", "schedule=cosine", "betas=[0.9,0.99]"]`` -> dict (values parsed as JSON when they parse)."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--set expects key=value, got {item!r}")
        key, value = item.split("=", 1)
        if not key.strip():
            raise ValueError(f"--set expects key=value, got {item!r}")
        out[key.strip()] = _parse_value(value.strip())
    return out


def split_overrides(
    base: TrainConfig, options: Mapping[str, Any], overrides: Mapping[str, Any]
) -> tuple[TrainConfig, dict[str, Any]]:
    """Apply overrides: engine keys to the :class:`TrainConfig`, recipe keys to the options.

    Unknown keys raise ``ValueError`` listing the accepted ones.
    """
    engine_keys = {f.name for f in fields(TrainConfig)}
    engine, recipe = {}, dict(options)
    for key, value in overrides.items():
        if key in engine_keys:
            engine[key] = tuple(value) if key == "betas" else value
        elif key in options:
            recipe[key] = value
        else:
            raise ValueError(
                f"unknown setting {key!r}; engine: {', '.join(sorted(engine_keys))}; "
                f"recipe: {', '.join(sorted(options))}"
            )
    return replace(base, **engine), recipe
