"""Slice discovery: subgroups of the evaluation data that are significantly worse than the rest.

Configured slices only find the weak spots someone thought of. This searches the metadata
itself: every value of a non-numeric column (up to ``max_values`` distinct values), numeric
columns cut into bins (the configured ``slices.bins`` edges, else quartiles; an integer column
with few values is taken by value), and, with ``pairs``, every combination of two conditions on
two columns. Each candidate of at least ``min_size`` rows is tested against the rest of the rows
with a one-sided Fisher exact test (``scipy.stats.fisher_exact``), for two questions:

- ``accuracy``: is the variant's accuracy in the subgroup lower than in the rest?
- ``drop_vs_fp32``: are captures the fp32 reference gets right and the variant gets wrong more
  frequent in the subgroup than in the rest? (only when the variant differs from fp32 somewhere)

All p-values of a variant form one family, corrected with Benjamini-Hochberg
(``scipy.stats.false_discovery_control``), so the expected share of false discoveries among
those reported is at most ``alpha``. A discovery also needs a gap of at least ``min_gap`` (a
tiny gap on a huge subgroup is significant and useless).

A subgroup that overlaps a stronger discovery is often worse only because of the rows they share
(``site = c`` around a planted ``site = c and snr_db < 0``). So the significant candidates are
taken strongest evidence first, and each is kept only if it is still significant (at the BH
cut-off) and wide enough once the rows of the discoveries kept before it are set aside, from the
subgroup and from the rest alike. The kept ones are ranked by size x gap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations, pairwise

import numpy as np
from scipy import stats

from edgekit.results import DiscoveredSlice

__all__ = ["Condition", "conditions_of", "discover"]


@dataclass(frozen=True)
class Condition:
    """One single-column condition: its column, printable value and row mask."""

    column: str
    value: str
    mask: np.ndarray


def _fmt(v: float) -> str:
    return f"{v:g}"


def _numeric_conditions(col: str, v: np.ndarray, keep: np.ndarray, edges: Sequence[float]) -> list[Condition]:
    finite = np.isfinite(v) & keep
    if not finite.any():
        return []
    cuts = sorted(set(edges)) if edges else sorted(set(np.quantile(v[finite], [0.25, 0.5, 0.75]).tolist()))
    # open outer bins, so every finite row falls in exactly one bin
    bounds = [-np.inf, *cuts, np.inf]
    out = []
    for lo, hi in pairwise(bounds):
        m = finite & (v >= lo) & (v < hi)
        if lo == -np.inf:
            label = f"< {_fmt(hi)}"
        elif hi == np.inf:
            label = f">= {_fmt(lo)}"
        else:
            label = f"in [{_fmt(lo)}, {_fmt(hi)})"
        out.append(Condition(col, label, m))
    return out


def conditions_of(
    meta: Mapping[str, np.ndarray],
    keep: np.ndarray,
    *,
    columns: Sequence[str] = (),
    bins: Mapping[str, Sequence[float]] | None = None,
    max_values: int = 12,
) -> list[Condition]:
    """Every single-column condition over ``columns`` (all of ``meta`` when empty)."""
    out: list[Condition] = []
    for col in columns or sorted(meta):
        if col not in meta:
            continue
        values = np.asarray(meta[col])
        if values.ndim != 1 or values.shape[0] != keep.shape[0]:
            continue
        distinct = np.unique(values[keep])
        numeric = values.dtype.kind in "iuf"
        edges = list((bins or {}).get(col, []))
        if numeric and (values.dtype.kind == "f" or len(distinct) > max_values or edges):
            out.extend(_numeric_conditions(col, values.astype(np.float64), keep, edges))
        elif len(distinct) <= max_values:
            out.extend(Condition(col, f"= {d}", keep & (values == d)) for d in distinct)
    return out


def _fisher_less(k1: int, n1: int, k2: int, n2: int) -> float:
    """One-sided p-value that the first group's success rate is lower than the second's."""
    res = stats.fisher_exact([[k1, n1 - k1], [k2, n2 - k2]], alternative="less")
    return float(res.pvalue)


@dataclass
class _Test:
    metric: str
    conds: tuple[Condition, ...]
    mask: np.ndarray
    n: int
    value: float
    rest_value: float
    gap: float
    p: float


def _test(
    metric: str, conds: tuple[Condition, ...], m: np.ndarray, rest: np.ndarray, good: np.ndarray
) -> _Test:
    """Is ``good`` rarer in ``m`` than in ``rest``? Figures as reported for ``metric``."""
    n1, n2 = int(m.sum()), int(rest.sum())
    k1, k2 = int(good[m].sum()), int(good[rest].sum())
    p = _fisher_less(k1, n1, k2, n2) if n1 and n2 else 1.0
    r1, r2 = (k1 / n1 if n1 else float("nan")), (k2 / n2 if n2 else float("nan"))
    if metric == "accuracy":
        return _Test(metric, conds, m, n1, r1, r2, r2 - r1, p)
    return _Test(metric, conds, m, n1, 1 - r1, 1 - r2, r2 - r1, p)  # the drop: share lost


def _candidates(singles: Sequence[Condition], pairs: bool, min_size: int) -> list[tuple[Condition, ...]]:
    big = [c for c in singles if int(c.mask.sum()) >= min_size]
    out: list[tuple[Condition, ...]] = [(c,) for c in big]
    if pairs:
        for a, b in combinations(big, 2):
            if a.column != b.column and int((a.mask & b.mask).sum()) >= min_size:
                out.append((a, b))
    return out


def discover(
    meta: Mapping[str, np.ndarray],
    correct: np.ndarray,
    keep: np.ndarray,
    *,
    ref_correct: np.ndarray | None = None,
    columns: Sequence[str] = (),
    bins: Mapping[str, Sequence[float]] | None = None,
    pairs: bool = True,
    min_size: int = 30,
    alpha: float = 0.05,
    min_gap: float = 0.05,
    max_values: int = 12,
) -> list[DiscoveredSlice]:
    """Significantly worse subgroups of the rows in ``keep``, best-ranked (n x gap) first.

    ``correct`` marks rows the variant classifies right; ``ref_correct`` the fp32 reference's
    (enables the ``drop_vs_fp32`` question)."""
    keep = np.asarray(keep, dtype=bool)
    correct = np.asarray(correct, dtype=bool)
    singles = conditions_of(meta, keep, columns=columns, bins=bins, max_values=max_values)
    groups = _candidates(singles, pairs, min_size)
    lost = None
    if ref_correct is not None:
        lost_rows = np.asarray(ref_correct, dtype=bool) & ~correct & keep
        lost = lost_rows if lost_rows.any() else None
    tests: list[_Test] = []
    for conds in groups:
        m = keep.copy()
        for c in conds:
            m &= c.mask
        rest = keep & ~m
        n1, n2 = int(m.sum()), int(rest.sum())
        if n1 < min_size or n2 == 0:
            continue
        tests.append(_test("accuracy", conds, m, rest, correct))
        if lost is not None:  # lost more often in the subgroup == kept (not lost) less often
            tests.append(_test("drop_vs_fp32", conds, m, rest, ~lost))
    if not tests:
        return []
    q = stats.false_discovery_control([t.p for t in tests], method="bh")
    significant = [(t, float(qv)) for t, qv in zip(tests, q, strict=True) if qv <= alpha]
    if not significant:
        return []
    p_cut = max(t.p for t, _ in significant)  # the BH cut-off on raw p-values
    good = {"accuracy": correct, "drop_vs_fp32": ~lost if lost is not None else correct}
    explained = {metric: np.zeros_like(keep) for metric in good}
    found = []
    for t, qv in sorted(significant, key=lambda tq: (tq[0].p, -tq[0].n)):
        if t.gap < min_gap:
            continue
        free = keep & ~explained[t.metric]
        again = _test(t.metric, t.conds, t.mask & free, free & ~t.mask, good[t.metric])
        if again.n < min_size or again.p > p_cut or again.gap < min_gap:
            continue  # explained by a stronger discovery it overlaps
        explained[t.metric] |= t.mask
        found.append(
            DiscoveredSlice(
                metric=t.metric,
                conditions=[[c.column, c.value] for c in t.conds],
                description=" and ".join(f"{c.column} {c.value}" for c in t.conds),
                n=t.n,
                value=t.value,
                rest_value=t.rest_value,
                gap=t.gap,
                p_value=t.p,
                q_value=qv,
                score=t.n * t.gap,
                tested=len(tests),
            )
        )
    return sorted(found, key=lambda d: (-d.score, d.q_value, d.description, d.metric))
