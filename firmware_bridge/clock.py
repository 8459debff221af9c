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

import operator
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
        self._rounds: deque[_Round] = deque()  # the same exchanges, grouped as rounds
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
        if len(self._samples) == self._samples.maxlen:
            self._drop_oldest()  # max_samples: the oldest exchange makes room
        last = self._rounds[-1] if self._rounds else None
        # a round is the exchanges less than round_gap_us after the one before them
        if last is None or sample.host_us - last.samples[-1].host_us >= self._round_gap_us:
            self._rounds.append(_Round(sample))
        else:
            last.add(sample)
        self._samples.append(sample)
        while self._samples[0].host_us < sample.host_us - self._window_us:
            self._drop_oldest()
        self._fit()
        return sample

    def _drop_oldest(self) -> None:
        """Forget the oldest exchange, from the window and from the oldest round."""
        self._samples.popleft()
        first = self._rounds[0]
        first.drop_first()
        if not first.samples:
            self._rounds.popleft()

    def reset(self) -> None:
        """Forget every exchange (the device rebooted: its clock restarted)."""
        self._samples.clear()
        self._rounds.clear()
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
    def _fit(self) -> None:
        """The offset (and drift) line through the rounds' estimates, each estimate read at the
        drift fitted before this exchange (what ``_Round.estimate`` takes)."""
        kept = [r.estimate(self._slope) for r in self._rounds]  # (host time, offset) each
        span = kept[-1][0] - kept[0][0]
        self._synced = True
        if len(kept) < 3 or span < self._min_span_us:
            self._h0, self._o0 = kept[-1]
            self._slope = 0.0
            return
        # sums recomputed over the rounds (tens), in the same order each time: running sums
        # would round differently from one fit to the next
        n = len(kept)
        h0 = sum(h for h, _ in kept) / n
        o0 = sum(o for _, o in kept) / n
        sxx = sum((h - h0) ** 2 for h, _ in kept)
        sxy = sum((h - h0) * (o - o0) for h, o in kept)
        self._h0, self._o0, self._slope = h0, o0, sxy / sxx


class _Round:
    """One round's exchanges, oldest first, and its estimate cached per drift.

    The estimate of a round of several exchanges reads the drift (its bounds are moved to a
    common host time along it) and the drift is refitted on every exchange, so a closed round's
    estimate is kept only while the drift it was read at is unchanged (always, before the drift
    is fitted); otherwise it is re-read from the per-exchange terms kept here, which change only
    when the round gains or loses an exchange. A round of one exchange is that exchange.
    """

    __slots__ = ("_best", "_cached", "_terms", "samples")

    def __init__(self, sample: ClockSample) -> None:
        self.samples: deque[ClockSample] = deque([sample])
        self._best = sample
        self._changed()

    def add(self, sample: ClockSample) -> None:
        """A later exchange of the same round."""
        self.samples.append(sample)
        if sample.delay_us < self._best.delay_us:  # the first of equal delays stays the best
            self._best = sample
        self._changed()

    def drop_first(self) -> None:
        """The oldest exchange left the window."""
        gone = self.samples.popleft()
        if self.samples and gone is self._best:
            self._best = min(self.samples, key=lambda s: s.delay_us)
        self._changed()

    def _changed(self) -> None:
        # ((offset, best host time - host time) and delay / 2 per exchange): rebuilt when read
        self._terms: tuple[list[tuple[float, float]], list[float]] | None = None
        self._cached: tuple[float, tuple[float, float]] | None = None  # (drift, estimate)

    def estimate(self, slope: float) -> tuple[float, float]:
        """(host time, offset): the offset the round's exchanges agree on, at the host time of
        its best exchange.

        Each exchange bounds the true offset: it lies within ``offset ± delay / 2`` (neither
        leg of the trip took less than nothing), whatever the split. The intersection of a
        round's bounds, each moved to a common host time along the fitted drift ``slope``,
        holds it too, and its middle is the estimate. It is never wider than the lowest-delay
        exchange's bound (NTP's clock filter, what a round gave before) and it narrows with
        every exchange whose legs were quick one way or the other, so a round needs fewer
        exchanges, and the mapping fewer rounds, for the same accuracy. An empty intersection
        (timestamps that break the bound) falls back to the best exchange.
        """
        best = self._best
        if len(self.samples) == 1:
            return best.host_us, best.offset_us
        if self._cached is not None and self._cached[0] == slope:
            return self._cached[1]
        if self._terms is None:
            self._terms = ([(s.offset_us, best.host_us - s.host_us) for s in self.samples],
                           [s.delay_us / 2 for s in self.samples])
        terms, half_delays = self._terms
        moved = [o + slope * d for o, d in terms]
        low = max(map(operator.sub, moved, half_delays))
        high = min(map(operator.add, moved, half_delays))
        estimate = (best.host_us, best.offset_us if low > high else (low + high) / 2)
        self._cached = (slope, estimate)
        return estimate
