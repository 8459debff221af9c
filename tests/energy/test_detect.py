"""Auto-detection order, each step found through its fake boundary."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgekit.energy import detect_meter
from edgekit.energy.testing import FakeI2CBus, FakeINA219, FakeINA226, FakeINA260
from edgekit.errors import MeterError


def _empty(fixtures: Path, tmp_path: Path) -> dict[str, object]:
    return {
        "sysfs_root": fixtures / "sys_empty",
        "proc_root": tmp_path / "proc",
        "vcgencmd": tmp_path / "no-vcgencmd",
        "bus": FakeI2CBus(),
        "utilisation": lambda: 0.0,
    }


def test_hwmon_first(fixtures: Path, tmp_path: Path, vcgencmd: Path) -> None:
    roots = _empty(fixtures, tmp_path) | {
        "sysfs_root": fixtures / "sys_hwmon",
        "vcgencmd": vcgencmd,
        "bus": FakeI2CBus({0x40: FakeINA260()}),
    }
    assert detect_meter(**roots).info.name == "hwmon:ina226"


@pytest.mark.parametrize(
    ("addr", "chip", "name"),
    [
        (0x41, FakeINA226(), "ina226"),
        (0x44, FakeINA260(), "ina260"),
        (0x45, FakeINA219(), "ina219"),
    ],
)
def test_i2c_probe_by_id_registers(
    fixtures: Path, tmp_path: Path, vcgencmd: Path, addr: int, chip: object, name: str
) -> None:
    roots = _empty(fixtures, tmp_path) | {"bus": FakeI2CBus({addr: chip}), "vcgencmd": vcgencmd}
    meter = detect_meter(**roots)
    assert meter.info.name == name
    assert f"addr=0x{addr:02x}" in meter.info.spec


def test_configured_ina219_is_not_guessed(fixtures: Path, tmp_path: Path) -> None:
    chip = FakeINA219()
    chip.write_register(0x00, 0x019F)  # someone configured it: no longer the power-on default
    roots = _empty(fixtures, tmp_path) | {"bus": FakeI2CBus({0x40: chip})}
    assert detect_meter(**roots).info.name == "model:generic"


def test_pmic_before_battery(fixtures: Path, tmp_path: Path, vcgencmd: Path) -> None:
    roots = _empty(fixtures, tmp_path) | {
        "vcgencmd": vcgencmd,
        "sysfs_root": fixtures / "sys_battery",
    }
    assert detect_meter(**roots).info.name == "pmic"


def test_battery_then_rapl(fixtures: Path, tmp_path: Path) -> None:
    roots = _empty(fixtures, tmp_path) | {"sysfs_root": fixtures / "sys_battery"}
    assert detect_meter(**roots).info.name == "battery:BAT0"
    roots = _empty(fixtures, tmp_path) | {"sysfs_root": fixtures / "sys_rapl"}
    assert detect_meter(**roots).info.name == "rapl:intel-rapl:0"


def test_board_model_from_device_tree(fixtures: Path, tmp_path: Path) -> None:
    roots = _empty(fixtures, tmp_path) | {"proc_root": fixtures / "proc_rpi4"}
    meter = detect_meter(**roots)
    assert meter.info.name == "model:rpi4b"
    assert meter.info.kind == "estimated"
    roots["proc_root"] = fixtures / "proc_rpi5"
    assert detect_meter(**roots).info.name == "model:rpi5"


def test_generic_model_last_and_null_only_on_request(fixtures: Path, tmp_path: Path) -> None:
    roots = _empty(fixtures, tmp_path)
    assert detect_meter(**roots).info.name == "model:generic"
    with pytest.raises(MeterError, match="no power meter found; looked for: hwmon"):
        detect_meter(allow_estimate=False, **roots)
    assert detect_meter(allow_estimate=False, allow_null=True, **roots).info.name == "null"
