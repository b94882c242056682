"""Reading pickled official checkpoints without executing pickled code."""

from __future__ import annotations

import os
import pickle
import zipfile
from typing import Any, Union

import torch

from .._validation import check_expansion
from ..models._weights import WeightsError

__all__ = ["load_pickled_checkpoint", "strip_prefix", "UnsafeCheckpointError"]


class _InertGlobal:
    """Stand-in for a pickled global that is not a tensor type (e.g. numpy RandomState).

    It records nothing and can be called or have state set on it; the data it
    stands for is discarded.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        pass

    def __call__(self, *args: Any, **kwargs: Any) -> _InertGlobal:
        return _InertGlobal()


def _inert_globals_from_error(message: str) -> list[str]:
    import re

    return re.findall(r"GLOBAL ([\w.]+) was not an allowed global", message)


class UnsafeCheckpointError(WeightsError, pickle.UnpicklingError):
    """A pickle that names globals torch refuses outright (``os.system``, ...): never loaded."""


def _check_zip_budget(path: Union[str, os.PathLike]) -> None:
    """Refuse zip-format checkpoints whose members expand beyond :data:`posezoo.limits`."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return  # not a zip (legacy pickle format) or unreadable: torch.load reports it
    total = 0
    for info in infos:
        total = check_expansion(f"{path}: member {info.filename!r}", info.compress_size, info.file_size, total)


def load_pickled_checkpoint(path: Union[str, os.PathLike]) -> dict:
    """``torch.load(path, weights_only=True)``, tolerating non-tensor globals.

    Official RTPCA/MixSTE checkpoints pickle a ``numpy.random.RandomState``
    beside the weights, which ``weights_only=True`` refuses. Each global that
    the safe unpickler refuses is replaced by an inert placeholder class
    (never the real object, never ``weights_only=False``), and the load is
    retried. Tensors and plain containers load as usual. Globals from modules
    that torch blocks outright (``os``, ``sys``, ...) make the file fail to
    load with :class:`UnsafeCheckpointError` (a ``pickle.UnpicklingError`` and a
    :class:`~posezoo.WeightsError`): such a file is not a checkpoint. Corrupt,
    truncated or foreign files raise :class:`~posezoo.WeightsError` naming the
    file; zip members expanding beyond ``posezoo.limits`` are refused unread.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint not found: {path}")
    _check_zip_budget(path)
    placeholders: dict[str, type] = {}
    for _ in range(32):
        try:
            with torch.serialization.safe_globals([(stub, name) for name, stub in placeholders.items()]):
                obj = torch.load(path, map_location="cpu", weights_only=True)
            break
        except pickle.UnpicklingError as exc:
            names = [n for n in _inert_globals_from_error(str(exc)) if n not in placeholders]
            if not names and "global" not in str(exc).lower():  # corrupt pickle data, not a refused global
                raise WeightsError(
                    f"{path}: not a readable PyTorch checkpoint (corrupt or truncated?): {_first_line(exc)}"
                ) from None
            if not names:
                raise UnsafeCheckpointError(f"{path}: refusing to load this checkpoint safely: {exc}") from exc
            for name in names:
                module, _, qual = name.rpartition(".")
                stub = type(qual, (_InertGlobal,), {"__module__": module})
                placeholders[name] = stub
        except Exception as exc:  # corrupt / truncated / not a checkpoint: RuntimeError, EOFError, KeyError, ...
            raise WeightsError(
                f"{path}: not a readable PyTorch checkpoint (corrupt, truncated or another format?): "
                f"{type(exc).__name__}: {_first_line(exc)}"
            ) from None
    else:  # pragma: no cover - would need a pickle naming >32 globals
        raise WeightsError(f"{path}: too many non-tensor globals in the pickle")
    if not isinstance(obj, dict):
        raise WeightsError(f"{path}: expected a pickled dict, got {type(obj).__name__}")
    return obj


def _first_line(exc: BaseException, width: int = 300) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
    return text if len(text) <= width else text[: width - 3] + "..."


def strip_prefix(state_dict: dict, prefix: str) -> dict:
    """Remove ``prefix`` from every key that has it (e.g. DataParallel's ``module.``)."""
    return {k[len(prefix) :] if k.startswith(prefix) else k: v for k, v in state_dict.items()}
