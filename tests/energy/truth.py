"""Closed-form power runs for the attribution tests, written independently of edgekit.energy.simulate.

A run is a schedule of idle segments and windows of calls (each n inferences back to back) on the
host clock, and a board whose power is idle(t) + extra(t) while busy, where idle(t) may drift
linearly or step and extra(t) may change at a DVFS step. The truth is computed here in closed
form from the busy intervals: dynamic = sum of extra x busy time / N, total = dynamic + the
integral of idle(t) over the busy time / N. A meter samples the board on its own clock (offset,
skew, timestamp jitter), by point samples or by exact box averages over its period.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgekit.energy import EventLog, EventRecorder, PowerTrace, TraceHeader


@dataclass(frozen=True)
class Scenario:
    idle_w: float = 2.0
    active_w: float = 3.0
    inference_s: float = 0.002
    per_call: int = 5
    windows: int = 5
    window_s: float = 10.0
    idle_s: float = 5.0
    rate_hz: float = 1000.0
    averaging: bool = False
    noise_w: float = 0.01
    offset_s: float = 0.0
    skew: float = 0.0  # meter clock runs (1 + skew) x host
    stamp_jitter_s: float = 0.0
    duration_jitter: float = 0.02
    dither: bool = True
    loop_gap_s: float = 0.0  # a fixed gap after every call (a loop's own overhead)
    markers: bool = False
    drift: float = 0.0  # idle goes from (1 - drift) to (1 + drift) x idle_w over the run
    idle_step: tuple[float, float] | None = None  # (at host s, +W)
    dvfs: tuple[float, float, float] | None = None  # (at host s, duration x, new active W)
    env: bool = False  # record governor/clock around windows (with the DVFS step)
    seed: int = 0
    header: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Truth:
    dynamic_mj: float
    total_mj: float
    n: int
    regimes: tuple[tuple[float, float], ...] = ()  # (dynamic, total) before / after a DVFS step


class _Board:
    def __init__(self, sc: Scenario, busy: np.ndarray, end_s: float) -> None:
        self.sc, self.busy, self.end_s = sc, busy, end_s
        self.cum = np.concatenate(([0.0], np.cumsum(busy[:, 1] - busy[:, 0])))

    def busy_before(self, t: np.ndarray) -> np.ndarray:
        k = np.searchsorted(self.busy[:, 0], t, side="right") - 1
        kc = np.clip(k, 0, None)
        inside = np.clip(t - self.busy[kc, 0], 0.0, self.busy[kc, 1] - self.busy[kc, 0])
        return np.where(k >= 0, self.cum[kc] + inside, 0.0)

    def idle_integral(self, t: np.ndarray) -> np.ndarray:
        """Integral of idle(t) from 0."""
        sc, big_t = self.sc, self.end_s
        out = sc.idle_w * (t + sc.drift * (t * t / big_t - t))
        if sc.idle_step is not None:
            out = out + sc.idle_step[1] * np.clip(t - sc.idle_step[0], 0.0, None)
        return out

    def extra_integral(self, t: np.ndarray) -> np.ndarray:
        """Integral of the busy extra power from 0."""
        sc = self.sc
        extra = sc.active_w - sc.idle_w
        if sc.dvfs is None:
            return extra * self.busy_before(t)
        at, _, new_active = sc.dvfs
        before = self.busy_before(np.minimum(t, at))
        return extra * before + (new_active - sc.idle_w) * (self.busy_before(t) - before)

    def energy(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return (self.idle_integral(b) - self.idle_integral(a)
                + self.extra_integral(b) - self.extra_integral(a))

    def point(self, t: np.ndarray) -> np.ndarray:
        eps = 1e-9
        return self.energy(t - eps, t + eps) / (2 * eps)


def make_run(sc: Scenario) -> tuple[PowerTrace, EventLog, Truth]:
    rng = np.random.default_rng(sc.seed)
    rec = EventRecorder({"mode": "back-to-back", **sc.header})
    busy: list[tuple[float, float]] = []
    calls: list[tuple[float, float, int]] = []
    t = 0.5
    if sc.markers:
        rec.marker(t, t + 0.5)
        busy.append((t, t + 0.5))
        t += 2.0
    rec.idle(t, t + sc.idle_s)
    t += sc.idle_s
    for _ in range(sc.windows):
        if sc.env:
            rec.env(t, _env_at(sc, t))
        ws = t
        while t - ws < sc.window_s:
            scale = sc.dvfs[1] if sc.dvfs is not None and t >= sc.dvfs[0] else 1.0
            d = sc.per_call * sc.inference_s * scale * (1 + sc.duration_jitter * rng.standard_normal())
            rec.call(t, t + d, sc.per_call)
            busy.append((t, t + d))
            calls.append((t, t + d, sc.per_call))
            t += d + sc.loop_gap_s
            if sc.dither:
                t += rng.uniform(0, min(sc.inference_s, 1.0 / sc.rate_hz))
        rec.window(ws, t)
        if sc.env:
            rec.env(t, _env_at(sc, t))
        rec.idle(t, t + sc.idle_s)
        t += sc.idle_s
    if sc.markers:
        rec.marker(t, t + 0.5)
        busy.append((t, t + 0.5))
        t += 0.5
        rec.idle(t, t + 1.0)
        t += 1.0
    rec.end(t)
    end_s = t + 1.0
    board = _Board(sc, np.array(busy), end_s)
    h = np.arange(0.0, end_s, 1.0 / sc.rate_hz) + rng.uniform(0, 1.0 / sc.rate_hz)
    p = board.energy(h - 1.0 / sc.rate_hz, h) * sc.rate_hz if sc.averaging else board.point(h)
    p = p + sc.noise_w * rng.standard_normal(h.size)
    m = sc.offset_s + (1.0 + sc.skew) * h + sc.stamp_jitter_s * rng.standard_normal(h.size)
    m = np.maximum.accumulate(m)
    own_clock = sc.skew != 0 or sc.offset_s != 0 or sc.stamp_jitter_s != 0
    header = TraceHeader(
        clock="meter" if own_clock else "host",
        meter="ina260",
        kind="measured",
        sample_rate_hz=sc.rate_hz,
        averaging_s=1.0 / sc.rate_hz if sc.averaging else 0.0,
    )
    trace = PowerTrace(m, np.maximum(p, 0.0), header, source="closed-form trace")
    return trace, rec.log(), _truth(sc, board, np.array(calls))


def _env_at(sc: Scenario, t: float) -> dict[str, Any]:
    slow = sc.dvfs is not None and t >= sc.dvfs[0]
    return {"governor": "ondemand", "freq_mhz": 600.0 if slow else 1800.0, "temp_c": 55.0}


def _truth(sc: Scenario, board: _Board, calls: np.ndarray) -> Truth:
    a, b, n = calls[:, 0], calls[:, 1], calls[:, 2]
    dyn = board.extra_integral(b) - board.extra_integral(a)
    idle = board.idle_integral(b) - board.idle_integral(a)
    total_n = float(n.sum())
    regimes: tuple[tuple[float, float], ...] = ()
    if sc.dvfs is not None:
        early = a < sc.dvfs[0]
        regimes = tuple(
            (float(dyn[s].sum() / n[s].sum() * 1e3), float((dyn[s] + idle[s]).sum() / n[s].sum() * 1e3))
            for s in (early, ~early)
        )
    return Truth(
        dynamic_mj=float(dyn.sum() / total_n * 1e3),
        total_mj=float((dyn.sum() + idle.sum()) / total_n * 1e3),
        n=int(total_n),
        regimes=regimes,
    )


def within(value: float, truth: float, rel: float) -> bool:
    return math.isfinite(value) and abs(value - truth) <= rel * abs(truth)
