"""The coverage cases: boards and meters that a user might really have, each with known truth.

Every case is inside what docs/energy-files.md says attribution handles (meters 10 Hz..10 kHz,
point or averaging, any documented columns and units, skews of about 1 % and any offset, idle
drift, a second process's load and bursts, DVFS steps named by ``env`` events), so each must give
a figure whose interval holds the truth at the stated confidence, or a documented warning.
Recordings are kept short (windows of a few seconds) so a hundred trials run in the test suite.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .meter import Meter
from .scenario import Scenario

__all__ = ["CASES", "SLOW_CASES", "Case"]

SHORT = {"window_s": 4.0, "idle_s": 2.5}


@dataclass(frozen=True)
class Case:
    name: str
    scenario: Scenario
    meter: Meter
    # warnings that may be raised by this case without failing it (documented ones it provokes)
    may_warn: frozenset[str] = field(default_factory=frozenset)


def _sc(**kw: object) -> Scenario:
    return Scenario(**{**SHORT, **kw})  # type: ignore[arg-type]


CASES: list[Case] = [
    Case("point-1kHz-power_w", _sc(), Meter(rate_hz=1000.0)),
    Case("ina226-avg-50Hz-VxI", _sc(infer_s=0.02, window_s=6.0),
         Meter(rate_hz=50.0, averaging=True, delay_s=0.004, ina="ina226", noise_w=0.005,
               columns=("timestamp_s", "voltage_v", "current_a"))),
    Case("ina219-point-500Hz-mW-mA-ms", _sc(infer_s=0.003),
         Meter(rate_hz=500.0, ina="ina219",
               columns=("timestamp_ms", "power_mw", "voltage_mv", "current_ma"))),
    Case("point-10kHz-0.2ms-batches", _sc(infer_s=0.0002, batch_max=8, window_s=2.0, idle_s=1.5),
         Meter(rate_hz=10000.0, noise_w=0.02, columns=("timestamp_us", "power_uw"))),
    Case("avg-100Hz-50ms-calls", _sc(infer_s=0.05, gap_s=(0.001, 0.02), window_s=6.0),
         Meter(rate_hz=100.0, averaging=True)),
    Case("meter-clock-offset-skew-0.5%", _sc(window_s=5.0),
         Meter(rate_hz=1000.0, clock="meter", offset_s=-1721.37, skew=0.005)),
    Case("meter-clock-sync-skew-1%", _sc(), Meter(rate_hz=500.0, clock="meter", offset_s=120.018,
                                                  skew=-0.01, sync=6)),
    Case("drift-load-bursts", _sc(drift_w_per_s=0.004, load_w=0.4, burst_rate_hz=0.5, window_s=5.0),
         Meter(rate_hz=1000.0, averaging=True), frozenset({"idle drift", "precision"})),
    Case("dvfs-step", _sc(freqs_mhz=(1500.0, 1500.0, 600.0, 600.0)), Meter(rate_hz=1000.0),
         frozenset({"regime"})),
    Case("jitter-drops-tail", _sc(tail_w=0.6, tail_s=0.15),
         Meter(rate_hz=1000.0, jitter_s=0.0002, drop_p=0.05)),
]

# slow meters on the bench's own 10 s windows: few samples, wide intervals that must still hold
SLOW_CASES: list[Case] = [
    Case("avg-1Hz", Scenario(window_s=10.0, idle_s=6.0, infer_s=0.05, gap_s=(0.001, 0.02)),
         Meter(rate_hz=1.0, averaging=True), frozenset({"precision"})),
    Case("point-10Hz-20ms", Scenario(window_s=10.0, idle_s=5.0, infer_s=0.02), Meter(rate_hz=10.0),
         frozenset({"precision"})),
    Case("avg-10Hz-2ms", Scenario(window_s=10.0, idle_s=5.0, infer_s=0.002),
         Meter(rate_hz=10.0, averaging=True), frozenset({"precision"})),
]
