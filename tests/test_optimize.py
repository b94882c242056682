"""optimize_for_inference: outputs of every family (float32 and bfloat16) against the eager model,
the oneDNN fast path and its fallback, the module wrapper, and its use inside lift()/refine()."""

from __future__ import annotations

import copy
import platform
from contextlib import nullcontext

import numpy as np
import pytest
import torch
from torch import nn

import posezoo
from posezoo.inference import _fast_ops, optimize
from posezoo.inference._fast_ops import FastLinear, onednn_linear_status
from posezoo.inference.optimize import HALF_PRECISION_TOLERANCE, OptimizedModel, inference_runner

FAMILIES = ["rtpca_small", "mixste_small", "uplift_upsample_small", "mixsynthformer_h36m_3d"]
X86 = platform.machine().lower() in ("x86_64", "amd64", "i686", "x86")


def _perturbed(name: str) -> nn.Module:
    torch.manual_seed(0)
    model = posezoo.create_model(name).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model


def _tensors(out) -> list[torch.Tensor]:
    return [out.full, out.central] if hasattr(out, "central") else [out]


@pytest.fixture(params=["default", "every_linear"])
def onednn_threshold(request, monkeypatch) -> str:
    """Run once with the default size threshold and once with every Linear sent through oneDNN."""
    if request.param == "every_linear":
        monkeypatch.setattr(_fast_ops, "ONEDNN_MIN_MACS", 0)
    return request.param


@pytest.mark.parametrize("name", FAMILIES)
def test_float32_matches_eager(name: str, onednn_threshold: str) -> None:
    model = _perturbed(name)
    inputs = posezoo.utils.example_input(model, 3)
    fast = posezoo.optimize_for_inference(model)
    with torch.no_grad():
        want, got = _tensors(model(*inputs)), _tensors(fast(*inputs))
    for w, g in zip(want, got):
        assert g.dtype == torch.float32 and g.shape == w.shape
        torch.testing.assert_close(g, w, atol=1e-4, rtol=0)
    assert fast.report["dtype"] == "float32"
    if onednn_linear_status() == "ok":
        assert fast.report["backend"] == "onednn" and fast.report["onednn_linears"] > 0


@pytest.mark.parametrize("name", FAMILIES)
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_within_documented_tolerance(name: str, dtype: torch.dtype) -> None:
    model = _perturbed(name)
    inputs = posezoo.utils.example_input(model, 2)
    with pytest.warns(UserWarning, match="emulated") if not optimize._cpu_has_native(dtype) else nullcontext():
        fast = posezoo.optimize_for_inference(model, dtype)
    with torch.no_grad():
        want, got = _tensors(model(*inputs)), _tensors(fast(*inputs))
    for w, g in zip(want, got):
        assert g.dtype == torch.float32  # cast back to the model's dtype
        err = (g - w).abs().max().item()
        assert err <= HALF_PRECISION_TOLERANCE * w.abs().max().item(), (err, w.abs().max().item())
        assert err > 0  # really computed in reduced precision
    inner_dtypes = {t.dtype for t in (*fast.module.parameters(), *fast.module.buffers())}
    assert dtype in inner_dtypes


def test_rtpca_bfloat16_keeps_tpca_in_float32() -> None:
    model = _perturbed("rtpca_small")
    fast = posezoo.optimize_for_inference(model, torch.bfloat16)
    assert fast.report["float32_islands"] == model.depth
    tpca = fast.module.temporal_blocks[0].attn.tpca
    assert isinstance(tpca, optimize.Float32Island)
    assert all(p.dtype == torch.float32 for p in tpca.parameters())
    plain = posezoo.optimize_for_inference(model, torch.bfloat16, keep_float32=False)
    assert plain.report["float32_islands"] == 0


@pytest.mark.skipif(not (X86 and torch.backends.mkldnn.is_available()), reason="oneDNN fast path is x86-only here")
def test_onednn_fast_path_is_active_on_x86() -> None:
    """Fails if PyTorch's oneDNN linear operators disappear or change (the fallback would hide it)."""
    assert onednn_linear_status(torch.float32) == "ok"
    fast = posezoo.optimize_for_inference(_perturbed("rtpca_small"))
    layers = [m for m in fast.modules() if isinstance(m, FastLinear)]
    assert layers and all(m.uses_onednn for m in layers)
    assert fast.report["fused_activations"] == 2 * 4  # one MLP per spatial and temporal block, depth 4


@pytest.mark.parametrize("activation", [None, "gelu", "gelu_tanh", "relu"])
@pytest.mark.parametrize("pack", [True, False])
def test_fast_linear_matches_linear_and_activation(activation, pack: bool, monkeypatch) -> None:
    monkeypatch.setattr(_fast_ops, "ONEDNN_MIN_MACS", 0)
    torch.manual_seed(1)
    layer = nn.Linear(24, 40)
    fast = FastLinear(layer, torch.float32, activation=activation, pack=pack)
    assert fast.uses_onednn == (pack and onednn_linear_status() == "ok")
    x = torch.randn(5, 7, 3, 24).transpose(1, 2)  # 4-D and not contiguous
    want = _fast_ops._reference_activation(layer(x), activation)
    with torch.no_grad():
        torch.testing.assert_close(fast(x), want, atol=1e-5, rtol=1e-5)
    assert fast.weight.dtype == torch.float32 and fast.weight.shape == (40, 24)


def test_fast_linear_without_bias_and_with_gradients_falls_back() -> None:
    layer = nn.Linear(16, 8, bias=False)
    fast = FastLinear(layer, torch.float32)
    x = torch.randn(300, 16)
    with torch.no_grad():
        torch.testing.assert_close(fast(x), layer(x), atol=1e-5, rtol=1e-5)
    x.requires_grad_(True)
    fast(x).sum().backward()  # grad mode: plain F.linear, differentiable
    torch.testing.assert_close(x.grad, layer.weight.sum(0).expand(300, 16).detach())


def test_fast_linear_follows_to() -> None:
    fast = FastLinear(nn.Linear(16, 8), torch.float32)
    fast.to(torch.float64)
    assert not fast.uses_onednn and fast.weight.dtype == torch.float64
    x = torch.randn(4, 16, dtype=torch.float64)
    with torch.no_grad():
        assert fast(x).dtype == torch.float64


def test_onednn_status_reports_missing_operator(monkeypatch) -> None:
    class NoOps:
        def __getattr__(self, name):
            raise AttributeError(name)

    onednn_linear_status.cache_clear()
    monkeypatch.setattr(torch.ops, "mkldnn", NoOps())
    try:
        status = onednn_linear_status(torch.float32)
        assert status != "ok" and "unavailable" in status
        layer = nn.Linear(8, 4)
        fast = FastLinear(layer, torch.float32)
        assert not fast.uses_onednn
        x = torch.randn(3, 8)
        with torch.no_grad():
            torch.testing.assert_close(fast(x), layer(x))
        with pytest.raises(ValueError, match="'onednn' does not work here"):
            posezoo.optimize_for_inference(layer, backend="onednn")
        assert posezoo.optimize_for_inference(layer).report["backend"] == "eager"
    finally:
        monkeypatch.undo()
        onednn_linear_status.cache_clear()


def test_original_model_is_untouched_and_wrapper_forwards_attributes() -> None:
    model = _perturbed("uplift_upsample_small").train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fast = posezoo.optimize_for_inference(model, torch.bfloat16)
    assert model.training and all(p.requires_grad for p in model.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert isinstance(fast, OptimizedModel) and not fast.training
    assert fast.output_stride == model.output_stride and fast.num_frames == model.num_frames
    assert fast.input_strides == model.input_strides
    with pytest.raises(RuntimeError, match="inference-only"):
        fast.train()
    with pytest.raises(AttributeError):
        _ = fast.no_such_attribute


def test_optimized_model_deep_copies_and_saves(tmp_path) -> None:
    model = _perturbed("rtpca_small")
    fast = posezoo.optimize_for_inference(model)
    (x,) = posezoo.utils.example_input(model, 2)
    twin = copy.deepcopy(fast)
    torch.save(fast, tmp_path / "fast.pt")
    loaded = torch.load(tmp_path / "fast.pt", weights_only=False)  # our own file, written just above
    packed = [m.uses_onednn for m in fast.modules() if isinstance(m, FastLinear)]
    for other in (twin, loaded):
        assert [m.uses_onednn for m in other.modules() if isinstance(m, FastLinear)] == packed
        with torch.no_grad():
            torch.testing.assert_close(other(x), fast(x), atol=0, rtol=0)


@pytest.mark.parametrize(
    "kwargs, error",
    [
        (dict(dtype=torch.float64), ValueError),
        (dict(dtype="bfloat16"), TypeError),
        (dict(backend="tensorrt"), ValueError),
        (dict(threads=0), ValueError),
        (dict(threads=True), ValueError),
        (dict(threads="many"), ValueError),
        (dict(backend="onednn", device="meta"), ValueError),
    ],
)
def test_bad_arguments_raise(kwargs: dict, error: type) -> None:
    with pytest.raises(error):
        posezoo.optimize_for_inference(nn.Linear(4, 4), **kwargs)


def test_bad_model_arguments_raise() -> None:
    with pytest.raises(TypeError, match="nn.Module"):
        posezoo.optimize_for_inference(lambda x: x)
    fast = posezoo.optimize_for_inference(nn.Linear(4, 4))
    with pytest.raises(ValueError, match="already an OptimizedModel"):
        posezoo.optimize_for_inference(fast)


def test_threads_are_set_for_the_call_and_restored() -> None:
    seen = []

    class Probe(nn.Module):
        def forward(self, x):
            seen.append(torch.get_num_threads())
            return x

    before = torch.get_num_threads()
    fast = posezoo.optimize_for_inference(Probe(), threads=1)
    fast(torch.zeros(1))
    assert seen == [1] and torch.get_num_threads() == before
    assert optimize.auto_threads(_perturbed("rtpca_small")) == (1 if before > 1 else None)
    big = nn.Linear(2048, 1024)  # 2.1 M parameters
    assert optimize.auto_threads(big) is None


# ------------------------------------------------------------------------------ lift() / refine()
def _walk(length: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.linspace(0, 6, length)[:, None, None]
    return (rng.uniform(-0.4, 0.4, (1, 17, 2)) + 0.1 * np.sin(t + rng.uniform(0, 6, (1, 17, 1)))).astype(np.float32)


def test_lift_optimize_true_and_false_agree_and_cache_follows_weights() -> None:
    model = _perturbed("rtpca_small")
    x = _walk(1900)  # 71 windows x 27 frames x 2 (flip) x 275k parameters > OPTIMIZE_MIN_WORK
    fast = posezoo.lift(x, model, optimize=True)
    slow = posezoo.lift(x, model, optimize=False)
    np.testing.assert_allclose(fast, slow, atol=1e-4, rtol=0)
    cached = optimize._CACHE.get(model)
    assert cached is not None and cached[1].report["backend"] in ("onednn", "eager")
    assert inference_runner(model, torch.device("cpu"), True, 1) is cached[1]  # reused, even for a small call
    with torch.no_grad():
        model.head.bias.add_(1.0)  # in-place change: the cached copy must not be used any more
    shifted = posezoo.lift(x, model, optimize=True, root_relative=False)
    reference = posezoo.lift(x, model, optimize=False, root_relative=False)
    np.testing.assert_allclose(shifted, reference, atol=1e-4, rtol=0)
    assert optimize._CACHE[model][1] is not cached[1]


def test_small_calls_and_other_models_are_not_optimized() -> None:
    model = _perturbed("rtpca_small")
    cpu = torch.device("cpu")
    assert inference_runner(model, cpu, True, 27) is model  # tiny workload
    assert inference_runner(model, cpu, False, 10**9) is model  # opted out
    custom = nn.Sequential(nn.Linear(2, 3))
    assert inference_runner(custom, cpu, True, 10**12) is custom  # not a posezoo model class
    double = _perturbed("rtpca_small").double()
    assert inference_runner(double, cpu, True, 10**12) is double  # float64: left alone


def test_lift_rejects_a_non_bool_optimize() -> None:
    with pytest.raises(TypeError, match="optimize must be True or False"):
        posezoo.lift(_walk(30), _perturbed("rtpca_small"), optimize="yes")


def test_refine_optimize_true_and_false_agree() -> None:
    model = _perturbed("mixsynthformer_h36m_3d")
    rng = np.random.default_rng(1)
    poses = (rng.normal(size=(700, 17, 3)) * 0.2).astype(np.float32)
    fast = posezoo.refine(poses, model, optimize=True)
    slow = posezoo.refine(poses, model, optimize=False)
    assert optimize._CACHE.get(model) is not None
    np.testing.assert_allclose(fast, slow, atol=1e-4, rtol=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_cuda_optimized_matches_eager(dtype: torch.dtype) -> None:
    model = _perturbed("rtpca_small").cuda()
    (x,) = posezoo.utils.example_input(model, 2)
    fast = posezoo.optimize_for_inference(model, dtype)
    assert fast.report["backend"] == "eager" and fast.report["device"].startswith("cuda")
    with torch.no_grad():
        want, got = model(x), fast(x)
    err = (got - want).abs().max().item()
    bound = 1e-4 if dtype == torch.float32 else HALF_PRECISION_TOLERANCE * want.abs().max().item()
    assert got.dtype == torch.float32 and err <= bound


@pytest.mark.slow
def test_compile_backend_matches_eager() -> None:
    """torch.compile with CPU weight freezing (minutes of preparation on a small CPU: slow suite)."""
    model = _perturbed("mixsynthformer_h36m_3d")
    (x,) = posezoo.utils.example_input(model, 2)
    fast = posezoo.optimize_for_inference(model, backend="compile")
    with torch.no_grad():
        torch.testing.assert_close(fast(x), model(x), atol=1e-4, rtol=0)
    assert fast.report["backend"] == "compile"
