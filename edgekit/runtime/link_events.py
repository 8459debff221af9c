"""What the link adapter hands the daemon: typed events in the daemon's own terms (device
times already on the host's monotonic clock, through the session's TIME clock mapping).

Nothing here imports ``firmware_bridge``: the daemon, the engine and the tests speak these
types, and ``link_adapter`` is the one module that translates the wire protocol into them (so
a protocol change replaces one module, not the daemon).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "CaptureReceived",
    "CapturesLost",
    "LinkDown",
    "LinkErrorSeen",
    "LinkUp",
    "PacketsLost",
    "PowerReceived",
    "RuntimeLinkEvent",
    "ScannerHello",
    "ScannerLog",
    "ScannerReset",
]


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
    power_period_ms: int | None = None  # 1.1: the POWER batch period in force (0: none)


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
