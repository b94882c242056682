"""posezoo.data.cmu_mocap: the repository's CMU splits, found in the checkout, under root= or the env var."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import posezoo
from posezoo.data import CMU_SPLITS, cmu_mocap, cmu_mocap_path
from posezoo.data.cmu import ENV_VAR

from .conftest import REPO_ROOT

DATASET = REPO_ROOT / "datasets" / "cmu_mocap17"

# split -> (clips, frames at 50 Hz, CMU subjects), as datasets/cmu_mocap17/README.md documents them
DOCUMENTED = {
    "train": (64, 38_297, {"01", "02", "05", "60"}),
    "extra": (84, 37_562, {"08", "09", "10", "11", "12", "13", "14"}),
    "test": (26, 5_384, {"06", "07"}),
    "sample": (2, 205 + 199, {"06"}),  # 06_01 (205 frames) and 06_14 (199)
}


@pytest.fixture(autouse=True)
def no_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)


@pytest.mark.parametrize("split", sorted(DOCUMENTED))
def test_each_split_loads_with_the_documented_counts(split: str) -> None:
    clips = cmu_mocap(split)
    n_clips, n_frames, subjects = DOCUMENTED[split]
    assert len(clips) == n_clips
    assert sum(len(c) for c in clips.values()) == n_frames
    assert {name.split("_")[0] for name in clips} == subjects
    for clip in clips.values():
        assert clip.ndim == 3 and clip.shape[1:] == (17, 3) and clip.dtype == np.float32
        assert np.isfinite(clip).all()
    # world frame, Z up, metres: the head is well above the pelvis on average
    stacked = np.concatenate(list(clips.values()))
    assert 0.4 < float((stacked[:, 10, 2] - stacked[:, 0, 2]).mean()) < 0.9


def test_splits_are_disjoint_and_the_sample_is_part_of_test() -> None:
    names = {split: set(cmu_mocap(split)) for split in ("train", "extra", "test")}
    assert not names["train"] & names["test"] and not names["extra"] & names["test"]
    assert not names["train"] & names["extra"]
    sample, test = cmu_mocap("sample"), cmu_mocap("test")
    for name, clip in sample.items():
        np.testing.assert_array_equal(clip, test[name])


def test_default_is_the_checkout_folder() -> None:
    assert cmu_mocap_path("train") == DATASET / "mocap17_train.npz"
    assert cmu_mocap_path("sample").parent == Path(posezoo.data.__file__).parent / "samples"


def test_root_and_env_var_point_elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clip = np.linspace(0, 1, 4 * 17 * 3, dtype=np.float32).reshape(4, 17, 3)
    np.savez(tmp_path / "mocap17_test.npz", only=clip)
    for loaded in (cmu_mocap("test", root=tmp_path), cmu_mocap("test", root=str(tmp_path))):
        assert list(loaded) == ["only"]
        np.testing.assert_array_equal(loaded["only"], clip)
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    assert cmu_mocap_path("test") == tmp_path / "mocap17_test.npz"
    assert list(cmu_mocap("test")) == ["only"]
    # root= wins over the environment variable
    shutil.copy(DATASET / "mocap17_test.npz", tmp_path / "other.npz")
    (tmp_path / "real").mkdir()
    (tmp_path / "other.npz").rename(tmp_path / "real" / "mocap17_test.npz")
    assert len(cmu_mocap("test", root=tmp_path / "real")) == 26


def test_missing_folder_says_which_file_and_how_to_get_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError) as info:
        cmu_mocap("train", root=missing)
    message = str(info.value)
    assert "mocap17_train.npz" in message and str(missing) in message
    assert "clone the repository" in message and ENV_VAR in message and "root=" in message
    monkeypatch.setenv(ENV_VAR, str(missing))
    with pytest.raises(FileNotFoundError, match="mocap17_extra.npz"):
        cmu_mocap("extra")


@pytest.mark.parametrize("bad", ["training", "TRAIN", "", None, 1])
def test_unknown_split_is_a_value_error(bad) -> None:
    with pytest.raises(ValueError, match=r"split must be one of \['extra', 'sample', 'test', 'train'\]"):
        cmu_mocap(bad)
    assert sorted(CMU_SPLITS) == ["extra", "sample", "test", "train"]
