"""INA219 over I2C: ``ina219:bus=1,addr=0x40,shunt=0.1[,max_current=3.2]``.

Registers (big-endian): config 0x00, shunt 0x01 (10 uV, signed), bus 0x02 (bits 15..3, 4 mV;
CNVR bit 1, OVF bit 0), power 0x03, current 0x04, calibration 0x05. The chip has no ID register.
The calibration register scales the current register: cal = trunc(0.04096 / (current_lsb * R)).
"""

from __future__ import annotations

from edgekit.energy.meters._ina import InaMeter
from edgekit.energy.meters._smbus import to_signed16
from edgekit.energy.meters.base import Meter, MeterInfo, MeterRoots, parse_spec
from edgekit.errors import MeterError

__all__ = ["INA219_DEFAULT_CONFIG", "KEYS", "Ina219Meter", "open_spec"]

KEYS = frozenset({"bus", "addr", "shunt", "max_current"})
INA219_DEFAULT_CONFIG = 0x399F
_PGA_RANGES_V = (0.04, 0.08, 0.16, 0.32)
_CONVERSION_PAIR_S = 2 * 532e-6  # 12-bit shunt + bus conversions


class Ina219Meter(InaMeter):
    """INA219 configured for 32 V bus, the smallest PGA range that fits, 12-bit conversions."""

    chip = "ina219"

    def _parse_args(self) -> None:
        args = self._args
        shunt = args.get_positive("shunt", 0.1) or 0.1
        max_current_a = args.get_positive("max_current", None) or _PGA_RANGES_V[-1] / shunt
        shunt_range_v = max_current_a * shunt
        fitting = [i for i, r in enumerate(_PGA_RANGES_V) if r >= shunt_range_v - 1e-12]
        if not fitting:
            raise MeterError(
                f"meter spec {args.spec!r}: max_current x shunt = {shunt_range_v:.3f} V exceeds "
                f"the INA219's 0.32 V shunt range; use a smaller shunt"
            )
        self._pga = fitting[0]
        current_lsb_a = max_current_a / 32767
        cal = int(0.04096 / (current_lsb_a * shunt))
        cal = min(cal, 0xFFFE) & 0xFFFE  # bit 0 is read-only zero
        if cal < 2:
            raise MeterError(f"meter spec {args.spec!r}: shunt/max_current give calibration 0")
        self.current_lsb_a = 0.04096 / (cal * shunt)
        self.shunt_ohm = shunt
        self._cal = cal

    def _configure(self) -> MeterInfo:
        args, cal, pga, shunt = self._args, self._cal, self._pga, self.shunt_ohm
        config = (1 << 13) | (pga << 11) | (0b0011 << 7) | (0b0011 << 3) | 0b111
        self._write(0x00, 0x8000)  # reset, so stale settings never leak in
        self._write(0x00, config)
        self._write(0x05, cal)
        if self._reg(0x00) != config or self._reg(0x05) != cal:
            raise MeterError(f"{self._where}: configuration did not stick; is this an INA219?")
        return MeterInfo(
            name="ina219",
            spec=args.spec,
            kind="measured",
            sample_rate_hz=min(1000.0, 1.0 / _CONVERSION_PAIR_S),
            resolution_w=None,
            measures="supply through the shunt (bus voltage x current)",
            notes=(
                f"shunt {shunt} ohm, current LSB {self.current_lsb_a * 1e3:.4f} mA, "
                f"PGA +/-{_PGA_RANGES_V[pga] * 1e3:.0f} mV, 12-bit (~1 ms per conversion pair); "
                "point samples, no averaging"
            ),
        )

    def _conversion_ready(self) -> bool:
        return bool(self._reg(0x02) & 0x0002)

    def _read_vi(self) -> tuple[float, float]:
        bus_raw = self._reg(0x02)
        if bus_raw & 0x0001:
            raise MeterError(
                f"{self._where}: overflow flag set (current beyond range); raise max_current"
            )
        voltage_v = (bus_raw >> 3) * 0.004
        current_a = to_signed16(self._reg(0x04)) * self.current_lsb_a
        return voltage_v, current_a


def open_spec(spec: str, roots: MeterRoots) -> Meter:
    """Open an INA219 from its spec string."""
    return Ina219Meter(parse_spec(spec, KEYS), roots)
