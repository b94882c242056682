"""Human3.6M (VideoPose3D files) as a training source: real ``(2D, 3D)`` pairs per subject, action, camera.

:class:`PairedSequences` implements the same window-source protocol as
:class:`~posezoo.training.MocapViews` (``__len__``, ``sequence_length``,
``window``), so every recipe trains from it unchanged: the 2D are the file's own
keypoints (CPN detections or ground-truth projections, no virtual camera), the
3D the camera-frame, root-relative mocap of the same camera.

:func:`load_h36m_dir` finds ``data_3d_h36m.npz`` and ``data_2d_h36m_<source>.npz``
in a folder (as VideoPose3D's ``prepare_data_h36m.py`` writes them) and returns
the sequences of :func:`posezoo.data.h36m.h36m_sequences`;
:func:`split_sequences` holds out whole takes (subject + action, all cameras).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

import numpy as np

from ..data.camera import image_coordinates, normalize_screen_coordinates
from ..data.h36m import H36M_SUBJECTS, H36M_TRAIN_SUBJECTS, h36m_camera, h36m_sequences, load_h36m_2d, load_h36m_3d
from .augment import NoiseProfile
from .sources import held_out

__all__ = ["PairedSequences", "load_h36m_dir", "h36m_files", "split_sequences", "sequence_name", "DEFAULT_H36M_2D"]

#: The 2D source of the papers' main tables (CPN detections fine-tuned on H36M).
DEFAULT_H36M_2D = "cpn_ft_h36m_dbb"
FILE_3D = "data_3d_h36m.npz"


def sequence_name(seq: Mapping[str, Any]) -> str:
    """``"S1/Walking 1/54138969"``: subject, file action key and camera id of one sequence."""
    return f"{seq['subject']}/{seq['action']}/{seq['camera']}"


def h36m_files(directory: Union[str, os.PathLike], source: str = DEFAULT_H36M_2D) -> tuple[Path, Path]:
    """``(data_3d_h36m.npz, data_2d_h36m_<source>.npz)`` in ``directory``; ``FileNotFoundError`` lists what is there."""
    folder = Path(directory)
    if not folder.is_dir():
        raise FileNotFoundError(f"--h36m {folder}: not a folder (expected the VideoPose3D data folder)")
    if not isinstance(source, str) or not source or "/" in source or "\\" in source:
        raise ValueError(f"the 2D source must be a name such as 'cpn_ft_h36m_dbb' or 'gt', got {source!r}")
    path_3d, path_2d = folder / FILE_3D, folder / f"data_2d_h36m_{source}.npz"
    missing = [p.name for p in (path_3d, path_2d) if not p.is_file()]
    if missing:
        found = sorted(p.name for p in folder.glob("*.npz"))
        sources = [n[len("data_2d_h36m_") : -4] for n in found if n.startswith("data_2d_h36m_")]
        raise FileNotFoundError(
            f"{folder}: missing {', '.join(missing)}; found {', '.join(found) or 'no .npz files'}"
            f" (2D sources here: {', '.join(sources) or 'none'}). Make them with VideoPose3D's "
            "prepare_data_h36m.py; posezoo does not ship Human3.6M."
        )
    return path_3d, path_2d


def load_h36m_dir(
    directory: Union[str, os.PathLike],
    source: str = DEFAULT_H36M_2D,
    subjects: Iterable[str] = H36M_TRAIN_SUBJECTS,
    actions: Optional[Iterable[str]] = None,
    cameras: Iterable[Union[int, str]] = (0, 1, 2, 3),
) -> list[dict[str, Any]]:
    """The (subject, action, camera) sequences of the VideoPose3D files in ``directory``.

    Args:
        directory: folder with ``data_3d_h36m.npz`` and ``data_2d_h36m_<source>.npz``.
        source: the 2D file's ``<source>`` (``cpn_ft_h36m_dbb``, ``gt``, ``detectron_ft_h36m``, ...).
        subjects: e.g. ``("S1", "S5", "S6", "S7", "S8")`` (training) or ``("S9", "S11")`` (test).
        actions: canonical action names (``"Walking"``, ...; see :func:`posezoo.data.h36m.action_name`).

    Returns:
        :func:`posezoo.data.h36m.h36m_sequences` dicts: ``keypoints_2d`` ``(T, 17, 2)`` normalised,
        ``pose_3d`` ``(T, 17, 3)`` camera frame, root-relative, metres, ``confidence`` ``(T, 17)``,
        ``subject``, ``action``, ``camera``.
    """
    subjects = list(subjects)
    unknown = [s for s in subjects if s not in H36M_SUBJECTS]
    if unknown or not subjects:
        raise ValueError(f"unknown H36M subjects {unknown or subjects}; subjects: {', '.join(H36M_SUBJECTS)}")
    path_3d, path_2d = h36m_files(directory, source)
    positions_3d = load_h36m_3d(path_3d)
    positions_2d, _ = load_h36m_2d(path_2d)
    missing = [s for s in subjects if s not in positions_2d]
    if missing:
        raise ValueError(f"{path_2d}: no 2D keypoints for subjects {missing}; has {', '.join(positions_2d)}")
    seqs = h36m_sequences(positions_3d, positions_2d, subjects=subjects, actions=actions, cameras=cameras)
    if not seqs:
        raise ValueError(f"no H36M sequences for subjects {subjects} and actions {list(actions or [])}")
    return seqs


def split_sequences(
    sequences: Sequence[Mapping[str, Any]], val_fraction: float = 0.1, seed: int = 0
) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """``(train, val)`` by take (subject + action key): all cameras of a take fall on one side; seeded."""
    takes = sorted({(s["subject"], s["action"]) for s in sequences})
    held = held_out(takes, val_fraction, seed, "takes (subject/action)")
    train = [s for s in sequences if (s["subject"], s["action"]) not in held]
    val = [s for s in sequences if (s["subject"], s["action"]) in held]
    return train, val


class PairedSequences:
    """Windows of real ``(2D, 3D)`` sequences (e.g. :func:`load_h36m_dir`): a training source.

    Args:
        sequences: dicts with ``keypoints_2d`` ``(T, J, 2)`` normalised screen coordinates,
            ``pose_3d`` ``(T, J, 3)`` camera frame, root-relative, metres, optional ``confidence``
            ``(T, J)`` (default ones), ``subject`` and ``camera`` (the H36M camera, for the
            intrinsics and image size).
        noise: optional detector model added to the 2D (off by default: detector 2D is already noisy).

    ``window(index, frames, rng)`` returns float32 ``keypoints_2d`` ``(F, J, 2)``, ``pose_3d``
    ``(F, J, 3)``, ``confidence`` ``(F, J)``, ``camera_intrinsics`` ``(9,)`` (pixels) and
    ``image_size`` ``(2,)``, as :class:`~posezoo.training.MocapViews` does.
    """

    def __init__(self, sequences: Sequence[Mapping[str, Any]], noise: Optional[NoiseProfile] = None) -> None:
        if len(sequences) == 0:
            raise ValueError("no sequences given")
        self.names, self.keypoints, self.poses, self.confidences, self.cameras = [], [], [], [], []
        for i, seq in enumerate(sequences):
            name = sequence_name(seq) if {"subject", "action", "camera"} <= set(seq) else str(i)
            kp = np.asarray(seq["keypoints_2d"], dtype=np.float32)
            pose = np.asarray(seq["pose_3d"], dtype=np.float32)
            if kp.ndim != 3 or kp.shape[-1] != 2 or pose.shape != (*kp.shape[:2], 3) or kp.shape[0] < 1:
                raise ValueError(
                    f"sequence {name}: expected keypoints_2d (T, J, 2) and pose_3d (T, J, 3), "
                    f"got {kp.shape} and {pose.shape}"
                )
            conf = seq.get("confidence")
            conf = np.ones(kp.shape[:2], np.float32) if conf is None else np.asarray(conf, dtype=np.float32)
            if conf.shape != kp.shape[:2]:
                raise ValueError(f"sequence {name}: confidence must be {kp.shape[:2]}, got {conf.shape}")
            if not (np.isfinite(kp).all() and np.isfinite(pose).all()):
                raise ValueError(f"sequence {name} holds non-finite values")
            self.names.append(name)
            self.keypoints.append(kp)
            self.poses.append(pose)
            self.confidences.append(conf)
            self.cameras.append(h36m_camera(str(seq["subject"]), str(seq["camera"])))
        self.noise = noise

    def __len__(self) -> int:
        return len(self.poses)

    def sequence_length(self, index: int) -> int:
        return int(self.poses[index].shape[0])

    def window(self, index: int, frames: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
        frames = np.asarray(frames)
        cam = self.cameras[index]
        kp, conf = self.keypoints[index][frames], self.confidences[index][frames]
        if self.noise is not None:
            w, h = float(cam.res_w), float(cam.res_h)
            pixels, noise_conf = self.noise(image_coordinates(kp.astype(np.float64), w, h), rng)
            kp = normalize_screen_coordinates(pixels, w, h).astype(np.float32)
            conf = (conf * noise_conf).astype(np.float32)
        return {
            "keypoints_2d": kp,
            "pose_3d": self.poses[index][frames],
            "confidence": conf,
            "camera_intrinsics": cam.intrinsics().astype(np.float32),
            "image_size": np.array([float(cam.res_w), float(cam.res_h)], dtype=np.float32),
        }
