"""Strategies, profiles and the per-case guard of ``tests/test_fuzz.py``.

Every fuzz case runs through :func:`check_call`: the call must either return
or raise one of the allowed clean errors (``ValueError`` / ``TypeError``;
``WeightsError`` is a ``ValueError``) with a non-empty message, finish within
:data:`CASE_SECONDS` (a ``SIGALRM`` guard on top of Hypothesis' deadline), and
leave its arguments unchanged when it fails (compared by fingerprint).
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import signal
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

CASE_SECONDS = 20.0
CLEAN = (ValueError, TypeError)

_COMMON = dict(
    deadline=timedelta(seconds=10),
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
# default run: a fixed, reproducible sample (derandomized); `-m slow`: thousands of random cases
settings.register_profile("posezoo-fuzz", max_examples=25, derandomize=True, **_COMMON)
settings.register_profile("posezoo-fuzz-slow", max_examples=1000, derandomize=False, **_COMMON)


class CaseTimeout(BaseException):
    """A fuzz case ran too long (a BaseException, so that no ``except Exception`` in posezoo hides it)."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    def _raise(signum, frame):  # noqa: ARG001
        raise CaseTimeout(f"fuzz case exceeded {seconds} s")

    previous = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _tensor_bytes(t: torch.Tensor) -> bytes:
    if t.numel() == 0:
        return b""
    flat = t.detach().to("cpu").reshape(-1).clone()
    return flat.view(torch.uint8).numpy().tobytes()


def fingerprint(obj: Any, depth: int = 0) -> Any:
    """A comparable summary of ``obj``'s content (arrays, tensors, modules, files, containers)."""
    if depth > 20:
        return ("deep",)
    if isinstance(obj, torch.nn.Module):
        return ("module", obj.training, tuple((k, fingerprint(v)) for k, v in obj.state_dict().items()))
    if isinstance(obj, torch.Tensor):
        return ("tensor", str(obj.dtype), tuple(obj.shape), obj.device.type, _tensor_bytes(obj))
    if isinstance(obj, np.ndarray):
        data = repr(obj.tolist()) if obj.dtype.hasobject else obj.tobytes()
        return ("array", obj.dtype.str, obj.shape, data)
    if isinstance(obj, dict):
        return ("dict", tuple((repr(k), fingerprint(v, depth + 1)) for k, v in obj.items()))
    if isinstance(obj, (list, tuple)):
        return (type(obj).__name__, tuple(fingerprint(v, depth + 1) for v in obj))
    if isinstance(obj, Path) and obj.is_file():
        return ("file", hashlib.sha256(obj.read_bytes()).hexdigest())
    return ("object", repr(obj))


class Failed:
    """The clean error a call raised."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def check_call(fn: Callable, *args: Any, allowed: tuple = CLEAN, seconds: float = CASE_SECONDS, **kwargs: Any) -> Any:
    """Run one fuzz case; return its result or a :class:`Failed`; assert the guarantees on failure."""
    before = fingerprint((args, kwargs))
    with time_limit(seconds):
        try:
            return fn(*args, **kwargs)
        except allowed as exc:
            assert str(exc).strip(), f"{type(exc).__name__} raised without a message"
            assert fingerprint((args, kwargs)) == before, f"a failing call changed its arguments ({exc})"
            return Failed(exc)


# --------------------------------------------------------------------------- strategies

SPECIAL = [0.0, -0.0, 1.0, -1.0, 0.5, 1e-300, 1e300, float("nan"), float("inf"), float("-inf")]
NUMPY_DTYPES = [np.float32, np.float64, np.float16, np.int64, np.int32, np.uint8, np.bool_, np.complex64, object, "U2"]
TORCH_DTYPES = [
    torch.float32,
    torch.float64,
    torch.float16,
    torch.bfloat16,
    torch.int64,
    torch.int32,
    torch.uint8,
    torch.bool,
    torch.complex64,
]
#: hostile scalars for constructor and function arguments (every huge value exceeds every posezoo limit)
VALUES = st.sampled_from(
    [
        0,
        -1,
        1,
        2,
        3,
        10**6,
        10**12,
        2**63,
        0.5,
        1.5,
        2.0,
        -1e-9,
        1e-9,
        float("nan"),
        float("inf"),
        -float("inf"),
        True,
        False,
        None,
        "3",
        "h36m",
        "",
        [],
        [1],
        [[1, 1]],
        [3, 3, 3],
        [0, 0],
        {"a": 1},
        (1, 1),
        np.int64(3),
        np.float32(2.0),
        1j,
        b"x",
        object(),
    ]
).map(copy.deepcopy)  # fresh containers: a case may put them into structures it then mutates


@st.composite
def shapes_near(draw, expected: Sequence[int], max_side: int = 5) -> tuple[int, ...]:
    """``expected`` itself, or a mutation of it (a dim dropped, added, zeroed or off by one)."""
    shape = list(expected)
    for _ in range(draw(st.integers(0, 2))):
        op = draw(st.sampled_from(["drop", "add", "zero", "one", "plus", "minus", "random"]))
        i = draw(st.integers(0, max(len(shape) - 1, 0)))
        if op == "drop" and shape:
            shape.pop(i)
        elif op == "add" and len(shape) < 6:
            shape.insert(i, draw(st.integers(0, 3)))
        elif shape:
            shape[i] = {
                "zero": 0,
                "one": 1,
                "plus": shape[i] + 1,
                "minus": max(shape[i] - 1, 0),
                "random": draw(st.integers(0, max_side)),
            }.get(op, shape[i])
    return tuple(shape)


def _fill(rng: np.random.Generator, shape: tuple, poison: str) -> np.ndarray:
    data = np.asarray(rng.normal(size=shape) * 0.5)
    if poison != "none" and data.size:
        idx = tuple(rng.integers(0, s) for s in shape)
        data[idx] = {"nan": np.nan, "inf": np.inf, "huge": 1e300, "zero": 0.0}[poison]
    return data


@st.composite
def arrays(draw, expected: Sequence[int], kinds: Sequence[str] = ("numpy", "torch"), max_size: int = 20000) -> Any:
    """An array/tensor near ``expected`` with any dtype and NaN/inf/huge poison, or a non-array object."""
    kind = "other" if draw(st.integers(0, 9)) == 9 else draw(st.sampled_from(kinds))  # 0 is drawn most
    if kind == "other":
        return draw(st.sampled_from([None, 3, "pose", [[0.0, 1.0]], {"x": 1}]))
    shape = draw(shapes_near(expected))
    if int(np.prod(shape, dtype=np.int64)) > max_size:
        shape = tuple(expected)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    data = _fill(rng, shape, draw(st.sampled_from(["none", "none", "none", "nan", "inf", "huge", "zero"])))
    if kind == "numpy":
        dtype = draw(st.sampled_from([np.float64, np.float32] * 3 + NUMPY_DTYPES))
        with np.errstate(all="ignore"):
            return data.astype(dtype)
    dtype = draw(st.sampled_from([torch.float32, torch.float64] * 3 + TORCH_DTYPES))
    return torch.from_numpy(data).to(dtype)


def is_valid_float(x: Any, shape: Sequence[int]) -> bool:
    """Whether ``x`` is a finite floating tensor of exactly ``shape`` (then a call must succeed)."""
    return (
        isinstance(x, torch.Tensor)
        and x.is_floating_point()
        and tuple(x.shape) == tuple(shape)
        and bool(torch.isfinite(x).all())
        and float(x.abs().max()) < 1e4
        and x.dtype in (torch.float32, torch.float64)
    )


def corrupt(data: bytes, draw) -> bytes:
    """Truncate, flip or splice random bytes of ``data``."""
    op = draw(st.sampled_from(["truncate", "flip", "splice", "empty", "random"]))
    if op == "empty":
        return b""
    if op == "random":
        return draw(st.binary(max_size=2048))
    if op == "truncate":
        return data[: draw(st.integers(0, max(len(data) - 1, 0)))]
    b = bytearray(data)
    for _ in range(draw(st.integers(1, 16))):
        i = draw(st.integers(0, len(b) - 1))
        b[i] = draw(st.integers(0, 255)) if op == "flip" else b[i] ^ 0x55
    return bytes(b)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
