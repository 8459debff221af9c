"""INA2xx through the Linux hwmon driver: ``hwmon:name=ina226`` (sysfs, no I2C access needed).

Reads ``/sys/class/hwmon/hwmonN/{in1_input (mV), curr1_input (mA), power1_input (uW)}``. The
``ina2xx`` driver caches a conversion for ``update_interval`` ms (tens of ms), so the nominal
sample rate is taken from that file when present.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from edgekit.energy.meters.base import Meter, MeterInfo, MeterRoots, PowerSample, parse_spec
from edgekit.errors import MeterError

__all__ = ["KEYS", "HwmonMeter", "find_hwmon", "open_spec"]

KEYS = frozenset({"name", "index"})
_INA_PREFIXES = ("ina2", "ina3")


def _read_text(path: Path) -> str:
    return path.read_text(encoding="ascii", errors="replace").strip()


def find_hwmon(sysfs_root: Path, name: str | None) -> list[Path]:
    """hwmon directories whose ``name`` equals ``name`` (or any INA2xx/3xx when None), sorted."""
    base = sysfs_root / "class" / "hwmon"
    found: list[Path] = []
    for entry in sorted(base.glob("hwmon*"), key=lambda p: (len(p.name), p.name)):
        try:
            chip = _read_text(entry / "name")
        except OSError:
            continue
        if (name is None and chip.startswith(_INA_PREFIXES)) or chip == name:
            found.append(entry)
    return found


class HwmonMeter:
    """One hwmon device of the ina2xx driver, read through sysfs."""

    def __init__(self, directory: Path, spec: str, roots: MeterRoots) -> None:
        self._dir = directory
        self._clock = roots.clock
        self.chip = _read_text(directory / "name")
        self._has_power = (directory / "power1_input").exists()
        if not (directory / "in1_input").exists() or not (directory / "curr1_input").exists():
            raise MeterError(f"hwmon {directory}: no in1_input/curr1_input; not an INA2xx device")
        rate_hz = 10.0
        interval = directory / "update_interval"
        if interval.exists():
            with contextlib.suppress(ValueError):
                rate_hz = 1000.0 / max(1, int(_read_text(interval)))
        self._info = MeterInfo(
            name=f"hwmon:{self.chip}",
            spec=spec,
            kind="measured",
            sample_rate_hz=rate_hz,
            resolution_w=1e-6 if self._has_power else None,
            measures="supply through the shunt (bus voltage x current)",
            notes=f"{directory}; driver caches each conversion for {1000 / rate_hz:.0f} ms",
        )

    @property
    def info(self) -> MeterInfo:
        return self._info

    def _value(self, leaf: str) -> int:
        try:
            return int(_read_text(self._dir / leaf))
        except (OSError, ValueError) as e:
            raise MeterError(f"hwmon {self._dir / leaf}: unreadable ({e})") from e

    def read(self) -> PowerSample:
        timestamp_s = self._clock.monotonic()
        voltage_v = self._value("in1_input") / 1e3
        current_a = self._value("curr1_input") / 1e3
        power_w = (
            self._value("power1_input") / 1e6 if self._has_power else voltage_v * abs(current_a)
        )
        return PowerSample(timestamp_s, power_w, voltage_v, current_a)

    def close(self) -> None:
        pass


def open_spec(spec: str, roots: MeterRoots) -> Meter:
    """Open ``hwmon:name=ina226`` (``index=`` picks among several with the same name)."""
    args = parse_spec(spec, KEYS)
    name = args.get_str("name")
    found = find_hwmon(roots.sysfs_root, name)
    looked = f"{roots.sysfs_root}/class/hwmon/hwmon*/name == {name or 'ina2xx'}"
    if not found:
        raise MeterError(f"meter spec {spec!r}: no hwmon device found ({looked})")
    index = args.get_int("index", 0)
    if not 0 <= index < len(found):
        raise MeterError(f"meter spec {spec!r}: index={index} but {len(found)} device(s) match")
    return HwmonMeter(found[index], spec, roots)
