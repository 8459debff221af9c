"""Energy per inference of one loaded variant, and its battery projection.

The meter is opened afresh for every variant: a ``replay:`` trace lays its time 0 on the clock
when it opens, so each variant replays the trace from its start, and a trace too short for the
planned measurement is refused up front (one line, with the fix) instead of starving mid-run.
Both the meter and ``measure_energy`` read the same ``MonotonicClock`` unless a clock is injected.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edgekit.energy import (
    Battery,
    BatteryProjection,
    Clock,
    EnergyResult,
    Meter,
    ScannerDuty,
    measure_energy,
    open_meter,
    project_battery,
)
from edgekit.errors import EdgekitError, MeterError

__all__ = [
    "EnergyPlan",
    "battery_from_manifest",
    "check_trace_covers",
    "measure_variant_energy",
    "project",
]


@dataclass(frozen=True)
class EnergyPlan:
    """The ``measure_energy`` settings of a bench run."""

    window_s: float = 10.0
    windows: int = 5
    idle_s: float = 5.0
    min_samples: int = 100
    max_window_s: float | None = None
    max_relative_uncertainty: float = 0.02

    @property
    def planned_s(self) -> float:
        """The least wall time one variant's measurement takes (idle, windows, idle)."""
        return 2.0 * self.idle_s + self.windows * self.window_s

    def to_dict(self) -> dict[str, Any]:
        return {
            "window_s": self.window_s,
            "windows": self.windows,
            "idle_s": self.idle_s,
            "min_samples": self.min_samples,
            "max_window_s": self.max_window_s,
            "max_relative_uncertainty": self.max_relative_uncertainty,
        }


def check_trace_covers(meter: Meter, plan: EnergyPlan) -> None:
    """Refuse a non-looping replay trace shorter than the planned measurement (plus margin)."""
    trace = getattr(meter, "trace", None)
    if trace is None or meter.info.name != "replay" or "looped" in meter.info.notes:
        return
    t = trace.timestamps_s
    span_s = float(t[-1] - t[0])
    need_s = plan.planned_s * 1.25 + 1.0  # windows grow until they hold enough samples
    if span_s < need_s:
        raise MeterError(
            f"meter {meter.info.spec!r}: the trace covers {span_s:.1f} s but one variant's "
            f"measurement needs about {need_s:.1f} s (2 x idle {plan.idle_s:g} s + {plan.windows} "
            f"x window {plan.window_s:g} s, +25%); record a longer trace, shorten "
            "--window-s/--windows/--idle-s, or loop it: replay:path=<csv>,loop=1"
        )


def measure_variant_energy(
    run_batch: Callable[[int], None],
    meter_spec: str,
    plan: EnergyPlan,
    *,
    inferences_per_call: int,
    roots: dict[str, Any],
    clock: Clock | None = None,
) -> EnergyResult:
    """Open ``meter_spec`` now and measure ``run_batch`` on it; the meter is closed afterwards."""
    meter_roots = dict(roots)
    if clock is not None:
        meter_roots["clock"] = clock
    meter = open_meter(meter_spec, **meter_roots)
    try:
        check_trace_covers(meter, plan)
        return measure_energy(
            run_batch,
            meter,
            min_window_s=plan.window_s,
            min_samples=plan.min_samples,
            windows=plan.windows,
            idle_s=plan.idle_s,
            inferences_per_call=inferences_per_call,
            max_window_s=plan.max_window_s,
            max_relative_uncertainty=plan.max_relative_uncertainty,
            clock=clock,
        )
    finally:
        meter.close()


def battery_from_manifest(
    manifest: dict[str, Any], duty_hz: float | None
) -> tuple[dict[str, Any] | None, str | None]:
    """The bundle's battery section with the duty cycle to use, or (None, why not)."""
    raw = manifest.get("battery")
    if not isinstance(raw, dict):
        return None, "the bundle's manifest has no battery section"
    data = dict(raw)
    data["duty_hz_source"] = "manifest battery.duty_hz"
    if duty_hz is not None:
        data["duty_hz"] = duty_hz
        data["duty_hz_source"] = "--duty"
    try:
        _battery(data)
    except (EdgekitError, TypeError, ValueError) as e:
        return None, f"the bundle's battery section is unusable: {e}"
    if data.get("duty_hz") is None:
        return None, "no duty cycle (battery.duty_hz in the manifest, or --duty)"
    return data, None


def _battery(data: dict[str, Any]) -> Battery:
    return Battery(
        capacity_mah=data.get("capacity_mah"),
        nominal_v=data.get("nominal_v"),
        capacity_wh=data.get("capacity_wh"),
        usable_fraction=float(data.get("usable_fraction") or 1.0),
    )


def project(battery: dict[str, Any], energy: EnergyResult, duty_hz: float) -> BatteryProjection:
    """Battery life with and without the model at ``duty_hz`` captures per second.

    The scanner's baseline already includes the board idling (``scanner_baseline_w``), so the
    model adds only its dynamic energy per inference (above idle); a dynamic figure below zero
    (meter noise on a tiny model) counts as zero.
    """
    duty = ScannerDuty(
        baseline_w=float(battery.get("scanner_baseline_w") or 0.0),
        captures_per_s=duty_hz,
        dynamic_energy_per_inference_mj=max(0.0, energy.dynamic_energy_per_inference_mj),
    )
    return project_battery(_battery(battery), duty, kind=energy.kind)
