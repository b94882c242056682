"""The CMU motion capture that posezoo trains and tests on (``datasets/cmu_mocap17/``).

The split files live in the repository, not in the wheel (the wheel carries
only the two-clip sample). :func:`cmu_mocap` finds them, in this order:

1. ``root=`` (a folder holding ``mocap17_<split>.npz``);
2. the environment variable ``POSEZOO_CMU_MOCAP`` (same kind of folder);
3. ``datasets/cmu_mocap17/`` of the source checkout this package is imported from.

``split="sample"`` always reads the bundled sample.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Union

import numpy as np

from .mocap import load_clips

__all__ = ["CMU_SPLITS", "ENV_VAR", "cmu_mocap", "cmu_mocap_path"]

#: Split name -> file name. ``train`` + ``extra`` are for training, ``test`` for evaluation only.
CMU_SPLITS: dict[str, str] = {
    "train": "mocap17_train.npz",
    "extra": "mocap17_extra.npz",
    "test": "mocap17_test.npz",
    "sample": "cmu_mocap17.npz",
}
ENV_VAR = "POSEZOO_CMU_MOCAP"
_CHECKOUT_DIR = Path(__file__).resolve().parents[2] / "datasets" / "cmu_mocap17"
_SAMPLES_DIR = Path(__file__).resolve().parent / "samples"


def cmu_mocap_path(split: str, root: Optional[Union[str, os.PathLike]] = None) -> Path:
    """Path of a split's npz file; ``FileNotFoundError`` saying where to get it when absent."""
    if not isinstance(split, str) or split not in CMU_SPLITS:
        raise ValueError(f"split must be one of {sorted(CMU_SPLITS)}, got {split!r}")
    if split == "sample":
        return _SAMPLES_DIR / CMU_SPLITS[split]
    candidates: list[Path] = []
    if root is not None:
        candidates.append(Path(root))
    elif os.environ.get(ENV_VAR):
        candidates.append(Path(os.environ[ENV_VAR]))
    else:
        candidates.append(_CHECKOUT_DIR)
    for folder in candidates:
        path = folder / CMU_SPLITS[split]
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"CMU motion-capture split {split!r} ({CMU_SPLITS[split]}) not found in "
        f"{', '.join(str(c) for c in candidates)}. The split files ship with the posezoo source repository "
        f"(datasets/cmu_mocap17/), not with the wheel: clone the repository, or pass root=FOLDER / set "
        f"{ENV_VAR}=FOLDER to a folder holding {CMU_SPLITS[split]}."
    )


def cmu_mocap(split: str, root: Optional[Union[str, os.PathLike]] = None) -> dict[str, np.ndarray]:
    """Clips of one split: ``{name: (T, 17, 3) float32}``, world frame (Z up), metres, 50 Hz, H36M-17.

    Args:
        split: ``"train"`` (CMU subjects 1, 2, 5, 60), ``"extra"`` (8-14),
            ``"test"`` (6, 7; evaluation only) or ``"sample"`` (two bundled clips).
        root: folder holding the split files (default: ``$POSEZOO_CMU_MOCAP``, else the checkout's
            ``datasets/cmu_mocap17/``).

    Example::

        clips = posezoo.data.cmu_mocap("sample")
        clips["06_01"].shape   # (205, 17, 3)
    """
    return load_clips(cmu_mocap_path(split, root))
