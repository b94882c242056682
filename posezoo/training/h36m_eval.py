"""Human3.6M evaluation as the papers report it: protocol #1 (MPJPE) and #2 (P-MPJPE) per action.

Every (subject, action, camera) sequence of the test subjects (S9, S11, all four
cameras) is lifted whole with :func:`posezoo.lift` (flip TTA on by default) from
the 2D file's keypoints; Uplift-and-Upsample models get every
``input_stride``-th frame. Errors are root-relative, in millimetres, against the
camera-frame mocap. Actions are merged with
:func:`posezoo.data.h36m.action_name` (``"Walking 1"`` and ``"Walking"`` are
Walking); an action's error is the mean over all its frames (all subjects and
cameras), and the reported number is the mean over the actions.

MixSynthFormer models (refiners) are evaluated on the same sequences' 3D:
lifter-like noisy keyframes every K frames are refined with
:func:`posezoo.refine` and compared with interpolating the same keyframes
(:func:`posezoo.training.evaluate.refine_sequence`).
"""

from __future__ import annotations

import os
from typing import Any, Iterable, Optional, Union

import numpy as np
import torch
from torch import nn

from ..data.h36m import H36M_ACTIONS, H36M_TEST_SUBJECTS, action_name
from ..inference import lift
from .evaluate import default_input_stride, refine_sequence
from .h36m_source import DEFAULT_H36M_2D, load_h36m_dir
from .recipes.base import WindowMetrics

__all__ = ["evaluate_h36m", "ACTION_MEAN_KEYS"]

#: Metrics averaged over the actions into the top level of the result.
ACTION_MEAN_KEYS = ("mpjpe", "p_mpjpe", "n_mpjpe", "mpjve")


def _is_refiner(model: nn.Module) -> bool:
    return hasattr(model, "sample_interval") and not hasattr(model, "output_stride")


def evaluate_h36m(
    model: nn.Module,
    directory: Union[str, os.PathLike],
    *,
    source: str = DEFAULT_H36M_2D,
    subjects: Iterable[str] = H36M_TEST_SUBJECTS,
    actions: Optional[Iterable[str]] = None,
    flip_tta: bool = True,
    input_stride: Optional[int] = None,
    seed: int = 1234,
) -> dict[str, Any]:
    """Protocol #1 / #2 per action on the VideoPose3D files in ``directory``.

    Args:
        model: a lifter (RTPCA / MixSTE), an Uplift-and-Upsample model or a MixSynthFormer refiner.
        directory: folder with ``data_3d_h36m.npz`` and ``data_2d_h36m_<source>.npz``.
        source: the 2D file (``cpn_ft_h36m_dbb``, ``gt``, ...); refiners read only the 3D.
        subjects: test subjects (default S9, S11).
        actions: canonical actions to keep (default all).
        flip_tta: lifters: average with the mirrored prediction of the mirrored input.
        input_stride: Uplift and Upsample: keyframe spacing (default 4 if supported, else its smallest).
        seed: refiners: seeds the keyframe noise.

    Returns:
        ``per_action`` ``{action: {mpjpe, p_mpjpe, n_mpjpe, mpjve, accel, frames, ...}}`` (mm;
        refiners add ``linear_mpjpe`` etc.), the action means ``mpjpe``, ``p_mpjpe``, ``n_mpjpe``,
        ``mpjve`` (and ``linear_mpjpe`` ... for refiners), ``flip_tta``, ``source``, ``subjects``,
        ``sequences``, ``frames`` (and ``input_stride`` / ``sample_interval``).
    """
    subjects = list(subjects)
    refiner = _is_refiner(model)
    uu = hasattr(model, "output_stride")
    if uu and input_stride is None:
        input_stride = default_input_stride(model)
    if input_stride is not None and not uu:
        raise ValueError("input_stride is for Uplift-and-Upsample models")
    sequences = load_h36m_dir(directory, source, subjects, actions)
    gen = torch.Generator().manual_seed(int(seed))
    totals: dict[str, WindowMetrics] = {}
    for seq in sequences:
        action = action_name(seq["action"])
        acc = totals.setdefault(action, WindowMetrics(torch.float64))
        gt = seq["pose_3d"]
        if refiner:
            refine_sequence(model, gt, acc, gen)
            continue
        kp, conf = seq["keypoints_2d"], seq["confidence"]
        kwargs: dict[str, Any] = {}
        if uu:
            kp, conf = kp[::input_stride], conf[::input_stride]
            kwargs = {"input_stride": int(input_stride), "output_length": int(gt.shape[0])}
        pred = lift(kp, model, confidence=conf if (conf < 1).any() else None, flip_tta=flip_tta, **kwargs)
        acc.update(pred, gt)
    order = [a for a in H36M_ACTIONS if a in totals]
    per_action: dict[str, dict[str, Any]] = {}
    for action in order:
        result = {k: round(v, 3) for k, v in totals[action].result().items()}
        result["frames"] = int(totals[action].counts["mpjpe"])
        per_action[action] = result
    keys = [k for k in per_action[order[0]] if any(k == m or k.endswith("_" + m) for m in ACTION_MEAN_KEYS)]
    out: dict[str, Any] = {k: round(float(np.mean([per_action[a][k] for a in order])), 3) for k in keys}
    out.update(
        per_action=per_action,
        flip_tta=bool(flip_tta) and not refiner,
        source=source,
        subjects=subjects,
        sequences=len(sequences),
        frames=int(sum(r["frames"] for r in per_action.values())),
    )
    if uu:
        out["input_stride"] = int(input_stride)
    if refiner:
        out["sample_interval"] = int(model.sample_interval)
    return out
