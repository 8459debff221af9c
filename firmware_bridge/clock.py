"""Device clock -> host clock, from TIME exchanges (PROTOCOL.md §7), sans-IO.

Each exchange gives four timestamps, NTP style: the host's clock when it sent TIME_REQUEST
(t1), the device's clock when the request arrived (t2) and when it answered (t3), and the host's
clock when the reply arrived (t4). Then

    offset = ((t2 - t1) + (t3 - t4)) / 2    device minus host, at host time (t1 + t4) / 2
    delay  = (t4 - t1) - (t3 - t2)          round trip spent on the link

The offset is exact when both directions take equally long; its error is at most delay / 2, so
each exchange bounds the true offset. Exchanges less than ``round_gap_us`` apart form a round
(the host sends a short burst), and each round gives one offset: the middle of the intersection
of its exchanges' bounds, never looser than the lowest-delay exchange alone (NTP's clock filter).
A least-squares line through the rounds' offsets against host time gives the offset and the
drift; the drift is fitted once the rounds span ``min_drift_span_us`` (before that the mapping
is offset-only, from the latest round). The window holds the exchanges of the last
``window_us`` (a crystal's drift wanders with temperature over tens of minutes), at most
``max_samples``. A device reboot restarts its clock: ``reset()`` then.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

__all__ = ["ClockMapping", "ClockSample"]


@dataclass(frozen=True, slots=True)
class ClockSample:
    """One exchange: ``offset_us`` (device minus host) at ``host_us``, and its ``delay_us``."""

    host_us: float
    offset_us: float
    delay_us: int


class ClockMapping:
    """Maps the device clock (µs since its boot) onto the host's monotonic µs and back.

    ``add`` one exchange at a time; ``to_host_us`` / ``to_device_us`` return None until the
    first exchange. Times are whatever monotonic microsecond clocks the two sides use.
    """

    def __init__(
        self,
        *,
        window_us: int = 900_000_000,
        max_samples: int = 4096,
        round_gap_us: int = 1_000_000,
        min_drift_span_us: int = 20_000_000,
    ) -> None:
        if max_samples < 2 or window_us <= 0 or round_gap_us < 0 or min_drift_span_us < 0:
            raise ValueError("max_samples >= 2, window_us > 0 and non-negative times are needed")
        self._samples: deque[ClockSample] = deque(maxlen=max_samples)
        self._window_us = window_us
        self._round_gap_us = round_gap_us
        self._min_span_us = min_drift_span_us
        self._h0 = 0.0  # the fit: offset(h) = o0 + slope * (h - h0)
        self._o0 = 0.0
        self._slope = 0.0
        self._synced = False
        self.refused = 0

    # -- input ----------------------------------------------------------------------------------
    def add(self, t1_us: int, t2_us: int, t3_us: int, t4_us: int) -> ClockSample | None:
        """Add one exchange; returns its sample, or None when it is inconsistent (negative
        delay: the reply cannot arrive before the request left) and was refused."""
        delay = (t4_us - t1_us) - (t3_us - t2_us)
        if delay < 0 or t3_us < t2_us:
            self.refused += 1
            return None
        sample = ClockSample((t1_us + t4_us) / 2, ((t2_us - t1_us) + (t3_us - t4_us)) / 2, delay)
        self._samples.append(sample)
        while self._samples[0].host_us < sample.host_us - self._window_us:
            self._samples.popleft()
        self._fit()
        return sample

    def reset(self) -> None:
        """Forget every exchange (the device rebooted: its clock restarted)."""
        self._samples.clear()
        self._synced = False
        self._slope = 0.0

    # -- state ----------------------------------------------------------------------------------
    @property
    def is_synced(self) -> bool:
        """True once at least one exchange was accepted."""
        return self._synced

    @property
    def drift_ppm(self) -> float:
        """How much faster the device clock runs than the host's, in parts per million."""
        return self._slope * 1e6

    @property
    def span_us(self) -> float:
        """Host time between the oldest and the newest exchange in the window (0 without two):
        how far apart the points the drift is fitted through lie."""
        if len(self._samples) < 2:
            return 0.0
        return self._samples[-1].host_us - self._samples[0].host_us

    @property
    def samples(self) -> tuple[ClockSample, ...]:
        """The exchanges in the window, oldest first."""
        return tuple(self._samples)

    def offset_us_at(self, host_us: float) -> float | None:
        """Device minus host clock at host time ``host_us`` (None before the first exchange)."""
        if not self._synced:
            return None
        return self._o0 + self._slope * (host_us - self._h0)

    def to_host_us(self, device_us: float) -> float | None:
        """The host time at which the device clock read ``device_us``."""
        if not self._synced:
            return None
        # device = h + o0 + s (h - h0)  =>  h = (device - o0 + s h0) / (1 + s)
        return (device_us - self._o0 + self._slope * self._h0) / (1.0 + self._slope)

    def to_device_us(self, host_us: float) -> float | None:
        """The device clock's reading at host time ``host_us``."""
        offset = self.offset_us_at(host_us)
        return None if offset is None else host_us + offset

    def device_to_host_s(self, device_us: float) -> float | None:
        """Seconds to add to a device time (in s) near ``device_us`` to get host seconds (what
        ``edgekit.energy.meters.link.LinkMeter.feed_power`` takes as ``device_to_host_s``)."""
        host = self.to_host_us(device_us)
        return None if host is None else (host - device_us) / 1e6

    # -- fitting --------------------------------------------------------------------------------
    def _rounds(self) -> list[ClockSample]:
        """One estimate per round, oldest first (see ``_round_estimate``)."""
        rounds: list[list[ClockSample]] = []
        last_host: float | None = None
        for sample in self._samples:
            if last_host is None or sample.host_us - last_host >= self._round_gap_us:
                rounds.append([])
            rounds[-1].append(sample)
            last_host = sample.host_us
        return [self._round_estimate(r) for r in rounds]

    def _round_estimate(self, exchanges: list[ClockSample]) -> ClockSample:
        """The offset a round's exchanges agree on, at the host time of its best exchange.

        Each exchange bounds the true offset: it lies within ``offset ± delay / 2`` (neither
        leg of the trip took less than nothing), whatever the split. The intersection of a
        round's bounds, each moved to a common host time along the fitted drift, holds it
        too; its middle is the estimate and its width the new ``delay_us``. It is never wider
        than the lowest-delay exchange's bound (NTP's clock filter, what a round gave before)
        and it narrows with every exchange whose legs were quick one way or the other, so a
        round needs fewer exchanges, and the mapping fewer rounds, for the same accuracy. An
        empty intersection (timestamps that break the bound) falls back to the best exchange.
        """
        best = min(exchanges, key=lambda s: s.delay_us)
        if len(exchanges) == 1:
            return best
        low, high = -float("inf"), float("inf")
        for s in exchanges:
            moved = s.offset_us + self._slope * (best.host_us - s.host_us)
            low, high = max(low, moved - s.delay_us / 2), min(high, moved + s.delay_us / 2)
        if low > high:
            return best
        return ClockSample(best.host_us, (low + high) / 2, round(high - low))

    def _fit(self) -> None:
        kept = self._rounds()
        span = kept[-1].host_us - kept[0].host_us
        self._synced = True
        if len(kept) < 3 or span < self._min_span_us:
            best = kept[-1]
            self._h0, self._o0, self._slope = best.host_us, best.offset_us, 0.0
            return
        n = len(kept)
        h0 = sum(s.host_us for s in kept) / n
        o0 = sum(s.offset_us for s in kept) / n
        sxx = sum((s.host_us - h0) ** 2 for s in kept)
        sxy = sum((s.host_us - h0) * (s.offset_us - o0) for s in kept)
        self._h0, self._o0, self._slope = h0, o0, sxy / sxx
