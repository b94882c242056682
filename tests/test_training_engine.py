"""The training engine: exact resume, run folder, schedules, settings, every family's recipe, eval, DDP."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import posezoo
from posezoo.cli import main as cli_main
from posezoo.training import TrainConfig, fit, lr_factor, parse_overrides
from posezoo.training.config import split_overrides

REPO = Path(__file__).resolve().parent.parent
TINY = {
    "rtpca_small": {"dim": 16, "depth": 1, "num_heads": 2},
    "mixste_small": {"dim": 16, "depth": 1, "num_heads": 2},
    "uplift_upsample_small": {
        "spatial_dim": 8,
        "temporal_dim": 16,
        "spatial_depth": 1,
        "temporal_depth": 1,
        "num_heads": 2,
    },
    "mixsynthformer_h36m_3d": {"dim": 16, "depth": 1},
}
QUIET = {"log_every": 1, "val_windows": 8}


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    monkeypatch.setenv("POSEZOO_TRAIN_LOG", "0")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _fit(out: Path | None, steps: int, resume: bool = False, **extra):
    overrides = {**QUIET, "val_every": 3, "schedule": "exp", "lr_decay": 0.9, "warmup_steps": 2, **extra}
    return fit(
        "rtpca_small",
        "sample",
        steps=steps,
        batch_size=4,
        out_dir=out,
        seed=3,
        resume=resume,
        progress=False,
        overrides=overrides,
        model_kwargs=TINY["rtpca_small"],
    )


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run / "last" / "model.safetensors"))


def test_resume_continues_exactly(tmp_path: Path) -> None:
    straight = tmp_path / "straight"
    _fit(straight, steps=6)
    split = tmp_path / "split"
    _fit(split, steps=3)
    _fit(split, steps=6, resume=True)
    a, b = _weights(straight), _weights(split)
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=1e-6, rtol=0, msg=k)
    steps = [json.loads(line)["step"] for line in (split / "metrics.jsonl").read_text().splitlines()]
    assert steps == [json.loads(line)["step"] for line in (straight / "metrics.jsonl").read_text().splitlines()]


def test_resume_after_an_interruption_mid_schedule(tmp_path: Path) -> None:
    """Cosine schedule (depends on the total): a run killed after its step-3 checkpoint resumes exactly."""
    straight = tmp_path / "straight"
    _fit(straight, steps=6, schedule="cosine", ema=0.9)
    killed = tmp_path / "killed"

    class Stop(Exception):
        pass

    def stop_at_4(record):
        if record["step"] == 4:
            raise Stop

    trainer_kwargs = {**QUIET, "val_every": 3, "schedule": "cosine", "ema": 0.9, "warmup_steps": 2, "lr_decay": 0.9}
    from posezoo.training import Trainer, recipe_for  # the same run, driven by hand to interrupt it

    def build(out):
        torch.manual_seed(3)  # as fit(seed=3) does before building the model
        net = posezoo.create_model("rtpca_small", **TINY["rtpca_small"])
        recipe = recipe_for("rtpca", net)
        tr, va = recipe.datasets(*posezoo.training.split_clips(posezoo.data.cmu_mocap("sample"), 0.1, 3), 3)
        cfg = TrainConfig(**{**recipe.engine_defaults, "steps": 6, "batch_size": 4, "seed": 3, **trainer_kwargs})
        return Trainer(net, recipe, tr, va, cfg, out_dir=out, progress=False)

    with pytest.raises(Stop):
        build(killed).fit(callback=stop_at_4)
    build(killed).fit(resume=True)
    a, b = _weights(straight), _weights(killed)
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=1e-6, rtol=0, msg=k)
    best_a = load_file(str(straight / "best" / "model.safetensors"))
    best_b = load_file(str(killed / "best" / "model.safetensors"))
    for k in best_a:
        torch.testing.assert_close(best_a[k], best_b[k], atol=1e-6, rtol=0)


def test_run_folder_contents(tmp_path: Path) -> None:
    out = tmp_path / "run"
    trainer = _fit(out, steps=3)
    run = json.loads((out / "run.json").read_text())
    assert run["train"]["steps"] == 3 and run["train"]["seed"] == 3 and run["world_size"] == 1
    assert run["recipe"]["name"] == "rtpca" and "torch" in run["versions"] and run["model"] == "rtpca_small"
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    train_records = [r for r in records if "loss" in r]
    val_records = [r for r in records if r.get("split") == "val"]
    assert [r["step"] for r in train_records] == [1, 2, 3]
    assert all(r["samples_per_s"] > 0 and r["lr"] > 0 for r in train_records)
    assert {"mpjpe", "p_mpjpe", "n_mpjpe", "mpjve", "accel"} <= set(val_records[-1])
    model = posezoo.from_pretrained(out / "best")
    assert isinstance(model, type(trainer.model))
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        _fit(tmp_path / "empty", steps=3, resume=True)


def test_learning_rate_schedules() -> None:
    cfg = TrainConfig(steps=100, lr=1.0, warmup_steps=10, schedule="exp", lr_decay=0.5)
    f = lr_factor(cfg, steps_per_epoch=20)
    assert f(0) == pytest.approx(0.01) and f(10) == 1.0 and f(20) == 0.5 and f(45) == 0.25
    cos = lr_factor(TrainConfig(steps=100, warmup_steps=0, schedule="cosine", min_lr_frac=0.1), 7)
    assert cos(0) == pytest.approx(1.0) and cos(50) == pytest.approx(0.55) and cos(100) == pytest.approx(0.1)


def test_settings_validate_and_route() -> None:
    with pytest.raises(ValueError, match="schedule"):
        TrainConfig(schedule="linear")
    with pytest.raises(ValueError, match="steps"):
        TrainConfig(steps=0)
    assert parse_overrides(["lr=3e-4", "schedule=cosine", "betas=[0.9,0.99]", "flip=false"]) == {
        "lr": 3e-4,
        "schedule": "cosine",
        "betas": [0.9, 0.99],
        "flip": False,
    }
    cfg, opts = split_overrides(TrainConfig(), {"flip": True}, {"lr": 0.5, "flip": False, "betas": [0.8, 0.9]})
    assert cfg.lr == 0.5 and cfg.betas == (0.8, 0.9) and opts == {"flip": False}
    with pytest.raises(ValueError, match="unknown setting 'lrr'"):
        split_overrides(TrainConfig(), {}, {"lrr": 1})
    with pytest.raises(ValueError, match="key=value"):
        parse_overrides(["lr"])


@pytest.mark.parametrize("name", sorted(TINY))
def test_every_family_recipe_reduces_its_loss(name: str) -> None:
    torch.manual_seed(0)
    trainer = fit(
        name,
        "train",
        steps=40,
        batch_size=8,
        seed=0,
        progress=False,
        model_kwargs=TINY[name],
        overrides={"log_every": 1, "val_every": 0, "lr": 3e-3, "warmup_steps": 5, "val_windows": 8},
    )
    losses = np.array([r["loss"] for r in trainer.history if "loss" in r])
    assert len(losses) == 40 and np.isfinite(losses).all()
    assert losses[-8:].mean() < 0.8 * losses[:8].mean(), (losses[:8], losses[-8:])


def test_eval_command_writes_the_metrics(tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    _fit(out, steps=2)
    js = tmp_path / "eval.json"
    assert (
        cli_main(
            [
                "eval",
                "--model",
                "rtpca_small",
                "--weights",
                str(out / "best"),
                "--data",
                "sample",
                "--views",
                "1",
                "--json",
                str(js),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "clean" in printed and "noisy" in printed and "mpjpe" in printed
    result = json.loads(js.read_text())
    for setting in ("clean", "noisy"):
        assert {"mpjpe", "p_mpjpe", "n_mpjpe", "mpjve", "accel", "frames"} <= set(result[setting])
        assert 0 < result[setting]["p_mpjpe"] <= result[setting]["mpjpe"] + 1e-6
    assert result["clean"]["frames"] == sum(len(c) for c in posezoo.data.cmu_mocap("sample").values())


def test_eval_noise_levels(tmp_path: Path, capsys) -> None:
    """--noise sets the noisy pass: zero noise reproduces the clean numbers, more noise costs more."""
    model = posezoo.create_model("rtpca_small", pretrained=True).eval()
    clips = posezoo.data.cmu_mocap("sample")
    assert len(clips) >= 2
    # every clip, two views each: the noise has its own random stream, so both passes see the same cameras
    quiet = posezoo.training.evaluate(model, clips, views=2, noise=(0.0, 0.0))
    assert quiet["noisy"]["mpjpe"] == pytest.approx(quiet["clean"]["mpjpe"], abs=1e-3)
    assert quiet["noisy"]["frames"] == quiet["clean"]["frames"] == 2 * sum(len(c) for c in clips.values())
    assert quiet["noisy"]["noise_sigma_px"] == 0.0 and quiet["noisy"]["outlier_prob"] == 0.0
    default = posezoo.training.evaluate(model, "sample", views=1)
    loud = posezoo.training.evaluate(model, "sample", views=1, noise=(12.0, 0.1))
    assert default["noisy"]["noise_sigma_px"] == 3.0 and default["noisy"]["outlier_prob"] == 0.02
    assert loud["noisy"]["mpjpe"] > default["noisy"]["mpjpe"] + 5.0
    assert loud["clean"] == default["clean"]
    js = tmp_path / "eval.json"
    args = ["eval", "--model", "rtpca_small", "--data", "sample", "--views", "1", "--noise", "12", "0.1"]
    assert cli_main([*args, "--json", str(js)]) == 0
    assert json.loads(js.read_text())["noisy"] == loud["noisy"]
    for bad, message in (((-1.0, 0.0), "sigma"), ((3.0, 1.5), "outlier_prob")):
        with pytest.raises(ValueError, match=message):
            posezoo.training.evaluate(model, "sample", views=1, noise=bad)
    with pytest.raises(TypeError, match="pair"):
        posezoo.training.evaluate(model, "sample", views=1, noise=3.0)
    refiner = posezoo.create_model("mixsynthformer_h36m_3d", pretrained=True).eval()
    base = posezoo.training.evaluate(refiner, "sample", views=1)["refine"]
    jittery = posezoo.training.evaluate(refiner, "sample", views=1, noise=(40.0, 0.05))["refine"]
    assert (base["sigma_m"], base["outlier_prob"]) == (0.02, 0.02)
    assert (jittery["sigma_m"], jittery["outlier_prob"]) == (0.04, 0.05)
    assert jittery["noisy_keyframes_mpjpe"] > 1.5 * base["noisy_keyframes_mpjpe"]
    capsys.readouterr()


def test_train_command_runs_and_rejects_unknown_settings(tmp_path: Path, capsys) -> None:
    args = [
        "train",
        "--model",
        "mixste_small",
        "--data",
        "sample",
        "--steps",
        "2",
        "--batch-size",
        "2",
        "--out",
        str(tmp_path / "r"),
        "--model-kwargs",
        json.dumps(TINY["mixste_small"]),
        "--set",
        "val_windows=4",
        "--set",
        "log_every=1",
    ]
    assert cli_main(args) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["steps"] == 2 and summary["mpjpe"] > 0
    assert cli_main([*args[:-4], "--set", "nonsense=1"]) == 2
    assert "unknown setting 'nonsense'" in capsys.readouterr().err


@pytest.mark.slow
def test_torchrun_two_processes_gloo(tmp_path: Path) -> None:
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")
    assert torchrun, "torchrun not found next to the interpreter"
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "POSEZOO_TRAIN_LOG": "0"}
    cmd = [
        torchrun,
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "posezoo",
        "train",
        "--model",
        "rtpca_small",
        "--data",
        "sample",
        "--steps",
        "3",
        "--batch-size",
        "2",
        "--out",
        str(out),
        "--model-kwargs",
        json.dumps(TINY["rtpca_small"]),
        "--set",
        "val_windows=4",
        "--device",
        "cpu",
    ]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = json.loads((out / "run.json").read_text())
    assert run["world_size"] == 2
    assert (out / "last" / "model.safetensors").is_file() and (out / "best" / "model.safetensors").is_file()
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert max(steps) == 3
