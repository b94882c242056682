"""The :class:`KeypointSequence` every reader returns, and helpers shared by the readers."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence, Union

import numpy as np

from .._validation import limits
from .._validation import read_json as _read_json_bounded
from ..skeleton import get_skeleton

__all__ = ["KeypointSequence", "LAYOUT_BY_JOINT_COUNT", "guess_layout"]

PathLike = Union[str, os.PathLike]

#: detector layout assumed for a joint count when the file does not say (17 joints: COCO, not H36M)
LAYOUT_BY_JOINT_COUNT = {17: "coco", 25: "openpose25", 26: "halpe26", 33: "mediapipe33", 133: "coco_wholebody"}


@dataclass
class KeypointSequence:
    """One person's 2D keypoints over a video, as read from a detector's output.

    Attributes:
        keypoints: ``(T, J, 2)`` float32 pixel coordinates (u right, v down);
            NaN where the detector gave nothing (a frame without a detection, or
            a keypoint written as ``(0, 0, 0)``).
        scores: ``(T, J)`` float32 confidences; 0 where missing.
        layout: joint layout name (see :func:`posezoo.skeleton.list_skeletons`).
        image_size: ``(w, h)`` in pixels when the file says, else ``None``.
        fps: frame rate when known, else ``None``.
        frame_ids: ``(T,)`` int64 frame number of each row in the source (image
            ids, frame ids, file numbers).
        source: the file or folder read.
    """

    keypoints: np.ndarray
    scores: np.ndarray
    layout: str
    image_size: Optional[tuple[int, int]] = None
    fps: Optional[float] = None
    frame_ids: Optional[np.ndarray] = None
    source: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        kp = np.asarray(self.keypoints, dtype=np.float32)
        sc = np.asarray(self.scores, dtype=np.float32)
        if kp.ndim != 3 or kp.shape[-1] != 2 or kp.shape[0] == 0:
            raise ValueError(f"keypoints must have shape (T >= 1, J, 2), got {kp.shape}")
        if sc.shape != kp.shape[:2]:
            raise ValueError(f"scores must have shape {kp.shape[:2]}, got {sc.shape}")
        skel = get_skeleton(self.layout)
        if skel.num_joints != kp.shape[1]:
            raise ValueError(f"layout {skel.name!r} has {skel.num_joints} joints, the keypoints {kp.shape[1]}")
        sc = np.where(np.isfinite(sc), sc, 0.0).astype(np.float32)
        sc[~np.isfinite(kp).all(-1)] = 0.0
        self.keypoints, self.scores, self.layout = kp, sc, skel.name
        if self.image_size is not None:
            w, h = (int(round(float(v))) for v in self.image_size)
            if w <= 0 or h <= 0:
                raise ValueError(f"image_size must be positive (w, h), got {self.image_size!r}")
            self.image_size = (w, h)
        if self.fps is not None:
            self.fps = float(self.fps)
            if not (math.isfinite(self.fps) and self.fps > 0):
                raise ValueError(f"fps must be positive, got {self.fps!r}")
        ids = np.arange(kp.shape[0]) if self.frame_ids is None else np.asarray(self.frame_ids, dtype=np.int64)
        if ids.shape != (kp.shape[0],):
            raise ValueError(f"frame_ids must have shape ({kp.shape[0]},), got {ids.shape}")
        self.frame_ids = ids

    @property
    def num_frames(self) -> int:
        return int(self.keypoints.shape[0])

    @property
    def missing_frames(self) -> np.ndarray:
        """Indices of frames without any usable keypoint (no detection)."""
        return np.flatnonzero((self.scores <= 0).all(-1))


# ----------------------------------------------------------------------------- helpers for readers


def read_json(path: PathLike) -> Any:
    """Parse a keypoint JSON file with the shared bounded reader (:func:`posezoo._validation.read_json`).

    ``ValueError`` naming the file for invalid JSON, a file that is not UTF-8, larger than
    ``posezoo.limits.max_json_bytes`` or nested deeper than ``posezoo.limits.max_json_depth``;
    ``FileNotFoundError`` when it does not exist.
    """
    return _read_json_bounded(path, "keypoint JSON file")


def guess_layout(num_joints: int, layout: Optional[str], source: str) -> str:
    """``layout`` checked against the joint count, or the detector layout of that count."""
    if layout is not None:
        skel = get_skeleton(layout)
        if skel.num_joints != num_joints:
            raise ValueError(f"{source}: layout {skel.name!r} has {skel.num_joints} joints, the file has {num_joints}")
        return skel.name
    if num_joints not in LAYOUT_BY_JOINT_COUNT:
        known = ", ".join(f"{n} ({k})" for k, n in sorted(LAYOUT_BY_JOINT_COUNT.items()))
        raise ValueError(f"{source}: {num_joints} keypoints per person matches no known layout ({known}); pass layout=")
    return LAYOUT_BY_JOINT_COUNT[num_joints]


def as_points(value: Any, source: str, what: str) -> np.ndarray:
    """A finite-or-NaN float64 array from nested lists; ``ValueError`` naming the source otherwise."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{source}: {what} is not a list of numbers") from None
    if arr.dtype == object:
        raise ValueError(f"{source}: {what} is ragged")
    return arr


def flat_triplets(value: Any, source: str, what: str) -> tuple[np.ndarray, np.ndarray]:
    """``[x1, y1, s1, x2, ...]`` -> ``(xy (K, 2), score (K,))``; ``(0, 0, 0)`` triplets become missing."""
    arr = as_points(value, source, what)
    if arr.ndim != 1 or arr.size == 0 or arr.size % 3:
        raise ValueError(f"{source}: {what} must be a flat list [x, y, score, ...] of 3K numbers, got {arr.size}")
    k = arr.reshape(-1, 3)
    xy, score = k[:, :2].copy(), k[:, 2].copy()
    placeholder = (k == 0).all(-1)
    xy[placeholder] = np.nan
    return xy, score


def assemble(
    frames: dict[int, tuple[np.ndarray, np.ndarray]], num_joints: int, index: Sequence[int], source: str
) -> tuple[np.ndarray, np.ndarray]:
    """Rows for the frame numbers ``index`` (NaN / 0 where a frame has no detection)."""
    kp = np.full((len(index), num_joints, 2), np.nan, dtype=np.float32)
    sc = np.zeros((len(index), num_joints), dtype=np.float32)
    for row, frame in enumerate(index):
        if frame in frames:
            xy, score = frames[frame]
            if xy.shape != (num_joints, 2):
                raise ValueError(f"{source}: frame {frame} has {xy.shape[0]} keypoints, others {num_joints}")
            kp[row], sc[row] = xy, score
    return kp, sc


def select_person(candidates: list[tuple[float, Any, Any]], person: Union[str, int], source: str) -> Any:
    """Pick among ``[(score, track_id, payload)]`` of one frame: the best score, or the given track id."""
    if not candidates:
        return None
    if person == "best":
        return max(candidates, key=lambda c: c[0] if math.isfinite(c[0]) else -math.inf)[2]
    if isinstance(person, bool) or not isinstance(person, (int, np.integer)):
        raise ValueError(f"person must be 'best' or a track id (int), got {person!r}")
    for _, track, payload in candidates:
        if track is not None and int(track) == int(person):
            return payload
    return None


def frame_range(ids: Sequence[int], first_frame: Optional[int], num_frames: Optional[int], source: str) -> list[int]:
    """Frame numbers ``first .. first + T - 1`` covering ``ids`` (every frame, detected or not)."""
    if not ids:
        raise ValueError(f"{source}: no detections of the requested person")
    first = min(ids) if first_frame is None else int(first_frame)
    if min(ids) < first:
        raise ValueError(f"{source}: frame {min(ids)} lies before first_frame={first}")
    total = (max(ids) - first + 1) if num_frames is None else int(num_frames)
    if total <= 0:
        raise ValueError(f"{source}: num_frames must be positive, got {num_frames}")
    if total > limits.max_sequence_frames:
        raise ValueError(
            f"{source}: {total:,} frames is more than {limits.max_sequence_frames:,} "
            "(posezoo.limits.max_sequence_frames)"
        )
    if num_frames is None and total > 100 * len(set(ids)) + 1000:
        raise ValueError(
            f"{source}: frame ids span {first}..{max(ids)} but only {len(set(ids))} frames have detections; "
            "pass first_frame= and num_frames= (ids are used as frame numbers)"
        )
    return list(range(first, first + total))
