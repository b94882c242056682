"""Human3.6M (VideoPose3D files) as a training source and the protocol #1 / #2 evaluation, on tiny files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import posezoo
from posezoo import metrics
from posezoo.cli import main as cli_main
from posezoo.data.camera import image_coordinates
from posezoo.data.h36m import h36m_camera, load_h36m_3d
from posezoo.data.windows import Seq2SeqWindows, training_window_starts
from posezoo.training import PairedSequences, evaluate_h36m, fit, load_h36m_dir, split_sequences

from .h36m_support import write_h36m_files

TINY = {"dim": 16, "depth": 1, "num_heads": 2}
# training subjects with 4 takes (2 actions each), test subjects with "Walking 1" + "Walking" to merge
LENGTHS = {
    ("S1", "Walking 1"): 30,
    ("S1", "Directions"): 22,
    ("S5", "Eating"): 26,
    ("S5", "Walking"): 20,
    ("S6", "Posing"): 12,
    ("S7", "Phoning 1"): 12,
    ("S8", "Greeting"): 12,
    ("S9", "Walking 1"): 28,
    ("S9", "Directions 1"): 19,
    ("S11", "Walking"): 24,
    ("S11", "Eating 2"): 21,
}
TRAIN_TAKES = {"S1/Walking 1", "S1/Directions", "S5/Eating", "S5/Walking", "S6/Posing", "S7/Phoning 1", "S8/Greeting"}


@pytest.fixture(autouse=True)
def quiet(monkeypatch):
    monkeypatch.setenv("POSEZOO_TRAIN_LOG", "0")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def h36m_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("h36m")
    write_h36m_files(folder, LENGTHS, source="cpn_ft_h36m_dbb", extra_frames=("S9", "Walking 1", 1), pixel_noise=2.0)
    write_h36m_files(folder, LENGTHS, source="gt", extra_frames=None)
    return folder


@pytest.fixture(scope="module")
def lifter() -> torch.nn.Module:
    torch.manual_seed(0)
    return posezoo.create_model("rtpca_small", pretrained=False, num_frames=9, **TINY).eval()


def test_windows_are_the_files_pairs(h36m_dir: Path) -> None:
    seqs = load_h36m_dir(h36m_dir, "cpn_ft_h36m_dbb", subjects=["S1"], actions=["Walking"])
    source = PairedSequences(seqs)
    assert len(source) == 4 and source.names[0] == "S1/Walking 1/54138969"
    world = load_h36m_3d(h36m_dir / "data_3d_h36m.npz")["S1"]["Walking 1"].astype(np.float64)
    pixels = np.load(h36m_dir / "data_2d_h36m_cpn_ft_h36m_dbb.npz", allow_pickle=True)["positions_2d"].item()
    frames = np.arange(5, 14)
    for i in range(4):
        cam = h36m_camera("S1", i)
        w = source.window(i, frames, np.random.default_rng(0))
        assert w["keypoints_2d"].shape == (9, 17, 2) and w["pose_3d"].shape == (9, 17, 3)
        assert w["confidence"].shape == (9, 17) and np.all(w["confidence"] == 1)
        cam3d = cam.world_to_camera(world)[frames]
        np.testing.assert_allclose(w["pose_3d"], cam3d - cam3d[:, :1], atol=1e-5)
        # the file's own (noisy) detections, normalised: no virtual camera, no added noise
        px = image_coordinates(w["keypoints_2d"].astype(np.float64), cam.res_w, cam.res_h)
        np.testing.assert_allclose(px, pixels["S1"]["Walking 1"][i][frames], atol=1e-3)
        np.testing.assert_allclose(w["camera_intrinsics"][:4], [*cam.focal_length, *cam.center], rtol=1e-6)
        np.testing.assert_array_equal(w["image_size"], [cam.res_w, cam.res_h])
    ds = Seq2SeqWindows(source, 9, stride=9)
    assert len(ds) == 4 * 4 and ds[0]["keypoints_2d"].shape == (9, 17, 2)


def test_split_holds_out_whole_takes(h36m_dir: Path) -> None:
    seqs = load_h36m_dir(h36m_dir, "gt", subjects=["S1", "S5"])
    train, val = split_sequences(seqs, 0.25, seed=3)
    takes = lambda ss: {(s["subject"], s["action"]) for s in ss}  # noqa: E731
    assert len(takes(val)) == 1 and len(val) == 4 and len(train) == 12 and not takes(train) & takes(val)
    again, _ = split_sequences(seqs, 0.25, seed=3)
    assert [s["action"] for s in again] == [s["action"] for s in train]


def test_train_command_from_h36m(h36m_dir: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    args = [
        "train",
        "--model",
        "rtpca_small",
        "--h36m",
        str(h36m_dir),
        "--steps",
        "2",
        "--batch-size",
        "2",
        "--out",
        str(out),
        "--model-kwargs",
        json.dumps({"num_frames": 9, **TINY}),
        "--val-fraction",
        "0.25",
        "--set",
        "log_every=1",
        "--set",
        "val_windows=4",
    ]
    assert cli_main(args) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["steps"] == 2 and summary["mpjpe"] > 0
    assert {"best", "last", "metrics.jsonl", "run.json"} <= {p.name for p in out.iterdir()}
    run = json.loads((out / "run.json").read_text())
    assert run["source"] == "h36m"
    assert run["h36m"] == {
        "dir": str(h36m_dir),
        "2d": "cpn_ft_h36m_dbb",
        "subjects": ["S1", "S5", "S6", "S7", "S8"],
        "actions": None,
        "noise": False,
    }
    # validation: 2 of the 7 takes of the training subjects (all their cameras), never S9 / S11
    assert len(run["val_clips"]) == 2 and set(run["train_clips"]) | set(run["val_clips"]) == TRAIN_TAKES
    # 4 cameras per take, windows of 9 frames every 3, each also mirrored
    per_take = [len(training_window_starts(LENGTHS[tuple(t.split("/"))], 9, 3)) for t in run["train_clips"]]
    assert run["train_windows"] == 2 * 4 * sum(per_take)
    assert type(posezoo.from_pretrained(out / "best")).__name__ == "RTPCA"


def test_every_recipe_trains_from_h36m(h36m_dir: Path) -> None:
    kwargs = {
        "uplift_upsample_small": {
            "spatial_dim": 8,
            "temporal_dim": 16,
            "spatial_depth": 1,
            "temporal_depth": 1,
            "num_heads": 2,
        },
        "mixsynthformer_h36m_3d": {"dim": 16, "depth": 1},
    }
    for name, mk in kwargs.items():
        trainer = fit(
            name,
            h36m=h36m_dir,
            h36m_2d="gt",
            h36m_subjects=["S1", "S5"],
            h36m_actions=["Walking"],
            steps=2,
            batch_size=2,
            val_fraction=0.5,
            progress=False,
            model_kwargs=mk,
            overrides={"log_every": 1, "val_windows": 4},
        )
        assert trainer.step == 2 and trainer.best is not None and np.isfinite(trainer.best)
        assert trainer.run_info["train_clips"] + trainer.run_info["val_clips"] in (
            ["S1/Walking 1", "S5/Walking"],
            ["S5/Walking", "S1/Walking 1"],
        )


def test_eval_per_action_protocols(h36m_dir: Path, lifter, tmp_path: Path, capsys) -> None:
    weights = tmp_path / "w"
    posezoo.save_pretrained(lifter, weights)
    js = tmp_path / "eval.json"
    assert (
        cli_main(
            ["eval", "--model", "rtpca_small", "--weights", str(weights), "--h36m", str(h36m_dir), "--json", str(js)]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "Walking" in printed and "#2 p_mpjpe" in printed and "average" in printed
    result = json.loads(js.read_text())
    assert result["subjects"] == ["S9", "S11"] and result["source"] == "cpn_ft_h36m_dbb" and result["flip_tta"]
    assert list(result["per_action"]) == ["Directions", "Eating", "Walking"]  # H36M order, "Walking 1" merged
    # a direct computation: every sequence of the action through lift(), frame-weighted
    seqs = load_h36m_dir(h36m_dir, "cpn_ft_h36m_dbb", subjects=["S9", "S11"])
    model = posezoo.from_pretrained(weights).eval()
    for action, keys in (("Walking", {("S9", "Walking 1"), ("S11", "Walking")}), ("Eating", {("S11", "Eating 2")})):
        preds, gts = [], []
        for s in seqs:
            if (s["subject"], s["action"]) in keys:
                preds.append(posezoo.lift(s["keypoints_2d"], model))
                gts.append(s["pose_3d"])
        pred, gt = (torch.from_numpy(np.concatenate(x)).double() for x in (preds, gts))
        frames = sum(LENGTHS[k] for k in keys) * 4
        assert pred.shape[0] == frames == result["per_action"][action]["frames"]
        assert result["per_action"][action]["mpjpe"] == pytest.approx(
            float(metrics.mpjpe(pred, gt, root=0, scale=1000.0)), abs=2e-3
        )
        assert result["per_action"][action]["p_mpjpe"] == pytest.approx(
            float(metrics.p_mpjpe(pred, gt, scale=1000.0)), abs=2e-3
        )
        assert 0 < result["per_action"][action]["p_mpjpe"] < result["per_action"][action]["mpjpe"]
    for key in ("mpjpe", "p_mpjpe", "n_mpjpe", "mpjve"):
        assert result[key] == pytest.approx(np.mean([v[key] for v in result["per_action"].values()]), abs=1e-3)
    assert result["frames"] == sum(n for (s, _), n in LENGTHS.items() if s in ("S9", "S11")) * 4


def test_flip_tta_switch(h36m_dir: Path, lifter, tmp_path: Path) -> None:
    on = evaluate_h36m(lifter, h36m_dir, source="gt", actions=["Eating"])
    posezoo.save_pretrained(lifter, tmp_path / "w")
    assert (
        cli_main(
            [
                "eval",
                "--model",
                "rtpca_small",
                "--weights",
                str(tmp_path / "w"),
                "--h36m",
                str(h36m_dir),
                "--h36m-2d",
                "gt",
                "--h36m-actions",
                "Eating",
                "--no-flip-tta",
                "--json",
                str(tmp_path / "off.json"),
            ]
        )
        == 0
    )
    off = json.loads((tmp_path / "off.json").read_text())
    assert off["subjects"] == ["S9", "S11"] and list(off["per_action"]) == ["Eating"]
    assert on["flip_tta"] and not off["flip_tta"] and on["mpjpe"] != off["mpjpe"]
    seq = load_h36m_dir(h36m_dir, "gt", subjects=["S11"], actions=["Eating"])
    pred = np.concatenate([posezoo.lift(s["keypoints_2d"], lifter, flip_tta=False) for s in seq])
    gt = np.concatenate([s["pose_3d"] for s in seq])
    direct = float(metrics.mpjpe(torch.from_numpy(pred).double(), torch.from_numpy(gt).double(), root=0, scale=1e3))
    assert off["per_action"]["Eating"]["mpjpe"] == pytest.approx(direct, abs=2e-3)


def test_uplift_upsample_and_refiner_eval(h36m_dir: Path) -> None:
    torch.manual_seed(0)
    uu = posezoo.create_model(
        "uplift_upsample_small",
        pretrained=False,
        spatial_dim=8,
        temporal_dim=16,
        spatial_depth=1,
        temporal_depth=1,
        num_heads=2,
    ).eval()
    stride = sorted(int(s) for s in uu.input_strides)[-1]
    result = evaluate_h36m(uu, h36m_dir, source="gt", subjects=["S11"], input_stride=stride)
    assert result["input_stride"] == stride and result["frames"] == (24 + 21) * 4
    seq = load_h36m_dir(h36m_dir, "gt", subjects=["S11"], actions=["Walking"])[0]
    pred = posezoo.lift(seq["keypoints_2d"][::stride], uu, input_stride=stride, output_length=24)
    assert pred.shape == (24, 17, 3)
    refiner = posezoo.create_model("mixsynthformer_h36m_3d", pretrained=False, dim=16, depth=1).eval()
    result = evaluate_h36m(refiner, h36m_dir, source="gt", subjects=["S9"])
    assert list(result["per_action"]) == ["Directions", "Walking"] and not result["flip_tta"]
    assert result["sample_interval"] == int(refiner.sample_interval) and result["frames"] == (28 + 19) * 4
    assert {"mpjpe", "p_mpjpe", "linear_mpjpe", "cubic_mpjpe", "noisy_keyframes_mpjpe"} <= set(result)
    assert result["linear_mpjpe"] == pytest.approx(
        np.mean([v["linear_mpjpe"] for v in result["per_action"].values()]), abs=1e-3
    )
    assert 0 < result["noisy_keyframes_mpjpe"] < 200 and result["mpjpe"] > 0


def test_clear_errors(h36m_dir: Path, tmp_path: Path, capsys) -> None:
    with pytest.raises(
        FileNotFoundError,
        match=r"data_2d_h36m_detectron\.npz.*found data_2d_h36m_cpn_ft_h36m_dbb"
        r"\.npz, data_2d_h36m_gt\.npz, data_3d_h36m\.npz .*2D sources here: cpn_ft_h36m_dbb, gt",
    ):
        load_h36m_dir(h36m_dir, "detectron")
    with pytest.raises(ValueError, match="unknown H36M subjects"):
        load_h36m_dir(h36m_dir, "gt", subjects=["S2"])
    write_h36m_files(tmp_path / "small")  # S1 and S9 only
    with pytest.raises(ValueError, match=r"no 2D keypoints for subjects \['S5'\]; has S1, S9"):
        load_h36m_dir(tmp_path / "small", "gt", subjects=["S1", "S5"])
    with pytest.raises(ValueError, match="not both"):
        fit("rtpca_small", "sample", h36m=h36m_dir, steps=1)
    with pytest.raises(ValueError, match="no training data"):
        fit("rtpca_small", steps=1)
    assert (
        cli_main(
            [
                "train",
                "--model",
                "rtpca_small",
                "--h36m",
                str(h36m_dir),
                "--h36m-2d",
                "nope",
                "--steps",
                "1",
                "--out",
                str(tmp_path / "r"),
            ]
        )
        == 2
    )
    assert "data_2d_h36m_nope.npz" in capsys.readouterr().err
    assert cli_main(["train", "--model", "rtpca_small", "--steps", "1", "--out", str(tmp_path / "r")]) == 2
    assert "--data" in capsys.readouterr().err
