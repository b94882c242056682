"""Training: one engine for every family, one recipe per family, static-camera mocap data.

- :class:`Trainer` / :class:`TrainConfig`: AdamW, warm-up, exponential (per epoch) or cosine
  schedule, gradient clipping, AMP, EMA, validation, ``last/`` + ``best/`` checkpoints, exact
  resume, DDP under ``torchrun``.
- :func:`fit` / :func:`evaluate`: the notebook API behind ``posezoo train`` / ``posezoo eval``.
- :mod:`~posezoo.training.recipes`: the papers' objectives and defaults.
- :class:`MocapViews`, :class:`StaticCameraSampler`, :class:`BoneScale`, :class:`NoiseProfile`:
  world-frame motion capture -> 2D/3D training pairs as real video shows them.
- :class:`PairedSequences`, :func:`load_h36m_dir`, :func:`evaluate_h36m`: Human3.6M (VideoPose3D
  files) as a training source and the papers' protocol #1 / #2 evaluation.

See ``docs/training.md``.
"""

from __future__ import annotations

from .api import evaluate, family_of, fit, load_clip_files
from .augment import BoneScale, NoiseProfile, fill_missing, scale_bones
from .cameras import StaticCameraSampler
from .config import TrainConfig, lr_factor, parse_overrides
from .engine import Trainer, dist_info
from .evaluate import evaluate_lifter, evaluate_refiner, interpolate_keyframes
from .h36m_eval import evaluate_h36m
from .h36m_source import PairedSequences, load_h36m_dir, split_sequences
from .recipes import RECIPES, LiftingRecipe, MixSynthRecipe, Recipe, UpliftUpsampleRecipe, recipe_for
from .sources import MocapViews, split_clips

__all__ = [
    "Trainer",
    "TrainConfig",
    "fit",
    "evaluate",
    "family_of",
    "load_clip_files",
    "lr_factor",
    "parse_overrides",
    "dist_info",
    "BoneScale",
    "NoiseProfile",
    "fill_missing",
    "scale_bones",
    "StaticCameraSampler",
    "MocapViews",
    "split_clips",
    "evaluate_lifter",
    "evaluate_refiner",
    "interpolate_keyframes",
    "PairedSequences",
    "load_h36m_dir",
    "split_sequences",
    "evaluate_h36m",
    "RECIPES",
    "Recipe",
    "LiftingRecipe",
    "UpliftUpsampleRecipe",
    "MixSynthRecipe",
    "recipe_for",
]
