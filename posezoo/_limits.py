"""Resource bounds: how large a model, sequence, archive member or JSON file posezoo accepts.

Bounds are checked before anything loops over a size or allocates memory for
it; :data:`limits` holds the values in force (``posezoo.limits``), and every
error that a bound raises names the setting to change. See ``docs/security.md``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from typing import Any

__all__ = ["Limits", "limits", "check_parameter_budget", "check_expansion"]


@dataclass
class Limits:
    """Upper bounds applied before looping or allocating (all configurable at run time).

    Attributes:
        max_depth: blocks/layers of a model (``depth``, ``spatial_depth``, ...).
        max_width: channels of a model (``dim``, hidden widths, joints, channels).
        max_model_frames: frames/tokens of a model window (``num_frames``).
        max_parameters: parameters of a model, estimated before it is built.
        max_sequence_frames: frames of a sequence given to windowing and inference helpers.
        max_windows: windows cut from one sequence.
        max_decompressed_bytes: bytes a data or weight file may expand to when read
            (``.npz`` members, HDF5 datasets, zip-format checkpoints), in total.
        max_compression_ratio: how many times larger than its stored size one
            compressed member larger than 16 MiB may expand (real pose data
            compresses a few times; a decompression bomb thousands of times).
        max_json_bytes: size of a JSON file (``config.json``, official configs, ``meta.json``).
        max_json_depth: nesting depth of a JSON document.
    """

    max_depth: int = 256
    max_width: int = 1 << 16
    max_model_frames: int = 1 << 16
    max_parameters: int = 1 << 30
    max_sequence_frames: int = 1 << 24
    max_windows: int = 1 << 20
    max_decompressed_bytes: int = 1 << 32
    max_compression_ratio: int = 200
    max_json_bytes: int = 16 << 20
    max_json_depth: int = 64

    def __post_init__(self) -> None:
        object.__setattr__(self, "_ready", True)

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in {f.name for f in fields(self)}:
            raise AttributeError(f"posezoo.limits has no setting {name!r}")
        if self.__dict__.get("_ready"):  # the defaults need no check (and _validation imports this module)
            from ._validation import check_int

            value = check_int(f"limits.{name}", value)
        super().__setattr__(name, value)


#: The limits in force (see :class:`Limits`); ``posezoo.limits`` is this object.
limits = Limits()
_ENV_DECOMPRESSED = "POSEZOO_MAX_DECOMPRESSED_BYTES"
if os.environ.get(_ENV_DECOMPRESSED, "").strip().isdigit():  # pragma: no cover - environment dependent
    limits.max_decompressed_bytes = int(os.environ[_ENV_DECOMPRESSED].strip())


def check_parameter_budget(what: str, estimate: float) -> None:
    """Refuse a model whose estimated parameter count exceeds :attr:`Limits.max_parameters`."""
    if estimate > limits.max_parameters:
        raise ValueError(
            f"{what} would have about {estimate:.3g} parameters, more than the limit of "
            f"{limits.max_parameters:,} (posezoo.limits.max_parameters); check the width/depth arguments"
        )


_RATIO_FLOOR = 16 << 20  # members smaller than this are never refused for their compression ratio


def check_expansion(where: str, stored: int, expanded: int, total: int = 0) -> int:
    """Refuse a file member that expands beyond the decompression limits; return the new running total.

    Args:
        where: file (and member) name for the message.
        stored: bytes the member occupies in the file.
        expanded: bytes it decompresses to (as declared by the file format).
        total: bytes expanded so far from the same file.
    """
    new_total = total + expanded
    if new_total > limits.max_decompressed_bytes:
        raise ValueError(
            f"{where}: expands to more than {limits.max_decompressed_bytes:,} bytes "
            f"(posezoo.limits.max_decompressed_bytes); refusing to read it. Raise the limit if the file is trusted"
        )
    if expanded > _RATIO_FLOOR and expanded > limits.max_compression_ratio * max(stored, 1):
        raise ValueError(
            f"{where}: {stored:,} stored bytes expand to {expanded:,} bytes, a ratio above "
            f"{limits.max_compression_ratio} (posezoo.limits.max_compression_ratio): a decompression bomb? "
            "Raise the limit if the file is trusted"
        )
    return new_total
