"""Energy per inference of one loaded variant, its field duty-cycle figure, and battery projections.

Live meters: ``measure_energy`` on the variant's ``run_batch`` (marker pulses at both ends for
clock alignment, dithered calls for point-sampling meters, governor and clock read around every
window), and the recording (trace + events) written to ``record_dir`` when asked, so the figure can
be re-derived with ``edgekit energy attribute``. A ``replay:`` meter is never run against live
inferences: the variant's recording is attributed with its own events, and a trace without
events gives no energy figure (``EnergyRefused``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from edgekit.energy import (
    Battery,
    BatteryProjection,
    Clock,
    EnergyResult,
    Meter,
    ScannerDuty,
    attribute,
    measure_duty_energy,
    measure_energy,
    open_meter,
    project_battery,
    write_recording,
)
from edgekit.energy.attribute import AttributionOptions
from edgekit.energy.meters.replay import ReplayMeter
from edgekit.energy.provenance import Provenance, recording_provenance
from edgekit.energy.result import EnergyRefused
from edgekit.errors import EdgekitError, MeterError

__all__ = [
    "EnergyPlan",
    "battery_from_manifest",
    "check_trace_covers",
    "cpu_spin",
    "duty_captures",
    "measure_variant_duty_energy",
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
    markers: bool = True
    marker_s: float = 0.3
    duty_captures: int = 20  # captures per window of a --duty measurement

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
            "markers": self.markers,
            "marker_s": self.marker_s,
            "duty_captures": self.duty_captures,
        }


def cpu_spin(duration_s: float) -> None:
    """Keep one core busy for ``duration_s``: the marker pulse the clock alignment looks for."""
    end = time.monotonic() + duration_s
    while time.monotonic() < end:
        pass


def check_trace_covers(meter: Meter, plan: EnergyPlan) -> None:
    """Refuse up front a ``replay:`` of a trace that has no event log (it can give no energy):
    a usage error (exit 2), before anything runs."""
    if isinstance(meter, ReplayMeter) and meter.folder is None and meter.recording is None:
        try:
            meter.recording_for(None)
        except EnergyRefused as e:
            raise MeterError(f"meter spec {meter.info.spec!r}: {e.detail}") from e


def _open(meter_spec: str, roots: Mapping[str, Any], clock: Clock | None) -> Meter:
    meter_roots = dict(roots)
    if clock is not None:
        meter_roots["clock"] = clock
    return open_meter(meter_spec, **meter_roots)


def _replayed(meter: ReplayMeter, variant: str | None, context: Mapping[str, Any] | None) -> EnergyResult:
    recording = meter.recording_for(variant)
    trace, events = recording.trace, recording.events
    prov = _for_this_file(
        recording_provenance(trace.header, events.header, f"replay:{trace.source}"), context
    )
    result = attribute(trace, events, provenance=prov)
    return replace(result, recording=recording)


def _for_this_file(prov: Provenance, context: Mapping[str, Any] | None) -> Provenance:
    """A replayed recording is measured *for this variant* only when it names the SHA-256 of the
    variant file being benched; a recording of another file (or one that does not say) is
    ``unverified`` here, whatever its own header claims."""
    want = (context or {}).get("variant_sha256")
    if prov.kind != "measured" or not want:
        return prov
    if not prov.variant_sha256:
        why = "the recording does not name the SHA-256 of the variant file it measured"
    elif prov.variant_sha256 != want:
        why = (f"the recording measured variant file sha256 {prov.variant_sha256[:12]}..., "
               f"not the benched file's {str(want)[:12]}...")
    else:
        return prov
    return replace(prov, kind="unverified", reason=why)


def _record(result: EnergyResult, record_dir: str | Path | None, name: str | None) -> None:
    if record_dir is not None and result.recording is not None:
        write_recording(record_dir, name or "energy", result.recording)


def measure_variant_energy(
    run_batch: Callable[[int], None],
    meter_spec: str,
    plan: EnergyPlan,
    *,
    inferences_per_call: int,
    roots: dict[str, Any],
    clock: Clock | None = None,
    variant: str | None = None,
    context: Mapping[str, Any] | None = None,
    record_dir: str | Path | None = None,
    env_probe: Callable[[], dict[str, Any]] | None = None,
) -> EnergyResult:
    """Open ``meter_spec`` now and measure ``run_batch`` on it (or attribute the variant's
    recording, for ``replay:``); the meter is closed afterwards.

    ``context`` names board (``board``, ``board_model``, ``soc``), ``bundle_id`` and ``variant``
    for the provenance; ``record_dir`` receives ``<variant>.power.csv`` and
    ``<variant>.events.jsonl``.
    """
    meter = _open(meter_spec, roots, clock)
    try:
        if isinstance(meter, ReplayMeter):
            result = _replayed(meter, variant, context)
        else:
            virtual = getattr(clock, "is_virtual", False)
            result = measure_energy(
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
                marker=cpu_spin if plan.markers and not virtual else None,
                marker_s=plan.marker_s,
                env_probe=env_probe,
                context={**dict(context or {}), "variant": variant} if variant else context,
            )
        _record(result, record_dir, variant)
        return result
    finally:
        meter.close()


def duty_captures(plan: EnergyPlan, duty_hz: float) -> int:
    """Captures per duty-cycle window: ``plan.duty_captures``, more when fewer would make the window
    shorter than ``plan.window_s`` (the meter needs as long to resolve it as back to back)."""
    return max(plan.duty_captures, math.ceil(plan.window_s * duty_hz))


def measure_variant_duty_energy(
    run_batch: Callable[[int], None],
    meter_spec: str,
    duty_hz: float,
    plan: EnergyPlan,
    *,
    roots: dict[str, Any],
    clock: Clock | None = None,
    variant: str | None = None,
    context: Mapping[str, Any] | None = None,
    record_dir: str | Path | None = None,
    env_probe: Callable[[], dict[str, Any]] | None = None,
) -> EnergyResult:
    """Energy per capture at ``duty_hz`` (sleep between captures), beside the back-to-back figure;
    each window is ``duty_captures(plan, duty_hz)`` periods long.

    Recorded as ``<variant>.duty.power.csv`` / ``.events.jsonl``; a ``replay:`` folder is read
    back the same way (its ``<variant>.duty`` recording).
    """
    name = f"{variant or 'energy'}.duty"
    meter = _open(meter_spec, roots, clock)
    try:
        if isinstance(meter, ReplayMeter):
            result = _replayed(meter, name, context)
        else:
            result = measure_duty_energy(
                run_batch, meter, duty_hz, captures_per_window=duty_captures(plan, duty_hz),
                windows=plan.windows, idle_s=plan.idle_s, clock=clock, env_probe=env_probe,
                context={**dict(context or {}), "variant": variant} if variant else context,
                options=AttributionOptions(),
            )
        _record(result, record_dir, name)
        return result
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
    model adds only its dynamic energy per inference (above idle), divided by the converter
    efficiency (``converter_efficiency``, 1.0 when the battery section does not give one); a
    dynamic figure below zero (meter noise on a tiny model) counts as zero. The dynamic energy's
    interval is carried into life and life lost.
    """
    lo, hi = energy.dynamic_spread_mj
    try:
        duty = ScannerDuty(
            baseline_w=float(battery.get("scanner_baseline_w") or 0.0),
            captures_per_s=duty_hz,
            dynamic_energy_per_inference_mj=max(0.0, energy.dynamic_energy_per_inference_mj),
            converter_efficiency=float(battery.get("converter_efficiency") or 1.0),
            dynamic_interval_mj=(lo, hi) if lo == lo and hi == hi else None,  # NaN-free only
        )
    except EdgekitError as e:
        raise MeterError(f"battery projection: {e}") from e
    return project_battery(_battery(battery), duty, kind=energy.kind)

