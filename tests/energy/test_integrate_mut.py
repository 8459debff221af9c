"""``energy.integrate`` on curves integrated by hand (mutation round, ``scripts/mutation.sh
integrate``): the running integral inside, before and after the samples, at sample times and
between them, one sample, repeated timestamps, the sample count's closed interval, and the
rolling window's uncertainty bound. All values are exact in binary, worked out in the comments.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgekit.energy.integrate import Integrator, integrate_energy_j, window_uncertainty_j
from edgekit.energy.meters.base import SampleArrays

# The curve through (0, 2), (1, 4), (3, 1): 2 + 2t on [0, 1], 4 - 1.5 (t - 1) on [1, 3], held at
# 2 before 0 and at 1 after 3. F(x) = integral from 0:
#   F(-1) = -2 (2 W held for 1 s before the first sample)
#   F(0.5) = 2 * 0.5 + 0.5**2 = 1.25;  F(1) = 2 + 1 = 3
#   F(2) = 3 + (4 - 0.75) = 6.25;      F(3) = 3 + 2 * (4 + 1) / 2 = 8
#   F(4) = 8 + 1 = 9 (1 W held for 1 s after the last)
T = np.array([0.0, 1.0, 3.0])
P = np.array([2.0, 4.0, 1.0])


@pytest.mark.parametrize(("x", "f"), [(-1.0, -2.0), (0.0, 0.0), (0.5, 1.25), (1.0, 3.0), (2.0, 6.25),
                                      (3.0, 8.0), (4.0, 9.0)])
def test_running_integral_by_hand(x: float, f: float) -> None:
    assert Integrator(T, P).cumulative(x) == f


def test_running_integral_of_an_array() -> None:
    got = Integrator(T, P).cumulative(np.array([4.0, -1.0, 0.5, 2.0]))
    assert got.tolist() == [9.0, -2.0, 1.25, 6.25]


def test_energy_is_the_difference_of_the_running_integral() -> None:
    integ = Integrator(T, P)
    assert integ.energy_j(0.5, 2.0) == 5.0  # 6.25 - 1.25
    assert integ.energy_j(-1.0, 4.0) == 11.0  # 9 - (-2)
    assert integ.energy_j(np.array([0.0, 1.0]), np.array([1.0, 3.0])).tolist() == [3.0, 5.0]
    assert integ.energy_j(2.0, 2.0) == 0.0


def test_one_sample_is_a_constant_curve() -> None:
    integ = Integrator(np.array([5.0]), np.array([3.0]))
    assert integ.cumulative(7.0) == 6.0 and integ.cumulative(4.0) == -3.0
    assert integ.energy_j(4.0, 7.0) == 9.0


def test_repeated_timestamps_are_a_step_without_nan() -> None:
    # (0, 1), (1, 1), (1, 3), (2, 3): 1 W for a second, then 3 W: F(1.5) = 1 + 1.5 = 2.5
    integ = Integrator(np.array([0.0, 1.0, 1.0, 2.0]), np.array([1.0, 1.0, 3.0, 3.0]))
    assert integ.cumulative(1.5) == 2.5 and integ.cumulative(1.0) == 1.0
    assert integ.cumulative(2.0) == 4.0 and integ.cumulative(3.0) == 7.0
    assert np.all(np.isfinite(integ.cumulative(np.linspace(-1, 3, 17))))


def test_power_is_interpolated_and_held() -> None:
    integ = Integrator(T, P)
    assert integ.power_at(np.array([-5.0, 0.5, 1.0, 2.0, 9.0])).tolist() == [2.0, 3.0, 4.0, 2.5, 1.0]


def test_count_is_the_samples_in_the_closed_interval() -> None:
    integ = Integrator(T, P)
    assert int(integ.count(0.0, 1.0)) == 2  # both ends included
    assert int(integ.count(1.0, 1.0)) == 1
    assert int(integ.count(0.5, 3.0)) == 2
    assert int(integ.count(1.5, 2.5)) == 0
    assert int(integ.count(-1.0, 10.0)) == 3


def test_no_samples_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^no samples to integrate$"):
        Integrator(np.array([]), np.array([]))


def test_inputs_are_read_as_float64() -> None:
    integ = Integrator(np.array([0, 1, 3]), np.array([2, 4, 1]))  # ints
    assert integ.t.dtype == np.float64 and integ.p.dtype == np.float64
    assert integ.cumulative(0.5) == 1.25  # not integer arithmetic


def test_integrate_energy_j_and_its_empty_cases() -> None:
    s = SampleArrays(T, P)
    assert integrate_energy_j(s, 0.5, 2.0) == 5.0
    assert type(integrate_energy_j(s, 0.5, 2.0)) is float
    assert integrate_energy_j(s, 2.0, 2.0) == 0.0  # empty window
    assert integrate_energy_j(s, 2.0, 1.0) == 0.0  # reversed window: nothing, not negative
    assert integrate_energy_j(SampleArrays(np.array([]), np.array([])), 0.0, 1.0) == 0.0
    assert integrate_energy_j(s, 2.0, math.nextafter(2.0, 3.0)) > 0.0


def test_window_uncertainty_edges_only() -> None:
    # window [0.5, 2]: edge 0.5 straddled by (0, 2)-(1, 4): 0.5 * 2 * 1 = 1; edge 2 by
    # (1, 4)-(3, 1): 0.5 * 3 * 2 = 3; one sample inside (4 W at 1 s): no statistical part
    assert window_uncertainty_j(SampleArrays(T, P), 0.5, 2.0) == 4.0


def test_window_uncertainty_with_the_statistical_part() -> None:
    # window [0, 3]: edge 0 is the first sample, straddled by (0, 2)-(1, 4): 1; edge 3 is the
    # last: none. Inside 2, 4, 1: sample variance ((1/3)^2 + (5/3)^2 + (4/3)^2) / 2 = 7/3, so
    # 2 * sqrt(7/3) / sqrt(3) * 3 s = 2 sqrt(7)
    got = window_uncertainty_j(SampleArrays(T, P), 0.0, 3.0)
    assert got == pytest.approx(1.0 + 2.0 * math.sqrt(7.0), rel=1e-12)


def test_window_uncertainty_outside_the_samples_has_no_edge_term() -> None:
    # edge -1 lies before every sample, edge 0.5 is straddled (1); inside only 2 W at 0 s
    assert window_uncertainty_j(SampleArrays(T, P), -1.0, 0.5) == 1.0
    # both edges after the last sample: nothing straddled, nothing inside
    assert window_uncertainty_j(SampleArrays(T, P), 4.0, 5.0) == 0.0


def test_window_uncertainty_two_samples_inside() -> None:
    # window [0, 1] on (0, 2), (1, 4), (3, 1): edge 0 straddled (1), edge 1 straddled by
    # (1, 4)-(3, 1): 0.5 * 3 * 2 = 3. Inside 2 and 4: sd sqrt(2), 2 * sqrt(2) / sqrt(2) * 1 = 2
    got = window_uncertainty_j(SampleArrays(T, P), 0.0, 1.0)
    assert got == pytest.approx(6.0, rel=1e-12)


def test_a_curve_that_starts_late_with_half_second_spacing() -> None:
    # (10, 2), (10.5, 4), (12, 1): slopes 4 W/s and -2 W/s; F(10.5) = 0.5 * (2 + 4) / 2 = 1.5,
    # F(12) = 1.5 + 1.5 * (4 + 1) / 2 = 5.25
    integ = Integrator(np.array([10.0, 10.5, 12.0]), np.array([2.0, 4.0, 1.0]))
    assert integ.cumulative(9.0) == -2.0  # 2 W held for the second before 10 s
    assert integ.cumulative(10.25) == 0.625  # 2 * 0.25 + 4 * 0.25**2 / 2
    assert integ.cumulative(11.0) == 3.25  # 1.5 + 4 * 0.5 - 2 * 0.5**2 / 2
    assert integ.cumulative(13.0) == 6.25  # 5.25 + 1 W for a second
    assert integ.energy_j(9.0, 13.0) == 8.25


def test_window_uncertainty_of_a_window_not_starting_at_zero() -> None:
    # window [1, 3] on (0, 2), (1, 4), (3, 1): edge 1 straddled by (1, 4)-(3, 1): 3; edge 3 is
    # the last sample: none. Inside 4 and 1: sd sqrt(4.5), 2 * sqrt(4.5) / sqrt(2) * 2 s = 6
    got = window_uncertainty_j(SampleArrays(T, P), 1.0, 3.0)
    assert got == pytest.approx(9.0, rel=1e-12)
