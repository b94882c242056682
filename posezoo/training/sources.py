"""World-frame motion capture seen through static virtual cameras: the training source of every recipe.

:class:`MocapViews` implements the window-source protocol of
:mod:`posezoo.data.windows` (``__len__``, ``sequence_length``, ``window``), so
``Seq2SeqWindows(MocapViews(clips), 27)`` gives lifting windows,
``UpliftUpsampleWindows(MocapViews(clips), ...)`` keyframe windows and
``MixSynthWindows(MocapViews(clips), ...)`` refinement windows.

Per window: the body's bone lengths are re-drawn (:class:`BoneScale`), a camera
is drawn that stays still **over the whole clip** (:class:`StaticCameraSampler`:
the window sees the subject wherever it is in the clip, off-axis and at any
depth), the 2D keypoints get detector-like noise (:class:`NoiseProfile`).
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np

from ..data.camera import Camera
from ..data.mocap import camera_view
from .augment import BoneScale, NoiseProfile
from .cameras import StaticCameraSampler

__all__ = ["MocapViews", "split_clips", "held_out"]


class MocapViews:
    """Windows of world-frame clips as ``(2D, 3D)`` pairs through static virtual cameras.

    Args:
        clips: ``{name: (T, J, 3)}`` or a list of arrays: world frame, Z up, metres, H36M-17.
        cameras: camera distribution (default :class:`StaticCameraSampler`).
        noise: detector model for the 2D (``None``: clean 2D).
        bones: bone-length augmentation (``None``: the clips' own body).
        root: root joint (pelvis) for root-relative 3D.

    ``window(index, frames, rng)`` returns float32 arrays: ``keypoints_2d``
    ``(F, J, 2)`` normalised screen coordinates; ``pose_3d`` ``(F, J, 3)``
    root-relative camera frame, metres; ``confidence`` ``(F, J)``;
    ``camera_intrinsics`` ``(9,)``; ``image_size`` ``(2,)`` pixels.
    """

    def __init__(
        self,
        clips: Union[Mapping[str, np.ndarray], Sequence[np.ndarray]],
        cameras: Optional[StaticCameraSampler] = None,
        noise: Optional[NoiseProfile] = None,
        bones: Optional[BoneScale] = None,
        root: int = 0,
    ) -> None:
        items = list(clips.items()) if isinstance(clips, Mapping) else [(str(i), c) for i, c in enumerate(clips)]
        if not items:
            raise ValueError("no clips given")
        self.names = [n for n, _ in items]
        self.clips = []
        for name, clip in items:
            arr = np.asarray(clip, dtype=np.float64)
            if arr.ndim != 3 or arr.shape[-1] != 3 or arr.shape[0] < 1:
                raise ValueError(f"clip {name!r} must be (T >= 1, J, 3) world metres, got {arr.shape}")
            if not np.isfinite(arr).all():
                raise ValueError(f"clip {name!r} holds non-finite values")
            self.clips.append(arr)
        self.cameras = cameras or StaticCameraSampler()
        self.noise = noise
        self.bones = bones
        self.root = int(root)

    def __len__(self) -> int:
        return len(self.clips)

    def sequence_length(self, index: int) -> int:
        return int(self.clips[index].shape[0])

    def camera(self, index: int, rng: np.random.Generator) -> Camera:
        """A static camera for the whole clip ``index``."""
        return self.cameras.sample(self.clips[index], rng)

    def window(self, index: int, frames: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
        cam = self.camera(index, rng)
        world = self.clips[index][np.asarray(frames)]
        if self.bones is not None:
            world = self.bones(world, rng)
        return self.view(world, cam, rng)

    def view(self, world: np.ndarray, cam: Camera, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """``world`` ``(F, J, 3)`` through ``cam``, with this source's noise."""
        return camera_view(world, cam, self.noise, rng, root=self.root, distort=False)


def held_out(keys: Sequence[Any], val_fraction: float, seed: int, what: str) -> set:
    """The seeded validation part of ``keys`` (sorted, unique): ``round(val_fraction * len)`` of them, at least one.

    One draw for every source, so clips (:func:`split_clips`) and H36M takes
    (:func:`~posezoo.training.h36m_source.split_sequences`) are held out alike; ``what`` names the keys in errors.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must lie in (0, 1), got {val_fraction}")
    if len(keys) < 2:
        raise ValueError(f"need at least 2 {what} to hold one out, got {len(keys)}")
    rng = np.random.default_rng(seed)
    n_val = max(1, int(round(val_fraction * len(keys))))
    return {keys[i] for i in rng.choice(len(keys), size=n_val, replace=False).tolist()}


def split_clips(
    clips: Mapping[str, np.ndarray], val_fraction: float = 0.1, seed: int = 0
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Split clips into ``(train, val)`` by clip (never a clip on both sides); deterministic in ``seed``."""
    names = sorted(clips)
    val = held_out(names, val_fraction, seed, "clips")
    return {n: clips[n] for n in names if n not in val}, {n: clips[n] for n in names if n in val}
