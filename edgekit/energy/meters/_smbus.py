"""16-bit big-endian register access over SMBus, shared by the INA2xx meters.

INA2xx chips send the most significant byte first; SMBus word reads (``read_word_data``) are
little-endian, so every word is byte-swapped here, in one place.
"""

from __future__ import annotations

from typing import Any

from edgekit._optional import require
from edgekit.energy.meters.base import MeterRoots
from edgekit.errors import MeterError

__all__ = ["open_bus", "read_register", "swap16", "to_signed16", "write_register"]


def swap16(word: int) -> int:
    """Swap the two bytes of a 16-bit word (SMBus little-endian <-> chip big-endian)."""
    return ((word & 0xFF) << 8) | ((word >> 8) & 0xFF)


def to_signed16(value: int) -> int:
    """Interpret a 16-bit register value as two's complement."""
    return value - 0x10000 if value & 0x8000 else value


def read_register(bus: Any, addr: int, reg: int) -> int:
    """Read one big-endian 16-bit register; ``OSError`` propagates to the caller's translation."""
    return swap16(int(bus.read_word_data(addr, reg)) & 0xFFFF)


def write_register(bus: Any, addr: int, reg: int, value: int) -> None:
    """Write one big-endian 16-bit register."""
    bus.write_word_data(addr, reg, swap16(value & 0xFFFF))


def open_bus(bus_number: int, roots: MeterRoots) -> tuple[Any, bool]:
    """The injected bus, or ``smbus2.SMBus(bus_number)``; also whether we own (must close) it."""
    if roots.bus is not None:
        return roots.bus, False
    smbus2 = require("smbus2", "pi", "INA2xx over I2C")
    try:
        return smbus2.SMBus(bus_number), True
    except (OSError, PermissionError) as e:
        raise MeterError(f"cannot open I2C bus /dev/i2c-{bus_number}: {e}") from e
