"""Energy: power meters, per-inference energy attribution, and the battery model.

Measured figures come from a real meter (INA2xx, hwmon, Pi 5 PMIC, fuel gauge, RAPL, the
scanner's POWER frames); estimated ones from a CPU-utilisation model and are labelled so.
``attribute(trace, events)`` is the one attribution path: live (``measure_energy``), offline
(``edgekit energy attribute``) and for the daemon's rolling windows.
"""

from __future__ import annotations

from edgekit.energy.attribute import AttributionOptions, attribute
from edgekit.energy.attribution import measure_duty_energy, measure_energy
from edgekit.energy.battery import (
    Battery,
    BatteryProjection,
    ScannerDuty,
    project_battery,
    project_duty_range,
)
from edgekit.energy.clock import Clock, MonotonicClock, VirtualClock
from edgekit.energy.events import EventLog, EventRecorder, read_events, write_events
from edgekit.energy.intervals import attribute_intervals
from edgekit.energy.meters import (
    Meter,
    MeterInfo,
    MeterRoots,
    PowerSample,
    detect_meter,
    open_meter,
)
from edgekit.energy.provenance import Provenance, is_measured_on_target
from edgekit.energy.recording import Recording, read_recording, write_recording
from edgekit.energy.result import EnergyRefused, EnergyResult, RegimeFigures, WindowMeasurement
from edgekit.energy.sampler import Sampler
from edgekit.energy.tracefile import PowerTrace, TraceHeader, read_trace, write_trace

__all__ = [
    "AttributionOptions",
    "Battery",
    "BatteryProjection",
    "Clock",
    "EnergyRefused",
    "EnergyResult",
    "EventLog",
    "EventRecorder",
    "Meter",
    "MeterInfo",
    "MeterRoots",
    "MonotonicClock",
    "PowerSample",
    "PowerTrace",
    "Provenance",
    "Recording",
    "RegimeFigures",
    "Sampler",
    "ScannerDuty",
    "TraceHeader",
    "VirtualClock",
    "WindowMeasurement",
    "attribute",
    "attribute_intervals",
    "detect_meter",
    "is_measured_on_target",
    "measure_duty_energy",
    "measure_energy",
    "open_meter",
    "project_battery",
    "project_duty_range",
    "read_events",
    "read_recording",
    "read_trace",
    "write_events",
    "write_recording",
    "write_trace",
]
