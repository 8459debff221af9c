"""Regime changes across a run (DVFS, thermal throttling, background load), found and named.

A frequency step mid-run makes the median of windows report one regime. Here the block series of
dynamic energy per inference and of busy time per inference are searched for level shifts by
binary segmentation (a two-sample statistic with a noise scale from the first differences less
the largest few, which are the shifts themselves); a shift must be significant, at least ``MIN_SHIFT`` of
the level, and move nearly every block (the blocks after it exceed those before with probability
>= 0.9), which background spikes hitting a few blocks do not. Each change is named from the
``env`` events around it (governor, clock, temperature, throttling) or, without them, from what
moved (time per inference and power: DVFS; power alone: background load or heat).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from edgekit.energy.baseline import IdleSegment, pooled_stderr
from edgekit.energy.integrate import Integrator
from edgekit.energy.result import RegimeFigures
from edgekit.energy.uncertainty import Blocks, estimate, ratio_se, t_quantile

__all__ = ["Change", "find_changes", "name_cause", "regime_figures"]

Z_THRESHOLD = 6.0
MIN_SHIFT = 0.02
MIN_BLOCKS = 5
MAX_CHANGES = 2
MIN_SEPARATION = 0.1  # the blocks after a change exceed those before with probability >= 0.9


@dataclass(frozen=True)
class Change:
    """A level shift before block ``index`` (block index into the run's block series)."""

    index: int
    statistic: float
    series: str
    before: float
    after: float


def _noise(y: np.ndarray) -> float:
    """Block-to-block noise: from first differences without the largest few (the shifts being
    looked for), so heavy-tailed noise such as background spikes counts in full."""
    d = np.diff(y)
    if d.size <= MAX_CHANGES + 1:
        return 0.0
    kept = np.sort(np.abs(d - np.median(d)))[: d.size - MAX_CHANGES]
    return float(np.sqrt(np.mean(kept**2)) / math.sqrt(2.0))


def _best_split(y: np.ndarray, sigma: float) -> tuple[int, float]:
    """The split with the largest mean shift in noise units (a two-sample statistic)."""
    n = y.size
    if n < 2 * MIN_BLOCKS:
        return -1, 0.0
    cs = np.cumsum(y)
    k = np.arange(MIN_BLOCKS, n - MIN_BLOCKS + 1)
    left = cs[k - 1] / k
    right = (cs[-1] - cs[k - 1]) / (n - k)
    scale = max(sigma, 1e-12 * max(abs(float(np.mean(y))), 1e-300))
    stat = np.abs(left - right) / (scale * np.sqrt(1.0 / k + 1.0 / (n - k)))
    i = int(np.argmax(stat))
    return int(k[i]), float(stat[i])


def _separation(before: np.ndarray, after: np.ndarray) -> float:
    """P(a block after > a block before), ties counted half (the Mann-Whitney AUC)."""
    both = np.concatenate((before, after))
    order = both.argsort(kind="mergesort")
    ranks = np.empty(both.size)
    ranks[order] = np.arange(1, both.size + 1)
    for v in np.unique(both[order][np.flatnonzero(np.diff(both[order]) == 0)]):  # average ties
        ranks[both == v] = ranks[both == v].mean()
    u = ranks[before.size :].sum() - after.size * (after.size + 1) / 2.0
    return float(u / (before.size * after.size))


def _segment(y: np.ndarray, lo: int, hi: int, sigma: float, level: float, name: str) -> list[Change]:
    k, stat = _best_split(y[lo:hi], sigma)
    if k < 0 or stat < Z_THRESHOLD:
        return []
    left, right = y[lo : lo + k], y[lo + k : hi]
    before, after = float(np.mean(left)), float(np.mean(right))
    # a regime moves (nearly) every block; background spikes move a few by a lot
    auc = _separation(left, right)
    if abs(after - before) < MIN_SHIFT * abs(level) or MIN_SEPARATION < auc < 1.0 - MIN_SEPARATION:
        return []
    here = Change(lo + k, stat, name, before, after)
    return [here, *_segment(y, lo, lo + k, sigma, level, name),
            *_segment(y, lo + k, hi, sigma, level, name)]


def find_changes(series: dict[str, np.ndarray]) -> list[Change]:
    """The strongest level shifts over all series (at most ``MAX_CHANGES``), in time order."""
    found: list[Change] = []
    for name, y in series.items():
        y = np.asarray(y, dtype=np.float64)
        if y.size < 2 * MIN_BLOCKS or not np.all(np.isfinite(y)):
            continue
        found += _segment(y, 0, y.size, _noise(y), float(np.mean(y)), name)
    found.sort(key=lambda c: -c.statistic)
    kept: list[Change] = []
    for c in found:  # one change per place, whichever series shows it most strongly
        if all(abs(c.index - k.index) > MIN_BLOCKS for k in kept):
            kept.append(c)
    return sorted(kept[:MAX_CHANGES], key=lambda c: c.index)


def _env_value(env: dict[str, Any], *keys: str) -> Any:
    for k in keys:
        if env.get(k) is not None:
            return env[k]
    return None


def name_cause(
    t_change_s: float,
    env: list[dict[str, Any]],
    inference_ms: tuple[float, float],
    power_w: tuple[float, float],
) -> str:
    """One phrase naming the likely cause of a change at ``t_change_s``."""
    before = [e for e in env if e["t_s"] <= t_change_s]
    after = [e for e in env if e["t_s"] > t_change_s]
    # Pairs of readings that straddle the change: the last before it and the first after it (a
    # change inside a window), then the two last before it: the bench reads the CPU's state just
    # before each window starts, so a step between windows shows between the reading after the
    # previous window and the one before this window, both before the change's first call.
    pairs = ([(before[-1], after[0])] if before and after else []) + (
        [(before[-2], before[-1])] if len(before) >= 2 else [])
    for b, a in pairs:
        fb = _env_value(b, "freq_mhz", "cpu_freq_mhz")
        fa = _env_value(a, "freq_mhz", "cpu_freq_mhz")
        gb, ga = _env_value(b, "governor", "cpu_governor"), _env_value(a, "governor", "cpu_governor")
        temp = _env_value(a, "temp_c", "temperature_c")
        throttled = _env_value(a, "throttled")
        if fb is not None and fa is not None and abs(float(fa) - float(fb)) > 0.02 * float(fb):
            hot = temp is not None and float(temp) >= 80.0
            what = "thermal throttling" if hot or throttled not in (None, "0x0", 0) else "DVFS"
            extra = f", {float(temp):.0f} °C" if temp is not None else ""
            gov = f", governor {gb} -> {ga}" if gb != ga else f", governor {ga}"
            return f"{what}: cpu clock {float(fb):.0f} -> {float(fa):.0f} MHz{gov}{extra}"
    for b, a in pairs:
        gb, ga = _env_value(b, "governor", "cpu_governor"), _env_value(a, "governor", "cpu_governor")
        if gb is not None and ga is not None and gb != ga:
            return f"governor changed {gb} -> {ga}"
    (tb, ta), (pb, pa) = inference_ms, power_w
    if abs(ta - tb) > MIN_SHIFT * tb:
        return (
            f"probable DVFS or throttling: {tb:.4g} -> {ta:.4g} ms per inference, "
            f"{pb:.4g} -> {pa:.4g} W while running (no clock record shows it)"
        )
    return (
        f"power changed {pb:.4g} -> {pa:.4g} W at the same inference time ({tb:.4g} ms): "
        "background load or a thermal effect"
    )


def _refine(change: Change, blocks: Blocks, calls: np.ndarray, integ: Integrator) -> float:
    """The change's time to the call: the call split, within the two blocks around the block
    boundary found, that best separates the calls' time per inference (or power)."""
    lo = float(blocks.start_s[max(change.index - 1, 0)])
    hi = float(blocks.end_s[min(change.index, blocks.n.size - 1)])
    sel = calls[(calls[:, 0] >= lo) & (calls[:, 0] < hi)]
    if sel.shape[0] < 2 * MIN_BLOCKS:
        return float(blocks.start_s[change.index])
    if "time" in change.series:
        y = (sel[:, 1] - sel[:, 0]) / sel[:, 2]
    else:
        y = integ.energy_j(sel[:, 0], sel[:, 1]) / np.maximum(sel[:, 1] - sel[:, 0], 1e-12)
    k, _ = _best_split(y, max(_noise(y), 1e-12))
    return float(sel[k, 0]) if k > 0 else float(blocks.start_s[change.index])


def _beyond_idle_noise(change: Change, blocks: Blocks, idle: list[IdleSegment]) -> bool:
    """A shift in power above idle must also stand out of the idle baseline's own uncertainty:
    the baseline is common to a whole window, so its error does not average out over blocks."""
    if "time" in change.series:
        return True
    k = change.index
    se = pooled_stderr(idle)
    left = blocks.weights[:k].sum(axis=0) / blocks.span_s[:k].sum()
    right = blocks.weights[k:].sum(axis=0) / blocks.span_s[k:].sum()
    sigma = float(np.sqrt(np.sum(((right - left) * se) ** 2)))
    return abs(change.after - change.before) > 3.0 * sigma


def regime_figures(
    blocks: Blocks, idle: list[IdleSegment], idle_w: np.ndarray, calls: np.ndarray,
    integ: Integrator, env: list[dict[str, Any]], confidence: float,
) -> tuple[tuple[RegimeFigures, ...], list[str]]:
    """Regimes of the run, their figures and one warning per change naming its cause.

    Changes are looked for in time per inference (moves with the clock) and in power above an
    idle baseline made of each idle segment's median sub-block (moves with clock or load, not
    with a drifting idle, nor with background spikes that happened to hit one idle segment). A
    change is then placed to the call; the block it falls in belongs to neither regime.
    """
    robust = blocks.baseline_j(np.array([float(np.median(s.block_means_w)) for s in idle]))
    series = {"power above idle": (blocks.energy_j - robust) / blocks.span_s,
              "time per inference": blocks.busy_s / blocks.n}
    changes = [c for c in find_changes(series) if _beyond_idle_noise(c, blocks, idle)]
    if not changes:
        return (), []
    times = [_refine(c, blocks, calls, integ) for c in changes]
    mixed = {int(np.searchsorted(blocks.start_s, t, side="right")) - 1 for t in times} - {
        int(np.searchsorted(blocks.start_s, t)) for t in times if np.any(blocks.start_s == t)}
    y = blocks.energy_j - blocks.baseline_j(idle_w)
    edges = [-math.inf, *times, math.inf]
    regimes: list[RegimeFigures] = []
    for a, b in itertools.pairwise(edges):
        sel = np.array([i for i in range(blocks.n.size)
                        if a <= blocks.start_s[i] < b and i not in mixed], dtype=np.int64)
        if sel.size == 0:
            sel = np.flatnonzero((blocks.start_s >= a) & (blocks.start_s < b))
        r = estimate(blocks, idle_w, sel)
        half = t_quantile(confidence, max(sel.size - 1, 1)) * ratio_se(y[sel], blocks.n[sel])
        regimes.append(RegimeFigures(
            start_s=float(blocks.start_s[sel[0]]) if a == -math.inf else a,
            end_s=float(blocks.end_s[sel[-1]]) if b == math.inf else b,
            n_inferences=int(blocks.n[sel].sum()),
            energy_per_inference_mj=r.total_j * 1e3, dynamic_energy_per_inference_mj=r.dynamic_j * 1e3,
            dynamic_spread_mj=((r.dynamic_j - half) * 1e3, (r.dynamic_j + half) * 1e3),
            inference_ms=float(blocks.busy_s[sel].sum() / blocks.n[sel].sum() * 1e3),
            mean_power_w=float(blocks.energy_j[sel].sum() / blocks.span_s[sel].sum()),
        ))
    warnings = []
    for i, change in enumerate(changes):
        before, after = regimes[i], regimes[i + 1]
        cause = name_cause(after.start_s, env, (before.inference_ms, after.inference_ms),
                           (before.mean_power_w, after.mean_power_w))
        regimes[i + 1] = replace(after, cause=cause)
        unit, scale = ("ms", 1e3) if "time" in change.series else ("W", 1.0)
        warnings.append(
            f"regime: a change at {after.start_s:.3f} s ({change.series} "
            f"{change.before * scale:.4g} -> {change.after * scale:.4g} {unit}): {cause}; the "
            "figure is the mean over all inferences, per-regime figures are listed"
        )
    return tuple(regimes), warnings
