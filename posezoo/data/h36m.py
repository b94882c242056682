"""Human3.6M in the VideoPose3D file format: readers, cameras, splits, actions.

Files (made by VideoPose3D's ``prepare_data_h36m.py`` and used by MixSTE,
RTPCA, Uplift-and-Upsample and most lifting papers; posezoo does not ship them):

* ``data_3d_h36m.npz``: key ``positions_3d`` = ``{subject: {action: (T, 32, 3)}}``,
  world frame (Z up), **metres**, 50 Hz, all 32 mocap joints.
* ``data_2d_h36m_<source>.npz`` (``gt``, ``cpn_ft_h36m_dbb``, ``detectron_ft_h36m``,
  ...): key ``positions_2d`` = ``{subject: {action: [cam0, cam1, cam2, cam3]}}`` with
  per-camera ``(T, J, 2)`` arrays in **pixels** (cameras in :data:`H36M_CAMERA_IDS`
  order), and key ``metadata`` = ``{"layout_name": "h36m", "num_joints": 17,
  "keypoints_symmetry": [left, right]}``.

Both store dicts as pickled object arrays; :func:`load_h36m_3d` and
:func:`load_h36m_2d` read them with a restricted unpickler (numpy arrays and
plain containers only), never with ``allow_pickle=True``.

Lengths: the 2D sequences of some detector files are a few frames longer than
the mocap (some videos have extra frames at the end). The field (VideoPose3D's
``run.py``, and the code bases derived from it) keeps the first ``T_3d`` 2D
frames, i.e. **trims the end of the 2D sequence**, and treats a 2D sequence
*shorter* than the mocap as an error. :func:`align_2d_to_3d` does the same and
reports what it trimmed.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

import numpy as np

from .._validation import check_int
from ._h36m_cameras import H36M_EXTRINSICS, H36M_INTRINSICS
from ._safe_npz import load_npz_safe
from .camera import Camera, normalize_screen_coordinates, world_to_camera

__all__ = [
    "H36M_CAMERA_IDS",
    "H36M_SUBJECTS",
    "H36M_TRAIN_SUBJECTS",
    "H36M_TEST_SUBJECTS",
    "H36M_ACTIONS",
    "H36M_32_TO_17",
    "H36M_FPS",
    "action_name",
    "h36m_camera",
    "h36m_cameras",
    "load_h36m_3d",
    "load_h36m_2d",
    "align_2d_to_3d",
    "TrimRecord",
    "h36m_sequences",
]

PathLike = Union[str, os.PathLike]

H36M_FPS = 50
#: Camera ids in the order of the per-camera lists of the 2D files.
H36M_CAMERA_IDS: tuple[str, ...] = tuple(H36M_INTRINSICS)
#: Subjects with public calibration and 3D poses.
H36M_SUBJECTS: tuple[str, ...] = ("S1", "S5", "S6", "S7", "S8", "S9", "S11")
#: Standard protocol: train on S1, S5, S6, S7, S8, test on S9, S11.
H36M_TRAIN_SUBJECTS: tuple[str, ...] = ("S1", "S5", "S6", "S7", "S8")
H36M_TEST_SUBJECTS: tuple[str, ...] = ("S9", "S11")
#: The 15 actions, named as in the VideoPose3D files (keys are "<action>" or "<action> <n>").
H36M_ACTIONS: tuple[str, ...] = (
    "Directions",
    "Discussion",
    "Eating",
    "Greeting",
    "Phoning",
    "Photo",
    "Posing",
    "Purchases",
    "Sitting",
    "SittingDown",
    "Smoking",
    "Waiting",
    "WalkDog",
    "Walking",
    "WalkTogether",
)
_ACTION_ALIASES = {"TakingPhoto": "Photo", "WalkingDog": "WalkDog", "WalkingTogether": "WalkTogether"}

#: Indices of the 17 joints (posezoo's H36M-17 order) among the 32 mocap joints.
H36M_32_TO_17: tuple[int, ...] = (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)


def action_name(key: str) -> str:
    """Canonical action of a file key: ``"Walking 1"`` -> ``"Walking"``, ``"TakingPhoto"`` -> ``"Photo"``.

    Raises ``ValueError`` if the key names none of :data:`H36M_ACTIONS`.
    """
    base = re.sub(r"[\s_-]*\d+$", "", key.strip())
    base = _ACTION_ALIASES.get(base, base)
    if base not in H36M_ACTIONS:
        raise ValueError(f"unknown H36M action {key!r}; actions: {', '.join(H36M_ACTIONS)}")
    return base


def _camera_index(camera: Union[int, str]) -> int:
    if isinstance(camera, str):
        if camera not in H36M_CAMERA_IDS:
            raise ValueError(f"unknown H36M camera {camera!r}; cameras: {', '.join(H36M_CAMERA_IDS)}")
        return H36M_CAMERA_IDS.index(camera)
    if isinstance(camera, (int, np.integer)) and not isinstance(camera, bool) and 0 <= camera < 4:
        return int(camera)
    raise ValueError(f"camera must be an index 0..3 or one of {H36M_CAMERA_IDS}, got {camera!r}")


def h36m_camera(subject: str, camera: Union[int, str]) -> Camera:
    """Calibrated H36M camera of ``subject`` (``"S1"`` ...): translation in metres, intrinsics in pixels."""
    if subject not in H36M_EXTRINSICS:
        raise ValueError(f"no public calibration for subject {subject!r}; subjects: {', '.join(H36M_EXTRINSICS)}")
    i = _camera_index(camera)
    cam_id = H36M_CAMERA_IDS[i]
    center, focal, radial, tangential, res_w, res_h = H36M_INTRINSICS[cam_id]
    orientation, translation_mm = H36M_EXTRINSICS[subject][i]
    return Camera(
        orientation=np.asarray(orientation, dtype=np.float64),
        translation=np.asarray(translation_mm, dtype=np.float64) / 1000.0,
        focal_length=np.asarray(focal, dtype=np.float64),
        center=np.asarray(center, dtype=np.float64),
        radial_distortion=np.asarray(radial, dtype=np.float64),
        tangential_distortion=np.asarray(tangential, dtype=np.float64),
        res_w=float(res_w),
        res_h=float(res_h),
        name=cam_id,
    )


def h36m_cameras(subject: str) -> list[Camera]:
    """The 4 cameras of ``subject`` in :data:`H36M_CAMERA_IDS` order."""
    return [h36m_camera(subject, i) for i in range(4)]


def _load_key(path: PathLike, key: str) -> Any:
    data = load_npz_safe(path)
    if key not in data:
        raise ValueError(f"{path}: no '{key}' entry; found {', '.join(sorted(data)) or 'nothing'}")
    return data, data[key]


def _nested(path: PathLike, value: Any, what: str) -> Mapping:
    """``value`` if it is a dict with string keys (the file's nesting), else ``ValueError`` naming ``what``."""
    if not isinstance(value, Mapping):
        raise ValueError(f"{path}: {what} must be a dict, got {type(value).__name__}")
    bad = [k for k in value if not isinstance(k, str)]
    if bad:
        raise ValueError(f"{path}: {what} keys must be strings, got {bad[:3]!r}")
    return value


def _pose_array(path: PathLike, value: Any, where: str) -> np.ndarray:
    """A finite real-valued array from the file (``ValueError`` for objects, strings, complex, NaN/inf)."""
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "fiu":
        kind = value.dtype if isinstance(value, np.ndarray) else type(value).__name__
        raise ValueError(f"{path}: {where} must be an array of real numbers, got {kind}")
    if not np.isfinite(value).all():
        raise ValueError(f"{path}: {where} holds NaN or inf values")
    return value


def load_h36m_3d(path: PathLike, joints: int = 17) -> dict[str, dict[str, np.ndarray]]:
    """Read ``data_3d_h36m.npz``.

    Args:
        path: the file.
        joints: 17 (posezoo's H36M-17 subset, :data:`H36M_32_TO_17`) or 32 (all).

    Returns:
        ``{subject: {action: (T, joints, 3) float32}}``, world frame, metres.
    """
    if isinstance(joints, bool) or joints not in (17, 32):
        raise ValueError(f"joints must be 17 or 32, got {joints!r}")
    _, positions = _load_key(path, "positions_3d")
    positions = _nested(path, positions, "positions_3d (a dict of subjects)")
    out: dict[str, dict[str, np.ndarray]] = {}
    for subject, actions in positions.items():
        out[subject] = {}
        for action, pos in _nested(path, actions, f"positions_3d[{subject!r}] (a dict of actions)").items():
            pos = _pose_array(path, pos, f"{subject}/{action}")
            if pos.ndim != 3 or pos.shape[1:] != (32, 3):
                raise ValueError(f"{path}: {subject}/{action} must be (T, 32, 3), got {pos.shape}")
            out[subject][action] = np.ascontiguousarray(
                pos[:, list(H36M_32_TO_17)] if joints == 17 else pos, dtype=np.float32
            )
    return out


def load_h36m_2d(path: PathLike) -> tuple[dict[str, dict[str, list[np.ndarray]]], dict[str, Any]]:
    """Read ``data_2d_h36m_<source>.npz``.

    Returns:
        ``(positions_2d, metadata)``: ``{subject: {action: [4 x (T, J, 2) float32]}}`` in
        pixels (a third channel, if the file has one, is kept), and the metadata dict.
    """
    data, positions = _load_key(path, "positions_2d")
    positions = _nested(path, positions, "positions_2d (a dict of subjects)")
    metadata = _nested(path, data.get("metadata", {}), "metadata")
    num_joints = metadata.get("num_joints")
    if num_joints is not None:
        try:
            num_joints = check_int("metadata num_joints", num_joints, limit="max_width", numpy_ok=True)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None
    out: dict[str, dict[str, list[np.ndarray]]] = {}
    for subject, actions in positions.items():
        out[subject] = {}
        for action, per_camera in _nested(path, actions, f"positions_2d[{subject!r}] (a dict of actions)").items():
            if not isinstance(per_camera, (list, tuple)) or len(per_camera) != 4:
                got = len(per_camera) if isinstance(per_camera, (list, tuple)) else type(per_camera).__name__
                raise ValueError(f"{path}: {subject}/{action} must hold a list of 4 cameras, got {got}")
            cams = []
            for i, kp in enumerate(per_camera):
                kp = _pose_array(path, kp, f"{subject}/{action}/cam{i}").astype(np.float32)
                if kp.ndim != 3 or kp.shape[-1] not in (2, 3):
                    raise ValueError(f"{path}: {subject}/{action}/cam{i} must be (T, J, 2), got {kp.shape}")
                if num_joints is not None and kp.shape[1] != num_joints:
                    raise ValueError(
                        f"{path}: {subject}/{action}/cam{i} has {kp.shape[1]} joints, metadata says {num_joints}"
                    )
                cams.append(kp)
            out[subject][action] = cams
    return out, dict(metadata)


@dataclass(frozen=True)
class TrimRecord:
    """One 2D sequence shortened to its mocap length by :func:`align_2d_to_3d`."""

    subject: str
    action: str
    camera: int
    frames_2d: int
    frames_3d: int


def align_2d_to_3d(
    positions_2d: Mapping[str, Mapping[str, Sequence[np.ndarray]]],
    positions_3d: Mapping[str, Mapping[str, np.ndarray]],
    warn: bool = True,
) -> tuple[dict[str, dict[str, list[np.ndarray]]], list[TrimRecord]]:
    """Check that every 2D sequence matches its mocap length; trim the end of longer ones.

    As VideoPose3D and the code derived from it: a 2D sequence longer than the
    3D one keeps its first ``T_3d`` frames; a shorter one, or a subject/action of
    the 3D data with no 2D, is an error (``ValueError``).

    Returns:
        ``(aligned_2d, trimmed)``: the 2D dict restricted to the 3D subjects and
        actions with every sequence ``T_3d`` long, and one :class:`TrimRecord` per
        trimmed sequence (also reported with a ``UserWarning`` when ``warn``).
    """
    aligned: dict[str, dict[str, list[np.ndarray]]] = {}
    trimmed: list[TrimRecord] = []
    for subject, actions in positions_3d.items():
        if subject not in positions_2d:
            raise ValueError(f"subject {subject} has 3D poses but no 2D keypoints")
        aligned[subject] = {}
        for action, pos3d in actions.items():
            if action not in positions_2d[subject]:
                raise ValueError(f"{subject}/{action} has 3D poses but no 2D keypoints")
            t3 = int(np.asarray(pos3d).shape[0])
            cams = []
            for cam, kp in enumerate(positions_2d[subject][action]):
                t2 = int(kp.shape[0])
                if t2 < t3:
                    raise ValueError(
                        f"{subject}/{action}/camera {cam}: 2D has {t2} frames, fewer than the {t3} mocap frames"
                    )
                if t2 > t3:
                    trimmed.append(TrimRecord(subject, action, cam, t2, t3))
                    kp = kp[:t3]
                cams.append(kp)
            aligned[subject][action] = cams
    if trimmed and warn:
        extra = sum(r.frames_2d - r.frames_3d for r in trimmed)
        warnings.warn(
            f"trimmed the last frames of {len(trimmed)} 2D sequences ({extra} frames in all) to the "
            "mocap length, as VideoPose3D does",
            UserWarning,
            stacklevel=2,
        )
    return aligned, trimmed


def h36m_sequences(
    positions_3d: Mapping[str, Mapping[str, np.ndarray]],
    positions_2d: Mapping[str, Mapping[str, Sequence[np.ndarray]]],
    subjects: Iterable[str] = H36M_TRAIN_SUBJECTS,
    actions: Optional[Iterable[str]] = None,
    cameras: Iterable[Union[int, str]] = (0, 1, 2, 3),
    root: int = 0,
) -> list[dict[str, Any]]:
    """Per (subject, action, camera) training/evaluation sequences.

    Args:
        positions_3d: ``{subject: {action: (T, 17, 3)}}`` world metres (:func:`load_h36m_3d`).
        positions_2d: ``{subject: {action: [4 x (T', 17, 2)]}}`` pixels (:func:`load_h36m_2d`);
            longer 2D sequences are trimmed (:func:`align_2d_to_3d`).
        subjects: e.g. :data:`H36M_TRAIN_SUBJECTS` or :data:`H36M_TEST_SUBJECTS`.
        actions: canonical action names to keep (see :func:`action_name`); ``None`` = all.
        cameras: camera indices or ids.
        root: root joint index subtracted from the 3D poses.

    Returns:
        A list of dicts with ``keypoints_2d`` ``(T, 17, 2)`` float32 in normalised
        screen coordinates (the camera's resolution), ``pose_3d`` ``(T, 17, 3)``
        float32 camera frame, metres, root-relative (root joint exactly 0),
        ``trajectory`` ``(T, 3)`` the root in the camera frame, ``confidence`` ``(T, 17)``
        (the 2D file's third channel when it has one, else ones), and ``subject``,
        ``action`` (file key), ``camera`` (id).
    """
    subjects = list(subjects)
    keep = None if actions is None else {action_name(a) for a in actions}
    cams = [_camera_index(c) for c in cameras]
    sub3d = {}
    for s in subjects:
        if s not in positions_3d:
            raise ValueError(f"subject {s} not in the 3D data (has {', '.join(positions_3d)})")
        sub3d[s] = {a: p for a, p in positions_3d[s].items() if keep is None or action_name(a) in keep}
    aligned, _ = align_2d_to_3d(positions_2d, sub3d)
    out = []
    for s in subjects:
        for action, world in sub3d[s].items():
            for i in cams:
                cam = h36m_camera(s, i)
                kp_file = aligned[s][action][i]
                kp = kp_file[..., :2]
                conf = kp_file[..., 2] if kp_file.shape[-1] == 3 else np.ones(kp.shape[:2])
                if kp.shape[1] != world.shape[1]:
                    raise ValueError(f"{s}/{action}: 2D has {kp.shape[1]} joints, 3D has {world.shape[1]}")
                pos_cam = world_to_camera(np.asarray(world, dtype=np.float64), cam.orientation, cam.translation)
                trajectory = pos_cam[:, root].copy()
                out.append(
                    {
                        "keypoints_2d": normalize_screen_coordinates(kp, cam.res_w, cam.res_h).astype(np.float32),
                        "pose_3d": (pos_cam - pos_cam[:, root : root + 1]).astype(np.float32),
                        "trajectory": trajectory.astype(np.float32),
                        "confidence": np.asarray(conf, dtype=np.float32),
                        "subject": s,
                        "action": action,
                        "camera": cam.name,
                    }
                )
    return out
