"""INA219/226/260 through the register-level fakes on the same smbus code path as hardware."""

from __future__ import annotations

import pytest

from edgekit.energy import VirtualClock, open_meter
from edgekit.energy.meters._smbus import swap16
from edgekit.energy.testing import FakeI2CBus, FakeINA219, FakeINA226, FakeINA260
from edgekit.errors import MeterError


def test_ina219_calibration_quantisation_and_byte_order() -> None:
    chip = FakeINA219(shunt_ohm=0.1, current_a=1.234, voltage_v=5.1)
    bus = FakeI2CBus({0x40: chip})
    meter = open_meter("ina219:bus=1,addr=0x40,shunt=0.1,max_current=3.2", bus=bus)
    # cal = trunc(0.04096 / (3.2/32767 * 0.1)) = 4194 -> even already -> LSB = 0.04096/(4194*0.1)
    assert chip.registers[0x05] == 4194
    lsb = 0.04096 / (4194 * 0.1)
    # shunt reg = round(1.234*0.1/10e-6) = 12340; current reg = trunc(12340*4194/4096) = 12635
    sample = meter.read()
    assert sample.current_a == pytest.approx(12635 * lsb)
    assert sample.voltage_v == pytest.approx(1275 * 0.004)  # round(5.1/0.004) = 1275
    assert sample.power_w == pytest.approx(sample.voltage_v * sample.current_a)
    assert abs(sample.current_a - 1.234) < 2 * lsb
    # the calibration travelled byte-swapped on the wire: 4194 = 0x1062 -> 0x6210
    writes = [t for t in bus.transactions if t[0] == "write" and t[2] == 0x05]
    assert writes[-1][3] == swap16(4194) == 0x6210
    assert meter.info.kind == "measured"


def test_ina219_reverse_current_reads_negative_power_positive() -> None:
    chip = FakeINA219(shunt_ohm=0.1, current_a=-0.5, voltage_v=5.0)
    meter = open_meter("ina219:shunt=0.1", bus=FakeI2CBus({0x40: chip}))
    sample = meter.read()
    assert sample.current_a is not None and sample.current_a < 0
    assert sample.power_w == pytest.approx(5.0 * 0.5, rel=1e-3)


def test_ina219_overflow_is_refused() -> None:
    chip = FakeINA219(shunt_ohm=0.1, current_a=0.1, voltage_v=5.0)
    meter = open_meter("ina219:shunt=0.1,max_current=0.4", bus=FakeI2CBus({0x40: chip}))
    chip.set(current_a=2.0)  # 200 mV across the shunt, beyond the +/-40 mV PGA range chosen
    with pytest.raises(MeterError, match="overflow"):
        meter.read()


def test_ina219_range_too_large_for_chip() -> None:
    with pytest.raises(MeterError, match=r"exceeds the INA219's 0\.32 V"):
        open_meter("ina219:shunt=0.1,max_current=5", bus=FakeI2CBus({0x40: FakeINA219()}))


def test_ina226_reads_through_calibration() -> None:
    chip = FakeINA226(shunt_ohm=0.01, current_a=2.5, voltage_v=5.05)
    meter = open_meter("ina226:addr=0x41,shunt=0.01,max_current=8", bus=FakeI2CBus({0x41: chip}))
    # cal = trunc(0.00512 / (8/32768 * 0.01)) = 2097; LSB = 0.00512 / (2097*0.01)
    assert chip.registers[0x05] == 2097
    lsb = 0.00512 / (2097 * 0.01)
    # shunt reg = round(2.5*0.01/2.5e-6) = 10000; current = trunc(10000*2097/2048) = 10239
    sample = meter.read()
    assert sample.current_a == pytest.approx(10239 * lsb)
    assert sample.voltage_v == pytest.approx(4040 * 1.25e-3)
    assert "1 x (1100 us shunt + 1100 us bus)" in meter.info.notes


def test_ina226_averaging_sets_config_and_rate() -> None:
    chip = FakeINA226(shunt_ohm=0.1, current_a=0.3)
    meter = open_meter("ina226:shunt=0.1,avg=16,conv_us=588", bus=FakeI2CBus({0x40: chip}))
    config = chip.registers[0x00]
    assert (config >> 9) & 0b111 == 2  # 16 averages
    assert (config >> 6) & 0b111 == 3 and (config >> 3) & 0b111 == 3  # 588 us
    assert meter.info.sample_rate_hz == pytest.approx(1 / (2 * 588e-6 * 16))


def test_ina260_fixed_lsbs() -> None:
    chip = FakeINA260(current_a=1.0037, voltage_v=4.9813)
    meter = open_meter("ina260:bus=1,addr=0x44", bus=FakeI2CBus({0x44: chip}))
    sample = meter.read()
    assert sample.current_a == pytest.approx(803 * 1.25e-3)  # round(1.0037/1.25e-3) = 803
    assert sample.voltage_v == pytest.approx(3985 * 1.25e-3)  # round(4.9813/1.25e-3) = 3985


def test_wrong_chip_is_refused_by_id() -> None:
    bus = FakeI2CBus({0x40: FakeINA260()})
    with pytest.raises(MeterError, match=r"0x5449/0x2270.*expected 0x5449/0x2260 \(ina226\)"):
        open_meter("ina226:addr=0x40", bus=bus)


def test_absent_device_names_bus_and_address() -> None:
    with pytest.raises(MeterError, match="ina260 at i2c-1 0x45: no answer"):
        open_meter("ina260:addr=0x45", bus=FakeI2CBus())


def test_conversion_ready_flag_clears_on_read() -> None:
    chip = FakeINA226()
    bus = FakeI2CBus({0x40: chip})
    open_meter("ina226", bus=bus)
    chip.set(current_a=0.2)
    assert swap16(bus.read_word_data(0x40, 0x06)) & 0x0008
    assert not swap16(bus.read_word_data(0x40, 0x06)) & 0x0008


def test_ina219_never_converting_is_refused() -> None:
    class Stuck(FakeINA219):
        def convert(self) -> None:  # a chip in power-down never sets CNVR
            pass

    with pytest.raises(MeterError, match="no conversion completed"):
        open_meter("ina219", bus=FakeI2CBus({0x40: Stuck()}), clock=VirtualClock())


def test_separate_bus_and_shunt_conversion_times() -> None:
    chip = FakeINA260(current_a=0.5, voltage_v=5.0)
    meter = open_meter("ina260:avg=16,bus_us=140,shunt_us=1100", bus=FakeI2CBus({0x40: chip}))
    config = chip.registers[0x00]
    # AVG 16 -> 0b010, VBUSCT 140 us -> 0b000, ISHCT 1100 us -> 0b100, continuous both -> 0b111
    assert config == 0x6000 | (0b010 << 9) | (0b000 << 6) | (0b100 << 3) | 0b111
    # a value every 16 x (140 + 1100) us = 19.84 ms; current seen 1100 / 1240 = 89 % of the time
    assert meter.info.averaging_s == pytest.approx(0.01984)
    assert meter.info.sample_rate_hz == pytest.approx(1 / 0.01984)
    assert "averaging the current over 89% of it" in meter.info.notes


def test_read_if_ready_returns_each_conversion_once() -> None:
    clock = VirtualClock()
    chip = FakeINA226(shunt_ohm=0.1, current_a=0.3, voltage_v=5.0, clock=clock)
    meter = open_meter("ina226:shunt=0.1,avg=4,conv_us=1100", bus=FakeI2CBus({0x40: chip}), clock=clock)
    period = 4 * (1100e-6 + 1100e-6)  # 8.8 ms per value
    assert chip.conversion_period_s() == pytest.approx(period)
    got = []
    for _ in range(40):  # poll every 2.2 ms, 4 polls per conversion, over 88 ms
        clock.advance(period / 4)
        sample = meter.read_if_ready()  # type: ignore[attr-defined]
        if sample is not None:
            got.append(sample)
    # the first conversion after configuration was consumed by the meter's own wait; the next
    # 10 complete within the 88 ms: each is read exactly once
    assert len(got) == 10
    assert all(s.current_a == pytest.approx(0.3, abs=0.001) for s in got)


def test_untimed_chip_converts_on_demand() -> None:
    chip = FakeINA260(current_a=0.5)
    meter = open_meter("ina260", bus=FakeI2CBus({0x40: chip}))
    assert meter.read_if_ready() is None  # type: ignore[attr-defined]  # consumed by the open
    chip.set(current_a=0.6)
    sample = meter.read_if_ready()  # type: ignore[attr-defined]
    assert sample is not None and sample.current_a == pytest.approx(0.6, abs=1.25e-3)
    assert meter.read_if_ready() is None  # type: ignore[attr-defined]  # flag cleared on read
