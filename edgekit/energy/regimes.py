"""Regime changes across a run (DVFS, thermal throttling, background load), found and named.

A frequency step mid-run makes the median of windows report one regime. Here the block series of
dynamic energy per inference and of busy time per inference are searched for level shifts by
binary segmentation (a two-sample statistic with a noise scale from the median absolute first
difference, robust to the shift itself); a shift must be both significant and at least
``MIN_SHIFT`` of the level. Each change is named from the ``env`` events around it (governor,
clock, temperature, throttling) or, without them, from what moved (time per inference and power:
DVFS; power alone: background load or heat).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Change", "find_changes", "name_cause"]

Z_THRESHOLD = 6.0
MIN_SHIFT = 0.02
MIN_BLOCKS = 3
MAX_CHANGES = 2


@dataclass(frozen=True)
class Change:
    """A level shift before block ``index`` (block index into the run's block series)."""

    index: int
    statistic: float
    series: str
    before: float
    after: float


def _noise(y: np.ndarray) -> float:
    d = np.diff(y)
    if d.size == 0:
        return 0.0
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / math.sqrt(2.0))


def _best_split(y: np.ndarray, sigma: float) -> tuple[int, float]:
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


def _segment(y: np.ndarray, lo: int, hi: int, sigma: float, level: float, name: str) -> list[Change]:
    k, stat = _best_split(y[lo:hi], sigma)
    if k < 0 or stat < Z_THRESHOLD:
        return []
    before, after = float(np.mean(y[lo : lo + k])), float(np.mean(y[lo + k : hi]))
    if abs(after - before) < MIN_SHIFT * abs(level):
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
    if before and after:
        b, a = before[-1], after[0]
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
