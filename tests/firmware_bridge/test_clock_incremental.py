"""ClockMapping's incremental fit against the straightforward one it replaced: the rounds rebuilt
from every exchange in the window on every ``add`` (``FullRefit`` in clock_reference.py, the
algorithm as it stood before, written out). Over random exchange sequences (window expiry, ``max_samples``
eviction, resets, refused exchanges, round gaps of zero, host times that step back) every
observable result must be the same float, not merely close."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge import ClockMapping, ClockSample
from firmware_bridge.clock import _Round
from tests.firmware_bridge.clock_reference import FullRefit


def _observed(m: ClockMapping, probe: float) -> tuple[object, ...]:
    try:
        host: float | str | None = m.to_host_us(probe)
    except ZeroDivisionError:
        host = "ZeroDivisionError"
    return (m.is_synced, m.drift_ppm, m.span_us, m.samples, m.refused, m.offset_us_at(probe),
            host)


# one step: a TIME exchange (host time advanced by `step`, which may be 0 or step back a
# little; a device offset drifting by `ppm`; legs and device time of their own), a refused
# exchange (answered before it arrived), or a reset
_exchange = st.tuples(
    st.just("add"),
    st.sampled_from([0, 1, 7, 25_000, 400_000, 999_999, 1_000_000, 1_000_001, 5_000_000,
                     60_000_000, -3, -30_000]) | st.integers(-50_000, 120_000_000),
    st.integers(-2_000, 2_000),  # how the device offset moved since the last exchange
    st.integers(0, 5_000),  # going leg
    st.integers(0, 5_000),  # return leg
    st.integers(0, 300),  # time on the device
)
_step = _exchange | st.tuples(st.just("refused"), st.integers(1, 500)) | st.just(("reset",))


@settings(max_examples=400, deadline=None)
@given(
    window_us=st.sampled_from([1, 2_000_000, 30_000_000, 900_000_000]) | st.integers(1, 10**9),
    max_samples=st.integers(2, 40),
    round_gap_us=st.sampled_from([0, 1_000_000]) | st.integers(0, 3_000_000),
    min_span_us=st.sampled_from([0, 20_000_000]) | st.integers(0, 60_000_000),
    steps=st.lists(_step, max_size=120),
    start=st.integers(0, 2**40),
)
def test_incremental_fit_equals_the_full_refit(window_us, max_samples, round_gap_us, min_span_us,
                                               steps, start):
    new = ClockMapping(window_us=window_us, max_samples=max_samples, round_gap_us=round_gap_us,
                       min_drift_span_us=min_span_us)
    old = FullRefit(window_us, max_samples, round_gap_us, min_span_us)
    host, offset = start, 12_345_678
    for step in steps:
        if step[0] == "reset":
            new.reset()
            old.reset()
        elif step[0] == "refused":  # t3 before t2
            t2 = host + offset
            assert new.add(host, t2, t2 - step[1], host + 10) is None
            assert old.add(host, t2, t2 - step[1], host + 10) is None
        else:
            _, advance, moved, there, back, busy = step
            host, offset = max(0, host + advance), offset + moved
            t2 = host + there + offset
            args = (host, t2, t2 + busy, host + there + busy + back)
            try:
                got = new.add(*args)
            except ZeroDivisionError:  # rounds at one host time with a zero minimum span
                got = ZeroDivisionError
            try:
                want = old.add(*args)
            except ZeroDivisionError:
                want = ZeroDivisionError
            assert got == want
            if got is ZeroDivisionError:
                return  # both gave up on the same exchange; their states are not comparable
        for probe in (host, host + 1e9, host + offset):
            assert _observed(new, probe) == old.observed(probe)


def test_a_closed_round_is_read_again_at_each_new_drift():
    """Rounds of three exchanges with lopsided legs on a device 80 ppm fast: every exchange
    refits the drift, and the closed rounds' bound intersections move with it, so a cache that
    kept them would give another mapping than the full refit (checked after every exchange)."""
    new = ClockMapping(min_drift_span_us=0)
    old = FullRefit(900_000_000, 4096, 1_000_000, 0)
    drifts = set()
    for base in range(0, 60_000_000, 10_000_000):
        for i, (there, back) in enumerate(((300, 1_900), (1_700, 250), (900, 800))):
            t1 = base + i * 25_000
            t2 = round((t1 + there) * 1.00008) + 500
            args = (t1, t2, t2 + 50, t1 + there + 50 + back)
            assert new.add(*args) == old.add(*args)
            assert _observed(new, t1 + 7e6) == old.observed(t1 + 7e6)
            drifts.add(new.drift_ppm)
    assert len(drifts) >= 8  # the drift did change from one exchange to the next


def test_a_rounds_estimate_is_read_once_per_drift_and_again_when_it_changes():
    """Two exchanges (100 ± 20 µs at 0, 130 ± 10 µs at 25 ms, the best): moved along the drift
    to 25 ms, the first reads 100 + drift x 25 000; the intersection's middle is the estimate.
    At an unchanged drift the round hands back the very estimate it computed (its cache)."""
    r = _Round(ClockSample(0.0, 100.0, 40))
    r.add(ClockSample(25_000.0, 130.0, 20))
    first = r.estimate(1e-4)  # [82.5, 122.5] and [120, 140]: [120, 122.5]
    assert first == (25_000.0, pytest.approx(121.25, abs=1e-9)) and r.estimate(1e-4) is first
    second = r.estimate(2e-4)  # [85, 125] and [120, 140]: [120, 125]
    assert second == (25_000.0, pytest.approx(122.5, abs=1e-9)) and r.estimate(2e-4) is second
    r.add(ClockSample(30_000.0, 121.0, 2))  # the new best: everything moves to 30 ms
    # [86, 126], [121, 141] and [120, 122]: [121, 122]
    assert r.estimate(2e-4) == (30_000.0, pytest.approx(121.5, abs=1e-9))
    r.drop_first()  # [121, 141] and [120, 122] still: the same middle, read afresh
    assert r.estimate(2e-4) == (30_000.0, pytest.approx(121.5, abs=1e-9))
    r.drop_first()  # one exchange: itself
    assert r.estimate(2e-4) == (30_000.0, 121.0)
