"""The Pi's udev rule and systemd unit agree on names: the rule's symlink is the device the unit
waits for, and the rule starts the unit by its file name when the scanner appears (a Pi booted
before its scanner was plugged in would otherwise get no daemon: a missing port at start is exit
2, which the unit does not restart on)."""

from __future__ import annotations

import re
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def _systemd_escape_path(path: str) -> str:
    # systemd-escape --path: strip the leading "/", "/" -> "-", "-" -> "\x2d"
    return path.lstrip("/").replace("-", "\\x2d").replace("/", "-")


def test_the_rule_names_the_device_the_unit_waits_for_and_starts_the_unit():
    rule = (SCRIPTS / "99-edgekit-scanner.rules.in").read_text()
    unit = (SCRIPTS / "edgekit.service").read_text()
    lines = [ln for ln in rule.splitlines() if ln and not ln.startswith("#")]
    assert len(lines) == 1
    symlink = re.search(r'SYMLINK\+="([^"]+)"', lines[0])
    assert symlink is not None
    device_unit = _systemd_escape_path("/dev/" + symlink.group(1)) + ".device"
    assert device_unit == "dev-edgekit\\x2dscanner.device"
    assert f"Wants={device_unit}" in unit and device_unit in re.search(r"After=(.*)", unit).group(1)
    assert 'TAG+="systemd"' in lines[0]
    wants = re.search(r'ENV\{SYSTEMD_WANTS\}\+?="([^"]+)"', lines[0])
    assert wants is not None and wants.group(1) == "edgekit.service"
    assert f"--port /dev/{symlink.group(1)} " in unit
    assert re.search(r"^RestartPreventExitStatus=2$", unit, re.M)
