"""What the link adapter hands the daemon: typed events in the daemon's own terms, and the
clock mapping from device microseconds to host seconds.

Nothing here imports ``firmware_bridge``: the daemon, the engine and the tests speak these
types, and ``link_adapter`` is the one module that translates the wire protocol into them (so
protocol 1.1's host session and clock exchange replace one module, not the daemon).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

__all__ = [
    "CaptureReceived",
    "CapturesLost",
    "ClockMapping",
    "LinkDown",
    "LinkErrorSeen",
    "LinkUp",
    "OffsetClockMapping",
    "PacketsLost",
    "PowerReceived",
    "RuntimeLinkEvent",
    "ScannerHello",
    "ScannerLog",
    "ScannerReset",
]


class ClockMapping(Protocol):
    """Maps the scanner's clock (microseconds since its boot) onto host monotonic seconds."""

    def host_s(self, device_us: int) -> float:
        """Host ``time.monotonic()`` seconds at device time ``device_us``."""
        ...

    @property
    def method(self) -> str:
        """How the mapping was obtained (for provenance in status and metrics)."""
        ...


class OffsetClockMapping:
    """A constant offset: the smallest (host receive time - device send time) seen since the
    scanner booted or the link came back.

    The packet with the shortest transit sets it, so a latency measured through this mapping
    leaves out the link's minimum one-way delay (a few ms on USB CDC at most) and ignores clock
    drift; protocol 1.1's TIME exchange replaces it with a round-trip estimate.
    """

    method = "min-offset (host receive time - device timestamp, smallest seen since boot)"

    def __init__(self) -> None:
        self.offset_s: float | None = None

    def observe(self, device_us: int, host_rx_s: float) -> None:
        """A packet stamped ``device_us`` by the scanner arrived at host time ``host_rx_s``."""
        offset = host_rx_s - device_us / 1e6
        if self.offset_s is None or offset < self.offset_s:
            self.offset_s = offset

    def reset(self) -> None:
        """The scanner rebooted or the link was re-opened: its clock is a new one."""
        self.offset_s = None

    def host_s(self, device_us: int) -> float:
        if self.offset_s is None:
            raise ValueError("clock mapping has seen no packet yet")
        return device_us / 1e6 + self.offset_s


@dataclass(frozen=True, slots=True)
class ScannerHello:
    """The scanner's identity and acquisition settings (from HELLO)."""

    protocol_version: str
    firmware_version: str
    device_id: int
    sample_rate_hz: int
    sample_format: int
    samples_per_capture: int
    centre_freq_hz: int
    capabilities: tuple[str, ...]
    boot: bool


@dataclass(frozen=True, slots=True)
class CaptureReceived:
    """One capture: int16 (n, 2) samples, its device timestamp and when it ended on our clock."""

    capture_id: int
    device_timestamp_us: int
    ended_at_s: float
    received_at_s: float
    sample_rate_hz: int
    sample_format: int
    gain_db: float
    iq: np.ndarray


@dataclass(frozen=True, slots=True)
class PowerReceived:
    """Power-monitor samples on the host clock: (monotonic s, bus voltage V, current A)."""

    samples: tuple[tuple[float, float, float], ...]


@dataclass(frozen=True, slots=True)
class CapturesLost:
    """Captures that never arrived whole: ``count`` ids missing before ``next_capture_id``."""

    count: int
    next_capture_id: int


@dataclass(frozen=True, slots=True)
class PacketsLost:
    """Packets of any type missing from the sequence numbers."""

    count: int


@dataclass(frozen=True, slots=True)
class LinkErrorSeen:
    """A frame dropped (``cobs``, ``crc``, ``short``, ``length``, ``payload``, ``overflow``),
    a packet of an unknown type (``unknown_type``) or of another major version
    (``version_mismatch``)."""

    kind: str
    detail: str


@dataclass(frozen=True, slots=True)
class ScannerReset:
    """The scanner rebooted (its sequence numbers and clock restarted)."""


@dataclass(frozen=True, slots=True)
class LinkDown:
    """The serial port went away (unplug, I/O error); the adapter reconnects with backoff."""

    reason: str


@dataclass(frozen=True, slots=True)
class LinkUp:
    """The serial port is back after ``attempts`` open attempts."""

    attempts: int


@dataclass(frozen=True, slots=True)
class ScannerLog:
    """A log line from the scanner's firmware."""

    level: int
    text: str


RuntimeLinkEvent = (
    ScannerHello
    | CaptureReceived
    | PowerReceived
    | CapturesLost
    | PacketsLost
    | LinkErrorSeen
    | ScannerReset
    | LinkDown
    | LinkUp
    | ScannerLog
)
