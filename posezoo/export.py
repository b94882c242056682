"""Deployment export: ``torch.export`` programs and ONNX files of every posezoo model family.

``posezoo export MODEL OUT.onnx [--opset N] [--dynamic-batch] [--weights DIR]`` on the command line,
or from Python::

    model = posezoo.create_model("rtpca_small")
    program = posezoo.export.export_program(model)            # torch.export, dynamic batch
    posezoo.export.export_onnx(model, "rtpca_small.onnx", dynamic_batch=True)

ONNX export needs the ``export`` extra (``pip install "posezoo[export]"``: onnx, onnxscript,
onnxruntime); ``torch.export`` needs nothing beyond PyTorch. Inputs and outputs of the exported
graphs (``B`` is the batch, symbolic with a dynamic batch):

=================  ==============================================  ==============================
family             inputs                                          outputs
=================  ==============================================  ==============================
RTPCA / MixSTE     ``keypoints_2d`` float32 ``(B, T, J, 2)``        ``poses_3d`` ``(B, T, J, 3)``
Uplift & Upsample  ``keypoints_2d`` ``(B, N, J, 2)``,               ``full`` ``(B, N, J, 3)``,
                   ``stride_mask`` bool ``(B, N)``                  ``central`` ``(B, J, 3)``
MixSynthFormer     ``poses`` ``(B, T, J, D)``                       ``refined`` ``(B, T, J, D)``
                                                                   (``future`` ``(B, F, J, D)``)
=================  ==============================================  ==============================

The exported graphs skip the eager input checks (shapes are fixed by the graph; NaN checks are
the caller's job) and compute the model's ``forward`` in eval mode.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from pathlib import Path
from typing import Any, Optional, Union

import torch
from torch import nn

from ._validation import check_int

__all__ = ["example_inputs", "io_names", "export_program", "export_onnx", "check_onnx", "load_model"]

PathLike = Union[str, os.PathLike]
DEFAULT_OPSET = 18
#: the lowest opset PyTorch's (dynamo) ONNX exporter writes; it does not convert down reliably
MIN_OPSET = 18
#: onnxruntime / PyTorch agreement required by :func:`check_onnx` (float32)
ONNX_TOLERANCE = 1e-4
_INSTALL_HINT = 'ONNX export needs the export extra: pip install "posezoo[export]" (onnx, onnxscript, onnxruntime)'


def _is_uplift(model: nn.Module) -> bool:
    return hasattr(model, "output_stride")


def _is_refiner(model: nn.Module) -> bool:
    return hasattr(model, "sample_interval") and not _is_uplift(model)


def example_inputs(model: nn.Module, batch_size: int = 2) -> tuple[torch.Tensor, ...]:
    """Example inputs of ``model``'s ``forward`` for tracing, on the model's device and dtype.

    Random poses ``0.3 * N(0, 1)`` of the model's window; Uplift and Upsample models also get a
    stride mask (their :meth:`example_inputs`, keyframes every ``s_in`` tokens)."""
    batch_size = check_int("batch_size", batch_size, numpy_ok=True, limit="max_windows")
    if _is_uplift(model) and hasattr(model, "example_inputs"):
        return tuple(model.example_inputs(batch_size))
    frames = getattr(model, "num_frames", None)
    joints, channels = getattr(model, "num_joints", None), getattr(model, "in_channels", None)
    if not all(isinstance(v, int) for v in (frames, joints, channels)):
        raise ValueError(
            f"{type(model).__name__} does not state num_frames, num_joints and in_channels; cannot build example inputs"
        )
    param = next(model.parameters(), None)
    kwargs = {"device": param.device, "dtype": param.dtype} if param is not None else {}
    return (0.3 * torch.randn(batch_size, frames, joints, channels, **kwargs),)


def io_names(model: nn.Module) -> tuple[list[str], list[str]]:
    """``(input names, output names)`` of the exported graph (see the module docstring)."""
    if _is_uplift(model):
        outputs = ["central"] if getattr(model, "full_head", True) is None else ["full", "central"]
        return ["keypoints_2d", "stride_mask"], outputs
    if _is_refiner(model):
        return ["poses"], ["future" if getattr(model, "num_future_frames", 0) else "refined"]
    return ["keypoints_2d"], ["poses_3d"]


def _dynamic_shapes(inputs: tuple[torch.Tensor, ...], dynamic_batch: bool) -> Optional[tuple[dict, ...]]:
    if not dynamic_batch:
        return None
    batch = torch.export.Dim("batch", min=1)
    return tuple({0: batch} for _ in inputs)


@contextlib.contextmanager
def _eval(model: nn.Module):
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def export_program(
    model: nn.Module, *, dynamic_batch: bool = True, batch_size: Optional[int] = None
) -> torch.export.ExportedProgram:
    """``torch.export`` program of ``model.forward`` in eval mode.

    Args:
        model: any posezoo model (RTPCA, MixSTE, Uplift and Upsample, MixSynthFormer).
        dynamic_batch: the batch dimension of every input is symbolic (``Dim("batch", min=1)``).
        batch_size: batch of the example inputs (default 2 with a dynamic batch, so that the
            exporter does not specialise on size 1; else 1): the fixed batch without one.

    Returns:
        The program; ``program.module()(*inputs)`` reproduces ``model(*inputs)``. Uplift and
        Upsample returns :class:`~posezoo.models.uplift_upsample.UpliftUpsampleOutput` (a registered
        pytree node).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    inputs = example_inputs(model, batch_size or (2 if dynamic_batch else 1))
    with _eval(model):
        return torch.export.export(model, inputs, dynamic_shapes=_dynamic_shapes(inputs, dynamic_batch))


def export_onnx(
    model: nn.Module,
    path: PathLike,
    *,
    opset: int = DEFAULT_OPSET,
    dynamic_batch: bool = False,
    batch_size: Optional[int] = None,
    optimize: bool = True,
    verbose: bool = False,
    program: Optional[torch.export.ExportedProgram] = None,
) -> Path:
    """Write ``model`` as an ONNX file (through ``torch.export`` and PyTorch's dynamo exporter).

    Args:
        model: any posezoo model; exported in eval mode, float32 as it is.
        path: the ``.onnx`` file. Weights are stored inside it (beside it, as ``PATH.data``,
            only for models over 1.5 GB of parameters: the 2 GB protobuf limit).
        opset: ONNX opset, at least 18 (the default; PyTorch's exporter cannot reliably write older
            ones): onnxruntime >= 1.14, a TensorRT whose ONNX parser supports opset 18.
        dynamic_batch: a symbolic batch dimension ``batch`` (else fixed to ``batch_size``).
        batch_size: the fixed batch (default 1), or the example batch with a dynamic one (2).
        optimize: let the exporter optimise the graph (constant folding, fusion of common patterns).
        verbose: show the exporter's progress lines (hidden by default).
        program: ``export_program(model, ...)`` when you have it already (saves tracing again;
            its batch dimension then decides, not ``dynamic_batch`` / ``batch_size``).

    Returns:
        The path written. Input / output names: :func:`io_names`.
    """
    try:
        import onnxscript  # noqa: F401 - the dynamo exporter needs it
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    opset = check_int("opset", opset, MIN_OPSET, numpy_ok=True)  # PyTorch's exporter writes opset >= 18
    path = Path(path)
    if path.suffix != ".onnx":
        raise ValueError(f"the output file must end in .onnx, got {str(path)!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if program is None:
        program = export_program(model, dynamic_batch=dynamic_batch, batch_size=batch_size)
    elif not isinstance(program, torch.export.ExportedProgram):
        raise TypeError(f"program must be a torch.export.ExportedProgram, got {type(program).__name__}")
    inputs, outputs = io_names(model)
    big = sum(p.numel() * p.element_size() for p in model.parameters()) > 1.5e9
    sink: Any = contextlib.nullcontext() if verbose else contextlib.redirect_stdout(io.StringIO())
    with sink, warnings.catch_warnings():
        if not verbose:
            warnings.filterwarnings("ignore", message=".*axis name.*will not be used")
        torch.onnx.export(
            program,
            f=str(path),
            input_names=inputs,
            output_names=outputs,
            opset_version=opset,
            dynamo=True,
            external_data=big,
            optimize=optimize,
        )
    return path


def check_onnx(
    path: PathLike, model: nn.Module, *, batch_size: int = 3, atol: float = ONNX_TOLERANCE, seed: int = 0
) -> float:
    """Run ``path`` with onnxruntime (CPU) and ``model`` with PyTorch on the same random inputs.

    Args:
        path: an ONNX file written by :func:`export_onnx` for ``model``.
        batch_size: the batch to run (must be the exported one for a fixed-batch file).
        atol: largest absolute difference accepted.

    Returns:
        The largest absolute difference over every output. Raises ``ValueError`` above ``atol``,
        ``ImportError`` without onnxruntime.
    """
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        inputs = example_inputs(model, batch_size)
    names = [i.name for i in session.get_inputs()]
    got = session.run(None, {n: x.detach().cpu().numpy() for n, x in zip(names, inputs)})
    with _eval(model), torch.inference_mode():
        out = model(*inputs)
    expected = (
        [out]
        if isinstance(out, torch.Tensor)
        else [t for t in (getattr(out, "full", None), out.central) if t is not None]
    )
    if len(got) != len(expected):
        raise ValueError(f"{path}: {len(got)} outputs, PyTorch gives {len(expected)}")
    diff = 0.0
    for g, e in zip(got, expected):
        if tuple(g.shape) != tuple(e.shape):
            raise ValueError(f"{path}: output shape {tuple(g.shape)}, PyTorch gives {tuple(e.shape)}")
        diff = max(diff, float(abs(torch.as_tensor(g) - e.float().cpu()).max()))
    if not diff <= atol:
        raise ValueError(f"onnxruntime and PyTorch differ by {diff:.3g} (> {atol:g}) on {path}")
    return diff


def load_model(spec: str, weights: Optional[PathLike] = None) -> nn.Module:
    """The model to export: a registered name or a ``save_pretrained`` directory.

    A registered name loads ``weights`` when given (a ``save_pretrained`` directory, a
    ``.safetensors`` file, an official checkpoint: anything ``create_model(pretrained=...)``
    takes), else its bundled weights (the default tag when bundled), else random initialisation
    with a warning (an export of untrained weights is only good for testing the pipeline)."""
    from .models import create_model, from_pretrained, get_model_entry, list_models

    if os.path.isdir(spec):
        if weights is not None:
            raise ValueError(f"{spec} is a save_pretrained directory (it holds its weights); drop --weights")
        return from_pretrained(spec)
    if spec not in list_models():
        raise ValueError(f"{spec!r} is neither a registered model (posezoo list) nor a save_pretrained directory")
    if weights is not None:
        return create_model(spec, pretrained=str(weights))
    entry = get_model_entry(spec)
    bundled = [t for t, meta in entry.weights.items() if meta.source.startswith("bundled:")]
    if bundled:
        return create_model(spec, pretrained=entry.default_tag if entry.default_tag in bundled else bundled[0])
    warnings.warn(
        f"{spec} has no bundled weights: exporting a randomly initialised model "
        "(pass --weights DIR for trained weights)",
        UserWarning,
        stacklevel=2,
    )
    return create_model(spec)


# --------------------------------------------------------------------------- command line
def add_export_parser(sub: Any) -> None:
    """Register ``posezoo export`` on the CLI's sub-parsers."""
    p = sub.add_parser("export", help="export a model to ONNX and check it with onnxruntime")
    p.add_argument("model", help="registered model name (bundled weights, else random init) or save_pretrained dir")
    p.add_argument("output", help="the .onnx file to write")
    p.add_argument("--opset", type=int, default=DEFAULT_OPSET, help=f"ONNX opset (default {DEFAULT_OPSET})")
    p.add_argument("--dynamic-batch", action="store_true", help="symbolic batch dimension (default: fixed)")
    p.add_argument("--batch-size", type=int, default=None, help="the fixed batch (default 1)")
    p.add_argument("--weights", default=None, help="weights for a registered name: save_pretrained dir or file")
    p.add_argument("--no-check", action="store_true", help="skip the onnxruntime-vs-PyTorch check")
    p.set_defaults(func=_cmd_export)


def _cmd_export(args: Any) -> int:
    if args.dynamic_batch and args.batch_size is not None:
        raise ValueError("--batch-size fixes the batch; it cannot be combined with --dynamic-batch")
    if not str(args.output).endswith(".onnx"):
        raise ValueError(f"the output file must end in .onnx, got {args.output!r}")
    check_int("--opset", args.opset, MIN_OPSET)
    model = load_model(args.model, args.weights)
    path = export_onnx(
        model, args.output, opset=args.opset, dynamic_batch=args.dynamic_batch, batch_size=args.batch_size
    )
    tag = (getattr(model, "pretrained_cfg", {}) or {}).get("tag") or (
        "random init" if not args.weights else args.weights
    )
    size = sum(f.stat().st_size for f in path.parent.glob(path.name + "*")) / 2**20
    batch = "dynamic" if args.dynamic_batch else str(args.batch_size or 1)
    print(
        f"wrote {path} ({type(model).__name__} {args.model}, weights {tag}, opset {args.opset}, "
        f"batch {batch}, {size:.1f} MB)"
    )
    if not args.no_check:
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            print('onnxruntime is not installed: no check (pip install "posezoo[export]")')
            return 0
        diff = check_onnx(path, model, batch_size=3 if args.dynamic_batch else args.batch_size or 1)
        print(f"onnxruntime agrees with PyTorch: max |diff| = {diff:.2g}")
    return 0
