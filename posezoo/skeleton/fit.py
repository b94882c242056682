"""Least-squares fitting of conversion rules on paired keypoints (how the shipped weights were made).

A rule's weights ``w`` minimise ``sum_n || sum_i w_i s_{n,i} - t_n ||^2`` subject to
``sum_i w_i = 1`` (an affine combination), solved in closed form on the constraint's null space.
With ``noise = sigma`` the fit minimises the expected error when every source
point carries independent zero-mean noise of standard deviation ``sigma`` per
coordinate (a detector's jitter): that adds ``sigma^2 * sum_i w_i^2`` per
coordinate, a ridge penalty that keeps rules from extrapolating far beyond
their sources. For a left/right-symmetric target (``nose``, ``thorax``...) whose sources are
closed under mirroring, mirrored sources share one weight, so the converted
pose mirrors exactly with the input; every rule is fitted on the samples and
their mirror images (left and right swapped), so a rule and its mirrored twin
get mirrored weights. ``tools/fit_keypoint_conversions.py`` runs
:func:`refit_conversion` on CMU mocap seen by virtual cameras.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ._core import get_skeleton
from .convert import Conversion, Rule, _swap_side

__all__ = ["fit_affine_weights", "RuleFit", "refit_conversion"]


def _tie_groups(target: str, sources: Sequence[str]) -> list[list[int]]:
    names = list(sources)
    symmetric = _swap_side(target) == target and {_swap_side(s) for s in names} == set(names)
    groups: list[list[int]] = []
    done: set[int] = set()
    for i, n in enumerate(names):
        if i in done:
            continue
        j = names.index(_swap_side(n)) if symmetric else i
        group = sorted({i, j})
        done.update(group)
        groups.append(group)
    return groups


def fit_affine_weights(
    sources: np.ndarray, target: np.ndarray, groups: Sequence[Sequence[int]] | None = None, noise: float = 0.0
) -> np.ndarray:
    """Weights ``(K,)`` summing to 1 with ``sources @ w ~= target`` in least squares.

    Args:
        sources: ``(N, K, C)`` source points (N samples, K sources, C coordinates).
        target: ``(N, C)`` target points.
        groups: optional partition of the K sources into groups that share one weight.
        noise: standard deviation of independent noise on every source coordinate
            (units of the points) that the weights should be robust to.
    """
    s = np.asarray(sources, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    if s.ndim != 3 or t.shape != (s.shape[0], s.shape[2]):
        raise ValueError(f"sources must be (N, K, C) and target (N, C), got {s.shape} and {t.shape}")
    ok = np.isfinite(s).all(axis=(1, 2)) & np.isfinite(t).all(axis=1)
    s, t = s[ok], t[ok]
    k = s.shape[1]
    groups = [list(g) for g in (groups or [[i] for i in range(k)])]
    if sorted(i for g in groups for i in g) != list(range(k)):
        raise ValueError(f"groups {groups} are not a partition of {k} sources")
    g = np.zeros((k, len(groups)))
    for col, members in enumerate(groups):
        g[members, col] = 1.0
    a = np.einsum("nkc,kp->ncp", s, g).reshape(-1, len(groups))  # (N*C, P)
    b = t.reshape(-1)
    c = g.sum(0)  # sum of weights = c . p
    # p = p0 + Z y with c . p0 = 1 and Z spanning the null space of c: an unconstrained problem in y
    p0 = c / (c @ c)
    z = np.linalg.svd(c[None, :])[2][1:].T  # (P, P - 1)
    ridge = np.sqrt(c * float(noise) ** 2 * a.shape[0])  # noise adds sigma^2 * |g| * p_g^2 per row
    lhs = np.concatenate([a @ z, ridge[:, None] * z])
    rhs = np.concatenate([b - a @ p0, -ridge * p0])
    y = np.linalg.lstsq(lhs, rhs, rcond=None)[0] if z.shape[1] else np.zeros(0)
    return g @ (p0 + z @ y)


@dataclass(frozen=True)
class RuleFit:
    """A fitted rule, its errors on the (noise-free) fitting data (units of the points) and its
    noise gain ``sqrt(sum w_i^2)``: independent source noise ``sigma`` becomes ``gain * sigma``."""

    target: str
    rule: Rule
    mean_error: float
    p95_error: float
    max_error: float
    noise_gain: float


def refit_conversion(
    conversion: Conversion,
    source_points: np.ndarray,
    target_points: np.ndarray,
    decimals: int = 4,
    noise: float = 0.0,
) -> tuple[Conversion, list[RuleFit]]:
    """Refit every rule's weights of ``conversion`` (same sources, same priority) on paired data.

    Args:
        conversion: the conversion whose rule structure to keep.
        source_points: ``(N, J_src, C)`` keypoints of ``conversion.src``.
        target_points: ``(N, J_dst, C)`` matching keypoints of ``conversion.dst``
            (also the values of ``"@name"`` sources).
        decimals: rounding of the fitted weights (as written into the code).
        noise: source noise the weights should be robust to (see :func:`fit_affine_weights`).

    Returns:
        The refitted :class:`Conversion` and one :class:`RuleFit` per rule, with
        the error of each rule applied alone to every sample.
    """
    s_sk, d_sk = get_skeleton(conversion.src), get_skeleton(conversion.dst)
    src = np.asarray(source_points, dtype=np.float64)
    dst = np.asarray(target_points, dtype=np.float64)
    if src.ndim != 3 or src.shape[1] != s_sk.num_joints:
        raise ValueError(f"source_points must be (N, {s_sk.num_joints}, C), got {src.shape}")
    if dst.shape[:1] + dst.shape[2:] != src.shape[:1] + src.shape[2:] or dst.shape[1] != d_sk.num_joints:
        raise ValueError(f"target_points must be (N, {d_sk.num_joints}, {src.shape[2]}), got {dst.shape}")

    def point(name: str) -> np.ndarray:
        return dst[:, d_sk.index(name[1:])] if name.startswith("@") else src[:, s_sk.index(name)]

    new_rules, fits = [], []
    for target, rules in conversion.rules:
        refitted = []
        for rule in rules:
            pts = np.stack([point(n) for n in rule.sources], axis=1)
            truth = dst[:, d_sk.index(target)]
            mirror_target = _swap_side(target)
            mirror_sources = [_swap_side(n) for n in rule.sources]
            if mirror_target in d_sk.joint_names and all(
                (n[1:] in d_sk.joint_names) if n.startswith("@") else (n in s_sk.joint_names) for n in mirror_sources
            ):  # the mirrored samples: fitted rules then mirror exactly (left/right-symmetric data)
                pts = np.concatenate([pts, np.stack([point(n) for n in mirror_sources], axis=1)])
                truth = np.concatenate([truth, dst[:, d_sk.index(mirror_target)]])
            w = fit_affine_weights(pts, truth, _tie_groups(target, rule.sources), noise)
            w = np.round(w, decimals)
            w[-1] = np.round(1.0 - w[:-1].sum(), decimals)
            new = Rule(rule.sources, tuple(float(v) for v in w))
            err = np.linalg.norm(np.einsum("nkc,k->nc", pts, np.asarray(new.weights)) - truth, axis=-1)
            err = err[np.isfinite(err)]
            gain = float(np.sqrt(np.sum(np.square(new.weights))))
            fits.append(RuleFit(target, new, float(err.mean()), float(np.percentile(err, 95)), float(err.max()), gain))
            refitted.append(new)
        new_rules.append((target, tuple(refitted)))
    return Conversion(conversion.src, conversion.dst, tuple(new_rules), conversion.notes), fits
