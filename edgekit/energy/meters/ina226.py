"""INA226 over I2C: ``ina226:bus=1,addr=0x40,shunt=0.1[,max_current=..,avg=1,conv_us=1100]``
(``bus_us``/``shunt_us`` set the two conversion times apart, e.g. avg=16,bus_us=140,shunt_us=1100).

Shunt LSB 2.5 uV, bus LSB 1.25 mV, current = shunt x cal / 2048 with cal = 0.00512 / (lsb x R).
Manufacturer ID 0xFE = 0x5449, die ID 0xFF = 0x2260. Conversion ready: mask/enable 0x06 bit 3.
With ``avg`` > 1 the chip averages internally, which makes low sample rates integrate rather than
point-sample; a short bus and long shunt conversion sees the current most of the time.
"""

from __future__ import annotations

from edgekit.energy.meters._ina import (
    MANUFACTURER_ID_TI,
    InaMeter,
    conversion_plan,
)
from edgekit.energy.meters._smbus import to_signed16
from edgekit.energy.meters.base import Meter, MeterInfo, MeterRoots, parse_spec
from edgekit.errors import MeterError

__all__ = ["INA226_DIE_ID", "KEYS", "Ina226Meter", "check_ids", "open_spec"]

KEYS = frozenset({"bus", "addr", "shunt", "max_current", "avg", "conv_us", "bus_us", "shunt_us"})
INA226_DIE_ID = 0x2260


def check_ids(meter: InaMeter, die_id: int) -> None:
    """Refuse a chip whose manufacturer/die ID registers do not match (ignoring the revision)."""
    manufacturer = meter._reg(0xFE)
    die = meter._reg(0xFF)
    if manufacturer != MANUFACTURER_ID_TI or (die >> 4) != (die_id >> 4):
        raise MeterError(
            f"{meter._where}: ID registers read 0x{manufacturer:04x}/0x{die:04x}, "
            f"expected 0x{MANUFACTURER_ID_TI:04x}/0x{die_id:04x} ({meter.chip})"
        )


class Ina226Meter(InaMeter):
    """INA226 with calibration from shunt and max current; continuous shunt+bus conversions."""

    chip = "ina226"

    def _parse_args(self) -> None:
        args = self._args
        shunt = args.get_positive("shunt", 0.1) or 0.1
        max_current_a = args.get_positive("max_current", 0.08192 / shunt) or 0.08192 / shunt
        if max_current_a * shunt > 0.08192 + 1e-12:
            raise MeterError(
                f"meter spec {args.spec!r}: max_current x shunt exceeds the INA226's 81.92 mV"
            )
        self.conversion = conversion_plan(args)
        cal = min(int(0.00512 / ((max_current_a / 32768) * shunt)), 0x7FFF)
        self.current_lsb_a = 0.00512 / (cal * shunt)
        self._settings = (shunt, cal)

    def _configure(self) -> MeterInfo:
        args = self._args
        shunt, cal = self._settings
        conv = self.conversion
        check_ids(self, INA226_DIE_ID)
        self._write(0x00, 0x8000)
        self._write(0x00, 0x4000 | conv.config_bits())
        self._write(0x05, cal)
        return MeterInfo(
            name="ina226",
            spec=args.spec,
            kind="measured",
            sample_rate_hz=min(1000.0, 1.0 / conv.period_s),
            resolution_w=None,
            measures="supply through the shunt (bus voltage x current)",
            notes=(
                f"shunt {shunt} ohm, current LSB {self.current_lsb_a * 1e3:.4f} mA, "
                f"{conv.describe()}"
            ),
            averaging_s=conv.period_s,
        )

    def _conversion_ready(self) -> bool:
        return bool(self._reg(0x06) & 0x0008)

    def _read_vi(self) -> tuple[float, float]:
        voltage_v = self._reg(0x02) * 1.25e-3
        current_a = to_signed16(self._reg(0x04)) * self.current_lsb_a
        return voltage_v, current_a


def open_spec(spec: str, roots: MeterRoots) -> Meter:
    """Open an INA226 from its spec string."""
    return Ina226Meter(parse_spec(spec, KEYS), roots)
