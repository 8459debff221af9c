"""Intel/AMD RAPL powercap energy counter: ``rapl[:zone=intel-rapl:0]`` (x86 hosts only).

``energy_uj`` is a cumulative counter that wraps at ``max_energy_range_uj``; power is the
difference between reads divided by the elapsed time, so each sample is an average over the
interval since the previous read (an integrating meter).
"""

from __future__ import annotations

from pathlib import Path

from edgekit.energy.meters.base import Meter, MeterInfo, MeterRoots, PowerSample, parse_spec
from edgekit.errors import MeterError

__all__ = ["KEYS", "RaplMeter", "energy_delta_uj", "open_spec"]

KEYS = frozenset({"zone"})


def energy_delta_uj(previous_uj: int, current_uj: int, max_range_uj: int) -> int:
    """Counter difference, adding the range once when the counter wrapped."""
    delta = current_uj - previous_uj
    if delta < 0:
        delta += max_range_uj + 1  # the counter runs 0..max_energy_range_uj inclusive
    return delta


class RaplMeter:
    """Power from a RAPL zone's energy counter by differencing."""

    def __init__(self, directory: Path, spec: str, roots: MeterRoots) -> None:
        self._dir = directory
        self._clock = roots.clock
        self._max_range_uj = self._value("max_energy_range_uj")
        zone_name = (
            (directory / "name").read_text().strip() if (directory / "name").exists() else ""
        )
        self._last_uj = self._value("energy_uj")
        self._last_s = self._clock.monotonic()
        self._last_power_w = 0.0
        self._info = MeterInfo(
            name=f"rapl:{directory.name}",
            spec=spec,
            kind="measured",
            sample_rate_hz=1000.0,
            resolution_w=None,
            measures=f"CPU package ({zone_name or directory.name}) energy counter, not the board",
            notes="power = delta energy_uj / delta t; wrap-around handled with max_energy_range_uj",
        )

    @property
    def info(self) -> MeterInfo:
        return self._info

    def _value(self, leaf: str) -> int:
        path = self._dir / leaf
        try:
            return int(path.read_text().strip())
        except PermissionError as e:
            raise MeterError(f"rapl {path}: permission denied (root only on recent kernels)") from e
        except (OSError, ValueError) as e:
            raise MeterError(f"rapl {path}: unreadable ({e})") from e

    def read(self) -> PowerSample:
        now_s = self._clock.monotonic()
        energy_uj = self._value("energy_uj")
        elapsed_s = now_s - self._last_s
        if elapsed_s > 0:
            delta = energy_delta_uj(self._last_uj, energy_uj, self._max_range_uj)
            self._last_power_w = delta / 1e6 / elapsed_s
            self._last_uj, self._last_s = energy_uj, now_s
        return PowerSample(now_s, self._last_power_w)

    def close(self) -> None:
        pass


def open_spec(spec: str, roots: MeterRoots) -> Meter:
    """Open a RAPL zone (default ``intel-rapl:0``, the first package)."""
    args = parse_spec(spec, KEYS)
    zone = args.get_str("zone", "intel-rapl:0") or "intel-rapl:0"
    directory = roots.sysfs_root / "class" / "powercap" / zone
    if not (directory / "energy_uj").exists():
        raise MeterError(f"meter spec {spec!r}: no RAPL counter {directory / 'energy_uj'}")
    return RaplMeter(directory, spec, roots)
