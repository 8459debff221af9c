"""The idle baseline under each window: idle measured before and after, interpolated across it.

Idle power is measured in every idle segment (after a settle time, so governor and averaging tails
of the previous window are not booked as idle), each segment giving a mean and its standard error
from sub-blocks. The baseline under the windows is a natural cubic spline through the segment
means when they bend by more than their noise (straight lines between neighbours otherwise), so a
linear or smooth idle drift is followed rather than averaged. Either is linear in the idle means,
so ``weights`` turns any interval into a row of coefficients: the bootstrap can then redraw the
idle means and recompute every baseline at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from edgekit.energy.integrate import Integrator

__all__ = [
    "IdleSegment",
    "Interpolator",
    "idle_residuals",
    "measure_idle",
    "pooled_stderr",
    "significant_curvature",
]


@dataclass(frozen=True)
class IdleSegment:
    """One idle segment: the span used after guards, its mean power, sub-block means."""

    start_s: float
    end_s: float
    mean_w: float
    block_means_w: np.ndarray
    n_samples: int

    @property
    def mid_s(self) -> float:
        return 0.5 * (self.start_s + self.end_s)

    @property
    def stderr_w(self) -> float:
        m = self.block_means_w
        return float(np.std(m, ddof=1) / math.sqrt(m.size)) if m.size > 1 else 0.0


def measure_idle(
    integ: Integrator, start_s: float, end_s: float, *, settle_s: float, tail_s: float,
    block_s: float, period_s: float,
) -> IdleSegment | None:
    """Mean power of [start + settle, end - tail] with sub-block means; None if too short.

    The guards shrink on a short segment (settle at most 40 %, tail at most 10 % of it), so a
    quick smoke run keeps an idle figure, with the noise of its few samples in the sub-blocks.
    """
    length = end_s - start_s
    a = start_s + min(settle_s, 0.4 * length)
    b = end_s - min(tail_s, 0.1 * length)
    if b - a < period_s or int(integ.count(a - period_s, b + period_s)) < 2:
        return None
    n_blocks = int(np.clip(round((b - a) / block_s), 2, 64))
    n_blocks = max(2, min(n_blocks, int(integ.count(a, b)) // 3))
    edges = np.linspace(a, b, n_blocks + 1)
    means = integ.energy_j(edges[:-1], edges[1:]) / np.diff(edges)
    mean = float(integ.energy_j(a, b)) / (b - a)
    return IdleSegment(a, b, mean, np.asarray(means), int(integ.count(a, b)))


def _spline_matrix(x: np.ndarray) -> np.ndarray:
    """G with M = G y: the natural cubic spline's second derivatives at the knots."""
    n = x.size
    h = np.diff(x)
    a = np.zeros((n, n))
    r = np.zeros((n, n))
    a[0, 0] = a[-1, -1] = 1.0
    for j in range(1, n - 1):
        a[j, j - 1], a[j, j], a[j, j + 1] = h[j - 1], 2.0 * (h[j - 1] + h[j]), h[j]
        r[j, j - 1] = 6.0 / h[j - 1]
        r[j, j] = -6.0 / h[j - 1] - 6.0 / h[j]
        r[j, j + 1] = 6.0 / h[j]
    return np.asarray(np.linalg.solve(a, r))


def idle_residuals(idle: list[IdleSegment]) -> np.ndarray:
    """Every idle sub-block's deviation from its segment's mean, scaled to a 1 s sub-block
    (x sqrt(duration)), pooled over segments: idle noise is the board's, so a segment that by
    chance saw no background spike still gets the spread the others saw."""
    out = [(s.block_means_w - s.mean_w) * math.sqrt((s.end_s - s.start_s) / s.block_means_w.size)
           for s in idle]
    return np.concatenate(out)


def pooled_stderr(idle: list[IdleSegment]) -> np.ndarray:
    """Standard error of each segment's mean from the pooled residuals."""
    pool = idle_residuals(idle)
    dof = max(pool.size - len(idle), 1)
    var_1s = float(np.sum(pool**2)) / dof  # variance of a 1 s sub-block mean
    return np.array([math.sqrt(var_1s / (s.end_s - s.start_s)) for s in idle])


def significant_curvature(idle: list[IdleSegment]) -> bool:
    """Whether the idle means bend by more than their noise: some mean beyond 3 standard errors
    from the straight line between its neighbours. Without such a bend straight lines between
    neighbours are followed instead of a spline, which would otherwise chase the noise."""
    if len(idle) < 3:
        return False
    x = np.array([s.mid_s for s in idle])
    y = np.array([s.mean_w for s in idle])
    se = np.maximum(pooled_stderr(idle), 1e-12)
    for j in range(1, len(idle) - 1):
        h0, h1 = x[j] - x[j - 1], x[j + 1] - x[j]
        w0, w1 = h1 / (h0 + h1), h0 / (h0 + h1)
        bend = y[j] - (w0 * y[j - 1] + w1 * y[j + 1])
        sigma = float(np.sqrt(se[j] ** 2 + (w0 * se[j - 1]) ** 2 + (w1 * se[j + 1]) ** 2))
        if abs(bend) > 3.0 * sigma:
            return True
    return False


class Interpolator:
    """Idle power between knots (segment midpoints): a natural cubic spline (with >= 3 knots,
    when ``spline``), else straight lines between neighbours."""

    def __init__(self, knots_s: np.ndarray, *, spline: bool = True) -> None:
        self.x = np.asarray(knots_s, dtype=np.float64)
        if self.x.size < 2 or np.any(np.diff(self.x) <= 0):
            raise ValueError("need at least two increasing knots")
        self.spline = spline and self.x.size >= 3
        self._g = _spline_matrix(self.x) if self.spline else None

    def basis(self, t: np.ndarray, *, linear: bool = False) -> np.ndarray:
        """Row j: the value at t[j] as coefficients of the knot values (len(t) x n_knots)."""
        t = np.asarray(t, dtype=np.float64)
        x, n = self.x, self.x.size
        j = np.clip(np.searchsorted(x, t, side="right") - 1, 0, n - 2)
        h = x[j + 1] - x[j]
        left, right = x[j + 1] - t, t - x[j]
        out = np.zeros((t.size, n))
        rows = np.arange(t.size)
        out[rows, j] += left / h
        out[rows, j + 1] += right / h
        if self.spline and not linear and self._g is not None:
            cl = (left**3 / h - h * left) / 6.0
            cr = (right**3 / h - h * right) / 6.0
            out += cl[:, None] * self._g[j] + cr[:, None] * self._g[j + 1]
        return out

    def weights(self, a: np.ndarray, b: np.ndarray, *, linear: bool = False) -> np.ndarray:
        """Coefficients of the integral over each [a, b] (Simpson: exact for a cubic piece)."""
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        mid = 0.5 * (a + b)
        f = self.basis(a, linear=linear) + 4.0 * self.basis(mid, linear=linear)
        f += self.basis(b, linear=linear)
        return np.asarray(f * ((b - a) / 6.0)[:, None])
