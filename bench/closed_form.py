"""An independent closed-form board and meter for bench_meters.py (nothing from edgekit.energy).

The board: idle power idle(t) (constant, a linear drift, or a sine wander), plus a constant extra
power while an inference runs (changed, with the inference time, at a DVFS step), plus background
spikes that no inference causes. Every quantity has a closed-form running integral, so a meter
sample (a point, a box average over its period, or an INA-style average over shunt conversion
slots) is exact, and so is the truth: dynamic = extra x busy time / N, total = dynamic + the
integral of idle(t) over the busy time / N (spikes are not the model's and are in neither).

The run follows the bench's shape (marker pulses, idle, windows of calls, idle after each), the
calls dithered as documented (a random gap before each, random batch sizes) unless told not to.
Files are written in the documented formats (docs/energy-files.md) by this module's own code.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["Case", "Run", "make_run", "write_files"]


@dataclass(frozen=True)
class Case:
    name: str
    idle_w: float = 2.0
    active_w: float = 3.0
    inference_s: float = 0.002
    per_call: int = 5
    windows: int = 5
    window_s: float = 10.0
    idle_s: float = 5.0
    rate_hz: float = 1000.0
    sampling: str = "point"  # point | box (averages its whole period) | ina (shunt slots)
    ina_avg: int = 16
    ina_shunt_s: float = 1.1e-3
    ina_bus_s: float = 0.14e-3
    noise_w: float = 0.01
    lsb_w: float = 0.0
    skew: float = 0.0
    offset_s: float = 0.0
    stamp_jitter_s: float = 0.0
    duration_jitter: float = 0.02
    dither: bool = True
    loop_gap_s: float = 0.0
    markers: bool = True
    drift: float = 0.0
    wander: float = 0.0
    dvfs: tuple[float, float, float] | None = None  # (at fraction of the run, time x, new active W)
    spikes_per_s: float = 0.0
    spike_w: float = 1.0
    spike_s: float = 0.02
    unit_scale: float = 1.0  # 1000: power written in mW under a W column
    env: bool = True
    expect: str = "figure"  # figure | refusal:<cause> | warning:<cause>
    note: str = ""
    extra_header: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Run:
    events: list[dict[str, object]]
    t: np.ndarray  # meter timestamps
    p: np.ndarray  # meter readings (W, before unit_scale)
    dynamic_mj: float
    total_mj: float
    n: int


class _Board:
    def __init__(self, case: Case, busy: np.ndarray, span_s: float, spikes: np.ndarray, dvfs_s: float):
        self.c, self.busy, self.span, self.spikes, self.dvfs_s = case, busy, span_s, spikes, dvfs_s
        d = busy[:, 1] - busy[:, 0]
        self.cum = np.concatenate(([0.0], np.cumsum(d)))

    def _busy_before(self, t: np.ndarray) -> np.ndarray:
        k = np.searchsorted(self.busy[:, 0], t, side="right") - 1
        kc = np.clip(k, 0, None)
        inside = np.clip(t - self.busy[kc, 0], 0.0, self.busy[kc, 1] - self.busy[kc, 0])
        return np.where(k >= 0, self.cum[kc] + inside, 0.0)

    def idle_int(self, t: np.ndarray) -> np.ndarray:
        c, big_t = self.c, self.span
        lin = c.idle_w * (t + c.drift * (t * t / big_t - t))
        sine = -c.idle_w * c.wander * big_t / (2 * math.pi) * (np.cos(2 * math.pi * t / big_t) - 1)
        return lin + sine

    def extra_int(self, t: np.ndarray) -> np.ndarray:
        c = self.c
        before = self._busy_before(np.minimum(t, self.dvfs_s))
        after_active = c.dvfs[2] if c.dvfs else c.active_w
        return (c.active_w - c.idle_w) * before + (after_active - c.idle_w) * (
            self._busy_before(t) - before)

    def spike_int(self, t: np.ndarray) -> np.ndarray:
        if self.spikes.size == 0:
            return np.zeros_like(t)
        on = np.clip(t[:, None] - self.spikes[None, :], 0.0, self.c.spike_s)
        return self.c.spike_w * on.sum(axis=1)

    def energy(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        def f(x: np.ndarray) -> np.ndarray:
            return self.idle_int(x) + self.extra_int(x) + self.spike_int(x)

        return f(b) - f(a)


def _schedule(case: Case, rng: np.random.Generator) -> tuple[list[dict[str, object]], np.ndarray,
                                                              np.ndarray, float, float]:
    ev: list[dict[str, object]] = []
    busy: list[tuple[float, float]] = []
    calls: list[tuple[float, float, int]] = []
    total = 2.0 + (case.windows + 1) * case.idle_s + case.windows * case.window_s + 3.0
    dvfs_s = case.dvfs[0] * total if case.dvfs else math.inf
    t = 0.5
    if case.markers:
        ev.append({"event": "marker", "start_s": t, "end_s": t + 0.3})
        busy.append((t, t + 0.3))
        t += 1.3
    period = 1.0 / case.rate_hz
    for k in range(case.windows + 1):
        if case.env:
            slow = t >= dvfs_s
            ev.append({"event": "env", "t_s": t, "governor": "ondemand",
                       "freq_mhz": 600.0 if slow else 1800.0, "temp_c": 50.0})
        ev.append({"event": "idle", "start_s": t, "end_s": t + case.idle_s})
        t += case.idle_s
        if k == case.windows:
            break
        ws = t
        while t - ws < case.window_s:
            if case.dither:
                t += rng.uniform(0.0, min(case.inference_s, period))
            n = case.per_call
            if case.dither and n >= 2:
                n = int(rng.integers((n + 1) // 2, n + n // 2 + 1))
            scale = case.dvfs[1] if t >= dvfs_s and case.dvfs else 1.0
            d = float(np.sum(case.inference_s * scale * (1 + case.duration_jitter * rng.standard_normal(n))))
            calls.append((t, t + d, n))
            busy.append((t, t + d))
            ev.append({"event": "batch" if n > 1 else "inference", "start_s": t, "end_s": t + d,
                       **({"n": n} if n > 1 else {})})
            t += d + case.loop_gap_s
        ev.append({"event": "window", "start_s": ws, "end_s": t})
    if case.markers:
        ev.append({"event": "marker", "start_s": t, "end_s": t + 0.3})
        busy.append((t, t + 0.3))
        ev.append({"event": "idle", "start_s": t + 0.3, "end_s": t + 1.3})
        t += 1.3
    ev.append({"event": "end", "t_s": t})
    return ev, np.array(busy), np.array(calls), t + 1.0, dvfs_s


def _sample_times(case: Case, span: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray,
                                                                              np.ndarray]:
    """(reading instants, window starts, window ends) of the meter on the true clock."""
    if case.sampling == "ina":
        period = case.ina_avg * (case.ina_shunt_s + case.ina_bus_s)
        ends = np.arange(period, span, period) + rng.uniform(0, period)
        poll = period / 2.0
        read = ends + rng.uniform(0, poll, ends.size)  # seen at the next poll of the ready flag
        return read, ends - period, ends
    h = np.arange(0.0, span, 1.0 / case.rate_hz) + rng.uniform(0, 1.0 / case.rate_hz)
    return h, h - (1.0 / case.rate_hz if case.sampling == "box" else 0.0), h


def _readings(case: Case, board: _Board, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if case.sampling == "point":
        eps = 1e-9
        return board.energy(b - eps, b + eps) / (2 * eps)
    if case.sampling == "box":
        return board.energy(a, b) / (b - a)
    slot = case.ina_shunt_s + case.ina_bus_s  # current only during the shunt part of each slot
    total = np.zeros(a.size)
    for k in range(case.ina_avg):
        s0 = a + k * slot + case.ina_bus_s
        total += board.energy(s0, s0 + case.ina_shunt_s)
    return total / (case.ina_avg * case.ina_shunt_s)


def make_run(case: Case, seed: int) -> Run:
    rng = np.random.default_rng(seed)
    events, busy, calls, span, dvfs_s = _schedule(case, rng)
    n_spikes = rng.poisson(case.spikes_per_s * span)
    spikes = np.sort(rng.uniform(0, span, n_spikes))
    board = _Board(case, busy, span, spikes, dvfs_s)
    read, a, b = _sample_times(case, span, rng)
    p = _readings(case, board, a, b) + case.noise_w * rng.standard_normal(read.size)
    if case.lsb_w:
        p = np.round(p / case.lsb_w) * case.lsb_w
    m = case.offset_s + (1 + case.skew) * read + case.stamp_jitter_s * rng.standard_normal(read.size)
    n = calls[:, 2].sum()
    dyn = (board.extra_int(calls[:, 1]) - board.extra_int(calls[:, 0])).sum()
    # the floor under an inference is idle plus the background's average draw (what idle looks
    # like to any meter); the spikes themselves are not the model's
    background_w = case.spikes_per_s * case.spike_w * case.spike_s
    idle = (board.idle_int(calls[:, 1]) - board.idle_int(calls[:, 0])).sum() + background_w * (
        calls[:, 1] - calls[:, 0]).sum()
    return Run(events, np.maximum.accumulate(m), p, dyn / n * 1e3, (dyn + idle) / n * 1e3, int(n))


def write_files(case: Case, run: Run, folder: Path, seed: int) -> tuple[Path, Path]:
    """The trace (CSV) and events (JSON Lines) in the documented formats, written by hand."""
    own_clock = case.skew != 0 or case.offset_s != 0 or case.stamp_jitter_s != 0
    if case.sampling == "ina":
        period = case.ina_avg * (case.ina_shunt_s + case.ina_bus_s)
        averaging, delay, rate = period, period / 4.0, 1.0 / period
    else:
        averaging = 1.0 / case.rate_hz if case.sampling == "box" else 0.0
        delay, rate = 0.0, case.rate_hz
    header = {"format": "edgekit-power-trace/1", "kind": "measured", "meter": "ina260",
              "sample_rate_hz": repr(rate), "averaging_s": repr(averaging), "delay_s": repr(delay),
              "clock": "meter" if own_clock else "host", "board": "rpi4b", "bundle_id": "bench",
              **case.extra_header}
    power = folder / f"{case.name}-{seed}.power.csv"
    with power.open("w") as f:
        f.writelines(f"# {k}={v}\n" for k, v in header.items())
        f.write("timestamp_s,power_w\n")
        np.savetxt(f, np.column_stack((run.t, run.p * case.unit_scale)), fmt="%.17g", delimiter=",")
    events = folder / f"{case.name}-{seed}.events.jsonl"
    with events.open("w") as f:
        f.write(json.dumps({"format": "edgekit-events/1", "mode": "back-to-back", "board": "rpi4b",
                            "bundle_id": "bench", "dither": case.dither}) + "\n")
        f.writelines(json.dumps(e) + "\n" for e in run.events)
    return power, events
