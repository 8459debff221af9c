"""The ``ood`` stage's per-SNR-band operating point (``ood.low_snr_db``): after the score is
chosen with one threshold, captures whose blind SNR estimate lies below the edge get a threshold
of their own (``signals.bands.fit_low_band``), fitted on the same captures as the choice (the
choice half's in-distribution rows and its choice family), then measured on the held-out half
per band, so the shipped figures stay honest.

Why: one threshold spent the 5 % of false unknowns where the score put them, about evenly over
the SNR bands; out-of-distribution captures are hard to tell apart below about -7.5 dB and easy
above. On development data (``scripts/ood_dev_check.py --bands``: statistics fitted on seed 101,
measured on seed 707, never the build's 202) spending more of it below -7.5 dB (at least 85 %
of that band's in-distribution captures still accepted) called more of *both* families unknown
at the same overall acceptance; the figures are in the README's OOD section.
"""

from __future__ import annotations

import numpy as np

from edgekit.results import OodBandRow, OodScoreRow
from edgekit.signals.bands import BandThresholds, fit_low_band

__all__ = ["apply_bands"]


def _rate(mask: np.ndarray) -> float | None:
    return float(mask.mean()) if mask.size else None


def apply_bands(
    row: OodScoreRow,
    s: np.ndarray,
    snr: np.ndarray,
    names: np.ndarray,
    in_dist: np.ndarray,
    ood: np.ndarray,
    half: np.ndarray,
    choice: str,
    families: list[str],
    *,
    edge_db: float,
    target: float,
    min_low_accept: float,
) -> BandThresholds | None:
    """Fit the band thresholds of the chosen score ``s`` (per evaluation row, with its SNR
    estimate ``snr``; ``in_dist`` and ``ood`` mark the rows, ``half`` the choice half) and
    rewrite ``row``'s held-out figures to theirs (the single threshold's kept as ``single_*``).
    None, with ``row.band_rule`` saying why, when there is too little to fit on."""
    fam_c = (names == choice) & half
    fit = fit_low_band(
        s[in_dist & half], snr[in_dist & half], s[fam_c], snr[fam_c],
        edge_db=edge_db, target=target, min_low_accept=min_low_accept,
    )
    if fit is None:
        row.band_rule = (f"one threshold: too few captures below {edge_db:g} dB or of {choice!r} "
                         "on the choice half to fit a second")
        return None
    bt = fit.thresholds
    thr = bt.threshold(snr)
    unknown = s < thr
    held = ~half
    row.single_heldout_accept_rate = row.heldout_accept_rate
    row.single_heldout_unknown = dict(row.heldout_unknown)
    row.threshold = bt.thresholds[-1]
    row.heldout_accept_rate = _rate(~unknown[in_dist & held])
    row.heldout_unknown_all = _rate(unknown[ood & held])
    for fam in families:
        m = (names == fam) & held
        if m.any():
            row.heldout_unknown[fam] = float(unknown[m].mean())
    band = bt.band(snr)
    edges = bt.edges_db
    for k, t in enumerate(bt.thresholds):
        label = f"< {edges[0]:g} dB" if k == 0 else (
            f">= {edges[k - 1]:g} dB" if k == len(edges) else f"{edges[k - 1]:g}..{edges[k]:g} dB")
        ind_h = in_dist & held & (band == k)
        per_class = {str(c): float((~unknown[ind_h & (names == c)]).mean())
                     for c in np.unique(names[ind_h])}
        worst = min(per_class, key=lambda c: per_class[c]) if per_class else ""
        row.bands.append(OodBandRow(
            label, float(t), _rate(~unknown[in_dist & half & (band == k)]), int(ind_h.sum()),
            _rate(~unknown[ind_h]),
            {fam: float(unknown[(names == fam) & held & (band == k)].mean())
             for fam in families if np.any((names == fam) & held & (band == k))},
            worst, per_class.get(worst),
        ))
    row.band_rule = (
        f"below {edge_db:g} dB (blind SNR estimate) a threshold of its own, accepting "
        f"{fit.low_accept:.1%} of that band's in-distribution captures on the choice half (floor "
        f"{min_low_accept:.0%}); the rest {fit.rest_accept:.1%}; chosen to call most {choice} "
        f"unknown at {target:.0%} accepted overall ({fit.caught} against {fit.caught_single} "
        "with one threshold, choice half)"
    )
    return bt
