"""What INA219, INA226 and INA260 share: open the bus, configure, wait for a conversion, read.

Each chip module supplies its register arithmetic; this base does the I/O, error translation
(``OSError`` -> ``MeterError`` naming bus and address) and sample assembly.

INA226/INA260 can integrate on chip: ``avg`` shunt conversions of ``shunt_us`` each, interleaved
with bus conversions of ``bus_us``, make one value every avg x (shunt_us + bus_us). With a short
bus conversion (140 us) and a long shunt conversion (1100 us) the current is seen 89 % of the
time, so polling that value when the conversion-ready flag says so (``read_if_ready``) at ~100 Hz
integrates what a 1 kHz point sampler would only sample, at a tenth of the wake-ups.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from edgekit.energy.meters._smbus import open_bus, read_register, write_register
from edgekit.energy.meters.base import MeterInfo, MeterRoots, PowerSample, SpecArgs
from edgekit.errors import MeterError

__all__ = [
    "INA_ADDRESSES",
    "MANUFACTURER_ID_TI",
    "Conversion",
    "InaMeter",
    "averaging_bits",
    "conversion_bits",
    "conversion_plan",
]

MANUFACTURER_ID_TI = 0x5449  # "TI" in ASCII, register 0xFE on INA226/INA260
INA_ADDRESSES = (0x40, 0x41, 0x44, 0x45)

_AVERAGES = (1, 4, 16, 64, 128, 256, 512, 1024)
_CONVERSION_US = (140, 204, 332, 588, 1100, 2116, 4156, 8244)


def averaging_bits(args: SpecArgs) -> tuple[int, int]:
    """The AVG field for ``avg=`` (INA226/INA260) and the averaging count it means."""
    avg = args.get_int("avg", 1)
    if avg not in _AVERAGES:
        raise MeterError(
            f"meter spec {args.spec!r}: avg={avg} is not one of {', '.join(map(str, _AVERAGES))}"
        )
    return _AVERAGES.index(avg), avg


def conversion_bits(args: SpecArgs, key: str = "conv_us", default: int = 1100) -> tuple[int, float]:
    """The conversion-time field for ``key=`` (INA226/INA260) and the time in seconds."""
    conv_us = args.get_int(key, default)
    if conv_us not in _CONVERSION_US:
        accepted = ", ".join(map(str, _CONVERSION_US))
        raise MeterError(f"meter spec {args.spec!r}: {key}={conv_us} is not one of {accepted}")
    return _CONVERSION_US.index(conv_us), conv_us * 1e-6


@dataclass(frozen=True)
class Conversion:
    """The chip's conversion schedule: averages, bus and shunt conversion times and their bits."""

    avg_bits: int
    avg: int
    bus_bits: int
    bus_s: float
    shunt_bits: int
    shunt_s: float

    @property
    def period_s(self) -> float:
        """A new averaged value every avg x (bus + shunt) conversions."""
        return self.avg * (self.bus_s + self.shunt_s)

    @property
    def coverage(self) -> float:
        """Share of the time the current (shunt) is being converted."""
        return self.shunt_s / (self.bus_s + self.shunt_s)

    def config_bits(self) -> int:
        return (self.avg_bits << 9) | (self.bus_bits << 6) | (self.shunt_bits << 3) | 0b111

    def describe(self) -> str:
        return (
            f"{self.avg} x ({self.shunt_s * 1e6:.0f} us shunt + {self.bus_s * 1e6:.0f} us bus) "
            f"conversions: a value every {self.period_s * 1e3:.2f} ms averaging the current over "
            f"{self.coverage:.0%} of it"
        )


def conversion_plan(args: SpecArgs) -> Conversion:
    """``avg``, ``conv_us`` (both conversions) or ``bus_us``/``shunt_us`` (each) from a spec."""
    avg_bits, avg = averaging_bits(args)
    _, base_s = conversion_bits(args, "conv_us", 1100)  # validated before it is a default
    base = round(base_s * 1e6)
    bus_bits, bus_s = conversion_bits(args, "bus_us", base)
    shunt_bits, shunt_s = conversion_bits(args, "shunt_us", base)
    return Conversion(avg_bits, avg, bus_bits, bus_s, shunt_bits, shunt_s)


class InaMeter(ABC):
    """Base of the I2C INA meters; subclasses implement ``_configure`` and ``_read_vi``."""

    chip = "ina"
    _ready_polls = 50

    def __init__(self, args: SpecArgs, roots: MeterRoots) -> None:
        self._args = args
        self._clock = roots.clock
        self.bus_number = args.get_int("bus", 1)
        self.addr = args.get_int("addr", 0x40)
        if not 0x03 <= self.addr <= 0x77:
            raise MeterError(
                f"meter spec {args.spec!r}: addr=0x{self.addr:02x} is not a 7-bit I2C address"
            )
        self._parse_args()  # spec errors before any bus traffic
        self._bus, self._owns_bus = open_bus(self.bus_number, roots)
        self._where = f"{self.chip} at i2c-{self.bus_number} 0x{self.addr:02x}"
        try:
            self._info = self._configure()
            self._wait_ready()
        except OSError as e:
            self.close()
            raise MeterError(f"{self._where}: no answer ({e}); check wiring and address") from e
        except MeterError:
            self.close()
            raise

    @property
    def info(self) -> MeterInfo:
        return self._info

    def _reg(self, reg: int) -> int:
        return read_register(self._bus, self.addr, reg)

    def _write(self, reg: int, value: int) -> None:
        write_register(self._bus, self.addr, reg, value)

    @abstractmethod
    def _parse_args(self) -> None:
        """Read this chip's spec keys (shunt, averaging, ...)."""

    @abstractmethod
    def _configure(self) -> MeterInfo:
        """Write the configuration and calibration registers; describe the meter."""

    @abstractmethod
    def _conversion_ready(self) -> bool:
        """Whether the chip has finished a conversion since configuration."""

    @abstractmethod
    def _read_vi(self) -> tuple[float, float]:
        """One reading: (bus voltage in V, current in A)."""

    def _wait_ready(self) -> None:
        """Poll the conversion-ready flag so the first sample is a real conversion."""
        for _ in range(self._ready_polls):
            if self._conversion_ready():
                return
            self._clock.sleep(0.002)
        raise MeterError(f"{self._where}: no conversion completed after configuration")

    def read_if_ready(self) -> PowerSample | None:
        """A sample when the chip finished a new (averaged) conversion since the last call, else
        None: polling this a little faster than the conversion period reads every value once."""
        try:
            ready = self._conversion_ready()
        except OSError as e:
            raise MeterError(f"{self._where}: read failed ({e})") from e
        return self.read() if ready else None

    def read(self) -> PowerSample:
        try:
            voltage_v, current_a = self._read_vi()
        except OSError as e:
            raise MeterError(f"{self._where}: read failed ({e})") from e
        # V x I rather than the power register: finer resolution, same conversion.
        power_w = voltage_v * abs(current_a)
        return PowerSample(self._clock.monotonic(), power_w, voltage_v, current_a)

    def close(self) -> None:
        bus: Any = getattr(self, "_bus", None)
        if bus is not None and self._owns_bus:
            bus.close()
        self._bus = None
