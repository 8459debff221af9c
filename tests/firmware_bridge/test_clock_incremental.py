"""ClockMapping's incremental fit against the straightforward one it replaced: the rounds rebuilt
from every exchange in the window on every ``add`` (``_Reference`` below, the algorithm as it
stood before, written out here). Over random exchange sequences (window expiry, ``max_samples``
eviction, resets, refused exchanges, round gaps of zero, host times that step back) every
observable result must be the same float, not merely close."""

from __future__ import annotations

from collections import deque

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge import ClockMapping, ClockSample
from firmware_bridge.clock import _Round


class _Reference:
    """The fit as it was: every round regrouped and re-estimated from all samples per add."""

    def __init__(self, window_us: int, max_samples: int, round_gap_us: int, min_span_us: int):
        self.samples: deque[ClockSample] = deque(maxlen=max_samples)
        self.window, self.gap, self.min_span = window_us, round_gap_us, min_span_us
        self.h0 = self.o0 = self.slope = 0.0
        self.synced = False
        self.refused = 0

    def add(self, t1: int, t2: int, t3: int, t4: int) -> ClockSample | None:
        delay = (t4 - t1) - (t3 - t2)
        if delay < 0 or t3 < t2:
            self.refused += 1
            return None
        sample = ClockSample((t1 + t4) / 2, ((t2 - t1) + (t3 - t4)) / 2, delay)
        self.samples.append(sample)
        while self.samples[0].host_us < sample.host_us - self.window:
            self.samples.popleft()
        self.fit()
        return sample

    def reset(self) -> None:
        self.samples.clear()
        self.synced = False
        self.slope = 0.0

    def estimate(self, exchanges: list[ClockSample]) -> ClockSample:
        best = min(exchanges, key=lambda s: s.delay_us)
        if len(exchanges) == 1:
            return best
        low, high = -float("inf"), float("inf")
        for s in exchanges:
            moved = s.offset_us + self.slope * (best.host_us - s.host_us)
            low, high = max(low, moved - s.delay_us / 2), min(high, moved + s.delay_us / 2)
        if low > high:
            return best
        return ClockSample(best.host_us, (low + high) / 2, round(high - low))

    def fit(self) -> None:
        rounds: list[list[ClockSample]] = []
        last: float | None = None
        for s in self.samples:
            if last is None or s.host_us - last >= self.gap:
                rounds.append([])
            rounds[-1].append(s)
            last = s.host_us
        kept = [self.estimate(r) for r in rounds]
        span = kept[-1].host_us - kept[0].host_us
        self.synced = True
        if len(kept) < 3 or span < self.min_span:
            self.h0, self.o0, self.slope = kept[-1].host_us, kept[-1].offset_us, 0.0
            return
        n = len(kept)
        h0 = sum(s.host_us for s in kept) / n
        o0 = sum(s.offset_us for s in kept) / n
        sxx = sum((s.host_us - h0) ** 2 for s in kept)
        sxy = sum((s.host_us - h0) * (s.offset_us - o0) for s in kept)
        self.h0, self.o0, self.slope = h0, o0, sxy / sxx

    def observed(self, probe: float) -> tuple[object, ...]:
        span = self.samples[-1].host_us - self.samples[0].host_us if len(self.samples) > 1 else 0.0
        if not self.synced:
            return (False, self.slope * 1e6, span, tuple(self.samples), self.refused, None, None)
        offset = self.o0 + self.slope * (probe - self.h0)
        try:  # a drift of exactly -1e6 ppm (a stopped device clock) maps nothing back
            host: float | str = (probe - self.o0 + self.slope * self.h0) / (1.0 + self.slope)
        except ZeroDivisionError:
            host = "ZeroDivisionError"
        return (True, self.slope * 1e6, span, tuple(self.samples), self.refused, offset, host)


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
    old = _Reference(window_us, max_samples, round_gap_us, min_span_us)
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
    old = _Reference(900_000_000, 4096, 1_000_000, 0)
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
