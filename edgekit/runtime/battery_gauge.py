"""Battery state of charge from a Linux fuel gauge (``/sys/class/power_supply/*/capacity``).

The sysfs root is passed in (tests give a fake tree); ``auto`` takes the first supply whose
``type`` is Battery, ``none`` disables the gauge.
"""

from __future__ import annotations

import math
from pathlib import Path

from edgekit.energy.meters.power_supply import find_batteries
from edgekit.errors import UsageError

__all__ = ["BatteryGauge", "open_gauge"]


class BatteryGauge:
    """Reads one supply's ``capacity`` (percent) and ``status``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.name = directory.name

    def percent(self) -> float | None:
        """State of charge 0..100, or None when the gauge cannot be read now.

        ``float`` also parses "nan" and "inf"; clamped, those would read 0 % or 100 % and could
        send the governor to critical on a value nobody measured, so they count as unreadable."""
        try:
            value = float((self.directory / "capacity").read_text().strip())
        except (OSError, ValueError):
            return None
        if not math.isfinite(value):
            return None
        return min(100.0, max(0.0, value))

    def status(self) -> str:
        try:
            return (self.directory / "status").read_text().strip() or "Unknown"
        except OSError:
            return "Unknown"


def open_gauge(spec: str, sysfs_root: Path = Path("/sys")) -> BatteryGauge | None:
    """``auto`` (first battery, or None), ``none``, or a supply name such as ``BAT0``."""
    if spec == "none":
        return None
    if spec == "auto":
        found = [d for d in find_batteries(sysfs_root) if (d / "capacity").exists()]
        return BatteryGauge(found[0]) if found else None
    directory = sysfs_root / "class" / "power_supply" / spec
    if not (directory / "capacity").exists():
        raise UsageError(
            f"governor.battery {spec!r}: no {directory / 'capacity'} (accepted: auto, none, a supply name)"
        )
    return BatteryGauge(directory)
