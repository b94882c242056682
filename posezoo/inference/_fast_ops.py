"""Inference-only replacements of slow modules, used by :func:`~posezoo.inference.optimize_for_inference`.

* :class:`FastLinear`: ``nn.Linear`` with its weight converted once to the compute dtype and, on CPUs
  with oneDNN, pre-packed for oneDNN's matrix multiplication, with the bias add (and optionally a
  following GELU/ReLU) fused into it. PyTorch's default CPU ``addmm`` goes through MKL, which on
  AMD processors runs its generic (non-AVX-512) kernels and first copies the bias into the output;
  oneDNN runs AVX-512 kernels on every x86 CPU and adds the bias in its epilogue.

The oneDNN path uses PyTorch's own operator ``torch.ops.mkldnn._linear_pointwise`` (the one
``torch.compile`` emits for CPU linears when it freezes weights). It is not a documented public API,
so every use is guarded: :func:`onednn_linear_status` runs it once on a small problem and compares it
with ``F.linear``; if the operator is missing, fails or disagrees, :class:`FastLinear` falls back to
``F.linear`` with the converted weight (still exact, only slower). ``tests/test_optimize.py`` asserts
that the fast path is active wherever PyTorch reports oneDNN, so its disappearance is noticed.
"""

from __future__ import annotations

import functools
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "FUSABLE_ACTIVATIONS",
    "ONEDNN_MIN_MACS",
    "FastLinear",
    "activation_attr",
    "onednn_linear_status",
]

#: smallest matrix product (multiply-adds ``rows * C_in * C_out``) sent to oneDNN: below it the
#: per-call overhead of oneDNN outweighs its faster kernels (``benchmarks/README.md``, linear sweep)
ONEDNN_MIN_MACS = 1 << 22
#: activations that fuse into a :class:`FastLinear`
FUSABLE_ACTIVATIONS = ("gelu", "gelu_tanh", "relu")


def activation_attr(module: nn.Module) -> Optional[str]:
    """The fusable name (one of :data:`FUSABLE_ACTIVATIONS`) of an activation module, else None."""
    if type(module) is nn.GELU:
        return {"none": "gelu", "tanh": "gelu_tanh"}.get(module.approximate)
    if type(module) is nn.ReLU:
        return "relu"
    return None


def _onednn_args(activation: Optional[str]) -> tuple[str, list, str]:
    if activation is None:
        return "none", [], ""
    if activation == "relu":
        return "relu", [], ""
    return "gelu", [], "tanh" if activation == "gelu_tanh" else "none"


def _reference_activation(y: torch.Tensor, activation: Optional[str]) -> torch.Tensor:
    if activation is None:
        return y
    if activation == "relu":
        return F.relu(y)
    return F.gelu(y, approximate="tanh" if activation == "gelu_tanh" else "none")


@functools.cache
def onednn_linear_status(dtype: torch.dtype = torch.float32) -> str:
    """``"ok"`` when oneDNN's packed linear runs and matches ``F.linear`` in ``dtype`` on this CPU,
    else a short reason (the fast path is then not used). Checked once per dtype and process."""
    if not torch.backends.mkldnn.is_available():
        return "PyTorch was built without oneDNN (mkldnn)"
    try:
        ops = torch.ops.mkldnn
        pack, linear = ops._reorder_linear_weight, ops._linear_pointwise
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(7, 3, 16, generator=gen).to(dtype)
        w = (0.1 * torch.randn(24, 16, generator=gen)).to(dtype)
        b = torch.randn(24, generator=gen).to(dtype)
        with torch.no_grad():
            for activation in (None, "gelu", "gelu_tanh", "relu"):
                got = linear(x, pack(w, None), b, *_onednn_args(activation))
                want = _reference_activation(F.linear(x.float(), w.float(), b.float()), activation)
                if got.shape != want.shape or got.dtype != dtype:
                    return f"oneDNN linear returned {tuple(got.shape)} {got.dtype}"
                tol = 1e-4 if dtype == torch.float32 else 5e-2
                if not torch.allclose(got.float(), want, atol=tol, rtol=tol):
                    return f"oneDNN linear ({activation or 'plain'}) disagrees with F.linear"
    except (AttributeError, RuntimeError, TypeError, NotImplementedError) as exc:
        return f"oneDNN linear unavailable: {type(exc).__name__}: {exc}"
    return "ok"


class FastLinear(nn.Module):
    """Inference-only ``nn.Linear``: ``(..., C_in) -> (..., C_out)`` in ``dtype``, optionally followed
    by a fused activation.

    Args:
        linear: the layer to replace (its weight is copied and converted once).
        dtype: compute dtype (the input is cast to it; the output has it).
        activation: ``None`` or one of :data:`FUSABLE_ACTIVATIONS`, applied to the output.
        pack: use oneDNN's packed weights when :func:`onednn_linear_status` is ``"ok"`` on the CPU
            (otherwise, and on other devices, ``F.linear``).

    ``weight`` and ``bias`` stay available as dense tensors in ``dtype`` (code that reads
    ``layer.weight.dtype`` keeps working). Gradients are not supported.
    """

    def __init__(
        self, linear: nn.Linear, dtype: torch.dtype, activation: Optional[str] = None, pack: bool = True
    ) -> None:
        super().__init__()
        if activation is not None and activation not in FUSABLE_ACTIVATIONS:
            raise ValueError(f"activation must be None or one of {FUSABLE_ACTIVATIONS}, got {activation!r}")
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.activation = activation
        self.register_buffer("weight", linear.weight.detach().to(dtype).contiguous())
        self.register_buffer("bias", None if linear.bias is None else linear.bias.detach().to(dtype).contiguous())
        self._packed: Optional[torch.Tensor] = None
        if pack and self.weight.device.type == "cpu" and onednn_linear_status(dtype) == "ok":
            self._packed = torch.ops.mkldnn._reorder_linear_weight(self.weight, None)

    @property
    def uses_onednn(self) -> bool:
        """Whether the packed oneDNN path is in use."""
        return self._packed is not None

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, dtype={self.weight.dtype}, "
            f"activation={self.activation}, onednn={self.uses_onednn}"
        )

    def __getstate__(self) -> dict:  # copy.deepcopy / torch.save: the packed tensor has no storage to copy
        state = self.__dict__.copy()
        state["_repack"], state["_packed"] = self._packed is not None, None
        return state

    def __setstate__(self, state: dict) -> None:
        repack = state.pop("_repack", False)
        super().__setstate__(state)
        if repack and onednn_linear_status(self.weight.dtype) == "ok":
            self._packed = torch.ops.mkldnn._reorder_linear_weight(self.weight, None)

    def _apply(self, fn, recurse=True):  # .to()/.cuda(): the packed copy cannot follow, re-derive it
        out = super()._apply(fn, recurse)
        if self._packed is not None and (
            self.weight.device.type != "cpu" or onednn_linear_status(self.weight.dtype) != "ok"
        ):
            self._packed = None
        elif self._packed is not None:
            self._packed = torch.ops.mkldnn._reorder_linear_weight(self.weight, None)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.weight.dtype)
        if (
            self._packed is not None
            and x.device.type == "cpu"
            and not torch.is_grad_enabled()
            and x.numel() * self.out_features >= ONEDNN_MIN_MACS
        ):
            return torch.ops.mkldnn._linear_pointwise(x, self._packed, self.bias, *_onednn_args(self.activation))
        return _reference_activation(F.linear(x, self.weight, self.bias), self.activation)
