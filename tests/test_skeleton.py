"""Joint layouts, flips, reordering and COCO-17 -> H36M-17."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from posezoo import skeleton as sk


@pytest.mark.parametrize("name", sk.list_skeletons())
def test_layout_consistency(name: str) -> None:
    s = sk.get_skeleton(name)
    assert len(s.parents) == s.num_joints
    assert s.parents[s.root] == -1 and list(s.parents).count(-1) == 1
    perm = s.flip_permutation
    assert sorted(perm) == list(range(s.num_joints))
    assert [perm[p] for p in perm] == list(range(s.num_joints))  # involution
    for a, b in zip(s.left, s.right):
        assert s.joint_names[a].replace("left", "right") == s.joint_names[b]
    # every non-root joint reaches the root through its parents
    for j in range(s.num_joints):
        seen, k = set(), j
        while k != -1:
            assert k not in seen
            seen.add(k)
            k = s.parents[k]


def test_h36m_matches_videopose3d() -> None:
    s = sk.H36M_17
    assert s.parents == (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)
    assert s.left == (4, 5, 6, 11, 12, 13) and s.right == (1, 2, 3, 14, 15, 16)
    assert s.flip_permutation == (0, 4, 5, 6, 1, 2, 3, 7, 8, 9, 10, 14, 15, 16, 11, 12, 13)
    assert len(s.bones) == 16


def test_uplift_upsample_order_matches_official_permutations() -> None:
    p = [3, 2, 1, 4, 5, 6, 0, 8, 7, 9, 10, 16, 15, 14, 11, 12, 13]  # ours[i] = h36m[p[i]]
    q = [6, 2, 1, 0, 3, 4, 5, 8, 7, 9, 10, 14, 15, 16, 13, 12, 11]  # h36m[j] = ours[q[j]]
    x = np.random.default_rng(0).normal(size=(4, 17, 3))
    uu = sk.reorder_joints(x, "h36m", "uplift_upsample")
    np.testing.assert_array_equal(uu, x[:, p])
    np.testing.assert_array_equal(sk.reorder_joints(uu, "uplift_upsample", "h36m"), x)
    np.testing.assert_array_equal(uu[:, q], x)
    assert sk.UPLIFT_UPSAMPLE_17.flip_permutation == (5, 4, 3, 2, 1, 0, 6, 7, 8, 9, 10, 16, 15, 14, 13, 12, 11)


def test_flip_numpy_and_torch() -> None:
    x = np.random.default_rng(1).normal(size=(2, 3, 17, 3)).astype(np.float32)
    f = sk.flip_pose(x)
    assert isinstance(f, np.ndarray) and f.shape == x.shape
    np.testing.assert_array_equal(f[..., 1, 0], -x[..., 4, 0])
    np.testing.assert_array_equal(f[..., 1, 1:], x[..., 4, 1:])
    np.testing.assert_array_equal(f[..., 0, 0], -x[..., 0, 0])
    np.testing.assert_array_equal(sk.flip_pose(f), x)
    t = torch.from_numpy(x)
    ft = sk.flip_pose(t)
    assert isinstance(ft, torch.Tensor)
    np.testing.assert_array_equal(ft.numpy(), f)
    assert torch.equal(t, torch.from_numpy(x))  # input untouched
    with pytest.raises(ValueError, match=r"\(\.\.\., 17, C\)"):
        sk.flip_pose(np.zeros((5, 16, 3)))
    with pytest.raises(TypeError):
        sk.flip_pose([[0.0] * 3] * 17)  # type: ignore[arg-type]


def test_coco_to_h36m_hand_made_pose() -> None:
    coco = np.zeros((17, 2), dtype=np.float64)
    names = sk.COCO_17.joint_names
    pos = {
        "nose": (0, 10),
        "left_eye": (1, 11),
        "right_eye": (-1, 11),
        "left_ear": (2, 10),
        "right_ear": (-2, 10),
        "left_shoulder": (3, 8),
        "right_shoulder": (-3, 8),
        "left_elbow": (4, 6),
        "right_elbow": (-4, 6),
        "left_wrist": (5, 4),
        "right_wrist": (-5, 4),
        "left_hip": (2, 2),
        "right_hip": (-2, 2),
        "left_knee": (2, 0),
        "right_knee": (-2, 0),
        "left_ankle": (2, -2),
        "right_ankle": (-2, -2),
    }
    for n, v in pos.items():
        coco[names.index(n)] = v
    conf = np.linspace(0.1, 0.9, 17)
    h36m, c = sk.coco_to_h36m(coco, conf)
    H = sk.H36M_17.index
    # fitted rules (posezoo/skeleton/conversions.py), by hand: pelvis = mean of the hips; thorax =
    # 0.3116 x shoulders + 0.1884 x ears = 0.3116 * 16 + 0.1884 * 20; spine = mean of pelvis and thorax;
    # H36M hips 0.9223 - 0.0777 = 0.8446 of the detector's half-width; nose and head top from the 5 face points
    np.testing.assert_allclose(h36m[H("pelvis")], [0, 2])
    np.testing.assert_allclose(h36m[H("thorax")], [0, 8.7536], atol=1e-12)
    np.testing.assert_allclose(h36m[H("spine")], [0, 5.3768], atol=1e-12)
    np.testing.assert_allclose(h36m[H("right_hip")], [-1.6892, 2], atol=1e-12)
    np.testing.assert_allclose(  # -2.4597 * 10 + 1.5167 * 22 + 0.21315 * 20
        h36m[H("head_top")], [0, -24.597 + 33.3674 + 4.263], atol=1e-9
    )
    np.testing.assert_allclose(h36m[H("nose")], [0, 2.734 + 1.7424 + 5.682], atol=1e-9)
    np.testing.assert_allclose(h36m[H("left_wrist")], [5, 4])
    np.testing.assert_allclose(h36m[H("right_ankle")], [-2, -2])
    ci = sk.COCO_17.index
    assert c[H("pelvis")] == min(conf[ci("left_hip")], conf[ci("right_hip")])
    assert c[H("head_top")] == min(conf[ci(n)] for n in ("nose", "left_eye", "right_eye", "left_ear", "right_ear"))
    assert c[H("left_knee")] == conf[ci("left_knee")]
    t, tc = sk.coco_to_h36m(torch.from_numpy(coco)[None], torch.from_numpy(conf)[None])
    np.testing.assert_allclose(t[0].numpy(), h36m)
    np.testing.assert_allclose(tc[0].numpy(), c)
    with pytest.raises(ValueError, match="confidence must have shape"):
        sk.coco_to_h36m(coco, conf[:5])


def test_reorder_needs_every_joint_and_weights() -> None:
    with pytest.raises(ValueError, match="lacks"):
        sk.reorder_joints(np.zeros((17, 2)), "coco", "h36m")
    w = sk.joint_weights("h36m")
    assert w.tolist() == [1, 1, 2.5, 2.5, 1, 2.5, 2.5, 1, 1, 1, 1.5, 1.5, 4, 4, 1.5, 4, 4]
    assert sk.joint_weights("humaneva").shape == (15,)
    with pytest.raises(ValueError, match="no joint weights"):
        sk.joint_weights("coco")
    with pytest.raises(ValueError, match="unknown skeleton"):
        sk.get_skeleton("smpl")
    assert sk.get_skeleton("H36M17") is sk.H36M_17
    assert sk.H36M_17.index("thorax") == 8
    with pytest.raises(ValueError, match="has no joint"):
        sk.H36M_17.index("tail")
