"""Windowed model runs of :func:`~posezoo.inference.lift`: a whole (normalised, H36M-ordered) 2D sequence
through a seq2seq lifter (evaluation windows) or an Uplift-and-Upsample model (keyframe windows on the
output-stride grid, central predictions interpolated), with optional flip test-time augmentation."""

from __future__ import annotations

from typing import Optional, Union

import numpy as np
import torch
from torch import nn

from .._validation import check_int
from ..data.stride_masks import token_offsets
from ..data.windows import central_frames, evaluation_windows, interpolate_frames, reassemble
from ..skeleton import Skeleton, flip_pose, get_skeleton, reorder_joints
from ._common import _inference
from ._progress import window_progress


def _frames_read(net: nn.Module, length: int, input_stride: int) -> int:
    """Input frames (tokens) the model reads for a sequence of ``length`` inputs, without flips."""
    window = int(getattr(net, "num_frames", None) or length)
    if hasattr(net, "output_stride"):  # one window per output keyframe
        return window * ((length - 1) * input_stride // int(net.output_stride) + 2)
    return window * -(-length // window)


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
