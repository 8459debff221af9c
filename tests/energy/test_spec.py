"""Spec parsing and registry errors: one line naming the spec and what is accepted."""

from __future__ import annotations

import pytest

from edgekit.energy import open_meter
from edgekit.energy.meters import SCHEMES, parse_spec
from edgekit.energy.testing import FakeI2CBus, FakeINA260
from edgekit.errors import MeterError


def test_parse_key_values_and_hex() -> None:
    args = parse_spec("ina219:bus=1,addr=0x41,shunt=0.05", frozenset({"bus", "addr", "shunt"}))
    assert args.scheme == "ina219"
    assert args.get_int("addr", 0) == 0x41
    assert args.get_int("bus", 0) == 1
    assert args.get_float("shunt", None) == 0.05


def test_positional_takes_whole_rest() -> None:
    args = parse_spec("replay:/tmp/a,b.csv", frozenset({"path"}), positional="path")
    assert args.positional == "/tmp/a,b.csv"


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        (
            "ina260:bus=1,adr=0x40",
            "unknown key 'adr'; accepted keys: addr, avg, bus, bus_us, conv_us, shunt_us",
        ),
        ("ina260:addr=forty", "addr='forty' is not an integer"),
        ("ina219:shunt=-0.1", "shunt='-0.1' is not a positive number"),
        ("ina219:shunt=abc", "shunt='abc' is not a number"),
        ("ina226:avg=3", "avg=3 is not one of 1, 4, 16"),
        ("ina226:conv_us=1000", "conv_us=1000 is not one of"),
        ("ina260:bus=1,bus=2", "key 'bus' given twice"),
        ("ina260:0x40", "'0x40' is not key=value"),
        ("model:board=rpi4,scope=gpu", "scope='gpu' is not 'system' or 'process'"),
        ("model:rpi9", "unknown board 'rpi9'"),
        ("null:x=1", "unknown key 'x'; accepted keys: none"),
        ("replay:", "replay needs a recording folder or a trace file"),
        ("rapl:zone", "'zone' is not key=value"),
    ],
)
def test_bad_spec_is_one_line_naming_spec(spec: str, needle: str) -> None:
    bus = FakeI2CBus({0x40: FakeINA260()})
    with pytest.raises(MeterError) as info:
        open_meter(spec, bus=bus)
    message = str(info.value)
    assert needle in message
    assert "\n" not in message


def test_unknown_scheme_lists_accepted() -> None:
    with pytest.raises(MeterError, match="unknown meter 'ina999'; accepted: ina219"):
        open_meter("ina999:bus=1")
    assert set(SCHEMES) >= {
        "ina219",
        "ina226",
        "ina260",
        "hwmon",
        "pmic",
        "battery",
        "rapl",
        "link",
        "model",
        "replay",
        "null",
    }


def test_unknown_root_is_refused() -> None:
    with pytest.raises(MeterError, match="unknown meter root"):
        open_meter("null", sysfs="/sys")
