"""Evaluation metrics of the field, batched, for numpy arrays and torch tensors.

- :func:`mpjpe`: mean joint distance (H36M protocol #1, every paper).
- :func:`n_mpjpe`: MPJPE after the optimal per-pose scale (VideoPose3D protocol #3).
- :func:`p_mpjpe`: MPJPE after per-pose Procrustes (similarity) alignment (H36M protocol #2).
- :func:`mpjve`: velocity error (VideoPose3D, MixSTE, RTPCA).
- :func:`accel_error`: acceleration error (DeciWatch, MixSynthFormer, RTPCA ablation).
- :func:`pck3d`, :func:`auc3d`: 3D PCK at 150 mm and its AUC over 0..150 mm (MPI-INF-3DHP).
- :func:`pck2d`: 2D PCK at alpha * max(box h, w) (JHMDB as in DeciWatch).

Plus :class:`Evaluator` (per-action / frame-wise accumulation, error curves),
:func:`flip_tta_average` (flip test-time augmentation) and :func:`unit_scale`
(metrics are in the input unit times ``scale``; ``unit_scale("m", "mm")`` = 1000).
See ``docs/losses_metrics.md``.
"""

from ._common import unit_scale
from .evaluator import EVALUATOR_METRICS, EvaluationResult, Evaluator, action_group
from .pck import AUC_THRESHOLDS_MM, PCK2D_ALPHAS, PCK3D_THRESHOLD_MM, auc3d, pck2d, pck3d
from .position import joint_errors, mpjpe, n_mpjpe, p_mpjpe, procrustes_align, root_relative
from .temporal import accel_error, mpjve
from .tta import flip_tta_average, merge_flipped

__all__ = [
    "mpjpe",
    "n_mpjpe",
    "p_mpjpe",
    "joint_errors",
    "procrustes_align",
    "root_relative",
    "mpjve",
    "accel_error",
    "pck3d",
    "auc3d",
    "pck2d",
    "AUC_THRESHOLDS_MM",
    "PCK3D_THRESHOLD_MM",
    "PCK2D_ALPHAS",
    "Evaluator",
    "EvaluationResult",
    "EVALUATOR_METRICS",
    "action_group",
    "flip_tta_average",
    "merge_flipped",
    "unit_scale",
]
