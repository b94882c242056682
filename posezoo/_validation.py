"""Argument checks shared across posezoo (one wording for every module)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["check_int"]


def check_int(name: str, value: Any, minimum: int = 1, *, numpy_ok: bool = False) -> int:
    """Return ``value`` as an ``int`` if it is an integer ``>= minimum``, else raise ``ValueError``.

    ``bool`` is refused. numpy integers are accepted only with ``numpy_ok=True``
    (user-facing helpers taking lengths); model constructors leave it off so
    that their recorded kwargs stay JSON-serialisable.
    """
    kinds = (int, np.integer) if numpy_ok else (int,)
    if isinstance(value, bool) or not isinstance(value, kinds) or value < minimum:
        bound = "a positive int" if minimum == 1 else f"an int >= {minimum}"
        raise ValueError(f"{name} must be {bound}, got {value!r}")
    return int(value)
