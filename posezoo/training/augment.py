"""Training augmentations: bone lengths, detector-like 2D noise, missing-joint filling.

All functions work on numpy arrays and take an explicit ``np.random.Generator``
so that every draw is reproducible from the data loader's seeds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..skeleton import Skeleton, get_skeleton

__all__ = ["BoneScale", "NoiseProfile", "scale_bones", "fill_missing"]


def scale_bones(poses: np.ndarray, factors: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """Scale each bone of ``poses`` ``(T, J, 3)`` by ``factors`` ``(J,)`` (factor of joint j = its bone to the parent).

    Joint angles are kept: every bone keeps its direction; the root keeps its trajectory.
    """
    out = poses.copy()
    for j in _topological(skeleton):
        p = skeleton.parents[j]
        if p >= 0:
            out[:, j] = out[:, p] + factors[j] * (poses[:, j] - poses[:, p])
    return out


def _topological(skeleton: Skeleton) -> list[int]:
    order, seen = [], set()

    def visit(j: int) -> None:
        if j in seen:
            return
        p = skeleton.parents[j]
        if p >= 0:
            visit(p)
        seen.add(j)
        order.append(j)

    for j in range(skeleton.num_joints):
        visit(j)
    return order


@dataclass(frozen=True)
class BoneScale:
    """Random body proportions: one factor per left/right bone pair, times a global body scale.

    Attributes:
        spread: per-bone factors uniform in ``[1 - spread, 1 + spread]`` (same for left and right).
        global_spread: whole-body factor uniform in ``[1 - global_spread, 1 + global_spread]``.
        skeleton: joint layout of the poses (H36M-17 by default).
    """

    spread: float = 0.1
    global_spread: float = 0.08
    skeleton: str = "h36m"

    def __post_init__(self) -> None:
        for name in ("spread", "global_spread"):
            v = getattr(self, name)
            if not 0.0 <= v < 0.5:
                raise ValueError(f"BoneScale.{name} must lie in [0, 0.5), got {v}")

    def factors(self, rng: np.random.Generator) -> np.ndarray:
        """``(J,)`` per-joint bone factors (left/right partners share one)."""
        skel = get_skeleton(self.skeleton)
        perm = skel.flip_permutation
        raw = rng.uniform(1 - self.spread, 1 + self.spread, size=skel.num_joints)
        sym = np.minimum(np.arange(skel.num_joints), np.asarray(perm))  # one draw per mirror pair
        return raw[sym] * rng.uniform(1 - self.global_spread, 1 + self.global_spread)

    def __call__(self, poses: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return scale_bones(poses, self.factors(rng), get_skeleton(self.skeleton))


@dataclass(frozen=True)
class NoiseProfile:
    """A random detector per window: how noisy, how many outliers and missing joints.

    Noise scales with the performer's size in the image (a detector's error does):
    jitter sigma = ``U(0, max_sigma_frac) * person height in pixels``; with
    probability ``clean_prob`` the window is clean. Outliers are displaced by
    ``outlier_frac * person height``; missing joints get confidence 0 and are
    filled by interpolation over time, as :func:`posezoo.lift` does.
    """

    clean_prob: float = 0.25
    max_sigma_frac: float = 0.012
    max_outlier_prob: float = 0.04
    outlier_frac: float = 0.12
    max_missing_prob: float = 0.03

    def __post_init__(self) -> None:
        for name in ("clean_prob", "max_outlier_prob", "max_missing_prob"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"NoiseProfile.{name} must lie in [0, 1], got {v}")
        for name in ("max_sigma_frac", "outlier_frac"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"NoiseProfile.{name} must lie in [0, 1], got {v}")

    def __call__(self, pixels: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Corrupt ``(T, J, 2)`` pixels; returns ``(noisy pixels, confidence (T, J))``."""
        t, j = pixels.shape[:2]
        conf = np.ones((t, j))
        if rng.random() < self.clean_prob:
            return pixels.copy(), conf
        person = float(np.median(pixels[..., 1].max(-1) - pixels[..., 1].min(-1))) + 1e-6
        sigma = rng.uniform(0, self.max_sigma_frac) * person
        noisy = pixels + rng.normal(size=pixels.shape) * sigma
        u = rng.random((t, j))
        outlier = u < rng.uniform(0, self.max_outlier_prob)
        if outlier.any():
            noisy[outlier] += rng.normal(size=(int(outlier.sum()), 2)) * self.outlier_frac * person
            conf[outlier] = rng.uniform(0.05, 0.5, size=int(outlier.sum()))
        missing = rng.random((t, j)) < rng.uniform(0, self.max_missing_prob)
        if missing.any() and not missing.all(0).any():
            conf[missing] = 0.0
            noisy = fill_missing(noisy, missing)
        return noisy, conf


def fill_missing(x: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """Replace ``missing`` ``(T, J)`` entries of ``x`` ``(T, J, C)`` by linear interpolation over time (edges held)."""
    out = x.copy()
    frames = np.arange(x.shape[0])
    for j in np.flatnonzero(missing.any(0)):
        ok = ~missing[:, j]
        if not ok.any():
            raise ValueError(f"joint {j} is missing in every frame")
        for c in range(x.shape[-1]):
            out[:, j, c] = np.interp(frames, frames[ok], x[ok, j, c])
    return out
