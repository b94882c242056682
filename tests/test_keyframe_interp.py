"""Fixed and learned keyframe recovery matrices."""

from __future__ import annotations

import pytest
import torch

from posezoo.layers import KeyframeInterpolation, interpolation_matrix


def test_linear_matrix_values() -> None:
    m = interpolation_matrix(3, 4, "linear")  # T = 9
    assert m.shape == (9, 3)
    expected = torch.tensor(
        [
            [1, 0, 0],
            [0.75, 0.25, 0],
            [0.5, 0.5, 0],
            [0.25, 0.75, 0],
            [0, 1, 0],
            [0, 0.75, 0.25],
            [0, 0.5, 0.5],
            [0, 0.25, 0.75],
            [0, 0, 1],
        ],
        dtype=torch.float64,
    )
    torch.testing.assert_close(m, expected, rtol=0, atol=0)


def test_nearest_matrix_ties_go_to_the_later_keyframe() -> None:
    m = interpolation_matrix(3, 4, "nearest")
    assert m.argmax(1).tolist() == [0, 0, 1, 1, 1, 1, 2, 2, 2]
    assert (m.sum(1) == 1).all() and set(m.unique().tolist()) == {0.0, 1.0}


def test_cubic_is_the_natural_spline() -> None:
    n, k = 6, 5
    m = interpolation_matrix(n, k, "cubic")
    knots = torch.arange(0, k * (n - 1) + 1, k)
    torch.testing.assert_close(m[knots], torch.eye(n, dtype=torch.float64))  # passes through keyframes
    torch.testing.assert_close(m.sum(1), torch.ones(m.shape[0], dtype=torch.float64))
    line = 3.0 - 0.5 * torch.arange(n, dtype=torch.float64)
    torch.testing.assert_close(m @ line, 3.0 - 0.5 * torch.arange(m.shape[0], dtype=torch.float64) / k)
    y = torch.tensor([0.0, 1.0, -1.0, 2.0, 0.5, 0.0], dtype=torch.float64)
    s = m @ y
    # Within a segment the spline is a cubic: its 4th finite difference vanishes there.
    seg = s[k : 2 * k + 1]
    assert abs(seg[4:] - 4 * seg[3:-1] + 6 * seg[2:-2] - 4 * seg[1:-3] + seg[:-4]).max() < 1e-12
    # Natural end conditions and C2 continuity through the known closed form: second differences
    # at the ends tend to 0 and match from both sides at an interior knot.
    fine = interpolation_matrix(n, 400, "cubic") @ y
    h = 1 / 400
    second = (fine[2:] - 2 * fine[1:-1] + fine[:-2]) / h**2
    assert abs(second[0]) < 0.05 and abs(second[-1]) < 0.05
    left, right = second[400 - 2], second[400]
    assert abs(left - right) < 0.05
    assert not torch.allclose(m, interpolation_matrix(n, k, "linear"))
    torch.testing.assert_close(interpolation_matrix(2, k, "cubic"), interpolation_matrix(2, k, "linear"))


def test_future_frames_hold_the_last_keyframe() -> None:
    m = interpolation_matrix(3, 2, "linear", num_future_frames=4)
    assert m.shape == (9, 3)
    assert (m[5:] == torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)).all()


def test_module_fixed_and_learned() -> None:
    kf = torch.randn(2, 4, 5)
    fixed = KeyframeInterpolation(4, 3, "linear")
    assert fixed.state_dict() == {} and fixed.num_output_frames == 10
    out = fixed(kf)
    torch.testing.assert_close(out[:, ::3], kf)
    torch.testing.assert_close(out[:, 1], kf[:, 0] * 2 / 3 + kf[:, 1] / 3)
    learned = KeyframeInterpolation(4, 3, "learned")
    assert learned.weight.shape == (10, 4) and learned.bias.shape == (10,)
    expected = torch.einsum("tk,bkc->btc", learned.weight, kf) + learned.bias[:, None]
    torch.testing.assert_close(learned(kf), expected)
    learned.init_from("linear")
    torch.testing.assert_close(learned(kf), out)
    with pytest.raises(RuntimeError, match="learned"):
        fixed.init_from("linear")
    with pytest.raises(ValueError, match=r"\(B, 4, C\)"):
        fixed(torch.randn(2, 5, 5))
    with pytest.raises(ValueError, match="interp"):
        KeyframeInterpolation(4, 3, "quadratic")
