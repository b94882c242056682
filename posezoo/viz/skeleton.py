"""Single-pose skeleton plots: :func:`plot_skeleton_2d` and :func:`plot_skeleton_3d` (see :mod:`posezoo.viz`)."""

from __future__ import annotations

from typing import Any, Optional, Sequence, Union

import numpy as np
import torch

from ..skeleton import Skeleton, get_skeleton

__all__ = ["SIDE_COLORS", "GROUND_TRUTH_COLOR", "plot_skeleton_2d", "plot_skeleton_3d"]

SIDE_COLORS = {"left": "#1f5fbf", "right": "#d62728", "center": "#555555"}
GROUND_TRUTH_COLOR = "#000000"
ArrayLike = Union[np.ndarray, torch.Tensor, Sequence]


def _matplotlib() -> Any:
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError(
            'posezoo.viz needs matplotlib: install the viz extra with pip install "posezoo[viz]"'
        ) from exc
    return matplotlib


def _as_numpy(x: ArrayLike, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be an array or tensor of numbers, got {type(x).__name__}") from exc


def _check(x: ArrayLike, skel: Skeleton, channels: int, name: str, sequence: bool = False) -> np.ndarray:
    arr = _as_numpy(x, name)
    ndim = 3 if sequence else 2
    expected = f"({'T, ' if sequence else ''}{skel.num_joints}, {channels})"
    if arr.ndim != ndim or arr.shape[-2:] != (skel.num_joints, channels):
        raise ValueError(f"{name} must have shape {expected} for the {skel.name} skeleton, got {arr.shape}")
    return arr


def _side(skel: Skeleton, joint: int) -> str:
    return "left" if joint in skel.left else "right" if joint in skel.right else "center"


def _bone_color(skel: Skeleton, child: int, color: Optional[str]) -> str:
    return color if color is not None else SIDE_COLORS[_side(skel, child)]


class _SkeletonArtists:
    """The line artists of one skeleton: one line per bone, one marker line for the joints.

    Subclasses set the number of plot axes (``dims``), their extra line styles and :meth:`update`.
    """

    dims = 2
    bone_style: dict[str, Any] = {}
    joint_style: dict[str, Any] = {}

    def __init__(
        self,
        ax: Any,
        skel: Skeleton,
        color: Optional[str],
        linewidth: float,
        marker_size: float,
        alpha: float,
        linestyle: str,
        label: Optional[str],
    ) -> None:
        self.skel = skel
        empty = [[]] * self.dims
        self.bones = [
            ax.plot(
                *empty,
                color=_bone_color(skel, child, color),
                linewidth=linewidth,
                alpha=alpha,
                linestyle=linestyle,
                **self.bone_style,
            )[0]
            for child, _ in skel.bones
        ]
        self.joints = ax.plot(
            *empty,
            linestyle="none",
            marker="o",
            markersize=marker_size,
            color=color or "#222222",
            alpha=alpha,
            label=label,
            **self.joint_style,
        )[0]


class _Skeleton2D(_SkeletonArtists):
    """The artists of one 2D skeleton; :meth:`update` moves them (NaN joints are not drawn)."""

    bone_style = {"solid_capstyle": "round"}
    joint_style = {"zorder": 3}

    def update(self, kp: np.ndarray) -> None:
        for line, (child, parent) in zip(self.bones, self.skel.bones):
            line.set_data(kp[[child, parent], 0], kp[[child, parent], 1])
        self.joints.set_data(kp[:, 0], kp[:, 1])


class _Skeleton3D(_SkeletonArtists):
    """The artists of one 3D skeleton (camera frame in, drawn with -y up)."""

    dims = 3

    def update(self, pose: np.ndarray) -> None:
        q = _to_plot_frame(pose)
        for line, (child, parent) in zip(self.bones, self.skel.bones):
            seg = q[[child, parent]]
            line.set_data_3d(seg[:, 0], seg[:, 1], seg[:, 2])
        self.joints.set_data_3d(q[:, 0], q[:, 1], q[:, 2])


def _to_plot_frame(pose: np.ndarray) -> np.ndarray:
    """Camera frame (x right, y down, z forward) -> plot axes (x, z as depth, -y up)."""
    return np.stack([pose[..., 0], pose[..., 2], -pose[..., 1]], axis=-1)


def _set_view_3d(ax: Any, center: np.ndarray, radius: float, elev: float, azim: float) -> None:
    from matplotlib.ticker import MultipleLocator

    c = _to_plot_frame(center)
    ax.set_xlim(c[0] - radius, c[0] + radius)
    ax.set_ylim(c[1] - radius, c[1] + radius)
    ax.set_zlim(c[2] - radius, c[2] + radius)
    ax.set_box_aspect((1, 1, 1), zoom=1.2)
    ax.view_init(elev=elev, azim=azim)
    grid = 0.5 if radius <= 1.5 else float(np.ceil(radius / 3))  # grid every 0.5 m (1 m, ... for wide views)
    for axis in (ax.xaxis, ax.yaxis, ax.zaxis):
        axis.set_major_locator(MultipleLocator(grid))
        axis.set_ticklabels([])
    ax.set_xlabel("x", labelpad=-14, fontsize=7)
    ax.set_ylabel("depth", labelpad=-14, fontsize=7)
    ax.set_zlabel("up", labelpad=-14, fontsize=7)


def plot_skeleton_2d(
    ax: Any,
    keypoints: ArrayLike,
    skeleton: Union[str, Skeleton] = "h36m",
    *,
    color: Optional[str] = None,
    linewidth: float = 2.0,
    marker_size: float = 3.5,
    alpha: float = 1.0,
    linestyle: str = "-",
    label: Optional[str] = None,
    image_size: Optional[tuple[float, float]] = None,
) -> Any:
    """Draw one 2D pose on a matplotlib ``Axes``.

    Args:
        ax: a 2D ``matplotlib.axes.Axes``.
        keypoints: ``(J, 2)`` image coordinates (pixels or normalised), y down.
            Joints with non-finite coordinates (missing) and their bones are not drawn.
        skeleton: joint layout (name or :class:`~posezoo.skeleton.Skeleton`).
        color: one colour for every bone (default: left blue / right red / centre grey).
        linewidth, marker_size (points), alpha, linestyle, label: matplotlib styling.
        image_size: ``(w, h)``: show the whole image ``[0, w] x [0, h]``
            (default: fit the pose).

    Returns:
        ``ax``, with y pointing down and equal aspect.
    """
    _matplotlib()
    skel = get_skeleton(skeleton)
    kp = _check(keypoints, skel, 2, "keypoints")
    if getattr(ax, "name", "") == "3d":
        raise ValueError("plot_skeleton_2d needs a 2D Axes; use plot_skeleton_3d for 3D axes")
    _Skeleton2D(ax, skel, color, linewidth, marker_size, alpha, linestyle, label).update(kp)
    if image_size is not None:
        ax.set_xlim(0, image_size[0])
        ax.set_ylim(image_size[1], 0)
    else:
        ax.relim()
        ax.autoscale_view()
        if not ax.yaxis_inverted():
            ax.invert_yaxis()
    ax.set_aspect("equal", adjustable="datalim" if image_size is None else "box")
    return ax


def plot_skeleton_3d(
    ax: Any,
    pose: ArrayLike,
    skeleton: Union[str, Skeleton] = "h36m",
    *,
    color: Optional[str] = None,
    linewidth: float = 2.0,
    marker_size: float = 3.0,
    alpha: float = 1.0,
    linestyle: str = "-",
    label: Optional[str] = None,
    center: Optional[ArrayLike] = None,
    radius: Optional[float] = None,
    elev: float = 12.0,
    azim: float = -75.0,
) -> Any:
    """Draw one 3D pose (camera frame, metres) upright on a 3D ``Axes``.

    Args:
        ax: an ``Axes3D`` (``fig.add_subplot(projection="3d")``).
        pose: ``(J, 3)`` camera-frame coordinates: x right, y down, z forward.
            Shown with ``-y`` up and ``z`` as depth; grid lines every 0.5 m
            (coarser when ``radius`` exceeds 1.5 m).
        skeleton, color, linewidth, marker_size, alpha, linestyle, label: as
            :func:`plot_skeleton_2d`.
        center: ``(3,)`` camera-frame point at the middle of the view (default
            the pose's root joint).
        radius: half the side of the cubic view in metres (default: enough
            for the pose, at least 0.9 m); use one value for every frame of a sequence.
        elev, azim: view angles in degrees (default: from the camera's side,
            turned a little so that depth is visible).

    Returns:
        ``ax`` with equal scales on the three axes.
    """
    _matplotlib()
    skel = get_skeleton(skeleton)
    p = _check(pose, skel, 3, "pose")
    if getattr(ax, "name", "") != "3d":
        raise ValueError("plot_skeleton_3d needs a 3D Axes: fig.add_subplot(projection='3d')")
    mid = p[skel.root] if center is None else _as_numpy(center, "center").reshape(3)
    if radius is None:
        finite = np.isfinite(p).all(-1)
        spread = float(np.abs(p[finite] - mid).max()) if finite.any() else 0.0
        radius = max(0.9, 1.1 * spread)
    _Skeleton3D(ax, skel, color, linewidth, marker_size, alpha, linestyle, label).update(p)
    _set_view_3d(ax, mid, radius, elev, azim)
    return ax
