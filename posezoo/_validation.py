"""Argument checks shared across posezoo (one wording for every module).

Every public function, constructor, loader and the CLI validates its input
with these helpers, so that bad input raises ``TypeError`` (wrong kind or
dtype) or ``ValueError`` (wrong value, shape or size) with a message naming
the argument, what was expected and what was received.

Sizes are bounded by :data:`limits` (an instance of :class:`Limits`) before
anything loops over them or allocates memory for them; raise a bound by
assigning to it, e.g. ``posezoo.limits.max_decompressed_bytes = 8 << 30``. The bounds and
the checks against them live in :mod:`posezoo._limits` and are re-exported here.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence, Union

import numpy as np
import torch

from ._limits import Limits, check_expansion, check_parameter_budget, limits

__all__ = [
    "Limits",
    "limits",
    "check_int",
    "check_float",
    "check_bool",
    "check_probability",
    "check_mlp_ratio",
    "check_choice",
    "check_tensor",
    "check_real_array",
    "check_device",
    "check_parameter_budget",
    "check_str_keys",
    "check_expansion",
    "read_json",
]


def _limit_hint(limit: Optional[str]) -> str:
    return f" (posezoo.limits.{limit})" if limit else ""


# --------------------------------------------------------------------------- scalars


def check_int(
    name: str,
    value: Any,
    minimum: int = 1,
    *,
    maximum: Optional[int] = None,
    limit: Optional[str] = None,
    numpy_ok: bool = False,
) -> int:
    """Return ``value`` as an ``int`` if it is an integer in ``[minimum, maximum]``, else raise ``ValueError``.

    ``bool`` is refused. numpy integers are accepted only with ``numpy_ok=True``
    (user-facing helpers taking lengths); model constructors leave it off so
    that their recorded kwargs stay JSON-serialisable. ``limit`` names a field
    of :data:`limits` used as the maximum (and quoted in the error).
    """
    if limit is not None:
        maximum = getattr(limits, limit)
    kinds = (int, np.integer) if numpy_ok else (int,)
    bound = "a positive int" if minimum == 1 else f"an int >= {minimum}"
    if isinstance(value, bool) or not isinstance(value, kinds) or value < minimum:
        raise ValueError(f"{name} must be {bound}, got {_short_repr(value)}")
    if maximum is not None and value > maximum:
        bound = f"a positive int <= {maximum}" if minimum == 1 else f"an int in [{minimum}, {maximum}]"
        raise ValueError(f"{name} must be {bound}{_limit_hint(limit)}, got {_short_repr(value)}")
    return int(value)


def check_float(
    name: str,
    value: Any,
    *,
    minimum: Optional[float] = None,
    maximum: Optional[float] = None,
    exclusive_minimum: bool = False,
    numpy_ok: bool = True,
) -> float:
    """Return ``value`` as a finite ``float`` within the bounds, else raise.

    ``TypeError`` for anything that is not a real number (``bool``, strings,
    complex, arrays); ``ValueError`` for NaN, infinities and values out of
    range. ``exclusive_minimum`` makes the lower bound strict (``> minimum``).
    """
    kinds: tuple[type, ...] = (int, float, np.integer, np.floating) if numpy_ok else (int, float)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, kinds):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {_short_repr(value)}")
    try:
        out = float(value)
    except OverflowError:  # an int too large for a float
        raise ValueError(f"{name} must be a finite number, got {_short_repr(value)}") from None
    if not math.isfinite(out):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if minimum is not None and (out <= minimum if exclusive_minimum else out < minimum):
        raise ValueError(f"{name} must be {'>' if exclusive_minimum else '>='} {minimum}, got {value!r}")
    if maximum is not None and out > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value!r}")
    return out


def check_bool(name: str, value: Any) -> bool:
    """``value`` if it is a ``bool`` (numpy bools accepted), else ``TypeError`` (``"false"`` is not a bool)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {_short_repr(value)}")
    return bool(value)


def check_probability(name: str, value: Any) -> float:
    """A rate in ``[0, 1]`` (dropout, drop-path, masking)."""
    return check_float(name, value, minimum=0.0, maximum=1.0)


def check_mlp_ratio(mlp_ratio: float, dim: int, name: str = "mlp_ratio") -> int:
    """Validate an MLP expansion ratio; return the hidden width ``int(dim * mlp_ratio)`` (at least 1)."""
    ratio = check_float(name, mlp_ratio, minimum=0.0, exclusive_minimum=True)
    hidden = int(dim * ratio) if ratio * dim < 2**62 else 2**62
    if hidden < 1:
        raise ValueError(
            f"{name}={mlp_ratio!r} gives an MLP of width int({dim} * {mlp_ratio!r}) = 0; use a larger ratio"
        )
    if hidden > 16 * limits.max_width:
        raise ValueError(
            f"{name}={mlp_ratio!r} gives an MLP of width {hidden:,} for width {dim}, more than "
            f"{16 * limits.max_width:,} (16 x posezoo.limits.max_width)"
        )
    return hidden


def check_choice(name: str, value: Any, options: Sequence[Any]) -> Any:
    """``value`` if it is one of ``options`` (compared by equality and type), else ``ValueError``."""
    if not any(type(value) is type(o) and value == o for o in options):
        raise ValueError(f"{name} must be one of {', '.join(map(repr, options))}, got {_short_repr(value)}")
    return value


def _short_repr(value: Any, width: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


# --------------------------------------------------------------------------- arrays and tensors


def _dtype_kind(x: Union[np.ndarray, torch.Tensor]) -> str:
    """numpy-style kind: 'f' floating, 'i'/'u' integer, 'b' bool, 'c' complex, else other."""
    if isinstance(x, torch.Tensor):
        if x.dtype == torch.bool:
            return "b"
        if x.is_complex():
            return "c"
        if x.is_floating_point():
            return "f"
        return "i"
    return x.dtype.kind


def _all_finite(x: Union[np.ndarray, torch.Tensor]) -> bool:
    if isinstance(x, torch.Tensor):
        if torch.compiler.is_compiling() or x.device.type == "meta":
            return True
        return bool(torch.isfinite(x).all())
    return bool(np.isfinite(x).all())


def _check_shape(name: str, shape: tuple[int, ...], ndim: Optional[int], expected: Optional[Sequence]) -> None:
    if expected is not None:
        ok = len(shape) == len(expected) and all(e is None or e == s for e, s in zip(expected, shape))
        if not ok:
            want = "(" + ", ".join("*" if e is None else str(e) for e in expected) + ")"
            raise ValueError(f"{name} must have shape {want}, got {shape}")
    elif ndim is not None and len(shape) != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {shape}")


def check_tensor(
    name: str,
    x: Any,
    *,
    ndim: Optional[int] = None,
    shape: Optional[Sequence[Optional[int]]] = None,
    floating: bool = True,
    finite: bool = False,
    nonempty: bool = True,
) -> torch.Tensor:
    """Validate a model input tensor and return it.

    Args:
        name: argument name for messages.
        x: the value.
        ndim: required number of dimensions (ignored when ``shape`` is given).
        shape: required shape; ``None`` entries match any size.
        floating: require a floating dtype (``TypeError`` for integer, bool and complex).
        finite: refuse NaN/inf (skipped while ``torch.compile`` traces).
        nonempty: refuse tensors with no elements (e.g. a batch of 0).
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if floating and not x.is_floating_point():
        raise TypeError(
            f"{name} must have a floating-point dtype (float16/bfloat16/float32/float64), got {x.dtype}; "
            "convert it with .float()"
        )
    _check_shape(name, tuple(x.shape), ndim, shape)
    if nonempty and x.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(x.shape)}); expected at least one element per axis")
    if finite and not _all_finite(x):
        raise ValueError(f"{name} contains NaN or Inf values")
    return x


def check_real_array(
    name: str,
    x: Any,
    *,
    finite: bool = True,
    allow_bool: bool = False,
    ndim: Optional[int] = None,
    min_ndim: int = 0,
) -> Union[np.ndarray, torch.Tensor]:
    """Validate a numpy array or tensor of real numbers (integer or floating) and return it.

    ``TypeError`` for other kinds and for object, string, complex (and, unless
    ``allow_bool``, bool) dtypes; ``ValueError`` for NaN/inf when ``finite``
    and for a wrong number of dimensions.
    """
    if not isinstance(x, (np.ndarray, torch.Tensor)):
        raise TypeError(f"{name} must be a numpy array or torch tensor, got {type(x).__name__}")
    kind = _dtype_kind(x)
    allowed = "fiu" + ("b" if allow_bool else "")
    if kind not in allowed:
        raise TypeError(f"{name} must hold real numbers (integer or floating dtype), got dtype {x.dtype}")
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {tuple(x.shape)}")
    if x.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimensions, got shape {tuple(x.shape)}")
    if finite and kind == "f" and not _all_finite(x):
        raise ValueError(f"{name} contains NaN or inf values")
    return x


# --------------------------------------------------------------------------- devices


def check_device(device: Any, name: str = "device") -> torch.device:
    """A ``torch.device`` that exists on this machine and can run a model.

    ``TypeError`` for anything but a str / ``torch.device``; ``ValueError`` for
    unparsable strings, the ``meta`` device (no data), and accelerators that
    are not available (e.g. ``"cuda:3"`` on a machine with one GPU).
    """
    if not isinstance(device, (str, torch.device)):
        raise TypeError(f"{name} must be a str or torch.device, got {type(device).__name__}")
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError) as exc:
        raise ValueError(f"{name}={device!r} is not a device: {exc}") from None
    if dev.type == "cpu":
        return dev
    if dev.type == "meta":
        raise ValueError(f"{name}='meta' holds no data and cannot run a model; use 'cpu' or 'cuda'")
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(f"{name}={str(dev)!r}: CUDA is not available on this machine")
        if dev.index is not None and dev.index >= count:
            raise ValueError(f"{name}={str(dev)!r}: only {count} CUDA device(s) (indices 0..{count - 1})")
        return dev
    if dev.type == "mps":
        if not torch.backends.mps.is_available():
            raise ValueError(f"{name}={str(dev)!r}: MPS is not available on this machine")
        return dev
    backend = getattr(torch, dev.type, None)
    available = getattr(backend, "is_available", None)
    if callable(available) and available():
        return dev
    raise ValueError(f"{name}={str(dev)!r} is not available on this machine; use 'cpu' or 'cuda'")


# --------------------------------------------------------------------------- sizes


def check_str_keys(name: str, mapping: Any) -> dict:
    """``mapping`` as a dict if it is a mapping with string keys (JSON objects, kwargs), else raise."""
    if not isinstance(mapping, dict) and not hasattr(mapping, "items"):
        raise TypeError(f"{name} must be a dict, got {type(mapping).__name__}")
    bad = [k for k in mapping if not isinstance(k, str)]
    if bad:
        raise TypeError(f"{name} keys must be strings, got {_short_repr(bad[:5])}")
    return dict(mapping)


# --------------------------------------------------------------------------- JSON files


def _json_depth_ok(obj: Any, max_depth: int) -> bool:
    stack: list[tuple[Any, int]] = [(obj, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > max_depth:
                return False
            children: Iterable[Any] = item.values() if isinstance(item, dict) else item
            stack.extend((c, depth + 1) for c in children)
    return True


def _nesting_before_parse(text: str, max_depth: int) -> bool:
    """Cheap bracket-depth scan (ignoring strings) so that ``json.loads`` never recurses too deep."""
    depth = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > max_depth:
                return False
        elif ch in "]}":
            depth -= 1
    return True


def read_json(source: Union[str, os.PathLike], what: str = "JSON file", *, text: Optional[str] = None) -> Any:
    """Parse a JSON file (or ``text``), refusing oversized, too deeply nested or invalid documents.

    Every failure is a ``ValueError`` naming the file and ``what`` was expected,
    except a missing file (``FileNotFoundError``).
    """
    where = "inline JSON" if text is not None else str(source)
    if text is None:
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"{what} not found: {path}")
        size = path.stat().st_size
        if size > limits.max_json_bytes:
            raise ValueError(
                f"{path}: {size:,} bytes is too large for a {what} (limit {limits.max_json_bytes:,}, "
                "posezoo.limits.max_json_bytes)"
            )
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"{path}: cannot read the {what}: {exc}") from None
    elif len(text) > limits.max_json_bytes:
        raise ValueError(f"inline JSON of {len(text):,} characters is too large for a {what}")
    if not _nesting_before_parse(text, limits.max_json_depth):
        raise ValueError(
            f"{where}: JSON nested deeper than {limits.max_json_depth} levels is not a {what} "
            "(posezoo.limits.max_json_depth)"
        )
    try:
        obj = json.loads(text)
    except (json.JSONDecodeError, RecursionError, ValueError) as exc:
        raise ValueError(f"{where} is not a valid {what}: {type(exc).__name__}: {exc}") from None
    if not _json_depth_ok(obj, limits.max_json_depth):  # pragma: no cover - the scan above catches it first
        raise ValueError(f"{where}: JSON nested deeper than {limits.max_json_depth} levels")
    return obj
