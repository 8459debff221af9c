"""INA260 over I2C: ``ina260:bus=1,addr=0x40[,avg=1,conv_us=1100]`` (or ``bus_us``/``shunt_us``).

Integrated 2 mOhm shunt, so no calibration: current 0x01 (1.25 mA, signed), bus 0x02 (1.25 mV),
power 0x03 (10 mW). Manufacturer ID 0xFE = 0x5449, die ID 0xFF = 0x2270. Conversion ready:
mask/enable 0x06 bit 3.
"""

from __future__ import annotations

from edgekit.energy.meters._ina import InaMeter, conversion_plan
from edgekit.energy.meters._smbus import to_signed16
from edgekit.energy.meters.base import Meter, MeterInfo, MeterRoots, parse_spec
from edgekit.energy.meters.ina226 import check_ids

__all__ = ["INA260_DIE_ID", "KEYS", "Ina260Meter", "open_spec"]

KEYS = frozenset({"bus", "addr", "avg", "conv_us", "bus_us", "shunt_us"})
INA260_DIE_ID = 0x2270
CURRENT_LSB_A = 1.25e-3
BUS_LSB_V = 1.25e-3


class Ina260Meter(InaMeter):
    """INA260: fixed LSBs, continuous current+bus conversions with optional averaging."""

    chip = "ina260"

    def _parse_args(self) -> None:
        self.conversion = conversion_plan(self._args)

    def _configure(self) -> MeterInfo:
        args = self._args
        conv = self.conversion
        check_ids(self, INA260_DIE_ID)
        self._write(0x00, 0x8000)
        self._write(0x00, 0x6000 | conv.config_bits())
        return MeterInfo(
            name="ina260",
            spec=args.spec,
            kind="measured",
            sample_rate_hz=min(1000.0, 1.0 / conv.period_s),
            resolution_w=None,
            measures="supply through the integrated 2 mOhm shunt (bus voltage x current)",
            notes=f"current LSB 1.25 mA, bus LSB 1.25 mV; {conv.describe()}",
            averaging_s=conv.period_s,
        )

    def _conversion_ready(self) -> bool:
        return bool(self._reg(0x06) & 0x0008)

    def _read_vi(self) -> tuple[float, float]:
        voltage_v = self._reg(0x02) * BUS_LSB_V
        current_a = to_signed16(self._reg(0x01)) * CURRENT_LSB_A
        return voltage_v, current_a


def open_spec(spec: str, roots: MeterRoots) -> Meter:
    """Open an INA260 from its spec string."""
    return Ina260Meter(parse_spec(spec, KEYS), roots)
