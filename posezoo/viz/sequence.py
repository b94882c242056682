"""Sequence figures and animations: :func:`plot_sequence` and :func:`animate` (see :mod:`posezoo.viz`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Sequence, Union

import numpy as np

from ..skeleton import Skeleton, get_skeleton
from .skeleton import (
    GROUND_TRUTH_COLOR,
    SIDE_COLORS,
    ArrayLike,
    _check,
    _matplotlib,
    _set_view_3d,
    _Skeleton2D,
    _Skeleton3D,
)

__all__ = ["plot_sequence", "animate"]


def _sequence_inputs(
    keypoints_2d: ArrayLike, pred_3d: ArrayLike, gt_3d: Optional[ArrayLike], skeleton: Union[str, Skeleton]
) -> tuple[Skeleton, np.ndarray, np.ndarray, Optional[np.ndarray]]:
    skel = get_skeleton(skeleton)
    kp = _check(keypoints_2d, skel, 2, "keypoints_2d", sequence=True)
    pred = _check(pred_3d, skel, 3, "pred_3d", sequence=True)
    gt = None if gt_3d is None else _check(gt_3d, skel, 3, "gt_3d", sequence=True)
    lengths = {kp.shape[0], pred.shape[0]} | ({gt.shape[0]} if gt is not None else set())
    if len(lengths) != 1 or kp.shape[0] == 0:
        raise ValueError(
            f"keypoints_2d, pred_3d and gt_3d must have the same T >= 1 frames, got "
            f"{kp.shape[0]}, {pred.shape[0]}" + (f", {gt.shape[0]}" if gt is not None else "")
        )
    return skel, kp, pred, gt


class _Painter:
    """2D input on one Axes, 3D prediction over ground truth on a 3D Axes; ``draw(t)`` shows frame t."""

    def __init__(
        self,
        ax2d: Any,
        ax3d: Any,
        skel: Skeleton,
        kp: np.ndarray,
        pred: np.ndarray,
        gt: Optional[np.ndarray],
        image_size: Optional[tuple[float, float]],
    ) -> None:
        from matplotlib.patches import Rectangle

        self.ax2d, self.ax3d, self.skel, self.kp, self.pred, self.gt = ax2d, ax3d, skel, kp, pred, gt
        root = skel.root
        spread = [np.nanmax(np.abs(pred - pred[:, root : root + 1]))]
        if gt is not None:
            spread.append(np.nanmax(np.abs(gt - gt[:, root : root + 1])))
        self.radius = max(0.9, 1.1 * float(max(spread)))
        # 2D view: every keypoint of the sequence (the subject moves through the image), equal aspect
        finite = kp[np.isfinite(kp).all(-1)]
        lo, hi = (finite.min(0), finite.max(0)) if len(finite) else (np.zeros(2), np.ones(2))
        mid, half = (lo + hi) / 2, 0.56 * float(max(hi - lo)) + 1e-6  # a square view, 12 % margin
        ax2d.set_xlim(mid[0] - half, mid[0] + half)
        ax2d.set_ylim(mid[1] + half, mid[1] - half)
        ax2d.set_aspect("equal", adjustable="box")
        ax2d.tick_params(labelsize=6)
        if image_size is not None:
            ax2d.add_patch(
                Rectangle(
                    (0, 0), image_size[0], image_size[1], fill=False, linestyle=":", edgecolor="#999999", linewidth=1
                )
            )
        self.missing = ax2d.text(0.5, 0.5, "", ha="center", va="center", transform=ax2d.transAxes, fontsize=8)
        self.sk2d = _Skeleton2D(ax2d, skel, None, 2.0, 3.5, 1.0, "-", None)
        self.sk_gt = (
            _Skeleton3D(ax3d, skel, GROUND_TRUTH_COLOR, 1.2, 2.0, 0.75, "--", "ground truth")
            if gt is not None
            else None
        )
        self.sk_pred = _Skeleton3D(ax3d, skel, None, 2.0, 3.0, 1.0, "-", "prediction")

    def draw(self, t: int) -> None:
        root = self.skel.root
        has_2d = bool(np.isfinite(self.kp[t]).any())
        self.missing.set_text("" if has_2d else "no 2D input\n(upsampled frame)")
        self.sk2d.update(self.kp[t])
        center = self.gt[t, root] if self.gt is not None else self.pred[t, root]
        if self.sk_gt is not None:
            self.sk_gt.update(self.gt[t])
        self.sk_pred.update(self.pred[t])
        _set_view_3d(self.ax3d, center, self.radius, 12.0, -75.0)

    def legend(self) -> None:
        from matplotlib.lines import Line2D

        handles = [
            Line2D([], [], color=SIDE_COLORS["left"], linewidth=2, label="prediction: left"),
            Line2D([], [], color=SIDE_COLORS["right"], linewidth=2, label="prediction: right"),
        ]
        if self.gt is not None:
            handles.append(
                Line2D([], [], color=GROUND_TRUTH_COLOR, linewidth=1.2, linestyle="--", label="ground truth")
            )
        self.ax3d.legend(handles=handles, loc="upper left", fontsize=6.5, frameon=False, handlelength=1.8)

    def error_mm(self, t: int) -> Optional[float]:
        if self.gt is None:
            return None
        r = self.skel.root
        diff = (self.pred[t] - self.pred[t, r]) - (self.gt[t] - self.gt[t, r])
        return float(1000 * np.linalg.norm(diff, axis=-1).mean())


def plot_sequence(
    keypoints_2d: ArrayLike,
    pred_3d: ArrayLike,
    gt_3d: Optional[ArrayLike] = None,
    *,
    frames: Union[int, Sequence[int]] = 4,
    skeleton: Union[str, Skeleton] = "h36m",
    image_size: Optional[tuple[float, float]] = None,
    title: Optional[str] = None,
    fps: Optional[float] = None,
    panel_size: float = 3.0,
    input_label: str = "2D input",
) -> Any:
    """A figure of a few frames: 2D input (top row), 3D prediction vs ground truth (bottom row).

    Args:
        keypoints_2d: ``(T, J, 2)`` 2D input (pixels with ``image_size``);
            frames that are all NaN show "no 2D input" (e.g. frames an
            Uplift-and-Upsample model upsampled). The view spans the whole
            sequence's keypoints; ``image_size`` ``(w, h)`` draws the image border.
        pred_3d: ``(T, J, 3)`` predicted poses, camera frame, metres.
        gt_3d: optional ``(T, J, 3)`` ground truth in the same frame: drawn
            black and dashed under the prediction, with the per-frame MPJPE
            (each pose minus its root) in the panel titles.
        frames: number of evenly spaced frames, or the frame indices to show.
        skeleton: joint layout.
        title: figure title.
        fps: frame rate, to label panels with seconds as well.
        panel_size: inches per panel.
        input_label: what the top row shows (panel titles).

    Returns:
        ``matplotlib.figure.Figure`` with ``2 * len(frames)`` axes (save it with ``fig.savefig``).
    """
    _matplotlib()
    from matplotlib.figure import Figure

    skel, kp, pred, gt = _sequence_inputs(keypoints_2d, pred_3d, gt_3d, skeleton)
    num = kp.shape[0]
    if isinstance(frames, (int, np.integer)) and not isinstance(frames, bool):
        if frames < 1:
            raise ValueError(f"frames must be >= 1, got {frames}")
        index = np.unique(np.linspace(0, num - 1, min(int(frames), num)).round().astype(int)).tolist()
    else:
        index = [int(t) for t in frames]
        if not index or any(not 0 <= t < num for t in index):
            raise ValueError(f"frames must be indices in [0, {num}), got {list(frames)}")
    cols = len(index)
    fig = Figure(figsize=(panel_size * cols, panel_size * 2.1), layout="constrained")
    for col, t in enumerate(index):
        ax2d = fig.add_subplot(2, cols, col + 1)
        ax3d = fig.add_subplot(2, cols, cols + col + 1, projection="3d")
        painter = _Painter(ax2d, ax3d, skel, kp, pred, gt, image_size)
        painter.draw(t)
        when = f"frame {t}" + (f" ({t / fps:.2f} s)" if fps else "")
        ax2d.set_title(f"{when}: {input_label}", fontsize=9)
        err = painter.error_mm(t)
        ax3d.set_title("3D prediction" + (f": {err:.0f} mm" if err is not None else ""), fontsize=9)
        if col == 0:
            painter.legend()
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def animate(
    keypoints_2d: ArrayLike,
    pred_3d: ArrayLike,
    gt_3d: Optional[ArrayLike] = None,
    out: Union[str, Path] = "demo.gif",
    *,
    skeleton: Union[str, Skeleton] = "h36m",
    image_size: Optional[tuple[float, float]] = None,
    fps: float = 25.0,
    step: int = 1,
    title: Optional[str] = None,
    dpi: int = 72,
) -> Path:
    """Animate a sequence (2D input beside 3D prediction vs ground truth) into a GIF or MP4.

    Frames are rendered with a matplotlib animation writer (``PillowWriter``
    for GIF, ``FFMpegWriter`` for MP4), one draw per frame.

    Args:
        keypoints_2d, pred_3d, gt_3d, skeleton, image_size: as :func:`plot_sequence`.
        out: ``.gif`` (Pillow, always available with matplotlib) or ``.mp4``
            (needs ffmpeg on the PATH; ``RuntimeError`` otherwise).
        fps: frames per second of the animation.
        step: draw every ``step``-th frame.
        title: figure title.
        dpi: resolution.

    Returns:
        The written path.
    """
    _matplotlib()
    from matplotlib import animation
    from matplotlib.figure import Figure

    skel, kp, pred, gt = _sequence_inputs(keypoints_2d, pred_3d, gt_3d, skeleton)
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in (".gif", ".mp4"):
        raise ValueError(f"out must end in .gif or .mp4, got {out.name!r}")
    if suffix == ".mp4" and not animation.writers.is_available("ffmpeg"):
        raise RuntimeError("writing .mp4 needs ffmpeg on the PATH (matplotlib's ffmpeg writer); write a .gif instead")
    if isinstance(step, bool) or not isinstance(step, int) or step < 1:
        raise ValueError(f"step must be a positive int, got {step!r}")
    writer = animation.PillowWriter(fps=fps) if suffix == ".gif" else animation.FFMpegWriter(fps=fps)
    fig = Figure(figsize=(7.0, 3.6), layout="constrained")
    ax2d = fig.add_subplot(1, 2, 1)
    ax3d = fig.add_subplot(1, 2, 2, projection="3d")
    painter = _Painter(ax2d, ax3d, skel, kp, pred, gt, image_size)
    painter.legend()
    if title:
        fig.suptitle(title, fontsize=10)

    def draw(t: int) -> list:
        painter.draw(t)
        ax2d.set_title(f"frame {t}: 2D input", fontsize=9)
        err = painter.error_mm(t)
        ax3d.set_title("3D prediction" + (f": {err:.0f} mm" if err is not None else ""), fontsize=9)
        return []

    draw(0)
    fig.canvas.draw()  # lay the figure out once, then keep that layout for every frame (much faster)
    fig.set_layout_engine("none")
    out.parent.mkdir(parents=True, exist_ok=True)
    # the writer loop of FuncAnimation.save, without its second (idle) draw per frame
    with writer.saving(fig, str(out), dpi):
        for t in range(0, kp.shape[0], step):
            draw(t)
            writer.grab_frame(facecolor="white")
    return out
