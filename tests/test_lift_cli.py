"""``posezoo lift`` end to end: a COCO JSON of a repository clip -> 3D file and animation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

import posezoo
from posezoo import skeleton as sk
from posezoo.cli import main
from posezoo.io import read_keypoints
from posezoo.io.lift_cli import resolve_model


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> dict:
    """A detector-style COCO results JSON of the bundled 06_01 clip, and a random rtpca_small weights dir."""
    tmp = tmp_path_factory.mktemp("lift_cli")
    s = posezoo.data.load_sample("06_01")
    cam3d = s.camera.world_to_camera(s.poses_world.astype(np.float64))
    coco = s.camera.project(sk.synthesize_keypoints(cam3d, "coco"))
    dets = []
    for f in range(len(coco)):
        if f in (60, 61):  # the detector missed the person
            continue
        kp = np.concatenate([coco[f], np.full((17, 1), 0.9)], 1)
        dets.append({"image_id": f, "category_id": 1, "score": 0.97, "keypoints": kp.reshape(-1).round(3).tolist()})
        if f % 50 == 0:  # a weaker second detection
            dets.append(
                {"image_id": f, "category_id": 1, "score": 0.2, "keypoints": (kp + [300, 0, 0]).reshape(-1).tolist()}
            )
    path = tmp / "detections.json"
    path.write_text(json.dumps(dets))
    torch.manual_seed(0)
    weights = posezoo.save_pretrained(posezoo.create_model("rtpca_small"), tmp / "rtpca_small_random")
    return {"tmp": tmp, "json": path, "weights": weights, "sample": s, "coco": coco}


@pytest.mark.filterwarnings("ignore:the root lands behind the camera")  # random weights
def test_lift_command_writes_poses_root_and_animation(clip: dict, capsys) -> None:
    out, gif = clip["tmp"] / "out.npz", clip["tmp"] / "out.gif"
    rc = main(
        [
            "lift",
            str(clip["json"]),
            "--out",
            str(out),
            "--weights",
            str(clip["weights"]),
            "--image-size",
            "1000",
            "1000",
            "--fps",
            "50",
            "--render",
            str(gif),
            "--render-step",
            "20",
        ]
    )
    assert rc == 0
    printed = capsys.readouterr().out
    assert "205 frames of coco keypoints (2 without a detection)" in printed and "image diagonal" in printed
    z = np.load(out)
    assert z["poses_3d"].shape == (205, 17, 3) and z["poses_3d"].dtype == np.float32
    assert z["root_trajectory"].shape == (205, 3) and z["keypoints_2d"].shape == (205, 17, 2)
    assert z["joint_names"].tolist() == list(sk.H36M_17.joint_names) and z["frames"].tolist() == list(range(205))
    meta = json.loads(str(z["meta"]))
    assert meta["fps"] == 50.0 and meta["units"] == "metres" and meta["model"] == "rtpca_small"
    assert meta["focal_length"] == [np.hypot(1000, 1000)] * 2 and meta["intrinsics"].startswith("default")
    np.testing.assert_array_equal(z["poses_3d"][:, 0], 0)  # root-relative
    np.testing.assert_allclose(z["poses_3d_camera"], z["poses_3d"] + z["root_trajectory"][:, None], atol=1e-6)
    # the same numbers as the library calls
    seq = read_keypoints(clip["json"])
    model = posezoo.from_pretrained(clip["weights"])
    expected = posezoo.lift(
        seq.keypoints, model, image_size=(1000, 1000), layout="coco", confidence=seq.scores, min_confidence=0.2
    )
    np.testing.assert_allclose(z["poses_3d"], expected, atol=1e-5)
    h36m, conf = sk.to_h36m(seq.keypoints.astype(np.float64), "coco", seq.scores.astype(np.float64), min_confidence=0.2)
    np.testing.assert_allclose(z["keypoints_2d"], h36m, atol=1e-3, equal_nan=True)
    assert np.isnan(z["keypoints_2d"][60:62]).all() and (z["confidence"][60:62] == 0).all()
    root = posezoo.root_trajectory(
        h36m,
        z["poses_3d"].astype(np.float64),
        focal_length=meta["focal_length"],
        principal_point=meta["principal_point"],
        confidence=conf,
    )
    np.testing.assert_allclose(z["root_trajectory"], root, atol=1e-4)  # (random weights: not a real position)
    with Image.open(gif) as im:  # frames 0, 20, ..., 200
        assert im.n_frames == 11 and im.size[0] > im.size[1] > 100


def test_lift_command_json_known_focal_and_stride(clip: dict) -> None:
    s = clip["sample"]
    out = clip["tmp"] / "out.json"
    f = float(s.camera.focal_length[0])
    cx, cy = (float(v) for v in s.camera.center)
    rc = main(
        [
            "lift",
            str(clip["json"]),
            "--out",
            str(out),
            "--weights",
            str(clip["weights"]),
            "--image-size",
            "1000",
            "1000",
            "--focal",
            str(f),
            "--principal-point",
            str(cx),
            str(cy),
            "--stride",
            "2",
        ]
    )
    assert rc == 0
    data = json.loads(out.read_text())
    poses = np.asarray(data["poses_3d"], dtype=float)
    assert poses.shape == (103, 17, 3) and data["frames"] == list(range(0, 205, 2))  # a plain lifter: kept frames
    assert data["focal_length"] == [f, f] and data["intrinsics"] == "given" and data["fps"] is None
    kp = data["keypoints_2d"]
    assert kp[30][0] == [None, None] and np.isfinite(np.asarray(kp[0], dtype=float)).all()  # frame 60: no detection
    assert np.asarray(data["root_trajectory"], dtype=float).shape == (103, 3)


def test_lift_command_upsampling_model_returns_every_frame(clip: dict) -> None:
    torch.manual_seed(0)
    weights = posezoo.save_pretrained(posezoo.create_model("uplift_upsample_small"), clip["tmp"] / "uu")
    out = clip["tmp"] / "uu.npz"
    assert (
        main(
            [
                "lift",
                str(clip["json"]),
                "--out",
                str(out),
                "--weights",
                str(weights),
                "--image-size",
                "1000",
                "1000",
                "--stride",
                "4",
                "--fps",
                "50",
            ]
        )
        == 0
    )
    z = np.load(out)
    assert z["poses_3d"].shape == (205, 17, 3) and z["root_trajectory"].shape == (205, 3)
    assert np.isfinite(z["root_trajectory"]).all() and json.loads(str(z["meta"]))["fps"] == 50.0


def test_lift_command_errors(clip: dict, capsys, monkeypatch) -> None:
    out = str(clip["tmp"] / "x.npz")
    assert main(["lift", str(clip["json"]), "--out", out, "--weights", str(clip["weights"])]) == 2
    assert "does not record the image size: pass --image-size" in capsys.readouterr().err
    assert (
        main(
            [
                "lift",
                str(clip["json"]),
                "--out",
                str(clip["tmp"] / "x.txt"),
                "--weights",
                str(clip["weights"]),
                "--image-size",
                "1000",
                "1000",
            ]
        )
        == 2
    )
    assert "--out must end in .npz or .json" in capsys.readouterr().err
    assert main(["lift", str(clip["tmp"] / "missing.json"), "--out", out]) == 2
    assert "no such file" in capsys.readouterr().err
    import posezoo.models as models

    monkeypatch.setattr(models, "list_models", lambda *a, **k: [])
    with pytest.raises(ValueError, match="no registered model has bundled weights yet"):
        resolve_model(None, None, pretrained=True)
    with pytest.warns(UserWarning, match="random weights"):
        net, name = resolve_model("_test_tiny_lifter", None, pretrained=False)
    assert name == "_test_tiny_lifter" and net.num_frames == 5
    assert (
        main(
            [
                "lift",
                str(clip["json"]),
                "--out",
                out,
                "--model",
                "_test_tiny_lifter",
                "--no-pretrained",
                "--image-size",
                "1000",
                "1000",
                "--layout",
                "halpe26",
            ]
        )
        == 2
    )
    assert "layout 'halpe26' has 26 joints, the file has 17" in capsys.readouterr().err
