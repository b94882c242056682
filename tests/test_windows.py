"""posezoo.data.windows: window cover/reassembly, keyframe windows, Datasets, flips, COCO->H36M."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from posezoo.data.stride_masks import stride_mask
from posezoo.data.windows import (
    MixSynthWindows,
    PoseSequences,
    Seq2SeqWindows,
    UpliftUpsampleWindows,
    WithinBatchFlip,
    central_frames,
    evaluation_windows,
    flip_sample,
    interpolate_frames,
    keyframe_window_frames,
    mixsynth_keyframe_mask,
    mixsynth_window_starts,
    reassemble,
    training_window_starts,
)
from posezoo.skeleton import COCO_17, H36M_17, coco_to_h36m, flip_pose


def _sequences(lengths, seed: int = 0) -> PoseSequences:
    rng = np.random.default_rng(seed)
    seqs = []
    for t in lengths:
        frame_id = np.arange(t, dtype=np.float32)
        kp = rng.normal(size=(t, 17, 2)).astype(np.float32)
        kp[:, 0, 0] = frame_id  # frame index readable from the pelvis x
        pose = rng.normal(size=(t, 17, 3)).astype(np.float32)
        seqs.append(
            {
                "keypoints_2d": kp,
                "pose_3d": pose,
                "confidence": rng.uniform(size=(t, 17)).astype(np.float32),
                "name": f"seq{t}",
            }
        )
    return PoseSequences(seqs)


# ---------------------------------------------------------------- evaluation windows


@pytest.mark.parametrize("num_frames", [1, 5, 27, 243])
def test_evaluation_windows_cover_once_and_reassemble_exactly(num_frames: int) -> None:
    for length in sorted({1, max(num_frames - 1, 1), num_frames, 10 * num_frames + 3}):
        windows = evaluation_windows(length, num_frames)
        covered = np.zeros(length, dtype=int)
        for w in windows:
            assert len(w.frames) == num_frames
            assert w.frames.min() >= 0 and w.frames.max() <= length - 1
            covered[w.sequence_slice] += 1
            # the kept positions show exactly the frames they fill
            np.testing.assert_array_equal(w.frames[w.window_slice], np.arange(length)[w.sequence_slice])
        np.testing.assert_array_equal(covered, 1)
        # "predictions" = the frame index each window position saw, plus 0.5 -> exact sequence back
        preds = np.stack([w.frames.astype(np.float64) + 0.5 for w in windows])[..., None]
        out = reassemble(preds, windows, length)
        np.testing.assert_array_equal(out[:, 0], np.arange(length) + 0.5)
        out_t = reassemble(torch.tensor(preds), windows, length)
        np.testing.assert_array_equal(out_t.numpy(), out)
        expected_count = -(-length // num_frames)
        assert len(windows) == expected_count


def test_evaluation_windows_short_sequence_is_padded_on_both_sides() -> None:
    (w,) = evaluation_windows(3, 8)
    np.testing.assert_array_equal(w.frames, [0, 0, 0, 1, 2, 2, 2, 2])  # 2 before, 3 after
    assert w.window_slice == slice(2, 5) and w.sequence_slice == slice(0, 3)


def test_reassemble_validates() -> None:
    windows = evaluation_windows(10, 4)
    with pytest.raises(ValueError, match="expected 3"):
        reassemble(np.zeros((2, 4, 3)), windows, 10)
    with pytest.raises(ValueError, match="expected 4"):
        reassemble(np.zeros((3, 5, 3)), windows, 10)


# ---------------------------------------------------------------- training windows


def test_training_window_starts() -> None:
    np.testing.assert_array_equal(training_window_starts(10, 4, 4), [-1, 3, 7])  # span 12, 1 frame out each end
    np.testing.assert_array_equal(training_window_starts(3, 5), [-1])
    np.testing.assert_array_equal(training_window_starts(9, 3, 3), [0, 3, 6])
    for length, t, stride in [(100, 27, 1), (100, 27, 13), (5, 27, 27), (243, 243, 243)]:
        starts = training_window_starts(length, t, stride)
        covered = np.zeros(length, dtype=bool)
        for s in starts:
            covered[max(s, 0) : min(s + t, length)] = True
        assert covered.all()
        assert np.all(np.diff(starts) == stride)
        before, after = -starts[0], starts[-1] + t - length
        assert 0 <= before <= after <= before + 1


def test_seq2seq_dataset_items_and_padding() -> None:
    src = _sequences([10, 4])
    ds = Seq2SeqWindows(src, num_frames=6, stride=3)
    starts_a, starts_b = training_window_starts(10, 6, 3), training_window_starts(4, 6, 3)
    assert len(ds) == len(starts_a) + len(starts_b)
    item = ds[len(starts_a)]  # first window of the 4-frame sequence, start -1
    assert item["meta"] == {"sequence": 1, "start": -1, "flipped": 0}
    np.testing.assert_array_equal(item["keypoints_2d"][:, 0, 0].numpy(), [0, 0, 1, 2, 3, 3])
    np.testing.assert_array_equal(item["valid"].numpy(), [False, True, True, True, True, False])
    assert item["pose_3d"].dtype == torch.float32 and item["confidence"].shape == (6, 17)
    assert "name" not in item
    batch = next(iter(DataLoader(ds, batch_size=4)))
    assert batch["keypoints_2d"].shape == (4, 6, 17, 2) and batch["meta"]["start"].shape == (4,)


# ---------------------------------------------------------------- flips


def test_flip_twice_is_identity_and_matches_skeleton() -> None:
    ds = Seq2SeqWindows(_sequences([12]), num_frames=12, flip=True)
    assert len(ds) == 2
    plain, mirrored = ds[0], ds[1]
    assert mirrored["meta"]["flipped"] == 1
    perm = list(H36M_17.flip_permutation)
    # left wrist (13) <-> right wrist (16), x negated
    np.testing.assert_array_equal(mirrored["pose_3d"][:, 13].numpy(), plain["pose_3d"][:, 16].numpy() * [-1, 1, 1])
    np.testing.assert_array_equal(mirrored["keypoints_2d"][:, 4].numpy(), plain["keypoints_2d"][:, 1].numpy() * [-1, 1])
    np.testing.assert_array_equal(mirrored["confidence"].numpy(), plain["confidence"].numpy()[:, perm])
    twice = flip_sample(mirrored)
    for key in ("keypoints_2d", "pose_3d", "confidence", "valid"):
        torch.testing.assert_close(twice[key], plain[key], rtol=0, atol=0)
    assert twice["meta"]["flipped"] == 0
    x = np.random.default_rng(0).normal(size=(3, 17, 3))
    np.testing.assert_array_equal(flip_pose(flip_pose(x)), x)
    c = np.random.default_rng(1).normal(size=(3, 17, 2))
    np.testing.assert_array_equal(flip_pose(flip_pose(c, "coco"), "coco"), c)


def test_coco_to_h36m_on_a_hand_made_pose() -> None:
    coords = {
        "nose": (0.0, -1.6),
        "left_eye": (0.05, -1.65),
        "right_eye": (-0.05, -1.65),
        "left_ear": (0.1, -1.6),
        "right_ear": (-0.1, -1.6),
        "left_shoulder": (0.2, -1.4),
        "right_shoulder": (-0.2, -1.4),
        "left_elbow": (0.3, -1.1),
        "right_elbow": (-0.3, -1.1),
        "left_wrist": (0.35, -0.8),
        "right_wrist": (-0.35, -0.8),
        "left_hip": (0.1, -0.9),
        "right_hip": (-0.1, -0.9),
        "left_knee": (0.12, -0.5),
        "right_knee": (-0.12, -0.5),
        "left_ankle": (0.12, -0.1),
        "right_ankle": (-0.12, -0.1),
    }
    coco = np.array([coords[n] for n in COCO_17.joint_names])
    conf = np.linspace(0.5, 0.9, 17)
    h36m, h_conf = coco_to_h36m(coco, conf)
    expected = {  # the fitted rules of posezoo/skeleton/conversions.py, computed by hand
        "pelvis": (0.0, -0.9),
        "thorax": (0.0, -1.47536),
        "spine": (0.0, -1.18768),
        "head_top": (0.0, -1.75167),
        "nose": (0.0, -1.60792),
        "right_hip": (-0.08446, -0.9),
        "left_knee": (0.12, -0.5),
        "right_wrist": (-0.35, -0.8),
        "left_shoulder": (0.2, -1.4),
        "right_ankle": (-0.12, -0.1),
    }
    for name, xy in expected.items():
        np.testing.assert_allclose(h36m[H36M_17.index(name)], xy, atol=1e-12, err_msg=name)
    ci = COCO_17.index
    assert h_conf[H36M_17.index("pelvis")] == min(conf[ci("left_hip")], conf[ci("right_hip")])
    assert h_conf[H36M_17.index("left_elbow")] == conf[ci("left_elbow")]
    # converting commutes with mirroring
    np.testing.assert_allclose(coco_to_h36m(flip_pose(coco, "coco")), flip_pose(h36m, "h36m"), atol=1e-12)


# ---------------------------------------------------------------- Uplift-and-Upsample windows


def test_keyframe_window_frames_and_centres() -> None:
    np.testing.assert_array_equal(keyframe_window_frames(10, 5, 3), [4, 7, 10, 13, 16])
    np.testing.assert_array_equal(central_frames(10, 3), [0, 3, 6, 9])
    np.testing.assert_array_equal(central_frames(11, 3), [0, 3, 6, 9, 12])  # last past the end, on the grid
    np.testing.assert_array_equal(central_frames(1, 5), [0])


def test_interpolate_frames() -> None:
    values = np.array([[0.0, 10.0], [3.0, 40.0], [4.0, 0.0]])
    out = interpolate_frames(values, np.array([0, 3, 5]), 6)
    np.testing.assert_allclose(out, [[0, 10], [1, 20], [2, 30], [3, 40], [3.5, 20], [4, 0]])
    np.testing.assert_allclose(interpolate_frames(torch.tensor(values), np.array([0, 3, 5]), 6).numpy(), out)
    np.testing.assert_allclose(interpolate_frames(values[:1], np.array([0]), 1), values[:1])
    # a last position past the end anchors the last segment: frame 4 = 1/3 of the way from 3 to 6
    past = interpolate_frames(values, np.array([0, 3, 6]), 5)
    np.testing.assert_allclose(past[4], values[1] + (values[2] - values[1]) / 3)
    with pytest.raises(ValueError, match="increase strictly"):
        interpolate_frames(values, np.array([0, 3, 4]), 6)


def test_uplift_upsample_eval_windows_use_global_alignment() -> None:
    src = _sequences([30])
    ds = UpliftUpsampleWindows(src, num_tokens=7, output_stride=2, input_strides=[4], train=False)
    assert len(ds) == 15  # centres 0, 2, ..., 28: on the output-stride grid
    for center in (0, 6, 14, 28):
        item = ds[center // 2]
        frames = keyframe_window_frames(center, 7, 2)
        mask = stride_mask(7, 4, 2, center_frame=center)
        torch.testing.assert_close(item["stride_mask"], mask)
        np.testing.assert_array_equal(item["stride_mask"].numpy(), frames % 4 == 0)
        np.testing.assert_array_equal(item["valid"].numpy(), (frames >= 0) & (frames < 30))
        kp = item["keypoints_2d"].numpy()
        clipped = np.clip(frames, 0, 29)
        # keyframes carry their (edge-padded) frame, the others are zero
        np.testing.assert_array_equal(kp[:, 0, 0], np.where(frames % 4 == 0, clipped, 0))
        assert np.all(kp[~mask.numpy()] == 0)
        np.testing.assert_array_equal(item["pose_3d"].numpy(), src.window(0, clipped, None)["pose_3d"])
        assert item["meta"]["center"] == center and item["meta"]["input_stride"] == 4
    with pytest.raises(ValueError, match="exactly one input stride"):
        UpliftUpsampleWindows(src, 7, 2, [4, 8], train=False)
    with pytest.raises(ValueError, match="output-stride grid"):
        UpliftUpsampleWindows(src, 7, 2, [4], train=False, center_step=3)
    with pytest.raises(ValueError, match="multiple of output_stride"):
        UpliftUpsampleWindows(src, 7, 2, [3])


def test_uplift_upsample_training_strides_and_shifts() -> None:
    ds = UpliftUpsampleWindows(
        _sequences([40]), num_tokens=9, output_stride=2, input_strides=[2, 4, 8], random_shift=True, seed=3
    )
    seen_strides, seen_shifts = set(), set()
    for i in range(len(ds)):
        item = ds[i]
        s, shift = item["meta"]["input_stride"], item["meta"]["shift"]
        seen_strides.add(s)
        seen_shifts.add((s, shift))
        torch.testing.assert_close(item["stride_mask"], stride_mask(9, s, 2, shift=shift))
    assert seen_strides == {2, 4, 8}
    assert {sh for s, sh in seen_shifts if s == 8} == {-2, -1, 0, 1}  # r = 4 phases
    # reproducible, and a new epoch draws again
    a = [ds[i]["meta"]["input_stride"] for i in range(len(ds))]
    assert a == [ds[i]["meta"]["input_stride"] for i in range(len(ds))]
    ds.set_epoch(1)
    assert a != [ds[i]["meta"]["input_stride"] for i in range(len(ds))]
    centred = UpliftUpsampleWindows(_sequences([40]), 9, 2, [2, 4, 8], random_shift=False)
    assert all(bool(centred[i]["stride_mask"][4]) for i in range(0, 40, 5))


def test_within_batch_flip_collate() -> None:
    ds = UpliftUpsampleWindows(_sequences([20]), 5, 1, [1, 2, 4], random_shift=True)
    batch = next(iter(DataLoader(ds, batch_size=3, shuffle=True, collate_fn=WithinBatchFlip())))
    assert batch["keypoints_2d"].shape == (6, 5, 17, 2)
    np.testing.assert_array_equal(batch["meta"]["flipped"].numpy(), [0, 1, 0, 1, 0, 1])
    for i in range(0, 6, 2):
        torch.testing.assert_close(batch["stride_mask"][i], batch["stride_mask"][i + 1])
        assert batch["meta"]["shift"][i] == batch["meta"]["shift"][i + 1]
        torch.testing.assert_close(batch["keypoints_2d"][i + 1], flip_pose(batch["keypoints_2d"][i]))
        torch.testing.assert_close(batch["pose_3d"][i + 1], flip_pose(batch["pose_3d"][i]))


# ---------------------------------------------------------------- MixSynthFormer windows


def test_mixsynth_keyframes_and_starts() -> None:
    mask = mixsynth_keyframe_mask(sample_interval=5, num_keyframes=4)
    assert mask.shape == (16,) and mask[-1] and mask.sum() == 4
    np.testing.assert_array_equal(np.flatnonzero(mask), [0, 5, 10, 15])
    np.testing.assert_array_equal(mixsynth_window_starts(40, 16, 5), [0, 5, 10, 15, 20, 24])
    np.testing.assert_array_equal(mixsynth_window_starts(36, 16, 5), [0, 5, 10, 15, 20])
    np.testing.assert_array_equal(mixsynth_window_starts(7, 16, 5), [0])
    with pytest.raises(ValueError, match="num_keyframes"):
        mixsynth_keyframe_mask(5, 1)


def test_mixsynth_dataset() -> None:
    src = _sequences([40, 7])
    ds = MixSynthWindows(
        src, sample_interval=5, num_keyframes=4, target_key="pose_3d", input_key="keypoints_2d", flip=True
    )
    assert len(ds) == 2 * (6 + 1)
    item = ds[5]  # last window of sequence 0, aligned to the end
    assert item["meta"]["start"] == 24
    np.testing.assert_array_equal(item["pose_input"][:, 0, 0].numpy(), np.arange(24, 40))
    assert item["pose_target"].shape == (16, 17, 3)
    np.testing.assert_array_equal(item["keyframe_mask"].numpy(), mixsynth_keyframe_mask(5, 4))
    short = ds[6]
    np.testing.assert_array_equal(short["pose_input"][:, 0, 0].numpy(), [0, 1, 2, 3, 4, 5, 6] + [6] * 9)
    np.testing.assert_array_equal(short["valid"].numpy(), [True] * 7 + [False] * 9)
    mirrored = ds[7 + 6]
    torch.testing.assert_close(mirrored["pose_target"], flip_pose(short["pose_target"]))
    copy_input = MixSynthWindows(src, 5, 4)[0]
    torch.testing.assert_close(copy_input["pose_input"], copy_input["pose_target"])


def test_pose_sequences_validate() -> None:
    with pytest.raises(ValueError, match="expected 5 frames"):
        PoseSequences([{"keypoints_2d": np.zeros((5, 17, 2)), "pose_3d": np.zeros((4, 17, 3))}])
    with pytest.raises(ValueError, match="at least one"):
        PoseSequences([])
