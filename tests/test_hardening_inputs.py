"""Issue 13 reproducers for in-memory input: model dtypes and sizes, constructor kwargs, lift/refine devices,
losses on empty input, skeleton and camera helpers, windowing bounds, the shared validators."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

import posezoo
from posezoo import losses as L
from posezoo import metrics as M
from posezoo import skeleton as S
from posezoo._validation import (
    check_bool,
    check_device,
    check_float,
    check_int,
    check_real_array,
    check_tensor,
    limits,
    read_json,
)
from posezoo.data import camera as C
from posezoo.data import evaluation_windows, training_window_starts
from posezoo.layers import pyramid_lengths

SMALL = {  # one small variant per family, with its input
    "rtpca_small": lambda: (torch.randn(1, 27, 17, 2),),
    "mixste_small": lambda: (torch.randn(1, 27, 17, 2),),
    "uplift_upsample_small": lambda: (torch.randn(1, 27, 17, 2),),
    "mixsynthformer_3dpw_3d": lambda: (torch.randn(1, 51, 14, 3),),
}


@pytest.fixture(scope="module")
def models() -> dict:
    torch.manual_seed(0)
    return {name: posezoo.create_model(name).eval() for name in SMALL}


def _run(model, x):
    out = model(x)
    return out.central if hasattr(out, "central") else out


@pytest.mark.parametrize("name", list(SMALL))
def test_forward_dtypes_and_empty_batches(models: dict, name: str) -> None:
    model = models[name]
    (x,) = SMALL[name]()
    for dtype in (torch.int64, torch.int32, torch.bool, torch.complex64):
        with pytest.raises(TypeError, match="floating-point dtype"):
            model(x.to(dtype))
    with torch.no_grad():
        ref = _run(model, x)
        as64 = _run(model, x.double())  # documented cast to the parameters' dtype
    assert as64.dtype == torch.float32
    torch.testing.assert_close(as64, ref, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="is empty"):
        model(x[:0])


def test_complex_stride_mask_is_refused(models: dict) -> None:
    with pytest.raises(TypeError, match="stride_mask must be bool or hold 0/1 real numbers"):
        models["uplift_upsample_small"](torch.randn(1, 27, 17, 2), torch.ones(1, 27, dtype=torch.complex64))


@pytest.mark.parametrize(
    "name,kwargs,match",
    [
        ("rtpca_small", dict(norm_eps=-1.0), "norm_eps must be > 0"),
        ("mixste_small", dict(mlp_ratio=float("inf")), "mlp_ratio must be a finite number"),
        ("mixste_small", dict(mlp_ratio=0), "mlp_ratio must be > 0"),
        ("mixste_small", dict(mlp_ratio=1e-3), r"gives an MLP of width int\(64 \* 0.001\) = 0"),
        ("mixste_small", dict(drop_rate=float("nan")), "drop_rate must be a finite number"),
        ("mixste_small", dict(attn_drop_rate=1.5), "attn_drop_rate must be <= 1"),
        ("rtpca_small", dict(tpca_stages=10**12), "tpca_stages must be a positive int <= 256"),
        ("rtpca_small", dict(depth=10**7), "depth must be a positive int <= 256"),
        ("rtpca_small", dict(tpca=1), "tpca must be True or False"),
        ("rtpca_small", dict(dim=8192, depth=200, num_heads=8), "parameters, more than the limit"),
        ("uplift_upsample_small", dict(paddings=[[1.5, 1], [1, 1], [1, 1]]), r"paddings\[0\] must be \(left, right\)"),
        ("uplift_upsample_small", dict(mlp_ratio=0), "mlp_ratio must be > 0"),
        ("uplift_upsample_small", dict(drop_path_rate=[0.1, float("nan"), 0.0]), r"drop_path_rate\[1\]"),
        ("uplift_upsample_small", dict(qkv_bias="false"), "qkv_bias must be True or False"),
        ("mixsynthformer_3dpw_3d", dict(norm_eps=-1.0), "norm_eps must be > 0"),
        ("mixsynthformer_3dpw_3d", dict(expansion_factor=float("inf")), "expansion_factor must be a finite number"),
        ("mixsynthformer_3dpw_3d", dict(num_keyframes=10**9), "max_model_frames"),
    ],
)
def test_bad_constructor_kwargs_fail_at_construction(name: str, kwargs: dict, match: str) -> None:
    start = time.perf_counter()
    with pytest.raises((ValueError, TypeError), match=match):
        posezoo.create_model(name, **kwargs)
    assert time.perf_counter() - start < 2


def test_pyramid_lengths_and_windows_are_bounded() -> None:
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"reaches 0 after 8 stages"):
        pyramid_lengths(243, 10**12)
    with pytest.raises(ValueError, match="max_sequence_frames"):
        evaluation_windows(10**12, 1)
    with pytest.raises(ValueError, match="max_windows"):
        evaluation_windows(limits.max_windows * 2, 1)
    with pytest.raises(ValueError, match="max_windows"):
        training_window_starts(limits.max_windows * 2, 1)
    assert time.perf_counter() - start < 2


@pytest.mark.parametrize(
    "device,match",
    [
        ("meta", "holds no data"),
        ("bogus", "is not a device"),
        ("cuda:99", "CUDA"),
        (3.5, "must be a str"),
    ],
)
def test_lift_and_refine_validate_the_device_and_never_move_the_model(models: dict, device, match: str) -> None:
    for fn, name, x in (
        (posezoo.lift, "rtpca_small", np.zeros((30, 17, 2))),
        (posezoo.refine, "mixsynthformer_3dpw_3d", np.zeros((60, 14, 3))),
    ):
        model = models[name]
        before = {k: v.clone() for k, v in model.state_dict().items()}
        with pytest.raises((ValueError, TypeError), match=match):
            fn(x, model, device=device)
        assert all(p.device.type == "cpu" for p in model.parameters()) and not model.training
        for k, v in model.state_dict().items():
            assert torch.equal(v, before[k])


def test_failed_call_moves_the_module_back(monkeypatch) -> None:
    model = posezoo.create_model("rtpca_small", depth=1)
    moves: list[str] = []
    original_to = torch.nn.Module.to

    def recording_to(self, *args, **kwargs):
        moves.append(str(args[0]) if args else str(kwargs))
        return original_to(self, *args, **kwargs)

    monkeypatch.setattr(torch.nn.Module, "to", recording_to)
    # pretend the model lives on "cpu:0" so that device="cpu" is a move (a harmless one)
    monkeypatch.setattr("posezoo.inference._common._module_device", lambda net: torch.device("cpu", 0))
    with pytest.raises(ValueError, match="non-finite keypoints"):  # found after the move
        posezoo.lift(np.full((30, 17, 2), np.nan), model, device="cpu")
    assert moves == ["cpu", "cpu:0"]  # moved for the call, then back where it was


@pytest.mark.parametrize(
    "fn,args",
    [
        (L.mpjpe_loss, 2),
        (L.wmpjpe_loss, 2),
        (L.pose_l1_loss, 2),
        (L.tc_loss, 1),
        (M.mpjpe, 2),
    ],
)
def test_losses_and_metrics_refuse_empty_input(fn, args: int) -> None:
    empty = torch.zeros(0, 5, 17, 3)
    with pytest.raises(ValueError, match="is empty"):
        fn(*([empty] * args))


def test_skeleton_helpers_refuse_nan_objects_and_bools() -> None:
    pose = np.random.default_rng(0).normal(size=(4, 17, 3))
    nan = pose.copy()
    nan[1, 3] = np.nan
    for bad, error in (
        (nan, ValueError),
        (pose.astype(object), TypeError),
        (pose.astype(np.complex64), TypeError),
        (torch.zeros(4, 17, 3, dtype=torch.bool), TypeError),
    ):
        with pytest.raises(error):
            S.flip_pose(bad)
        with pytest.raises(error):
            M.merge_flipped(bad, bad)
        with pytest.raises(error):
            S.coco_to_h36m(bad)
        with pytest.raises(error):
            S.synthesize_keypoints(bad, "coco")
    with pytest.raises(ValueError, match="allow_nonfinite=True"):
        S.reorder_joints(nan, "h36m", "uplift_upsample")
    kept = S.flip_pose(nan, allow_nonfinite=True)
    assert np.isnan(kept[1, 6]).all() and np.isfinite(np.delete(kept, [1], axis=0)).all()
    flags = S.reorder_joints(np.ones((17, 1), bool), "h36m", "uplift_upsample")
    assert flags.dtype == bool and flags.shape == (17, 1)
    # NaN where the confidence says "missing" is fine: the fitted conversion falls back to the next rule
    # whose joints are confident (head top from the right profile), or gives NaN with confidence 0 (a limb)
    c, h = S.COCO_17.index, S.H36M_17.index
    coco = pose.copy()
    coco[1, [c("left_eye"), c("left_knee")]] = np.nan
    conf = np.ones((4, 17))
    conf[1, [c("left_eye"), c("left_knee")]] = 0.0
    h36m, h_conf = S.coco_to_h36m(coco, conf)
    profile = S.get_conversion("coco").rules_for("head_top")[3]
    assert profile.sources == ("nose", "right_eye", "right_ear", "right_shoulder", "left_shoulder")
    np.testing.assert_allclose(
        h36m[1, h("head_top")], sum(w * coco[1, c(n)] for n, w in zip(profile.sources, profile.weights))
    )
    assert (
        h_conf[1, h("head_top")] == 1.0 and np.isnan(h36m[1, h("left_knee")]).all() and h_conf[1, h("left_knee")] == 0
    )
    assert np.isfinite(h36m[[0, 2, 3]]).all() and np.isfinite(np.delete(h36m[1], h("left_knee"), 0)).all()
    conf[1, c("left_eye")] = 0.5  # a NaN the confidence calls usable
    with pytest.raises(
        ValueError, match=r"NaN or inf values at 1 joints whose confidence is > 0 \(first at index \(1, 1\)\)"
    ):
        S.coco_to_h36m(coco, conf)
    assert np.isfinite(S.coco_to_h36m(coco, conf, min_confidence=0.5)[0][1, h("head_top")]).all()  # below threshold
    with pytest.raises(ValueError, match="pass confidence= with a score <= 0"):
        S.coco_to_h36m(coco)  # no confidence: nothing marks the NaN


@pytest.mark.parametrize("layout", ["coco", "halpe26", "coco_wholebody", "mediapipe33", "openpose25", "h36m"])
def test_layout_conversions_refuse_unmarked_nan_and_bad_kinds(layout: str) -> None:
    j = S.get_skeleton(layout).num_joints
    kp = np.random.default_rng(1).normal(size=(3, j, 2))
    conf = np.ones((3, j))
    for bad, error, match in (
        (kp.astype(object), TypeError, "real numbers"),
        (kp.astype(np.complex128), TypeError, "real numbers"),
        (np.zeros((3, j, 2), bool), TypeError, "real numbers"),
        ([[0.0, 0.0]] * j, TypeError, "numpy array or torch tensor"),
    ):
        with pytest.raises(error, match=match):
            S.to_h36m(bad, layout)
    for bad_conf, error, match in (
        (np.where(conf > 0, np.nan, 0), ValueError, "confidence contains NaN"),
        (conf.astype(bool), TypeError, "real numbers"),
        (torch.from_numpy(conf), TypeError, "must both be numpy arrays or both torch"),
        (conf[:, :-1], ValueError, "confidence must have shape"),
    ):
        with pytest.raises(error, match=match):
            S.to_h36m(kp, layout, bad_conf)
    with pytest.raises(ValueError, match="min_confidence must be a finite number"):
        S.to_h36m(kp, layout, conf, min_confidence=float("nan"))
    gap = kp.copy()
    gap[1] = np.inf  # a frame without a person ...
    with pytest.raises(ValueError, match="NaN or inf"):
        S.to_h36m(gap, layout)
    with pytest.raises(ValueError, match=r"confidence is > 0 \(first at index \(1, 0\)\)"):
        S.to_h36m(gap, layout, conf)
    conf[1] = 0.0  # ... is fine once its scores say so: that frame comes out NaN with confidence 0
    for arr, c in ((gap, conf), (torch.from_numpy(gap), torch.from_numpy(conf))):
        out, oc = S.to_h36m(arr, layout, c)
        out, oc = np.asarray(out), np.asarray(oc)
        assert out.shape == (3, 17, 2) and np.isnan(out[1]).all() and (oc[1] == 0).all()
        np.testing.assert_allclose(out[[0, 2]], S.to_h36m(kp[[0, 2]], layout))
        assert (oc[[0, 2]] == 1).all()


def test_cameras_refuse_nan_objects_and_points_on_the_camera_plane() -> None:
    points = np.array([[0.1, 0.2, 3.0], [0.5, 0.5, 0.0]])
    with pytest.raises(ValueError, match="z == 0"):
        C.project_points(points, [1000.0, 1000.0], [500.0, 500.0])
    with pytest.raises(ValueError, match="z == 0"):
        C.project_to_2d(torch.from_numpy(points), torch.ones(9))
    good = C.project_points(points[:1], [1000.0, 1000.0], [500.0, 500.0])
    np.testing.assert_allclose(good, [[1000 * 0.1 / 3 + 500, 1000 * 0.2 / 3 + 500]])
    with pytest.raises(ValueError, match="NaN"):
        C.world_to_camera(np.full((2, 3), np.nan), [1.0, 0, 0, 0], [0, 0, 0])
    with pytest.raises(TypeError, match="real numbers"):
        C.world_to_camera(np.zeros((2, 3), object), [1.0, 0, 0, 0], [0, 0, 0])
    with pytest.raises(TypeError, match="real numbers"):
        C.normalize_screen_coordinates(np.zeros((2, 2)), "1000", 1000)
    with pytest.raises(ValueError, match="NaN"):
        C.project_points(points[:1], [np.nan, 1.0], [0.0, 0.0])


def test_shared_validators() -> None:
    assert check_int("n", 5, maximum=5) == 5
    with pytest.raises(ValueError, match=r"n must be an int in \[0, 3\], got 4"):
        check_int("n", 4, 0, maximum=3)
    with pytest.raises(ValueError, match=r"posezoo.limits.max_depth"):
        check_int("depth", 10**6, limit="max_depth")
    assert check_float("x", np.float32(0.5), minimum=0.0) == 0.5
    for bad, error in (
        ("1", TypeError),
        (True, TypeError),
        (1j, TypeError),
        (float("nan"), ValueError),
        (10**400, ValueError),
    ):
        with pytest.raises(error):
            check_float("x", bad)
    with pytest.raises(ValueError, match="x must be > 0"):
        check_float("x", 0, minimum=0, exclusive_minimum=True)
    assert check_bool("b", np.bool_(True)) is True
    t = torch.zeros(2, 3)
    assert check_tensor("t", t, shape=(None, 3)) is t
    with pytest.raises(ValueError, match=r"t must have shape \(\*, 4\)"):
        check_tensor("t", t, shape=(None, 4))
    with pytest.raises(ValueError, match="NaN or Inf"):
        check_tensor("t", torch.tensor([float("inf")]), finite=True)
    with pytest.raises(TypeError, match="dtype <U1"):
        check_real_array("a", np.array(["a"]))
    assert check_device("cpu") == torch.device("cpu")
    with pytest.raises(AttributeError, match="no setting"):
        limits.max_things = 3
    with pytest.raises(ValueError, match="positive int"):
        limits.max_depth = -1
    assert read_json("", text='{"a": [1, 2]}') == {"a": [1, 2]}
    with pytest.raises(ValueError, match="not a valid JSON file"):
        read_json("", text="{nope")
    with pytest.raises(ValueError, match="nested deeper"):
        read_json("", text="[" * 1000 + "]" * 1000)
