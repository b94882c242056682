"""Base class of every posezoo model: records constructor arguments.

``save_pretrained`` writes a model's constructor arguments to ``config.json``
so that ``from_pretrained`` can rebuild it exactly. Subclasses of
:class:`PoseModel` get ``self.init_kwargs`` filled in automatically with the
arguments of the outermost ``__init__`` call (defaults included).
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

import torch
from torch import nn

__all__ = ["PoseModel"]

_CAPTURING = "_posezoo_capturing_init"


def _bind_init_arguments(init, args: tuple, kwargs: dict) -> dict[str, Any]:
    bound = inspect.signature(init).bind(None, *args, **kwargs)
    bound.apply_defaults()
    params = inspect.signature(init).parameters
    out: dict[str, Any] = {}
    for i, (name, value) in enumerate(bound.arguments.items()):
        if i == 0:  # self
            continue
        kind = params[name].kind
        if kind is inspect.Parameter.VAR_KEYWORD:
            out.update(value)
        elif kind is inspect.Parameter.VAR_POSITIONAL:
            if value:
                raise TypeError(f"{init.__qualname__}: *args cannot be recorded in a config")
        else:
            out[name] = value
    return out


class PoseModel(nn.Module):
    """``nn.Module`` that remembers its constructor kwargs in ``init_kwargs``.

    Models also expose the input geometry used by :mod:`posezoo.inference`:
    ``num_frames`` (window length T, ``None`` when any length works),
    ``num_joints`` (J) and ``in_channels`` / ``out_channels`` (C).
    """

    init_kwargs: dict[str, Any]
    pretrained_cfg: dict[str, Any]

    #: bytes of one activation of a forward chunk that :meth:`inference_chunk` aims at (0 = never chunk);
    #: set per model class, or per model (``model.chunk_bytes = 0`` switches chunking off)
    chunk_bytes: int = 0

    def clip_activation_bytes(self) -> int:
        """Bytes of one clip's main activation (e.g. ``T x J x C`` elements); 0 = not known."""
        return 0

    def inference_chunk(self, batch: int) -> int:
        """Clips per forward chunk for a batch of ``batch`` clips.

        Models whose clips never interact split a large batch into chunks whose activations stay in
        the CPU cache: same numbers, faster on the CPU (``benchmarks/README.md``). The whole batch is
        one chunk when gradients are recorded, while compiling or tracing (export), off the CPU, or when
        :attr:`chunk_bytes` or :meth:`clip_activation_bytes` is 0.
        """
        per_clip = self.clip_activation_bytes()
        if (
            not self.chunk_bytes
            or not per_clip
            or torch.is_grad_enabled()
            or torch.compiler.is_compiling()
            or torch.jit.is_tracing()
            or self._first_tensor().device.type != "cpu"
        ):
            return batch
        return max(1, min(batch, self.chunk_bytes // per_clip))

    def _first_tensor(self) -> torch.Tensor:
        for t in (*self.parameters(), *self.buffers()):
            return t
        return torch.empty(0)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None or getattr(init, "_posezoo_wrapped", False):
            return

        @functools.wraps(init)
        def wrapped(self, *args: Any, **kw: Any) -> None:
            outermost = _CAPTURING not in self.__dict__
            if outermost:
                object.__setattr__(self, _CAPTURING, True)
            try:
                init(self, *args, **kw)
            finally:
                if outermost:
                    object.__delattr__(self, _CAPTURING)
            if outermost:
                self.init_kwargs = _bind_init_arguments(init, args, kw)
                if not hasattr(self, "pretrained_cfg"):
                    self.pretrained_cfg = {}

        wrapped._posezoo_wrapped = True  # type: ignore[attr-defined]
        cls.__init__ = wrapped  # type: ignore[method-assign]
