"""Skeleton plots and animations for notebooks and reports (matplotlib, ``pip install "posezoo[viz]"``).

* :func:`plot_skeleton_2d` draws one 2D pose ``(J, 2)`` (pixels or normalised
  screen coordinates, image convention: y points down).
* :func:`plot_skeleton_3d` draws one 3D pose ``(J, 3)`` in posezoo's camera
  frame (x right, y down, z forward, metres) upright: the plot's vertical axis
  is ``-y`` and its depth axis is ``z``, with equal scales on all axes.
* :func:`plot_sequence` makes a figure of a few frames: the 2D input on top,
  the 3D prediction (coloured) over the ground truth (black, dashed) below.
* :func:`animate` writes the whole sequence as a GIF (Pillow) or MP4 (ffmpeg).

Bones come from :mod:`posezoo.skeleton` (``Skeleton.bones``); the subject's
left side is drawn in blue, the right side in red, the spine and head in
grey. Figures are built with ``matplotlib.figure.Figure`` (no pyplot state),
so nothing here changes the matplotlib backend.
"""

from .sequence import animate, plot_sequence
from .skeleton import (
    GROUND_TRUTH_COLOR,
    SIDE_COLORS,
    plot_skeleton_2d,
    plot_skeleton_3d,
)

__all__ = ["SIDE_COLORS", "GROUND_TRUTH_COLOR", "plot_skeleton_2d", "plot_skeleton_3d", "plot_sequence", "animate"]
