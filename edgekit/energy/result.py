"""What an energy attribution gives: figures with intervals and provenance, or a named refusal.

Live (``measure_energy``) and offline (``attribute``) give the same ``EnergyResult``, so a bench
figure and its re-analysis from the recorded files are the same object, field for field.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from edgekit.errors import MeterError

__all__ = ["EnergyRefused", "EnergyResult", "RegimeFigures", "WindowMeasurement"]

_NAN = math.nan


class EnergyRefused(MeterError):
    """No energy figure can be given; ``cause`` names why in one word (``aliasing``, ``clock``,
    ``units``, ``drift``, ``coverage``, ``resolution``, ``events``, ``replay``).

    Exit code 1: the input was understood, the measurement could not be made from it.
    """

    exit_code = 1

    def __init__(self, cause: str, message: str) -> None:
        super().__init__(f"cannot give an energy figure ({cause}): {message}")
        self.cause = cause
        self.detail = message


@dataclass(frozen=True)
class WindowMeasurement:
    """One measurement window: its energy, the idle baseline under it, its inferences.

    ``energy_j`` and ``baseline_j`` cover the window widened at both edges by the meter's smear
    (its averaging window and sample period), where part of the window's energy shows.
    """

    start_s: float
    duration_s: float
    n_inferences: int
    n_samples: int
    energy_j: float
    mean_power_w: float
    energy_per_inference_mj: float
    dynamic_energy_per_inference_mj: float
    uncertainty_mj: float
    idle_before_w: float = _NAN
    idle_after_w: float = _NAN
    baseline_j: float = _NAN
    busy_s: float = _NAN


@dataclass(frozen=True)
class RegimeFigures:
    """The figures of one stretch of the run between detected regime changes."""

    start_s: float
    end_s: float
    n_inferences: int
    energy_per_inference_mj: float
    dynamic_energy_per_inference_mj: float
    dynamic_spread_mj: tuple[float, float]
    inference_ms: float
    mean_power_w: float
    cause: str = ""


@dataclass(frozen=True)
class EnergyResult:
    """Energy per inference (total and dynamic) with intervals and provenance.

    Total energy per inference is the dynamic energy (above the interpolated idle baseline) plus
    idle power over the inference's own busy time; with inferences back to back that is the
    window's energy / N. ``spread_mj`` and ``dynamic_spread_mj`` are ``confidence`` intervals
    (block bootstrap over the run, valid for correlated samples, widened by the systematic terms in
    ``uncertainty_mj``). ``kind`` is ``measured``, ``estimated`` or ``unverified``
    (``provenance`` says why) and must be shown with every figure.
    """

    energy_per_inference_mj: float
    dynamic_energy_per_inference_mj: float
    idle_power_w: float
    active_power_w: float
    spread_mj: tuple[float, float]
    iqr_mj: float
    mad_mj: float
    n_inferences: int
    meter: str
    meter_spec: str
    measures: str
    kind: str
    sample_rate_hz: float
    duration_s: float
    idle_power_before_w: float
    idle_power_after_w: float
    windows: tuple[WindowMeasurement, ...] = ()
    dynamic_spread_mj: tuple[float, float] = (_NAN, _NAN)
    confidence: float = 0.95
    uncertainty_mj: dict[str, float] = field(default_factory=dict)
    mode: str = "back-to-back"
    duty_hz: float | None = None
    regimes: tuple[RegimeFigures, ...] = ()
    warnings: tuple[str, ...] = ()
    clock: dict[str, Any] = field(default_factory=dict)
    aliasing: dict[str, Any] = field(default_factory=dict)
    idle: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    method: str = ""
    recording: Any = field(default=None, compare=False, repr=False)

    @property
    def label(self) -> str:
        """Figure caption: ``measured (ina260, 998 Hz)``, ``ESTIMATED (model:rpi4b, 10 Hz)``."""
        word = {"measured": "measured", "estimated": "ESTIMATED"}.get(self.kind, "UNVERIFIED")
        return f"{word} ({self.meter}, {self.sample_rate_hz:.0f} Hz)"

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON (the recording is written separately, as files)."""
        data = {k: v for k, v in asdict(self).items() if k != "recording"}
        data["spread_mj"] = list(self.spread_mj)
        data["dynamic_spread_mj"] = list(self.dynamic_spread_mj)
        data["windows"] = [asdict(w) for w in self.windows]
        data["regimes"] = [{**asdict(r), "dynamic_spread_mj": list(r.dynamic_spread_mj)}
                           for r in self.regimes]
        data["warnings"] = list(self.warnings)
        data["label"] = self.label
        return data
