"""Per-SNR-band OOD thresholds: where the build spends its budget of false "unknown" answers.

One threshold accepting 95 % of in-distribution captures spends the 5 % false unknowns where the
score happens to put them. At low SNR an out-of-distribution capture is hard to tell from noise,
at high SNR easy; :func:`fit_low_band` lets the captures whose blind SNR estimate
(``signals.snr.estimate_snr_db``, computed on the device from the capture itself) lies below
``ood.low_snr_db`` have a threshold of their own: the split of the budget between that band and
the rest that calls the most captures of the choice family unknown, subject to the overall
acceptance target and a floor on the low band's acceptance (users at low SNR still need answers).

Manifest form (``ood.band_thresholds``; :meth:`BandThresholds.to_manifest`)::

    {"snr_edges_db": [-7.5], "thresholds": [t_low, t_rest]}

A capture whose estimate is ``e`` uses ``thresholds[searchsorted(snr_edges_db, e, "right")]``;
K edges give K + 1 thresholds (the build writes one edge; the device reads any number). Bundles
without the key use the single ``ood.threshold``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgekit.errors import BundleError

__all__ = ["MIN_LOW_BAND_ROWS", "BandThresholds", "LowBandFit", "fit_low_band"]

MIN_LOW_BAND_ROWS = 50
"""In-distribution captures the low band needs on the choice half for a threshold of its own:
below that its quantiles are too noisy to spend the budget on (one threshold is kept)."""


@dataclass(frozen=True)
class BandThresholds:
    """Thresholds per band of the blind SNR estimate, cut at ``edges_db`` (increasing)."""

    edges_db: tuple[float, ...]
    thresholds: tuple[float, ...]

    def band(self, snr_db: np.ndarray) -> np.ndarray:
        """Band index of each estimate (0: below the first edge)."""
        out: np.ndarray = np.searchsorted(np.asarray(self.edges_db), snr_db, side="right")
        return out

    def threshold(self, snr_db: np.ndarray) -> np.ndarray:
        """The threshold each capture is held to."""
        out: np.ndarray = np.asarray(self.thresholds, dtype=np.float64)[self.band(snr_db)]
        return out

    def to_manifest(self) -> dict[str, list[float]]:
        return {"snr_edges_db": list(self.edges_db), "thresholds": list(self.thresholds)}

    @classmethod
    def from_manifest(cls, raw: Any, where: str) -> BandThresholds | None:
        """None when absent (a bundle with one threshold); BundleError naming ``where`` when the
        value is not a table of increasing finite edges and one more finite threshold."""
        if raw is None:
            return None
        want = ("an object {\"snr_edges_db\": [increasing dB], \"thresholds\": [one more "
                "number than edges]}")
        if not isinstance(raw, dict):
            raise BundleError(f"{where}: expected {want}, got {raw!r}")
        edges, thr = raw.get("snr_edges_db"), raw.get("thresholds")
        ok = (
            isinstance(edges, list) and isinstance(thr, list) and len(thr) == len(edges) + 1
            and all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                    for v in [*edges, *thr])
            and all(b > a for a, b in itertools.pairwise(edges))
        )
        if not ok or not isinstance(edges, list) or not isinstance(thr, list):
            raise BundleError(f"{where}: expected {want}, got {raw!r}")
        return cls(tuple(float(v) for v in edges), tuple(float(v) for v in thr))


@dataclass(frozen=True)
class LowBandFit:
    """What :func:`fit_low_band` chose, with the counts it was chosen on (choice half)."""

    thresholds: BandThresholds
    low_accept: float  # in-distribution captures of the low band accepted
    rest_accept: float
    caught: int  # choice-family captures called unknown
    caught_single: int  # the same with one threshold (the rule's reference)


def _threshold_rejecting(sorted_scores: np.ndarray, r: int) -> float:
    """The threshold under which the ``r`` lowest scores fall (``score < t`` is unknown)."""
    if r <= 0:
        return float(sorted_scores[0]) if len(sorted_scores) else -math.inf
    return float(sorted_scores[r]) if r < len(sorted_scores) else math.inf


def fit_low_band(
    ind: np.ndarray,
    ind_snr: np.ndarray,
    fam: np.ndarray,
    fam_snr: np.ndarray,
    *,
    edge_db: float,
    target: float,
    min_low_accept: float,
    min_rows: int = MIN_LOW_BAND_ROWS,
) -> LowBandFit | None:
    """Two thresholds, one for captures whose SNR estimate is below ``edge_db`` and one for the
    rest, from in-distribution scores ``ind`` and the choice family's ``fam`` (higher is more
    in-distribution), each with its SNR estimates.

    Exhaustive over the number ``r`` of in-distribution low-band captures rejected (each
    threshold is an order statistic: the ``r`` lowest fall under it): at least
    ``ceil(target * n)`` of all ``n`` in-distribution captures stay accepted, at least
    ``min_low_accept`` of the low band's; among the splits the one calling most of ``fam``
    unknown, ties to the smaller ``r`` (fewer low-SNR answers withheld). None when the low band
    or the rest has fewer than ``min_rows`` captures, or nothing in ``fam`` to steer by.
    """
    ind, ind_snr = np.asarray(ind, np.float64), np.asarray(ind_snr, np.float64)
    fam, fam_snr = np.asarray(fam, np.float64), np.asarray(fam_snr, np.float64)
    low = np.sort(ind[ind_snr < edge_db])
    rest = np.sort(ind[ind_snr >= edge_db])
    if min(len(low), len(rest)) < min_rows or fam.size == 0:
        return None
    f_low, f_rest = np.sort(fam[fam_snr < edge_db]), np.sort(fam[fam_snr >= edge_db])
    n = len(low) + len(rest)
    budget = n - math.ceil(target * n - 1e-9)  # captures that may be rejected in all
    max_low = min(budget, len(low) - math.ceil(min_low_accept * len(low) - 1e-9))
    best: tuple[int, int, float, float] | None = None
    for r in range(max(max_low, 0) + 1):
        t_low = _threshold_rejecting(low, r)
        t_rest = _threshold_rejecting(rest, budget - r)
        if not (math.isfinite(t_low) and math.isfinite(t_rest)):
            continue  # every capture of a band rejected: never a usable answer
        caught = int(np.searchsorted(f_low, t_low, "left") + np.searchsorted(f_rest, t_rest, "left"))
        if best is None or caught > best[0]:
            best = (caught, r, t_low, t_rest)
    if best is None:
        return None
    caught, r, t_low, t_rest = best
    # the reference: one threshold rejecting the same budget over all captures
    t1 = _threshold_rejecting(np.sort(ind), budget)
    single = int((fam < t1).sum())
    return LowBandFit(
        BandThresholds((float(edge_db),), (t_low, t_rest)),
        float((low >= t_low).mean()), float((rest >= t_rest).mean()) if len(rest) else 1.0,
        caught, single,
    )
