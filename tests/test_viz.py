"""posezoo.viz: skeleton plots, sequence figures and animations (Agg, no display)."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from posezoo import viz
from posezoo.data import load_sample
from posezoo.skeleton import get_skeleton

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def clip():
    s = load_sample("06_01")
    return s.keypoints_2d_px[:40], s.pose_3d[:40], s.image_size


def test_plot_skeleton_2d_draws_every_bone(clip) -> None:
    kp, _, size = clip
    fig = Figure()
    ax = fig.add_subplot()
    kp0 = kp[0].copy()
    viz.plot_skeleton_2d(ax, kp0, image_size=size)
    lines = ax.get_lines()
    bones = get_skeleton("h36m").bones
    assert len(lines) == len(bones) + 1  # one line per bone + the joint markers
    child, parent = bones[0]
    np.testing.assert_allclose(lines[0].get_xydata(), kp0[[child, parent]])
    assert lines[0].get_color() == viz.SIDE_COLORS["right"]  # bone 0: right hip -> pelvis
    left_bone = next(i for i, (c, _) in enumerate(bones) if c == 4)
    assert lines[left_bone].get_color() == viz.SIDE_COLORS["left"]
    assert ax.get_ylim() == (size[1], 0)  # image convention: y down
    # torch input and a missing joint: the joint's bones are not drawn
    kp0[3] = np.nan
    ax2 = Figure().add_subplot()
    viz.plot_skeleton_2d(ax2, torch.as_tensor(kp0))
    assert ax2.yaxis_inverted()
    ankle_bone = next(i for i, (c, _) in enumerate(bones) if c == 3)
    assert np.isnan(ax2.get_lines()[ankle_bone].get_xydata()).any()


def test_plot_skeleton_3d_is_upright_and_equal(clip) -> None:
    _, pose, _ = clip
    fig = Figure()
    ax = fig.add_subplot(projection="3d")
    viz.plot_skeleton_3d(ax, pose[0])
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    z0, z1 = ax.get_zlim()
    assert x1 - x0 == pytest.approx(y1 - y0) == pytest.approx(z1 - z0)
    head, pelvis = get_skeleton("h36m").index("head_top"), 0
    data = np.array([line.get_data_3d() for line in ax.get_lines()[:-1]], dtype=object)
    assert len(data) == 16
    joints = np.stack(ax.get_lines()[-1].get_data_3d(), -1)  # (J, 3) in plot axes
    np.testing.assert_allclose(joints[:, 0], pose[0][:, 0])
    np.testing.assert_allclose(joints[:, 1], pose[0][:, 2])  # depth = camera z
    np.testing.assert_allclose(joints[:, 2], -pose[0][:, 1])  # up = -y
    assert joints[head, 2] > joints[pelvis, 2] + 0.4  # the head is above the pelvis


def test_bad_shapes_and_axes_raise(clip) -> None:
    kp, pose, _ = clip
    fig = Figure()
    ax2d, ax3d = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2, projection="3d")
    with pytest.raises(ValueError, match=r"keypoints must have shape \(17, 2\)"):
        viz.plot_skeleton_2d(ax2d, kp[0, :16])
    with pytest.raises(ValueError, match=r"pose must have shape \(17, 3\)"):
        viz.plot_skeleton_3d(ax3d, pose[0, :, :2])
    with pytest.raises(ValueError, match="3D Axes"):
        viz.plot_skeleton_3d(ax2d, pose[0])
    with pytest.raises(ValueError, match="2D Axes"):
        viz.plot_skeleton_2d(ax3d, kp[0])
    with pytest.raises(ValueError, match="same T"):
        viz.plot_sequence(kp, pose[:-1])
    with pytest.raises(ValueError, match=r"pred_3d must have shape \(T, 17, 3\)"):
        viz.plot_sequence(kp, pose[0])
    with pytest.raises(ValueError, match="frames must be indices"):
        viz.plot_sequence(kp, pose, frames=[0, 40])
    with pytest.raises(ValueError, match=".gif or .mp4"):
        viz.animate(kp, pose, out="x.avi")


def test_plot_sequence_figure(clip, tmp_path: Path) -> None:
    kp, pose, size = clip
    pred = pose + 0.01
    shown = kp.copy()
    shown[1::2] = np.nan  # upsampled frames have no 2D input
    fig = viz.plot_sequence(shown, pred, pose, frames=[0, 13, 39], image_size=size, title="t", fps=50)
    axes = fig.get_axes()
    assert len(axes) == 6
    assert [a.name for a in axes] == ["rectilinear", "3d"] * 3
    assert axes[0].get_title() == "frame 0 (0.00 s): 2D input"
    assert axes[1].get_title() == "3D prediction: 0 mm"  # a constant offset vanishes after root subtraction
    assert axes[2].texts[0].get_text() == "no 2D input\n(upsampled frame)"  # frame 13 is odd
    out = tmp_path / "seq.png"
    fig.savefig(out)
    assert out.read_bytes()[:8] == PNG_SIGNATURE
    assert len(viz.plot_sequence(kp, pred, frames=2).get_axes()) == 4


def test_animate_writes_a_gif(clip, tmp_path: Path) -> None:
    from PIL import Image

    kp, pose, size = clip
    out = viz.animate(kp[:12], pose[:12] + 0.02, pose[:12], tmp_path / "a.gif", image_size=size, step=3)
    with Image.open(out) as gif:
        assert gif.format == "GIF" and gif.n_frames == 4
    if not matplotlib.animation.writers.is_available("ffmpeg"):
        with pytest.raises(RuntimeError, match="ffmpeg"):
            viz.animate(kp[:4], pose[:4], out=tmp_path / "a.mp4")


def test_missing_matplotlib_names_the_viz_extra(clip, monkeypatch) -> None:
    import sys

    kp, _, _ = clip
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r'pip install "posezoo\[viz\]"'):
        viz.plot_sequence(kp, np.zeros((len(kp), 17, 3)))
