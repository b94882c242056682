"""Tiny Human3.6M files in the exact VideoPose3D format, for the tests of the readers, training and eval."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Optional

import numpy as np

from posezoo.data.h36m import H36M_32_TO_17, h36m_camera

#: (subject, action key) -> frames of the files written by default.
LENGTHS = {("S1", "Walking 1"): 40, ("S1", "Directions"): 25, ("S9", "SittingDown 2"): 31}
METADATA = {
    "layout_name": "h36m",
    "num_joints": 17,
    "keypoints_symmetry": [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]],
}


def world_motion(length: int, seed: int) -> np.ndarray:
    """(T, 32, 3) metres around (0, 0, 1) in the H36M capture area."""
    rng = np.random.default_rng(seed)
    base = rng.normal(scale=0.3, size=(1, 32, 3)) + [0.0, 0.0, 1.0]
    drift = np.linspace(0, 0.5, length)[:, None, None] * [1.0, 0.5, 0.0]
    return (base + drift + rng.normal(scale=0.01, size=(length, 32, 3))).astype(np.float32)


def write_h36m_files(
    folder: Path,
    lengths: Mapping[tuple[str, str], int] = LENGTHS,
    source: str = "gt",
    extra_frames: Optional[tuple[str, str, int]] = ("S1", "Walking 1", 2),
    pixel_noise: float = 0.0,
) -> tuple[Path, Path, dict]:
    """Write ``data_3d_h36m.npz`` and ``data_2d_h36m_<source>.npz`` into ``folder``.

    The 2D are the distorted projections of the 3D through each subject's H36M cameras (plus
    Gaussian ``pixel_noise`` in pixels, a stand-in for a detector); the camera ``extra_frames`` names
    gets 3 frames more than the mocap, as some detector files have. Returns
    ``(path_3d, path_2d, positions_3d)`` (32 joints, world metres).
    """
    rng = np.random.default_rng(123)
    positions_3d: dict = {}
    positions_2d: dict = {}
    for i, ((subject, action), length) in enumerate(lengths.items()):
        world = world_motion(length, i)
        positions_3d.setdefault(subject, {})[action] = world
        per_cam = []
        for cam in range(4):
            c = h36m_camera(subject, cam)
            px = c.project_world(world[:, list(H36M_32_TO_17)].astype(np.float64))
            if pixel_noise:
                px = px + rng.normal(scale=pixel_noise, size=px.shape)
            px = px.astype(np.float32)
            if extra_frames == (subject, action, cam):
                px = np.concatenate([px, px[-3:] + 1.0])
            per_cam.append(px)
        positions_2d.setdefault(subject, {})[action] = per_cam
    # exactly as VideoPose3D's prepare_data_h36m.py writes them
    folder.mkdir(parents=True, exist_ok=True)
    path_3d = folder / "data_3d_h36m.npz"
    np.savez_compressed(path_3d, positions_3d=positions_3d)
    path_2d = folder / f"data_2d_h36m_{source}.npz"
    np.savez_compressed(path_2d, positions_2d=positions_2d, metadata=METADATA)
    return path_3d, path_2d, positions_3d
