"""The virtual scanner's data: its configuration, the truth of each capture, the frames it
writes and its counters. Plain records, so the runner, the truth account and the simulation
can use them without the scanner's machinery."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from edgekit.data.synth import N_SAMPLES, SAMPLE_RATE_HZ
from edgekit.emulator.faults import FaultConfig
from edgekit.emulator.power import PowerModel
from edgekit.emulator.scenario import Scenario
from firmware_bridge import (
    MAX_CAPTURE_SAMPLES,
    PROTOCOL_MAJOR,
    PROTOCOL_MINOR,
    MessageType,
    SampleFormat,
)

__all__ = [
    "GAIN_RANGE_DB",
    "MAX_CAPTURE_RATE_HZ",
    "Frame",
    "ScannerConfig",
    "ScannerStats",
    "TruthRecord",
]

MAX_CAPTURE_RATE_HZ = 200.0
"""Fastest capture rate (also what CONFIG's "as fast as possible" means): 200 x 4.1 KB/s is
~0.8 MB/s, close to what a full-speed USB CDC link carries."""
GAIN_RANGE_DB = (0.0, 50.0)
"""Gains a CONFIG may set; others are clamped."""


@dataclass(frozen=True)
class ScannerConfig:
    """Everything that makes one virtual scanner (settings at boot, faults, scenario).

    ``gain_db`` is the reference gain: captures are sent as generated at this gain, and a CONFIG
    gain G scales them by 10 ** ((G - gain_db) / 20) (clipping at full scale, like a real ADC).
    ``reset_every`` N: the N-th capture after each boot is cut in half and the scanner reboots.
    ``max_captures``: stop streaming after that many captures (``--count``).
    ``protocol_version`` / ``sample_format``: what the scanner announces (to test mismatches);
    a minor of 0 plays a 1.0 device (no boot ID, no TIME, no BOOT HELLO repeats, STOP
    unanswered). ``clock_ppm``: how much faster (+) or slower the device crystal runs than the
    host's. ``boot_hello_repeat_ms``: a BOOT HELLO is repeated this often until a host command.
    """

    seed: int = 0
    capture_rate_hz: float = 10.0
    sample_rate_hz: int = int(SAMPLE_RATE_HZ)
    centre_freq_hz: int = 433_920_000
    gain_db: float = 20.0
    samples_per_capture: int = N_SAMPLES
    power_period_ms: int = 100
    heartbeat_period_ms: int = 1000
    protocol_version: tuple[int, int] = (PROTOCOL_MAJOR, PROTOCOL_MINOR)
    sample_format: int = SampleFormat.CI16
    device_id: int = 0xED6E_5CA9_0000_0001  # high 32 bits mark the emulator (runtime.status)
    firmware_version: tuple[int, int, int] = (1, 0, 0)
    max_captures: int | None = None
    reset_every: int | None = None
    chunk_size: int = 64
    cfo_max_hz: float = 10_000.0
    multipath_prob: float = 0.3
    scenario: Scenario = field(default_factory=Scenario)
    faults: FaultConfig = field(default_factory=FaultConfig)
    power: PowerModel = field(default_factory=PowerModel)
    clock_ppm: float = 0.0
    boot_hello_repeat_ms: int = 250

    def __post_init__(self) -> None:
        rate = self.capture_rate_hz
        if not (math.isfinite(rate) and 0 < rate <= MAX_CAPTURE_RATE_HZ):
            raise ValueError(f"rate: need 0 < HZ <= {MAX_CAPTURE_RATE_HZ:g}, got {rate:g}")
        if self.seed < 0:
            raise ValueError(f"seed: need an integer >= 0, got {self.seed}")
        if not 1 <= self.samples_per_capture <= MAX_CAPTURE_SAMPLES:
            raise ValueError(f"samples per capture must be in 1..{MAX_CAPTURE_SAMPLES}")
        if self.power_period_ms < 0 or self.power_period_ms > self.power.max_batch_period_ms:
            raise ValueError(
                f"power period: need 0..{self.power.max_batch_period_ms} ms (0 = no POWER), "
                f"got {self.power_period_ms}"
            )
        if self.heartbeat_period_ms <= 0:
            raise ValueError("heartbeat period must be > 0 ms")
        major, minor = self.protocol_version
        if not (0 <= major <= 255 and 0 <= minor <= 255):
            raise ValueError(f"protocol version: need MAJOR.MINOR in 0..255, got {major}.{minor}")
        if not 1 <= self.sample_format <= 255:
            raise ValueError(f"sample format: need 1..255, got {self.sample_format}")
        for name in ("max_captures", "reset_every"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name.replace('_', ' ')}: need an integer >= 1, got {value}")
        if self.chunk_size < 1:
            raise ValueError("chunk size must be >= 1")
        if not math.isfinite(self.gain_db):
            raise ValueError("gain must be finite")
        if not (math.isfinite(self.clock_ppm) and abs(self.clock_ppm) <= 10_000):
            raise ValueError(f"clock drift: need |PPM| <= 10000, got {self.clock_ppm:g}")
        if self.boot_hello_repeat_ms < 1:
            raise ValueError("BOOT HELLO repeat period must be >= 1 ms")


@dataclass(frozen=True)
class TruthRecord:
    """What a capture really contains, and what happened to its packet.

    ``fault``: None (written intact), ``drop``, ``corrupt``, ``duplicate`` (written twice),
    ``reset`` (cut by a reboot), ``merged`` (written intact but swallowed by damage before it),
    ``tx_overflow`` (no room in the TX buffer) or ``not_open`` (no host had the port open).
    """

    capture_id: int
    class_name: str
    snr_db: float
    cfo_hz: float
    drift: float
    timestamp_us: int
    boot: int
    fault: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (one line of the ``--truth`` file)."""
        return {
            "capture_id": self.capture_id,
            "class": self.class_name,
            "snr_db": round(self.snr_db, 3),
            "cfo_hz": round(self.cfo_hz, 1),
            "drift": self.drift,
            "timestamp_us": self.timestamp_us,
            "boot": self.boot,
            "fault": self.fault,
        }


@dataclass(frozen=True)
class Frame:
    """Bytes to write for one packet (possibly damaged or empty), with what it carried.

    ``seq`` is None for bytes that carry no packet (a lone 0x00). ``prefix_len`` bytes of
    garbage come first; ``intact``: the packet's own bytes are as encoded; ``copies``: 2 when
    it is written twice. ``boot`` numbers the scanner's boots from 1.
    """

    data: bytes
    msg_type: MessageType | None = None
    truth: TruthRecord | None = None
    fault: str | None = None
    seq: int | None = None
    boot: int = 0
    prefix_len: int = 0
    intact: bool = False
    copies: int = 1


@dataclass(slots=True)
class ScannerStats:
    """Counters over the emulator's whole run (mutable; read them)."""

    boots: int = 0
    packets_sent: int = 0
    captures_sent: int = 0
    captures_dropped: int = 0
    results_received: int = 0
    results_duplicate: int = 0
    results_unknown_id: int = 0
    results_with_context: int = 0  # 1.2 RESULTs carrying the optional context field
    results_by_label: Counter[int] = field(default_factory=Counter)
    result_latency_us_total: int = 0
    starts: int = 0
    stops: int = 0
    pings: int = 0
    configs: int = 0
    rx_errors: int = 0
    time_requests: int = 0
    boot_hellos: int = 0
    restarts: int = 0  # streams a reboot interrupted and a START resumed
    longest_restart_us: int = 0  # the longest such interruption (reboot -> START)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``--stats`` file)."""
        out: dict[str, Any] = {k: getattr(self, k) for k in self.__slots__}
        out["results_by_label"] = {str(k): v for k, v in sorted(self.results_by_label.items())}
        return out
