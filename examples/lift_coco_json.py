"""In-the-wild lifting: COCO keypoints from a detector's JSON -> 3D poses with ``posezoo.lift``.

Detectors (Detectron2, MMPose, OpenPifPaf, ...) write their results in the COCO
keypoint *results* format: a list of detections

    {"image_id": <frame>, "category_id": 1, "score": <person score>,
     "keypoints": [x1, y1, s1, x2, y2, s2, ...]}   # 17 COCO joints, pixels + score

``posezoo.io.read_coco_results`` turns such a file into one ``(T, 17, 2)`` pixel
sequence plus ``(T, 17)`` confidences (the best-scoring person per frame; frames
without a detection are kept as missing) and ``posezoo.lift`` lifts it to 3D
(``posezoo lift FILE --out OUT.npz`` does the same from the command line).

So that it runs offline with nothing downloaded, the script first WRITES a small
detector-style JSON itself: the bundled CMU sample (``posezoo.data.load_sample``)
seen by its virtual camera, with COCO-17 keypoints placed by
``posezoo.skeleton.synthesize_keypoints`` (eyes, ears and nose where a detector
marks them), detector-like noise, a few dropped joints and two frames without
any detection.

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
from posezoo.skeleton import synthesize_keypoints

# ----------------------------------------------------------------------------- 1. write a demo JSON


def h36m_to_coco_pixels(sample: posezoo.data.Sample) -> np.ndarray:
    """COCO-17 pixels of a bundled sample: detector joints placed around its 3D poses, projected."""
    cam3d = sample.camera.world_to_camera(sample.poses_world.astype(np.float64))
    return sample.camera.project(synthesize_keypoints(cam3d, "coco"))


def write_demo_json(path: Path, seed: int = 0) -> tuple[int, int]:
    sample = load_sample("06_01")
    rng = np.random.default_rng(seed)
    coco_px = h36m_to_coco_pixels(sample)
    noisy, score = DetectorNoise(sigma_px=2.0, outlier_prob=0.01, missing_prob=0.01)(coco_px, rng)
    detections = []
    for frame in range(len(noisy)):
        if frame in (50, 51):  # the detector missed the person in two frames
            continue
        kp = np.concatenate([noisy[frame], score[frame][:, None]], axis=1)
        detections.append(
            {
                "image_id": frame,
                "category_id": 1,
                "score": 0.98,
                "keypoints": [round(float(v), 2) for v in kp.reshape(-1)],
            }
        )
        if frame % 40 == 0:  # a low-scoring second "person" (background clutter)
            clutter = kp.copy()
            clutter[:, :2] += 300.0
            detections.append(
                {
                    "image_id": frame,
                    "category_id": 1,
                    "score": 0.3,
                    "keypoints": [round(float(v), 2) for v in clutter.reshape(-1)],
                }
            )
    path.write_text(json.dumps(detections))
    return sample.image_size


# ----------------------------------------------------------------------------- 2. read a detector JSON


def read_coco_results(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(keypoints (T, 17, 2) pixels, confidence (T, 17))`` of the best person per frame.

    Frames are the ``image_id`` values from 0 to the last detection; a frame
    without a detection gets NaN keypoints and confidence 0, which
    ``posezoo.lift`` fills in by interpolation over time.
    """
    seq = posezoo.io.read_coco_results(path, first_frame=0)
    return seq.keypoints, seq.scores


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
    parser.add_argument(
        "--pretrained", nargs="?", const=True, default=False, help="load the default weights (or the given tag / path)"
    )
    parser.add_argument(
        "--min-confidence", type=float, default=0.1, help="keypoints scored at or below this are treated as missing"
    )
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
    print(f"{len(keypoints)} frames of COCO-17 keypoints, {missing} keypoints missing or below {args.min_confidence}")

    if args.model is None:
        torch.manual_seed(0)
        model: nn.Module | str = DemoLifter()
        print("no --model given: using a stand-in with RANDOM weights (the 3D output is not meaningful)")
    else:
        model = posezoo.create_model(args.model, pretrained=args.pretrained)

    poses_3d = posezoo.lift(
        keypoints,
        model,
        image_size=(args.width, args.height),
        layout="coco",  # converted to H36M-17 by the fitted rules (posezoo.skeleton)
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
