"""The motion-capture sample bundled with posezoo (``posezoo/data/samples/``).

Two short CMU clips (licence and attribution in ``samples/ATTRIBUTION.txt``),
each with a fixed virtual camera so that the 2D projection is reproducible.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from .camera import Camera
from .mocap import load_clips

__all__ = ["Sample", "list_samples", "load_sample", "SAMPLES_DIR"]

SAMPLES_DIR = Path(__file__).resolve().parent / "samples"


@dataclass(frozen=True)
class Sample:
    """A bundled clip and its view through a fixed virtual camera.

    Attributes:
        name: clip name (CMU ``<subject>_<trial>``).
        description: what the performer does.
        fps: frame rate (50).
        poses_world: ``(T, 17, 3)`` float32, world frame (Z up), metres, H36M-17.
        pose_3d: ``(T, 17, 3)`` float32, camera frame, metres, root-relative.
        keypoints_2d_px: ``(T, 17, 2)`` float32 pixel coordinates.
        keypoints_2d: ``(T, 17, 2)`` float32 normalised screen coordinates.
        camera: the :class:`~posezoo.data.camera.Camera` (pixels / metres).
        image_size: ``(w, h)`` pixels.
        attribution: the licence / attribution text that goes with the data.
    """

    name: str
    description: str
    fps: int
    poses_world: np.ndarray
    pose_3d: np.ndarray
    keypoints_2d_px: np.ndarray
    keypoints_2d: np.ndarray
    camera: Camera
    image_size: tuple[int, int]
    attribution: str


@lru_cache(maxsize=1)
def _index() -> dict[str, Any]:
    with open(SAMPLES_DIR / "samples.json", encoding="utf-8") as f:
        return json.load(f)


def list_samples() -> list[str]:
    """Names accepted by :func:`load_sample`."""
    return sorted(_index()["clips"])


def load_sample(name: str = "06_01") -> Sample:
    """Load a bundled clip with its 3D poses, 2D projection and camera.

    Example::

        s = posezoo.data.load_sample("06_01")
        s.keypoints_2d_px.shape   # (205, 17, 2)
    """
    index = _index()
    if name not in index["clips"]:
        raise ValueError(f"unknown sample {name!r}; samples: {', '.join(list_samples())}")
    entry = index["clips"][name]
    world = load_clips(SAMPLES_DIR / index["file"])[name]
    camera = Camera.from_dict(entry["camera"])
    cam3d = camera.world_to_camera(world.astype(np.float64))
    pixels = camera.project(cam3d)
    w, h = int(camera.res_w), int(camera.res_h)
    return Sample(
        name=name,
        description=entry["description"],
        fps=int(index["frame_rate_hz"]),
        poses_world=world,
        pose_3d=(cam3d - cam3d[:, :1]).astype(np.float32),
        keypoints_2d_px=pixels.astype(np.float32),
        keypoints_2d=camera.normalize(pixels).astype(np.float32),
        camera=camera,
        image_size=(w, h),
        attribution=(SAMPLES_DIR / "ATTRIBUTION.txt").read_text(encoding="utf-8"),
    )
