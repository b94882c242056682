"""posezoo.data.h36m on small synthetic files in the exact VideoPose3D format."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from posezoo.data.camera import image_coordinates
from posezoo.data.h36m import (
    H36M_32_TO_17,
    H36M_ACTIONS,
    H36M_CAMERA_IDS,
    H36M_TEST_SUBJECTS,
    H36M_TRAIN_SUBJECTS,
    action_name,
    align_2d_to_3d,
    h36m_camera,
    h36m_sequences,
    load_h36m_2d,
    load_h36m_3d,
)
from posezoo.data.windows import PoseSequences, Seq2SeqWindows

from .h36m_support import write_h36m_files


@pytest.fixture
def h36m_files(tmp_path: Path) -> tuple[Path, Path, dict]:
    return write_h36m_files(tmp_path)


def test_constants() -> None:
    assert H36M_TRAIN_SUBJECTS == ("S1", "S5", "S6", "S7", "S8")
    assert H36M_TEST_SUBJECTS == ("S9", "S11")
    assert len(H36M_ACTIONS) == 15 and len(set(H36M_ACTIONS)) == 15
    assert H36M_CAMERA_IDS == ("54138969", "55011271", "58860488", "60457274")
    assert len(H36M_32_TO_17) == 17 and len(set(H36M_32_TO_17)) == 17


def test_action_names() -> None:
    assert action_name("Walking 1") == "Walking"
    assert action_name("SittingDown 2") == "SittingDown"
    assert action_name("Directions") == "Directions"
    assert action_name("TakingPhoto") == "Photo"
    assert action_name("WalkingDog 1") == "WalkDog"
    with pytest.raises(ValueError, match="unknown H36M action"):
        action_name("Dancing")


def test_cameras_by_index_and_id() -> None:
    a, b = h36m_camera("S11", 3), h36m_camera("S11", "60457274")
    np.testing.assert_array_equal(a.orientation, b.orientation)
    assert (float(a.res_w), float(a.res_h)) == (1000.0, 1002.0)
    assert float(h36m_camera("S11", 1).res_h) == 1000.0
    # translation is stored in mm in the table and given in metres
    np.testing.assert_allclose(
        h36m_camera("S1", 0).translation, [1.8411070556640625, 4.95528466796875, 1.5634454345703125]
    )
    with pytest.raises(ValueError, match="no public calibration"):
        h36m_camera("S2", 0)
    with pytest.raises(ValueError, match="camera must be"):
        h36m_camera("S1", 4)


def test_load_3d(h36m_files) -> None:
    path_3d, _, positions_3d = h36m_files
    d17 = load_h36m_3d(path_3d)
    d32 = load_h36m_3d(path_3d, joints=32)
    assert set(d17) == {"S1", "S9"} and set(d17["S1"]) == {"Walking 1", "Directions"}
    raw = positions_3d["S1"]["Walking 1"]
    assert d17["S1"]["Walking 1"].shape == (40, 17, 3) and d17["S1"]["Walking 1"].dtype == np.float32
    np.testing.assert_array_equal(d17["S1"]["Walking 1"], raw[:, list(H36M_32_TO_17)])
    np.testing.assert_array_equal(d32["S9"]["SittingDown 2"], positions_3d["S9"]["SittingDown 2"])
    # pelvis, right hip and left shoulder of the 32-joint skeleton
    np.testing.assert_array_equal(
        d17["S1"]["Directions"][:, [0, 1, 11]], positions_3d["S1"]["Directions"][:, [0, 1, 17]]
    )


def test_load_2d_and_align(h36m_files) -> None:
    path_3d, path_2d, _ = h36m_files
    pos2d, meta = load_h36m_2d(path_2d)
    assert meta["layout_name"] == "h36m" and meta["num_joints"] == 17
    assert len(pos2d["S1"]["Walking 1"]) == 4
    assert pos2d["S1"]["Walking 1"][2].shape == (43, 17, 2)
    pos3d = load_h36m_3d(path_3d)
    with pytest.warns(UserWarning, match="trimmed the last frames of 1 2D sequences"):
        aligned, trimmed = align_2d_to_3d(pos2d, pos3d)
    assert [(r.subject, r.action, r.camera, r.frames_2d, r.frames_3d) for r in trimmed] == [
        ("S1", "Walking 1", 2, 43, 40)
    ]
    np.testing.assert_array_equal(aligned["S1"]["Walking 1"][2], pos2d["S1"]["Walking 1"][2][:40])
    assert all(k.shape[0] == 40 for k in aligned["S1"]["Walking 1"])
    # a 2D sequence shorter than the mocap is an error
    pos2d["S9"]["SittingDown 2"][1] = pos2d["S9"]["SittingDown 2"][1][:30]
    with pytest.raises(ValueError, match="fewer than the 31 mocap frames"):
        align_2d_to_3d(pos2d, pos3d, warn=False)
    del pos2d["S9"]["SittingDown 2"]
    with pytest.raises(ValueError, match="no 2D keypoints"):
        align_2d_to_3d(pos2d, pos3d, warn=False)


def test_sequences_are_camera_frame_and_normalised(h36m_files) -> None:
    path_3d, path_2d, _ = h36m_files
    pos3d, (pos2d, _) = load_h36m_3d(path_3d), load_h36m_2d(path_2d)
    with pytest.warns(UserWarning, match="trimmed"):
        seqs = h36m_sequences(pos3d, pos2d, subjects=["S1"], actions=["Walking"])
    assert [(s["action"], s["camera"]) for s in seqs] == [("Walking 1", c) for c in H36M_CAMERA_IDS]
    for cam_index, seq in enumerate(seqs):
        cam = h36m_camera("S1", cam_index)
        world = pos3d["S1"]["Walking 1"].astype(np.float64)
        cam3d = cam.world_to_camera(world)
        np.testing.assert_allclose(seq["pose_3d"], cam3d - cam3d[:, :1], atol=1e-5)
        assert np.all(seq["pose_3d"][:, 0] == 0)
        np.testing.assert_allclose(seq["trajectory"], cam3d[:, 0], atol=1e-5)
        # back to pixels = the 2D file (trimmed)
        px = image_coordinates(seq["keypoints_2d"].astype(np.float64), cam.res_w, cam.res_h)
        np.testing.assert_allclose(px, pos2d["S1"]["Walking 1"][cam_index][:40], atol=1e-3)
        # ... which is the projection of the 3D poses with the camera's distortion
        np.testing.assert_allclose(px, cam.project(cam3d), atol=1e-3)
        assert np.abs(seq["keypoints_2d"][..., 0]).max() <= 1.0
    test = h36m_sequences(pos3d, pos2d, subjects=H36M_TEST_SUBJECTS[:1], cameras=["55011271"])
    assert len(test) == 1 and test[0]["keypoints_2d"].shape == (31, 17, 2)
    # the sequences feed the window datasets directly
    ds = Seq2SeqWindows(PoseSequences(seqs), num_frames=27)
    assert len(ds) == 4 * 2 and ds[0]["keypoints_2d"].shape == (27, 17, 2)


def test_refuses_pickled_code(tmp_path: Path) -> None:
    class Payload:
        def __reduce__(self):
            return (os.system, ("echo never",))

    path = tmp_path / "evil.npz"
    np.savez(path, positions_3d=np.array(Payload(), dtype=object))
    with pytest.raises(Exception, match="refusing to load global"):
        load_h36m_3d(path)


def test_bad_shapes(tmp_path: Path) -> None:
    path = tmp_path / "bad3d.npz"
    np.savez_compressed(path, positions_3d={"S1": {"Walking": np.zeros((5, 17, 3))}})
    with pytest.raises(ValueError, match=r"must be \(T, 32, 3\)"):
        load_h36m_3d(path)
    path = tmp_path / "bad2d.npz"
    np.savez_compressed(path, positions_2d={"S1": {"Walking": [np.zeros((5, 16, 2))] * 4}}, metadata={"num_joints": 17})
    with pytest.raises(ValueError, match="metadata says 17"):
        load_h36m_2d(path)
    path = tmp_path / "nokey.npz"
    np.savez(path, something=np.zeros(3))
    with pytest.raises(ValueError, match="no 'positions_3d' entry"):
        load_h36m_3d(path)
