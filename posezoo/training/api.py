"""Notebook entry points: :func:`fit` and :func:`evaluate` (the CLI's ``train`` / ``eval`` call these)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np
import torch
from torch import nn

from .._validation import check_float, check_probability
from ..data.cmu import CMU_SPLITS, cmu_mocap
from ..data.h36m import H36M_TEST_SUBJECTS, H36M_TRAIN_SUBJECTS
from ..data.mocap import load_clips
from ..models import create_model, get_model_entry
from .config import TrainConfig, split_overrides
from .engine import Trainer
from .evaluate import evaluate_lifter, evaluate_refiner
from .h36m_eval import evaluate_h36m
from .h36m_source import DEFAULT_H36M_2D, PairedSequences, load_h36m_dir, split_sequences
from .recipes import recipe_for
from .recipes.base import noise_profile
from .sources import split_clips

__all__ = ["fit", "evaluate", "load_clip_files", "family_of"]

ClipsArg = Union[str, os.PathLike, Mapping[str, np.ndarray], Sequence[Union[str, os.PathLike]]]


def load_clip_files(sources: ClipsArg) -> dict[str, np.ndarray]:
    """Clips from npz files and/or CMU split names (``"train"``, ``"extra"``, ``"test"``, ``"sample"``).

    A mapping is returned as a dict unchanged. Clip names must be unique across files.
    """
    if isinstance(sources, Mapping):
        return dict(sources)
    items = [sources] if isinstance(sources, (str, os.PathLike)) else list(sources)
    if not items:
        raise ValueError("no clip files given")
    out: dict[str, np.ndarray] = {}
    for item in items:
        path = Path(item)
        clips = cmu_mocap(str(item)) if str(item) in CMU_SPLITS and not path.is_file() else load_clips(path)
        clash = sorted(set(clips) & set(out))
        if clash:
            raise ValueError(f"clip names repeat across files: {clash[:5]}")
        out.update(clips)
    return out


def family_of(model: nn.Module) -> str:
    """Registry family of a posezoo model instance."""
    from ..models.mixste import MixSTE
    from ..models.mixsynthformer import MixSynthFormer
    from ..models.rtpca import RTPCA
    from ..models.uplift_upsample import UpliftUpsample

    for cls, family in (
        (RTPCA, "rtpca"),
        (MixSTE, "mixste"),
        (UpliftUpsample, "uplift_upsample"),
        (MixSynthFormer, "mixsynthformer"),
    ):
        if isinstance(model, cls):
            return family
    raise ValueError(f"no training recipe for {type(model).__name__}; pass family=")


def fit(
    model: Union[str, nn.Module],
    data: Optional[ClipsArg] = None,
    val: Optional[ClipsArg] = None,
    *,
    h36m: Optional[Union[str, os.PathLike]] = None,
    h36m_2d: str = DEFAULT_H36M_2D,
    h36m_subjects: Optional[Sequence[str]] = None,
    h36m_actions: Optional[Sequence[str]] = None,
    h36m_noise: bool = False,
    steps: int = 1000,
    batch_size: Optional[int] = None,
    out_dir: Optional[Union[str, os.PathLike]] = None,
    seed: int = 0,
    resume: bool = False,
    pretrained: Union[bool, str] = False,
    val_fraction: float = 0.1,
    family: Optional[str] = None,
    device: Optional[str] = None,
    progress: Optional[bool] = None,
    overrides: Optional[Mapping[str, Any]] = None,
    model_kwargs: Optional[Mapping[str, Any]] = None,
    run_info: Optional[dict[str, Any]] = None,
) -> Trainer:
    """Train (or fine-tune) a model on world-frame 3D motion or on Human3.6M; returns the finished :class:`Trainer`.

    Args:
        model: a registered name (built with ``pretrained`` and ``model_kwargs``) or a module.
        data: training clips: npz files / CMU split names, or ``{name: (T, 17, 3)}`` world metres.
        val: validation clips; ``None`` holds out ``val_fraction`` of the training clips (by clip).
        h36m: instead of ``data``: a folder with VideoPose3D's ``data_3d_h36m.npz`` and
            ``data_2d_h36m_<h36m_2d>.npz``; trains on the real 2D of ``h36m_subjects`` (default
            S1, S5, S6, S7, S8) and ``h36m_actions`` (default all), validating on ``val_fraction``
            of their takes (subject + action, all cameras), never on the test subjects.
        h36m_2d: the 2D file's source: ``"cpn_ft_h36m_dbb"`` (default) or ``"gt"``, ...
        h36m_noise: add the recipe's detector noise to the H36M 2D as well (default off).
        steps, batch_size, seed: engine settings (the recipe's defaults fill the rest).
        out_dir: run folder (``last/``, ``best/``, ``metrics.jsonl``, ``run.json``); ``None`` writes nothing.
        resume: continue the run in ``out_dir`` exactly where it stopped.
        overrides: engine or recipe settings by name, e.g. ``{"lr": 3e-4, "schedule": "cosine", "flip": False}``.

    Example::

        trainer = posezoo.training.fit("rtpca_small", "sample", steps=20, batch_size=4)
        trainer.model  # the trained module; trainer.history holds the log records
    """
    name = model if isinstance(model, str) else None
    if name is not None:
        torch.manual_seed(seed)  # the initial weights are part of the seeded run
        net = create_model(name, pretrained=pretrained, **dict(model_kwargs or {}))
        family = family or get_model_entry(name).family
    else:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a registered name or an nn.Module, got {type(model).__name__}")
        net, family = model, family or family_of(model)
    if h36m is not None:
        if data is not None or val is not None:
            raise ValueError(
                "give either mocap clips (data/val) or h36m, not both: H36M validation holds out "
                "val_fraction of the H36M training takes"
            )
        subjects = list(h36m_subjects or H36M_TRAIN_SUBJECTS)
        train_seqs, val_seqs = split_sequences(load_h36m_dir(h36m, h36m_2d, subjects, h36m_actions), val_fraction, seed)
        takes = sorted({f"{s['subject']}/{s['action']}" for s in train_seqs})
        val_takes = sorted({f"{s['subject']}/{s['action']}" for s in val_seqs})
        source_info: dict[str, Any] = {
            "source": "h36m",
            "h36m": {
                "dir": str(h36m),
                "2d": h36m_2d,
                "subjects": subjects,
                "actions": list(h36m_actions) if h36m_actions else None,
                "noise": bool(h36m_noise),
            },
        }
    elif data is None:
        raise ValueError("no training data: give data (mocap clips or CMU splits) or h36m (a VideoPose3D folder)")
    else:
        clips = load_clip_files(data)
        if val is None:
            train_clips, val_clips = split_clips(clips, val_fraction, seed) if len(clips) >= 2 else (clips, None)
        else:
            train_clips, val_clips = clips, load_clip_files(val)
        takes, val_takes = sorted(train_clips), sorted(val_clips or {})
        source_info = {"source": "mocap"}
    base_recipe = recipe_for(family, net)
    engine = {**base_recipe.engine_defaults, "steps": steps, "seed": seed}
    if batch_size is not None:
        engine["batch_size"] = batch_size
    config, options = split_overrides(TrainConfig(**engine), base_recipe.options, dict(overrides or {}))
    recipe = recipe_for(family, net, **options)
    if h36m is not None:  # real 2D: the file's detections, detector noise only on request
        noise = noise_profile(recipe.options) if h36m_noise else None
        train_clips, val_clips = PairedSequences(train_seqs, noise=noise), PairedSequences(val_seqs)
    train_set, val_set = recipe.datasets(train_clips, val_clips, seed)
    info = {
        "model": name or type(net).__name__,
        "family": family,
        "pretrained": pretrained,
        "model_kwargs": dict(model_kwargs or {}),
        **source_info,
        "train_clips": takes,
        "val_clips": val_takes,
        "train_windows": len(train_set),
        **dict(run_info or {}),
    }
    trainer = Trainer(
        net, recipe, train_set, val_set, config, out_dir=out_dir, device=device, progress=progress, run_info=info
    )
    trainer.fit(resume=resume)
    return trainer


def evaluate(
    model: nn.Module,
    data: Optional[ClipsArg] = None,
    *,
    views: int = 2,
    seed: int = 1234,
    input_stride: Optional[int] = None,
    flip_tta: bool = True,
    h36m: Optional[Union[str, os.PathLike]] = None,
    h36m_2d: str = DEFAULT_H36M_2D,
    h36m_subjects: Optional[Sequence[str]] = None,
    h36m_actions: Optional[Sequence[str]] = None,
    noise: Optional[tuple[float, float]] = None,
) -> dict[str, Any]:
    """Test metrics (mm) of a model.

    ``noise = (sigma, outlier_prob)`` sets the noisy pass (mocap clips only): for lifters, Gaussian
    sigma in pixels per 1000 px of image size (default 3) and the fraction of outlier joints (0.02);
    for MixSynthFormer, the keyframe jitter in millimetres (default 20) and the outlier fraction (0.02).

    With ``data`` (mocap clips): clean and noisy 2D through static virtual cameras for lifters, vs
    interpolation for MixSynthFormer. With ``h36m`` (a VideoPose3D folder): protocol #1 / #2 per action
    on ``h36m_subjects`` (default S9, S11), see :func:`posezoo.training.h36m_eval.evaluate_h36m`.
    """
    noise_kwargs = _noise_levels(noise)
    if h36m is not None:
        if data is not None:
            raise ValueError("give either mocap clips (data) or h36m to evaluate on, not both")
        if noise is not None:
            raise ValueError("noise applies to mocap clips seen through virtual cameras, not to H36M's real 2D")
        return evaluate_h36m(
            model,
            h36m,
            source=h36m_2d,
            subjects=h36m_subjects or H36M_TEST_SUBJECTS,
            actions=h36m_actions,
            flip_tta=flip_tta,
            input_stride=input_stride,
            seed=seed,
        )
    if data is None:
        raise ValueError("nothing to evaluate on: give data (mocap clips or CMU splits) or h36m (a VideoPose3D folder)")
    clips = load_clip_files(data)
    if hasattr(model, "sample_interval") and not hasattr(model, "output_stride"):
        refine_noise = {}
        if noise is not None:
            refine_noise = {
                "sigma_m": noise_kwargs["noise_sigma_px"] / 1000.0,
                "outlier_prob": noise_kwargs["outlier_prob"],
            }
        return {"refine": evaluate_refiner(model, clips, views=views, seed=seed, **refine_noise)}
    kwargs = {"views": views, "seed": seed, "input_stride": input_stride, "flip_tta": flip_tta}
    return {
        "clean": evaluate_lifter(model, clips, noise=False, **kwargs),
        "noisy": evaluate_lifter(model, clips, noise=True, **kwargs, **noise_kwargs),
    }


def _noise_levels(noise: Optional[tuple[float, float]]) -> dict[str, float]:
    """``(sigma, outlier_prob)`` -> keyword arguments of :func:`evaluate_lifter` (validated)."""
    if noise is None:
        return {}
    if isinstance(noise, (str, bytes)) or not hasattr(noise, "__len__") or len(noise) != 2:
        raise TypeError(f"noise must be a pair (sigma, outlier_prob), got {noise!r}")
    sigma = check_float("noise sigma", noise[0], minimum=0.0)
    return {"noise_sigma_px": sigma, "outlier_prob": check_probability("noise outlier_prob", noise[1])}
