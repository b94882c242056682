"""Plain arrays: ``.npy`` ``(T, J, 2|3)`` and ``.npz`` with ``keypoints`` (+ ``scores``, metadata)."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Optional

import numpy as np

from ..data._safe_npz import load_npy_safe, load_npz_safe
from .keypoints import KeypointSequence, PathLike, guess_layout

__all__ = ["read_array", "save_keypoints_npz"]

_KEYPOINT_KEYS = ("keypoints", "keypoints_2d", "kpts")
_SCORE_KEYS = ("scores", "keypoint_scores", "confidence")


def read_array(
    path: PathLike,
    *,
    layout: Optional[str] = None,
    fps: Optional[float] = None,
    image_size: Optional[tuple[int, int]] = None,
) -> KeypointSequence:
    """Read keypoints saved as arrays (never unpickles anything; sizes bounded by ``posezoo.limits``).

    * ``.npy``: ``(T, J, 2)`` pixels, or ``(T, J, 3)`` with the score last.
    * ``.npz``: ``keypoints`` (or ``keypoints_2d`` / ``kpts``) ``(T, J, 2|3)``,
      optional ``scores`` (or ``keypoint_scores`` / ``confidence``) ``(T, J)``,
      ``image_size`` ``(2,)``, ``fps`` ``()`` and ``layout`` (a string), as
      :func:`save_keypoints_npz` writes.

    Without scores every finite keypoint scores 1; NaN keypoints (frames without
    a detection) score 0. Arguments override what the file says.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such file")
    meta: dict = {}
    if p.suffix == ".npz" and not zipfile.is_zipfile(p):
        raise ValueError(f"{p}: not a readable numpy file (not a .npz zip archive)")
    if p.suffix == ".npy" and _magic(p) != b"\x93NUMPY":
        raise ValueError(f"{p}: not a readable numpy file (no .npy header)")
    if p.suffix == ".npy":
        arr, scores = load_npy_safe(p), None
    elif p.suffix == ".npz":  # bounded like every data file: no pickles, no decompression bombs
        z = load_npz_safe(p, allow_objects=False)
        key = next((k for k in _KEYPOINT_KEYS if k in z), None)
        if key is None:
            raise ValueError(
                f"{p}: no keypoint array; expected one of {', '.join(_KEYPOINT_KEYS)}, "
                f"found {', '.join(z) or 'nothing'}"
            )
        arr = z[key]
        skey = next((k for k in _SCORE_KEYS if k in z), None)
        scores = z[skey] if skey else None
        meta = {k: z[k] for k in ("image_size", "fps", "layout") if k in z}
    else:
        raise ValueError(f"{p}: expected a .npy or .npz file")
    if arr.dtype.kind not in "fiu" or arr.ndim != 3 or arr.shape[-1] not in (2, 3) or not arr.shape[0]:
        raise ValueError(f"{p}: keypoints must be a numeric (T, J, 2) or (T, J, 3) array, got {arr.dtype} {arr.shape}")
    arr = arr.astype(np.float64)
    if scores is None:
        scores = arr[..., 2] if arr.shape[-1] == 3 else np.isfinite(arr).all(-1).astype(np.float64)
    scores = np.asarray(scores)
    if scores.dtype.kind not in "fiu" or scores.shape != arr.shape[:2]:
        raise ValueError(f"{p}: scores must be a numeric {arr.shape[:2]} array, got {scores.dtype} {scores.shape}")
    try:
        if layout is None and "layout" in meta:
            layout = str(meta["layout"].reshape(()))
        if image_size is None and "image_size" in meta:
            image_size = tuple(float(v) for v in meta["image_size"].reshape(2))
        if fps is None and "fps" in meta:
            fps = float(meta["fps"].reshape(()))
    except (TypeError, ValueError):
        raise ValueError(
            f"{p}: 'layout' must be a string, 'image_size' two numbers (w, h) and 'fps' one "
            f"number; got { ({k: (v.dtype.str, v.shape) for k, v in meta.items()}) }"
        ) from None
    return KeypointSequence(
        arr[..., :2], scores, guess_layout(arr.shape[1], layout, str(p)), image_size=image_size, fps=fps, source=str(p)
    )


def save_keypoints_npz(path: PathLike, sequence: KeypointSequence) -> Path:
    """Write a :class:`KeypointSequence` as a ``.npz`` that :func:`read_array` reads back."""
    p = Path(path)
    extra = {}
    if sequence.image_size is not None:
        extra["image_size"] = np.asarray(sequence.image_size, dtype=np.int64)
    if sequence.fps is not None:
        extra["fps"] = np.asarray(sequence.fps, dtype=np.float64)
    np.savez(p, keypoints=sequence.keypoints, scores=sequence.scores, layout=np.asarray(sequence.layout), **extra)
    return p if p.suffix == ".npz" else p.with_name(p.name + ".npz")


def _magic(path: Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(6)
