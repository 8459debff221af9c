"""Energy per inference and battery drain at build time, when no target measurement is given.

The build runs on a host, not on the scanner's board, so its energy figures are **estimates**:
the variant's measured host CPU time per inference times the target board's per-core active
power (``edgekit/energy/profiles/<board>.json``, with its sources), plus the board's idle power
over the latency for the total. They are labelled ``estimated`` everywhere, and budgets with
``require_measured_energy = true`` treat them as not evaluated. Measured figures come from
``edgekit bench`` on the target (``edgekit build --target-results bench.json``).

With the chosen OOD score's cost (:class:`~edgekit.results.ScoreCost`, timed with the model), the
estimate is of model + score, per run, as the daemon spends it; ``ood_score_mj`` is the score's
share (the estimate with the score, less the same estimate from the model's runs alone).
"""

from __future__ import annotations

import math
from typing import TypedDict

from edgekit.config import BatteryConfig
from edgekit.energy.battery import Battery, ScannerDuty, project_battery
from edgekit.energy.meters.model import BoardProfile, load_profile
from edgekit.results import EnergyFigure, LatencyResult, ScoreCost

__all__ = ["battery_fields", "estimate_energy"]


class BatteryFields(TypedDict):
    """The battery fields of an ``EnergyFigure``."""

    battery_life_h: float | None
    battery_life_without_model_h: float | None
    battery_life_loss_pct: float | None
    drain_pct_per_h: float | None
    battery_life_interval_h: tuple[float, float] | None
    battery_life_loss_interval_pct: tuple[float, float] | None


def battery_fields(
    battery: BatteryConfig,
    dynamic_mj: float,
    kind: str,
    dynamic_interval_mj: tuple[float, float] | None = None,
) -> BatteryFields:
    """Battery life with and without the model, life lost and drain, or Nones with no battery;
    with the dynamic energy's interval, life and life lost as intervals too."""
    if battery.capacity_wh is None and (battery.capacity_mah is None or battery.nominal_v is None):
        return {"battery_life_h": None, "battery_life_without_model_h": None,
                "battery_life_loss_pct": None, "drain_pct_per_h": None,
                "battery_life_interval_h": None, "battery_life_loss_interval_pct": None}
    b = Battery(battery.capacity_mah, battery.nominal_v, battery.capacity_wh, battery.usable_fraction)
    usable = dynamic_interval_mj is not None and all(math.isfinite(x) for x in dynamic_interval_mj)
    duty = ScannerDuty(battery.scanner_baseline_w, battery.duty_hz, dynamic_mj,
                       converter_efficiency=battery.converter_efficiency,
                       dynamic_interval_mj=dynamic_interval_mj if usable else None)
    p = project_battery(b, duty, kind=kind)
    return {
        "battery_life_h": p.life_with_model_h,
        "battery_life_without_model_h": p.life_without_model_h,
        "battery_life_loss_pct": p.life_lost_pct,
        "drain_pct_per_h": p.drain_with_model_pct_per_h,
        "battery_life_interval_h": p.life_with_model_interval_h,
        "battery_life_loss_interval_pct": p.life_lost_interval_pct,
    }


def _model_only(latency: LatencyResult) -> tuple[float, float, float, float]:
    """(CPU ms, wall p50 ms, CPU p10 ms, CPU p90 ms) of the model's runs."""
    cpu_ms = latency.cpu_ms_per_inference
    if not math.isfinite(cpu_ms):
        cpu_ms = latency.p50_ms * latency.threads
    return cpu_ms, latency.p50_ms, latency.cpu_ms_p10, latency.cpu_ms_p90


def estimate_energy(
    latency: LatencyResult, board: str, battery: BatteryConfig, *, score: ScoreCost | None = None
) -> EnergyFigure:
    """Estimate one variant's energy per inference on ``board`` from its host CPU time; with
    ``score``, of the model and the chosen OOD score together."""
    prof: BoardProfile = load_profile(board)
    m_cpu, m_p50, p10, p90 = _model_only(latency)
    cpu_ms, p50 = m_cpu, m_p50
    score_mj: float | None = None
    what = "host CPU time per inference"
    if score is not None:
        cpu_ms, p50 = score.total_cpu_ms_per_inference, score.total_p50_ms
        p10, p90 = score.total_cpu_ms_p10, score.total_cpu_ms_p90
        score_mj = (cpu_ms - m_cpu) * prof.active_per_core_w + (p50 - m_p50) * prof.idle_w
        what = f"host CPU time per inference with the {score.score} score"
    dynamic = cpu_ms * prof.active_per_core_w  # ms x W = mJ
    total = dynamic + p50 * prof.idle_w
    half_spread = (p90 - p10) / 2 * prof.active_per_core_w
    provenance = (
        f"estimated, not measured: {what} ({cpu_ms:.3g} ms, median of "
        f"{latency.runs} runs) x {prof.name} active power per busy core "
        f"({prof.active_per_core_w} W; idle {prof.idle_w} W; see the board profile's sources); "
        "the host CPU is not the target's, so run `edgekit bench` on the board for a measurement"
        + (f"; the score's share {score_mj:.3g} mJ" if score_mj is not None else "")
    )
    return EnergyFigure(
        energy_per_inference_mj=total,
        dynamic_energy_per_inference_mj=dynamic,
        spread_mj=half_spread if math.isfinite(half_spread) else float("nan"),
        kind="estimated",
        meter=f"model:{prof.board} (host CPU time)",
        sample_rate_hz=0.0,
        n_inferences=latency.runs,
        windows=1,
        provenance=provenance,
        dynamic_spread_mj=half_spread if math.isfinite(half_spread) else float("nan"),
        target_reason=f"only an estimate (model:{prof.board}, from the host's CPU time at build time)",
        ood_score_mj=score_mj,
        **battery_fields(battery, dynamic, "estimated", (dynamic - half_spread, dynamic + half_spread)),
    )
