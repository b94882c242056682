"""The shared integer check used by layers, models, windows and inference."""

from __future__ import annotations

import numpy as np
import pytest

from posezoo._validation import check_int


def test_check_int_accepts_and_converts() -> None:
    assert check_int("n", 3) == 3
    assert check_int("n", 0, 0) == 0
    value = check_int("n", np.int64(5), numpy_ok=True)
    assert value == 5 and type(value) is int


@pytest.mark.parametrize("value", [0, -1, 2.0, True, "3", None])
def test_check_int_rejects_with_the_name(value) -> None:
    with pytest.raises(ValueError, match=r"^n must be a positive int, got "):
        check_int("n", value)


def test_check_int_minimum_and_numpy_policy() -> None:
    with pytest.raises(ValueError, match=r"ratio must be an int >= 2, got 1"):
        check_int("ratio", 1, 2)
    with pytest.raises(ValueError, match="positive int"):
        check_int("num_frames", np.int64(5))  # model kwargs must stay JSON-serialisable
