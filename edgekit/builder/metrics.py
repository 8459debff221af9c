"""Classification metrics, slice discovery and the out-of-distribution threshold (pure numpy).

Shared by the build's validate stage and the accuracy-aware quantisation loop. Slices come from
the evaluation data's metadata columns: categorical values as they are, numeric columns in bins.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from edgekit.results import AccuracyResult, OodResult, SliceResult
from edgekit.signals.scores import ood_scores, softmax  # re-exported: the build's callers use them here

__all__ = [
    "SliceMask",
    "accuracy_result",
    "calibrate_ood",
    "macro_f1",
    "make_slices",
    "ood_scores",
    "per_class_recall",
    "slice_results",
    "softmax",
    "worst_slices",
]


def per_class_recall(y: np.ndarray, pred: np.ndarray, labels: Sequence[str]) -> dict[str, float]:
    """Recall of each class that occurs in ``y`` (classes absent from ``y`` are omitted)."""
    out: dict[str, float] = {}
    for k, name in enumerate(labels):
        m = y == k
        if m.any():
            out[name] = float((pred[m] == k).mean())
    return out


def macro_f1(y: np.ndarray, pred: np.ndarray, n_classes: int) -> float:
    """Unweighted mean F1 over the classes present in ``y`` or ``pred``."""
    f1s = []
    for k in range(n_classes):
        tp = float(np.sum((pred == k) & (y == k)))
        fp = float(np.sum((pred == k) & (y != k)))
        fn = float(np.sum((pred != k) & (y == k)))
        if tp + fp + fn == 0:
            continue
        f1s.append(2 * tp / (2 * tp + fp + fn))
    return float(np.mean(f1s)) if f1s else 0.0


@dataclass(frozen=True)
class SliceMask:
    """One slice: a column, a printable value and the boolean mask over the evaluation rows."""

    column: str
    value: str
    mask: np.ndarray


def _fmt(v: float) -> str:
    return f"{v:g}"


def make_slices(
    meta: Mapping[str, np.ndarray],
    columns: Sequence[str],
    bins: Mapping[str, Sequence[float]],
    keep: np.ndarray,
) -> list[SliceMask]:
    """Slices over ``columns`` restricted to rows in ``keep`` (e.g. in-distribution only).

    A numeric column is cut at ``bins[column]`` edges (left-closed, the last bin closed), or at
    its quartiles when no edges are given; a boolean or string column slices by value.
    """
    out: list[SliceMask] = []
    for col in columns:
        if col not in meta:
            continue
        values = np.asarray(meta[col])
        if values.dtype.kind in "fiu" and values.dtype != np.bool_:
            v = values.astype(np.float64)
            finite = np.isfinite(v) & keep
            if not finite.any():
                continue
            edges = list(bins.get(col, []))
            if not edges:
                edges = sorted(set(np.quantile(v[finite], [0, 0.25, 0.5, 0.75, 1.0]).tolist()))
            for i, (lo, hi) in enumerate(pairwise(edges)):
                last = i == len(edges) - 2
                m = finite & (v >= lo) & ((v <= hi) if last else (v < hi))
                label = f"[{_fmt(lo)}, {_fmt(hi)}{']' if last else ')'}"
                out.append(SliceMask(col, label, m))
        else:
            for val in np.unique(values[keep]):
                out.append(SliceMask(col, str(val), keep & (values == val)))
    return out


def slice_results(
    slices: Sequence[SliceMask], y: np.ndarray, pred: np.ndarray, ref_pred: np.ndarray
) -> list[SliceResult]:
    """Accuracy of ``pred`` and of the reference on every non-empty slice."""
    out = []
    for s in slices:
        n = int(s.mask.sum())
        if n == 0:
            continue
        acc = float((pred[s.mask] == y[s.mask]).mean())
        ref = float((ref_pred[s.mask] == y[s.mask]).mean())
        out.append(SliceResult(s.column, s.value, n, acc, ref, ref - acc))
    return out


def worst_slices(results: Sequence[SliceResult], min_size: int, k: int) -> list[SliceResult]:
    """The ``k`` slices of at least ``min_size`` rows with the largest drop vs the reference.

    Only real drops (> 0) are listed: a slice the variant improves is never "worst". The
    lowest-accuracy ranking is a separate list (the report builds it from ``slices``), because
    mixing the two orderings put improvements between drops.
    """
    big = [r for r in results if r.n >= min_size and math.isfinite(r.drop) and r.drop > 0]
    return sorted(big, key=lambda r: (-r.drop, r.accuracy, r.column, r.value))[:k]


def calibrate_ood(
    score: np.ndarray,
    in_dist: np.ndarray,
    ood: np.ndarray,
    *,
    kind: str,
    target_accept: float,
    ood_classes: Sequence[str],
) -> OodResult:
    """Pick the threshold accepting ``target_accept`` of in-distribution rows; measure OOD rejection."""
    ind = score[in_dist]
    threshold = float(np.quantile(ind, 1.0 - target_accept)) if ind.size else float("nan")
    accept = float((ind >= threshold).mean()) if ind.size else float("nan")
    n_ood = int(ood.sum())
    unknown = float((score[ood] < threshold).mean()) if n_ood else None
    return OodResult(kind, threshold, accept, unknown, int(in_dist.sum()), n_ood, list(ood_classes))


def accuracy_result(
    *,
    y: np.ndarray,
    scores: np.ndarray,
    ref_scores: np.ndarray,
    labels: Sequence[str],
    in_dist: np.ndarray,
    slices: Sequence[SliceMask],
    min_slice: int,
    worst_k: int,
    ood: OodResult | None,
    source: str,
) -> AccuracyResult:
    """Every accuracy figure of one variant against the reference, on in-distribution rows."""
    pred = np.asarray(scores).argmax(axis=1)
    ref_pred = np.asarray(ref_scores).argmax(axis=1)
    yi, pi = y[in_dist], pred[in_dist]
    sl = slice_results(slices, y, pred, ref_pred)
    diff = np.abs(np.asarray(scores, np.float64) - np.asarray(ref_scores, np.float64))
    return AccuracyResult(
        n=int(in_dist.sum()),
        accuracy=float((pi == yi).mean()) if yi.size else float("nan"),
        macro_f1=macro_f1(yi, pi, len(labels)),
        per_class_recall=per_class_recall(yi, pi, labels),
        agreement_with_reference=float((pred == ref_pred).mean()),
        max_abs_diff_vs_reference=float(diff.max()) if diff.size else 0.0,
        slices=sl,
        worst_slices=worst_slices(sl, min_slice, worst_k),
        ood=ood,
        data_source=source,
        min_slice_size=min_slice,
    )
