"""posezoo.io.render.render_lift: GIF frames, MP4 or its GIF fallback, input checks."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib import animation
from PIL import Image

import posezoo
from posezoo.io.render import render_lift


def test_gif_frames_and_mp4_or_fallback(tmp_path) -> None:
    s = posezoo.data.load_sample("06_14")
    out = render_lift(s.keypoints_2d_px[:30], s.pose_3d[:30], tmp_path / "a.gif", image_size=s.image_size, step=10)
    assert out == tmp_path / "a.gif"
    with Image.open(out) as im:
        assert im.n_frames == 3
        first = np.asarray(im.convert("RGB"))
        im.seek(2)
        last = np.asarray(im.convert("RGB"))
    assert first.shape[1] == 2 * first.shape[0] and (first != last).any()  # 8 x 4 inches; the pose moves
    if animation.FFMpegWriter.isAvailable():
        assert render_lift(s.keypoints_2d_px[:4], s.pose_3d[:4], tmp_path / "b.mp4").suffix == ".mp4"
    else:
        with pytest.warns(UserWarning, match="ffmpeg is not available"):
            fallback = render_lift(s.keypoints_2d_px[:4], s.pose_3d[:4], tmp_path / "b.mp4", step=2)
        assert fallback == tmp_path / "b.gif" and fallback.is_file()


def test_render_checks_its_inputs(tmp_path) -> None:
    kp, pose = np.zeros((5, 17, 2)), np.zeros((5, 17, 3))
    with pytest.raises(ValueError, match=r"keypoints_px must have shape \(T, 26, 2\)"):
        render_lift(kp, pose, tmp_path / "x.gif", layout_2d="halpe26")
    with pytest.raises(ValueError, match=r"poses_3d must have shape \(5, 17, 3\)"):
        render_lift(kp, pose[:4], tmp_path / "x.gif")
    with pytest.raises(ValueError, match="must end in .gif or .mp4"):
        render_lift(kp, pose, tmp_path / "x.avi")
    with pytest.raises(ValueError, match="step must be a positive int"):
        render_lift(kp, pose, tmp_path / "x.gif", step=0)
