"""``posezoo lift``: a detector's keypoint file in, 3D poses (and optionally an animation) out.

The steps, each available on its own: :func:`posezoo.io.read_keypoints` ->
:func:`posezoo.lift` (layout conversion, windows, flip TTA) ->
:func:`posezoo.root_trajectory` -> :func:`save_lift_result` -> :func:`posezoo.io.render.render_lift`.
"""

from __future__ import annotations

import argparse
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ..skeleton import H36M_17, to_h36m
from .keypoints import KeypointSequence

__all__ = ["LiftResult", "add_lift_parser", "lift_sequence", "save_lift_result", "resolve_model"]

#: models tried, in this order, when ``--model`` is not given (the first with bundled weights)
PREFERRED_FAMILIES = ("rtpca", "mixste", "uplift_upsample")


@dataclass
class LiftResult:
    """What ``posezoo lift`` writes (see :func:`save_lift_result` for the file layout)."""

    poses_3d: np.ndarray  # (T, 17, 3) metres, camera frame, root-relative
    keypoints_2d: np.ndarray  # (T_in, 17, 2) H36M-17 pixels used (NaN where missing)
    confidence: np.ndarray  # (T_in, 17)
    frames: np.ndarray  # (T,) source frame numbers of the output rows
    root: Optional[np.ndarray] = None  # (T, 3) metres, camera frame
    meta: dict = field(default_factory=dict)

    @property
    def poses_3d_camera(self) -> Optional[np.ndarray]:
        return None if self.root is None else self.poses_3d + self.root[:, None]


def resolve_model(model: Optional[str], weights: Optional[str], pretrained: bool):
    """``(module, name)`` for the command's ``--model`` / ``--weights`` / ``--no-pretrained``."""
    from ..models import create_model, from_pretrained, get_model_entry, list_models

    if weights is not None:
        net = create_model(model, pretrained=weights) if model else from_pretrained(weights)
        cfg = getattr(net, "pretrained_cfg", None) or {}
        return net, model or str(cfg.get("name") or type(net).__name__)
    if not pretrained:
        name = model or "rtpca_small"
        warnings.warn(
            f"{name} with random weights (--no-pretrained): the 3D output is not a real prediction",
            UserWarning,
            stacklevel=2,
        )
        return create_model(name, pretrained=False), name
    if model is None:
        with_weights = list_models(pretrained=True)
        ranked = [n for fam in PREFERRED_FAMILIES for n in with_weights if get_model_entry(n).family == fam]
        if not ranked:
            raise ValueError(
                "no registered model has bundled weights yet: pass --weights DIR (a "
                "posezoo.save_pretrained directory or hf-hub:org/repo), or --model NAME --no-pretrained"
            )
        model = ranked[0]
    return create_model(model, pretrained=True), model


def lift_sequence(
    seq: KeypointSequence,
    net: Any,
    *,
    image_size: tuple[int, int],
    focal_length: Optional[float] = None,
    principal_point: Optional[tuple[float, float]] = None,
    stride: int = 1,
    min_confidence: float = 0.2,
    smooth: Optional[float] = None,
    device: Optional[str] = None,
    flip_tta: bool = True,
) -> LiftResult:
    """Lift one :class:`KeypointSequence` and place it in the camera frame.

    ``stride > 1`` keeps every ``stride``-th frame: an Uplift-and-Upsample model
    returns every frame (its ``input_stride``), other models the kept frames.
    Without ``focal_length`` the default intrinsics are used (image diagonal,
    with a warning).
    """
    from ..inference import default_intrinsics, lift, root_trajectory

    if not isinstance(stride, int) or stride < 1:
        raise ValueError(f"stride must be a positive int, got {stride!r}")
    kp, conf = seq.keypoints[::stride], seq.scores[::stride]
    if len(kp) < 1:
        raise ValueError("no frames left after --stride")
    upsampling = hasattr(net, "output_stride")
    kwargs: dict[str, Any] = {}
    if upsampling:
        kwargs = {"input_stride": stride, "output_length": min(seq.num_frames, len(kp) * stride)}
    poses = lift(
        kp,
        net,
        image_size=image_size,
        layout=seq.layout,
        confidence=conf,
        min_confidence=min_confidence,
        device=device,
        flip_tta=flip_tta,
        **kwargs,
    )
    out_frames = seq.frame_ids[: len(poses)] if upsampling else seq.frame_ids[::stride]
    h36m, h_conf = to_h36m(kp.astype(np.float64), seq.layout, conf.astype(np.float64), min_confidence=min_confidence)
    if focal_length is None:
        intr = default_intrinsics(image_size)
        focal, centre = intr.focal_length, intr.principal_point if principal_point is None else principal_point
        source = "default (image diagonal)"
    else:
        focal, source = (float(focal_length),) * 2, "given"
        centre = principal_point if principal_point is not None else (image_size[0] / 2, image_size[1] / 2)
    key_rows = np.minimum(np.arange(len(kp)) * (stride if upsampling else 1), len(poses) - 1)
    root = root_trajectory(
        h36m,
        poses[key_rows].astype(np.float64),
        focal_length=focal,
        principal_point=centre,
        confidence=h_conf,
        min_confidence=min_confidence,
        smooth=smooth,
    )
    if len(key_rows) != len(poses):  # keyframes -> every output frame
        t = np.arange(len(poses))
        root = np.stack([np.interp(t, key_rows, root[:, k]) for k in range(3)], -1)
    fps = None if seq.fps is None else seq.fps / (1 if upsampling else stride)
    meta = {
        "joint_names": list(H36M_17.joint_names),
        "units": "metres",
        "fps": fps,
        "coordinates": "camera frame: x right, y down, z forward (optical axis); poses_3d root-relative (pelvis)",
        "input": seq.source,
        "input_layout": seq.layout,
        "image_size": list(image_size),
        "focal_length": list(focal),
        "principal_point": list(map(float, centre)),
        "intrinsics": source,
        "stride": stride,
        "min_confidence": min_confidence,
        "smooth": smooth,
        "missing_input_frames": int(len(seq.missing_frames)),
    }
    return LiftResult(
        poses.astype(np.float32),
        h36m.astype(np.float32),
        h_conf.astype(np.float32),
        np.asarray(out_frames, dtype=np.int64),
        root.astype(np.float32),
        meta,
    )


def save_lift_result(result: LiftResult, path: Path) -> Path:
    """``.npz``: arrays ``poses_3d``, ``root_trajectory``, ``poses_3d_camera``, ``keypoints_2d``, ``confidence``,
    ``frames``, ``joint_names`` and ``meta`` (a JSON string); ``.json``: the same as one object (NaN -> null)."""
    path = Path(path)
    arrays = {
        "poses_3d": result.poses_3d,
        "keypoints_2d": result.keypoints_2d,
        "confidence": result.confidence,
        "frames": result.frames,
    }
    if result.root is not None:
        arrays.update(root_trajectory=result.root, poses_3d_camera=result.poses_3d_camera)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".npz":
        np.savez_compressed(
            path,
            joint_names=np.asarray(result.meta.get("joint_names", [])),
            meta=np.asarray(json.dumps(result.meta)),
            **arrays,
        )
    elif path.suffix == ".json":

        def clean(a: np.ndarray) -> Any:
            a = np.round(a.astype(np.float64), 5) if a.dtype.kind == "f" else a
            return np.where(np.isfinite(a), a, None).tolist() if a.dtype.kind == "f" else a.tolist()

        path.write_text(json.dumps({**result.meta, **{k: clean(v) for k, v in arrays.items()}}))
    else:
        raise ValueError(f"--out must end in .npz or .json, got {path.name!r}")
    return path


def add_lift_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``posezoo lift`` on the command's sub-parsers."""
    p = sub.add_parser(
        "lift",
        help="lift a 2D keypoint file (COCO / OpenPose / MMPose JSON, .npy/.npz) to 3D",
        description="Read one person's 2D keypoints, lift them to 3D, place them in the camera "
        "frame and write OUT.npz / OUT.json (and optionally an animation).",
    )
    p.add_argument("input", help="keypoint file (.json, .npy, .npz) or OpenPose JSON folder")
    p.add_argument("--out", required=True, help="output file: .npz or .json")
    p.add_argument("--model", default=None, help="registered model name (default: the first with bundled weights)")
    p.add_argument("--weights", default=None, help="a posezoo.save_pretrained directory (or hf-hub:org/repo)")
    p.add_argument("--no-pretrained", action="store_true", help="random weights (for testing the pipeline)")
    p.add_argument(
        "--layout",
        default=None,
        help="input layout (coco, halpe26, coco_wholebody, mediapipe33, openpose25, h36m); default from the file",
    )
    p.add_argument("--person", default="best", help="'best' (highest score per frame) or a track id")
    p.add_argument(
        "--image-size",
        type=int,
        nargs=2,
        metavar=("W", "H"),
        default=None,
        help="image size in pixels (needed unless the file records it)",
    )
    p.add_argument("--focal", type=float, default=None, help="focal length in pixels (default: image diagonal)")
    p.add_argument("--principal-point", type=float, nargs=2, metavar=("CX", "CY"), default=None)
    p.add_argument("--fps", type=float, default=None, help="frame rate of the input (recorded in the output)")
    p.add_argument("--stride", type=int, default=1, help="use every N-th frame (Uplift-and-Upsample: full-rate output)")
    p.add_argument("--min-confidence", type=float, default=0.2, help="keypoints scored at or below are missing")
    p.add_argument("--smooth", type=float, default=None, help="smooth the root trajectory (Gaussian sigma, frames)")
    p.add_argument("--render", default=None, help="also write an animation: OUT.gif or OUT.mp4")
    p.add_argument("--render-step", type=int, default=1, help="draw every N-th output frame in the animation")
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: cpu)")
    p.set_defaults(func=run_lift)


def run_lift(args: argparse.Namespace) -> int:
    from . import read_keypoints

    if Path(args.out).suffix not in (".npz", ".json"):  # before any reading or lifting
        raise ValueError(f"--out must end in .npz or .json, got {Path(args.out).name!r}")
    person: Any = args.person if args.person == "best" else _int(args.person, "--person")
    seq = read_keypoints(
        args.input,
        layout=args.layout,
        person=person,
        fps=args.fps,
        image_size=tuple(args.image_size) if args.image_size else None,
    )
    image_size = tuple(args.image_size) if args.image_size else seq.image_size
    if image_size is None:
        raise ValueError(f"{args.input} does not record the image size: pass --image-size W H")
    net, name = resolve_model(args.model, args.weights, not args.no_pretrained)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = lift_sequence(
            seq,
            net,
            image_size=image_size,
            focal_length=args.focal,
            principal_point=tuple(args.principal_point) if args.principal_point else None,
            stride=args.stride,
            min_confidence=args.min_confidence,
            smooth=args.smooth,
            device=args.device,
        )
    for w in caught:
        print(f"warning: {w.message}")
    result.meta["model"] = name
    out = save_lift_result(result, Path(args.out))
    print(
        f"{seq.num_frames} frames of {seq.layout} keypoints ({len(seq.missing_frames)} without a detection) "
        f"-> {result.poses_3d.shape} 3D poses with {name}; wrote {out}"
    )
    if args.render:
        from .render import render_lift

        video = render_lift(
            result.keypoints_2d
            if len(result.keypoints_2d) == len(result.poses_3d)
            else result.keypoints_2d[
                np.minimum(np.arange(len(result.poses_3d)) // args.stride, len(result.keypoints_2d) - 1)
            ],
            result.poses_3d,
            args.render,
            image_size=image_size,
            fps=(result.meta["fps"] or 25.0) / args.render_step,
            step=args.render_step,
            title=f"{Path(args.input).name} - {name}",
        )
        print(f"wrote {video}")
    return 0


def _int(value: str, flag: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{flag} must be 'best' or an integer track id, got {value!r}") from None
