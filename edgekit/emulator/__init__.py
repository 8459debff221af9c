"""The virtual scanner behind ``edgekit emulate``: a sans-IO firmware model
(``VirtualScanner``), line faults (``FaultInjector``), a time-varying ``Scenario``, a simulated
power monitor and a thin pseudo-terminal runner (``pty_device.run``)."""

from __future__ import annotations

from edgekit.emulator.faults import FaultConfig, FaultInjector, FaultStats
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

__all__ = [
    "MAX_CAPTURE_RATE_HZ",
    "FaultConfig",
    "FaultInjector",
    "FaultStats",
    "Frame",
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
    "TruthRecord",
    "VirtualScanner",
    "parse_class_mix",
    "run",
]
