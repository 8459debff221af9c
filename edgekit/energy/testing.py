"""Register-level fakes of INA219 / INA226 / INA260 on a fake SMBus, for tests without hardware.

Public so users can test their own setups (as zeus ships ``ReplayZeusMonitor``). The fakes model
the chips, not our driver: the calibration register scales the current register, values are
quantised to the chip's LSBs, conversion-ready flags set on each conversion and clear the way the
datasheets say, words travel big-endian (so ``read_word_data`` returns them byte-swapped, as
smbus2 does on real hardware), reset restores power-on defaults, absent addresses raise
``OSError(EREMOTEIO)``. Given a ``clock``, an INA226/INA260 completes a conversion every
avg x (bus + shunt conversion time) read from its own configuration register, as the chip does;
without one it converts instantly when told to (``set``, a configuration write).
"""

from __future__ import annotations

import errno
import math
from collections import deque
from typing import Any

__all__ = ["FakeI2CBus", "FakeINA219", "FakeINA226", "FakeINA260", "FakeInaChip"]


def _swap16(word: int) -> int:
    return ((word & 0xFF) << 8) | ((word >> 8) & 0xFF)


def _u16(value: int) -> int:
    return value & 0xFFFF


def _clip_int16(value: float) -> tuple[int, bool]:
    """Truncate toward zero into int16; also whether it overflowed."""
    v = int(value)  # int() truncates toward zero, as the chips' arithmetic does
    if v > 32767:
        return 32767, True
    if v < -32768:
        return -32768, True
    return v, False


class FakeInaChip:
    """Common register file; subclasses compute the measurement registers."""

    default_config = 0x0000
    read_only: frozenset[int] = frozenset()

    def __init__(self, current_a: float = 0.0, voltage_v: float = 5.0) -> None:
        self.current_a = current_a
        self.voltage_v = voltage_v
        self.registers: dict[int, int] = {}
        self.conversions = 0
        self.reads = 0
        self.reset()

    def reset(self) -> None:
        self.registers = {0x00: self.default_config, 0x05: 0x0000, 0x06: 0x0000}
        self._ready = False

    def set(self, *, current_a: float | None = None, voltage_v: float | None = None) -> None:
        """Change the true current/voltage; the chip completes a conversion of the new values."""
        if current_a is not None:
            self.current_a = current_a
        if voltage_v is not None:
            self.voltage_v = voltage_v
        self.convert()

    def convert(self) -> None:
        """One conversion completes (the fake converts instantly)."""
        self.conversions += 1
        self._ready = True

    def write_register(self, reg: int, value: int) -> None:
        if reg == 0x00 and value & 0x8000:
            self.reset()
            return
        if reg in self.read_only:
            return
        self.registers[reg] = _u16(value)
        if reg == 0x00:
            self.convert()  # a config write starts a fresh conversion

    def read_register(self, reg: int) -> int:
        self.reads += 1
        return _u16(self.registers.get(reg, 0))


class FakeINA219(FakeInaChip):
    """INA219: 10 uV shunt LSB, 4 mV bus LSB in bits 15..3 with CNVR (bit 1) and OVF (bit 0)."""

    default_config = 0x399F
    read_only = frozenset({0x01, 0x02, 0x03, 0x04})

    def __init__(self, shunt_ohm: float = 0.1, current_a: float = 0.0, voltage_v: float = 5.0):
        self.shunt_ohm = shunt_ohm
        super().__init__(current_a, voltage_v)

    def write_register(self, reg: int, value: int) -> None:
        if reg == 0x05:
            value &= 0xFFFE  # bit 0 of the calibration register is read-only zero
        super().write_register(reg, value)

    def _shunt_reg(self) -> tuple[int, bool]:
        pga = (self.registers[0x00] >> 11) & 0b11
        limit = round(0.04 * (1 << pga) / 10e-6)
        raw = round(self.current_a * self.shunt_ohm / 10e-6)
        return max(-limit, min(limit, raw)), abs(raw) > limit

    def _bus_value(self) -> int:
        full_scale = 8000 if self.registers[0x00] & (1 << 13) else 4000  # 32 V or 16 V range
        return max(0, min(full_scale, round(self.voltage_v / 0.004)))

    def _current_reg(self) -> tuple[int, bool]:
        shunt, clipped = self._shunt_reg()
        current, overflow = _clip_int16(shunt * self.registers[0x05] / 4096)
        return current, clipped or overflow

    def read_register(self, reg: int) -> int:
        if reg == 0x01:
            self.reads += 1
            return _u16(self._shunt_reg()[0])
        if reg == 0x02:
            self.reads += 1
            _, overflow = self._current_reg()
            return (self._bus_value() << 3) | (int(self._ready) << 1) | int(overflow)
        if reg == 0x03:
            self.reads += 1
            self._ready = False  # reading the power register clears CNVR
            current, _ = self._current_reg()
            return _u16(min(0xFFFF, abs(current) * self._bus_value() // 5000))
        if reg == 0x04:
            self.reads += 1
            return _u16(self._current_reg()[0])
        return super().read_register(reg)


_AVERAGES = (1, 4, 16, 64, 128, 256, 512, 1024)
_CONVERSION_S = (140e-6, 204e-6, 332e-6, 588e-6, 1100e-6, 2116e-6, 4156e-6, 8244e-6)


class _FakeIna2x6(FakeInaChip):
    """INA226/INA260 shared parts: ID registers, mask/enable CVRF (bit 3, cleared on read)."""

    die_id = 0x0000
    read_only = frozenset({0x01, 0x02, 0x03, 0x04, 0xFE, 0xFF})

    def __init__(self, current_a: float = 0.0, voltage_v: float = 5.0, clock: Any = None) -> None:
        self.clock = clock
        self._next_due = math.inf
        super().__init__(current_a, voltage_v)

    def conversion_period_s(self) -> float:
        """avg x (bus + shunt conversion time), from the configuration register."""
        config = self.registers[0x00]
        avg = _AVERAGES[(config >> 9) & 0b111]
        return avg * (_CONVERSION_S[(config >> 6) & 0b111] + _CONVERSION_S[(config >> 3) & 0b111])

    def write_register(self, reg: int, value: int) -> None:
        super().write_register(reg, value)
        if self.clock is not None and reg == 0x00:
            self._ready = False  # a timed chip restarts and finishes one period later
            self._next_due = self.clock.monotonic() + self.conversion_period_s()

    def _tick(self) -> None:
        if self.clock is None:
            return
        now, period = self.clock.monotonic(), self.conversion_period_s()
        if now >= self._next_due:
            done = int((now - self._next_due) // period) + 1
            self.conversions += done
            self._next_due += done * period
            self._ready = True

    def read_register(self, reg: int) -> int:
        if reg == 0xFE:
            self.reads += 1
            return 0x5449
        if reg == 0xFF:
            self.reads += 1
            return self.die_id
        if reg == 0x06:
            self.reads += 1
            self._tick()
            value = (self.registers.get(0x06, 0) & ~0x0008) | (int(self._ready) << 3)
            self._ready = False
            return _u16(value)
        return super().read_register(reg)

    def _bus_reg(self) -> int:
        return max(0, min(0x7FFF, round(self.voltage_v / 1.25e-3)))


class FakeINA226(_FakeIna2x6):
    """INA226: 2.5 uV shunt LSB, 1.25 mV bus LSB, current = shunt x cal / 2048."""

    default_config = 0x4127
    die_id = 0x2260

    def __init__(
        self, shunt_ohm: float = 0.1, current_a: float = 0.0, voltage_v: float = 5.0,
        clock: Any = None,
    ) -> None:
        self.shunt_ohm = shunt_ohm
        super().__init__(current_a, voltage_v, clock)

    def write_register(self, reg: int, value: int) -> None:
        if reg == 0x05:
            value &= 0x7FFF  # bit 15 reserved
        super().write_register(reg, value)

    def _shunt_reg(self) -> int:
        return _clip_int16(round(self.current_a * self.shunt_ohm / 2.5e-6))[0]

    def _current_reg(self) -> int:
        return _clip_int16(self._shunt_reg() * self.registers[0x05] / 2048)[0]

    def read_register(self, reg: int) -> int:
        if reg == 0x01:
            self.reads += 1
            return _u16(self._shunt_reg())
        if reg == 0x02:
            self.reads += 1
            return self._bus_reg()
        if reg == 0x03:
            self.reads += 1
            return min(0xFFFF, abs(self._current_reg()) * self._bus_reg() // 20000)
        if reg == 0x04:
            self.reads += 1
            return _u16(self._current_reg())
        return super().read_register(reg)


class FakeINA260(_FakeIna2x6):
    """INA260: integrated 2 mOhm shunt; current 1.25 mA, bus 1.25 mV, power 10 mW LSBs."""

    default_config = 0x6127
    die_id = 0x2270

    def _current_reg(self) -> int:
        return _clip_int16(round(self.current_a / 1.25e-3))[0]

    def read_register(self, reg: int) -> int:
        if reg == 0x01:
            self.reads += 1
            return _u16(self._current_reg())
        if reg == 0x02:
            self.reads += 1
            return self._bus_reg()
        if reg == 0x03:
            self.reads += 1
            power_w = abs(self._current_reg()) * 1.25e-3 * self._bus_reg() * 1.25e-3
            return min(0xFFFF, math.floor(power_w / 10e-3))
        return super().read_register(reg)


class FakeI2CBus:
    """smbus2-compatible bus (``read_word_data``, ``write_word_data``, ``read_i2c_block_data``)."""

    def __init__(self, devices: dict[int, FakeInaChip] | None = None) -> None:
        self.devices: dict[int, FakeInaChip] = dict(devices or {})
        self.closed = False
        # the last transactions as (op, addr, reg, word as on the wire), bounded for long runs
        self.transactions: deque[tuple[str, int, int, int]] = deque(maxlen=4096)

    def attach(self, addr: int, device: FakeInaChip) -> FakeInaChip:
        self.devices[addr] = device
        return device

    def _device(self, addr: int) -> FakeInaChip:
        device = self.devices.get(addr)
        if device is None:
            raise OSError(errno.EREMOTEIO, "Remote I/O error")
        return device

    def read_word_data(self, addr: int, reg: int) -> int:
        word = _swap16(self._device(addr).read_register(reg))  # MSB first on the wire
        self.transactions.append(("read", addr, reg, word))
        return word

    def write_word_data(self, addr: int, reg: int, value: int) -> None:
        self.transactions.append(("write", addr, reg, value))
        self._device(addr).write_register(reg, _swap16(value))

    def read_i2c_block_data(self, addr: int, reg: int, length: int) -> list[int]:
        value = self._device(addr).read_register(reg)
        data = [(value >> 8) & 0xFF, value & 0xFF]
        return (data * ((length + 1) // 2))[:length]

    def close(self) -> None:
        self.closed = True
