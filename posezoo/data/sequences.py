"""Sources of pose sequences that the window datasets of :mod:`posezoo.data.windows` read frames from.

A source has ``__len__`` (number of sequences), ``sequence_length(index)`` and
``window(index, frames, rng)`` (per-frame fields at the given frames):
:class:`PoseSequences` holds arrays in memory;
:class:`posezoo.data.mocap.VirtualCameraPairs` renders 3D motion through random
virtual cameras. Both names are also importable from :mod:`posezoo.data.windows`.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Protocol, Sequence

import numpy as np
import torch

__all__ = ["SequenceSource", "PoseSequences"]


class SequenceSource(Protocol):
    """What the window datasets read frames from."""

    def __len__(self) -> int: ...

    def sequence_length(self, index: int) -> int: ...

    def window(self, index: int, frames: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Per-frame fields of sequence ``index`` at ``frames`` (already clipped to the sequence)."""
        ...


class PoseSequences:
    """In-memory sequences: a list of dicts of per-frame arrays ``(T, ...)`` (e.g. :func:`h36m_sequences`).

    Every array field whose first axis has the sequence length is windowed
    (``keypoints_2d``, ``pose_3d``, ``confidence``, ...); other entries (names,
    camera ids) are ignored by the datasets. All sequences must hold the same
    per-frame fields.
    """

    def __init__(self, sequences: Sequence[Mapping[str, Any]], length_key: Optional[str] = None) -> None:
        if len(sequences) == 0:
            raise ValueError("PoseSequences needs at least one sequence")
        self._fields: list[dict[str, np.ndarray]] = []
        self._lengths: list[int] = []
        keys = None
        for i, seq in enumerate(sequences):
            arrays = {k: np.asarray(v) for k, v in seq.items() if isinstance(v, (np.ndarray, torch.Tensor))}
            if not arrays:
                raise ValueError(f"sequence {i} holds no arrays")
            key = length_key or next(iter(arrays))
            if key not in arrays:
                raise ValueError(f"sequence {i} has no field {key!r}")
            length = int(arrays[key].shape[0])
            if length < 1:
                raise ValueError(f"sequence {i} is empty")
            for k, v in arrays.items():
                if v.ndim == 0 or v.shape[0] != length:
                    raise ValueError(
                        f"sequence {i}: field {k!r} has shape {v.shape}, expected {length} frames like {key!r}"
                    )
            if keys is None:
                keys = set(arrays)
            elif set(arrays) != keys:
                raise ValueError(f"sequence {i} has fields {sorted(arrays)}, sequence 0 has {sorted(keys)}")
            self._fields.append(arrays)
            self._lengths.append(length)

    def __len__(self) -> int:
        return len(self._fields)

    def sequence_length(self, index: int) -> int:
        return self._lengths[index]

    def window(self, index: int, frames: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
        return {k: v[frames] for k, v in self._fields[index].items()}
