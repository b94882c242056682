""":func:`render_lift`: the 2D input and the lifted 3D skeleton side by side, as an animated GIF or MP4.

Needs matplotlib (``pip install "posezoo[viz]"``); MP4 needs an ``ffmpeg``
executable on the PATH (matplotlib's ``FFMpegWriter``), else a GIF is written
next to the requested path, with a warning.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np

from ..skeleton import Skeleton, get_skeleton
from ..viz.skeleton import _Skeleton2D, _Skeleton3D, _to_plot_frame

__all__ = ["render_lift"]


def render_lift(
    keypoints_px: np.ndarray,
    poses_3d: np.ndarray,
    out_path: Union[str, Path],
    *,
    image_size: Optional[Sequence[float]] = None,
    fps: float = 25.0,
    step: int = 1,
    layout_2d: Union[str, Skeleton] = "h36m",
    layout_3d: Union[str, Skeleton] = "h36m",
    title: Optional[str] = None,
    dpi: int = 72,
) -> Path:
    """Write an animation: 2D keypoints (image coordinates) left, the 3D skeleton right.

    Args:
        keypoints_px: ``(T, J2, 2)`` pixels (NaN keypoints are not drawn).
        poses_3d: ``(T, J3, 3)`` metres, camera frame (x right, y down, z
            forward); drawn root-relative with the vertical axis up.
        out_path: ``.gif`` (Pillow) or ``.mp4`` (ffmpeg; GIF fallback with a warning).
        image_size: ``(w, h)`` for the 2D panel's extent (default: the keypoints' range).
        fps: frame rate of the animation (of the frames drawn, after ``step``).
        step: draw every ``step``-th frame.
        layout_2d, layout_3d: joint layouts, for the bones (left blue, right red).
        title: optional figure title.
        dpi: resolution (the figure is 8 x 4 inches).

    Returns:
        The path written (``.gif`` if an MP4 could not be written).
    """
    try:
        import matplotlib
        from matplotlib import animation
        from matplotlib.figure import Figure
        from mpl_toolkits.mplot3d import Axes3D  # noqa: F401  (registers the 3d projection)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError('render_lift needs matplotlib: pip install "posezoo[viz]"') from exc
    kp = np.asarray(keypoints_px, dtype=np.float64)
    pose = np.asarray(poses_3d, dtype=np.float64)
    s2, s3 = get_skeleton(layout_2d), get_skeleton(layout_3d)
    if kp.ndim != 3 or kp.shape[1:] != (s2.num_joints, 2):
        raise ValueError(f"keypoints_px must have shape (T, {s2.num_joints}, 2), got {kp.shape}")
    if pose.ndim != 3 or pose.shape[1:] != (s3.num_joints, 3) or len(pose) != len(kp):
        raise ValueError(f"poses_3d must have shape ({len(kp)}, {s3.num_joints}, 3), got {pose.shape}")
    if not isinstance(step, int) or step < 1:
        raise ValueError(f"step must be a positive int, got {step!r}")
    out = Path(out_path)
    if out.suffix not in (".gif", ".mp4"):
        raise ValueError(f"out_path must end in .gif or .mp4, got {out.name!r}")
    writer: animation.AbstractMovieWriter
    if out.suffix == ".mp4" and animation.FFMpegWriter.isAvailable():
        writer = animation.FFMpegWriter(fps=fps)
    else:
        if out.suffix == ".mp4":
            out = out.with_suffix(".gif")
            warnings.warn(f"ffmpeg is not available: writing a GIF instead ({out})", UserWarning, stacklevel=2)
        writer = animation.PillowWriter(fps=fps)
    frames = range(0, len(kp), step)
    rel = pose - pose[:, s3.root : s3.root + 1]
    view = _to_plot_frame(rel)  # x right, depth, up
    with matplotlib.rc_context({"figure.max_open_warning": 0}):
        fig = Figure(figsize=(8, 4), dpi=dpi)
        ax2 = fig.add_subplot(1, 2, 1)
        ax3 = fig.add_subplot(1, 2, 2, projection="3d")
        if title:
            fig.suptitle(title)
        if image_size is not None:
            w, h = (float(v) for v in image_size)
            ax2.set_xlim(0, w)
            ax2.set_ylim(h, 0)
        else:
            finite = kp[np.isfinite(kp).all(-1)]
            lo, hi = (finite.min(0), finite.max(0)) if len(finite) else (np.zeros(2), np.ones(2))
            pad = 0.1 * float(np.max(hi - lo) + 1)
            ax2.set_xlim(lo[0] - pad, hi[0] + pad)
            ax2.set_ylim(hi[1] + pad, lo[1] - pad)
        ax2.set_aspect("equal")
        ax2.set_title("2D input (px)", fontsize=9)
        radius = float(np.nanmax(np.abs(view))) if np.isfinite(view).any() else 1.0
        radius = max(radius, 0.5)
        ax3.set_xlim(-radius, radius)
        ax3.set_ylim(-radius, radius)
        ax3.set_zlim(-radius, radius)
        ax3.view_init(elev=12, azim=-75)
        ax3.set_title("3D (m, root-relative)", fontsize=9)
        ax3.set_xlabel("x")
        ax3.set_ylabel("depth")
        ax3.set_zlabel("up")
        style = dict(color=None, linewidth=2.0, marker_size=2.5, alpha=1.0, linestyle="-", label=None)
        skeleton_2d, skeleton_3d = _Skeleton2D(ax2, s2, **style), _Skeleton3D(ax3, s3, **style)
        caption = ax2.text(0.02, 0.02, "", transform=ax2.transAxes, fontsize=8)
        out.parent.mkdir(parents=True, exist_ok=True)
        with writer.saving(fig, str(out), dpi):
            for t in frames:
                skeleton_2d.update(kp[t])
                skeleton_3d.update(rel[t])
                caption.set_text(f"frame {t}")
                writer.grab_frame()
    return out
