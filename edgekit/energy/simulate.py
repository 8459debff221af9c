"""Synthetic power traces with known truth, for testing attribution without hardware or sleep.

A ``SimulatedBoard`` runs fake inferences on a ``VirtualClock`` (idle power between them, active
power during them, durations with jitter) and logs exactly when it was busy, so the true energy
of any interval is known. A ``SimulatedMeter`` samples that board the way a real meter would:
at a rate, optionally averaging over a conversion time (INA averaging, RAPL differencing), with
additive noise and ADC quantisation. ``synthesize_recording`` runs a whole simulated bench
(``measure_energy`` on a virtual clock) and returns the recording, trace and events, that
``replay:`` and ``edgekit energy attribute`` read back; ``synthesize_trace`` renders a bare trace
(readable, but without events it gives no energy figure). Simulated figures are ``unverified``.
This is edgekit's own model, for its tests; ``bench/closed_form.py`` is the independent one the
benchmark checks against.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.energy.clock import VirtualClock
from edgekit.energy.meters.base import MeterInfo, PowerSample, SampleArrays
from edgekit.energy.ring import window_of
from edgekit.energy.tracefile import PowerTrace, TraceHeader, read_trace, write_trace
from edgekit.errors import MeterError

__all__ = [
    "ActivityLog",
    "MeterModel",
    "SimulatedBoard",
    "SimulatedMeter",
    "Trace",
    "Workload",
    "synthesize_recording",
    "synthesize_trace",
]


@dataclass(frozen=True)
class Workload:
    """The truth: board power when idle and while inferring, inference and gap durations.

    ``jitter`` is the relative standard deviation of each duration; real inference times vary by
    a few percent, which also keeps a periodic workload from locking onto a meter's sample clock.
    """

    idle_w: float
    active_w: float
    inference_s: float
    gap_s: float = 0.0
    jitter: float = 0.02

    @property
    def energy_per_inference_mj(self) -> float:
        """True total energy per inference: active during the inference, idle during its gap."""
        return (self.active_w * self.inference_s + self.idle_w * self.gap_s) * 1e3

    @property
    def dynamic_energy_per_inference_mj(self) -> float:
        """True energy above idle per inference."""
        return (self.active_w - self.idle_w) * self.inference_s * 1e3


@dataclass(frozen=True)
class MeterModel:
    """How the simulated meter sees power.

    ``averaging_s`` = 0 is a point sample; > 0 averages true power over that long before each
    sample time (an INA with averaging, or a differencing counter). ``timing_jitter`` is the
    standard deviation of sample times as a fraction of the period.
    """

    rate_hz: float
    noise_w: float = 0.0
    lsb_w: float = 0.0
    averaging_s: float = 0.0
    timing_jitter: float = 0.0


class ActivityLog:
    """Busy intervals of a board, appended in time order; answers 'how busy until t'."""

    def __init__(self) -> None:
        self._chunks: list[tuple[np.ndarray, np.ndarray]] = []
        self._starts = np.zeros(0)
        self._ends = np.zeros(0)
        self._cum_before = np.zeros(0)

    def add(self, starts: np.ndarray, ends: np.ndarray) -> None:
        self._chunks.append(
            (np.asarray(starts, dtype=np.float64), np.asarray(ends, dtype=np.float64))
        )

    def _consolidate(self) -> None:
        if not self._chunks:
            return
        self._starts = np.concatenate([self._starts, *(s for s, _ in self._chunks)])
        self._ends = np.concatenate([self._ends, *(e for _, e in self._chunks)])
        self._chunks.clear()
        durations = self._ends - self._starts
        self._cum_before = np.concatenate(([0.0], np.cumsum(durations)[:-1]))

    def busy_time_s(self, t: np.ndarray) -> np.ndarray:
        """Total busy seconds before each time in ``t``."""
        self._consolidate()
        t = np.asarray(t, dtype=np.float64)
        if self._starts.size == 0:
            return np.zeros_like(t)
        k = np.searchsorted(self._starts, t, side="right") - 1
        kc = np.clip(k, 0, None)
        inside = np.clip(t - self._starts[kc], 0.0, self._ends[kc] - self._starts[kc])
        return np.where(k >= 0, self._cum_before[kc] + inside, 0.0)

    def busy_at(self, t: np.ndarray) -> np.ndarray:
        """Whether the board is busy at each instant."""
        self._consolidate()
        t = np.asarray(t, dtype=np.float64)
        if self._starts.size == 0:
            return np.zeros(t.shape, dtype=bool)
        k = np.searchsorted(self._starts, t, side="right") - 1
        kc = np.clip(k, 0, None)
        return (k >= 0) & (t < self._ends[kc])


class SimulatedBoard:
    """A board that 'runs' inferences by advancing a virtual clock and logging busy time."""

    def __init__(self, workload: Workload, clock: VirtualClock, seed: int = 0) -> None:
        self.workload = workload
        self.clock = clock
        self.log = ActivityLog()
        self.inferences = 0
        self._rng = np.random.default_rng(seed)

    def run_batch(self, n: int) -> None:
        """Run ``n`` inferences back to back (each followed by its gap); advances the clock."""
        w = self.workload
        if n <= 0:
            return
        durations = w.inference_s * np.clip(
            1.0 + w.jitter * self._rng.standard_normal(n), 0.1, None
        )
        gaps = w.gap_s * np.clip(1.0 + w.jitter * self._rng.standard_normal(n), 0.0, None)
        periods = durations + gaps
        starts = self.clock.monotonic() + np.concatenate(([0.0], np.cumsum(periods)[:-1]))
        self.log.add(starts, starts + durations)
        self.clock.advance(float(periods.sum()))
        self.inferences += n

    def pulse(self, duration_s: float) -> None:
        """Load the board fully for ``duration_s`` (a marker pulse for clock alignment)."""
        start = self.clock.monotonic()
        self.log.add(np.array([start]), np.array([start + duration_s]))
        self.clock.advance(duration_s)

    def power_w(self, t: np.ndarray, averaging_s: float = 0.0) -> np.ndarray:
        """True power at ``t`` (point), or averaged over [t - averaging_s, t]."""
        w = self.workload
        t = np.asarray(t, dtype=np.float64)
        if averaging_s <= 0:
            return np.where(self.log.busy_at(t), w.active_w, w.idle_w)
        busy = self.log.busy_time_s(t) - self.log.busy_time_s(t - averaging_s)
        return w.idle_w + (w.active_w - w.idle_w) * busy / averaging_s

    def true_energy_j(self, t0_s: float, t1_s: float) -> float:
        """Exact energy the board used in [t0_s, t1_s]."""
        w = self.workload
        busy = self.log.busy_time_s(np.array([t0_s, t1_s]))
        busy_s = float(busy[1] - busy[0])
        return w.idle_w * (t1_s - t0_s) + (w.active_w - w.idle_w) * busy_s


@dataclass
class _SampleClock:
    """Sample times and noise, generated lazily in chunks so they never depend on the workload."""

    model: MeterModel
    origin_s: float
    rng: np.random.Generator
    times: np.ndarray = field(default_factory=lambda: np.zeros(0))
    noise: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def extend_to(self, t_s: float) -> None:
        period = 1.0 / self.model.rate_hz
        while self.times.size == 0 or self.times[-1] <= t_s:
            k0 = self.times.size
            k = np.arange(k0 + 1, k0 + 4097, dtype=np.float64)
            jitter = self.model.timing_jitter * period * self.rng.standard_normal(k.size)
            new_times = self.origin_s + k * period + jitter
            if self.times.size:
                new_times = np.maximum(new_times, self.times[-1])
            new_times = np.maximum.accumulate(new_times)  # keep the timeline sorted
            self.times = np.concatenate((self.times, new_times))
            self.noise = np.concatenate(
                (self.noise, self.model.noise_w * self.rng.standard_normal(k.size))
            )


class SimulatedMeter:
    """A meter reading a ``SimulatedBoard``; only samples up to the clock's 'now' exist."""

    def __init__(self, board: SimulatedBoard, model: MeterModel, seed: int = 1) -> None:
        self.board = board
        self.model = model
        self._samples = _SampleClock(model, board.clock.monotonic(), np.random.default_rng(seed))
        self._info = MeterInfo(
            name="simulated",
            spec=f"simulated:rate_hz={model.rate_hz}",
            kind="unverified",  # a simulation is never a measurement
            sample_rate_hz=model.rate_hz,
            resolution_w=model.lsb_w or None,
            measures="simulated board input",
            averaging_s=model.averaging_s,
            notes=(
                f"noise {model.noise_w} W rms, LSB {model.lsb_w} W, "
                f"averaging {model.averaging_s * 1e3:.2f} ms"
            ),
        )

    @property
    def info(self) -> MeterInfo:
        return self._info

    def _observe(self, times: np.ndarray, noise: np.ndarray) -> np.ndarray:
        power = self.board.power_w(times, self.model.averaging_s) + noise
        if self.model.lsb_w > 0:
            power = np.round(power / self.model.lsb_w) * self.model.lsb_w
        return np.asarray(power)

    def _upto_now(self) -> int:
        now = self.board.clock.monotonic()
        self._samples.extend_to(now)
        return int(np.searchsorted(self._samples.times, now, side="right"))

    def samples_between(self, t0_s: float, t1_s: float) -> SampleArrays:
        n = self._upto_now()
        times = self._samples.times[:n]
        lo = max(int(np.searchsorted(times, t0_s, side="left")) - 1, 0)
        hi = min(int(np.searchsorted(times, t1_s, side="right")) + 1, n)
        return SampleArrays(
            times[lo:hi].copy(), self._observe(times[lo:hi], self._samples.noise[lo:hi])
        )

    def count_between(self, t0_s: float, t1_s: float) -> int:
        n = self._upto_now()
        times = self._samples.times[:n]
        return int(np.searchsorted(times, t1_s, "right") - np.searchsorted(times, t0_s, "left"))

    def read(self) -> PowerSample:
        n = self._upto_now()
        if n == 0:
            raise MeterError("simulated meter: no sample yet")
        t = self._samples.times[n - 1 : n]
        return PowerSample(float(t[0]), float(self._observe(t, self._samples.noise[n - 1 : n])[0]))

    def close(self) -> None:
        pass


@dataclass
class Trace:
    """A recorded or synthetic trace; CSV columns timestamp_s,power_w[,voltage_v,current_a]."""

    timestamps_s: np.ndarray
    power_w: np.ndarray
    voltage_v: np.ndarray | None = None
    current_a: np.ndarray | None = None
    meta: dict[str, str] = field(default_factory=dict)

    def window(self, t0_s: float, t1_s: float) -> SampleArrays:
        return window_of(self.timestamps_s, self.power_w, t0_s, t1_s)

    def to_power_trace(self) -> PowerTrace:
        """This trace in the file format's terms (its ``meta`` becomes the header)."""
        return PowerTrace(
            self.timestamps_s, self.power_w, TraceHeader.from_meta(self.meta, "simulated trace"),
            self.voltage_v, self.current_a, source="simulated trace",
        )

    def write_csv(self, path: str | Path) -> Path:
        """Write it as a power-trace file (``docs/energy-files.md``)."""
        return write_trace(self.to_power_trace(), path)

    @classmethod
    def read_csv(cls, path: str | Path) -> Trace:
        """Read a power-trace file back (``DataError`` naming file and line when malformed)."""
        t = read_trace(path)
        return cls(t.timestamps_s, t.power_w, t.voltage_v, t.current_a, t.header.to_meta())


def synthesize_trace(
    workload: Workload,
    model: MeterModel,
    *,
    active_s: float,
    idle_before_s: float = 1.0,
    idle_after_s: float = 1.0,
    seed: int = 0,
) -> tuple[Trace, float]:
    """Idle, back-to-back inferences for ``active_s``, idle; returns the trace and true energy (J).

    The true energy covers the whole trace span from its first to its last sample.
    """
    clock = VirtualClock(0.0)
    board = SimulatedBoard(workload, clock, seed=seed)
    meter = SimulatedMeter(board, model, seed=seed + 1)
    clock.advance(idle_before_s)
    per_call = max(1, int(0.05 / max(workload.inference_s + workload.gap_s, 1e-9)))
    start = clock.monotonic()
    while clock.monotonic() - start < active_s:
        board.run_batch(per_call)
    clock.advance(idle_after_s)
    samples = meter.samples_between(0.0, clock.monotonic())
    keep = samples.timestamps_s <= clock.monotonic()
    t, p = samples.timestamps_s[keep], samples.power_w[keep]
    meta = {
        "source": "edgekit.energy.simulate",
        "meter": "simulated",
        "measures": "synthetic board trace",
        "idle_w": str(workload.idle_w),
        "active_w": str(workload.active_w),
        "inference_s": str(workload.inference_s),
        "rate_hz": str(model.rate_hz),
    }
    return Trace(t, p, meta=meta), board.true_energy_j(float(t[0]), float(t[-1]))


def synthesize_recording(
    workload: Workload,
    model: MeterModel,
    *,
    windows: int = 3,
    window_s: float = 2.0,
    idle_s: float = 1.0,
    context: dict[str, str] | None = None,
    markers: bool = False,
    seed: int = 0,
) -> tuple[Any, SimulatedBoard]:
    """A whole simulated bench run: the ``EnergyResult`` (with ``.recording``) and the board.

    The recording is what ``--record`` would write for this run; its trace names the meter
    ``simulated``, so it is never *measured* (tests that need a measured recording rewrite the
    header explicitly).
    """
    from edgekit.energy.attribution import measure_energy

    clock = VirtualClock(0.0)
    board = SimulatedBoard(workload, clock, seed=seed)
    meter = SimulatedMeter(board, model, seed=seed + 1)
    per_call = max(1, int(0.05 / max(workload.inference_s + workload.gap_s, 1e-9)))
    result = measure_energy(
        board.run_batch, meter, clock=clock, inferences_per_call=per_call, windows=windows,
        min_window_s=window_s, idle_s=idle_s, min_samples=10, context=context,
        marker=board.pulse if markers else None, seed=seed,
    )
    return result, board
