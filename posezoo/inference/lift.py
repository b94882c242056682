""":func:`lift`: 2D keypoint sequences of any length -> 3D, with lifting or Uplift-and-Upsample models."""

from __future__ import annotations

from typing import Any, Optional, Sequence, Union

import numpy as np
import torch
from torch import nn

from .._validation import check_bool, check_int
from ..skeleton import Skeleton
from ._common import (
    ArrayOrTensor,
    ModelArg,
    _as_list,
    _checked_device,
    _load_model,
    _model_dtype,
    _on_device,
    _restore_kind,
)
from ._keypoints_2d import _prepare_2d
from ._progress import check_progress
from ._windowed import _frames_read, _run_lifter, _run_uplift_upsample
from .optimize import inference_runner
from .root_trajectory import resolve_intrinsics, root_trajectory

__all__ = ["lift"]


def lift(
    keypoints_2d: Union[ArrayOrTensor, Sequence[ArrayOrTensor]],
    model: ModelArg,
    *,
    image_size: Optional[tuple[float, float]] = None,
    layout: Union[str, Skeleton] = "h36m",
    confidence: Union[ArrayOrTensor, Sequence[ArrayOrTensor], None] = None,
    min_confidence: float = 0.0,
    flip_tta: bool = True,
    batch_size: int = 64,
    device: Union[str, torch.device, None] = None,
    input_stride: int = 1,
    output_length: Optional[int] = None,
    root_relative: bool = True,
    amp: Union[bool, torch.dtype] = True,
    pretrained: Union[bool, str] = True,
    progress: Optional[bool] = None,
    camera: Any = None,
    optimize: bool = True,
) -> Union[ArrayOrTensor, list[ArrayOrTensor]]:
    """Lift a 2D keypoint sequence of any length to 3D.

    Args:
        keypoints_2d: ``(T, J, 2)`` for one sequence of any length ``T >= 1``, or
            a list of such sequences (a list comes back). Pixels when
            ``image_size`` is given, else normalised screen coordinates.
        model: a registered model name (built with ``pretrained``) or a module.
            Plain lifting models take ``(B, T, J, 2)`` and return
            ``(B, T, J, 3)``; Uplift-and-Upsample models (they have
            ``output_stride``) take ``(keypoints (B, N, J, 2), stride_mask (B, N))``.
            A module is moved to ``device`` when one is given (and moved back
            if the call fails; an invalid device raises before anything moves).
        image_size: ``(w, h)`` in pixels: the keypoints are normalised with
            :func:`posezoo.data.normalize_screen_coordinates`.
        layout: joint layout of the input: ``"h36m"`` (default), any detector
            layout with a conversion to H36M-17 (``"coco"``, ``"halpe26"``,
            ``"coco_wholebody"``, ``"mediapipe33"``, ``"openpose25"``; see
            :func:`posezoo.skeleton.to_h36m`), or any skeleton name whose joint
            count matches the model (fed as it is).
        confidence: optional ``(T, J)`` scores (same layout as the input).
            Keypoints with ``confidence <= min_confidence`` are treated as missing:
            they may be NaN/inf. A converted layout rebuilds each H36M joint from
            the best confident detector joints; H36M joints still missing are
            filled in by linear interpolation over time of that joint. Without a
            confidence, non-finite input is an error.
        min_confidence: threshold for "missing" (default 0: only zero scores).
        flip_tta: average with the mirrored prediction of the mirrored input.
        batch_size: windows per forward call (each doubled by ``flip_tta``).
        device: where the model runs (default: the module's device; for a name,
            the input tensor's device, else CPU).
        input_stride: Uplift-and-Upsample only: the input holds one 2D pose every
            ``input_stride`` frames (keyframes at frames ``0, s, 2s, ...``); the
            output is at full frame rate. If the model does not support this
            stride, the smallest supported multiple of it is used by taking every
            k-th input keyframe.
        output_length: Uplift-and-Upsample only: number of output frames, from
            ``(T - 1) * input_stride + 1`` (default: the last input is the last
            frame) to ``T * input_stride``.
        root_relative: subtract the predicted root joint (pelvis) from every joint.
        amp: autocast on CUDA (``True`` = float16, or a dtype such as
            ``torch.bfloat16``; ``False`` = full precision). Ignored on CPU.
        pretrained: weights for a model given by name (see ``create_model``).
        progress: a tqdm progress bar over the windows, on stderr. ``None``
            (default): only in an interactive session (stderr is a terminal) and
            for long inputs (more windows than ``batch_size``, still running after
            1 s); ``True``: always; ``False``: never.
        camera: return **camera-space** poses instead of root-relative ones: the
            root of every frame is placed by :func:`posezoo.root_trajectory`
            (least-squares reprojection of the predicted pose onto the 2D input).
            ``"default"`` (focal length = image diagonal, principal point = image
            centre, with a warning), a :class:`posezoo.inference.Intrinsics`, a
            ``posezoo.data.Camera``, ``{"focal_length": f or (fx, fy),
            "principal_point": (cx, cy)}`` or a focal length in pixels. Needs
            pixel input (``image_size``); ``root_relative`` is then ignored.
        optimize: on the CPU, run posezoo's float32 models through a cached
            :func:`posezoo.optimize_for_inference` copy (oneDNN matrix products, one thread for
            small models; outputs within ``1e-4`` of the plain model) when the input is large enough
            for it to pay off. ``False`` always calls the model itself.

    Returns:
        ``(T_out, J, 3)`` 3D poses in metres, camera frame (x right, y down,
        z forward), root-relative (or in camera space with ``camera=``; the root
        trajectory is then ``poses[:, 0]``), in the model's joint layout (H36M-17
        for converted detector layouts), as the input's kind (numpy / torch),
        device and floating dtype. ``T_out = T`` for plain lifting models.

    How windows are cut:
        * Plain models: :func:`posezoo.data.windows.evaluation_windows`:
          consecutive windows of ``model.num_frames`` frames, the last aligned to
          the end of the sequence, every frame predicted by exactly one window; a
          sequence shorter than a window is edge-padded on both sides.
        * Uplift-and-Upsample: a window of ``N`` tokens (every ``s_out`` frames)
          centred on every ``s_out``-th frame and on the last frame; keyframes are
          the frames divisible by ``s_in`` (global alignment, the official
          evaluation); the central prediction of each window is kept and the
          frames in between are linearly interpolated (official
          ``TEST_STRIDED_EVAL``). Tokens before the start / after the end take
          the first / last keyframe (edge padding).
    """
    net, from_name = _load_model(model, pretrained)
    if hasattr(net, "sample_interval") and not hasattr(net, "output_stride"):
        raise ValueError(f"{type(net).__name__} is a refinement model (has sample_interval); use posezoo.refine()")
    if isinstance(keypoints_2d, (list, tuple)):
        if len(keypoints_2d) == 0:
            raise ValueError("keypoints_2d is an empty list; expected at least one (T, J, 2) sequence")
        seqs, confs = list(keypoints_2d), _as_list(confidence, len(keypoints_2d), "confidence")
        single = False
    else:
        seqs, confs, single = [keypoints_2d], [confidence], True
    batch_size = check_int("batch_size", batch_size, numpy_ok=True, limit="max_windows")
    input_stride = check_int("input_stride", input_stride, numpy_ok=True)
    check_progress(progress)
    intrinsics = None
    if camera is not None:
        if image_size is None:
            raise ValueError("camera= needs pixel keypoints: pass image_size=(w, h) as well")
        intrinsics = resolve_intrinsics(camera, image_size)
    dev = _checked_device(device, net, from_name, seqs)  # validated before the model moves
    outs = []
    with _on_device(net, dev):  # moved back if anything below fails
        for i, (x, conf) in enumerate(zip(seqs, confs)):
            name = "keypoints_2d" if single else f"keypoints_2d[{i}]"
            desc = "lift" if single else f"lift {i + 1}/{len(seqs)}"
            outs.append(
                _lift_one(
                    x,
                    conf,
                    net,
                    dev,
                    name=name,
                    image_size=image_size,
                    layout=layout,
                    min_confidence=min_confidence,
                    flip_tta=flip_tta,
                    batch_size=batch_size,
                    input_stride=input_stride,
                    output_length=output_length,
                    root_relative=root_relative,
                    amp=amp,
                    progress=(progress, desc),
                    intrinsics=intrinsics,
                    optimize=check_bool("optimize", optimize),
                )
            )
    return outs[0] if single else outs


def _lift_one(
    x_in: ArrayOrTensor,
    conf: Any,
    net: nn.Module,
    dev: torch.device,
    *,
    name: str,
    image_size: Any,
    layout: Union[str, Skeleton],
    min_confidence: float,
    flip_tta: bool,
    batch_size: int,
    input_stride: int,
    output_length: Optional[int],
    root_relative: bool,
    amp: Union[bool, torch.dtype],
    progress: tuple[Optional[bool], str],
    intrinsics: Any = None,
    optimize: bool = False,
) -> ArrayOrTensor:
    x, skel, pixels, weight = _prepare_2d(x_in, conf, name, image_size, layout, min_confidence)
    num_joints = getattr(net, "num_joints", None)
    if num_joints is not None and x.shape[1] != num_joints:
        raise ValueError(f"the model expects {num_joints} joints, the input has {x.shape[1]} ({skel.name} layout)")
    x = x.to(device=dev, dtype=_model_dtype(net))
    net = inference_runner(net, dev, optimize, _frames_read(net, x.shape[0], input_stride) * (2 if flip_tta else 1))
    if hasattr(net, "output_stride"):
        out = _run_uplift_upsample(net, x, skel, dev, flip_tta, batch_size, input_stride, output_length, amp, progress)
    else:
        if input_stride != 1:
            raise ValueError(f"input_stride={input_stride} needs an Uplift-and-Upsample model (with output_stride)")
        if output_length is not None and output_length != x.shape[0]:
            raise ValueError(
                f"a plain lifting model returns T = {x.shape[0]} frames; got output_length={output_length}"
            )
        out = _run_lifter(net, x, skel, dev, flip_tta, batch_size, amp, progress)
    if root_relative or intrinsics is not None:
        out = out - out[:, skel.root : skel.root + 1]
    if intrinsics is not None:
        out = out + _camera_root(out, pixels, weight, intrinsics, input_stride).to(out)[:, None]
    return _restore_kind(out, x_in)


def _camera_root(
    poses: torch.Tensor, pixels: torch.Tensor, weight: torch.Tensor, intrinsics: Any, input_stride: int
) -> torch.Tensor:
    """``(T_out, 3)`` root positions; with keyframes every ``input_stride`` frames, interpolated in between."""
    frames = np.minimum(np.arange(pixels.shape[0]) * input_stride, poses.shape[0] - 1)
    rel = poses.detach().to("cpu", torch.float64)[torch.as_tensor(frames)]
    root = root_trajectory(
        pixels, rel, focal_length=intrinsics.focal_length, principal_point=intrinsics.principal_point, confidence=weight
    )
    if len(frames) == poses.shape[0]:
        return root
    t = np.arange(poses.shape[0])
    return torch.from_numpy(np.stack([np.interp(t, frames, root[:, k].numpy()) for k in range(3)], -1))
