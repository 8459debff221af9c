"""The null meter: reads zero watts, labelled so nobody mistakes it for a measurement."""

from __future__ import annotations

from edgekit.energy.meters.base import Meter, MeterInfo, MeterRoots, PowerSample, parse_spec

__all__ = ["NullMeter", "open_spec"]


class NullMeter:
    """Always 0 W; for running the pipeline where energy is not wanted (never auto-selected)."""

    def __init__(self, spec: str, roots: MeterRoots) -> None:
        self._clock = roots.clock
        self._info = MeterInfo(
            name="null",
            spec=spec,
            kind="estimated",
            sample_rate_hz=1000.0,
            resolution_w=None,
            measures="nothing",
            notes="no meter: every figure is zero",
        )

    @property
    def info(self) -> MeterInfo:
        return self._info

    def read(self) -> PowerSample:
        return PowerSample(self._clock.monotonic(), 0.0)

    def close(self) -> None:
        pass


def open_spec(spec: str, roots: MeterRoots) -> Meter:
    """Open the null meter (takes no keys)."""
    parse_spec(spec, frozenset())
    return NullMeter(spec, roots)
