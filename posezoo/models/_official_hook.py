"""The builder's hook for official checkpoints: ``posezoo.convert`` registers itself here.

Models never import the conversion code (layers <- models <- convert): when
``posezoo.convert`` is imported (``import posezoo`` does it), it calls
:func:`register_official_loader` with its three entry points, and
``create_model(name, pretrained=<official file>)`` uses them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

__all__ = ["OfficialLoader", "register_official_loader", "official_loader"]


@dataclass(frozen=True)
class OfficialLoader:
    """What the builder needs from a converter package.

    Attributes:
        is_official: ``(path, family) -> bool``: does the file look like an official checkpoint?
        convert: ``(family, path, config=None, joint_order="h36m") -> conversion`` with
            ``state_dict``, ``arch_kwargs``, ``compat_kwargs`` and ``kwargs``.
        accepts_model_config: ``family -> bool``: the converter takes posezoo kwargs as ``config``.
    """

    is_official: Callable[..., bool]
    convert: Callable[..., Any]
    accepts_model_config: Callable[[str], bool]


_LOADER: Optional[OfficialLoader] = None


def register_official_loader(loader: OfficialLoader) -> None:
    """Install the converter package's entry points (the last registration wins)."""
    if not isinstance(loader, OfficialLoader):
        raise TypeError(f"expected an OfficialLoader, got {type(loader).__name__}")
    global _LOADER
    _LOADER = loader


def official_loader() -> OfficialLoader:
    """The registered loader; ``RuntimeError`` if ``posezoo.convert`` was never imported."""
    if _LOADER is None:
        raise RuntimeError("no official-checkpoint converter is registered; import posezoo.convert first")
    return _LOADER
