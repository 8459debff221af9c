"""A run with known truth: the schedule of markers, idle, windows and inferences on the host clock.

Written from docs/energy-files.md alone. The schedule follows the documented layout (a marker
pulse, idle before and after every window, windows of dithered calls or batches, a closing
marker, ``end``); the board's power is :class:`board.PowerModel`; the truth is exact:

- dynamic energy of inference i = extra_w(regime) * duration_i (nothing else is the inference's);
- total = dynamic + the idle power's expectation over the inference's own busy time, where the idle
  power includes the board's drift and the *mean* of the background (a second process's square
  wave, random bursts), which the idle segments measure as well.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .board import PowerModel, Pulses

__all__ = ["Scenario", "Schedule", "Truth", "build_schedule"]


@dataclass(frozen=True)
class Scenario:
    """Everything about the board and the run (the meter is :class:`meter.Meter`)."""

    idle_w: float = 2.7
    drift_w_per_s: float = 0.0         # linear idle drift
    bend_w: float = 0.0                # quadratic idle bend over the whole run
    extra_w: float = 1.5               # per-inference extra power at the nominal clock
    infer_s: float = 0.004             # inference duration at the nominal clock
    infer_jitter: float = 0.1          # each call's duration varies by +- this fraction
    # one clock per window (a DVFS step when they differ)
    freqs_mhz: tuple[float, ...] = (1500.0, 1500.0, 1500.0)
    gap_s: tuple[float, float] = (0.0002, 0.003)  # dithered gap before each call
    batch_max: int = 1                 # 1: an `inference` event per call; else `batch` events of 1..n
    window_s: float = 10.0
    idle_s: float = 5.0
    marker_s: float = 0.3
    marker_w: float = 1.0
    tail_w: float = 0.0                # governor tail after each window (inside the settle time)
    tail_s: float = 0.1
    load_w: float = 0.0                # a second process's square-wave load, all run long
    load_period_s: float = 0.37
    load_duty: float = 0.3
    burst_rate_hz: float = 0.0         # random bursts, all run long
    burst_w: float = 2.0
    burst_s: float = 0.02
    t0: float = 1843.25                # host monotonic time of the first marker
    lead_s: float = 1.0                # meter running before the first marker / after the end
    env: bool = True                   # `env` events around every window


@dataclass
class Truth:
    total_j: float
    dynamic_j: float
    n: int
    per_freq: dict[float, tuple[float, float, int]] = field(default_factory=dict)  # MHz -> total, dyn, n


@dataclass
class Schedule:
    events: list[dict[str, object]]
    model: PowerModel
    truth: Truth
    start_s: float   # host time the meter must cover from
    end_s: float
    infer_start: np.ndarray = field(default_factory=lambda: np.zeros(0))
    infer_end: np.ndarray = field(default_factory=lambda: np.zeros(0))


def _window_calls(rng: np.random.Generator, s: Scenario, start: float, freq: float
                  ) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
    """Call start/end times filling ``window_s`` from ``start``, and the grouping into batches."""
    scale = s.freqs_mhz[0] / freq  # lower clock: longer calls
    starts: list[float] = []
    ends: list[float] = []
    groups: list[tuple[int, int]] = []
    t = start
    stop = start + s.window_s
    while True:
        n = 1 if s.batch_max <= 1 else int(rng.integers(1, s.batch_max + 1))
        t += rng.uniform(*s.gap_s) if starts else 0.0
        first = len(starts)
        for _ in range(n):
            d = s.infer_s * scale * (1.0 + rng.uniform(-s.infer_jitter, s.infer_jitter))
            starts.append(t)
            ends.append(t + d)
            t += d
        groups.append((first, len(starts)))
        if t >= stop:
            break
    return np.array(starts), np.array(ends), groups


def build_schedule(s: Scenario, rng: np.random.Generator) -> Schedule:
    """Lay out the run, build the board's power and compute the truth."""
    pulses = Pulses()
    events: list[dict[str, object]] = []
    t = s.t0
    events.append({"event": "marker", "start_s": t, "end_s": t + s.marker_s})
    pulses.add(t, t + s.marker_s, s.marker_w)
    t += s.marker_s
    all_s: list[np.ndarray] = []
    all_e: list[np.ndarray] = []
    extra_of: list[np.ndarray] = []
    freq_of: list[np.ndarray] = []
    for w, freq in enumerate(s.freqs_mhz):
        events.append({"event": "idle", "start_s": t, "end_s": t + s.idle_s})
        t += s.idle_s
        if s.env:
            events.append({"event": "env", "t_s": t, "governor": "userspace", "freq_mhz": freq,
                           "max_freq_mhz": max(s.freqs_mhz), "temp_c": 50.0})
        st, en, groups = _window_calls(rng, s, t, freq)
        extra = s.extra_w * (freq / s.freqs_mhz[0]) ** 2  # dynamic power ~ f V^2, V ~ f here
        pulses.add_many(st, en, extra)
        events.append({"event": "window", "index": w, "start_s": float(st[0]), "end_s": float(en[-1])})
        for a, b in groups:
            if s.batch_max <= 1:
                events.append({"event": "inference", "start_s": float(st[a]), "end_s": float(en[a])})
            else:
                events.append({"event": "batch", "start_s": float(st[a]), "end_s": float(en[b - 1]),
                               "n": b - a})
        all_s.append(st)
        all_e.append(en)
        extra_of.append(np.full(len(st), extra))
        freq_of.append(np.full(len(st), freq))
        t = float(en[-1])
        pulses.add(t, t + s.tail_s, s.tail_w)
        if s.env:
            events.append({"event": "env", "t_s": t, "governor": "userspace", "freq_mhz": freq,
                           "max_freq_mhz": max(s.freqs_mhz), "temp_c": 50.0})
    events.append({"event": "idle", "start_s": t, "end_s": t + s.idle_s})
    t += s.idle_s
    events.append({"event": "marker", "start_s": t, "end_s": t + s.marker_s})
    pulses.add(t, t + s.marker_s, s.marker_w)
    t += s.marker_s
    events.append({"event": "end", "t_s": t})
    begin = s.t0 - s.lead_s
    finish = t + s.lead_s

    # background over the whole covered span: its mean is part of idle
    bg_mean = 0.0
    if s.load_w:
        phase = rng.uniform(0, s.load_period_s)
        k0 = np.arange(begin - s.load_period_s + phase, finish, s.load_period_s)
        pulses.add_many(k0, k0 + s.load_duty * s.load_period_s, s.load_w)
        bg_mean += s.load_w * s.load_duty
    if s.burst_rate_hz:
        n_b = rng.poisson(s.burst_rate_hz * (finish - begin))
        bs = rng.uniform(begin, finish, n_b)
        pulses.add_many(bs, bs + s.burst_s, s.burst_w)
        bg_mean += s.burst_rate_hz * s.burst_w * s.burst_s

    model = PowerModel(s.t0, t - s.t0, s.idle_w, s.drift_w_per_s, s.bend_w, pulses)
    st = np.concatenate(all_s)
    en = np.concatenate(all_e)
    extra = np.concatenate(extra_of)
    freqs = np.concatenate(freq_of)
    dyn = extra * (en - st)
    tot = dyn + model.idle_integral(st, en) + bg_mean * (en - st)
    per_freq = {float(f): (float(tot[freqs == f].mean()), float(dyn[freqs == f].mean()),
                           int((freqs == f).sum())) for f in np.unique(freqs)}
    truth = Truth(float(tot.mean()), float(dyn.mean()), len(st), per_freq)
    return Schedule(events, model, truth, begin, finish, st, en)
