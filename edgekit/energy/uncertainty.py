"""Blocks of each window and a block bootstrap: an uncertainty valid for correlated samples.

Meter samples of one run are not independent (averaging, slow background load, a loop that beats
with the sample clock), so "2 x standard error of the samples" understates the uncertainty. Each
window is cut into blocks of whole calls, long against the correlation time; blocks are redrawn
with replacement inside each window, and each idle segment's mean is redrawn from the idle
sub-blocks' deviations pooled over all segments (idle noise is the board's), so the interval
carries the idle baseline's own noise. What resampling cannot see is put back
explicitly: the (m - 1) / m small-sample shrinkage, and any correlation left between neighbouring
blocks (an AR(1) long-run variance factor from their lag-1 correlation). The interval is the
estimate +- a Student-t quantile x that standard error (better small-sample coverage than
percentiles).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from edgekit.energy.baseline import IdleSegment, Interpolator, idle_residuals
from edgekit.energy.integrate import Integrator

__all__ = ["Blocks", "Ratio", "block_bootstrap", "make_blocks", "ratio_se", "t_quantile",
           "variance_inflation"]


@dataclass(frozen=True)
class Blocks:
    """Per block: window index, span, energy, inferences, busy time, samples, baseline weights."""

    window: np.ndarray
    start_s: np.ndarray
    end_s: np.ndarray
    energy_j: np.ndarray
    n: np.ndarray
    busy_s: np.ndarray
    n_samples: np.ndarray
    weights: np.ndarray  # baseline integral = weights @ idle means
    weights_linear: np.ndarray

    @property
    def span_s(self) -> np.ndarray:
        return self.end_s - self.start_s

    def baseline_j(self, idle_w: np.ndarray) -> np.ndarray:
        return np.asarray(self.weights @ idle_w)


def _window_blocks(
    calls: np.ndarray, window: tuple[float, float], block_s: float
) -> list[tuple[float, float, np.ndarray]]:
    """Cut one window at call starts into spans of about ``block_s`` (the last short one merged)."""
    ws, we = window
    starts = calls[:, 0]
    key = np.floor((starts - ws) / block_s).astype(np.int64)
    cut = np.flatnonzero(np.diff(key) > 0) + 1  # first call of each new block
    groups = np.split(np.arange(starts.size), cut)
    bounds = [ws, *(float(starts[g[0]]) for g in groups[1:]), we]
    spans = [(bounds[i], bounds[i + 1], g) for i, g in enumerate(groups)]
    if len(spans) > 1 and spans[-1][1] - spans[-1][0] < 0.5 * block_s:
        (a, _, g1), (_, b, g2) = spans[-2], spans[-1]
        spans[-2:] = [(a, b, np.concatenate((g1, g2)))]
    return spans


def make_blocks(
    integ: Integrator, calls: np.ndarray, windows: list[tuple[float, float]],
    interp: Interpolator, block_s: float, smear_s: list[tuple[float, float]] | None = None,
) -> Blocks:
    """Blocks of every window; ``calls`` rows are (start, end, n) sorted by start.

    ``smear_s`` (before, after) per window widens its first and last block: a meter that averages
    (or interpolates between sparse samples) spreads the window's edges over that much time on
    either side, and that energy is the window's, not idle's (the baseline is subtracted there too).
    """
    rows: list[tuple[int, float, float, int, float]] = []
    for w, (ws, we) in enumerate(windows):
        inside = calls[(calls[:, 0] >= ws) & (calls[:, 0] < we)]
        spans = _window_blocks(inside, (ws, we), block_s)
        if smear_s is not None:
            before, after = smear_s[w]
            spans[0] = (spans[0][0] - before, spans[0][1], spans[0][2])
            spans[-1] = (spans[-1][0], spans[-1][1] + after, spans[-1][2])
        for a, b, g in spans:
            sel = inside[g]
            rows.append((w, a, b, int(sel[:, 2].sum()), float(np.sum(sel[:, 1] - sel[:, 0]))))
    win = np.array([r[0] for r in rows], dtype=np.int64)
    lo = np.array([r[1] for r in rows])
    hi = np.array([r[2] for r in rows])
    return Blocks(
        window=win,
        start_s=lo,
        end_s=hi,
        energy_j=np.asarray(integ.energy_j(lo, hi)),
        n=np.array([r[3] for r in rows], dtype=np.float64),
        busy_s=np.array([r[4] for r in rows]),
        n_samples=np.asarray(integ.count(lo, hi)),
        weights=interp.weights(lo, hi),
        weights_linear=interp.weights(lo, hi, linear=True),
    )


@dataclass(frozen=True)
class Ratio:
    """Dynamic and total energy per inference (J) from block sums."""

    dynamic_j: float
    total_j: float


def estimate(blocks: Blocks, idle_w: np.ndarray, sel: np.ndarray | None = None) -> Ratio:
    """Dynamic = sum(E - baseline) / N; total adds idle power over the busy time."""
    s = slice(None) if sel is None else sel
    base = blocks.baseline_j(idle_w)[s]
    energy, n = blocks.energy_j[s], blocks.n[s]
    busy_base = base * (blocks.busy_s[s] / blocks.span_s[s])
    dyn = float(np.sum(energy - base))
    return Ratio(dyn / float(np.sum(n)), (dyn + float(np.sum(busy_base))) / float(np.sum(n)))


def ratio_se(y: np.ndarray, n: np.ndarray) -> float:
    """Delta-method standard error of sum(y) / sum(n) over independent blocks (J)."""
    m = y.size
    if m < 2:
        return math.nan
    r = y.sum() / n.sum()
    return float(math.sqrt(np.sum((y - r * n) ** 2) * m / (m - 1)) / n.sum())


def _block_indices(rng: np.random.Generator, window: np.ndarray, resamples: int) -> np.ndarray:
    """Resampled block indices (resamples x n_blocks), drawn with replacement within each window."""
    cols = []
    for w in np.unique(window):
        members = np.flatnonzero(window == w)
        cols.append(members[rng.integers(0, members.size, size=(resamples, members.size))])
    return np.concatenate(cols, axis=1)


def variance_inflation(
    blocks: Blocks, residual_j: np.ndarray, strata: np.ndarray | None = None
) -> tuple[float, float]:
    """(factor, rho): what block resampling misses, applied to the bootstrap variance.

    Resampling m blocks underestimates the variance by (m - 1) / m per window; blocks that are
    still correlated (lag-1 correlation rho of the residuals within windows, kept in [0, 0.8])
    hide a long-run variance (1 + rho) / (1 - rho) times larger (AR(1)).
    """
    num = den = 0.0
    m_total = w_total = 0
    strata = blocks.window if strata is None else strata
    for w in np.unique(strata):
        r = residual_j[strata == w]
        r = r - r.mean()
        num += float(np.sum(r[1:] * r[:-1]))
        den += float(np.sum(r * r))
        m_total += r.size
        w_total += 1
    rho = float(np.clip(num / den, 0.0, 0.8)) if den > 0 else 0.0
    small = m_total / max(m_total - w_total, 1)
    return small * (1.0 + rho) / (1.0 - rho), rho


def block_bootstrap(
    blocks: Blocks, idle: list[IdleSegment], *, resamples: int, seed: int,
    strata: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap replicates of (dynamic, total) energy per inference (J); blocks are redrawn
    within each stratum (a window, or a window's part on one side of a regime change)."""
    rng = np.random.default_rng(seed)
    idx = _block_indices(rng, blocks.window if strata is None else strata, resamples)
    idle_star = np.empty((resamples, len(idle)))
    pool = idle_residuals(idle)  # the board's idle noise, from every segment
    shrink = math.sqrt(pool.size / max(pool.size - len(idle), 1))  # residuals lost a dof each
    for j, seg in enumerate(idle):
        m = seg.block_means_w.size
        duration = (seg.end_s - seg.start_s) / m
        drawn = pool[rng.integers(0, pool.size, size=(resamples, m))].mean(axis=1)
        idle_star[:, j] = seg.mean_w + shrink * drawn / math.sqrt(duration)
    frac = blocks.busy_s / blocks.span_s
    dyn = np.empty(resamples)
    tot = np.empty(resamples)
    for c in range(0, resamples, 256):  # chunks keep the weight gather small
        sl = slice(c, min(c + 256, resamples))
        i = idx[sl]
        energy = blocks.energy_j[i].sum(axis=1)
        n = blocks.n[i].sum(axis=1)
        base = np.einsum("rbk,rk->r", blocks.weights[i], idle_star[sl])
        busy = np.einsum("rbk,rk->r", blocks.weights[i] * frac[i][:, :, None], idle_star[sl])
        dyn[sl] = (energy - base) / n
        tot[sl] = (energy - base + busy) / n
    return dyn, tot


def t_quantile(confidence: float, df: float) -> float:
    """Two-sided Student-t quantile (exact for df 1 and 2, Hill's series beyond)."""
    p = 0.5 + confidence / 2.0
    if df <= 1:
        return math.tan(math.pi * (p - 0.5))
    if df <= 2:
        return (2 * p - 1) / math.sqrt(2 * p * (1 - p))
    z = NormalDist().inv_cdf(p)
    v = float(df)
    return (
        z
        + (z**3 + z) / (4 * v)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * v**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * v**3)
        + (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / (92160 * v**4)
    )
