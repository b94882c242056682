"""In-the-wild lifting: COCO keypoints from a detector's JSON -> 3D poses with ``posezoo.lift``.

Detectors (Detectron2, MMPose, OpenPifPaf, ...) write their results in the COCO
keypoint *results* format: a list of detections

    {"image_id": <frame>, "category_id": 1, "score": <person score>,
     "keypoints": [x1, y1, s1, x2, y2, s2, ...]}   # 17 COCO joints, pixels + score

This script turns such a file into one ``(T, 17, 2)`` pixel sequence plus ``(T, 17)``
confidences (the best-scoring person per frame; frames without a detection are
marked missing) and lifts it to 3D.

So that it runs offline with nothing downloaded, the script first WRITES a small
detector-style JSON itself: the bundled CMU sample (``posezoo.data.load_sample``)
seen by a virtual camera, converted to COCO-17, with detector-like noise, a few
dropped joints and two frames without any detection.

    python examples/lift_coco_json.py                       # demo model, random weights
    python examples/lift_coco_json.py --model <name> --pretrained   # a registered model
    python examples/lift_coco_json.py --json my_detections.json --width 1920 --height 1080 --model <name> --pretrained

Without ``--model`` a tiny stand-in lifter with random weights is used: the 3D
output then only shows the shapes and the data path, not a real prediction.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

import posezoo
from posezoo.data import DetectorNoise, load_sample
from posezoo.skeleton import COCO_17, H36M_17


# ----------------------------------------------------------------------------- 1. write a demo JSON


def h36m_to_coco_pixels(h36m: np.ndarray) -> np.ndarray:
    """Approximate COCO-17 pixels from H36M-17 pixels (for the demo file only).

    Eyes and ears do not exist in H36M-17: they are placed around the nose using
    the nose -> head-top direction. Limbs are copied by name.
    """
    h = {name: h36m[:, i] for i, name in enumerate(H36M_17.joint_names)}
    up = h["head_top"] - h["nose"]
    side = np.stack([-up[:, 1], up[:, 0]], -1)  # perpendicular to the head axis, in the image
    face = {
        "left_eye": h["nose"] + 0.35 * up + 0.25 * side,
        "right_eye": h["nose"] + 0.35 * up - 0.25 * side,
        "left_ear": h["nose"] + 0.2 * up + 0.55 * side,
        "right_ear": h["nose"] + 0.2 * up - 0.55 * side,
    }
    return np.stack([face.get(n, h.get(n)) for n in COCO_17.joint_names], axis=1)


def write_demo_json(path: Path, seed: int = 0) -> tuple[int, int]:
    sample = load_sample("06_01")
    rng = np.random.default_rng(seed)
    coco_px = h36m_to_coco_pixels(sample.keypoints_2d_px.astype(np.float64))
    noisy, score = DetectorNoise(sigma_px=2.0, outlier_prob=0.01, missing_prob=0.01)(coco_px, rng)
    detections = []
    for frame in range(len(noisy)):
        if frame in (50, 51):  # the detector missed the person in two frames
            continue
        kp = np.concatenate([noisy[frame], score[frame][:, None]], axis=1)
        detections.append({"image_id": frame, "category_id": 1, "score": 0.98,
                           "keypoints": [round(float(v), 2) for v in kp.reshape(-1)]})
        if frame % 40 == 0:  # a low-scoring second "person" (background clutter)
            clutter = kp.copy()
            clutter[:, :2] += 300.0
            detections.append({"image_id": frame, "category_id": 1, "score": 0.3,
                               "keypoints": [round(float(v), 2) for v in clutter.reshape(-1)]})
    path.write_text(json.dumps(detections))
    return sample.image_size


# ----------------------------------------------------------------------------- 2. read a detector JSON


def read_coco_results(path: Path, num_frames: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(keypoints (T, 17, 2) pixels, confidence (T, 17))`` of the best person per frame.

    Frames are the sorted ``image_id`` values (0 .. max unless ``num_frames``
    says otherwise); a frame without a detection gets NaN keypoints and
    confidence 0, which ``posezoo.lift`` fills in by interpolation over time.
    """
    detections = json.loads(Path(path).read_text())
    best: dict[int, dict] = {}
    for det in detections:
        if det.get("category_id", 1) != 1 or len(det["keypoints"]) != 17 * 3:
            continue
        frame = int(det["image_id"])
        if frame not in best or det["score"] > best[frame]["score"]:
            best[frame] = det
    if not best:
        raise ValueError(f"{path}: no person detections with 17 keypoints")
    total = num_frames or max(best) + 1
    keypoints = np.full((total, 17, 2), np.nan, dtype=np.float32)
    confidence = np.zeros((total, 17), dtype=np.float32)
    for frame, det in best.items():
        kp = np.asarray(det["keypoints"], dtype=np.float32).reshape(17, 3)
        keypoints[frame], confidence[frame] = kp[:, :2], kp[:, 2]
    return keypoints, confidence


# ----------------------------------------------------------------------------- 3. lift


class DemoLifter(posezoo.PoseModel):
    """Stand-in used when no --model is given: RANDOM weights, shapes only."""

    def __init__(self, num_frames: int = 27, num_joints: int = 17, dim: int = 32) -> None:
        super().__init__()
        self.num_frames, self.num_joints, self.in_channels = num_frames, num_joints, 2
        self.net = nn.Sequential(nn.Linear(num_joints * 2, dim), nn.GELU(), nn.Linear(dim, num_joints * 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, j, _ = x.shape
        return self.net(x.reshape(b, t, j * 2)).reshape(b, t, j, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, default=None, help="detector results (COCO keypoint format)")
    parser.add_argument("--width", type=int, default=None, help="image width in pixels")
    parser.add_argument("--height", type=int, default=None, help="image height in pixels")
    parser.add_argument("--model", default=None, help="a registered model name (posezoo.list_models())")
    parser.add_argument("--pretrained", nargs="?", const=True, default=False,
                        help="load the default weights (or the given tag / path)")
    parser.add_argument("--min-confidence", type=float, default=0.1,
                        help="keypoints scored at or below this are treated as missing")
    parser.add_argument("--out", type=Path, default=None, help="save the 3D poses (.npy)")
    args = parser.parse_args()

    demo = args.json is None
    if demo:
        args.json = Path(tempfile.gettempdir()) / "posezoo_detections_demo.json"
        args.width, args.height = write_demo_json(args.json)
        print(f"wrote a demo detector file: {args.json}")
    if args.width is None or args.height is None:
        parser.error("--width and --height are needed with --json")

    keypoints, confidence = read_coco_results(args.json)
    missing = int((confidence <= args.min_confidence).sum())
    print(f"{len(keypoints)} frames of COCO-17 keypoints, {missing} keypoints missing or below "
          f"{args.min_confidence}")

    if args.model is None:
        torch.manual_seed(0)
        model: nn.Module | str = DemoLifter()
        print("no --model given: using a stand-in with RANDOM weights (the 3D output is not meaningful)")
    else:
        model = posezoo.create_model(args.model, pretrained=args.pretrained)

    poses_3d = posezoo.lift(
        keypoints, model,
        image_size=(args.width, args.height),
        layout="coco",                      # converted to H36M-17 (pelvis = mean of the hips, ...)
        confidence=confidence,
        min_confidence=args.min_confidence,  # NaN / low-score keypoints are interpolated over time
        flip_tta=True,
    )
    print(f"3D poses: {poses_3d.shape} (frames, H36M-17 joints, xyz), metres, root-relative camera frame")
    if demo and args.model is not None and args.pretrained:
        truth = load_sample("06_01").pose_3d
        print(f"MPJPE against the mocap ground truth: {np.linalg.norm(poses_3d - truth, axis=-1).mean() * 1000:.1f} mm")
    if args.out is not None:
        np.save(args.out, poses_3d)
        print(f"saved {args.out}")


if __name__ == "__main__":
    main()
