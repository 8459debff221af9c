"""Battery fuel gauge via ``/sys/class/power_supply``: ``battery:BAT0`` or ``battery`` (first).

Units in sysfs: ``voltage_now`` uV, ``current_now`` uA, ``power_now`` uW. Some drivers report
``current_now`` negative while discharging and others positive; we take the absolute value, so
the meter reports the magnitude of battery power (discharge, or charge while ``status`` is
Charging). Gauges update about once a second, so they resolve only long windows.
"""

from __future__ import annotations

from pathlib import Path

from edgekit.energy.meters.base import Meter, MeterInfo, MeterRoots, PowerSample, parse_spec
from edgekit.errors import MeterError

__all__ = ["KEYS", "BatteryMeter", "find_batteries", "open_spec"]

KEYS = frozenset({"name", "rate_hz"})


def _text(path: Path) -> str:
    return path.read_text(encoding="ascii", errors="replace").strip()


def find_batteries(sysfs_root: Path) -> list[Path]:
    """power_supply entries whose ``type`` is Battery, by name."""
    found = []
    for entry in sorted((sysfs_root / "class" / "power_supply").glob("*")):
        try:
            if _text(entry / "type") == "Battery":
                found.append(entry)
        except OSError:
            continue
    return found


class BatteryMeter:
    """One power_supply battery: ``power_now`` if present, else ``voltage_now x |current_now|``."""

    def __init__(self, directory: Path, spec: str, roots: MeterRoots, rate_hz: float) -> None:
        self._dir = directory
        self._clock = roots.clock
        self._has_power = (directory / "power_now").exists()
        if not self._has_power and not (
            (directory / "voltage_now").exists() and (directory / "current_now").exists()
        ):
            raise MeterError(f"battery {directory}: neither power_now nor voltage_now+current_now")
        self._info = MeterInfo(
            name=f"battery:{directory.name}",
            spec=spec,
            kind="measured",
            sample_rate_hz=rate_hz,
            resolution_w=1e-6,
            measures="battery",
            notes=(
                f"{directory}; |current_now| used (sign convention varies by driver); "
                "the gauge's own update rate (often ~1 s) limits what it resolves"
            ),
        )

    @property
    def info(self) -> MeterInfo:
        return self._info

    def status(self) -> str:
        """The gauge's ``status`` (Discharging, Charging, Full, ...) or ``Unknown``."""
        try:
            return _text(self._dir / "status")
        except OSError:
            return "Unknown"

    def _value(self, leaf: str) -> int:
        try:
            return int(_text(self._dir / leaf))
        except (OSError, ValueError) as e:
            raise MeterError(f"battery {self._dir / leaf}: unreadable ({e})") from e

    def read(self) -> PowerSample:
        timestamp_s = self._clock.monotonic()
        voltage_v = current_a = None
        if (self._dir / "voltage_now").exists():
            voltage_v = self._value("voltage_now") / 1e6
        if (self._dir / "current_now").exists():
            current_a = abs(self._value("current_now")) / 1e6
        if self._has_power:
            power_w = abs(self._value("power_now")) / 1e6
        else:
            power_w = (voltage_v or 0.0) * (current_a or 0.0)
        return PowerSample(timestamp_s, power_w, voltage_v, current_a)

    def close(self) -> None:
        pass


def open_spec(spec: str, roots: MeterRoots) -> Meter:
    """Open ``battery:NAME`` / ``battery:name=NAME,rate_hz=1`` / ``battery`` (first battery)."""
    args = parse_spec(spec, KEYS, positional="name")
    name = args.positional or args.get_str("name")
    rate_hz = args.get_positive("rate_hz", 1.0) or 1.0
    base = roots.sysfs_root / "class" / "power_supply"
    if name:
        directory = base / name
        if not (directory / "type").exists():
            raise MeterError(f"meter spec {spec!r}: no power supply {directory}")
        return BatteryMeter(directory, spec, roots, rate_hz)
    found = find_batteries(roots.sysfs_root)
    if not found:
        raise MeterError(f"meter spec {spec!r}: no battery under {base} (type == Battery)")
    return BatteryMeter(found[0], spec, roots, rate_hz)
