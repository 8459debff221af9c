"""Power meters behind one protocol, opened from a spec string or auto-detected.

``open_meter("ina260:bus=1,addr=0x40")`` picks the module by scheme (as pyserial's
``serial_for_url`` does); modules are imported only when used, so smbus2 is needed only for I2C.
``detect_meter()`` probes in a fixed, documented order and returns the first meter that answers.
"""

from __future__ import annotations

import contextlib
import importlib
import shutil
from pathlib import Path
from typing import Any

from edgekit.energy.meters.base import (
    Meter,
    MeterInfo,
    MeterKind,
    MeterRoots,
    PowerSample,
    SampleArrays,
    TraceSource,
    parse_spec,
)
from edgekit.errors import MeterError

__all__ = [
    "DETECTION_ORDER",
    "SCHEMES",
    "Meter",
    "MeterInfo",
    "MeterKind",
    "MeterRoots",
    "PowerSample",
    "SampleArrays",
    "TraceSource",
    "detect_meter",
    "open_meter",
    "parse_spec",
]

# scheme -> module under edgekit.energy.meters providing ``open_spec(spec, roots)``
SCHEMES: dict[str, str] = {
    "ina219": "ina219",
    "ina226": "ina226",
    "ina260": "ina260",
    "hwmon": "hwmon",
    "pmic": "pmic",
    "battery": "power_supply",
    "rapl": "rapl",
    "link": "link",
    "model": "model",
    "replay": "replay",
    "null": "null",
}

DETECTION_ORDER = (
    "hwmon ina2xx (sysfs)",
    "INA226/INA260/INA219 on I2C bus 1 at 0x40, 0x41, 0x44, 0x45 (ID registers)",
    "Pi 5 PMIC (vcgencmd pmic_read_adc prints rails)",
    "battery fuel gauge (power_supply type Battery)",
    "RAPL powercap (intel-rapl:0)",
    "CPU model for the board in /proc/device-tree/model (estimated)",
    "CPU model, generic profile (estimated)",
)


def open_meter(spec: str, **roots: Any) -> Meter:
    """Open a meter from ``scheme[:args]``; ``roots`` are ``MeterRoots`` fields (fakes in tests)."""
    scheme = spec.partition(":")[0].strip().lower()
    module_name = SCHEMES.get(scheme)
    if module_name is None:
        raise MeterError(
            f"meter spec {spec!r}: unknown meter {scheme!r}; accepted: {', '.join(SCHEMES)}"
        )
    module = importlib.import_module(f"edgekit.energy.meters.{module_name}")
    meter: Meter = module.open_spec(spec, MeterRoots.from_kwargs(roots))
    return meter


def _probe_i2c(roots: MeterRoots) -> tuple[str | None, str]:
    """The spec of the first INA chip answering on bus 1, or None with the reason."""
    from edgekit.energy.meters._ina import INA_ADDRESSES, MANUFACTURER_ID_TI
    from edgekit.energy.meters._smbus import open_bus, read_register
    from edgekit.energy.meters.ina219 import INA219_DEFAULT_CONFIG
    from edgekit.energy.meters.ina226 import INA226_DIE_ID
    from edgekit.energy.meters.ina260 import INA260_DIE_ID

    try:
        bus, owned = open_bus(1, roots)
    except Exception as e:  # missing smbus2 or /dev/i2c-1: just not this meter
        return None, f"I2C bus 1 unavailable ({e})"
    try:
        for addr in INA_ADDRESSES:
            try:
                manufacturer = read_register(bus, addr, 0xFE)
            except OSError:
                continue
            if manufacturer == MANUFACTURER_ID_TI:
                die = read_register(bus, addr, 0xFF) >> 4
                if die == INA226_DIE_ID >> 4:
                    return f"ina226:bus=1,addr=0x{addr:02x}", ""
                if die == INA260_DIE_ID >> 4:
                    return f"ina260:bus=1,addr=0x{addr:02x}", ""
                continue
            try:
                config = read_register(bus, addr, 0x00)
            except OSError:
                continue
            # The INA219 has no ID register; only its power-on config identifies it.
            if config == INA219_DEFAULT_CONFIG:
                return f"ina219:bus=1,addr=0x{addr:02x}", ""
        return None, "no INA2xx answered on I2C bus 1"
    finally:
        if owned:
            bus.close()


def _vcgencmd_available(vcgencmd: str | Path) -> bool:
    if isinstance(vcgencmd, Path) or "/" in str(vcgencmd):
        return Path(vcgencmd).exists()
    return shutil.which(str(vcgencmd)) is not None


def detect_meter(*, allow_estimate: bool = True, allow_null: bool = False, **roots: Any) -> Meter:
    """The first meter found in ``DETECTION_ORDER``.

    With ``allow_estimate=False`` only measured meters qualify. The null meter is returned only
    when ``allow_null=True`` and nothing else qualified; otherwise ``MeterError`` lists what was
    looked for.
    """
    r = MeterRoots.from_kwargs(roots)
    looked: list[str] = []

    from edgekit.energy.meters.hwmon import find_hwmon

    if find_hwmon(r.sysfs_root, None):
        return open_meter("hwmon", **roots)
    looked.append(f"hwmon ina2xx under {r.sysfs_root}/class/hwmon")

    spec, why = _probe_i2c(r)
    if spec is not None:
        return open_meter(spec, **roots)
    looked.append(why)

    if _vcgencmd_available(r.vcgencmd):
        try:
            return open_meter("pmic", **roots)
        except MeterError as e:
            looked.append(f"pmic: {e}")
    else:
        looked.append(f"pmic: no {r.vcgencmd}")

    from edgekit.energy.meters.power_supply import find_batteries

    if find_batteries(r.sysfs_root):
        return open_meter("battery", **roots)
    looked.append(f"battery under {r.sysfs_root}/class/power_supply")

    if (r.sysfs_root / "class" / "powercap" / "intel-rapl:0" / "energy_uj").exists():
        try:
            return open_meter("rapl", **roots)
        except MeterError as e:
            looked.append(f"rapl: {e}")
    else:
        looked.append(f"rapl under {r.sysfs_root}/class/powercap")

    if allow_estimate:
        from edgekit.energy.meters.model import board_from_model_string

        board = None
        model_file = r.devicetree / "model"
        with contextlib.suppress(OSError):
            board = board_from_model_string(model_file.read_text(errors="replace"))
        return open_meter(f"model:{board or 'generic'}", **roots)
    if allow_null:
        return open_meter("null", **roots)
    raise MeterError("no power meter found; looked for: " + "; ".join(looked))
