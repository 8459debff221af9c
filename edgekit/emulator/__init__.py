"""The virtual scanner behind ``edgekit emulate``: a sans-IO firmware model
(``VirtualScanner``), line faults (``FaultInjector``), the line's rate (``LineModel``), the truth
of what the host must count (``LineAccount``), a time-varying ``Scenario``, a simulated power
monitor, a thin pseudo-terminal runner (``pty_device.run``) and the whole link in simulated
time (``SimulatedLink``)."""

from __future__ import annotations

from edgekit.emulator.faults import Damage, FaultConfig, FaultInjector, FaultStats
from edgekit.emulator.line import LineModel
from edgekit.emulator.power import PowerModel, PowerMonitor
from edgekit.emulator.pty_device import PtyPort, RunOptions, RunSummary, SerialPort, run
from edgekit.emulator.scanner import (
    MAX_CAPTURE_RATE_HZ,
    Frame,
    ScannerConfig,
    ScannerStats,
    TruthRecord,
    VirtualScanner,
)
from edgekit.emulator.scenario import Scenario, ScenarioPoint, parse_class_mix
from edgekit.emulator.simulate import CaptureArrival, LinkProfile, SimulatedLink
from edgekit.emulator.truth import LineAccount, LineTotals, account_frame

__all__ = [
    "MAX_CAPTURE_RATE_HZ",
    "CaptureArrival",
    "Damage",
    "FaultConfig",
    "FaultInjector",
    "FaultStats",
    "Frame",
    "LineAccount",
    "LineModel",
    "LineTotals",
    "LinkProfile",
    "PowerModel",
    "PowerMonitor",
    "PtyPort",
    "RunOptions",
    "RunSummary",
    "ScannerConfig",
    "ScannerStats",
    "Scenario",
    "ScenarioPoint",
    "SerialPort",
    "SimulatedLink",
    "TruthRecord",
    "VirtualScanner",
    "account_frame",
    "parse_class_mix",
    "run",
]
