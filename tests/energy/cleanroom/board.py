"""A board whose power is a known function of time, with its energy in closed form.

Written from docs/energy-files.md alone (clean room: nothing from ``edgekit.energy`` or
``tests/energy/truth.py``). Power is

    P(t) = idle_w + drift_w_per_s (t - t0) + bend_w ((t - t0) / span)^2 + sum_j level_j 1[a_j <= t < b_j]

where the pulses are the inferences (extra power per DVFS regime), the marker pulses, a second
process's square-wave load and random bursts. Integrals are exact: the pulses are summed as a
step function (edges sorted once, cumulative sums), the drift terms integrate as polynomials.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["PowerModel", "Pulses"]


@dataclass
class Pulses:
    """Rectangular pulses ``level`` watts on ``[start, end)``, kept as flat arrays."""

    start: list[float] = field(default_factory=list)
    end: list[float] = field(default_factory=list)
    level: list[float] = field(default_factory=list)

    def add(self, start: float, end: float, level: float) -> None:
        if end > start and level != 0.0:
            self.start.append(start)
            self.end.append(end)
            self.level.append(level)

    def add_many(self, start: np.ndarray, end: np.ndarray, level: float | np.ndarray) -> None:
        lv = np.broadcast_to(np.asarray(level, dtype=float), np.shape(start))
        keep = (np.asarray(end) > np.asarray(start)) & (lv != 0.0)
        self.start.extend(np.asarray(start, dtype=float)[keep].tolist())
        self.end.extend(np.asarray(end, dtype=float)[keep].tolist())
        self.level.extend(lv[keep].tolist())


class PowerModel:
    """Exact power and energy of the board: point values, integrals and window means."""

    def __init__(self, t0: float, span_s: float, idle_w: float, drift_w_per_s: float,
                 bend_w: float, pulses: Pulses) -> None:
        self.t0 = t0
        self.span_s = span_s
        self.idle_w = idle_w
        self.drift = drift_w_per_s
        self.bend = bend_w
        starts = np.asarray(pulses.start, dtype=float)
        ends = np.asarray(pulses.end, dtype=float)
        levels = np.asarray(pulses.level, dtype=float)
        edges = np.concatenate([starts, ends])
        deltas = np.concatenate([levels, -levels])
        order = np.argsort(edges, kind="stable")
        self._edges = edges[order]
        self._level = np.cumsum(deltas[order])  # level just after each edge
        # energy of the step part from the first edge up to each edge
        self._cum = np.concatenate([[0.0], np.cumsum(self._level[:-1] * np.diff(self._edges))])

    # -- the smooth idle part -------------------------------------------------------------------
    def idle_at(self, t: np.ndarray | float) -> np.ndarray:
        """The board's own idle power (no pulses) at host time ``t``."""
        x = np.asarray(t, dtype=float) - self.t0
        return self.idle_w + self.drift * x + self.bend * (x / self.span_s) ** 2

    def idle_integral(self, a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
        """Exact integral of :meth:`idle_at` from ``a`` to ``b``."""
        def prim(t: np.ndarray | float) -> np.ndarray:
            x = np.asarray(t, dtype=float) - self.t0
            return self.idle_w * x + 0.5 * self.drift * x**2 + self.bend * x**3 / (3 * self.span_s**2)
        return prim(b) - prim(a)

    # -- the step part ----------------------------------------------------------------------------
    def _step_primitive(self, t: np.ndarray) -> np.ndarray:
        if len(self._edges) == 0:
            return np.zeros_like(t)
        k = np.searchsorted(self._edges, t, side="right") - 1  # last edge <= t
        kk = np.maximum(k, 0)
        return np.where(k >= 0, self._cum[kk] + self._level[kk] * (t - self._edges[kk]), 0.0)

    def step_at(self, t: np.ndarray | float) -> np.ndarray:
        arr = np.asarray(t, dtype=float)
        if len(self._edges) == 0:
            return np.zeros_like(arr)
        k = np.searchsorted(self._edges, arr, side="right") - 1
        return np.where(k >= 0, self._level[np.maximum(k, 0)], 0.0)

    # -- the whole ---------------------------------------------------------------------------------
    def power_at(self, t: np.ndarray | float) -> np.ndarray:
        """Instantaneous power at host time ``t`` (a point sample)."""
        return self.idle_at(t) + self.step_at(t)

    def energy(self, a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
        """Exact energy in joules from ``a`` to ``b`` (host time)."""
        aa = np.asarray(a, dtype=float)
        bb = np.asarray(b, dtype=float)
        return self.idle_integral(aa, bb) + self._step_primitive(bb) - self._step_primitive(aa)

    def mean_power(self, a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
        """Mean power over ``[a, b]`` (an averaging meter's reading)."""
        return self.energy(a, b) / (np.asarray(b, dtype=float) - np.asarray(a, dtype=float))
