"""Power samples from the scanner's own monitor over the serial link: ``link[:rate_hz=..]``.

The daemon decodes firmware_bridge POWER frames and calls ``feed`` with (timestamp_s, voltage_v,
current_a) tuples, timestamps already mapped to this host's monotonic clock. ``feed`` is
thread-safe; the meter keeps a ring of recent samples and serves windows to attribution.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from edgekit.energy.meters.base import (
    Meter,
    MeterInfo,
    MeterRoots,
    PowerSample,
    SampleArrays,
    parse_spec,
)
from edgekit.energy.ring import RingBuffer
from edgekit.errors import MeterError
from firmware_bridge import Power

__all__ = ["KEYS", "LinkMeter", "open_spec"]

KEYS = frozenset({"rate_hz", "capacity"})


class LinkMeter:
    """A meter fed from outside; ``read`` returns the newest sample fed."""

    def __init__(
        self, spec: str = "link", rate_hz: float = 1000.0, capacity: int = 600_000
    ) -> None:
        self._ring = RingBuffer(capacity)
        self._lock = threading.Lock()
        self._last: PowerSample | None = None
        self.dropped = 0  # samples older than the newest one, refused to keep the timeline sorted
        self._info = MeterInfo(
            name="link",
            spec=spec,
            kind="measured",
            sample_rate_hz=rate_hz,
            resolution_w=None,
            measures="scanner supply (the scanner's own power monitor, over the serial link)",
            notes="POWER frames; timestamps mapped to host monotonic time by the daemon",
        )

    @property
    def info(self) -> MeterInfo:
        return self._info

    def feed_power(self, message: Power, *, device_to_host_s: float) -> int:
        """Feed a firmware_bridge POWER message; ``device_to_host_s`` maps the device clock
        (microseconds since its boot) onto this host's monotonic seconds."""
        return self.feed(
            (s.timestamp_us / 1e6 + device_to_host_s, s.voltage_mv / 1e3, s.current_ua / 1e6)
            for s in message.samples
        )

    def feed(self, samples: Iterable[tuple[float, float, float]]) -> int:
        """Add (timestamp_s, voltage_v, current_a) samples; returns how many were kept."""
        kept = 0
        with self._lock:
            for timestamp_s, voltage_v, current_a in samples:
                if self._last is not None and timestamp_s < self._last.timestamp_s:
                    self.dropped += 1
                    continue
                power_w = voltage_v * abs(current_a)
                self._ring.append(timestamp_s, power_w)
                self._last = PowerSample(timestamp_s, power_w, voltage_v, current_a)
                kept += 1
        return kept

    def read(self) -> PowerSample:
        last = self._last
        if last is None:
            raise MeterError(
                "link meter: no POWER samples received yet (is the scanner streaming?)"
            )
        return last

    def samples_between(self, t0_s: float, t1_s: float) -> SampleArrays:
        return self._ring.samples_between(t0_s, t1_s)

    def count_between(self, t0_s: float, t1_s: float) -> int:
        return self._ring.count_between(t0_s, t1_s)

    def close(self) -> None:
        pass


def open_spec(spec: str, roots: MeterRoots) -> Meter:
    """Open an (empty) link meter; the daemon feeds it."""
    args = parse_spec(spec, KEYS)
    rate_hz = args.get_positive("rate_hz", 1000.0) or 1000.0
    capacity = args.get_int("capacity", 600_000)
    if capacity < 2:
        raise MeterError(f"meter spec {spec!r}: capacity={capacity} must be at least 2")
    return LinkMeter(spec, rate_hz, capacity)
