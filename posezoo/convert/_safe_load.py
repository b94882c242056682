"""Reading pickled official checkpoints without executing pickled code."""

from __future__ import annotations

import os
import pickle
from typing import Any, Union

import torch

__all__ = ["load_pickled_checkpoint", "strip_prefix"]


class _InertGlobal:
    """Stand-in for a pickled global that is not a tensor type (e.g. numpy RandomState).

    It records nothing and can be called or have state set on it; the data it
    stands for is discarded.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        pass

    def __call__(self, *args: Any, **kwargs: Any) -> "_InertGlobal":
        return _InertGlobal()


def _inert_globals_from_error(message: str) -> list[str]:
    import re

    return re.findall(r"GLOBAL ([\w.]+) was not an allowed global", message)


def load_pickled_checkpoint(path: Union[str, os.PathLike]) -> dict:
    """``torch.load(path, weights_only=True)``, tolerating non-tensor globals.

    Official RTPCA/MixSTE checkpoints pickle a ``numpy.random.RandomState``
    beside the weights, which ``weights_only=True`` refuses. Each global that
    the safe unpickler refuses is replaced by an inert placeholder class
    (never the real object, never ``weights_only=False``), and the load is
    retried. Tensors and plain containers load as usual. Globals from modules
    that torch blocks outright (``os``, ``sys``, ...) make the file fail to
    load with ``pickle.UnpicklingError``: such a file is not a checkpoint.
    """
    placeholders: dict[str, type] = {}
    for _ in range(32):
        try:
            with torch.serialization.safe_globals([(stub, name) for name, stub in placeholders.items()]):
                obj = torch.load(path, map_location="cpu", weights_only=True)
            break
        except pickle.UnpicklingError as exc:
            names = [n for n in _inert_globals_from_error(str(exc)) if n not in placeholders]
            if not names:
                raise pickle.UnpicklingError(
                    f"{path}: refusing to load this checkpoint safely: {exc}"
                ) from exc
            for name in names:
                module, _, qual = name.rpartition(".")
                stub = type(qual, (_InertGlobal,), {"__module__": module})
                placeholders[name] = stub
    else:  # pragma: no cover - would need a pickle naming >32 globals
        raise RuntimeError(f"{path}: too many non-tensor globals in the pickle")
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: expected a pickled dict, got {type(obj).__name__}")
    return obj


def strip_prefix(state_dict: dict, prefix: str) -> dict:
    """Remove ``prefix`` from every key that has it (e.g. DataParallel's ``module.``)."""
    return {k[len(prefix):] if k.startswith(prefix) else k: v for k, v in state_dict.items()}
