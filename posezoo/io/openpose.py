"""OpenPose ``--write_json`` output: one ``<name>_<frame>_keypoints.json`` per frame in a folder."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

from .keypoints import KeypointSequence, PathLike, assemble, flat_triplets, guess_layout, read_json, select_person

__all__ = ["read_openpose"]

_NUMBER = re.compile(r"(\d+)(?:_keypoints)?\.json$")


def read_openpose(
    path: PathLike,
    *,
    layout: Optional[str] = None,
    person: Union[str, int] = "best",
    fps: Optional[float] = None,
) -> KeypointSequence:
    """Read OpenPose per-frame JSON files (a folder, or one file for one frame).

    Each file is ``{"people": [{"person_id": [id], "pose_keypoints_2d": [x, y, c] * J, ...}]}``.
    Files are ordered by the frame number at the end of their names
    (``video_000000000012_keypoints.json``); every file is one frame, so a frame
    whose ``people`` list is empty is kept as missing. OpenPose writes undetected
    keypoints as ``(0, 0, 0)``: they become NaN with score 0.

    Args:
        path: the folder (every ``*.json`` in it) or a single file.
        layout: default from the joint count (25 -> ``"openpose25"``; BODY_25 is
            OpenPose's default model).
        person: ``"best"`` (highest mean keypoint confidence per frame) or a
            ``person_id`` (OpenPose's tracking output).
        fps: frame rate to record.
    """
    p = Path(path)
    if p.is_dir():
        files = sorted(p.glob("*.json"), key=_frame_number)
        if not files:
            raise ValueError(f"{p}: no .json files in this folder")
    elif p.is_file():
        files = [p]
    else:
        raise FileNotFoundError(f"{p}: no such file or folder")
    frames: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    num_joints = None
    for row, file in enumerate(files):
        data = read_json(file)
        people = data.get("people") if isinstance(data, dict) else None
        if not isinstance(people, list):
            raise ValueError(f"{file}: an OpenPose file needs a 'people' list")
        candidates = []
        for n, entry in enumerate(people):
            if not isinstance(entry, dict) or "pose_keypoints_2d" not in entry:
                raise ValueError(f"{file}: person {n} lacks 'pose_keypoints_2d'")
            xy, score = flat_triplets(entry["pose_keypoints_2d"], str(file), f"person {n} pose_keypoints_2d")
            if num_joints is None:
                num_joints = len(xy)
            elif len(xy) != num_joints:
                raise ValueError(f"{file}: person {n} has {len(xy)} keypoints, other files {num_joints}")
            candidates.append((float(score.mean()), _person_id(entry.get("person_id")), (xy, score)))
        chosen = select_person(candidates, person, str(file))
        if chosen is not None:
            frames[row] = chosen
    if num_joints is None or not frames:
        raise ValueError(
            f"{p}: no person detected in {len(files)} file(s)"
            + ("" if person == "best" else f" with person_id {person}")
        )
    kp, sc = assemble(frames, num_joints, range(len(files)), str(p))
    ids = [_frame_number(f) for f in files]
    return KeypointSequence(
        kp,
        sc,
        guess_layout(num_joints, layout, str(p)),
        fps=fps,
        frame_ids=ids if len(set(ids)) == len(ids) else None,
        source=str(p),
    )


def _frame_number(file: Path) -> int:
    m = _NUMBER.search(file.name)
    return int(m.group(1)) if m else -1


def _person_id(value: Any) -> Optional[int]:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return int(value)
    return None
