"""Readers of 2D detector output, and rendering of lifted poses.

Every reader returns a :class:`KeypointSequence` (one person, ``(T, J, 2)``
pixels, ``(T, J)`` scores, the layout, image size and frame rate when the file
says). Frames without a detection are kept as missing (NaN, score 0), never
dropped, so the frame count matches the video. Malformed files raise
``ValueError`` naming the file.

* :func:`read_coco_results`: COCO keypoint results / annotation JSON
  (Detectron2, MMPose, AlphaPose's COCO output, COCO-WholeBody).
* :func:`read_openpose`: OpenPose's per-frame JSON folder.
* :func:`read_mmpose`: MMPose / RTMPose prediction JSON.
* :func:`read_array`: ``.npy`` / ``.npz`` arrays (what the rtmlib recipe of
  ``docs/in_the_wild.md`` saves); :func:`save_keypoints_npz` writes them.
* :func:`read_keypoints`: any of the above, chosen from the path and content.
* :func:`render_lift` (``posezoo.io.render``): 2D input and 3D skeleton side by side as GIF / MP4.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

from .arrays import read_array, save_keypoints_npz
from .coco import parse_coco, read_coco_results
from .keypoints import LAYOUT_BY_JOINT_COUNT, KeypointSequence, PathLike, read_json
from .mmpose import parse_mmpose, read_mmpose
from .openpose import read_openpose

__all__ = [
    "KeypointSequence",
    "LAYOUT_BY_JOINT_COUNT",
    "read_keypoints",
    "read_coco_results",
    "read_openpose",
    "read_mmpose",
    "read_array",
    "save_keypoints_npz",
    "render_lift",
]


def read_keypoints(
    path: PathLike,
    *,
    layout: Optional[str] = None,
    person: Union[str, int] = "best",
    fps: Optional[float] = None,
    image_size: Optional[tuple[int, int]] = None,
) -> KeypointSequence:
    """Read any supported keypoint file or folder (format detected from the path and the JSON's shape).

    A folder is an OpenPose output folder; ``.npy`` / ``.npz`` are arrays;
    ``.json`` is OpenPose (a ``people`` list), MMPose (``instance_info`` or
    ``frame_id`` / ``instances`` entries, or instances with nested ``[[x, y], ...]``
    keypoints) or COCO (``image_id`` entries, or ``annotations``). ``image_size``
    and ``fps`` fill in what the file does not say.
    """
    p = Path(path)
    if p.is_dir():
        seq = read_openpose(p, layout=layout, person=person, fps=fps)
    elif not p.exists():
        raise FileNotFoundError(f"{p}: no such file or folder")
    elif p.suffix in (".npy", ".npz"):
        return read_array(p, layout=layout, fps=fps, image_size=image_size)
    elif p.suffix == ".json":
        data = read_json(p)
        kind = _json_kind(data, str(p))
        if kind == "openpose":
            seq = read_openpose(p, layout=layout, person=person, fps=fps)
        elif kind == "mmpose":
            seq = parse_mmpose(data, str(p), layout=layout, person=person, fps=fps)
        else:
            seq = parse_coco(data, str(p), layout=layout, person=person, fps=fps)
    else:
        raise ValueError(f"{p}: unknown keypoint file type {p.suffix!r}; expected .json, .npy, .npz or a folder")
    if image_size is not None and seq.image_size is None:
        seq = KeypointSequence(seq.keypoints, seq.scores, seq.layout, image_size, seq.fps, seq.frame_ids, seq.source)
    return seq


def _json_kind(data: object, source: str) -> str:
    if isinstance(data, dict):
        if "people" in data:
            return "openpose"
        if "instance_info" in data:
            return "mmpose"
        if "annotations" in data:
            return "coco"
        raise ValueError(
            f"{source}: unknown JSON keypoint format (keys: {', '.join(map(str, data))}); expected "
            "OpenPose ('people'), MMPose ('instance_info') or COCO ('annotations')"
        )
    if isinstance(data, list) and data and isinstance(data[0], dict):
        first = data[0]
        if "image_id" in first:
            return "coco"
        if "instances" in first or "frame_id" in first:
            return "mmpose"
        if (
            "keypoints" in first
            and isinstance(first["keypoints"], list)
            and first["keypoints"]
            and isinstance(first["keypoints"][0], list)
        ):
            return "mmpose"
    raise ValueError(
        f"{source}: unknown JSON keypoint format; expected a COCO results list, MMPose predictions or an OpenPose frame"
    )


def __getattr__(name: str):  # render_lift imports matplotlib: only when asked for
    if name == "render_lift":
        from .render import render_lift

        return render_lift
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
