"""firmware_bridge.ClockMapping's fit as it was before it became incremental: the rounds rebuilt
from every exchange in the window on every ``add``. One reference copy, used by the property test
(tests/firmware_bridge/test_clock_incremental.py: every observable the same float) and by
bench/bench_clock.py (the cost per add, old against new). Defaults are ClockMapping's."""

from __future__ import annotations

from collections import deque

from firmware_bridge import ClockSample

__all__ = ["FullRefit"]


class FullRefit:
    """The fit as it was: every round regrouped and re-estimated from all samples per add."""

    def __init__(self, window_us: int = 900_000_000, max_samples: int = 4096,
                 round_gap_us: int = 1_000_000, min_span_us: int = 20_000_000) -> None:
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
