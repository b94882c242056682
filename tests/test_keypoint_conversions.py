"""Detector keypoint layouts, the fitted detector -> H36M-17 conversions, and how they were derived."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

import posezoo
from posezoo import skeleton as sk
from posezoo.skeleton.fit import fit_affine_weights, refit_conversion

from .conftest import REPO_ROOT

DETECTOR_LAYOUTS = ("coco", "halpe26", "coco_wholebody", "mediapipe33", "openpose25")
FACE = ("nose", "left_eye", "right_eye", "left_ear", "right_ear")


def _sample_views(layout: str) -> tuple[np.ndarray, np.ndarray, posezoo.data.Sample]:
    """``(detector px (T, J, 2), H36M px (T, 17, 2), sample)`` of the bundled clip through its camera."""
    s = posezoo.data.load_sample("06_01")
    cam3d = s.camera.world_to_camera(s.poses_world.astype(np.float64))
    det = s.camera.project(sk.synthesize_keypoints(cam3d, layout))
    return det, s.camera.project(cam3d), s


def test_detector_layouts_names_sizes_and_flip_pairs() -> None:
    sizes = {"halpe26": 26, "coco_wholebody": 133, "mediapipe33": 33, "openpose25": 25}
    for name, size in sizes.items():
        s = sk.get_skeleton(name)
        assert s.num_joints == size and len(s.bones) == size - 1
    assert sk.COCO_WHOLEBODY_133.joint_names[:17] == sk.COCO_17.joint_names
    assert sk.HALPE_26.joint_names[:17] == sk.COCO_17.joint_names
    assert sk.HALPE_26.joint_names[17:20] == ("head", "neck", "hip")
    wb = sk.COCO_WHOLEBODY_133
    assert wb.joint_names[17:23] == (
        "left_big_toe",
        "left_small_toe",
        "left_heel",
        "right_big_toe",
        "right_small_toe",
        "right_heel",
    )
    assert wb.joint_names[91] == "left_hand_root" and wb.joint_names[112] == "right_hand_root"
    perm = wb.flip_permutation  # 300-W face: jaw 0 <-> 16, eye corners 36 <-> 45, mouth corners 48 <-> 54
    assert perm[23 + 0] == 23 + 16 and perm[23 + 36] == 23 + 45 and perm[23 + 48] == 23 + 54
    assert perm[23 + 8] == 23 + 8 and perm[23 + 30] == 23 + 30  # chin, nose tip stay
    assert perm[91 + 4] == 112 + 4  # left thumb tip <-> right thumb tip
    assert sk.OPENPOSE_25.joint_names[1] == "neck" and sk.OPENPOSE_25.joint_names[8] == "mid_hip"
    assert sk.OPENPOSE_25.flip_permutation[2] == 5  # right_shoulder <-> left_shoulder
    assert sk.MEDIAPIPE_33.joint_names[31] == "left_foot_index" and sk.MEDIAPIPE_33.flip_permutation[9] == 10
    for alias, name in {
        "openpose": "openpose25",
        "blazepose": "mediapipe33",
        "wholebody": "coco_wholebody",
        "alphapose": "halpe26",
    }.items():
        assert sk.get_skeleton(alias).name == name


@pytest.mark.parametrize("layout", DETECTOR_LAYOUTS + ("h36m",))
def test_synthetic_keypoints_mirror_with_the_pose(layout: str) -> None:
    pose = posezoo.data.load_sample("06_01").pose_3d[::20].astype(np.float64)
    synth = sk.synthesize_keypoints(pose, layout)
    assert synth.shape == (len(pose), sk.get_skeleton(layout).num_joints, 3)
    np.testing.assert_allclose(
        sk.synthesize_keypoints(sk.flip_pose(pose), layout), sk.flip_pose(synth, layout), atol=1e-12
    )
    if layout != "h36m":  # shared joints: shoulders .. ankles are the H36M joints, detector hips 15 % wider
        s, h = sk.get_skeleton(layout), sk.H36M_17
        np.testing.assert_allclose(synth[:, s.index("left_knee")], pose[:, h.index("left_knee")])
        hips = synth[:, s.index("left_hip")] - synth[:, s.index("right_hip")]
        np.testing.assert_allclose(hips, 1.15 * (pose[:, h.index("left_hip")] - pose[:, h.index("right_hip")]))


@pytest.mark.parametrize("layout", DETECTOR_LAYOUTS)
def test_conversion_commutes_with_mirroring(layout: str) -> None:
    det, _, _ = _sample_views(layout)
    centred = det - det.mean(axis=(0, 1))
    conf = np.random.default_rng(0).uniform(0.0, 1.0, centred.shape[:2])
    conf[conf < 0.3] = 0.0
    s = sk.get_skeleton(layout)
    a, ca = sk.to_h36m(sk.flip_pose(centred, s), s, conf[:, s.flip_permutation], min_confidence=0.2)
    b, cb = sk.to_h36m(centred, s, conf, min_confidence=0.2)
    missing = np.isnan(b).any(-1)
    assert missing.any() and (cb[missing] == 0).all() and np.isfinite(b[~missing]).all()  # NaN only where cb says so
    with pytest.raises(ValueError, match="allow_nonfinite=True"):  # flip_pose takes no confidence: opt in
        sk.flip_pose(b, "h36m")
    np.testing.assert_allclose(a, sk.flip_pose(b, "h36m", allow_nonfinite=True), atol=1e-9, equal_nan=True)
    np.testing.assert_array_equal(ca, cb[:, sk.H36M_17.flip_permutation])


@pytest.mark.parametrize("layout", DETECTOR_LAYOUTS)
def test_synthetic_detector_keypoints_convert_back_to_h36m(layout: str) -> None:
    det, h36m, _ = _sample_views(layout)
    err = np.linalg.norm(sk.to_h36m(det, layout) - h36m, axis=-1)  # px on the sample's 1000 px image
    hj = sk.H36M_17.index
    body = [hj(n) for n in sk.H36M_17.joint_names if n not in ("head_top", "thorax", "spine")]
    assert err[:, body].mean() < 1.0 and err[:, body].max() < 4.0
    assert err[:, hj("thorax")].mean() < 4.0 and err[:, hj("head_top")].mean() < 10.0
    # the old conversion (head top = eye midpoint, thorax = shoulder midpoint) is far off on the same data
    c = sk.COCO_17.index
    assert (
        np.linalg.norm((det[:, c("left_eye")] + det[:, c("right_eye")]) / 2 - h36m[:, hj("head_top")], axis=-1).mean()
        > 20
    )


def test_wholebody_body_part_converts_exactly_as_coco() -> None:
    wb, _, _ = _sample_views("coco_wholebody")
    rng = np.random.default_rng(1)
    wb = wb + rng.normal(0, 3, wb.shape)
    conf = rng.uniform(0, 1, wb.shape[:2])
    np.testing.assert_array_equal(sk.to_h36m(wb, "coco_wholebody"), sk.to_h36m(wb[:, :17], "coco"))
    a, ca = sk.to_h36m(wb, "coco_wholebody", conf, min_confidence=0.4)
    b, cb = sk.coco_to_h36m(wb[:, :17], conf[:, :17], min_confidence=0.4)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ca, cb)
    model = posezoo.create_model("_test_tiny_lifter")
    np.testing.assert_array_equal(
        posezoo.lift(wb, model, layout="coco_wholebody", image_size=(1000, 1000), confidence=conf, min_confidence=0.4),
        posezoo.lift(
            wb[:, :17], model, layout="coco", image_size=(1000, 1000), confidence=conf[:, :17], min_confidence=0.4
        ),
    )


def test_confidence_picks_the_first_usable_rule() -> None:
    det, _, _ = _sample_views("coco")
    c = sk.COCO_17.index
    h = sk.H36M_17.index
    conf = np.ones(det.shape[:2])
    conf[:, c("right_ear")] = conf[:, c("right_eye")] = 0.1  # left profile: nose, left eye, left ear, shoulders
    out, oc = sk.coco_to_h36m(det, conf, min_confidence=0.2)
    rule = sk.get_conversion("coco").rules_for("head_top")[2]
    assert rule.sources == ("nose", "left_eye", "left_ear", "left_shoulder", "right_shoulder")
    expected = sum(w * det[:, c(n)] for n, w in zip(rule.sources, rule.weights))
    np.testing.assert_allclose(out[:, h("head_top")], expected)
    assert (oc[:, h("head_top")] == 1.0).all()
    full = sk.coco_to_h36m(det)  # without confidences: the first rule everywhere
    assert not np.allclose(full[:, h("head_top")], expected)
    # no face at all: the torso rule; its confidence is the lowest of its sources
    for n in FACE:
        conf[:, c(n)] = 0.0
    conf[:, c("left_hip")] = 0.5
    out, oc = sk.coco_to_h36m(det, conf, min_confidence=0.2)
    rule = sk.get_conversion("coco").rules_for("nose")[-1]
    np.testing.assert_allclose(out[:, h("nose")], sum(w * det[:, c(n)] for n, w in zip(rule.sources, rule.weights)))
    assert (oc[:, h("nose")] == 0.5).all() and (oc[:, h("left_knee")] == 1.0).all()
    # nothing usable: NaN and confidence 0 (lift() then interpolates over time)
    out, oc = sk.coco_to_h36m(det[:3], np.zeros((3, 17)))
    assert np.isnan(out).all() and (oc == 0).all()
    # torch in, torch out
    t, tc = sk.coco_to_h36m(torch.from_numpy(det), torch.from_numpy(conf), min_confidence=0.2)
    assert isinstance(t, torch.Tensor) and isinstance(tc, torch.Tensor)
    np.testing.assert_allclose(t.numpy(), sk.coco_to_h36m(det, conf, min_confidence=0.2)[0])


def test_layout_specific_rules() -> None:
    halpe, _, _ = _sample_views("halpe26")
    h = sk.H36M_17.index
    out = sk.to_h36m(halpe, "halpe26")
    np.testing.assert_allclose(out[:, h("head_top")], halpe[:, sk.HALPE_26.index("head")])  # the top of the head
    op, _, _ = _sample_views("openpose25")
    conf = np.ones(op.shape[:2])
    conf[:, sk.OPENPOSE_25.index("left_hip")] = 0
    out, oc = sk.to_h36m(op, "openpose25", conf)
    np.testing.assert_allclose(out[:, h("pelvis")], op[:, sk.OPENPOSE_25.index("mid_hip")])  # BODY_25's own mid-hip
    assert np.isnan(out[:, h("left_hip")]).all() and (oc[:, h("left_hip")] == 0).all()
    h36m = np.random.default_rng(5).normal(size=(4, 17, 2))
    np.testing.assert_allclose(sk.to_h36m(h36m, "h36m"), h36m)  # H36M itself: a copy


@pytest.mark.parametrize("layout", DETECTOR_LAYOUTS)
def test_each_layout_lifts(layout: str) -> None:
    det, h36m, s = _sample_views(layout)
    model = posezoo.create_model("_test_tiny_lifter")
    conf = np.ones(det.shape[:2], np.float32)
    conf[40:43] = 0  # three frames without a detection
    det = det.astype(np.float32)
    det[40:43] = np.nan
    out = posezoo.lift(det, model, layout=layout, image_size=s.image_size, confidence=conf)
    assert out.shape == (len(det), 17, 3) and out.dtype == np.float32 and np.isfinite(out).all()
    np.testing.assert_array_equal(out[:, 0], 0)  # root-relative
    # the same as lifting the converted H36M keypoints (gap interpolated in H36M space)
    h, hc = sk.to_h36m(det, layout, conf)
    np.testing.assert_allclose(out, posezoo.lift(h, model, image_size=s.image_size, confidence=hc), atol=1e-6)


def test_rule_and_conversion_validation() -> None:
    with pytest.raises(ValueError, match="sum to 1"):
        sk.Rule(("nose", "left_eye"), (0.5, 0.6))
    with pytest.raises(ValueError, match="one weight per source"):
        sk.Rule(("nose",), (0.5, 0.5))
    rules = dict(sk.get_conversion("coco").rules)
    with pytest.raises(ValueError, match="has no joint 'chin'"):
        sk.Conversion("coco", "h36m", tuple({**rules, "nose": (sk.Rule.copy("chin"),)}.items()))
    with pytest.raises(ValueError, match="before it is computed"):
        sk.Conversion("coco", "h36m", (("spine", rules["spine"]),) + tuple(rules.items())[1:])
    with pytest.raises(ValueError, match="no rules for"):
        sk.Conversion("coco", "h36m", tuple(rules.items())[:-1])
    with pytest.raises(ValueError, match="no conversion registered"):
        sk.get_conversion("humaneva")
    with pytest.raises(ValueError, match="lacks"):
        sk.convert_layout(np.zeros((15, 2)), "humaneva", "h36m")
    with pytest.raises(ValueError, match=r"\(\.\.\., 26, C\)"):
        sk.to_h36m(np.zeros((3, 17, 2)), "halpe26")
    with pytest.raises(ValueError, match="confidence must have shape"):
        sk.to_h36m(np.zeros((3, 26, 2)), "halpe26", np.ones((3, 17)))
    with pytest.raises(ValueError, match="supports"):
        sk.synthesize_keypoints(np.zeros((17, 3)), "humaneva")
    np.testing.assert_array_equal(  # no registered conversion but every joint by name: reordering
        sk.convert_layout(np.arange(34.0).reshape(17, 2), "uplift_upsample", "h36m"),
        sk.reorder_joints(np.arange(34.0).reshape(17, 2), "uplift_upsample", "h36m"),
    )


def test_fit_affine_weights_recovers_known_weights() -> None:
    rng = np.random.default_rng(2)
    src = rng.normal(size=(500, 3, 2))
    w = np.array([0.7, -0.2, 0.5])
    np.testing.assert_allclose(fit_affine_weights(src, np.einsum("nkc,k->nc", src, w)), w, atol=1e-10)
    tied = fit_affine_weights(src, np.einsum("nkc,k->nc", src, w), groups=[[0, 2], [1]])
    assert tied[0] == tied[2] and abs(tied.sum() - 1) < 1e-12
    ridge = fit_affine_weights(src, np.einsum("nkc,k->nc", src, w), noise=1.0)  # shrinks towards equal weights
    assert abs(ridge.sum() - 1) < 1e-12 and np.sum(ridge**2) < np.sum(w**2)


def test_shipped_weights_are_rederived_from_the_mocap() -> None:
    """tools/fit_keypoint_conversions.py on a subsample of the CMU train split gives the code's weights."""
    spec = importlib.util.spec_from_file_location("fitkc", REPO_ROOT / "tools" / "fit_keypoint_conversions.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    h36m, det, cam3d = tool.make_pairs("train", every=25, cameras=2, seed=1, layouts=("coco", "openpose25"))
    assert len(h36m) > 2500
    for layout in ("coco", "openpose25"):
        refitted, fits = refit_conversion(sk.get_conversion(layout), det[layout], h36m, noise=tool.NOISE_PX)
        assert tool.max_weight_difference(layout, refitted) < 0.05
        first = {f.target: f for f in reversed(fits)}  # the first rule of each joint
        assert first["nose"].mean_error < 1.0 and first["thorax"].mean_error < 3.0
        assert first["head_top"].mean_error < 10.0 and first["right_hip"].mean_error < 1.0
    r = tool.ratios(cam3d, h36m, det["coco"])
    assert abs(r["detector_hip_width_ratio"] - 1.15) < 1e-6
    assert 0.25 < r["h36m_nose_above_thorax_3d"] < 0.35
