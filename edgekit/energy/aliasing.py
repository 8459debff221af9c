"""Aliasing: a point-sampling meter whose sample clock beats with the inference loop.

If the loop period divides the sample period, every sample lands at the same phase of the loop
and the mean power is that phase's power, not the loop's mean: +25 % or -100 % dynamic energy
with a spread that excludes the truth. Two defences:

- ``dither_gap_s`` and ``dither_batch``: the live loop waits a random gap before each call and
  varies the batch size, so call starts (and with them the phases of the samples) are uniform
  over the cycle;
- ``check_aliasing``: every sample in a window gets its phase within its call cycle (start to next
  start) and within its inference; per level, phases are binned and compared with the uniform
  distribution they must have for the sample mean to be unbiased. Too few phases seen, or a mean
  that differs from the phase-stratified mean, is refused or flagged, naming the loop and meter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgekit.energy.result import EnergyRefused

__all__ = ["AliasLevel", "check_aliasing", "dither_batch", "dither_gap_s"]

BINS = 16
MIN_COVERAGE = 0.5  # fewer phases seen than this share of the bins: refused
REFUSE_BIAS = 0.02  # relative to dynamic power, and beyond 3 standard errors of its own
WARN_BIAS = 0.005
BOOTSTRAP = 48  # redraws for the bias's standard error


def dither_gap_s(rng: np.random.Generator, cycle_s: float) -> float:
    """A random wait before a call, uniform over ``cycle_s``.

    With ``cycle_s`` = min(one inference, one sample period), call starts are uniform modulo
    whichever is shorter, and the samples then fall uniformly over the phases of every
    inference: the sample lattice seen from a call start is shifted uniformly at random.
    """
    return float(rng.uniform(0.0, max(cycle_s, 0.0)))


def dither_batch(rng: np.random.Generator, per_call: int) -> int:
    """A batch size uniform over per_call/2 .. 3 per_call/2: calls of varying length cannot lock
    onto the sample clock at the loop level either."""
    if per_call < 2:
        return per_call
    return int(rng.integers((per_call + 1) // 2, per_call + per_call // 2 + 1))


@dataclass(frozen=True)
class AliasLevel:
    """One phase level (``loop``: call start to next start; ``inference``) and what it showed."""

    level: str
    cycle_s: float
    coverage: float
    bias_w: float
    relative_bias: float
    bias_se_w: float = 0.0

    @property
    def significant(self) -> bool:
        """Whether the bias stands out of its own noise (3 standard errors)."""
        return abs(self.bias_w) > 3.0 * self.bias_se_w

    def to_dict(self) -> dict[str, float | str]:
        return {
            "level": self.level,
            "cycle_ms": self.cycle_s * 1e3,
            "coverage": self.coverage,
            "bias_w": self.bias_w,
            "bias_se_w": self.bias_se_w,
            "relative_bias": self.relative_bias,
        }


def _bias(bins: np.ndarray, power: np.ndarray) -> tuple[float, float]:
    """(coverage, sample mean - phase-stratified mean) of samples binned by phase."""
    counts = np.bincount(bins, minlength=BINS)
    sums = np.bincount(bins, weights=power, minlength=BINS)
    occupied = counts >= max(1.0, 0.25 * counts.sum() / BINS)
    means = np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)
    return float(occupied.mean()), float(sums.sum() / counts.sum()) - float(means[occupied].mean())


def _one(phase: np.ndarray, power: np.ndarray, rng: np.random.Generator) -> tuple[float, float, float, int]:
    """(coverage, bias, its standard error, n) of one group; the standard error comes from
    redrawing the samples, so a few samples per phase bin are not mistaken for a lock."""
    bins = np.minimum((phase * BINS).astype(np.int64), BINS - 1)
    coverage, bias = _bias(bins, power)
    redraws = [_bias(bins[i], power[i])[1]
               for i in rng.integers(0, bins.size, size=(BOOTSTRAP, bins.size))]
    return coverage, bias, float(np.std(redraws, ddof=1)), int(bins.size)


def _level(
    name: str, phase: np.ndarray, power: np.ndarray, group: np.ndarray, cycle_s: float, dyn_w: float
) -> AliasLevel:
    """Coverage and bias per window (a lock holds within a window even when the clock fit
    shifts windows against each other), then the median coverage and the weighted bias."""
    rng = np.random.default_rng(0)
    parts = [_one(phase[group == g], power[group == g], rng) for g in np.unique(group)
             if np.count_nonzero(group == g) >= 4 * BINS]
    if not parts:
        parts = [_one(phase, power, rng)]
    total = sum(n for *_, n in parts)
    coverage = float(np.median([c for c, *_ in parts]))
    bias = sum(b * n for _, b, _, n in parts) / total
    se = float(np.sqrt(sum((s * n) ** 2 for _, _, s, n in parts))) / total
    # a perfectly steady trace has a redraw spread of 0 and a "bias" of float rounding: no bias
    # below a billionth of the power counts as one
    se = max(se, 1e-9 * float(np.mean(np.abs(power))) if power.size else 0.0)
    rel = abs(bias) / abs(dyn_w) if dyn_w != 0 else 0.0
    return AliasLevel(name, cycle_s, coverage, bias, rel, se)


def check_aliasing(
    t: np.ndarray,
    p: np.ndarray,
    calls: np.ndarray,
    windows: list[tuple[float, float]],
    idle_w: float,
    *,
    averaging_s: float,
    sample_period_s: float,
) -> tuple[list[AliasLevel], list[str], float]:
    """Levels checked, warnings, and the bias (W) to carry into the uncertainty.

    ``t`` are sample times on the host clock (centred on their averaging window), ``calls`` rows
    (start, end, n). Refuses (``EnergyRefused('aliasing')``) when the samples see too few phases
    of a cycle, or when the sample mean differs from the phase-stratified mean by more than
    ``REFUSE_BIAS`` of the dynamic power. A level whose cycle the meter averages over is skipped,
    and so is everything when the meter's averages tile time (nothing falls between samples).
    """
    if averaging_s >= 0.9 * sample_period_s:  # averages that tile time see every instant
        return [], [], 0.0
    group = np.full(t.size, -1)
    for k, (ws, we) in enumerate(windows):
        group[(t >= ws) & (t < we)] = k
    inside = group >= 0
    t, p, group = t[inside], p[inside], group[inside]
    starts, ends, n = calls[:, 0], calls[:, 1], calls[:, 2]
    c = np.searchsorted(starts, t, side="right") - 1
    ok = c >= 0
    t, p, c, group = t[ok], p[ok], c[ok], group[ok]
    if t.size < 2 * BINS:
        return [], [], 0.0
    nxt = np.append(starts[1:], np.inf)
    w_start = np.array([w[0] for w in windows])
    w_end = np.array([w[1] for w in windows])
    win_end = w_end[np.clip(np.searchsorted(w_start, starts, side="right") - 1, 0, None)]
    cycle_end = np.minimum(nxt, np.maximum(win_end, ends))
    dyn_w = float(np.mean(p)) - idle_w
    levels: list[AliasLevel] = []
    loop_cycle = float(np.median(cycle_end - starts))
    if averaging_s < loop_cycle:
        phase = np.clip((t - starts[c]) / (cycle_end[c] - starts[c]), 0.0, 1.0 - 1e-12)
        levels.append(_level("loop", phase, p, group, loop_cycle, dyn_w))
    busy = t < ends[c]
    per_inf = (ends - starts) / n
    inf_cycle = float(np.median(per_inf))
    if averaging_s < inf_cycle and np.any(n > 1) and busy.sum() >= 2 * BINS:
        x = (t[busy] - starts[c[busy]]) / per_inf[c[busy]]
        levels.append(_level("inference", x - np.floor(x), p[busy], group[busy], inf_cycle, dyn_w))
    warnings: list[str] = []
    bias_w = 0.0
    kind = "point-sampling" if averaging_s == 0 else f"{averaging_s * 1e3:.3g} ms-averaging"
    rate = f"{1.0 / sample_period_s:.0f} Hz {kind} meter"
    for lv in levels:
        what = f"the {lv.cycle_s * 1e3:.3g} ms {lv.level} cycle"
        if lv.coverage < MIN_COVERAGE and averaging_s < lv.cycle_s / 4.0:
            raise EnergyRefused(
                "aliasing",
                f"the {rate}'s samples fall on {lv.coverage:.0%} of the phases of {what} (the "
                "sample clock beats with the loop); dither the inference loop or use an averaging "
                "meter",
            )
        if lv.relative_bias >= REFUSE_BIAS and lv.significant:
            raise EnergyRefused(
                "aliasing",
                f"the {rate}'s samples over-weight some phases of {what}: the sample mean differs "
                f"from the phase-balanced mean by {lv.relative_bias:.1%} of the dynamic power; "
                "dither the inference loop or use an averaging meter",
            )
        if lv.relative_bias >= WARN_BIAS and lv.significant:
            warnings.append(
                f"aliasing: the {rate}'s samples are unevenly spread over {what} (possible bias "
                f"{lv.relative_bias:.1%} of the dynamic power, included in the interval)"
            )
            bias_w = max(bias_w, abs(lv.bias_w))
    return levels, warnings, bias_w
