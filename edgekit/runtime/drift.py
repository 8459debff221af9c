"""Drift: rolling statistics of the preprocessed input and of the outputs against the bundle's
reference statistics, by the population stability index (PSI).

``PSI = sum_i (a_i - e_i) * ln(a_i / e_i)`` over bins, ``e`` the reference shares and ``a`` the
window's (both floored at 1e-4 so an empty bin does not make it infinite). Continuous
statistics use the reference quantiles as bin edges, so the reference shares are the gaps
between the quantile levels; the predicted label is categorical. The usual reading: below 0.1
stable, 0.1-0.25 a moderate shift, above 0.25 a significant one (the default threshold).

Statistics compared (each present in the manifest's ``reference_statistics``):
``input.<channel>_mean`` / ``input.<channel>_std`` — per capture, the mean and standard
deviation over the samples of each channel of the preprocessed input (a feature vector's
features are taken as they are), from ``preprocessed``; ``prediction`` — the primary's top
label, from ``prediction_distribution``; ``confidence`` — its confidence, from ``confidence``.
``edgekit.signals.reference.build_reference`` writes them from validation data (the build calls
it; it is re-exported here).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgekit.signals.reference import DEFAULT_QUANTILES, build_reference, capture_statistics

__all__ = [
    "DEFAULT_QUANTILES",
    "DriftMonitor",
    "DriftReport",
    "build_reference",
    "capture_statistics",
    "psi",
    "psi_quantile_bins",
]

_FLOOR = 1e-4


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """PSI of two share vectors over the same bins (each floored at 1e-4)."""
    e = np.maximum(np.asarray(expected, dtype=np.float64), _FLOOR)
    a = np.maximum(np.asarray(actual, dtype=np.float64), _FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def psi_quantile_bins(levels: Sequence[float], edges: Sequence[float], values: np.ndarray) -> float:
    """PSI of ``values`` against a reference given by its quantiles (``levels`` -> ``edges``).

    Repeated edges (a statistic that is often exactly one value) are merged, keeping the
    highest level for the edge, so no bin of zero width is expected to hold anything.
    """
    uniq_edges: list[float] = []
    uniq_levels: list[float] = []
    for level, edge in zip(levels, edges, strict=True):
        if uniq_edges and edge <= uniq_edges[-1]:
            uniq_levels[-1] = max(uniq_levels[-1], level)
        else:
            uniq_edges.append(float(edge))
            uniq_levels.append(float(level))
    expected = np.diff(np.concatenate(([0.0], uniq_levels, [1.0])))
    counts = np.bincount(np.searchsorted(uniq_edges, values, side="right"), minlength=len(expected))
    return psi(expected, counts / max(1, len(values)))


@dataclass(frozen=True)
class DriftReport:
    """One evaluation of the window: a PSI per statistic, the worst one, and the verdict."""

    scores: dict[str, float]
    worst: str
    worst_psi: float
    threshold: float
    window: int
    drifting: bool
    changed: bool


class DriftMonitor:
    """Collects the primary model's inputs and outputs; every ``every`` captures (once
    ``window`` are held) compares the last ``window`` with the reference.

    ``changed`` in the report is True when the verdict flipped (drift began or ended).
    """

    def __init__(
        self,
        reference: dict[str, Any],
        labels: Sequence[str],
        *,
        window: int = 256,
        every: int = 32,
        threshold: float = 0.25,
    ) -> None:
        self.labels = list(labels)
        self._label_index = {name: i for i, name in enumerate(labels)}
        self.window = window
        self.every = every
        self.threshold = threshold
        pre = reference.get("preprocessed") or {}
        self._input_names: list[str] = list(pre.get("statistics") or [])
        self._input_levels: list[float] = list(pre.get("quantiles") or [])
        self._input_edges: list[list[float]] = [list(v) for v in pre.get("values") or []]
        dist = reference.get("prediction_distribution")
        self._pred_ref = np.asarray(dist, dtype=np.float64) if dist else None
        conf = reference.get("confidence") or {}
        self._conf_ref = (list(conf["quantiles"]), list(conf["values"])) if conf.get("values") else None
        self._stats: deque[np.ndarray] = deque(maxlen=window)
        self._preds: deque[int] = deque(maxlen=window)
        self._confs: deque[float] = deque(maxlen=window)
        self._batch: list[np.ndarray] = []
        self._since = 0
        self.drifting = False
        self.last: DriftReport | None = None

    @property
    def statistics(self) -> list[str]:
        """What this reference lets the monitor compare."""
        out = [f"input.{n}" for n in self._input_names]
        if self._pred_ref is not None:
            out.append("prediction")
        if self._conf_ref is not None:
            out.append("confidence")
        return out

    def observe(
        self, preprocessed: np.ndarray | None, predicted: str | None, confidence: float
    ) -> DriftReport | None:
        """Add one primary answer; returns a report when an evaluation ran."""
        if preprocessed is not None and self._input_names:
            self._batch.append(preprocessed)
        if predicted is not None and predicted in self._label_index:
            self._preds.append(self._label_index[predicted])
        self._confs.append(confidence)
        self._since += 1
        if self._since < self.every:
            return None
        self._since = 0
        self._flush()
        if len(self._confs) < self.window:
            return None
        return self._evaluate()

    def _flush(self) -> None:
        if not self._batch:
            return
        names, stats = capture_statistics(np.concatenate(self._batch, axis=0))
        self._batch.clear()
        if len(names) != len(self._input_names):
            # the reference was made for another preprocessing: input drift cannot be judged
            self._input_names = []
            return
        self._stats.extend(stats)

    def _evaluate(self) -> DriftReport:
        scores: dict[str, float] = {}
        if self._input_names and len(self._stats) >= self.window // 2:
            block = np.asarray(self._stats)
            for j, name in enumerate(self._input_names):
                scores[f"input.{name}"] = psi_quantile_bins(
                    self._input_levels, self._input_edges[j], block[:, j]
                )
        if self._pred_ref is not None and self._preds:
            counts = np.bincount(np.asarray(self._preds), minlength=len(self._pred_ref))
            scores["prediction"] = psi(self._pred_ref, counts / counts.sum())
        if self._conf_ref is not None:
            levels, edges = self._conf_ref
            scores["confidence"] = psi_quantile_bins(levels, edges, np.asarray(self._confs))
        worst = max(scores, key=lambda k: scores[k]) if scores else ""
        worst_psi = scores.get(worst, 0.0)
        # hysteresis: drift ends only when every score is back under 80 % of the threshold
        drifting = worst_psi > self.threshold or (self.drifting and worst_psi > 0.8 * self.threshold)
        changed = drifting != self.drifting
        self.drifting = drifting
        report = DriftReport(
            scores,
            worst,
            worst_psi if math.isfinite(worst_psi) else 0.0,
            self.threshold,
            len(self._confs),
            drifting,
            changed,
        )
        self.last = report
        return report
