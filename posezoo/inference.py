"""Inference on sequences of any length: :func:`lift` (2D -> 3D) and :func:`refine` (MixSynthFormer).

Both take numpy arrays or torch tensors and return the same kind on the same
device, run the model under ``torch.inference_mode`` (and autocast on CUDA),
cut the sequence into the model's windows, batch them and stitch the outputs
back to exactly the input length. See ``docs/data_inference.md``.
"""

from __future__ import annotations

import contextlib
import warnings
from typing import Any, Iterator, Optional, Sequence, Union

import numpy as np
import torch
from torch import nn

from ._validation import check_int
from .data.keyframe_windows import merge_windows, sliding_windows
from .data.camera import normalize_screen_coordinates
from .data.stride_masks import token_offsets
from .data.windows import central_frames, evaluation_windows, interpolate_frames, reassemble
from .skeleton import Skeleton, coco_to_h36m, flip_pose, get_skeleton, reorder_joints

__all__ = ["lift", "refine"]

ArrayOrTensor = Union[np.ndarray, torch.Tensor]
ModelArg = Union[str, nn.Module]


# --------------------------------------------------------------------------- shared helpers


def _check_sequence(x: Any, name: str) -> None:
    if not isinstance(x, (np.ndarray, torch.Tensor)):
        raise TypeError(f"{name} must be a numpy array or torch tensor, got {type(x).__name__}")
    dtype_ok = (x.is_floating_point() or not (x.is_complex() or x.dtype == torch.bool)) if isinstance(x, torch.Tensor) \
        else (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer))
    if not dtype_ok:
        raise TypeError(f"{name} must hold real numbers, got dtype {x.dtype}")


def _to_cpu64(x: ArrayOrTensor) -> torch.Tensor:
    if isinstance(x, np.ndarray):
        return torch.from_numpy(np.asarray(x, dtype=np.float64))
    return x.detach().to("cpu", torch.float64)


def _restore_kind(out: torch.Tensor, like: ArrayOrTensor) -> ArrayOrTensor:
    """``out`` as the kind (numpy / torch), device and floating dtype of the input ``like``."""
    if isinstance(like, torch.Tensor):
        dtype = like.dtype if like.is_floating_point() else torch.float32
        return out.to(device=like.device, dtype=dtype)
    dtype = like.dtype if np.issubdtype(like.dtype, np.floating) else np.float32
    return out.detach().to("cpu", torch.float64).numpy().astype(dtype)


def _missing_mask(
    x: torch.Tensor, confidence: Optional[ArrayOrTensor], min_confidence: float, name: str
) -> torch.Tensor:
    """``(T, J)`` bool mask of keypoints to treat as missing; validates finiteness."""
    t, j = x.shape[:2]
    if confidence is None:
        missing = torch.zeros(t, j, dtype=torch.bool)
    else:
        _check_sequence(confidence, "confidence")
        conf = _to_cpu64(confidence)
        if tuple(conf.shape) != (t, j):
            raise ValueError(f"confidence must have shape (T, J) = {(t, j)}, got {tuple(conf.shape)}")
        if not torch.isfinite(conf).all():
            raise ValueError("confidence holds non-finite values")
        missing = conf <= min_confidence
    bad = ~torch.isfinite(x).all(-1) & ~missing
    if bad.any():
        frame, joint = (int(v) for v in bad.nonzero()[0])
        raise ValueError(
            f"{name} holds {int(bad.sum())} non-finite keypoints (first at frame {frame}, joint {joint}); "
            "pass a confidence array with 0 there to mark them missing"
        )
    return missing


def _fill_missing(x: torch.Tensor, missing: torch.Tensor, joint_names: Sequence[str]) -> torch.Tensor:
    """Replace missing keypoints by linear interpolation over time (edges held) per joint."""
    if not missing.any():
        return x
    xn = x.numpy().copy()
    miss = missing.numpy()
    frames = np.arange(xn.shape[0])
    for j in np.flatnonzero(miss.any(0)):
        ok = ~miss[:, j]
        if not ok.any():
            name = joint_names[j] if j < len(joint_names) else str(j)
            raise ValueError(f"joint {j} ({name}) is missing in every frame; cannot fill it in")
        for c in range(xn.shape[-1]):
            xn[:, j, c] = np.interp(frames, frames[ok], xn[ok, j, c])
    return torch.from_numpy(xn)


def _load_model(model: ModelArg, pretrained: Union[bool, str]) -> tuple[nn.Module, bool]:
    if isinstance(model, str):
        from .models import create_model

        return create_model(model, pretrained=pretrained), True
    if isinstance(model, nn.Module):
        return model, False
    raise TypeError(f"model must be a registered model name or an nn.Module, got {type(model).__name__}")


def _module_device(net: nn.Module) -> Optional[torch.device]:
    for p in net.parameters():
        return p.device
    for b in net.buffers():
        return b.device
    return None


def _resolve_device(
    device: Union[str, torch.device, None], net: nn.Module, from_name: bool, inputs: Sequence[ArrayOrTensor]
) -> torch.device:
    if device is not None:
        return torch.device(device)
    own = _module_device(net)
    if not from_name and own is not None:
        return own
    for x in inputs:
        if isinstance(x, torch.Tensor):
            return x.device
    return own or torch.device("cpu")


def _model_dtype(net: nn.Module) -> torch.dtype:
    for p in net.parameters():
        if p.is_floating_point():
            return p.dtype
    return torch.float32


@contextlib.contextmanager
def _inference(net: nn.Module, device: torch.device, amp: Union[bool, torch.dtype]) -> Iterator[None]:
    """eval() (restored afterwards), inference_mode, autocast on CUDA only."""
    was_training = net.training
    net.eval()
    if device.type == "cuda" and amp:
        dtype = amp if isinstance(amp, torch.dtype) else torch.float16
        cast: Any = torch.autocast("cuda", dtype=dtype)
    else:
        cast = contextlib.nullcontext()
    try:
        with torch.inference_mode(), cast:
            yield
    finally:
        net.train(was_training)


def _as_list(value: Any, n: int, name: str) -> list:
    if value is None:
        return [None] * n
    if not isinstance(value, (list, tuple)) or len(value) != n:
        raise ValueError(f"with a list of {n} sequences, {name} must be None or a list of {n} arrays")
    return list(value)


# --------------------------------------------------------------------------- lift


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
            A module is moved to ``device`` when one is given.
        image_size: ``(w, h)`` in pixels: the keypoints are normalised with
            :func:`posezoo.data.normalize_screen_coordinates`.
        layout: joint layout of the input: ``"h36m"`` (default), ``"coco"``
            (converted with :func:`posezoo.skeleton.coco_to_h36m`), or any
            skeleton name whose joint count matches the model.
        confidence: optional ``(T, J)`` scores (same layout as the input).
            Keypoints with ``confidence <= min_confidence`` are treated as missing:
            they may be NaN/inf and are filled in by linear interpolation over
            time of that joint. Without a confidence, non-finite input is an error.
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

    Returns:
        ``(T_out, J, 3)`` root-relative camera-frame 3D poses in metres, in the
        model's joint layout (H36M-17 for ``"coco"`` input), as the input's kind
        (numpy / torch), device and floating dtype. ``T_out = T`` for plain
        lifting models.

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
    batch_size = check_int("batch_size", batch_size, numpy_ok=True)
    input_stride = check_int("input_stride", input_stride, numpy_ok=True)
    dev = _resolve_device(device, net, from_name, seqs)
    if _module_device(net) not in (None, dev):
        net.to(dev)
    outs = []
    for i, (x, conf) in enumerate(zip(seqs, confs)):
        name = "keypoints_2d" if single else f"keypoints_2d[{i}]"
        outs.append(_lift_one(
            x, conf, net, dev, name=name, image_size=image_size, layout=layout, min_confidence=min_confidence,
            flip_tta=flip_tta, batch_size=batch_size, input_stride=input_stride, output_length=output_length,
            root_relative=root_relative, amp=amp,
        ))
    return outs[0] if single else outs



def _prepare_2d(
    x_in: ArrayOrTensor, conf: Any, name: str, image_size: Any, layout: Union[str, Skeleton], min_confidence: float
) -> tuple[torch.Tensor, Skeleton]:
    """Validate, fill missing, convert the layout and normalise: ``(T, J, 2)`` float64 CPU + skeleton."""
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
    x = _fill_missing(x, missing, src.joint_names)
    skel = src
    if src.name == "coco":
        x, skel = coco_to_h36m(x), get_skeleton("h36m")
    if image_size is not None:
        if not isinstance(image_size, (tuple, list)) or len(image_size) != 2:
            raise ValueError(f"image_size must be (w, h), got {image_size!r}")
        w, h = (float(v) for v in image_size)
        if not (w > 0 and h > 0):
            raise ValueError(f"image_size must be positive, got {image_size!r}")
        x = normalize_screen_coordinates(x, w, h)
    elif float(x.abs().max()) > 4.0:
        warnings.warn(
            f"{name} reaches |x| = {float(x.abs().max()):.1f}: this looks like pixels, but no image_size was "
            "given; models expect normalised screen coordinates (pass image_size=(w, h))",
            UserWarning, stacklevel=4,
        )
    return x, skel


def _lift_one(
    x_in: ArrayOrTensor, conf: Any, net: nn.Module, dev: torch.device, *, name: str, image_size: Any,
    layout: Union[str, Skeleton], min_confidence: float, flip_tta: bool, batch_size: int, input_stride: int,
    output_length: Optional[int], root_relative: bool, amp: Union[bool, torch.dtype],
) -> ArrayOrTensor:
    x, skel = _prepare_2d(x_in, conf, name, image_size, layout, min_confidence)
    num_joints = getattr(net, "num_joints", None)
    if num_joints is not None and x.shape[1] != num_joints:
        raise ValueError(f"the model expects {num_joints} joints, the input has {x.shape[1]} ({skel.name} layout)")
    x = x.to(device=dev, dtype=_model_dtype(net))
    if hasattr(net, "output_stride"):
        out = _run_uplift_upsample(net, x, skel, dev, flip_tta, batch_size, input_stride, output_length, amp)
    else:
        if input_stride != 1:
            raise ValueError(f"input_stride={input_stride} needs an Uplift-and-Upsample model (with output_stride)")
        if output_length is not None and output_length != x.shape[0]:
            raise ValueError(f"a plain lifting model returns T = {x.shape[0]} frames; got output_length={output_length}")
        out = _run_lifter(net, x, skel, dev, flip_tta, batch_size, amp)
    if root_relative:
        out = out - out[:, skel.root:skel.root + 1]
    return _restore_kind(out, x_in)


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
    net: nn.Module, x: torch.Tensor, skel: Skeleton, dev: torch.device, flip_tta: bool, batch_size: int,
    amp: Union[bool, torch.dtype],
) -> torch.Tensor:
    length = x.shape[0]
    window = getattr(net, "num_frames", None) or length
    windows = evaluation_windows(length, int(window))
    index = torch.as_tensor(np.stack([w.frames for w in windows]), device=dev)
    inputs = x[index]  # (n_windows, T, J, 2)
    to_model, from_model = _joint_order_adapters(net, skel)
    preds = []
    with _inference(net, dev, amp):
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
    net: nn.Module, x: torch.Tensor, skel: Skeleton, dev: torch.device, flip_tta: bool, batch_size: int,
    input_stride: int, output_length: Optional[int], amp: Union[bool, torch.dtype],
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
    with _inference(net, dev, amp):
        for chunk, m in zip(inputs.split(batch_size), mask.split(batch_size)):
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
    return interpolate_frames(torch.cat(preds), centres, length)


# --------------------------------------------------------------------------- refine


def refine(
    poses: ArrayOrTensor,
    model: ModelArg,
    *,
    sample_interval: Optional[int] = None,
    window_step: Optional[int] = None,
    confidence: Optional[ArrayOrTensor] = None,
    min_confidence: float = 0.0,
    batch_size: int = 64,
    device: Union[str, torch.device, None] = None,
    amp: Union[bool, torch.dtype] = True,
    pretrained: Union[bool, str] = True,
) -> ArrayOrTensor:
    """Refine a noisy pose sequence of any length with a MixSynthFormer-style model.

    The model reads windows of ``W = K*Q + 1`` frames (``model.num_frames``) and
    uses only the keyframes ``0, K, ..., W-1`` (``K = model.sample_interval``).
    Windows start every ``window_step`` keyframes (``window_step * K`` frames,
    default 1 keyframe), so every window's keyframes lie on the global grid of
    frames divisible by K: only frames ``0, K, 2K, ...`` and the last frame are
    read, as when a detector runs every K frames. The sequence is edge-padded
    at the end (repeating its last frame) so the last window ends on the grid;
    the outputs of all windows covering a frame are averaged (DeciWatch's
    sliding evaluation). See :mod:`posezoo.data.keyframe_windows`.

    Args:
        poses: ``(T, J, D)`` or ``(T, J*D)``, any ``T >= 1``, with ``J`` =
            ``model.num_joints`` and ``D`` = ``model.in_channels``.
        model: a registered model name or module with ``sample_interval``,
            ``num_frames``, ``num_joints`` and ``in_channels``.
        sample_interval: optional check: must equal the model's K.
        window_step: keyframes between window starts, ``1 <= window_step <= Q``
            (default 1: the densest overlap).
        confidence: optional ``(T, J)``; poses with ``confidence <= min_confidence``
            are missing (may be non-finite) and filled by interpolation over time.
        batch_size, device, amp, pretrained: as in :func:`lift`.

    Returns:
        The refined sequence with the input's shape, kind, device and floating dtype.
    """
    net, from_name = _load_model(model, pretrained)
    required = ("sample_interval", "num_frames", "num_joints", "in_channels")
    lacking = [a for a in required if getattr(net, a, None) is None]
    if lacking:
        raise ValueError(
            f"refine() needs a MixSynthFormer-style model with {', '.join(required)}; "
            f"{type(net).__name__} lacks {', '.join(lacking)}"
        )
    k, window = int(net.sample_interval), int(net.num_frames)
    joints, channels = int(net.num_joints), int(net.in_channels)
    if sample_interval is not None and sample_interval != k:
        raise ValueError(f"sample_interval={sample_interval} does not match the model's sample_interval={k}")
    step = 1 if window_step is None else check_int("window_step", window_step, numpy_ok=True)
    batch_size = check_int("batch_size", batch_size, numpy_ok=True)

    _check_sequence(poses, "poses")
    flat = poses.ndim == 2
    expected = f"(T, {joints}, {channels}) or (T, {joints * channels})"
    if poses.ndim not in (2, 3):
        raise ValueError(f"poses must have shape {expected}, got {tuple(poses.shape)} (rank {poses.ndim})")
    if poses.shape[0] == 0:
        raise ValueError(f"poses is empty: expected at least 1 frame, got shape {tuple(poses.shape)}")
    if tuple(poses.shape[1:]) != ((joints * channels,) if flat else (joints, channels)):
        raise ValueError(f"poses must have shape {expected}, got {tuple(poses.shape)}")
    x = _to_cpu64(poses).reshape(poses.shape[0], joints, channels)
    missing = _missing_mask(x, confidence, min_confidence, "poses")
    x = _fill_missing(x, missing, [str(j) for j in range(joints)])

    dev = _resolve_device(device, net, from_name, [poses])
    if _module_device(net) not in (None, dev):
        net.to(dev)
    x = x.to(device=dev, dtype=_model_dtype(net))
    if flat:
        x = x.reshape(x.shape[0], joints * channels)
    length = x.shape[0]
    windows, starts = sliding_windows(x[None], window, k, step)
    inputs = windows[0]  # (n, W, ...)
    outs = []
    with _inference(net, dev, amp):
        for chunk in inputs.split(batch_size):
            out = net(chunk)
            if not isinstance(out, torch.Tensor) or out.shape != chunk.shape:
                got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
                raise ValueError(f"the model returned {got}, expected {tuple(chunk.shape)}")
            outs.append(out.float())
    result = merge_windows(torch.cat(outs)[None], starts, length)[0]
    return _restore_kind(result, poses)
