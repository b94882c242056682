"""Progress bars of lift() / refine(): forced on, forced off, automatic (terminal + long input only)."""

from __future__ import annotations

import io
import re
import sys

import numpy as np
import pytest
import torch

import posezoo
from posezoo.inference import _progress


class _Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def _bar_counts(text: str, desc: str) -> list[tuple[int, int]]:
    """``(done, total)`` of every rendering of the bar labelled ``desc``."""
    return [(int(a), int(b)) for a, b in re.findall(rf"{re.escape(desc)}: +\d+%\|[^|]*\| (\d+)/(\d+) ", text)]


@pytest.fixture
def lifter(tiny_name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    return posezoo.create_model(tiny_name)  # 5-frame windows


@pytest.fixture
def walk() -> np.ndarray:
    return posezoo.data.load_sample("06_01").keypoints_2d[:100]  # (100, 17, 2): 20 windows of 5 frames


def test_progress_true_writes_a_bar_to_stderr(lifter, walk, capsys) -> None:
    quiet = posezoo.lift(walk, lifter, batch_size=4, progress=False)
    assert capsys.readouterr().err == ""
    shown = posezoo.lift(walk, lifter, batch_size=4, progress=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    counts = _bar_counts(captured.err, "lift")
    assert counts and counts[-1] == (20, 20) and "window" in captured.err
    assert all(total == 20 and done % 4 == 0 for done, total in counts)  # advanced batch by batch
    np.testing.assert_array_equal(shown, quiet)  # the bar changes nothing else


def test_default_is_silent_when_not_interactive(lifter, walk, capsys, monkeypatch) -> None:
    monkeypatch.setattr(_progress, "AUTO_DELAY_S", 0.0)
    assert not sys.stderr.isatty()  # pytest captures stderr: not a terminal
    posezoo.lift(walk, lifter, batch_size=2)  # 10 batches, but nobody is watching
    assert capsys.readouterr().err == ""
    log = io.StringIO()  # a log file or pipe
    monkeypatch.setattr(sys, "stderr", log)
    posezoo.lift(walk, lifter, batch_size=2)
    assert log.getvalue() == ""


def test_automatic_bar_in_a_terminal_only_for_long_inputs(lifter, walk, monkeypatch) -> None:
    monkeypatch.setattr(_progress, "AUTO_DELAY_S", 0.0)  # no wait: the bar shows as soon as it may
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    posezoo.lift(walk, lifter, batch_size=64)  # 20 windows fit one batch: nothing to follow
    assert terminal.getvalue() == ""
    posezoo.lift(walk, lifter, batch_size=4)
    assert _bar_counts(terminal.getvalue(), "lift")[-1] == (20, 20)
    terminal.seek(0), terminal.truncate()
    posezoo.lift(walk, lifter, batch_size=4, progress=False)  # forced off
    assert terminal.getvalue() == ""


def test_automatic_bar_waits_before_showing(lifter, walk, monkeypatch) -> None:
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setattr(_progress, "AUTO_DELAY_S", 3600.0)
    posezoo.lift(walk, lifter, batch_size=4)  # long enough, but done well before the delay
    assert terminal.getvalue() == ""


def test_lists_uplift_upsample_and_refine_bars(lifter, walk, capsys) -> None:
    posezoo.lift([walk[:50], walk], lifter, batch_size=4, progress=True)
    err = capsys.readouterr().err
    assert _bar_counts(err, "lift 1/2")[-1] == (10, 10) and _bar_counts(err, "lift 2/2")[-1] == (20, 20)

    uu = posezoo.create_model("uplift_upsample_small")  # a window centred on every s_out = 2nd frame:
    posezoo.lift(walk, uu, batch_size=16, progress=True)  # 0, 2, ..., 98, and 100 for the off-grid last frame
    assert _bar_counts(capsys.readouterr().err, "lift")[-1] == (51, 51)

    refiner = posezoo.create_model("mixsynthformer_3dpw_3d")  # W = 51, K = 10: one window per keyframe
    poses = torch.zeros(200, refiner.num_joints, 3)
    posezoo.refine(poses, refiner, batch_size=4, progress=True)
    # windows start every K = 10 frames until one covers frame 199: starts 0, 10, ..., 150 (150 + 51 > 199)
    assert _bar_counts(capsys.readouterr().err, "refine")[-1] == (16, 16)
    posezoo.refine(poses, refiner, batch_size=4)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("bad", ["yes", 1, 0.5])
def test_progress_must_be_none_or_bool(lifter, walk, bad) -> None:
    with pytest.raises(TypeError, match="progress must be None"):
        posezoo.lift(walk, lifter, progress=bad)
    with pytest.raises(TypeError, match="progress must be None"):
        posezoo.refine(torch.zeros(60, 14, 3), posezoo.create_model("mixsynthformer_3dpw_3d"), progress=bad)
