"""``edgekit status``: the emulator's simulated power is not "measured by link"."""

from __future__ import annotations

from edgekit.emulator.records import ScannerConfig
from edgekit.runtime.status import StatusBoard, render_status

_PROV = "measured by link (link), rolling 10 s windows, idle power from the gaps between inferences"


def _energy_line(device_id: int) -> str:
    board = StatusBoard(bundle="b", port="/dev/ttyACM0", journal="j")
    board.scanner = {"device_id": f"{device_id:#018x}", "firmware": "1.0.0"}  # as the daemon keeps it
    board.energy = {"energy_per_inference_j": 0.002, "provenance": _PROV}
    return next(line for line in render_status(board.snapshot()).splitlines() if line.startswith("energy"))


def test_the_emulators_power_reads_as_simulated() -> None:
    line = _energy_line(ScannerConfig().device_id)  # what `edgekit emulate` sends in its HELLO
    assert "simulated by the emulator (edgekit emulate, device 0xed6e5ca900000001)" in line
    assert "measured by link" not in line
    assert "rolling 10 s windows" in line  # the rest of the provenance is kept


def test_a_real_scanners_meter_stays_measured_by_link() -> None:
    line = _energy_line(0x0123_4567_89AB_CDEF)
    assert _PROV in line and "simulated" not in line
