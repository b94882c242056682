"""2D keypoint input of :func:`~posezoo.inference.lift` and :class:`~posezoo.inference.StreamingLifter`:
validation, layout conversion to H36M-17, missing-joint filling and screen normalisation."""

from __future__ import annotations

import warnings
from typing import Any, Union

import torch

from .._validation import check_float
from ..data.camera import normalize_screen_coordinates
from ..skeleton import Skeleton, get_skeleton, list_conversions, to_h36m
from ._common import ArrayOrTensor, _check_sequence, _fill_missing, _missing_mask, _to_cpu64


def _prepare_2d(
    x_in: ArrayOrTensor, conf: Any, name: str, image_size: Any, layout: Union[str, Skeleton], min_confidence: float
) -> tuple[torch.Tensor, Skeleton, torch.Tensor, torch.Tensor]:
    """Validate, convert the layout, fill missing and normalise.

    Returns ``(x (T, J, 2) float64 CPU, skeleton, pixels_or_input (T, J, 2) before
    normalisation, confidence (T, J) after conversion: 0 where filled in)``.
    """
    x, skel, missing, weight = _convert_2d(x_in, conf, name, layout, min_confidence)
    x = _fill_missing(x, missing, skel.joint_names)
    return _normalise_2d(x, image_size, name, stacklevel=5), skel, x, torch.where(missing, 0.0, weight)


def _convert_2d(
    x_in: ArrayOrTensor, conf: Any, name: str, layout: Union[str, Skeleton], min_confidence: float
) -> tuple[torch.Tensor, Skeleton, torch.Tensor, torch.Tensor]:
    """Validate and convert the layout: ``(x (T, J, 2) float64 CPU, skeleton, missing (T, J) bool,
    weight (T, J))``; missing keypoints are not filled in yet (they may be NaN)."""
    _check_sequence(x_in, name)
    if x_in.ndim != 3:
        raise ValueError(f"{name} must have shape (T, J, 2), got {tuple(x_in.shape)} (rank {x_in.ndim})")
    if x_in.shape[0] == 0:
        raise ValueError(f"{name} is empty: expected at least 1 frame, got shape {tuple(x_in.shape)}")
    if x_in.shape[-1] != 2:
        raise ValueError(f"{name} must have 2 coordinates per joint (T, J, 2), got shape {tuple(x_in.shape)}")
    src = get_skeleton(layout)
    if x_in.shape[1] != src.num_joints:
        raise ValueError(
            f"layout {src.name!r} has {src.num_joints} joints, but {name} has {x_in.shape[1]} "
            f"(shape {tuple(x_in.shape)})"
        )
    x = _to_cpu64(x_in)
    missing = _missing_mask(x, conf, min_confidence, name)
    skel = src
    weight = (~missing).to(torch.float64) if conf is None else torch.where(missing, 0.0, _to_cpu64(conf))
    if src.name != "h36m" and (src.name, "h36m") in list_conversions():
        skel = get_skeleton("h36m")
        if conf is None and not missing.any():
            x = to_h36m(x, src)
            weight = torch.ones(x.shape[:2], dtype=torch.float64)
        else:  # each H36M joint from the first rule whose detector joints are confident
            x, weight = to_h36m(
                torch.where(missing[..., None], float("nan"), x), src, weight, min_confidence=min_confidence
            )
        missing = weight <= min_confidence
    return x, skel, missing, weight


def _normalise_2d(x: torch.Tensor, image_size: Any, name: str, stacklevel: int = 2) -> torch.Tensor:
    """Pixels -> normalised screen coordinates when ``image_size`` is given; else warn if ``x``
    looks like pixels."""
    if image_size is not None:
        if not isinstance(image_size, (tuple, list)) or len(image_size) != 2:
            raise ValueError(f"image_size must be (w, h), got {image_size!r}")
        w, h = (check_float(f"image_size[{i}]", v) for i, v in enumerate(image_size))
        if not (w > 0 and h > 0):
            raise ValueError(f"image_size must be positive, got {image_size!r}")
        return normalize_screen_coordinates(x, w, h)
    if float(x.abs().max()) > 4.0:
        warnings.warn(
            f"{name} reaches |x| = {float(x.abs().max()):.1f}: this looks like pixels, but no image_size was "
            "given; models expect normalised screen coordinates (pass image_size=(w, h))",
            UserWarning,
            stacklevel=stacklevel,
        )
    return x
