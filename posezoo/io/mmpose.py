"""MMPose (and RTMPose / RTMW / DWPose through MMPose) prediction JSON."""

from __future__ import annotations

from typing import Any, Optional, Union

import numpy as np

from .keypoints import (
    KeypointSequence,
    PathLike,
    as_points,
    assemble,
    frame_range,
    guess_layout,
    read_json,
    select_person,
)

__all__ = ["read_mmpose", "parse_mmpose"]

# MMPose dataset names -> posezoo layouts (``meta_info["dataset_name"]``)
_DATASETS = {
    "coco": "coco",
    "halpe26": "halpe26",
    "halpe": "halpe26",
    "coco_wholebody": "coco_wholebody",
    "body8": "coco",
    "body7": "coco",
    "h36m": "h36m",
}


def read_mmpose(
    path: PathLike,
    *,
    layout: Optional[str] = None,
    person: Union[str, int] = "best",
    first_frame: Optional[int] = None,
    num_frames: Optional[int] = None,
    fps: Optional[float] = None,
) -> KeypointSequence:
    """Read MMPose predictions: one person's keypoints per frame.

    Accepted shapes (``instance`` = ``{"keypoints": [[x, y], ...], "keypoint_scores":
    [s, ...], "bbox": [[x1, y1, x2, y2]], "bbox_score": s, "track_id"?: id}``):

    * ``{"meta_info": {...}, "instance_info": [{"frame_id": f, "instances": [instance, ...]}, ...]}``
      (``demo/topdown_demo_with_mmdet.py --save-predictions`` on a video);
    * ``{"instance_info": [instance, ...]}`` (the same demo on one image);
    * ``[{"frame_id": f, "instances": [...]}, ...]`` or ``[instance, ...]``
      (``MMPoseInferencer(..., pred_out_dir=...)`` on a video / an image).

    The layout comes from ``meta_info["dataset_name"]`` when present, else from
    the joint count; ``frame_id`` numbers the frames (rows start at the smallest
    one unless ``first_frame`` is given).

    Args:
        path: the JSON file.
        layout: overrides the layout.
        person: ``"best"`` (highest ``bbox_score``, else mean keypoint score) or a ``track_id``.
        first_frame, num_frames: the frame numbers to return (default: all
            frames from the first to the last ``frame_id``).
        fps: frame rate to record.
    """
    source = str(path)
    return parse_mmpose(
        read_json(path), source, layout=layout, person=person, first_frame=first_frame, num_frames=num_frames, fps=fps
    )


def parse_mmpose(
    data: Any,
    source: str,
    *,
    layout: Optional[str] = None,
    person: Union[str, int] = "best",
    first_frame: Optional[int] = None,
    num_frames: Optional[int] = None,
    fps: Optional[float] = None,
) -> KeypointSequence:
    """:func:`read_mmpose` on already-parsed JSON ``data`` (``source`` names it in errors)."""
    meta: dict = {}
    if isinstance(data, dict):
        if "instance_info" not in data:
            raise ValueError(f"{source}: an MMPose prediction dict needs 'instance_info'")
        meta = data.get("meta_info") or {}
        if not isinstance(meta, dict):
            raise ValueError(f"{source}: 'meta_info' must be an object")
        data = data["instance_info"]
    if not isinstance(data, list) or not data:
        raise ValueError(f"{source}: expected a non-empty list of frames or instances")
    if all(isinstance(d, dict) and "instances" in d for d in data):
        per_frame = []
        for n, d in enumerate(data):
            fid = d.get("frame_id", n)
            if isinstance(fid, bool) or not isinstance(fid, (int, float)) or float(fid) != int(fid):
                raise ValueError(f"{source}: frame entry {n} has a non-integer frame_id {fid!r}")
            if not isinstance(d["instances"], list):
                raise ValueError(f"{source}: frame entry {n}: 'instances' must be a list")
            per_frame.append((int(fid), d["instances"]))
        all_ids = [f for f, _ in per_frame]
    elif all(isinstance(d, dict) and "keypoints" in d for d in data):
        per_frame, all_ids = [(0, data)], [0]
    else:
        raise ValueError(
            f"{source}: entries must all be frames ({{'frame_id', 'instances'}}) or all instances "
            "({'keypoints', 'keypoint_scores'})"
        )
    frames: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    num_joints = None
    for fid, instances in per_frame:
        candidates = []
        for n, inst in enumerate(instances):
            xy, score = _instance(inst, source, f"frame {fid} instance {n}")
            if num_joints is None:
                num_joints = len(xy)
            elif len(xy) != num_joints:
                raise ValueError(f"{source}: frame {fid} instance {n} has {len(xy)} keypoints, others {num_joints}")
            candidates.append((_instance_score(inst, score), inst.get("track_id"), (xy, score)))
        chosen = select_person(candidates, person, source)
        if chosen is not None:
            frames[fid] = chosen
    if num_joints is None or not frames:
        raise ValueError(f"{source}: no instances" + ("" if person == "best" else f" with track_id {person}"))
    first = min(all_ids) if first_frame is None else first_frame
    index = frame_range(sorted(set(all_ids) | set(frames)), first, num_frames, source)
    kp, sc = assemble(frames, num_joints, index, source)
    name = str(meta.get("dataset_name", "")).lower()
    if layout is None and name in _DATASETS and len(kp[0]) == _joint_count(_DATASETS[name]):
        layout = _DATASETS[name]
    return KeypointSequence(kp, sc, guess_layout(num_joints, layout, source), fps=fps, frame_ids=index, source=source)


def _joint_count(layout: str) -> int:
    from ..skeleton import get_skeleton

    return get_skeleton(layout).num_joints


def _instance(inst: Any, source: str, what: str) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(inst, dict) or "keypoints" not in inst:
        raise ValueError(f"{source}: {what} lacks 'keypoints'")
    xy = as_points(inst["keypoints"], source, f"{what} keypoints")
    if xy.ndim == 3 and xy.shape[0] == 1:  # (1, K, 2) as some versions write
        xy = xy[0]
    if xy.ndim != 2 or xy.shape[-1] not in (2, 3) or xy.shape[0] == 0:
        raise ValueError(f"{source}: {what} keypoints must be [[x, y], ...], got shape {xy.shape}")
    if "keypoint_scores" in inst:
        score = as_points(inst["keypoint_scores"], source, f"{what} keypoint_scores").reshape(-1)
    elif xy.shape[-1] == 3:
        score = xy[:, 2].copy()
    else:
        score = np.ones(len(xy))
    if score.shape != (len(xy),):
        raise ValueError(f"{source}: {what} has {score.size} keypoint_scores for {len(xy)} keypoints")
    return xy[:, :2].copy(), score


def _instance_score(inst: dict, score: np.ndarray) -> float:
    value = inst.get("bbox_score")
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return float(value) if value is not None else float(np.nanmean(score))
    except (TypeError, ValueError):
        return float(np.nanmean(score))
