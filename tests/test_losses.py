"""posezoo.losses against loop-based numpy references, closed forms, validation, gradients and dtypes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from posezoo import losses as L
from posezoo.skeleton import joint_weights

H36M_W = np.array([1, 1, 2.5, 2.5, 1, 2.5, 2.5, 1, 1, 1, 1.5, 1.5, 4, 4, 1.5, 4, 4], dtype=np.float64)
ATOL = 1e-6


# ---------------------------------------------------------------- loop references (numpy, float64)
def ref_wmpjpe(p: np.ndarray, g: np.ndarray, w: np.ndarray, squared: bool = False) -> float:
    """(B, F, J, 3): mean over (b, f, j) of w_j * ||p - g|| (or squared)."""
    total, n = 0.0, 0
    for b in range(p.shape[0]):
        for f in range(p.shape[1]):
            for j in range(p.shape[2]):
                d2 = sum((p[b, f, j, c] - g[b, f, j, c]) ** 2 for c in range(p.shape[3]))
                total += w[j] * (d2 if squared else math.sqrt(d2))
                n += 1
    return total / n


def ref_tc(p: np.ndarray, w: np.ndarray) -> float:
    total, n = 0.0, 0
    for b in range(p.shape[0]):
        for f in range(p.shape[1] - 1):
            for j in range(p.shape[2]):
                for c in range(p.shape[3]):
                    total += w[j] * (p[b, f + 1, j, c] - p[b, f, j, c]) ** 2
                    n += 1
    return total / n


def ref_mpjve(p: np.ndarray, g: np.ndarray) -> float:
    total, n = 0.0, 0
    for b in range(p.shape[0]):
        for f in range(p.shape[1] - 1):
            for j in range(p.shape[2]):
                vp = p[b, f + 1, j] - p[b, f, j]
                vg = g[b, f + 1, j] - g[b, f, j]
                total += math.sqrt(sum((vp[c] - vg[c]) ** 2 for c in range(3)))
                n += 1
    return total / n


def ref_rtpca(p: np.ndarray, g: np.ndarray, w: np.ndarray, lt: float = 0.5, lm: float = 2.0) -> float:
    """Reference section 7.1: L = L_w + 0.5 L_tc + 2.0 L_v, written out in one loop."""
    lw = ltc = lv = 0.0
    B, F, J, C = p.shape
    for b in range(B):
        for f in range(F):
            for j in range(J):
                lw += w[j] * math.sqrt(sum((p[b, f, j, c] - g[b, f, j, c]) ** 2 for c in range(C)))
                if f + 1 < F:
                    dp = [p[b, f + 1, j, c] - p[b, f, j, c] for c in range(C)]
                    dg = [g[b, f + 1, j, c] - g[b, f, j, c] for c in range(C)]
                    ltc += w[j] * sum(x * x for x in dp)
                    lv += math.sqrt(sum((dp[c] - dg[c]) ** 2 for c in range(C)))
    return lw / (B * F * J) + lt * ltc / (B * (F - 1) * J * C) + lm * lv / (B * (F - 1) * J)


def ref_uu(full, central, target, w_seq=0.5, w_center=0.5) -> float:
    """Reference section 6.1: sums of per-joint distances over (b, n, k) / (B N K) and over (b, k) / (B K)."""
    B, N, K, _ = target.shape
    centre = sum(np.sqrt(((central[b, k] - target[b, N // 2, k]) ** 2).sum()) for b in range(B) for k in range(K))
    centre /= B * K
    if full is None:
        return (w_seq + w_center) * centre
    seq = sum(
        np.sqrt(((full[b, n, k] - target[b, n, k]) ** 2).sum()) for b in range(B) for n in range(N) for k in range(K)
    )
    return w_seq * seq / (B * N * K) + w_center * centre


@pytest.fixture
def seq() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(2, 6, 17, 3)), rng.normal(size=(2, 6, 17, 3))


# ---------------------------------------------------------------- agreement with the references
def test_weights_default_is_released_h36m_vector() -> None:
    np.testing.assert_array_equal(joint_weights("h36m").numpy(), H36M_W)
    np.testing.assert_array_equal(L.WMPJPE().weights.numpy(), H36M_W)


@pytest.mark.parametrize("squared", [False, True])
def test_wmpjpe_matches_loop(seq, squared: bool) -> None:
    p, g = seq
    got = L.wmpjpe_loss(torch.from_numpy(p), torch.from_numpy(g), squared=squared)
    assert got.dtype == torch.float64
    assert abs(got.item() - ref_wmpjpe(p, g, H36M_W, squared)) < ATOL
    assert abs(L.WMPJPE(squared=squared)(torch.from_numpy(p), torch.from_numpy(g)).item() - got.item()) < 1e-12


def test_tc_and_mpjve_match_loops(seq) -> None:
    p, g = seq
    assert abs(L.TCLoss()(torch.from_numpy(p)).item() - ref_tc(p, H36M_W)) < ATOL
    assert abs(L.MPJVE()(torch.from_numpy(p), torch.from_numpy(g)).item() - ref_mpjve(p, g)) < ATOL


def test_tc_loss_takes_pred_and_target_like_its_siblings(seq) -> None:
    """TCLoss()(pred, target) works as every other loss module; the target does not change the value."""
    p, g = seq
    alone = L.TCLoss()(torch.from_numpy(p))
    assert L.TCLoss()(torch.from_numpy(p), torch.from_numpy(g)).item() == alone.item()
    assert L.TCLoss()(torch.from_numpy(p), torch.zeros(p.shape, dtype=torch.float64)).item() == alone.item()
    assert abs(L.TCLoss()(p, g) - ref_tc(p, H36M_W)) < ATOL  # numpy in, numpy out
    criteria = [L.WMPJPE(), L.TCLoss(), L.MPJVE()]  # one calling convention for the whole list
    total = sum(c(torch.from_numpy(p), torch.from_numpy(g)) for c in criteria)
    ref = ref_wmpjpe(p, g, H36M_W, False) + ref_tc(p, H36M_W) + ref_mpjve(p, g)
    assert abs(total.item() - ref) < ATOL
    with pytest.raises(ValueError, match="target must have the shape of pred"):
        L.TCLoss()(torch.from_numpy(p), torch.from_numpy(g)[..., :2])


def test_rtpca_loss_matches_reference_formula(seq) -> None:
    p, g = seq
    got = L.RTPCALoss()(torch.from_numpy(p), torch.from_numpy(g)).item()
    assert abs(got - ref_rtpca(p, g, H36M_W)) < ATOL
    # coefficients are honoured and composite = sum of the component losses
    got2 = L.rtpca_loss(torch.from_numpy(p), torch.from_numpy(g), lambda_t=1.5, lambda_m=0.25).item()
    assert abs(got2 - ref_rtpca(p, g, H36M_W, 1.5, 0.25)) < ATOL
    parts = L.wmpjpe_loss(p, g) + 1.5 * L.tc_loss(p) + 0.25 * L.mpjve_loss(p, g)
    assert abs(got2 - parts) < 1e-12


def test_rtpca_target_root_is_zeroed(seq) -> None:
    p, g = seq
    g0 = g.copy()
    g0[..., 0, :] = 0
    got = L.rtpca_loss(p, g, target_root=0)
    assert abs(got - ref_rtpca(p, g0, H36M_W)) < ATOL
    assert not np.array_equal(g, g0)  # the caller's target is untouched
    assert abs(L.RTPCALoss(target_root=0)(torch.from_numpy(p), torch.from_numpy(g)).item() - got) < 1e-12


def test_uplift_upsample_loss_matches_reference() -> None:
    rng = np.random.default_rng(1)
    for n in (5, 6):  # odd and even N: the centre is N // 2
        full, target = rng.normal(size=(3, n, 17, 3)), rng.normal(size=(3, n, 17, 3))
        central = rng.normal(size=(3, 17, 3))
        got = L.UpliftUpsampleLoss()(torch.from_numpy(full), torch.from_numpy(central), torch.from_numpy(target))
        assert abs(got.item() - ref_uu(full, central, target)) < ATOL
        # no temporal blocks: (w_c + w_s) * centre, as the official code
        got_none = L.uplift_upsample_loss(None, central, target, w_seq=0.3, w_center=0.9)
        assert abs(got_none - ref_uu(None, central, target, 0.3, 0.9)) < ATOL
        per_seq = L.uplift_upsample_loss(full, central, target, reduction="none")
        assert per_seq.shape == (3,) and abs(per_seq.mean() - ref_uu(full, central, target)) < ATOL


def test_pose_l1_and_future_mpjpe() -> None:
    rng = np.random.default_rng(2)
    p, g = rng.normal(size=(2, 8, 17, 3)), rng.normal(size=(2, 8, 17, 3))
    l1 = sum(abs(p[idx] - g[idx]) for idx in np.ndindex(p.shape)) / p.size
    assert abs(L.PoseL1Loss()(torch.from_numpy(p), torch.from_numpy(g)).item() - l1) < ATOL
    assert (
        abs(L.pose_l1_loss(p, g) - torch.nn.functional.l1_loss(torch.from_numpy(p), torch.from_numpy(g)).item()) < 1e-12
    )
    hist = 5
    fut = [np.linalg.norm(p[b, t, j] - g[b, t, j]) for b in range(2) for t in range(hist, 8) for j in range(17)]
    assert abs(L.FutureMPJPE(hist)(torch.from_numpy(p), torch.from_numpy(g)).item() - np.mean(fut)) < ATOL
    assert L.future_mpjpe_loss(p, g, hist, reduction="none").shape == (2, 3, 17)
    assert abs(L.future_mpjpe_loss(p, g, 0) - L.mpjpe_loss(p, g)) < 1e-12


# ---------------------------------------------------------------- closed forms and reductions
def test_closed_forms() -> None:
    g = torch.zeros(1, 4, 17, 3, dtype=torch.float64)
    p = g.clone()
    p[..., 0], p[..., 1] = 3.0, 4.0  # every joint 5 away
    assert L.mpjpe_loss(p, g).item() == pytest.approx(5.0)
    assert L.wmpjpe_loss(p, g).item() == pytest.approx(5.0 * H36M_W.mean())
    assert L.wmpjpe_loss(p, g, squared=True).item() == pytest.approx(25.0 * H36M_W.mean())
    assert L.wmpjpe_loss(p, g, weights=None).item() == pytest.approx(5.0)
    # constant velocity v: TC = mean_j w_j * mean_c v_c^2; a constant offset has no velocity error
    v = torch.tensor([0.1, -0.2, 0.3], dtype=torch.float64)
    moving = torch.arange(4, dtype=torch.float64)[None, :, None, None] * v + g
    assert L.tc_loss(moving).item() == pytest.approx(H36M_W.mean() * (v**2).mean().item())
    assert L.mpjve_loss(moving + 7.0, moving).item() == pytest.approx(0.0, abs=1e-12)
    assert L.mpjve_loss(moving, g).item() == pytest.approx(v.norm().item())


def test_reductions_are_consistent(seq) -> None:
    p, g = (torch.from_numpy(x) for x in seq)
    cases = [
        (lambda r: L.wmpjpe_loss(p, g, reduction=r), (2, 6, 17)),
        (lambda r: L.tc_loss(p, reduction=r), (2, 5, 17, 3)),
        (lambda r: L.mpjve_loss(p, g, reduction=r), (2, 5, 17)),
        (lambda r: L.pose_l1_loss(p, g, reduction=r), (2, 6, 17, 3)),
        (lambda r: L.rtpca_loss(p, g, reduction=r), (2,)),
        (lambda r: L.uplift_upsample_loss(p, p[:, 3], g, reduction=r), (2,)),
    ]
    for fn, shape in cases:
        none = fn("none")
        assert none.shape == shape
        assert torch.allclose(fn("mean"), none.mean()) and torch.allclose(fn("sum"), none.sum())


def test_any_leading_dims_and_numpy_roundtrip(seq) -> None:
    p, g = seq
    out = L.wmpjpe_loss(p, g)
    assert isinstance(out, np.floating) and abs(out - ref_wmpjpe(p, g, H36M_W)) < ATOL
    assert isinstance(L.mpjpe_loss(p, g, reduction="none"), np.ndarray)
    single = L.mpjpe_loss(torch.from_numpy(p[0, 0]), torch.from_numpy(g[0, 0]))  # (J, C)
    assert single.ndim == 0
    deep = L.rtpca_loss(p.reshape(1, 2, 6, 17, 3), g.reshape(1, 2, 6, 17, 3), reduction="none")
    assert deep.shape == (1, 2)


# ---------------------------------------------------------------- the RTPCA backward quirk
def test_scale_grad_by_loss_reproduces_released_backward(seq) -> None:
    p0, g = (torch.from_numpy(x) for x in seq)
    p1 = p0.clone().requires_grad_()
    released = L.rtpca_loss(p1, g)
    released.backward(released.detach())  # what the released loop does
    p2 = p0.clone().requires_grad_()
    quirk = L.RTPCALoss(scale_grad_by_loss=True)(p2, g)
    quirk.backward()
    assert quirk.item() == pytest.approx(released.item())  # logged value is L, not L^2/2
    assert torch.allclose(p2.grad, p1.grad)
    p3 = p0.clone().requires_grad_()
    L.rtpca_loss(p3, g).backward()
    assert torch.allclose(p1.grad, released.item() * p3.grad)  # the quirk scales the gradient by L
    with pytest.raises(ValueError, match="reduction='mean'"):
        L.RTPCALoss(scale_grad_by_loss=True, reduction="none")


# ---------------------------------------------------------------- gradients and dtypes
def _all_losses(p: torch.Tensor, g: torch.Tensor) -> dict[str, torch.Tensor]:
    return {
        "mpjpe": L.MPJPELoss()(p, g),
        "wmpjpe": L.WMPJPE()(p, g),
        "wmpjpe_sq": L.WMPJPE(squared=True)(p, g),
        "tc": L.TCLoss()(p),
        "mpjve": L.MPJVE()(p, g),
        "rtpca": L.RTPCALoss()(p, g),
        "rtpca_quirk": L.RTPCALoss(scale_grad_by_loss=True)(p, g),
        "uu": L.UpliftUpsampleLoss()(p, p[:, p.shape[1] // 2], g),
        "uu_central_only": L.UpliftUpsampleLoss()(None, p[:, p.shape[1] // 2], g),
        "l1": L.PoseL1Loss()(p, g),
        "future": L.FutureMPJPE(2)(p, g),
    }


@pytest.mark.parametrize("case", ["random", "identical", "all_zero"])
def test_gradients_are_finite(case: str) -> None:
    g = torch.randn(2, 5, 17, 3)
    base = {"random": torch.randn(2, 5, 17, 3), "identical": g.clone(), "all_zero": torch.zeros(2, 5, 17, 3)}[case]
    if case == "all_zero":
        g = torch.zeros_like(g)
    for name, _ in _all_losses(base, g).items():
        p = base.clone().requires_grad_()
        loss = _all_losses(p, g)[name]
        loss.backward()
        assert torch.isfinite(loss) and p.grad is not None and torch.isfinite(p.grad).all(), name
        if case == "random":
            assert p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_inputs_compute_in_float32(dtype: torch.dtype) -> None:
    p32, g32 = torch.randn(2, 5, 17, 3), torch.randn(2, 5, 17, 3)
    p, g = p32.to(dtype), g32.to(dtype)
    ref = _all_losses(p.float(), g.float())
    got = _all_losses(p.clone().requires_grad_(), g)
    for name in ref:
        assert got[name].dtype == torch.float32, name
        assert torch.allclose(got[name], ref[name], rtol=1e-5), name
    ph = p.clone().requires_grad_()
    L.RTPCALoss()(ph, g).backward()
    assert ph.grad.dtype == dtype and torch.isfinite(ph.grad.float()).all()


def test_module_buffers_follow_to_and_stay_out_of_state_dict() -> None:
    loss = L.RTPCALoss().to(torch.float64)
    assert loss.state_dict() == {}
    assert loss.weights.dtype == torch.float64
    p, g = torch.randn(1, 3, 17, 3), torch.randn(1, 3, 17, 3)
    assert torch.isfinite(loss(p, g))


def test_weights_forms() -> None:
    p, g = torch.randn(2, 4, 15, 3, dtype=torch.float64), torch.randn(2, 4, 15, 3, dtype=torch.float64)
    w = joint_weights("humaneva").double()
    expected = (torch.linalg.vector_norm(p - g, dim=-1) * w).mean()
    for weights in ("humaneva", w.tolist(), w, w.numpy()):
        assert torch.allclose(L.wmpjpe_loss(p, g, weights), expected)


# ---------------------------------------------------------------- validation
def test_validation_errors() -> None:
    p, g = torch.randn(2, 4, 17, 3), torch.randn(2, 4, 17, 3)
    with pytest.raises(ValueError, match=r"same shape.*\(2, 4, 17, 3\).*\(2, 4, 16, 3\)"):
        L.mpjpe_loss(p, g[..., :16, :])
    with pytest.raises(ValueError, match="weights has 17 entries but the poses have 15 joints"):
        L.WMPJPE()(p[..., :15, :], g[..., :15, :])
    with pytest.raises(ValueError, match="reduction must be one of"):
        L.RTPCALoss(reduction="avg")
    with pytest.raises(ValueError, match="reduction must be one of"):
        L.mpjve_loss(p, g, reduction="max")
    with pytest.raises(TypeError, match="same kind"):
        L.mpjpe_loss(p, g.numpy())
    with pytest.raises(TypeError, match="floating-point"):
        L.mpjpe_loss(p.long(), g.long())
    with pytest.raises(TypeError, match="numpy array or torch tensor"):
        L.mpjpe_loss([1.0], [1.0])
    with pytest.raises(ValueError, match="at least 2 frames"):
        L.TCLoss()(p[:, :1])
    with pytest.raises(ValueError, match=r"\(\.\.\., T, J, C\)"):
        L.MPJVE()(p[0, 0], g[0, 0])
    with pytest.raises(ValueError, match="NaN or inf"):
        L.RTPCALoss()(p.clone().fill_(float("nan")), g)
    assert torch.isnan(L.RTPCALoss(check_finite=False)(p.clone().fill_(float("nan")), g))
    with pytest.raises(ValueError, match="central_pred must have shape"):
        L.UpliftUpsampleLoss()(p, p, g)
    with pytest.raises(ValueError, match="history must be an int >= 0"):
        L.FutureMPJPE(-1)
    with pytest.raises(ValueError, match="at least 5 frames"):
        L.FutureMPJPE(4)(p, g)
    with pytest.raises(ValueError, match="lambda_t must be finite and >= 0"):
        L.RTPCALoss(lambda_t=-1.0)
    with pytest.raises(ValueError, match="non-empty 1-D"):
        L.WMPJPE(weights=[[1.0, 2.0]])
    with pytest.raises(ValueError, match="unknown skeleton"):
        L.WMPJPE(weights="nope")
    with pytest.raises(ValueError, match="non-negative"):
        L.WMPJPE(weights=[-1.0] * 17)
    with pytest.raises(TypeError, match="weights must be"):
        L.WMPJPE(weights=3)
    with pytest.raises(ValueError, match="target_root=17 is out of range"):
        L.rtpca_loss(p, g, target_root=17)


def test_losses_compile_fullgraph() -> None:
    """The finite-value check is skipped while tracing, so the composite losses compile without graph breaks."""
    p, g = torch.randn(2, 5, 17, 3), torch.randn(2, 5, 17, 3)
    rtpca = L.RTPCALoss()
    assert torch.allclose(torch.compile(rtpca, fullgraph=True, backend="eager")(p, g), rtpca(p, g))
    uu = L.UpliftUpsampleLoss()
    assert torch.allclose(torch.compile(uu, fullgraph=True, backend="eager")(p, p[:, 2], g), uu(p, p[:, 2], g))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_losses_on_cuda_match_cpu() -> None:
    p, g = torch.randn(2, 5, 17, 3), torch.randn(2, 5, 17, 3)
    for loss in (L.RTPCALoss(), L.WMPJPE(), L.TCLoss(), L.PoseL1Loss()):
        args = (p,) if isinstance(loss, L.TCLoss) else (p, g)
        cpu = loss(*args)
        gpu = loss.cuda()(*(a.cuda() for a in args))
        assert gpu.device.type == "cuda" and torch.allclose(gpu.cpu(), cpu, atol=1e-5)
    assert torch.allclose(L.rtpca_loss(p.cuda(), g.cuda()).cpu(), L.rtpca_loss(p, g), atol=1e-5)
