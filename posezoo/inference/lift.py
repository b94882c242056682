""":func:`lift`: 2D keypoint sequences of any length -> 3D, with lifting or Uplift-and-Upsample models."""

from __future__ import annotations

import warnings
from typing import Any, Optional, Sequence, Union

import numpy as np
import torch
from torch import nn

from .._validation import check_bool, check_float, check_int
from ..data.camera import normalize_screen_coordinates
from ..data.stride_masks import token_offsets
from ..data.windows import central_frames, evaluation_windows, interpolate_frames, reassemble
from ..skeleton import Skeleton, flip_pose, get_skeleton, list_conversions, reorder_joints, to_h36m
from ._common import (
    ArrayOrTensor,
    ModelArg,
    _as_list,
    _check_sequence,
    _checked_device,
    _fill_missing,
    _inference,
    _load_model,
    _missing_mask,
    _model_dtype,
    _on_device,
    _restore_kind,
    _to_cpu64,
)
from ._progress import check_progress, window_progress
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


def _frames_read(net: nn.Module, length: int, input_stride: int) -> int:
    """Input frames (tokens) the model reads for a sequence of ``length`` inputs, without flips."""
    window = int(getattr(net, "num_frames", None) or length)
    if hasattr(net, "output_stride"):  # one window per output keyframe
        return window * ((length - 1) * input_stride // int(net.output_stride) + 2)
    return window * -(-length // window)


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


def _joint_order_adapters(net: nn.Module, skel: Skeleton):
    """``(to_model, from_model)``: reorder joints between the input layout and the model's own.

    Models that keep an official joint order (``UpliftUpsample(joint_order="official")``)
    expose ``skeleton_name``; lift() works in ``skel`` order and converts at the model call.
    """
    model_layout = getattr(net, "skeleton_name", None)
    if model_layout is None or get_skeleton(model_layout).name == skel.name:
        return (lambda t: t), (lambda t: t)
    return (lambda t: reorder_joints(t, skel, model_layout)), (lambda t: reorder_joints(t, model_layout, skel))


def _run_lifter(
    net: nn.Module,
    x: torch.Tensor,
    skel: Skeleton,
    dev: torch.device,
    flip_tta: bool,
    batch_size: int,
    amp: Union[bool, torch.dtype],
    progress: tuple[Optional[bool], str],
) -> torch.Tensor:
    length = x.shape[0]
    window = getattr(net, "num_frames", None) or length
    windows = evaluation_windows(length, int(window))
    index = torch.as_tensor(np.stack([w.frames for w in windows]), device=dev)
    inputs = x[index]  # (n_windows, T, J, 2)
    to_model, from_model = _joint_order_adapters(net, skel)
    preds = []
    show, desc = progress
    with _inference(net, dev, amp), window_progress(show, len(inputs), batch_size, desc) as advance:
        for chunk in inputs.split(batch_size):
            batch = torch.cat([chunk, flip_pose(chunk, skel)]) if flip_tta else chunk
            out = net(to_model(batch))
            if not isinstance(out, torch.Tensor) or tuple(out.shape) != (*batch.shape[:3], 3):
                got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
                raise ValueError(f"the model returned {got}, expected {(*batch.shape[:3], 3)}")
            out = from_model(out.float())
            if flip_tta:
                plain, mirrored = out.chunk(2)
                out = (plain + flip_pose(mirrored, skel)) / 2
            preds.append(out)
            advance(len(chunk))
    return reassemble(torch.cat(preds), windows, length)


def _uplift_input_stride(net: nn.Module, input_stride: int) -> tuple[int, int]:
    """``(s_in used by the model, subsampling factor of the given keyframes)``."""
    strides = sorted(int(s) for s in getattr(net, "input_strides", ()) or ())
    if not strides:
        raise ValueError(f"{type(net).__name__} has output_stride but no input_strides")
    if input_stride in strides:
        return input_stride, 1
    multiples = [s for s in strides if s % input_stride == 0]
    if not multiples:
        raise ValueError(
            f"input_stride={input_stride} is not supported by the model (input_strides={strides}) "
            "and none of them is a multiple of it"
        )
    return multiples[0], multiples[0] // input_stride


def _run_uplift_upsample(
    net: nn.Module,
    x: torch.Tensor,
    skel: Skeleton,
    dev: torch.device,
    flip_tta: bool,
    batch_size: int,
    input_stride: int,
    output_length: Optional[int],
    amp: Union[bool, torch.dtype],
    progress: tuple[Optional[bool], str],
) -> torch.Tensor:
    s_out = int(net.output_stride)
    tokens = int(net.num_frames)
    s_in, every = _uplift_input_stride(net, input_stride)
    given = x.shape[0]
    shortest, longest = (given - 1) * input_stride + 1, given * input_stride
    length = shortest if output_length is None else check_int("output_length", output_length, numpy_ok=True)
    if not shortest <= length <= longest:
        raise ValueError(
            f"output_length must lie in [{shortest}, {longest}] for {given} inputs at stride {input_stride}, got {length}"
        )
    keyframes = x[::every]  # keyframe k shows video frame k * s_in
    # centres on the s_out grid (tokens then meet keyframes); the last may lie past the end,
    # its window edge-padded with the last keyframe
    centres = central_frames(length, s_out)
    frames = centres[:, None] + token_offsets(tokens, s_out).numpy()[None, :]  # (C, N)
    mask_np = np.remainder(frames, s_in) == 0
    key_index = np.clip(np.floor_divide(frames, s_in), 0, keyframes.shape[0] - 1)
    mask = torch.as_tensor(mask_np, device=dev)
    inputs = keyframes[torch.as_tensor(key_index, device=dev)] * mask[..., None, None].to(x.dtype)
    to_model, from_model = _joint_order_adapters(net, skel)
    preds = []
    show, desc = progress
    with _inference(net, dev, amp), window_progress(show, len(inputs), batch_size, desc) as advance:
        for chunk, m in zip(inputs.split(batch_size), mask.split(batch_size)):
            windows = len(chunk)
            if flip_tta:
                chunk, m = torch.cat([chunk, flip_pose(chunk, skel)]), torch.cat([m, m])
            central = getattr(net(to_model(chunk), m), "central", None)
            if not isinstance(central, torch.Tensor) or tuple(central.shape) != (chunk.shape[0], *chunk.shape[2:3], 3):
                got = tuple(central.shape) if isinstance(central, torch.Tensor) else None
                raise ValueError(
                    f"an Uplift-and-Upsample model must return an object with .central of shape "
                    f"{(chunk.shape[0], chunk.shape[2], 3)}, got {got}"
                )
            central = from_model(central.float())
            if flip_tta:
                plain, mirrored = central.chunk(2)
                central = (plain + flip_pose(mirrored, skel)) / 2
            preds.append(central)
            advance(windows)
    return interpolate_frames(torch.cat(preds), centres, length)
