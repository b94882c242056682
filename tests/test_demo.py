"""``posezoo demo`` end to end, with a randomly initialised rtpca_small bundled into a temporary weights root."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

import posezoo
from posezoo.cli import main
from posezoo.demo import run_demo
from posezoo.models import bundle_weights
from posezoo.models._registry import _MODEL_REGISTRY, get_model_entry

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def bundled_rtpca(tmp_path_factory):
    """rtpca_small with random weights bundled as tag 'cmu' in a temporary root.

    Replaces the real bundled weights for the test, if any, and restores the registry entry afterwards.
    """
    entry = get_model_entry("rtpca_small")
    tmp = tmp_path_factory.mktemp("bundle")
    torch.manual_seed(0)
    posezoo.save_pretrained(posezoo.create_model("rtpca_small"), tmp / "run")
    bundle_weights(
        tmp / "run", "rtpca_small", metrics={"mpjpe_mm": 500.0}, command="(random init, test)", root=tmp / "weights"
    )
    yield "rtpca_small"
    _MODEL_REGISTRY["rtpca_small"] = entry


def _is_png(path: Path) -> bool:
    from PIL import Image

    if path.read_bytes()[:8] != PNG_SIGNATURE:
        return False
    with Image.open(path) as im:
        im.verify()
        return im.format == "PNG" and min(im.size) > 300


def test_run_demo_with_bundled_weights(bundled_rtpca: str, tmp_path: Path) -> None:
    report = run_demo(bundled_rtpca, tmp_path / "demo.png", frames=60)
    assert _is_png(tmp_path / "demo.png") and report["figure"] == str(tmp_path / "demo.png")
    assert report["tag"] == "cmu" and report["frames"] == 60 and report["mode"] == "lift every frame"
    for key in ("mpjpe_mm", "p_mpjpe_mm"):
        assert math.isfinite(report[key]) and report[key] > 0
    assert report["p_mpjpe_mm"] <= report["mpjpe_mm"] + 1e-6  # alignment can only lower the error
    assert report["animation"] is None and report["seconds"] < 60


def test_demo_command_writes_png_and_gif_in_the_working_directory(
    bundled_rtpca: str, tmp_path: Path, monkeypatch, capsys
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--frames", "24", "--animate"]) == 0
    out = capsys.readouterr().out
    assert "MPJPE" in out and "P-MPJPE" in out and "wrote demo.png and demo.gif" in out
    assert _is_png(tmp_path / "demo.png")
    assert (tmp_path / "demo.gif").read_bytes()[:6] == b"GIF89a"


def test_demo_without_weights_is_a_one_line_error(bundled_rtpca: str, capsys) -> None:
    with_weights = posezoo.list_models(pretrained=True)
    assert "rtpca_small" in with_weights
    name = next(n for n in posezoo.list_models() if n not in with_weights and not n.startswith("_"))
    assert main(["demo", "--model", name]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"posezoo demo: error: {name} has no bundled weights; models with weights: "
        f"{', '.join(with_weights)} (posezoo list --pretrained)"
    )


def test_demo_modes_of_the_other_families(tmp_path: Path) -> None:
    uu = run_demo("uplift_upsample_small", tmp_path / "uu.png", pretrained=False, frames=41, panels=3)
    assert uu["mode"] == "lift from every 4th frame" and uu["tag"] is None and _is_png(tmp_path / "uu.png")
    msf = run_demo("mixsynthformer_h36m_3d", tmp_path / "msf.png", pretrained=False, frames=50, panels=2)
    assert msf["mode"] == "refine noisy 3D keyframes every 10 frames"
    # 20 mm per coordinate of noise: linear interpolation of the noisy keyframes lands at a few cm
    assert 15 < msf["mpjpe_interpolation_mm"] < 80
    assert math.isfinite(msf["mpjpe_mm"])
    with pytest.raises(ValueError, match="at least 2 frames"):
        run_demo("mixste_small", tmp_path / "x.png", pretrained=False, frames=1)


def test_bundled_weights_by_name_in_lift_and_at_other_lengths(bundled_rtpca: str) -> None:
    reference = posezoo.create_model(bundled_rtpca, pretrained=True).eval()
    keypoints = torch.rand(40, 17, 2) * 800 + 100
    by_name = posezoo.lift(keypoints, bundled_rtpca, image_size=(1000, 1000), flip_tta=False)
    by_module = posezoo.lift(keypoints, reference, image_size=(1000, 1000), flip_tta=False)
    torch.testing.assert_close(by_name, by_module)
    long = posezoo.create_model(bundled_rtpca, pretrained=True, num_frames=81)
    cfg = long.pretrained_cfg
    assert cfg["tag"] == "cmu" and cfg["sha256"] == reference.pretrained_cfg["sha256"]
    assert cfg["resampled_window"]["from_num_frames"] == 27 and cfg["input_spec"]["num_frames"] == 81
    torch.testing.assert_close(long.head.weight, reference.head.weight, rtol=0, atol=0)
