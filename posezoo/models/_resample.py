"""Weights trained at one window length, loaded into a model built for another.

``create_model(name, pretrained=..., num_frames=N)`` builds the model at N
frames (tokens) and passes the loaded state dict through
:func:`resample_temporal_embeddings`, which adapts every tensor whose shape
depends on the window length:

* learned positional embeddings ``(L, C) -> (N, C)`` (RTPCA / MixSTE
  ``temporal_pos_embed``; Uplift-and-Upsample ``temporal_pos_embed`` and the
  per-block embeddings of the strided transformer): linear interpolation
  along time with half-sample centres (``align_corners=False``, as timm
  resamples position embeddings);
* LayerNorms over the time axis ``(L,) -> (N,)`` (RTPCA's TPCA pyramid):
  the same interpolation of their affine weight and bias;
* depthwise transposed convolutions whose kernel size follows the pyramid
  lengths (TPCA amplification, kernel ``s`` or ``s + 1`` .. ``2s - 1`` for
  stride ``s``): per output phase, taps are copied when the phase keeps its
  tap count, summed when it loses one and split evenly when it gains one, so
  a slowly varying input is amplified as before;
* depthwise strided convolutions of TPCA compression (``"conv"`` modes):
  the kernel is interpolated to its new size and scaled by ``k_old / k_new``
  (same gain on a constant input, up to interpolation).

Parameter-free length dependencies are rebuilt by the constructor (TPCA's
pyramid lengths, the XLR memory length ``max(1, N // 8)``, the strided
transformer's token counts). Tensors with the same shape are copied
unchanged, so ``N`` equal to the trained length reproduces the model exactly.

MixSynthFormer cannot change its window: the window is ``K * Q + 1`` frames
and its synthesised-attention MLPs map the whole window (weights of shape
``(..., K*Q + 1)``), so there is nothing to interpolate that would keep them
meaningful; ``create_model`` raises ``ValueError`` for ``num_frames`` there.
"""

from __future__ import annotations

from typing import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import LearnedPositionalEmbedding

__all__ = ["resample_sequence", "resample_temporal_embeddings", "FIXED_WINDOW_FAMILIES"]

#: families whose window length is fixed by their weights, with the reason (shown in the error).
FIXED_WINDOW_FAMILIES = {
    "mixsynthformer": (
        "MixSynthFormer's window is K*Q+1 frames (sample_interval K, num_keyframes Q+1) and its "
        "synthesised-attention MLPs and learned recovery map have weights sized by that window, so "
        "trained weights cannot be resampled to another length; use a registered variant "
        "(posezoo.list_models('mixsynthformer*')) or train one at the window you need"
    ),
}


def resample_sequence(table: torch.Tensor, length: int, dim: int = 0) -> torch.Tensor:
    """Linearly resample ``table`` along ``dim`` to ``length`` entries (half-sample centres).

    Entry ``i`` of the result samples the original at position
    ``(i + 0.5) * L / length - 0.5`` (clamped to the ends), i.e.
    ``F.interpolate(mode="linear", align_corners=False)``. At twice the
    length, entries ``2i`` and ``2i + 1`` are ``0.25 x[i-1] + 0.75 x[i]`` and
    ``0.75 x[i] + 0.25 x[i+1]``.

    Args:
        table: any shape, ``table.shape[dim] = L >= 1``.
        length: new size ``N >= 1``.
        dim: axis to resample.
    """
    if not isinstance(length, int) or isinstance(length, bool) or length < 1:
        raise ValueError(f"length must be a positive int, got {length!r}")
    if table.ndim == 0 or table.shape[dim] < 1:
        raise ValueError(f"cannot resample a tensor of shape {tuple(table.shape)} along dim {dim}")
    if table.shape[dim] == length:
        return table.clone()
    moved = table.movedim(dim, -1)
    flat = moved.reshape(1, -1, moved.shape[-1]).to(torch.float64)
    out = F.interpolate(flat, size=length, mode="linear", align_corners=False)
    return out.reshape(*moved.shape[:-1], length).to(table.dtype).movedim(-1, dim).contiguous()


def _transposed_kernel(kernel: torch.Tensor, size: int, stride: int) -> torch.Tensor:
    """Depthwise transposed-conv kernel ``(C, 1, k) -> (C, 1, size)``, phase by phase."""
    out = kernel.new_zeros(*kernel.shape[:-1], size)
    for phase in range(stride):
        old = kernel[..., phase::stride]
        n_new = len(range(phase, size, stride))
        if n_new == 0:
            continue
        if old.shape[-1] == n_new:
            out[..., phase::stride] = old
        else:  # keep the phase's total gain, spread over its new taps
            out[..., phase::stride] = old.sum(-1, keepdim=True) / n_new
    return out


def _conv_kernel(kernel: torch.Tensor, size: int) -> torch.Tensor:
    """Depthwise conv kernel ``(C, 1, k) -> (C, 1, size)``, interpolated, gain kept."""
    k = kernel.shape[-1]
    flat = kernel.reshape(-1, 1, k).to(torch.float64)
    new = F.interpolate(flat, size=size, mode="linear", align_corners=True) * (k / size)
    return new.reshape(*kernel.shape[:-1], size).to(kernel.dtype)


def _resample_one(key: str, module: nn.Module, name: str, src: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    def unsupported(why: str) -> ValueError:
        return ValueError(
            f"cannot resample {key!r} from {tuple(src.shape)} to {tuple(ref.shape)} ({type(module).__name__}): {why}"
        )

    if src.ndim != ref.ndim:
        raise unsupported("different number of dimensions")
    if isinstance(module, LearnedPositionalEmbedding) and name == "weight":
        if src.shape[1:] != ref.shape[1:]:
            raise unsupported("the embedding width differs")
        return resample_sequence(src, ref.shape[0], dim=0)
    if isinstance(module, nn.LayerNorm) and src.ndim == 1:
        return resample_sequence(src, ref.shape[0], dim=0)
    depthwise = isinstance(module, (nn.Conv1d, nn.ConvTranspose1d)) and module.groups == module.in_channels
    if depthwise and name == "weight" and src.shape[:-1] == ref.shape[:-1]:
        if isinstance(module, nn.ConvTranspose1d):
            return _transposed_kernel(src, ref.shape[-1], module.stride[0])
        return _conv_kernel(src, ref.shape[-1])
    raise unsupported("this tensor's shape does not depend on the window length in a way posezoo resamples")


def resample_temporal_embeddings(
    state_dict: Mapping[str, torch.Tensor], model: nn.Module, strict: bool = True
) -> dict[str, torch.Tensor]:
    """Adapt a state dict trained at another window length to ``model``'s length.

    Args:
        state_dict: weights of the same architecture built at another
            ``num_frames`` (e.g. a registered variant's bundled weights).
        model: the model built at the new length (only its shapes and module
            types are read; it is not modified).
        strict: with False, tensors that cannot be resampled are passed
            through unchanged (a non-strict load then skips them as mismatched).

    Returns:
        A new state dict: tensors whose shape already fits are the same
        objects; length-dependent ones are resampled (see the module
        docstring). Keys the model does not have are passed through, and keys
        missing from ``state_dict`` stay missing, so that a strict load
        reports them.

    Raises:
        ValueError: (``strict=True``) a tensor differs in a way that is not a
            window length (e.g. another width), naming the key and both shapes.
    """
    target = model.state_dict()
    modules = dict(model.named_modules())
    out: dict[str, torch.Tensor] = {}
    for key, src in state_dict.items():
        ref = target.get(key)
        if ref is None or tuple(src.shape) == tuple(ref.shape):
            out[key] = src
            continue
        module_name, _, name = key.rpartition(".")
        try:
            out[key] = _resample_one(key, modules.get(module_name, model), name, src, ref)
        except ValueError:
            if strict:
                raise
            out[key] = src
    return out
