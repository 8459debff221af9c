"""ClockMapping at its limits (written against the survivors of a mutation run): the argument
refusals, the defaults, the window's and the round's edges, the drift's start, a round's bound
intersection moved along a fitted drift. Every expected value is worked out here from the four
timestamps (NTP's formulas) or by numpy's least squares, not read from the mapping."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from firmware_bridge import ClockMapping

S = 1_000_000  # µs


def _ntp(t1: int, t2: int, t3: int, t4: int) -> tuple[float, float, int]:
    """(host time, offset, delay) of one exchange, by PROTOCOL.md §7's formulas."""
    return (t1 + t4) / 2, ((t2 - t1) + (t3 - t4)) / 2, (t4 - t1) - (t3 - t2)


@pytest.mark.parametrize(
    "kwargs",
    [{"max_samples": 1}, {"window_us": 0}, {"round_gap_us": -1}, {"min_drift_span_us": -1}],
)
def test_arguments_outside_their_range_are_refused_with_what_is_needed(kwargs):
    needed = r"^max_samples >= 2, window_us > 0 and non-negative times are needed$"
    with pytest.raises(ValueError, match=needed):
        ClockMapping(**kwargs)


def test_the_smallest_accepted_arguments_are_accepted():
    for kwargs in ({"max_samples": 2}, {"window_us": 1}, {"round_gap_us": 0}, {"min_drift_span_us": 0}):
        assert ClockMapping(**kwargs).samples == ()


def test_before_any_exchange_nothing_is_mapped_and_the_state_is_false():
    mapping = ClockMapping()
    assert mapping.is_synced is False
    assert mapping.to_device_us(5) is None and mapping.to_host_us(5) is None
    assert mapping.offset_us_at(5) is None and mapping.drift_ppm == 0.0 and mapping.span_us == 0.0


def test_a_zero_delay_exchange_is_exact_and_accepted():
    mapping = ClockMapping()
    sample = mapping.add(1_000, 1_250, 1_250, 1_000)  # no time on the link: offset 250, delay 0
    assert sample is not None and (sample.host_us, sample.offset_us, sample.delay_us) == (1_000, 250, 0)
    assert mapping.to_device_us(2_000) == 2_250 and mapping.refused == 0


def test_each_refused_exchange_is_counted():
    mapping = ClockMapping()
    assert mapping.add(1_000, 50, 60, 1_005) is None  # 5 µs round trip, 10 µs on the device
    assert mapping.add(1_000, 60, 50, 2_000) is None  # answered before it arrived
    assert mapping.refused == 2 and mapping.is_synced is False


def test_reset_forgets_the_drift_and_says_false():
    mapping = ClockMapping(min_drift_span_us=0)
    for h in (0, 2 * S, 4 * S):  # device clock runs 100 ppm fast
        d = h + h // 10_000
        mapping.add(h, d, d, h)
    assert mapping.drift_ppm == pytest.approx(100.0)
    mapping.reset()
    assert mapping.is_synced is False and mapping.drift_ppm == 0.0 and mapping.span_us == 0.0
    assert mapping.to_device_us(0) is None


def test_an_exchange_exactly_a_window_old_is_kept_one_microsecond_more_is_dropped():
    mapping = ClockMapping(window_us=10 * S)
    mapping.add(0, 0, 0, 0)
    mapping.add(10 * S, 10 * S, 10 * S, 10 * S)
    assert [s.host_us for s in mapping.samples] == [0, 10 * S] and mapping.span_us == 10 * S
    mapping.add(10 * S + 1, 10 * S + 1, 10 * S + 1, 10 * S + 1)
    assert [s.host_us for s in mapping.samples] == [10 * S, 10 * S + 1]


def test_the_default_window_is_900_s():
    mapping = ClockMapping()
    mapping.add(0, 0, 0, 0)
    mapping.add(900 * S, 900 * S, 900 * S, 900 * S)
    assert len(mapping.samples) == 2
    mapping.add(900 * S + 1, 900 * S + 1, 900 * S + 1, 900 * S + 1)  # the first is 900 s + 1 µs old
    assert [s.host_us for s in mapping.samples] == [900 * S, 900 * S + 1]


def test_at_most_max_samples_are_kept_and_4096_by_default():
    small = ClockMapping(max_samples=3)
    for t in range(5):
        small.add(t * 10, t * 10, t * 10, t * 10)
    assert [s.host_us for s in small.samples] == [20, 30, 40]
    # the default read from the signature: filling 4 097 exchanges costs O(n^2) fits (seconds)
    assert inspect.signature(ClockMapping).parameters["max_samples"].default == 4096


def test_drift_is_fitted_from_exactly_20_s_of_rounds_by_default():
    """Three single-exchange rounds, zero delay, on a device 50 ppm fast: at a 19.999 999 s span
    the mapping is offset-only (the latest round), at 20 s a line through all three."""

    def fed(last_us: int) -> ClockMapping:
        mapping = ClockMapping()
        for h in (0, 10 * S, last_us):
            d = h + round(h * 50e-6)
            mapping.add(h, d, d, h)
        return mapping

    assert fed(20 * S - 1).drift_ppm == 0.0
    assert fed(20 * S).drift_ppm == pytest.approx(50.0, abs=1e-6)


def test_the_span_that_allows_a_drift_is_measured_from_the_first_round_not_from_zero():
    mapping = ClockMapping()
    for h in (100 * S, 105 * S, 110 * S):  # 10 s of rounds, far from host time 0
        d = h + round(h * 50e-6)
        mapping.add(h, d, d, h)
    assert mapping.drift_ppm == 0.0
    assert mapping.offset_us_at(0) == round(110 * S * 50e-6)  # the latest round's offset


def test_two_rounds_never_fit_a_drift_however_far_apart():
    mapping = ClockMapping()
    for h in (0, 60 * S):
        d = h + round(h * 50e-6)
        mapping.add(h, d, d, h)
    assert mapping.drift_ppm == 0.0 and mapping.offset_us_at(0) == 3_000


def test_an_exchange_exactly_round_gap_after_the_last_starts_a_new_round():
    """Two rounds: offsets 0 and 1 000 µs apart by 1 s (the gap), each exact. Same round, they
    would be intersected (disjoint: best one kept); two rounds, the latest one is the mapping."""
    mapping = ClockMapping(round_gap_us=S)
    mapping.add(0, 0, 0, 0)
    mapping.add(S, S + 1_000, S + 1_000, S)
    assert mapping.offset_us_at(S) == 1_000
    joined = ClockMapping(round_gap_us=S + 1)
    joined.add(0, 0, 0, 0)
    joined.add(S, S + 1_000, S + 1_000, S)
    assert joined.offset_us_at(S) == 0  # equal delays: the first best is kept


def test_a_first_round_of_two_exchanges_is_their_bounds_intersection_at_once():
    """Offsets 3 000 - 400 and 3 000 + 400, each ± 600: the intersection [2 800, 3 200] has its
    middle at 3 000 (no drift known yet, so nothing is moved)."""
    mapping = ClockMapping()
    exchanges = [(0, 3_200, 3_300, 1_300), (25_000, 29_000, 29_100, 26_300)]
    for t in exchanges:
        mapping.add(*t)
    (h1, o1, d1), (_, o2, d2) = (_ntp(*t) for t in exchanges)
    assert (o1, d1, o2, d2) == (2_600, 1_200, 3_400, 1_200)
    low, high = max(o1 - d1 / 2, o2 - d2 / 2), min(o1 + d1 / 2, o2 + d2 / 2)
    assert mapping.offset_us_at(h1) == (low + high) / 2 == 3_000


def test_bounds_that_touch_in_one_point_give_that_point():
    mapping = ClockMapping()
    mapping.add(0, 1_100, 1_100, 200)  # offset 1 000 ± 100
    mapping.add(20_000, 21_300, 21_300, 20_200)  # offset 1 200 ± 100: they touch at 1 100
    assert mapping.offset_us_at(100) == 1_100


def test_a_round_is_intersected_along_the_fitted_drift():
    """A device 1 000 ppm fast (offset = C + h / 1000): three exact rounds fit the drift; a
    fourth round of two exchanges 500 ms apart (one slow going, one slow back) is intersected
    after moving the later one back along the drift by 500 µs. The expected round offset and the
    line through the four rounds are worked out here (numpy's least squares)."""
    c = 7_000

    def dev(h: int) -> int:
        return h + h // 1_000 + c  # host times below are multiples of 1 000 µs: exact

    mapping = ClockMapping(min_drift_span_us=0)
    points = []
    for h in (0, 100 * S, 200 * S):
        mapping.add(h, dev(h), dev(h), h)
        points.append((h, c + h / 1_000))
    assert mapping.drift_ppm == pytest.approx(1_000.0, abs=1e-6)
    a1 = 300 * S  # best: 1 000 µs round trip, 900 going, 100 back -> reads 400 high, ± 500
    b1 = 300 * S + 500_000  # 1 200 µs round trip, 200 going, 1 000 back -> reads 400 low, ± 600
    a, b = (a1, dev(a1 + 900), dev(a1 + 900), a1 + 1_000), (b1, dev(b1 + 200), dev(b1 + 200), b1 + 1_200)
    (ha, oa, da), (hb, ob, db) = _ntp(*a), _ntp(*b)
    assert (ha, da, hb, db) == (a1 + 500, 1_000, b1 + 600, 1_200)
    true_a = c + ha / 1_000  # offset at the best exchange's host time
    assert oa == pytest.approx(true_a + 400, abs=1) and ob == pytest.approx(true_a + 499.7 - 400, abs=1)
    moved_b = ob - 1e-3 * (hb - ha)  # back to ha along the drift
    low, high = max(oa - da / 2, moved_b - db / 2), min(oa + da / 2, moved_b + db / 2)
    assert high - low == pytest.approx(300, abs=2)  # narrower than either bound alone
    mapping.add(*a)
    mapping.add(*b)
    points.append((ha, (low + high) / 2))
    slope, intercept = np.polyfit([p[0] for p in points], [p[1] for p in points], 1)
    assert mapping.drift_ppm == pytest.approx(slope * 1e6, abs=0.01)
    assert mapping.offset_us_at(ha) == pytest.approx(intercept + slope * ha, abs=1.0)


def test_device_to_host_seconds_is_the_offset_in_seconds_exactly():
    mapping = ClockMapping()
    mapping.add(0, 500, 500, 0)  # device = host + 500 µs
    assert mapping.device_to_host_s(10_000) == -0.0005
    assert mapping.to_host_us(10_500) == 10_000 and mapping.to_device_us(10_000) == 10_500
