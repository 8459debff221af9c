"""hwmon, battery, RAPL, PMIC, model, link, replay and null meters through their fake boundaries."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgekit.energy import VirtualClock, open_meter
from edgekit.energy.meters.link import LinkMeter
from edgekit.energy.meters.pmic import parse_pmic_output, rails_power_w
from edgekit.energy.meters.rapl import energy_delta_uj
from edgekit.errors import MeterError

# The recorded Pi 5 output, rail by rail (current A, voltage V), written out independently of
# the parser: sum of V x I = 10.84109321 W (VDD_CORE alone: 10.87674 x 0.8974594 = 9.7614).
PI5_RAILS = {
    "3V7_WL_SW": (0.0, 3.742188),
    "3V3_SYS": (0.05172246, 3.302988),
    "1V8_SYS": (0.1893984, 1.798788),
    "DDR_VDD2": (0.0204948, 1.110988),
    "DDR_VDDQ": (0.0, 0.6052498),
    "1V1_SYS": (0.182514, 1.105616),
    "0V8_SW": (0.3103755, 0.8026848),
    "VDD_CORE": (10.87674, 0.8974594),
    "3V3_DAC": (0.0004884, 3.304637),
    "3V3_ADC": (0.00030525, 3.308299),
    "0V8_AON": (0.003663, 0.804516),
    "HDMI": (0.017094, 5.198904),
}
PI5_SUM_W = 10.84109321


def test_hwmon_units(fixtures: Path) -> None:
    meter = open_meter("hwmon:name=ina226", sysfs_root=fixtures / "sys_hwmon")
    sample = meter.read()
    assert sample.voltage_v == pytest.approx(5.084)  # in1_input mV
    assert sample.current_a == pytest.approx(1.234)  # curr1_input mA
    assert sample.power_w == pytest.approx(6.274)  # power1_input uW
    assert meter.info.sample_rate_hz == pytest.approx(1000 / 35)  # update_interval ms
    assert meter.info.name == "hwmon:ina226"


def test_hwmon_without_power_file_uses_v_times_abs_i(fixtures: Path) -> None:
    sample = open_meter("hwmon:name=ina219", sysfs_root=fixtures / "sys_hwmon").read()
    assert sample.power_w == pytest.approx(12.016 * 0.25)
    assert sample.current_a == pytest.approx(-0.25)


def test_hwmon_absent(fixtures: Path) -> None:
    with pytest.raises(MeterError, match=r"no hwmon device found .*== ina3221"):
        open_meter("hwmon:name=ina3221", sysfs_root=fixtures / "sys_hwmon")


def test_battery_negative_current_is_taken_absolute(fixtures: Path) -> None:
    meter = open_meter("battery:BAT0", sysfs_root=fixtures / "sys_battery")
    sample = meter.read()
    assert sample.current_a == pytest.approx(0.612)
    assert sample.power_w == pytest.approx(3.842 * 0.612)
    assert meter.info.measures == "battery"
    assert "|current_now|" in meter.info.notes


def test_battery_power_now_preferred_and_first_battery_found(fixtures: Path) -> None:
    sample = open_meter("battery:BAT1", sysfs_root=fixtures / "sys_battery").read()
    assert sample.power_w == pytest.approx(2.3532)
    first = open_meter("battery", sysfs_root=fixtures / "sys_battery")
    assert first.info.name == "battery:BAT0"  # AC (Mains) is skipped


def test_battery_absent(fixtures: Path) -> None:
    with pytest.raises(MeterError, match="no battery under"):
        open_meter("battery", sysfs_root=fixtures / "sys_empty")
    with pytest.raises(MeterError, match="no power supply"):
        open_meter("battery:BAT7", sysfs_root=fixtures / "sys_battery")


def test_rapl_differencing_and_wrap_around(rapl_tree: Path) -> None:
    clock = VirtualClock(100.0)
    meter = open_meter("rapl", sysfs_root=rapl_tree, clock=clock)
    counter = rapl_tree / "class" / "powercap" / "intel-rapl:0" / "energy_uj"
    # 262143300000 -> 262143305000 in 0.5 s: 5000 uJ / 0.5 s = 10 mW
    counter.write_text("262143305000\n")
    clock.advance(0.5)
    assert meter.read().power_w == pytest.approx(0.010)
    # wrap: max 262143328850; 262143305000 -> 1150 is (328850 - 305000) + 1 + 1150 = 25001 uJ
    counter.write_text("1150\n")
    clock.advance(0.25)
    assert meter.read().power_w == pytest.approx(25001e-6 / 0.25)
    assert energy_delta_uj(10, 4, 15) == 10  # 10 -> 15, 0..4: 5 + 1 + 4


def test_rapl_absent(fixtures: Path) -> None:
    with pytest.raises(MeterError, match="no RAPL counter"):
        open_meter("rapl", sysfs_root=fixtures / "sys_empty")


def test_pmic_parser_pairs_by_name(fixtures: Path) -> None:
    rails = parse_pmic_output((fixtures / "pmic_read_adc.txt").read_text())
    assert set(PI5_RAILS) <= set(rails)
    for name, (amps, volts) in PI5_RAILS.items():
        assert rails[name] == {"A": pytest.approx(amps), "V": pytest.approx(volts)}
    assert rails["EXT5V"] == {"V": pytest.approx(5.140168)} and "A" not in rails["BATT"]
    assert rails_power_w(rails) == pytest.approx(PI5_SUM_W, rel=1e-7)


def test_pmic_parser_tolerates_junk_and_reordering() -> None:
    text = "garbage\nVDD_CORE_V volt(15)=0.9V\n\n  VDD_CORE_A current(7)=2.0A  \nX=1\n"
    assert rails_power_w(parse_pmic_output(text)) == pytest.approx(1.8)


def test_pmic_meter_via_recorded_vcgencmd(vcgencmd: Path) -> None:
    raw = open_meter("pmic:gain=1,offset_w=0", vcgencmd=vcgencmd)
    assert raw.read().power_w == pytest.approx(PI5_SUM_W, rel=1e-7)
    assert raw.info.measures.startswith("SoC PMIC rails sum (excludes the 5 V branch)")
    corrected = open_meter("pmic", vcgencmd=vcgencmd)
    sample = corrected.read()
    assert sample.power_w == pytest.approx(1.1451 * PI5_SUM_W + 0.5879, rel=1e-7)
    assert sample.voltage_v == pytest.approx(5.140168)
    assert "1.1451 x rails + 0.5879 W" in corrected.info.measures
    assert "12 rails" in corrected.info.notes


def test_pmic_absent_or_failing(tmp_path: Path) -> None:
    with pytest.raises(MeterError, match="does not exist"):
        open_meter("pmic", vcgencmd=tmp_path / "nope")
    liar = tmp_path / "vcgencmd"
    liar.write_text("#!/bin/sh\necho 'error=1 error_msg=\"Command not registered\"'\n")
    liar.chmod(0o755)
    with pytest.raises(MeterError, match="printed no rail"):
        open_meter("pmic", vcgencmd=liar)


def test_model_meter_is_estimated_and_follows_utilisation() -> None:
    busy = [0.0]
    clock = VirtualClock()
    meter = open_meter("model:rpi4", utilisation=lambda: busy[0], clock=clock)
    assert meter.info.kind == "estimated"
    assert "ESTIMATED" in meter.info.notes
    assert meter.read().power_w == pytest.approx(1.6)
    busy[0] = 2.0
    clock.advance(0.2)
    assert meter.read().power_w == pytest.approx(1.6 + 2 * 0.85)
    busy[0] = 9.0  # more busy cores than the board has: capped at the published maximum
    clock.advance(0.2)
    assert meter.read().power_w == pytest.approx(5.0)


@pytest.mark.parametrize("board", ["rpi4b", "rpi5", "zero2w", "cm4", "generic"])
def test_profiles_are_consistent(board: str) -> None:
    from edgekit.energy.meters.model import load_profile

    p = load_profile(board)
    assert p.sources
    assert p.idle_w + p.cores * p.active_per_core_w == pytest.approx(p.max_w)


def test_link_meter_feed_and_windows() -> None:
    meter = LinkMeter()
    with pytest.raises(MeterError, match="no POWER samples"):
        meter.read()
    kept = meter.feed([(1.0, 5.0, 0.2), (1.1, 5.0, -0.4), (1.05, 5.0, 0.1)])
    assert kept == 2 and meter.dropped == 1
    assert meter.read().power_w == pytest.approx(2.0)
    assert meter.count_between(0.0, 2.0) == 2
    window = meter.samples_between(1.05, 1.05)
    assert list(window.timestamps_s) == [1.0, 1.1]  # neighbours on both sides


def test_replay_plays_against_clock(tmp_path: Path) -> None:
    trace = tmp_path / "trace.csv"
    trace.write_text("# kind=measured\ntimestamp_s,power_w\n0.0,1.0\n0.5,2.0\n1.0,3.0\n")
    clock = VirtualClock()
    meter = open_meter(f"replay:{trace}", clock=clock)
    assert meter.read().power_w == 1.0
    clock.advance(0.6)
    assert meter.read().power_w == 2.0
    assert meter.info.sample_rate_hz == pytest.approx(2.0)
    clock.advance(5.0)
    with pytest.raises(MeterError, match="exhausted"):
        meter.read()


def test_replay_bad_csv_names_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp_s,power_w\n0.0,1.0\n0.1,oops\n")
    with pytest.raises(MeterError, match=r"bad.csv:3: not numbers"):
        open_meter(f"replay:{bad}")


def test_null_meter() -> None:
    meter = open_meter("null")
    assert meter.read().power_w == 0.0
    assert meter.info.measures == "nothing"


def test_link_meter_takes_firmware_bridge_power_frames() -> None:
    """POWER packets decoded from the wire feed the meter, device time mapped to host time."""
    from firmware_bridge import Connection, Power, PowerSample, encode

    wire = encode(Power(samples=(PowerSample(1_000_000, 5000, 100_000),
                                 PowerSample(1_010_000, 4990, 150_000))), seq=0, timestamp_us=1_010_000)
    host = Connection(role="host")
    host.receive_data(wire)
    packets = [e for e in host.events() if hasattr(e, "message")]
    meter = LinkMeter()
    assert meter.feed_power(packets[0].message, device_to_host_s=100.0) == 2
    got = meter.read()
    assert got.timestamp_s == pytest.approx(101.01)
    assert got.voltage_v == pytest.approx(4.99) and got.current_a == pytest.approx(0.15)
    assert got.power_w == pytest.approx(4.99 * 0.15)
