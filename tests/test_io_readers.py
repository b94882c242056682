"""posezoo.io readers on small detector files written here."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from posezoo import io as pio


def _kp(frame: int, person: int = 0, joints: int = 17) -> np.ndarray:
    """Distinct, recognisable (J, 2) pixels for a frame and person."""
    j = np.arange(joints, dtype=np.float64)
    return np.stack([100 + 10 * j + frame + 1000 * person, 200 + 5 * j + 0.5 * frame], -1)


def _flat(xy: np.ndarray, score: float = 0.9) -> list[float]:
    return np.concatenate([xy, np.full((len(xy), 1), score)], 1).reshape(-1).tolist()


# ---------------------------------------------------------------- COCO


def test_coco_results_best_person_missing_frames_and_tracks(tmp_path: Path) -> None:
    dets = []
    for f in (0, 1, 3, 4):  # frame 2: nobody detected
        dets.append({"image_id": f, "category_id": 1, "score": 0.9, "keypoints": _flat(_kp(f)), "track_id": 7})
    dets.append({"image_id": 1, "category_id": 1, "score": 0.3, "keypoints": _flat(_kp(1, 1), 0.5), "track_id": 8})
    dets.append({"image_id": 3, "category_id": 2, "score": 0.99, "keypoints": _flat(_kp(3, 2))})  # not a person
    path = tmp_path / "dets.json"
    path.write_text(json.dumps(dets))
    seq = pio.read_coco_results(path, fps=30)
    assert seq.layout == "coco" and seq.keypoints.shape == (5, 17, 2) and seq.keypoints.dtype == np.float32
    assert seq.fps == 30.0 and seq.image_size is None and seq.frame_ids.tolist() == [0, 1, 2, 3, 4]
    for f in (0, 1, 3, 4):
        np.testing.assert_allclose(seq.keypoints[f], _kp(f), atol=1e-4)
        np.testing.assert_allclose(seq.scores[f], 0.9, atol=1e-6)
    assert np.isnan(seq.keypoints[2]).all() and (seq.scores[2] == 0).all()
    assert seq.missing_frames.tolist() == [2]
    other = pio.read_coco_results(path, person=8)  # a chosen track: present only in frame 1
    np.testing.assert_allclose(other.keypoints[0], _kp(1, 1), atol=1e-4)
    assert other.num_frames == 1 and other.frame_ids.tolist() == [1]
    padded = pio.read_coco_results(path, person=8, first_frame=0, num_frames=5)
    assert padded.num_frames == 5 and padded.missing_frames.tolist() == [0, 2, 3, 4]
    anything = pio.read_coco_results(path, category_id=None)
    np.testing.assert_allclose(anything.keypoints[3], _kp(3, 2), atol=1e-4)  # the 0.99 detection wins
    assert pio.read_keypoints(path).keypoints.tobytes() == seq.keypoints.tobytes()


def test_coco_annotations_and_wholebody_parts(tmp_path: Path) -> None:
    images = [
        {"id": 11, "frame_id": 1, "width": 1280, "height": 720},
        {"id": 10, "frame_id": 0, "width": 1280, "height": 720},
    ]
    body, foot, face, lh, rh = (
        _kp(0, joints=17),
        _kp(0, joints=6),
        _kp(0, joints=68),
        _kp(0, joints=21),
        _kp(0, joints=21),
    )
    ann = [
        {
            "image_id": 11,
            "keypoints": _flat(body),
            "foot_kpts": _flat(foot),
            "face_kpts": _flat(face),
            "lefthand_kpts": _flat(lh),
            "righthand_kpts": _flat(rh),
            "score": 1.0,
        }
    ]
    path = tmp_path / "wb.json"
    path.write_text(json.dumps({"images": images, "annotations": ann}))
    seq = pio.read_keypoints(path)
    assert seq.layout == "coco_wholebody" and seq.keypoints.shape == (2, 133, 2) and seq.image_size == (1280, 720)
    assert seq.frame_ids.tolist() == [10, 11]  # ordered by frame_id
    assert np.isnan(seq.keypoints[0]).all()
    np.testing.assert_allclose(seq.keypoints[1], np.concatenate([body, foot, face, lh, rh]), atol=1e-4)


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "is not a valid keypoint JSON file: JSONDecodeError"),
        (json.dumps([{"image_id": 0}]), "lacks 'image_id' or 'keypoints'"),
        (json.dumps([{"image_id": 0, "keypoints": [1, 2]}]), "flat list"),
        (
            json.dumps(
                [{"image_id": 0, "keypoints": _flat(_kp(0))}, {"image_id": 1, "keypoints": _flat(_kp(0, joints=5))}]
            ),
            "has 5 keypoints, earlier ones 17",
        ),
        (json.dumps([{"image_id": "a.jpg", "keypoints": _flat(_kp(0))}]), "frame numbers must be integers"),
        (json.dumps([{"image_id": 0, "keypoints": _flat(_kp(0, joints=11))}]), "matches no known layout"),
        (json.dumps([{"image_id": 0, "keypoints": ["x"] * 51}]), "not a list of numbers"),
        (
            json.dumps({"annotations": [{"image_id": 3, "keypoints": _flat(_kp(0))}], "images": [{"id": 1}]}),
            "not in 'images'",
        ),
        (json.dumps([{"image_id": 0, "keypoints": _flat(_kp(0)), "category_id": 3}]), "no detections"),
    ],
)
def test_coco_malformed_files_name_the_file(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=message) as err:
        pio.read_coco_results(path)
    assert "bad.json" in str(err.value)


# ---------------------------------------------------------------- OpenPose


def _openpose_file(folder: Path, frame: int, people: list) -> None:
    folder.mkdir(exist_ok=True)
    (folder / f"clip_{frame:012d}_keypoints.json").write_text(json.dumps({"version": 1.3, "people": people}))


def test_openpose_folder(tmp_path: Path) -> None:
    folder = tmp_path / "op"
    for f in range(4):
        people = []
        if f != 2:
            xy = _kp(f, joints=25)
            tri = np.concatenate([xy, np.full((25, 1), 0.8)], 1)
            tri[19:] = 0  # feet not detected: OpenPose writes (0, 0, 0)
            people.append({"person_id": [-1], "pose_keypoints_2d": tri.reshape(-1).tolist()})
            people.append({"person_id": [3], "pose_keypoints_2d": _flat(_kp(f, 1, 25), 0.4)})
        _openpose_file(folder, f + 100, people)
    (folder / "notes.txt").write_text("not json")
    seq = pio.read_openpose(folder, fps=25)
    assert seq.layout == "openpose25" and seq.keypoints.shape == (4, 25, 2) and seq.fps == 25.0
    assert seq.frame_ids.tolist() == [100, 101, 102, 103]
    np.testing.assert_allclose(seq.keypoints[1, :19], _kp(1, joints=25)[:19], atol=1e-4)
    assert np.isnan(seq.keypoints[1, 19:]).all() and (seq.scores[1, 19:] == 0).all()
    assert np.isnan(seq.keypoints[2]).all() and seq.missing_frames.tolist() == [2]
    tracked = pio.read_keypoints(folder, person=3)
    np.testing.assert_allclose(tracked.keypoints[3], _kp(3, 1, 25), atol=1e-4)
    single = pio.read_keypoints(folder / "clip_000000000100_keypoints.json")
    assert single.num_frames == 1 and single.layout == "openpose25"


def test_openpose_malformed(tmp_path: Path) -> None:
    folder = tmp_path / "op"
    _openpose_file(folder, 0, [{"pose_keypoints_2d": _flat(_kp(0, joints=18))}])
    with pytest.raises(ValueError, match="18 keypoints per person matches no known layout"):
        pio.read_openpose(folder)
    (folder / "clip_000000000001_keypoints.json").write_text(json.dumps({"persons": []}))
    with pytest.raises(ValueError, match="clip_000000000001_keypoints.json: an OpenPose file needs a 'people' list"):
        pio.read_openpose(folder)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty: no .json files"):
        pio.read_openpose(tmp_path / "empty")
    with pytest.raises(FileNotFoundError):
        pio.read_keypoints(tmp_path / "nowhere")


# ---------------------------------------------------------------- MMPose


def _instance(frame: int, person: int, joints: int, bbox_score: float, **extra) -> dict:
    xy = _kp(frame, person, joints)
    return {
        "keypoints": xy.tolist(),
        "keypoint_scores": [0.7] * joints,
        "bbox": [[0, 0, 10, 10]],
        "bbox_score": bbox_score,
        **extra,
    }


def test_mmpose_demo_video_file(tmp_path: Path) -> None:
    frames = [
        {
            "frame_id": f,
            "instances": [] if f == 3 else [_instance(f, 0, 26, 0.9, track_id=0), _instance(f, 1, 26, 0.5, track_id=1)],
        }
        for f in (1, 2, 3, 4)
    ]
    path = tmp_path / "pred.json"
    path.write_text(json.dumps({"meta_info": {"dataset_name": "halpe26"}, "instance_info": frames}))
    seq = pio.read_mmpose(path)
    assert seq.layout == "halpe26" and seq.keypoints.shape == (4, 26, 2) and seq.frame_ids.tolist() == [1, 2, 3, 4]
    np.testing.assert_allclose(seq.keypoints[0], _kp(1, 0, 26), atol=1e-4)
    np.testing.assert_allclose(seq.scores[1], 0.7, atol=1e-6)
    assert np.isnan(seq.keypoints[2]).all() and seq.missing_frames.tolist() == [2]
    second = pio.read_keypoints(path, person=1)
    np.testing.assert_allclose(second.keypoints[3], _kp(4, 1, 26), atol=1e-4)


def test_mmpose_inferencer_and_image_files(tmp_path: Path) -> None:
    path = tmp_path / "inferencer.json"  # MMPoseInferencer on a video: a list of frames
    path.write_text(json.dumps([{"frame_id": f, "instances": [_instance(f, 0, 133, 0.8)]} for f in range(3)]))
    seq = pio.read_keypoints(path)
    assert seq.layout == "coco_wholebody" and seq.keypoints.shape == (3, 133, 2)
    image = tmp_path / "image.json"  # one image: a list of instances, keypoints (1, K, 2) as some versions write
    inst = _instance(0, 0, 17, 0.8)
    inst["keypoints"] = [inst["keypoints"]]
    image.write_text(json.dumps([inst, _instance(0, 1, 17, 0.95)]))
    one = pio.read_keypoints(image)
    assert one.num_frames == 1 and one.layout == "coco"
    np.testing.assert_allclose(one.keypoints[0], _kp(0, 1, 17), atol=1e-4)  # the higher bbox_score
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "instance_info": [
                    {"frame_id": 0, "instances": [{"keypoints": [[1, 2]] * 17, "keypoint_scores": [1] * 5}]}
                ]
            }
        )
    )
    with pytest.raises(ValueError, match="bad.json: frame 0 instance 0 has 5 keypoint_scores for 17 keypoints"):
        pio.read_keypoints(bad)
    bad.write_text(json.dumps({"instance_info": [{"frame_id": "x", "instances": []}]}))
    with pytest.raises(ValueError, match="bad.json: frame entry 0 has a non-integer frame_id"):
        pio.read_mmpose(bad)
    bad.write_text(json.dumps({"something": 1}))
    with pytest.raises(ValueError, match="bad.json: unknown JSON keypoint format"):
        pio.read_keypoints(bad)


# ---------------------------------------------------------------- arrays


def test_npy_and_npz(tmp_path: Path) -> None:
    kp = np.stack([_kp(f, joints=33) for f in range(6)]).astype(np.float32)
    kp[4] = np.nan  # no detection
    np.save(tmp_path / "kp.npy", kp)
    seq = pio.read_keypoints(tmp_path / "kp.npy", fps=60, image_size=(640, 480))
    assert seq.layout == "mediapipe33" and seq.image_size == (640, 480) and seq.fps == 60.0
    np.testing.assert_array_equal(seq.keypoints[:4], kp[:4])
    assert (seq.scores[:4] == 1).all() and (seq.scores[4] == 0).all()
    with_scores = np.concatenate([kp, np.full(kp.shape[:2] + (1,), 0.6, np.float32)], -1)
    np.save(tmp_path / "kp3.npy", with_scores)
    np.testing.assert_allclose(pio.read_array(tmp_path / "kp3.npy").scores[0], 0.6, atol=1e-6)
    out = pio.save_keypoints_npz(tmp_path / "seq.npz", seq)
    back = pio.read_keypoints(out)
    assert back.layout == seq.layout and back.image_size == (640, 480) and back.fps == 60.0
    np.testing.assert_array_equal(back.keypoints, seq.keypoints)
    np.testing.assert_array_equal(back.scores, seq.scores)
    np.savez(tmp_path / "h36m.npz", keypoints=kp[:, :17], layout="h36m")
    assert pio.read_keypoints(tmp_path / "h36m.npz").layout == "h36m"


def test_array_files_malformed(tmp_path: Path) -> None:
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="obj.npy: holds Python objects"):
        pio.read_array(tmp_path / "obj.npy")
    np.savez(tmp_path / "nokp.npz", poses=np.zeros((3, 17, 2)))
    with pytest.raises(ValueError, match="nokp.npz: no keypoint array"):
        pio.read_array(tmp_path / "nokp.npz")
    np.save(tmp_path / "flat.npy", np.zeros((3, 34)))
    with pytest.raises(ValueError, match=r"flat.npy: keypoints must be a numeric \(T, J, 2\)"):
        pio.read_array(tmp_path / "flat.npy")
    np.savez(tmp_path / "sc.npz", keypoints=np.zeros((3, 17, 2)), scores=np.zeros((3, 16)))
    with pytest.raises(ValueError, match=r"sc.npz: scores must be a numeric \(3, 17\) array"):
        pio.read_array(tmp_path / "sc.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="junk.npz: not a readable numpy file"):
        pio.read_array(tmp_path / "junk.npz")
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    with pytest.raises(ValueError, match="junk.npy: not a readable numpy file"):
        pio.read_array(tmp_path / "junk.npy")
    np.save(tmp_path / "kp.npy", np.zeros((2, 33, 2)))
    with pytest.raises(ValueError, match="layout 'coco' has 17 joints, the file has 33"):
        pio.read_keypoints(tmp_path / "kp.npy", layout="coco")
    (tmp_path / "x.csv").write_text("1,2")
    with pytest.raises(ValueError, match="unknown keypoint file type"):
        pio.read_keypoints(tmp_path / "x.csv")


# ---------------------------------------------------------------- hostile files (issue 13 bounds)


def test_keypoint_files_are_bounded_and_never_unpickled(tmp_path: Path, monkeypatch) -> None:
    from posezoo import limits

    bomb = tmp_path / "bomb.npz"  # 48 MiB of zeros in a few hundred kB: refused before it is decompressed
    np.savez_compressed(bomb, keypoints=np.zeros(((48 << 20) // 8 // 34, 17, 2)))
    with pytest.raises(ValueError, match="bomb.npz.*max_compression_ratio"):
        pio.read_keypoints(bomb)
    np.savez(tmp_path / "pickled.npz", keypoints=np.zeros((2, 17, 2)), layout=np.array("coco", dtype=object))
    with pytest.raises(ValueError, match="pickled.npz:layout.npy: holds Python objects"):
        pio.read_keypoints(tmp_path / "pickled.npz")
    buf = io.BytesIO()  # a header claiming 272 GB over 64 bytes of data
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": (10**9, 17, 2)})
    (tmp_path / "liar.npy").write_bytes(buf.getvalue() + b"\0" * 64)
    with pytest.raises(ValueError, match="liar.npy: header declares"):
        pio.read_keypoints(tmp_path / "liar.npy")
    np.save(tmp_path / "complex.npy", np.zeros((2, 17, 2), np.complex64))
    with pytest.raises(ValueError, match=r"complex.npy: keypoints must be a numeric \(T, J, 2\)"):
        pio.read_keypoints(tmp_path / "complex.npy")
    np.save(tmp_path / "ok.npy", np.zeros((200, 17, 2)))
    monkeypatch.setattr(limits, "max_decompressed_bytes", 10_000)
    with pytest.raises(ValueError, match="ok.npy: 54,528 bytes is more than 10,000.*max_decompressed_bytes"):
        pio.read_keypoints(tmp_path / "ok.npy")
    path = tmp_path / "dets.json"
    path.write_text(json.dumps([{"image_id": 0, "keypoints": _flat(_kp(0))}]))
    assert pio.read_keypoints(path).num_frames == 1
    with pytest.raises(ValueError, match="max_sequence_frames"):  # a requested length is bounded before allocating
        pio.read_coco_results(path, num_frames=limits.max_sequence_frames + 1)
    (tmp_path / "deep.json").write_text("[" * 100 + "]" * 100)
    with pytest.raises(ValueError, match="deep.json: JSON nested deeper than 64 levels.*max_json_depth"):
        pio.read_keypoints(tmp_path / "deep.json")
    monkeypatch.setattr(limits, "max_json_bytes", 100)
    with pytest.raises(ValueError, match="dets.json: .* bytes is too large for a keypoint JSON file"):
        pio.read_keypoints(path)
