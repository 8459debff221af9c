"""Energy: power meters, per-inference energy attribution, and the battery model.

Measured figures come from a real meter (INA2xx, hwmon, Pi 5 PMIC, fuel gauge, RAPL, the
scanner's POWER frames); estimated ones from a CPU-utilisation model and are labelled so.
"""

from __future__ import annotations

from edgekit.energy.attribution import EnergyResult, WindowMeasurement, measure_energy
from edgekit.energy.battery import (
    Battery,
    BatteryProjection,
    ScannerDuty,
    project_battery,
    project_duty_range,
)
from edgekit.energy.clock import Clock, MonotonicClock, VirtualClock
from edgekit.energy.meters import (
    Meter,
    MeterInfo,
    MeterRoots,
    PowerSample,
    detect_meter,
    open_meter,
)
from edgekit.energy.sampler import Sampler

__all__ = [
    "Battery",
    "BatteryProjection",
    "Clock",
    "EnergyResult",
    "Meter",
    "MeterInfo",
    "MeterRoots",
    "MonotonicClock",
    "PowerSample",
    "Sampler",
    "ScannerDuty",
    "VirtualClock",
    "WindowMeasurement",
    "detect_meter",
    "measure_energy",
    "open_meter",
    "project_battery",
    "project_duty_range",
]
