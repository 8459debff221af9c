"""Measure energy per inference live, the MLPerf Tiny EnergyRunner way, and keep the recording.

The schedule: warm-up, an optional marker pulse, idle, then for each window inferences back to
back (each call after a random gap when the meter point-samples, so the loop cannot beat with the
sample clock) until the window is long enough and holds enough samples, idle after every window,
an optional closing marker. Every step goes into an ``EventRecorder`` on the host clock; the
meter's samples over the whole run become a ``PowerTrace``; ``attribute`` turns the pair into
the figures. The pair is returned with the result (``result.recording``), so ``--record`` writes
exactly what was attributed and ``edgekit energy attribute`` reproduces the figure from the files.

``measure_duty_energy`` does the same at the field duty cycle: one capture per period with sleep
between, so wake-up and governor tails are part of the energy per capture.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from edgekit.energy.aliasing import dither_batch, dither_gap_s
from edgekit.energy.attribute import AttributionOptions, attribute
from edgekit.energy.clock import Clock, MonotonicClock
from edgekit.energy.events import EventRecorder
from edgekit.energy.integrate import integrate_energy_j
from edgekit.energy.meters.base import Meter, TraceSource
from edgekit.energy.provenance import live_provenance
from edgekit.energy.recording import Recording
from edgekit.energy.result import EnergyResult, WindowMeasurement
from edgekit.energy.sampler import Sampler
from edgekit.energy.tracefile import PowerTrace, TraceHeader
from edgekit.errors import MeterError

__all__ = [
    "EnergyResult",
    "WindowMeasurement",
    "integrate_energy_j",
    "measure_duty_energy",
    "measure_energy",
]

_MAX_SAMPLER_HZ = 1000.0
MIN_IDLE_PERIODS = 5.0  # the shortest idle segment, in meter sample periods


class _Run:
    """One live run: the meter's timeline, the clock, the recorder, and the schedule's steps."""

    def __init__(self, meter: Meter, clock: Clock, rate_hz: float | None, planned_s: float,
                 header: dict[str, Any], env_probe: Callable[[], dict[str, Any]] | None) -> None:
        info = meter.info
        if info.name == "replay" or getattr(meter, "recording", None) is not None:
            raise MeterError(
                f"meter {info.spec!r}: a replayed trace is attributed with its own events "
                "(edgekit energy attribute, or bench --meter replay:DIR), never against inferences "
                "run live on this host"
            )
        self.info, self.clock, self.env_probe = info, clock, env_probe
        self.hz = min(rate_hz or info.sample_rate_hz, _MAX_SAMPLER_HZ)
        ready = callable(getattr(meter, "read_if_ready", None))
        poll_hz = min(2.0 * self.hz, _MAX_SAMPLER_HZ) if ready else self.hz  # every value once
        self.period_s = 1.0 / self.hz
        self.sampler: Sampler | None = None
        if isinstance(meter, TraceSource):
            self.source: Any = meter
        elif getattr(clock, "is_virtual", False):
            raise MeterError(
                f"meter {info.name} is polled in real time and cannot follow a virtual clock; "
                "use a trace meter (link, simulated)"
            )
        else:
            self.sampler = Sampler(meter, poll_hz, capacity_s=max(600.0, 1.5 * planned_s))
            self.sampler.start()
            self.source = self.sampler
        self.rec = EventRecorder(header)
        self.first_s = clock.monotonic()

    def stop(self) -> None:
        if self.sampler is not None:
            self.sampler.stop()

    def env(self) -> None:
        if self.env_probe is not None:
            self.rec.env(self.clock.monotonic(), dict(self.env_probe()))

    def idle(self, idle_s: float) -> None:
        # an idle segment must keep samples after attribution's settle and tail guards (which take
        # up to half of it): at least MIN_IDLE_PERIODS sample periods, however short --idle-s is;
        # the event log records the idle actually spent, so attribution is unaffected
        idle_s = max(idle_s, MIN_IDLE_PERIODS * self.period_s)
        t0 = self.clock.monotonic()
        self.clock.sleep(idle_s)
        self.rec.idle(t0, self.clock.monotonic())

    def marker(self, pulse: Callable[[float], None], pulse_s: float) -> None:
        t0 = self.clock.monotonic()
        pulse(pulse_s)
        self.rec.marker(t0, self.clock.monotonic())

    def call(self, run_batch: Callable[[int], None], n: int) -> tuple[float, float]:
        s = self.clock.monotonic()
        run_batch(n)
        e = self.clock.monotonic()
        self.rec.call(s, e, n)
        return s, e

    def finish(self) -> PowerTrace:
        """Close the log, wait for a sample after it, and cut the meter's samples of the run."""
        end_s = self.clock.monotonic()
        self.rec.end(end_s)
        delay = self.sampler.delay_s if self.sampler is not None else 0.0
        # a sample stands for the average before it: wait for one that covers the end
        need_s = end_s + self.info.averaging_s + delay + self.period_s
        limit_s = max(200 * self.period_s, 10.0)
        while self.source.count_between(need_s, math.inf) == 0:
            if self.clock.monotonic() - end_s > limit_s:
                raise MeterError(f"meter produced no sample for {limit_s:.1f} s after the run")
            self.clock.sleep(self.period_s)
        t, p = self.source.samples_between(self.first_s - self.period_s, need_s)
        info, ctx = self.info, self.rec.header

        def named(key: str) -> str | None:
            return None if ctx.get(key) is None else str(ctx[key])

        header = TraceHeader(
            kind=info.kind, meter=info.name, meter_spec=info.spec, measures=info.measures,
            sample_rate_hz=info.sample_rate_hz, averaging_s=info.averaging_s,
            resolution_w=info.resolution_w, clock="host", board=named("board"),
            delay_s=delay,
            board_model=named("board_model"), soc=named("soc"), bundle_id=named("bundle_id"),
            variant=named("variant"), variant_sha256=named("variant_sha256"),
            recorded_by=named("recorded_by"),
        )
        return PowerTrace(np.asarray(t), np.asarray(p), header, source=f"{info.name} (live)")


def _header(info: Any, context: Mapping[str, Any] | None, opts: AttributionOptions,
            **extra: Any) -> dict[str, Any]:
    from edgekit import __version__

    ctx = {k: v for k, v in dict(context or {}).items() if v is not None}
    return {"recorded_by": f"edgekit {__version__}", "meter": info.name, "meter_spec": info.spec,
            **ctx, **extra, "attribution": opts.to_dict()}


def _relative_se(source: Any, t0: float, t1: float) -> float:
    """Twice the standard error of the window's mean power, relative to it (stopping rule only)."""
    _, p = source.samples_between(t0, t1)
    mean = float(np.mean(p)) if p.size else 0.0
    if p.size < 2 or mean <= 0:
        return 0.0
    return 2.0 * float(np.std(p, ddof=1)) / math.sqrt(p.size) / mean


def _attribute(run: _Run, context: Mapping[str, Any] | None, opts: AttributionOptions) -> EnergyResult:
    trace = run.finish()
    events = run.rec.log()
    info = run.info
    prov = live_provenance(info.name, info.spec, info.kind, context)
    result = attribute(trace, events, options=opts, provenance=prov)
    return replace(result, recording=Recording(trace, events))


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
    dither: bool | None = None,
    marker: Callable[[float], None] | None = None,
    marker_s: float = 0.3,
    env_probe: Callable[[], dict[str, Any]] | None = None,
    context: Mapping[str, Any] | None = None,
    options: AttributionOptions | None = None,
    seed: int = 0,
) -> EnergyResult:
    """Measure energy per inference of ``run_batch(n)`` (which runs n inferences) on ``meter``.

    A window runs until it is ``min_window_s`` long, holds ``min_samples`` samples and its mean
    power is known to ``max_relative_uncertainty`` (or it reaches ``max_window_s``, default
    max(60 s, 4 x min_window_s); the interval then says how well it is known). Without
    ``min_samples`` by ``max_window_s`` it is refused (``MeterError("cannot resolve ...")``).
    ``dither`` (default: unless the meter's averages tile time) waits a random gap before each call and
    varies the calls' batch sizes, so the loop cannot beat with the sample clock; ``marker`` (a function that
    loads the board for the given seconds) adds marker pulses at both ends for clock alignment;
    ``env_probe`` is read around every window (governor, clock, temperature); ``context`` names
    board and bundle for the provenance.
    """
    if windows < 1 or inferences_per_call < 1 or min_samples < 2 or min_window_s <= 0:
        raise ValueError("windows, inferences_per_call >= 1, min_samples >= 2, min_window_s > 0")
    clock = clock or MonotonicClock()
    opts = options or AttributionOptions(seed=seed)
    limit_s = max_window_s if max_window_s is not None else max(60.0, 4.0 * min_window_s)
    info = meter.info
    nominal_hz = min(rate_hz or info.sample_rate_hz, _MAX_SAMPLER_HZ)
    if nominal_hz * limit_s < min_samples:
        raise MeterError(
            f"cannot resolve: window {limit_s:.1f} s has {int(nominal_hz * limit_s)} samples at "
            f"{nominal_hz:g} Hz ({info.name}), need >= {min_samples}"
        )
    rng = np.random.default_rng(seed)
    planned = (windows + 1) * idle_s + windows * limit_s + 4 * marker_s
    run = _Run(meter, clock, rate_hz, planned, {}, env_probe)
    try:
        t0 = clock.monotonic()
        for _ in range(max(warmup_calls, 1)):
            run_batch(inferences_per_call)
        per_inference_s = (clock.monotonic() - t0) / max(warmup_calls, 1) / inferences_per_call
        if dither is None:  # a meter whose averages tile time cannot alias; point samples can
            dither = info.averaging_s < 0.9 / nominal_hz
        run.rec.header = _header(info, context, opts, mode="back-to-back", dither=bool(dither))
        if marker is not None:
            run.marker(marker, marker_s)
        run.env()
        run.idle(idle_s)
        for _ in range(windows):
            run.env()
            ws: float | None = None  # not a negative sentinel: a monotonic clock's origin is arbitrary
            next_check_s = min_window_s
            while True:
                n_call = inferences_per_call
                if dither:
                    clock.sleep(dither_gap_s(rng, min(per_inference_s, run.period_s)))
                    n_call = dither_batch(rng, inferences_per_call)
                s, e = run.call(run_batch, n_call)
                ws = s if ws is None else ws
                elapsed_s = e - ws
                if elapsed_s >= next_check_s or elapsed_s >= limit_s:
                    enough = run.source.count_between(ws, e) >= min_samples
                    if enough and (elapsed_s >= limit_s or
                                   _relative_se(run.source, ws, e) <= max_relative_uncertainty):
                        break
                    next_check_s = elapsed_s * 1.1  # re-check as the window grows, not per call
                if elapsed_s >= limit_s:
                    raise MeterError(
                        f"cannot resolve: window {elapsed_s:.1f} s has "
                        f"{run.source.count_between(ws, e)} samples, need >= {min_samples} "
                        f"({info.name}); raise max_window_s or use a faster meter"
                    )
            run.rec.window(ws, e)
            run.env()
            run.idle(idle_s)
        if marker is not None:
            run.marker(marker, marker_s)
            run.idle(min(idle_s, 1.0))
        return _attribute(run, context, opts)
    finally:
        run.stop()


def measure_duty_energy(
    run_batch: Callable[[int], None],
    meter: Meter,
    duty_hz: float,
    *,
    captures_per_window: int = 20,
    windows: int = 5,
    idle_s: float = 5.0,
    clock: Clock | None = None,
    rate_hz: float | None = None,
    env_probe: Callable[[], dict[str, Any]] | None = None,
    context: Mapping[str, Any] | None = None,
    options: AttributionOptions | None = None,
) -> EnergyResult:
    """Energy per capture at ``duty_hz`` captures per second, with sleep between captures.

    Each window is ``captures_per_window`` whole periods (a capture, then sleep to the next
    tick), so the energy of waking up and of the governor's tail after each capture is in the
    dynamic figure; idle is measured around every window as for back-to-back runs.
    """
    if not (math.isfinite(duty_hz) and duty_hz > 0) or captures_per_window < 2 or windows < 1:
        raise ValueError("duty_hz > 0, captures_per_window >= 2, windows >= 1")
    clock = clock or MonotonicClock()
    opts = options or AttributionOptions()
    period_s = 1.0 / duty_hz
    planned = (windows + 1) * idle_s + windows * captures_per_window * period_s
    run = _Run(meter, clock, rate_hz, planned, {}, env_probe)
    try:
        run_batch(1)  # warm-up
        run.rec.header = _header(meter.info, context, opts, mode="duty", duty_hz=duty_hz, dither=False)
        run.env()
        run.idle(idle_s)
        for _ in range(windows):
            run.env()
            ws = clock.monotonic()
            for k in range(captures_per_window):
                run.call(run_batch, 1)
                clock.sleep(ws + (k + 1) * period_s - clock.monotonic())
            we = clock.monotonic()
            run.rec.window(ws, we)
            run.env()
            run.idle(idle_s)
        return _attribute(run, context, opts)
    finally:
        run.stop()
