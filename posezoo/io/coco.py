"""COCO keypoint files: detector *results* lists and annotation-style files (``images`` + ``annotations``)."""

from __future__ import annotations

from typing import Any, Optional, Union

import numpy as np

from .keypoints import (
    KeypointSequence,
    PathLike,
    assemble,
    flat_triplets,
    frame_range,
    guess_layout,
    read_json,
    select_person,
)

__all__ = ["read_coco_results", "parse_coco"]

# COCO-WholeBody stores the parts under separate keys, in this order (17 + 6 + 68 + 21 + 21 = 133)
_WHOLEBODY_PARTS = ("keypoints", "foot_kpts", "face_kpts", "lefthand_kpts", "righthand_kpts")


def read_coco_results(
    path: PathLike,
    *,
    layout: Optional[str] = None,
    person: Union[str, int] = "best",
    category_id: Optional[int] = 1,
    first_frame: Optional[int] = None,
    num_frames: Optional[int] = None,
    fps: Optional[float] = None,
) -> KeypointSequence:
    """Read a COCO keypoint JSON: one person's keypoints per frame.

    Two shapes are accepted:

    * **results** (what detectors write, e.g. Detectron2, MMPose's ``CocoMetric``):
      ``[{"image_id": frame, "category_id": 1, "score": s, "keypoints": [x, y, v] * K,
      "track_id"?: id}, ...]``; ``image_id`` is the frame number.
    * **annotations** (COCO / PoseTrack style): ``{"images": [{"id", "width",
      "height", "frame_id"?}, ...], "annotations": [... as above ...]}``; frames
      follow the images sorted by ``frame_id`` (else ``id``); the image size is read.

    COCO-WholeBody's separate ``foot_kpts`` / ``face_kpts`` / ``lefthand_kpts`` /
    ``righthand_kpts`` are appended to ``keypoints`` (133 joints).

    Args:
        path: the JSON file.
        layout: joint layout; default from the joint count (17 -> ``"coco"``,
            26 -> ``"halpe26"``, 133 -> ``"coco_wholebody"``, ...).
        person: ``"best"`` (the highest ``score`` per frame) or a ``track_id``.
        category_id: keep detections of this category (``None``: all).
        first_frame: frame number of the first row (default: the smallest
            ``image_id``; pass 0 when frames before the first detection matter).
        num_frames: rows to return (default: up to the last detection).
        fps: frame rate to record.

    Returns:
        A :class:`KeypointSequence`; frames without a detection of the person
        are NaN with score 0 (never dropped).
    """
    source = str(path)
    return parse_coco(
        read_json(path),
        source,
        layout=layout,
        person=person,
        category_id=category_id,
        first_frame=first_frame,
        num_frames=num_frames,
        fps=fps,
    )


def parse_coco(
    data: Any,
    source: str,
    *,
    layout: Optional[str] = None,
    person: Union[str, int] = "best",
    category_id: Optional[int] = 1,
    first_frame: Optional[int] = None,
    num_frames: Optional[int] = None,
    fps: Optional[float] = None,
) -> KeypointSequence:
    """:func:`read_coco_results` on already-parsed JSON ``data`` (``source`` names it in errors)."""
    image_size = None
    image_frame: Optional[dict[Any, int]] = None
    if isinstance(data, dict):
        if "annotations" not in data or not isinstance(data["annotations"], list):
            raise ValueError(f"{source}: a COCO dict needs an 'annotations' list")
        images = data.get("images") or []
        if not isinstance(images, list) or not all(isinstance(i, dict) and "id" in i for i in images):
            raise ValueError(f"{source}: 'images' must be a list of objects with an 'id'")
        if images:
            ordered = sorted(images, key=lambda i: (i.get("frame_id", i["id"]), i["id"]))
            image_frame = {img["id"]: n for n, img in enumerate(ordered)}
            if "width" in ordered[0] and "height" in ordered[0]:
                image_size = (ordered[0]["width"], ordered[0]["height"])
        detections = data["annotations"]
    elif isinstance(data, list):
        detections = data
    else:
        raise ValueError(f"{source}: expected a COCO results list or an annotations dict, got {type(data).__name__}")

    candidates: dict[int, list] = {}
    num_joints = None
    for n, det in enumerate(detections):
        if not isinstance(det, dict) or "image_id" not in det or "keypoints" not in det:
            raise ValueError(f"{source}: detection {n} lacks 'image_id' or 'keypoints'")
        if category_id is not None and det.get("category_id", category_id) != category_id:
            continue
        xy, score = flat_triplets(det["keypoints"], source, f"detection {n} keypoints")
        parts = [p for p in _WHOLEBODY_PARTS[1:] if p in det]
        for part in parts:
            pxy, pscore = flat_triplets(det[part], source, f"detection {n} {part}")
            xy, score = np.concatenate([xy, pxy]), np.concatenate([score, pscore])
        if num_joints is None:
            num_joints = len(xy)
        elif len(xy) != num_joints:
            raise ValueError(f"{source}: detection {n} has {len(xy)} keypoints, earlier ones {num_joints}")
        frame = _frame_of(det["image_id"], image_frame, source, n)
        det_score = det.get("score", float(np.nanmean(score)) if score.size else 0.0)
        try:
            det_score = float(det_score)
        except (TypeError, ValueError):
            raise ValueError(f"{source}: detection {n} has a non-numeric score {det_score!r}") from None
        candidates.setdefault(frame, []).append((det_score, det.get("track_id"), (xy, score)))
    if num_joints is None:
        raise ValueError(f"{source}: no detections" + (f" of category_id={category_id}" if category_id else ""))
    chosen = {f: c for f, c in ((f, select_person(c, person, source)) for f, c in candidates.items()) if c is not None}
    if image_frame is not None:
        index = list(range(len(image_frame))) if num_frames is None else list(range(int(num_frames)))
        if not chosen:
            raise ValueError(f"{source}: no detections of the requested person ({person!r})")
    else:
        index = frame_range(sorted(chosen), first_frame, num_frames, source)
    kp, sc = assemble(chosen, num_joints, index, source)
    ids: Optional[list] = index
    if image_frame is not None:  # the images' own ids, when they are integers
        ordered_ids = [i for i, _ in sorted(image_frame.items(), key=lambda kv: kv[1])]
        ok = len(index) <= len(ordered_ids) and all(isinstance(i, int) for i in ordered_ids)
        ids = ordered_ids[: len(index)] if ok else None
    return KeypointSequence(
        kp, sc, guess_layout(num_joints, layout, source), image_size=image_size, fps=fps, frame_ids=ids, source=source
    )


def _frame_of(image_id: Any, image_frame: Optional[dict[Any, int]], source: str, n: int) -> int:
    if image_frame is not None:
        if image_id not in image_frame:
            raise ValueError(f"{source}: detection {n} refers to image_id {image_id!r}, which is not in 'images'")
        return image_frame[image_id]
    if isinstance(image_id, bool) or not isinstance(image_id, (int, np.integer)):
        if isinstance(image_id, float) and image_id.is_integer():
            return int(image_id)
        raise ValueError(
            f"{source}: detection {n} has image_id {image_id!r}; frame numbers must be integers "
            "(or give an annotations dict with 'images')"
        )
    return int(image_id)
