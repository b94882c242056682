"""The single entry point for official checkpoints of every family.

Each family registers a converter::

    @register_converter("rtpca", suffixes=(".bin", ".pth", ".pt"))
    def convert_rtpca(path, config, joint_order) -> OfficialConversion: ...

``from_official(family, checkpoint, config=None, joint_order="h36m")`` runs
it and returns an eval-mode posezoo model whose outputs equal the official
model's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Union

import torch
from torch import nn

from ..models._weights import WeightsError

__all__ = [
    "OfficialConversion",
    "register_converter",
    "list_converters",
    "from_official",
    "convert_official",
    "is_official_checkpoint",
    "converter_accepts_model_config",
]

PathLike = Union[str, os.PathLike]


@dataclass
class OfficialConversion:
    """Result of converting an official checkpoint.

    Attributes:
        model_cls: posezoo class that reproduces the official model.
        arch_kwargs: constructor kwargs that define the architecture (inferred
            from tensor shapes or taken from ``config``).
        compat_kwargs: kwargs that switch on official quirks needed for parity
            (e.g. ``official_compat=True``); not part of the architecture.
        state_dict: weights in posezoo naming; every tensor is consumed.
        dropped_keys: official keys that were intentionally not converted
            (parameters the official forward pass never uses).
        meta: anything else worth keeping (epoch, reported metrics, ...).
    """

    model_cls: type
    arch_kwargs: dict[str, Any]
    state_dict: dict[str, torch.Tensor]
    compat_kwargs: dict[str, Any] = field(default_factory=dict)
    dropped_keys: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def kwargs(self) -> dict[str, Any]:
        return {**self.arch_kwargs, **self.compat_kwargs}


Converter = Callable[[Path, Optional[Union[Mapping, PathLike]], str], OfficialConversion]


@dataclass(frozen=True)
class _ConverterEntry:
    fn: Converter
    suffixes: tuple[str, ...]
    accepts_model_config: bool = False


_CONVERTERS: dict[str, _ConverterEntry] = {}


def register_converter(
    family: str, suffixes: tuple[str, ...] = (), accepts_model_config: bool = False
) -> Callable[[Converter], Converter]:
    """Register ``fn(path, config, joint_order) -> OfficialConversion`` for ``family``.

    ``suffixes`` are the file endings of that family's official checkpoints
    (used to recognise an official file passed as ``pretrained=``).
    ``accepts_model_config``: the converter also understands posezoo
    constructor kwargs as ``config``; ``create_model(variant, pretrained=path)``
    then passes the variant's kwargs (and their ``joint_order``) instead of
    ``config=None``. Needed where the architecture cannot be inferred from
    the checkpoint alone.
    """

    def decorator(fn: Converter) -> Converter:
        _CONVERTERS[family] = _ConverterEntry(fn, tuple(s.lower() for s in suffixes), accepts_model_config)
        return fn

    return decorator


def converter_accepts_model_config(family: str) -> bool:
    """Whether ``family``'s converter takes posezoo constructor kwargs as ``config``."""
    entry = _CONVERTERS.get(family)
    return entry is not None and entry.accepts_model_config


def list_converters() -> list[str]:
    """Families that have an official-checkpoint converter."""
    return sorted(_CONVERTERS)


def is_official_checkpoint(path: PathLike, family: str) -> bool:
    """Whether ``path`` looks like an official checkpoint of ``family`` (by file ending)."""
    entry = _CONVERTERS.get(family)
    name = Path(path).name.lower()
    return entry is not None and any(name.endswith(s) for s in entry.suffixes)


def convert_official(
    family: str,
    checkpoint: PathLike,
    config: Optional[Union[Mapping, PathLike]] = None,
    joint_order: str = "h36m",
) -> OfficialConversion:
    """Convert an official checkpoint into posezoo naming without building a model.

    Every failure is a ``FileNotFoundError`` (no such file), a ``TypeError`` /
    ``ValueError`` about the arguments or the config, or a
    :class:`~posezoo.WeightsError` naming the file and what was expected; the raw
    errors of the readers (zip, pickle, HDF5) never escape.
    """
    if not isinstance(family, str) or family not in _CONVERTERS:
        raise ValueError(
            f"no official-checkpoint converter for family {family!r}; available: {', '.join(list_converters()) or 'none'}"
        )
    if not isinstance(checkpoint, (str, os.PathLike)):
        raise TypeError(f"checkpoint must be a path, got {type(checkpoint).__name__}")
    if not isinstance(joint_order, str):
        raise TypeError(f"joint_order must be a str ('h36m' or 'official'), got {type(joint_order).__name__}")
    path = Path(checkpoint)
    if not path.is_file():
        raise FileNotFoundError(f"official checkpoint not found: {path}")
    try:
        return _CONVERTERS[family].fn(path, config, joint_order)
    except WeightsError:
        raise
    except ValueError as exc:  # a file or config problem: a WeightsError (still a ValueError) naming the file
        raise WeightsError(str(exc) if str(path) in str(exc) else f"{path}: {exc}") from exc
    except (TypeError, FileNotFoundError, ImportError):
        raise  # already clean
    except (ArithmeticError, LookupError, AttributeError, RuntimeError, EOFError, OSError, RecursionError) as exc:
        raise WeightsError(
            f"{path}: cannot convert this {family} checkpoint (with config {_describe(config)}): "
            f"{type(exc).__name__}: {exc}"
        ) from exc


def _describe(config: Any) -> str:
    text = repr(config) if not isinstance(config, Mapping) else "{" + ", ".join(map(repr, list(config)[:8])) + ", ...}"
    return text if len(text) <= 120 else text[:117] + "..."


def from_official(
    family: str,
    checkpoint: PathLike,
    config: Optional[Union[Mapping, PathLike]] = None,
    joint_order: str = "h36m",
) -> nn.Module:
    """Build a posezoo model from an official checkpoint of ``family``.

    Args:
        family: ``"rtpca"``, ``"mixste"``, ``"uplift_upsample"`` or ``"mixsynthformer"``.
        checkpoint: path of the official file (read safely, never with
            ``weights_only=False``).
        config: official constructor kwargs (dict or JSON file) where the
            architecture cannot be inferred from tensor shapes alone.
        joint_order: ``"h36m"`` (posezoo default) or ``"official"`` where the
            official code uses another joint order.

    Returns:
        The model in eval mode, with ``pretrained_cfg["source"]`` naming the file.
    """
    from ..models._weights import load_state_dict_checked

    conv = convert_official(family, checkpoint, config, joint_order)
    try:
        model = conv.model_cls(**conv.kwargs)
    except (TypeError, ValueError) as exc:
        raise WeightsError(f"{checkpoint}: the checkpoint describes a model posezoo refuses to build: {exc}") from exc
    load_state_dict_checked(model, conv.state_dict, strict=True)
    model.pretrained_cfg = {
        "tag": None,
        "source": f"official:{Path(checkpoint)}",
        "family": family,
        "joint_order": joint_order,
        "dropped_official_keys": list(conv.dropped_keys),
        **conv.meta,
    }
    return model.eval()
