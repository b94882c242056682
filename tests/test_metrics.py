"""posezoo.metrics against loop-based numpy references, closed forms, properties, masks and the Evaluator."""

from __future__ import annotations

import collections
import dataclasses
import math

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import posezoo
from posezoo import metrics as M
from posezoo.metrics._procrustes import special_polar
from posezoo.skeleton import flip_pose

ATOL = 1e-6


# ---------------------------------------------------------------- loop references (numpy, float64)
def ref_mpjpe_pose(p: np.ndarray, g: np.ndarray) -> float:
    """One pose (J, C)."""
    return (
        sum(math.sqrt(sum((p[j, c] - g[j, c]) ** 2 for c in range(p.shape[1]))) for j in range(p.shape[0])) / p.shape[0]
    )


def ref_n_mpjpe_pose(p: np.ndarray, g: np.ndarray) -> float:
    num = sum(p[j, c] * g[j, c] for j in range(p.shape[0]) for c in range(p.shape[1]))
    den = sum(p[j, c] ** 2 for j in range(p.shape[0]) for c in range(p.shape[1]))
    return ref_mpjpe_pose(num / den * p, g)


def ref_p_mpjpe_pose(p: np.ndarray, g: np.ndarray) -> float:
    """Umeyama (1991) in column-vector form: g ~ c R p + t with Sigma = cov(g, p), reflection fixed by det."""
    n = p.shape[0]
    mp, mg = p.mean(axis=0), g.mean(axis=0)
    var_p = sum(np.dot(p[i] - mp, p[i] - mp) for i in range(n)) / n
    sigma = sum(np.outer(g[i] - mg, p[i] - mp) for i in range(n)) / n
    u, d, vt = np.linalg.svd(sigma)
    s = np.eye(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        s[2, 2] = -1
    rot = u @ s @ vt
    c = np.trace(np.diag(d) @ s) / var_p
    t = mg - c * rot @ mp
    return ref_mpjpe_pose(np.stack([c * rot @ p[i] + t for i in range(n)]), g)


def ref_over_poses(fn, p: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Apply a per-pose reference over all leading dims."""
    lead = p.shape[:-2]
    out = np.empty(lead)
    for idx in np.ndindex(*lead):
        out[idx] = fn(p[idx], g[idx])
    return out


def ref_temporal(p: np.ndarray, g: np.ndarray, order: int) -> float:
    """(T, J, C) sequence: mean over frames/joints of the norm of the order-th difference error."""
    vals = []
    for t in range(p.shape[0] - order):
        for j in range(p.shape[1]):
            if order == 1:
                e = (p[t + 1, j] - p[t, j]) - (g[t + 1, j] - g[t, j])
            else:
                e = (p[t, j] - 2 * p[t + 1, j] + p[t + 2, j]) - (g[t, j] - 2 * g[t + 1, j] + g[t + 2, j])
            vals.append(math.sqrt(sum(x * x for x in e)))
    return sum(vals) / len(vals)


def ref_pck(p: np.ndarray, g: np.ndarray, thresholds) -> float:
    hits, total = 0, 0
    for idx in np.ndindex(*p.shape[:-1]):
        err = math.sqrt(sum((p[idx][c] - g[idx][c]) ** 2 for c in range(p.shape[-1])))
        for th in thresholds:
            hits += err < th
            total += 1
    return hits / total


def ref_pck2d(p: np.ndarray, g: np.ndarray, boxes: np.ndarray, alpha: float) -> float:
    hits, total = 0, 0
    for f in range(p.shape[0]):
        size = max(boxes[f, 2] - boxes[f, 0], boxes[f, 3] - boxes[f, 1])
        for j in range(p.shape[1]):
            hits += np.linalg.norm(p[f, j] - g[f, j]) <= alpha * size
            total += 1
    return hits / total


@pytest.fixture
def poses() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    g = rng.normal(size=(3, 7, 17, 3))
    return g + 0.3 * rng.normal(size=g.shape), g


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


# ---------------------------------------------------------------- agreement with the references
def test_pose_metrics_match_loops(poses) -> None:
    p, g = poses
    for fn, ref in ((M.mpjpe, ref_mpjpe_pose), (M.n_mpjpe, ref_n_mpjpe_pose), (M.p_mpjpe, ref_p_mpjpe_pose)):
        expected = ref_over_poses(ref, p, g)
        per_pose = fn(torch.from_numpy(p), torch.from_numpy(g), reduction="none")
        assert per_pose.shape == (3, 7) and per_pose.dtype == torch.float64
        np.testing.assert_allclose(per_pose.numpy(), expected, atol=ATOL, rtol=0)
        assert abs(fn(p, g) - expected.mean()) < ATOL
        assert abs(fn(p, g, reduction="sum") - expected.sum()) < 1e-5


def test_temporal_metrics_match_loops(poses) -> None:
    p, g = poses
    for fn, order in ((M.mpjve, 1), (M.accel_error, 2)):
        expected = np.mean([ref_temporal(p[b], g[b], order) for b in range(p.shape[0])])
        assert abs(fn(torch.from_numpy(p), torch.from_numpy(g)).item() - expected) < ATOL
        assert fn(p, g, reduction="none").shape == (3, 7 - order)


def test_pck_auc_match_loops(poses) -> None:
    p, g = poses
    p_mm, g_mm = p * 100, g * 100  # errors of a few tens of "mm"
    assert abs(M.pck3d(p_mm, g_mm) - ref_pck(p_mm, g_mm, [150.0])) < ATOL
    assert abs(M.pck3d(p_mm, g_mm, 40.0) - ref_pck(p_mm, g_mm, [40.0])) < ATOL
    assert abs(M.auc3d(p_mm, g_mm) - ref_pck(p_mm, g_mm, range(0, 151, 5))) < ATOL
    assert len(M.AUC_THRESHOLDS_MM) == 31 and M.AUC_THRESHOLDS_MM[0] == 0 and M.AUC_THRESHOLDS_MM[-1] == 150
    # metres in, mm thresholds: scale converts
    assert abs(M.auc3d(p / 10, g / 10, scale=M.unit_scale("m", "mm")) - M.auc3d(p_mm, g_mm)) < ATOL


def test_pck2d_matches_loop_and_size_conventions() -> None:
    rng = np.random.default_rng(3)
    g = rng.uniform(0, 200, size=(20, 15, 2))
    p = g + rng.normal(scale=8.0, size=g.shape)
    boxes = np.concatenate([g.min(axis=1) - 5, g.max(axis=1) + 5], axis=-1)  # (x1, y1, x2, y2)
    for alpha in M.PCK2D_ALPHAS:
        expected = ref_pck2d(p, g, boxes, alpha)
        assert abs(M.pck2d(p, g, alpha, bbox=boxes) - expected) < ATOL
        sizes = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
        assert abs(M.pck2d(p, g, alpha, bbox_size=sizes) - expected) < ATOL
    tight = np.concatenate([g.min(axis=1), g.max(axis=1)], axis=-1)
    assert abs(M.pck2d(p, g, 0.1) - ref_pck2d(p, g, tight, 0.1)) < ATOL  # default: tight box of the target
    # inclusive at the threshold (DeciWatch uses <=)
    g1 = np.zeros((1, 2, 2))
    g1[0, 1] = [10.0, 0.0]  # box size 10
    p1 = g1.copy()
    p1[0, 0, 0] = 2.0  # error exactly 0.2 * 10
    assert M.pck2d(p1, g1, 0.2) == 1.0


# ---------------------------------------------------------------- closed forms
def test_closed_forms() -> None:
    rng = np.random.default_rng(4)
    g = rng.normal(size=(5, 17, 3))
    rot = random_rotation(rng)
    similar = 2.5 * g @ rot.T + np.array([0.3, -1.0, 2.0])
    assert M.p_mpjpe(similar, g) < 1e-9
    assert M.n_mpjpe(0.4 * g, g) < 1e-12
    shifted = g + np.array([3.0, 4.0, 0.0])  # every joint exactly 5 away
    assert M.mpjpe(shifted, g) == pytest.approx(5.0)
    assert M.mpjpe(shifted, g, root=0) == pytest.approx(0.0)  # root-relative removes the offset
    aligned = M.procrustes_align(similar, g)
    np.testing.assert_allclose(aligned, g, atol=1e-9)
    # reflection-safe: a mirrored (non-planar) pose cannot be aligned by a proper rotation
    mirrored = g * np.array([-1.0, 1.0, 1.0])
    assert M.p_mpjpe(mirrored, g) > 1e-3
    h = torch.randn(6, 3, 3, dtype=torch.float64)
    r = special_polar(h)
    assert torch.allclose(torch.linalg.det(r), torch.ones(6, dtype=torch.float64))


def test_constant_velocity_and_acceleration_errors() -> None:
    rng = np.random.default_rng(5)
    g = rng.normal(size=(2, 9, 17, 3))
    c = np.array([0.1, -0.2, 0.2])
    t = np.arange(9.0)[None, :, None, None]
    assert M.mpjve(g + t * c, g) == pytest.approx(np.linalg.norm(c))  # constant velocity error
    assert M.accel_error(g + t * c, g) == pytest.approx(0.0, abs=1e-12)  # ... and no acceleration error
    assert M.accel_error(g + t**2 / 2 * c, g) == pytest.approx(np.linalg.norm(c))  # constant acceleration error
    assert M.mpjve(g + 5.0, g) == pytest.approx(0.0, abs=1e-12)


def test_units_and_scale(poses) -> None:
    p, g = poses
    assert M.unit_scale("m", "mm") == 1000.0 and M.unit_scale("mm", "m") == 1e-3 and M.unit_scale("cm") == 10.0
    assert M.mpjpe(p, g, scale=M.unit_scale("m")) == pytest.approx(1000 * M.mpjpe(p, g))
    assert M.p_mpjpe(p, g, scale=1000.0) == pytest.approx(1000 * M.p_mpjpe(p, g))
    with pytest.raises(ValueError, match="dst unit"):
        M.unit_scale("m", "inch")
    with pytest.raises(ValueError, match="scale must be finite and > 0"):
        M.mpjpe(p, g, scale=0.0)


# ---------------------------------------------------------------- properties (hypothesis)
# A grid of coordinates: structured cases (zeros, repeats, planar poses) without subnormal-float noise.
coords = st.integers(-200, 200).map(lambda i: i / 100)
pose_pairs = st.tuples(arrays(np.float64, (2, 6, 3), elements=coords), arrays(np.float64, (2, 6, 3), elements=coords))
PROPERTY = settings(max_examples=30, deadline=None, derandomize=True)


def alignment_is_unique(p: np.ndarray, g: np.ndarray) -> bool:
    """The optimal rotation is unique iff the signed singular values of H = P0^T G0 have no zero pair sums."""
    for pp, gg in zip(p, g):
        h = (pp - pp.mean(0)).T @ (gg - gg.mean(0))
        s = np.linalg.svd(h, compute_uv=False)
        s[-1] *= np.sign(np.linalg.det(h)) or 1.0
        if s[0] < 1e-3 or min(s[0] + s[1], s[0] + s[2], s[1] + s[2]) < 1e-3 * s[0]:
            return False
    return True


@PROPERTY
@given(pose_pairs, st.floats(0.2, 5.0), st.integers(0, 2**31 - 1))
def test_p_mpjpe_invariant_to_similarity_of_prediction(pair, s: float, seed: int) -> None:
    p, g = pair
    assume(alignment_is_unique(p, g))  # otherwise several rotations are optimal (same squared error)
    rot = random_rotation(np.random.default_rng(seed))
    moved = s * p @ rot.T + np.array([0.5, -0.25, 1.0])
    np.testing.assert_allclose(
        M.p_mpjpe(moved, g, reduction="none"), M.p_mpjpe(p, g, reduction="none"), atol=1e-7, rtol=1e-7
    )


@PROPERTY
@given(pose_pairs, st.floats(0.01, 100.0))
def test_n_mpjpe_invariant_to_positive_scaling(pair, s: float) -> None:
    p, g = pair
    np.testing.assert_allclose(
        M.n_mpjpe(s * p, g, reduction="none"), M.n_mpjpe(p, g, reduction="none"), atol=1e-9, rtol=1e-9
    )


@PROPERTY
@given(pose_pairs)
def test_non_negative_symmetric_and_alignment_ordering(pair) -> None:
    p, g = pair
    for fn in (M.mpjpe, M.n_mpjpe, M.p_mpjpe, M.mpjve):
        assert np.all(fn(p[None], g[None], reduction="none") >= 0)
    np.testing.assert_allclose(M.mpjpe(p, g, reduction="none"), M.mpjpe(g, p, reduction="none"), atol=1e-12)
    # The alignments minimise the squared error, so for the sum of squared errors N <= none always, and
    # P <= N whenever N's optimal scale is >= 0 (a negative scale is a point reflection, which a proper
    # rotation cannot reproduce in 3D; see test_n_mpjpe_negative_scale_can_beat_p_mpjpe).
    sq = {a: (M.joint_errors(p, g, align=a) ** 2).sum(axis=-1) for a in (None, "scale", "procrustes")}
    assert np.all(sq["scale"] <= sq[None] + 1e-9)
    positive_scale = (p * g).sum(axis=(-2, -1)) >= 0
    assert np.all((sq["procrustes"] <= sq["scale"] + 1e-9)[positive_scale])


def test_n_mpjpe_negative_scale_can_beat_p_mpjpe() -> None:
    """VideoPose3D's N-MPJPE scale is unconstrained: an inverted pose has N-MPJPE 0 but P-MPJPE > 0."""
    g = np.random.default_rng(6).normal(size=(17, 3))
    assert M.n_mpjpe(-g, g) < 1e-12 < 1e-3 < M.p_mpjpe(-g, g)


# ---------------------------------------------------------------- degenerate input and gradients
@pytest.mark.parametrize("case", ["all_equal", "all_zero", "collinear", "zero_target", "identical"])
def test_p_mpjpe_degenerate_is_finite_with_finite_gradients(case: str) -> None:
    g = torch.randn(4, 17, 3, dtype=torch.float64)
    p = (
        {
            "all_equal": torch.ones(4, 17, 3, dtype=torch.float64),
            "all_zero": torch.zeros(4, 17, 3, dtype=torch.float64),
            "collinear": torch.arange(17.0, dtype=torch.float64)[None, :, None]
            * torch.tensor([1.0, 2.0, 0.5]).double(),
            "zero_target": torch.randn(4, 17, 3, dtype=torch.float64),
            "identical": g.clone(),
        }[case]
        .expand(4, 17, 3)
        .clone()
    )
    if case == "zero_target":
        g = torch.zeros_like(g)
    p.requires_grad_()
    value = M.p_mpjpe(p, g)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(p.grad).all()
    if case in ("all_equal", "all_zero"):  # scale 0: the aligned pose is the target centroid
        expected = (g - g.mean(dim=-2, keepdim=True)).norm(dim=-1).mean()
        assert torch.allclose(value, expected)
    if case == "identical":
        assert value.item() < 1e-9


def test_p_mpjpe_gradient_matches_svd_autograd() -> None:
    torch.manual_seed(0)
    g = torch.randn(3, 17, 3, dtype=torch.float64)
    p = torch.randn(3, 17, 3, dtype=torch.float64, requires_grad=True)
    M.p_mpjpe(p, g).backward()

    def plain_svd_p_mpjpe(x: torch.Tensor) -> torch.Tensor:
        x0, g0 = x - x.mean(-2, keepdim=True), g - g.mean(-2, keepdim=True)
        u, s, vh = torch.linalg.svd(x0.mT @ g0)
        d = torch.ones(3, 3, dtype=torch.float64) * torch.sign(torch.linalg.det(u @ vh))[:, None]
        d = torch.cat([torch.ones(3, 2, dtype=torch.float64), d[:, :1]], dim=-1)
        r = u @ torch.diag_embed(d) @ vh
        scale = (s * d).sum(-1) / x0.square().sum((-2, -1))
        aligned = scale[:, None, None] * x0 @ r + g.mean(-2, keepdim=True)
        return (aligned - g).norm(dim=-1).mean()

    x = p.detach().clone().requires_grad_()
    plain_svd_p_mpjpe(x).backward()
    assert torch.allclose(p.grad, x.grad, atol=1e-10)
    assert torch.autograd.gradcheck(special_polar, (torch.randn(4, 3, 3, dtype=torch.float64, requires_grad=True),))


def test_metric_gradients_are_finite() -> None:
    g = torch.randn(2, 6, 17, 3)
    for fn in (M.mpjpe, M.n_mpjpe, M.p_mpjpe, M.mpjve, M.accel_error):
        for base in (torch.randn(2, 6, 17, 3), g.clone(), torch.zeros(2, 6, 17, 3)):
            p = base.clone().requires_grad_()
            fn(p, g).backward()
            assert torch.isfinite(p.grad).all(), fn.__name__


# ---------------------------------------------------------------- kinds, dtypes, leading dims
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_inputs(dtype: torch.dtype, poses) -> None:
    p, g = (torch.from_numpy(x).to(dtype) for x in poses)
    for fn in (M.mpjpe, M.n_mpjpe, M.p_mpjpe, M.mpjve, M.accel_error, M.pck3d, M.auc3d):
        got = fn(p, g, scale=100.0)
        assert got.dtype == torch.float32, fn.__name__
        assert torch.allclose(got, fn(p.float(), g.float(), scale=100.0), rtol=1e-5), fn.__name__
    assert M.pck2d(p[..., :2], g[..., :2]).dtype == torch.float32


def test_kinds_and_leading_dims(poses) -> None:
    p, g = poses
    assert isinstance(M.mpjpe(p, g), np.floating) and isinstance(M.mpjpe(p, g, reduction="none"), np.ndarray)
    assert isinstance(M.mpjpe(torch.from_numpy(p), torch.from_numpy(g)), torch.Tensor)
    assert M.mpjpe(p.astype(np.float32), g.astype(np.float32)).dtype == np.float32
    deep_p, deep_g = p.reshape(3, 7, 1, 17, 3), g.reshape(3, 7, 1, 17, 3)
    for fn in (M.mpjpe, M.n_mpjpe, M.p_mpjpe, M.pck3d):
        assert fn(deep_p, deep_g, reduction="none").shape == (3, 7, 1)
        assert fn(p[0, 0], g[0, 0]).shape == ()  # a single pose (J, C)
    assert M.joint_errors(p, g).shape == (3, 7, 17)
    np.testing.assert_allclose(M.root_relative(p, 0)[..., 0, :], 0.0)
    np.testing.assert_allclose(M.mpjpe(p, g, root=0), M.mpjpe(M.root_relative(p), M.root_relative(g)))


# ---------------------------------------------------------------- valid masks
def test_valid_masks_exclude_poses_and_allow_nan(poses) -> None:
    p, g = poses
    valid = np.ones((3, 7), dtype=bool)
    valid[1, 2:5] = False
    p_bad = p.copy()
    p_bad[~valid] = np.nan
    for fn in (M.mpjpe, M.n_mpjpe, M.p_mpjpe, M.pck3d):
        full = fn(p, g, reduction="none")
        assert fn(p_bad, g, valid=valid) == pytest.approx(full[valid].mean())
        masked = fn(p_bad, g, valid=valid, reduction="none")
        assert np.isnan(masked[~valid]).all() and np.allclose(masked[valid], full[valid])
    # temporal: a velocity needs both frames valid; an acceleration all three
    vel = M.mpjve(p, g, reduction="none")
    vel_valid = valid[:, 1:] & valid[:, :-1]
    assert M.mpjve(p_bad, g, valid=valid) == pytest.approx(vel[vel_valid].mean())
    acc = M.accel_error(p, g, reduction="none")
    acc_valid = valid[:, 2:] & valid[:, 1:-1] & valid[:, :-2]
    assert M.accel_error(p_bad, g, valid=valid) == pytest.approx(acc[acc_valid].mean())
    with pytest.raises(ValueError, match="NaN or inf values in valid poses; pass valid"):
        M.mpjpe(p_bad, g)
    with pytest.raises(ValueError, match=r"valid must have shape \(3, 7\)"):
        M.mpjpe(p, g, valid=np.ones((3,), dtype=bool))
    with pytest.raises(TypeError, match="valid must have dtype bool"):
        M.mpjpe(p, g, valid=np.ones((3, 7)))


# ---------------------------------------------------------------- Evaluator
def test_evaluator_action_and_frame_averaging() -> None:
    g = np.zeros((3, 4, 17, 3))
    p = g.copy()
    p[0, ..., 0] = 1.0  # sample 0 ("Walking 1"): error 1
    p[1, ..., 0] = 3.0  # sample 1 ("Walking"): error 3
    p[2, ..., 0] = 8.0  # sample 2 ("Eating"): error 8
    p[2, 0, :, 0] = 4.0  # ... except its first frame: 4
    labels = ["Walking 1", "Walking", "Eating"]
    ev_action = M.Evaluator(("mpjpe",), averaging="action")
    ev_frame = M.Evaluator(("mpjpe",))
    for ev in (ev_action, ev_frame):
        ev.update(p[:2], g[:2], labels[:2])
        ev.update(torch.from_numpy(p[2:]), torch.from_numpy(g[2:]), labels[2])
    walking, eating = 2.0, (4.0 + 3 * 8.0) / 4
    r = ev_action.compute()
    assert r.per_action == {"Eating": {"mpjpe": eating}, "Walking": {"mpjpe": walking}}
    assert r.overall["mpjpe"] == pytest.approx((walking + eating) / 2)
    assert ev_frame.compute().overall["mpjpe"] == pytest.approx((4 * 1 + 4 * 3 + 4 + 3 * 8) / 12)
    np.testing.assert_allclose(r.frame_curves["mpjpe"], [(1 + 3 + 4) / 3] + [(1 + 3 + 8) / 3] * 3)
    assert r.counts["mpjpe"] == 12
    ungrouped = M.Evaluator(("mpjpe",), averaging="action", group_actions=False)
    ungrouped.update(p, g, labels)
    assert set(ungrouped.compute().per_action) == {"Walking 1", "Walking", "Eating"}


def test_evaluator_matches_functions_with_masks_and_curves(poses) -> None:
    p, g = poses
    valid = np.ones((3, 7), dtype=bool)
    valid[0, :3] = False
    ev = M.Evaluator(("mpjpe", "p_mpjpe", "mpjve", "accel_error", "pck3d"), scale=1000.0)
    ev.update(p[:2], g[:2], valid=valid[:2])
    ev.update(p[2:, :5], g[2:, :5], valid=valid[2:, :5])  # shorter window: curves grow by index
    r = ev.compute()
    per_frame = M.mpjpe(p, g, scale=1000.0, reduction="none")
    mask = valid.copy()
    mask[2, 5:] = False
    assert r.overall["mpjpe"] == pytest.approx(per_frame[mask].mean())
    curve = [per_frame[:, t][mask[:, t]].mean() for t in range(7)]
    np.testing.assert_allclose(r.frame_curves["mpjpe"], curve)
    assert r.frame_curves["mpjve"].shape == (6,) and r.frame_curves["accel_error"].shape == (5,)
    assert r.per_action == {}
    single = M.Evaluator(("mpjpe",))
    single.update(p[0], g[0])  # (B, J, C): single poses
    assert single.compute().overall["mpjpe"] == pytest.approx(M.mpjpe(p[0], g[0]))


def test_evaluator_validation() -> None:
    p = np.zeros((2, 3, 17, 3))
    with pytest.raises(ValueError, match="unknown or no metrics"):
        M.Evaluator(("mpjpe", "nope"))
    with pytest.raises(ValueError, match="averaging must be"):
        M.Evaluator(averaging="sequence")
    with pytest.raises(ValueError, match="needs action labels"):
        M.Evaluator(averaging="action").update(p, p)
    with pytest.raises(ValueError, match="2 str labels"):
        M.Evaluator().update(p, p, ["a"])
    ev = M.Evaluator()
    ev.update(p, p, "a")
    with pytest.raises(ValueError, match="every update or in none"):
        ev.update(p, p)
    with pytest.raises(ValueError, match="T >= 3"):
        M.Evaluator(("accel_error",)).update(p[:, :2], p[:, :2])


# ---------------------------------------------------------------- flip test-time augmentation
def test_flip_tta_average() -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 5, 17, 2)
    weight = torch.randn(2, 3)

    def lift(inp: torch.Tensor) -> torch.Tensor:  # not flip-equivariant
        return inp @ weight + inp.sum(dim=-2, keepdim=True) @ weight

    expected = (lift(x) + flip_pose(lift(flip_pose(x)))) / 2
    assert torch.allclose(M.flip_tta_average(lift, x), expected)
    pair = M.flip_tta_average(lambda inp, k: (k * lift(inp), lift(inp)[:, 0]), x, 2.0)
    assert torch.allclose(pair[0], 2 * expected) and torch.allclose(pair[1], expected[:, 0])
    # a flip-equivariant prediction is unchanged
    y = torch.randn(2, 5, 17, 3)
    assert torch.allclose(M.merge_flipped(y, flip_pose(y)), y)
    np.testing.assert_allclose(M.merge_flipped(y.numpy(), flip_pose(y.numpy())), y.numpy(), atol=1e-7)
    with pytest.raises(ValueError, match="same shape"):
        M.merge_flipped(y, y[:1])


def test_flip_tta_average_of_uplift_upsample_outputs() -> None:
    """The model's dataclass output is averaged field by field, extra arguments (the mask) pass through."""
    torch.manual_seed(0)
    model = posezoo.create_model("uplift_upsample_small").eval()
    x, mask = model.example_inputs(2)
    with torch.no_grad():
        out = M.flip_tta_average(model, x, mask)
        plain, mirrored = model(x, mask), model(flip_pose(x), mask)
    assert type(out) is type(plain)
    assert out.full.shape == (2, model.num_frames, 17, 3) and out.central.shape == (2, 17, 3)
    torch.testing.assert_close(out.full, (plain.full + flip_pose(mirrored.full)) / 2)
    torch.testing.assert_close(out.central, (plain.central + flip_pose(mirrored.central)) / 2)
    assert not torch.allclose(out.central, plain.central)  # the random model is not flip-equivariant
    # a model without a full-sequence head returns full=None: it stays None
    no_full = dataclasses.replace(plain, full=None)
    merged = M.merge_flipped(no_full, dataclasses.replace(mirrored, full=None))
    assert merged.full is None
    torch.testing.assert_close(merged.central, out.central)
    with pytest.raises(TypeError, match=r"pred\.full: pred and pred_of_flipped must both be"):
        M.merge_flipped(no_full, mirrored)


def test_merge_flipped_structures() -> None:
    y = torch.randn(3, 4, 17, 3)
    y_np = y.numpy()
    Pair = collections.namedtuple("Pair", "poses centre")
    merged = M.merge_flipped({"a": y, "b": [y_np]}, {"a": flip_pose(y), "b": [flip_pose(y_np)]})
    torch.testing.assert_close(merged["a"], y)
    np.testing.assert_allclose(merged["b"][0], y_np, atol=1e-7)
    pair = M.merge_flipped(Pair(y, y[:, 0]), Pair(-y, -y[:, 0]))
    assert isinstance(pair, Pair)
    torch.testing.assert_close(pair.poses, (y + flip_pose(-y)) / 2)
    with pytest.raises(TypeError, match="different keys"):
        M.merge_flipped({"a": y}, {"b": y})
    with pytest.raises(TypeError, match="differ in structure"):
        M.merge_flipped((y,), [y])
    with pytest.raises(TypeError, match="2 and 1 elements"):
        M.merge_flipped((y, y), (y,))
    with pytest.raises(TypeError, match="must be a numpy array or tensor of poses"):
        M.merge_flipped("poses", "poses")


# ---------------------------------------------------------------- validation
def test_validation_errors(poses) -> None:
    p, g = poses
    with pytest.raises(ValueError, match="same shape"):
        M.mpjpe(p, g[..., :16, :])
    with pytest.raises(ValueError, match="reduction must be one of"):
        M.p_mpjpe(p, g, reduction="avg")
    with pytest.raises(TypeError, match="same kind"):
        M.mpjpe(torch.from_numpy(p), g)
    with pytest.raises(ValueError, match="at least 2 coordinates"):
        M.p_mpjpe(p[..., :1], g[..., :1])
    with pytest.raises(ValueError, match="2 coordinates"):
        M.pck2d(p, g)
    with pytest.raises(ValueError, match="bbox or bbox_size"):
        M.pck2d(p[..., :2], g[..., :2], bbox=np.zeros((3, 7, 4)), bbox_size=np.ones((3, 7)))
    with pytest.raises(ValueError, match=r"bbox must have shape \(3, 7, 4\)"):
        M.pck2d(p[..., :2], g[..., :2], bbox=np.zeros((3, 4)))
    with pytest.raises(ValueError, match="sizes must be finite and >= 0"):
        M.pck2d(p[..., :2], g[..., :2], bbox_size=-np.ones((3, 7)))
    with pytest.raises(ValueError, match="at least 3 frames"):
        M.accel_error(p[:, :2], g[:, :2])
    with pytest.raises(ValueError, match="root=17 is out of range"):
        M.mpjpe(p, g, root=17)
    with pytest.raises(ValueError, match="threshold must be"):
        M.pck3d(p, g, -1.0)
    with pytest.raises(ValueError, match="align must be"):
        M.joint_errors(p, g, align="rigid")


def test_docs_cover_every_public_name() -> None:
    from pathlib import Path

    from posezoo import losses as L

    text = (Path(__file__).resolve().parent.parent / "docs" / "losses_metrics.md").read_text()
    missing = [n for n in list(M.__all__) + list(L.__all__) if n not in text]
    assert not missing, f"docs/losses_metrics.md does not mention {missing}"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_metrics_on_cuda_match_cpu(poses) -> None:
    p, g = (torch.from_numpy(x) for x in poses)
    valid = torch.ones(3, 7, dtype=torch.bool)
    valid[0, 0] = False
    for fn in (M.mpjpe, M.n_mpjpe, M.p_mpjpe, M.mpjve, M.accel_error, M.pck3d, M.auc3d):
        gpu = fn(p.cuda(), g.cuda(), valid=valid.cuda(), scale=100.0)
        assert gpu.device.type == "cuda"
        assert torch.allclose(gpu.cpu(), fn(p, g, valid=valid, scale=100.0), atol=1e-9), fn.__name__
    assert torch.allclose(M.pck2d(p[..., :2].cuda(), g[..., :2].cuda()).cpu(), M.pck2d(p[..., :2], g[..., :2]))
