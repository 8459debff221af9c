"""Per-SNR-band thresholds (``signals.bands``): the split of the false-unknown budget checked
against thresholds worked out by hand on small arrays, against the closed-form optimum of a toy
score, and the manifest form's refusals."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.errors import BundleError
from edgekit.signals.bands import BandThresholds, fit_low_band

LOW, HIGH = -10.0, 0.0  # SNR estimates of the two bands, either side of the edge -7.5 dB


def _fit(ind_low, ind_rest, fam_low, fam_rest, *, target=0.9, floor=0.8, min_rows=5):
    ind = np.r_[ind_low, ind_rest]
    ind_snr = np.r_[np.full(len(ind_low), LOW), np.full(len(ind_rest), HIGH)]
    fam = np.r_[fam_low, fam_rest]
    fam_snr = np.r_[np.full(len(fam_low), LOW), np.full(len(fam_rest), HIGH)]
    return fit_low_band(ind, ind_snr, fam, fam_snr, edge_db=-7.5, target=target,
                        min_low_accept=floor, min_rows=min_rows)


# In-distribution: 0..9 below the edge, 10..19 above; 90 % of 20 accepted leaves 2 to reject.
ID_LOW, ID_REST = np.arange(10.0), np.arange(10.0, 20.0)


def test_the_split_calling_most_unknown_ties_to_fewer_low_snr_rejections():
    # r low-band rejections: r = 0 -> thresholds (0, 12) catch 10.5 only; r = 1 -> (1, 11)
    # catch 0.5 and 10.5; r = 2 -> (2, 10) catch 0.5 and 1.5: 2 = 2, the tie goes to r = 1
    fit = _fit(ID_LOW, ID_REST, [0.5, 1.5], [10.5])
    assert fit is not None
    assert fit.thresholds == BandThresholds((-7.5,), (1.0, 11.0))
    assert (fit.caught, fit.caught_single) == (2, 2)  # one threshold (2.0) catches 0.5 and 1.5
    assert (fit.low_accept, fit.rest_accept) == (0.9, 0.9)


def test_the_budget_goes_where_the_family_is():
    # nothing of the family above the edge: both rejections below it, thresholds (2, 10)
    fit = _fit(ID_LOW, ID_REST, [0.5, 1.5], [])
    assert fit is not None and fit.thresholds.thresholds == (2.0, 10.0) and fit.caught == 2
    assert fit.low_accept == 0.8 and fit.rest_accept == 1.0


def test_the_low_band_floor_limits_its_rejections():
    # at least 90 % of the low band accepted: one rejection there at most, thresholds (1, 11)
    fit = _fit(ID_LOW, ID_REST, [0.5, 1.5], [], floor=0.9)
    assert fit is not None and fit.thresholds.thresholds == (1.0, 11.0) and fit.caught == 1


def test_too_few_rows_or_no_family_keeps_one_threshold():
    assert _fit(ID_LOW, ID_REST, [0.5], [], min_rows=11) is None
    assert _fit(ID_LOW, ID_REST, [], []) is None


def test_toy_score_reaches_the_closed_form_optimum():
    # In-distribution scores uniform on (0, 1) in both bands (n each), so a threshold t rejects
    # the share t. The family below the edge has density 2 (1 - s) (CDF 2t - t^2), above it
    # uniform (CDF t), as many in each band. Budget: 60 % accepted overall, t_low + t_rest =
    # 0.8. Maximise 2 t_low - t_low^2 + t_rest: 2 - 2 t_low = 1, so t_low = 0.5, t_rest = 0.3.
    # The optimum is flat (missing it by d costs n d^2 captures): n large enough that 0.02 off
    # costs 8 captures, far more than the one capture the quantile grid can shift.
    n = 20000
    u = (np.arange(n) + 0.5) / n
    fit = _fit(u, u, 1.0 - np.sqrt(1.0 - u), u, target=0.6, floor=0.3)
    assert fit is not None
    t_low, t_rest = fit.thresholds.thresholds
    assert t_low == pytest.approx(0.5, abs=0.02) and t_rest == pytest.approx(0.3, abs=0.02)
    assert fit.low_accept == pytest.approx(0.5, abs=0.02)
    # and the split beats one threshold (0.4 in both: 2*0.4 - 0.16 + 0.4 = 1.04 n < 1.05 n)
    assert fit.caught > fit.caught_single


def test_band_of_an_estimate_and_its_threshold():
    bt = BandThresholds((-7.5, 5.0), (0.5, 0.1, -0.2))
    snr = np.array([-30.0, -7.5, -7.6, 4.9, 5.0, 60.0])
    assert bt.band(snr).tolist() == [0, 1, 0, 1, 2, 2]  # an estimate on an edge: the band above
    assert bt.threshold(snr).tolist() == [0.5, 0.1, 0.5, 0.1, -0.2, -0.2]


def test_manifest_form_round_trips_and_absent_means_one_threshold():
    bt = BandThresholds((-7.5,), (0.25, -1.5))
    assert bt.to_manifest() == {"snr_edges_db": [-7.5], "thresholds": [0.25, -1.5]}
    assert BandThresholds.from_manifest(bt.to_manifest(), "m") == bt
    assert BandThresholds.from_manifest(None, "m") is None


@pytest.mark.parametrize("raw", [
    [0.1, 0.2],
    {"snr_edges_db": [-7.5], "thresholds": [0.1]},  # one threshold short
    {"snr_edges_db": [0.0, -5.0], "thresholds": [1, 2, 3]},  # edges not increasing
    {"snr_edges_db": [-7.5], "thresholds": [0.1, float("nan")]},
    {"snr_edges_db": [-7.5], "thresholds": [0.1, True]},
    {"thresholds": [0.1]},
])
def test_manifest_form_refuses_what_it_cannot_apply(raw):
    with pytest.raises(BundleError, match=r"^bundle/manifest\.json: ood\.band_thresholds: expected"):
        BandThresholds.from_manifest(raw, "bundle/manifest.json: ood.band_thresholds")
