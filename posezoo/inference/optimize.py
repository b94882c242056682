""":func:`optimize_for_inference`: a faster, inference-only copy of a model with the same call and outputs.

What it does (measured on CPU in ``benchmarks/README.md``; see ``docs/speed.md``):

* copies the model (the argument is never changed), puts the copy in eval mode, freezes it;
* converts the weights **once** to the compute dtype (``float32``, ``bfloat16`` or ``float16``);
* backend ``"onednn"`` (CPU default): every ``nn.Linear`` becomes a
  :class:`~posezoo.inference._fast_ops.FastLinear` that runs through oneDNN with pre-packed weights
  and a fused bias (and GELU/ReLU where an MLP applies one right after it);
* backend ``"compile"``: ``torch.compile`` of the copy (on CPU with Inductor's weight freezing);
  preparation takes minutes on a small CPU, so it is never chosen automatically;
* backend ``"eager"``: only the dtype conversion (CUDA default: SDPA then picks its fused
  flash / memory-efficient kernels in half precision);
* runs every call under ``torch.no_grad()``, optionally with a given number of CPU threads, and
  returns floating outputs in the model's original dtype.

Tolerances (checked by ``tests/test_optimize.py`` for every family): ``float32`` within ``1e-4``
absolute of the eager model; ``bfloat16`` / ``float16`` within 5 % of the output scale
(``max |optimized - eager| <= 0.05 * max |eager|``).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import time
import warnings
import weakref
from typing import Any, Iterator, Optional, Union

import torch
from torch import nn

from .._validation import check_device
from ._fast_ops import FastLinear, activation_attr, onednn_linear_status

__all__ = ["optimize_for_inference", "OptimizedModel", "BACKENDS", "DTYPES", "HALF_PRECISION_TOLERANCE"]

BACKENDS = ("auto", "onednn", "compile", "eager")
DTYPES = (torch.float32, torch.bfloat16, torch.float16)
#: documented bound of bfloat16/float16 outputs: ``max |opt - eager| <= this * max |eager|``
HALF_PRECISION_TOLERANCE = 0.05


class OptimizedModel(nn.Module):
    """The module :func:`optimize_for_inference` returns: call it exactly as the original model.

    Attributes of the original model (``num_frames``, ``num_joints``, ``output_stride``,
    ``sample_interval``, ``example_inputs`` ...) are forwarded, so :func:`posezoo.lift` and
    :func:`posezoo.refine` accept it in place of the model. ``report`` describes what was done:
    ``backend``, ``dtype``, ``device``, ``onednn_linears``, ``fused_activations``,
    ``float32_islands``, ``prepare_seconds`` and ``threads``. Inference only (no gradients). It can be
    deep-copied and saved with ``torch.save`` (the oneDNN packing is redone on load).
    """

    def __init__(
        self,
        module: nn.Module,
        *,
        output_dtype: torch.dtype,
        threads: Optional[int],
        report: dict[str, Any],
        call: Any = None,
    ) -> None:
        super().__init__()
        self.module = module
        self.output_dtype = output_dtype
        self.threads = threads
        self.report = report
        self.training = False
        object.__setattr__(self, "_call", call)  # a compiled callable (not a registered submodule)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        fn = self._call if self._call is not None else self.module
        with torch.no_grad(), _num_threads(self.threads):
            out = fn(*args, **kwargs)
        return _cast_floats(out, self.output_dtype)

    def train(self, mode: bool = True) -> OptimizedModel:
        if mode:
            raise RuntimeError("an OptimizedModel is inference-only; train the original model instead")
        return super().train(False)

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            inner = self.__dict__.get("_modules", {}).get("module")
            if inner is None or name.startswith("__") or name == "_call":
                raise
            return getattr(inner, name)


@contextlib.contextmanager
def _num_threads(threads: Optional[int]) -> Iterator[None]:
    if threads is None or threads == torch.get_num_threads():
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _cast_floats(out: Any, dtype: torch.dtype) -> Any:
    """Floating tensors in ``out`` (tensors, tuples, lists, dicts, dataclasses) cast to ``dtype``."""
    if isinstance(out, torch.Tensor):
        return out.to(dtype) if out.is_floating_point() and out.dtype != dtype else out
    if isinstance(out, tuple) and hasattr(out, "_fields"):  # NamedTuple
        return type(out)(*(_cast_floats(v, dtype) for v in out))
    if isinstance(out, (tuple, list)):
        return type(out)(_cast_floats(v, dtype) for v in out)
    if isinstance(out, dict):
        return {k: _cast_floats(v, dtype) for k, v in out.items()}
    if dataclasses.is_dataclass(out) and not isinstance(out, type):
        return dataclasses.replace(
            out, **{f.name: _cast_floats(getattr(out, f.name), dtype) for f in dataclasses.fields(out) if f.init}
        )
    return out


class Float32Island(nn.Module):
    """Runs ``module`` in float32 inside a reduced-precision model: ``x`` is cast to float32 on the way in
    and back to its own dtype on the way out (for memory-bound ops that are slower in bfloat16 on CPU,
    such as TPCA's pyramid of pooling, time-axis LayerNorms and transposed convolutions)."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module.float()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x.float()).to(x.dtype)


def _float32_islands(net: nn.Module) -> int:
    """Wrap every TPCA module of a reduced-precision ``net`` in a :class:`Float32Island`."""
    from ..layers.tpca import TPCA

    count = 0
    for parent in list(net.modules()):
        for name, child in list(parent._modules.items()):
            if isinstance(child, TPCA):
                setattr(parent, name, Float32Island(child))
                count += 1
    return count


def _first_float_dtype(model: nn.Module) -> torch.dtype:
    for t in (*model.parameters(), *model.buffers()):
        if t.is_floating_point():
            return t.dtype
    return torch.float32


def _replace_linears(module: nn.Module, dtype: torch.dtype, fuse: bool) -> tuple[int, int]:
    """Swap every ``nn.Linear`` below ``module`` for a :class:`FastLinear` (in place).

    With ``fuse``, an activation that directly follows ``fc1`` in an MLP (``fc1``/``act`` children,
    as :class:`posezoo.layers.mlp.Mlp` and the strided MLP) or a Linear in an ``nn.Sequential`` is
    fused into that Linear and replaced by ``nn.Identity``. Returns ``(linears, fused)``.
    """
    linears = fused = 0
    for parent in list(module.modules()):
        pairs: list[tuple[str, str]] = []
        if fuse and isinstance(getattr(parent, "fc1", None), nn.Linear) and _mlp_like(parent):
            pairs.append(("fc1", "act"))
        if fuse and isinstance(parent, nn.Sequential):
            names = list(parent._modules)
            pairs += [
                (a, b)
                for a, b in zip(names, names[1:])
                if isinstance(parent._modules[a], nn.Linear) and activation_attr(parent._modules[b])
            ]
        for lin_name, act_name in pairs:
            act = activation_attr(parent._modules[act_name])
            setattr(parent, lin_name, FastLinear(parent._modules[lin_name], dtype, activation=act))
            setattr(parent, act_name, nn.Identity())
            linears, fused = linears + 1, fused + 1
        for name, child in list(parent._modules.items()):
            if type(child) is nn.Linear:
                setattr(parent, name, FastLinear(child, dtype))
                linears += 1
    return linears, fused


def _mlp_like(module: nn.Module) -> bool:
    """An MLP whose forward applies ``act`` right after ``fc1`` (posezoo's ``Mlp`` and ``StridedConvMlp``)."""
    from ..layers.mlp import Mlp
    from ..layers.strided import StridedConvMlp

    return type(module) in (Mlp, StridedConvMlp) and activation_attr(getattr(module, "act", None)) is not None


def optimize_for_inference(
    model: nn.Module,
    dtype: torch.dtype = torch.float32,
    *,
    backend: str = "auto",
    device: Union[str, torch.device, None] = None,
    threads: Union[int, str, None] = None,
    fuse: bool = True,
    keep_float32: bool = True,
) -> OptimizedModel:
    """A faster inference-only copy of ``model`` with the same call signature and outputs.

    Args:
        model: any posezoo model (or module built from ``nn.Linear`` / posezoo layers). Not changed.
        dtype: compute dtype: ``torch.float32`` (default; outputs within ``1e-4`` of eager),
            ``torch.bfloat16`` or ``torch.float16`` (outputs within 5 % of the output scale,
            :data:`HALF_PRECISION_TOLERANCE`). On a CPU without native float16 matrix multiplication
            float16 is emulated and slow (a warning says so); use bfloat16 there.
        backend: ``"auto"`` (CPU: ``"onednn"`` when PyTorch's oneDNN linear works here, else
            ``"eager"``; CUDA: ``"eager"``), ``"onednn"``, ``"compile"`` (``torch.compile``; slow to
            prepare, compiled on the first call) or ``"eager"`` (dtype conversion only).
        device: where the copy lives (default: the model's device).
        threads: CPU threads during each call: ``None`` (default) leaves PyTorch's setting alone,
            ``"auto"`` uses one thread for small models (:func:`auto_threads`: splitting small
            matrix products over threads costs more than it gains), an int sets it.
        fuse: fuse bias adds and MLP activations into the preceding Linear (``"onednn"`` only).
        keep_float32: with a reduced ``dtype`` on the CPU, run TPCA (memory-bound pooling, time-axis
            LayerNorms and transposed convolutions, slower in bfloat16 there) in float32.

    Returns:
        An :class:`OptimizedModel`: ``out = optimized(*inputs)`` as ``model(*inputs)``, under
        ``torch.no_grad()``, floating outputs cast back to the model's dtype (usually float32).

    Raises:
        TypeError: ``model`` is not an ``nn.Module`` or ``dtype`` not a ``torch.dtype``.
        ValueError: unknown ``dtype`` / ``backend``, ``threads < 1``, or ``"onednn"`` requested
            where it does not work (the reason is given).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    if isinstance(model, OptimizedModel):
        raise ValueError("model is already an OptimizedModel; optimise the original model")
    if not isinstance(dtype, torch.dtype):
        raise TypeError(f"dtype must be a torch.dtype (torch.float32, torch.bfloat16, torch.float16), got {dtype!r}")
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of torch.float32, torch.bfloat16, torch.float16, got {dtype}")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if threads == "auto":
        threads = auto_threads(model)
    elif threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads must be None, 'auto' or a positive int, got {threads!r}")
    start = time.perf_counter()
    source_dtype = _first_float_dtype(model)
    params = list(model.parameters())
    dev = check_device(device if device is not None else (params[0].device if params else "cpu"))
    if backend == "auto":
        backend = "onednn" if dev.type == "cpu" and onednn_linear_status(dtype) == "ok" else "eager"
    if backend == "onednn":
        if dev.type != "cpu":
            raise ValueError(f"backend 'onednn' runs on the CPU only, got device {dev}")
        status = onednn_linear_status(dtype)
        if status != "ok":
            raise ValueError(f"backend 'onednn' does not work here in {dtype}: {status}")
    if dev.type == "cpu" and dtype == torch.float16 and not _cpu_has_native(dtype):
        warnings.warn(
            "float16 on this CPU is emulated (no AVX512-FP16/AMX-FP16) and much slower than "
            "float32; bfloat16 is the fast reduced precision here",
            UserWarning,
            stacklevel=2,
        )
    if dev.type == "cpu" and dtype == torch.bfloat16 and not _cpu_has_native(dtype):
        warnings.warn(
            "bfloat16 on this CPU is emulated (no AVX512-BF16/AMX) and may be slower than float32",
            UserWarning,
            stacklevel=2,
        )

    net = copy.deepcopy(model).to(dev)
    net.eval()
    net.requires_grad_(False)
    if dtype != source_dtype:
        net.to(dtype)
    islands = _float32_islands(net) if dtype != torch.float32 and dev.type == "cpu" and keep_float32 else 0
    linears = fused = 0
    call = None
    if backend == "onednn":
        linears, fused = _replace_linears(net, dtype, fuse)
    elif backend == "compile":
        call = _compile(net, dev)
    report = {
        "backend": backend,
        "dtype": str(dtype).replace("torch.", ""),
        "device": str(dev),
        "onednn_linears": linears,
        "fused_activations": fused,
        "float32_islands": islands,
        "threads": threads,
        "prepare_seconds": round(time.perf_counter() - start, 4),
    }
    return OptimizedModel(net, output_dtype=source_dtype, threads=threads, report=report, call=call)


def _cpu_has_native(dtype: torch.dtype) -> bool:
    try:
        if dtype == torch.bfloat16:
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        return bool(torch.ops.mkldnn._is_mkldnn_fp16_supported())
    except (AttributeError, RuntimeError):
        return False


def _compile(net: nn.Module, dev: torch.device) -> Any:
    """``torch.compile`` of ``net`` (static shapes; CPU: Inductor freezes and packs the weights;
    CUDA: CUDA graphs via ``mode="reduce-overhead"``)."""
    if dev.type == "cuda":
        return torch.compile(net, mode="reduce-overhead", dynamic=False)
    return torch.compile(net, dynamic=False, options={"freezing": True})


# --------------------------------------------------------------------------- lift()/refine() integration
#: ``threads="auto"``: models with fewer parameters run on one thread (``docs/speed.md``)
SMALL_MODEL_PARAMS = 2_000_000
#: lift()/refine() use the optimised copy when ``parameters x frames the model reads`` reaches this
#: (or a copy is already cached): below it, preparing the copy would cost more than it saves
OPTIMIZE_MIN_WORK = 10**9

_CACHE: weakref.WeakKeyDictionary[nn.Module, tuple[tuple, OptimizedModel]] = weakref.WeakKeyDictionary()


def auto_threads(model: nn.Module) -> Optional[int]:
    """``1`` for small models (under :data:`SMALL_MODEL_PARAMS` parameters) when PyTorch would use more
    threads, else ``None`` (PyTorch's setting). Splitting small matrix products over threads costs more
    than it gains, and much more on a busy machine (measured 3.7-19x slower with 2 threads than 1)."""
    if torch.get_num_threads() <= 1:
        return None
    return 1 if sum(p.numel() for p in model.parameters()) < SMALL_MODEL_PARAMS else None


def _fingerprint(model: nn.Module, dev: torch.device) -> tuple:
    """Changes whenever a parameter or buffer is replaced or modified in place (``Tensor._version``)."""
    return (
        str(dev),
        tuple((t.data_ptr(), t._version, t.dtype, t.shape) for t in (*model.parameters(), *model.buffers())),
    )


def inference_runner(model: nn.Module, dev: torch.device, optimize: bool, frames: int) -> nn.Module:
    """What ``lift()``/``refine()`` call: the float32 optimised copy of ``model`` where that is safe and
    pays off, else ``model`` itself.

    Used when ``optimize`` is true, the device is the CPU, ``model`` is one of posezoo's own model
    classes in float32 (outputs then within ``1e-4`` of eager) and the call is large enough
    (``parameters x frames >= OPTIMIZE_MIN_WORK``, ``frames`` = frames the model reads in this call)
    or a copy is cached. The copy is built once per model object (on ``threads="auto"``) and rebuilt
    when the model's weights change; the cache does not keep ``model`` alive.
    """
    if (
        not optimize
        or dev.type != "cpu"
        or isinstance(model, OptimizedModel)
        or not type(model).__module__.startswith("posezoo.models")
        or _first_float_dtype(model) != torch.float32
    ):
        return model
    try:
        key = _fingerprint(model, dev)
    except RuntimeError:  # inference tensors have no version counter: nothing safe to cache
        return model
    hit = _CACHE.get(model)
    if hit is not None and hit[0] == key:
        return hit[1]
    if sum(p.numel() for p in model.parameters()) * frames < OPTIMIZE_MIN_WORK:
        return model
    backend = "onednn" if onednn_linear_status(torch.float32) == "ok" else "eager"
    optimized = optimize_for_inference(model, torch.float32, backend=backend, device=dev, threads=auto_threads(model))
    _CACHE[model] = (key, optimized)
    return optimized
