"""Energy per inference, measured the MLPerf Tiny EnergyRunner way.

Run inferences back to back for a window long enough for the meter to resolve (at least
``min_window_s`` and ``min_samples`` samples), integrate power over the window (trapezoid on the
sample timestamps, with the power at the exact window edges interpolated from the neighbouring
samples), divide by the number of inferences; repeat for ``windows`` windows and report the
median. Idle power is measured before and after, so dynamic energy (above idle) is reported too.
Every result carries its provenance: meter, measured or estimated, achieved sample rate, N.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from edgekit.energy.clock import Clock, MonotonicClock
from edgekit.energy.meters.base import Meter, SampleArrays, TraceSource
from edgekit.energy.sampler import Sampler
from edgekit.errors import MeterError

__all__ = [
    "EnergyResult",
    "WindowMeasurement",
    "integrate_energy_j",
    "measure_energy",
    "window_uncertainty_j",
]

_MAX_SAMPLER_HZ = 1000.0


def integrate_energy_j(samples: SampleArrays, t0_s: float, t1_s: float) -> float:
    """Energy (J) in [t0_s, t1_s] under the piecewise-linear curve through the samples.

    The curve is evaluated exactly at t0_s and t1_s by interpolating between the samples on
    either side (held constant beyond the first/last sample), so partial sample intervals at the
    edges count in proportion.
    """
    t, p = samples
    if t1_s <= t0_s or t.size == 0:
        return 0.0
    inner = (t > t0_s) & (t < t1_s)
    knots_t = np.concatenate(([t0_s], t[inner], [t1_s]))
    knots_p = np.interp(knots_t, t, p)
    return float(np.sum((knots_p[1:] + knots_p[:-1]) * np.diff(knots_t)) / 2.0)


def window_uncertainty_j(samples: SampleArrays, t0_s: float, t1_s: float) -> float:
    """A bound on the window's energy error from what the meter cannot see (J).

    Two parts: at each edge, the step between the straddling samples times half their spacing
    (the interpolation cannot know where in between the change happened); and twice the standard
    error of the mean power over the window, times its duration (point samples of a fluctuating
    load, noise, quantisation).
    """
    t, p = samples
    edges = 0.0
    for edge in (t0_s, t1_s):
        i = int(np.searchsorted(t, edge, side="right"))
        if 0 < i < t.size:
            edges += 0.5 * abs(float(p[i] - p[i - 1])) * float(t[i] - t[i - 1])
    inside = p[(t >= t0_s) & (t <= t1_s)]
    statistical = 0.0
    if inside.size > 1:
        statistical = 2.0 * float(np.std(inside, ddof=1)) / math.sqrt(inside.size) * (t1_s - t0_s)
    return edges + statistical


@dataclass(frozen=True)
class WindowMeasurement:
    """One measurement window."""

    start_s: float
    duration_s: float
    n_inferences: int
    n_samples: int
    energy_j: float
    mean_power_w: float
    energy_per_inference_mj: float
    dynamic_energy_per_inference_mj: float
    uncertainty_mj: float


@dataclass(frozen=True)
class EnergyResult:
    """Energy per inference with its spread and provenance.

    ``spread_mj`` is (low, high): the lowest and highest window, each widened by its own
    uncertainty (edges and standard error), so it shows both run-to-run variation and what the
    meter could not resolve. ``iqr_mj`` and ``mad_mj`` are of the raw window values.
    ``kind`` is "measured" or "estimated" and must be shown with every figure.
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
    windows: tuple[WindowMeasurement, ...] = field(default_factory=tuple)

    @property
    def label(self) -> str:
        """Figure caption: ``measured (ina260, 998 Hz)`` or ``ESTIMATED (model:rpi4b, 10 Hz)``."""
        word = "ESTIMATED" if self.kind == "estimated" else "measured"
        return f"{word} ({self.meter}, {self.sample_rate_hz:.0f} Hz)"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["spread_mj"] = list(self.spread_mj)
        data["windows"] = [asdict(w) for w in self.windows]
        data["label"] = self.label
        return data


def _relative_uncertainty(samples: SampleArrays, t0_s: float, t1_s: float) -> float:
    """Twice the standard error of the window's mean power, relative to that mean."""
    t, p = samples
    inside = p[(t >= t0_s) & (t <= t1_s)]
    mean = float(np.mean(inside)) if inside.size else 0.0
    if inside.size < 2 or mean <= 0:
        return 0.0
    return 2.0 * float(np.std(inside, ddof=1)) / math.sqrt(inside.size) / mean


def _wait_for_sample_after(source: TraceSource, clock: Clock, t_s: float, period_s: float) -> None:
    """Let the meter produce a sample at or after ``t_s`` so the edge can be interpolated."""
    limit_s = max(200 * period_s, 10.0)
    start_s = clock.monotonic()
    while source.count_between(t_s, math.inf) == 0:
        if clock.monotonic() - start_s > limit_s:
            raise MeterError(f"meter produced no sample for {limit_s:.1f} s after a window")
        clock.sleep(period_s)


def _idle_power_w(source: TraceSource, clock: Clock, idle_s: float, period_s: float) -> float:
    # let an averaging meter flush the preceding activity before the idle window opens
    clock.sleep(2.0 * period_s)
    t0 = clock.monotonic()
    clock.sleep(idle_s)
    t1 = clock.monotonic()
    _wait_for_sample_after(source, clock, t1, period_s)
    samples = source.samples_between(t0, t1)
    if source.count_between(t0, t1) < 2:
        raise MeterError(
            f"cannot resolve idle power: {t1 - t0:.2f} s idle has "
            f"{source.count_between(t0, t1)} samples, need >= 2; raise idle_s"
        )
    return integrate_energy_j(samples, t0, t1) / (t1 - t0)


def measure_energy(
    run_batch: Callable[[int], None],
    meter: Meter,
    *,
    min_window_s: float = 10.0,
    min_samples: int = 100,
    windows: int = 5,
    idle_s: float = 5.0,
    inferences_per_call: int = 1,
    warmup_calls: int = 1,
    max_window_s: float | None = None,
    max_relative_uncertainty: float = 0.02,
    rate_hz: float | None = None,
    clock: Clock | None = None,
) -> EnergyResult:
    """Measure energy per inference of ``run_batch(n)`` (which runs n inferences) on ``meter``.

    Meters that hold a timeline (replay, link, simulated) are read directly; others are polled
    by a ``Sampler`` thread at ``rate_hz`` (default: the meter's nominal rate, at most 1 kHz).
    A window keeps running until it is both ``min_window_s`` long and holds ``min_samples``;
    if that takes longer than ``max_window_s`` (default max(60 s, 4 x min_window_s)) the
    measurement is refused with ``MeterError("cannot resolve: ...")``. A window also keeps
    running until twice the standard error of its mean power is within
    ``max_relative_uncertainty`` of the mean: a point-sampling meter that is slow compared with a
    bursty load aliases, and then needs more samples (or is refused) rather than guessing.
    """
    if windows < 1 or inferences_per_call < 1 or min_samples < 2 or min_window_s <= 0:
        raise ValueError("windows, inferences_per_call >= 1, min_samples >= 2, min_window_s > 0")
    clock = clock or MonotonicClock()
    info = meter.info
    limit_s = max_window_s if max_window_s is not None else max(60.0, 4.0 * min_window_s)
    nominal_hz = min(rate_hz or info.sample_rate_hz, _MAX_SAMPLER_HZ)
    if nominal_hz * limit_s < min_samples:
        raise MeterError(
            f"cannot resolve: window {limit_s:.1f} s has {int(nominal_hz * limit_s)} samples at "
            f"{nominal_hz:g} Hz ({info.name}), need >= {min_samples}"
        )
    period_s = 1.0 / nominal_hz
    sampler: Sampler | None = None
    if isinstance(meter, TraceSource):
        source: TraceSource = meter
    elif getattr(clock, "is_virtual", False):
        raise MeterError(
            f"meter {info.name} is polled in real time and cannot follow a virtual clock; "
            "use a trace meter (replay, link, simulated)"
        )
    else:
        sampler = Sampler(meter, nominal_hz)
        sampler.start()
        source = sampler
    try:
        for _ in range(warmup_calls):
            run_batch(inferences_per_call)
        idle_before_w = _idle_power_w(source, clock, idle_s, period_s)
        raw: list[tuple[float, float, int, int, float, float]] = []
        for _ in range(windows):
            t0 = clock.monotonic()
            calls = 0
            next_check_s = min_window_s
            precision = math.inf
            while True:
                run_batch(inferences_per_call)
                calls += 1
                t1 = clock.monotonic()
                elapsed_s = t1 - t0
                if elapsed_s >= next_check_s and source.count_between(t0, t1) >= min_samples:
                    precision = _relative_uncertainty(source.samples_between(t0, t1), t0, t1)
                    if precision <= max_relative_uncertainty:
                        break
                    next_check_s = elapsed_s * 1.1  # re-check as the window grows, not per call
                if elapsed_s >= limit_s:
                    n_now = source.count_between(t0, t1)
                    why = (
                        f"need >= {min_samples}"
                        if n_now < min_samples
                        else f"mean power known to +/-{precision:.1%}, need "
                        f"+/-{max_relative_uncertainty:.1%} (point samples alias a bursty load)"
                    )
                    raise MeterError(
                        f"cannot resolve: window {elapsed_s:.1f} s has {n_now} samples, {why} "
                        f"({info.name}); raise max_window_s or use a faster/averaging meter"
                    )
            _wait_for_sample_after(source, clock, t1, period_s)
            samples = source.samples_between(t0, t1)
            raw.append(
                (
                    t0,
                    t1 - t0,
                    calls * inferences_per_call,
                    source.count_between(t0, t1),
                    integrate_energy_j(samples, t0, t1),
                    window_uncertainty_j(samples, t0, t1),
                )
            )
        idle_after_w = _idle_power_w(source, clock, idle_s, period_s)
    finally:
        if sampler is not None:
            sampler.stop()
    return _summarise(raw, idle_before_w, idle_after_w, meter)


def _summarise(
    raw: list[tuple[float, float, int, int, float, float]],
    idle_before_w: float,
    idle_after_w: float,
    meter: Meter,
) -> EnergyResult:
    idle_w = (idle_before_w + idle_after_w) / 2.0
    measured = tuple(
        WindowMeasurement(
            start_s=t0,
            duration_s=duration_s,
            n_inferences=n,
            n_samples=n_samples,
            energy_j=energy_j,
            mean_power_w=energy_j / duration_s,
            energy_per_inference_mj=energy_j / n * 1e3,
            dynamic_energy_per_inference_mj=(energy_j - idle_w * duration_s) / n * 1e3,
            uncertainty_mj=uncertainty_j / n * 1e3,
        )
        for t0, duration_s, n, n_samples, energy_j, uncertainty_j in raw
    )
    per_inf = np.array([w.energy_per_inference_mj for w in measured])
    q1, q3 = np.percentile(per_inf, [25, 75])
    median = float(np.median(per_inf))
    low = min(w.energy_per_inference_mj - w.uncertainty_mj for w in measured)
    high = max(w.energy_per_inference_mj + w.uncertainty_mj for w in measured)
    total_s = sum(w.duration_s for w in measured)
    info = meter.info
    return EnergyResult(
        energy_per_inference_mj=median,
        dynamic_energy_per_inference_mj=float(
            np.median([w.dynamic_energy_per_inference_mj for w in measured])
        ),
        idle_power_w=idle_w,
        active_power_w=float(np.median([w.mean_power_w for w in measured])),
        spread_mj=(low, high),
        iqr_mj=float(q3 - q1),
        mad_mj=float(np.median(np.abs(per_inf - median))),
        n_inferences=sum(w.n_inferences for w in measured),
        meter=info.name,
        meter_spec=info.spec,
        measures=info.measures,
        kind=info.kind,
        sample_rate_hz=sum(w.n_samples for w in measured) / total_s,
        duration_s=total_s,
        idle_power_before_w=idle_before_w,
        idle_power_after_w=idle_after_w,
        windows=measured,
    )
