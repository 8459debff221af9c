"""Results with context: how often each answer was right, per on-device condition.

For every predicted label and every bin of every observable condition (``[context] observable``,
computed from the capture itself by ``edgekit.signals.observe``, on the build side exactly as on
the device), the validated precision of the answer: of the evaluation captures the variant
*accepted* (above its "unknown" threshold) and labelled so, in that condition, how many were
that label. Out-of-distribution captures count too (an accepted OFDM capture called "bpsk" is a
wrong "bpsk"), because the device meets them as well. Each figure carries its count and a
Wilson score interval (``scipy.stats.binomtest(...).proportion_ci(method="wilson")``), which
stays inside [0, 1] and is honest for small counts, unlike the normal approximation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import pairwise

import numpy as np
from scipy import stats

from edgekit.results import ContextCell

__all__ = ["DEFAULT_EDGES", "bin_label", "context_table", "wilson"]

DEFAULT_EDGES: dict[str, list[float]] = {"snr_db": [-10.0, 0.0, 10.0, 20.0]}
"""Bin edges per observable when neither ``[context] bins`` nor ``slices.bins`` give them."""


def wilson(correct: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of ``correct`` successes in ``n`` trials; (0, 1) when ``n`` is 0."""
    if n == 0:
        return 0.0, 1.0
    ci = stats.binomtest(int(correct), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def _fmt(v: float) -> str:
    return f"{v:g}"


def bin_label(low: float | None, high: float | None) -> str:
    """Printable bin: ``< -10``, ``[0, 10)``, ``>= 20``."""
    if low is None and high is None:
        return "all"
    if low is None:
        return f"< {_fmt(float(high))}"  # type: ignore[arg-type]
    if high is None:
        return f">= {_fmt(low)}"
    return f"[{_fmt(low)}, {_fmt(high)})"


def _bins(edges: Sequence[float]) -> list[tuple[float | None, float | None]]:
    """Open outer bins around the edges, so every value falls in exactly one."""
    bounds: list[float | None] = [None, *edges, None]
    return list(pairwise(bounds))


def _in(values: np.ndarray, low: float | None, high: float | None) -> np.ndarray:
    m = np.isfinite(values)
    if low is not None:
        m &= values >= low
    if high is not None:
        m &= values < high
    return m


def context_table(
    *,
    pred: np.ndarray,
    correct: np.ndarray,
    accepted: np.ndarray,
    labels: Sequence[str],
    conditions: Mapping[str, np.ndarray],
    edges: Mapping[str, Sequence[float]],
    confidence: float = 0.95,
) -> list[ContextCell]:
    """One cell per (label, condition bin), plus one per label over all conditions (``""``).

    ``pred``: the variant's label index per row; ``correct``: whether it is the row's true label
    (False for out-of-distribution rows); ``accepted``: not called "unknown"; ``conditions``:
    each observable's value per row. Labels never predicted get a cell of n = 0 (interval 0-1),
    so the device can tell "never seen" from "seen and right"."""
    pred = np.asarray(pred)
    correct = np.asarray(correct, dtype=bool)
    accepted = np.asarray(accepted, dtype=bool)
    cells: list[ContextCell] = []

    def cell(label: str, cond: str, low: float | None, high: float | None, m: np.ndarray) -> ContextCell:
        n, k = int(m.sum()), int((m & correct).sum())
        lo, hi = wilson(k, n, confidence)
        precision = k / n if n else None
        return ContextCell(label, cond, bin_label(low, high), low, high, n, k, precision, lo, hi, confidence)

    for i, label in enumerate(labels):
        said = accepted & (pred == i)
        cells.append(cell(label, "", None, None, said))
        for name, values in conditions.items():
            v = np.asarray(values, dtype=np.float64)
            for low, high in _bins(edges.get(name) or DEFAULT_EDGES.get(name, [])):
                cells.append(cell(label, name, low, high, said & _in(v, low, high)))
    return cells
