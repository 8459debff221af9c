"""``signals.bands`` at its boundaries (mutation round, ``scripts/mutation.sh bands``): the edge
itself, a family score equal to a threshold, the least rows and family that still fit, the
acceptance target where ``target * n`` lands a hair above an integer, a floor of 100 %, and the
manifest form's refusals with their whole message. Every expected threshold and count is worked
out by hand in the comments from small arrays (scores are integers, so order statistics are
read off directly).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgekit.errors import BundleError
from edgekit.signals.bands import MIN_LOW_BAND_ROWS, BandThresholds, _threshold_rejecting, fit_low_band

EDGE = -7.5


def _fit(ind_low, ind_rest, fam_low, fam_rest, *, target=0.9, floor=0.8, min_rows=5,
         low_snr=-10.0, rest_snr=0.0, fam_low_snr=None, fam_rest_snr=None):
    ind = np.r_[ind_low, ind_rest].astype(float)
    ind_snr = np.r_[np.full(len(ind_low), low_snr), np.full(len(ind_rest), rest_snr)]
    fam = np.r_[fam_low, fam_rest].astype(float)
    fam_snr = np.r_[np.full(len(fam_low), low_snr if fam_low_snr is None else fam_low_snr),
                    np.full(len(fam_rest), rest_snr if fam_rest_snr is None else fam_rest_snr)]
    return fit_low_band(ind, ind_snr, fam, fam_snr, edge_db=EDGE, target=target,
                        min_low_accept=floor, min_rows=min_rows)


ID_LOW, ID_REST = np.arange(10.0), np.arange(10.0, 20.0)  # 20 in-distribution, 2 may be rejected


def test_the_documented_minimum_rows() -> None:
    assert MIN_LOW_BAND_ROWS == 50


def test_threshold_rejecting_order_statistics_by_hand() -> None:
    s = np.array([1.0, 2.0, 3.0])
    assert _threshold_rejecting(s, 0) == 1.0  # nothing below the lowest
    assert _threshold_rejecting(s, -1) == 1.0
    assert _threshold_rejecting(s, 1) == 2.0
    assert _threshold_rejecting(s, 2) == 3.0
    assert _threshold_rejecting(s, 3) == math.inf  # everything rejected: no finite threshold
    assert _threshold_rejecting(s, 4) == math.inf
    assert _threshold_rejecting(np.array([]), 0) == -math.inf  # nothing to reject: accept all


def test_a_capture_estimated_exactly_at_the_edge_belongs_to_the_band_above() -> None:
    # as on the device (searchsorted side="right"): the low band at the edge is empty here, so
    # with min_rows 5 the fit must refuse; one that put the edge below would fit
    assert _fit(ID_LOW, ID_REST, [0.5], [], low_snr=EDGE) is None
    bt = BandThresholds((EDGE,), (1.0, 2.0))
    around = np.array([EDGE, np.nextafter(EDGE, -np.inf), np.nextafter(EDGE, np.inf)])
    assert bt.band(around).tolist() == [1, 0, 1]


def test_family_captures_at_the_edge_count_in_the_band_above() -> None:
    # family at exactly the edge, score 10.5: counted against the rest's threshold. r = 0 gives
    # (0, 12) and catches it (10.5 < 12), r = 1 gives (1, 11) and catches it too, r = 2 (2, 10)
    # does not: best r = 0 (ties to fewer low rejections), thresholds (0, 12), caught 1
    fit = _fit(ID_LOW, ID_REST, [], [10.5], fam_rest_snr=EDGE)
    assert fit is not None and fit.thresholds.thresholds == (0.0, 12.0) and fit.caught == 1
    # the same score in the low band (just under the edge) is caught by none of the low thresholds
    # (10.5 >= 2): every split catches 0, r = 0 kept
    fit = _fit(ID_LOW, ID_REST, [10.5], [], fam_low_snr=np.nextafter(EDGE, -np.inf))
    assert fit is not None and fit.thresholds.thresholds == (0.0, 12.0) and fit.caught == 0


def test_a_family_score_equal_to_a_threshold_is_not_caught() -> None:
    # score < threshold is unknown; equal is accepted. Family [1.0] below, [11.0] above:
    # r = 0 (0, 12): 11 < 12 -> 1; r = 1 (1, 11): neither (1.0 == 1, 11.0 == 11) -> 0;
    # r = 2 (2, 10): 1 < 2 -> 1. Best r = 0 with 1 caught.
    fit = _fit(ID_LOW, ID_REST, [1.0], [11.0])
    assert fit is not None and fit.thresholds.thresholds == (0.0, 12.0) and fit.caught == 1
    # one threshold rejecting 2 of 0..19 is 2.0: the family's 1.0 < 2 caught, 11 not
    assert fit.caught_single == 1
    fit = _fit(ID_LOW, ID_REST, [2.0], [])  # equal to the single threshold: not caught
    assert fit is not None and fit.caught_single == 0


def test_exactly_min_rows_in_each_band_fits_one_fewer_does_not() -> None:
    low, rest = np.arange(5.0), np.arange(5.0, 10.0)
    assert _fit(low, rest, [0.5], [], min_rows=5, target=0.8) is not None
    assert _fit(low, rest, [0.5], [], min_rows=6, target=0.8) is None
    assert _fit(low[:4], rest, [0.5], [], min_rows=5, target=0.8) is None
    assert _fit(low, rest[:4], [0.5], [], min_rows=5, target=0.8) is None


def test_one_family_capture_is_enough_none_is_not() -> None:
    fit = _fit(ID_LOW, ID_REST, [0.5], [])
    # both rejections below the edge catch 0.5 from r = 1 on: r = 1 (1, 11) is the first
    assert fit is not None and fit.thresholds.thresholds == (1.0, 11.0) and fit.caught == 1
    assert _fit(ID_LOW, ID_REST, [], []) is None


def test_a_target_landing_a_hair_above_an_integer_keeps_its_budget() -> None:
    # 0.7 * 10 = 7.000000000000001 in floats: 7 must stay accepted, 3 may be rejected (not 2).
    # low 0..4, rest 5..9, floor 0.4: up to 5 - 2 = 3 low rejections. Family [2.5] below the
    # edge: r = 0 (0, 8), 1 (1, 7), 2 (2, 6) do not catch it, r = 3 (3, 5) does
    low, rest = np.arange(5.0), np.arange(5.0, 10.0)
    fit = _fit(low, rest, [2.5], [], target=0.7, floor=0.4, min_rows=5)
    assert fit is not None and fit.thresholds.thresholds == (3.0, 5.0) and fit.caught == 1
    assert fit.low_accept == 0.4 and fit.rest_accept == 1.0


def test_a_floor_landing_a_hair_above_an_integer_keeps_its_rejections() -> None:
    # low band of 10, floor 0.7 (0.7 * 10 = 7.000000000000001): 3 low rejections allowed
    # (not 2). Budget: target 0.85 of 20 -> 17 accepted, 3 rejected. Family [2.5] below:
    # only r = 3 (3, 10) catches it.
    fit = _fit(ID_LOW, ID_REST, [2.5], [], target=0.85, floor=0.7)
    assert fit is not None and fit.thresholds.thresholds == (3.0, 10.0) and fit.caught == 1
    assert fit.low_accept == 0.7


def test_a_floor_of_everything_rejects_nothing_below_the_edge() -> None:
    # floor 1.0: r = 0 only; thresholds (0, 12) whatever the family below
    fit = _fit(ID_LOW, ID_REST, [0.5, 1.5], [], floor=1.0)
    assert fit is not None and fit.thresholds.thresholds == (0.0, 12.0) and fit.caught == 0
    assert fit.low_accept == 1.0 and fit.rest_accept == 0.8


def test_a_split_rejecting_a_whole_band_is_never_chosen() -> None:
    # 2 low, 2 rest (min_rows 2), target 0.5: 2 may be rejected. Family [5.0] above the edge.
    # r = 0: (0, inf) rejects the whole rest band -> skipped although it would catch 5.0;
    # r = 1: (1, 11) catches 5.0 (5 < 11): chosen; r = 2: (inf, 10): whole low band, skipped
    fit = _fit([0.0, 1.0], [10.0, 11.0], [], [5.0], target=0.5, floor=0.0, min_rows=2)
    assert fit is not None and fit.thresholds.thresholds == (1.0, 11.0) and fit.caught == 1
    # every split rejecting a whole band: None (budget 2 with one capture per band)
    assert _fit([0.0], [10.0], [0.5], [], target=0.0, floor=0.0, min_rows=1) is None


def test_caught_counts_both_bands() -> None:
    # family [0.5] below and [10.5] above; r = 1 (1, 11) catches both: 2, more than any other
    fit = _fit(ID_LOW, ID_REST, [0.5], [10.5])
    assert fit is not None and fit.thresholds.thresholds == (1.0, 11.0) and fit.caught == 2
    assert fit.low_accept == 0.9 and fit.rest_accept == 0.9
    assert fit.thresholds.edges_db == (EDGE,)


def test_fit_returns_floats() -> None:
    fit = _fit(ID_LOW, ID_REST, [0.5], [10.5])
    assert fit is not None
    assert all(type(v) is float for v in (*fit.thresholds.thresholds, *fit.thresholds.edges_db,
                                          fit.low_accept, fit.rest_accept))
    assert type(fit.caught) is int and type(fit.caught_single) is int


# --- the band lookup and the manifest form ---------------------------------------------------


def test_no_edges_is_one_band_holding_everyone_to_one_threshold() -> None:
    bt = BandThresholds((), (0.25,))
    assert bt.band(np.array([-50.0, 0.0, 50.0])).tolist() == [0, 0, 0]
    assert bt.threshold(np.array([-50.0, 50.0])).tolist() == [0.25, 0.25]
    assert bt.threshold(np.array([0.0])).dtype == np.float64


def test_thresholds_keep_float64_precision() -> None:
    t = 0.1 + 2.0**-40  # not representable in float32
    assert BandThresholds((0.0,), (t, 1.0)).threshold(np.array([-1.0]))[0] == t


WHERE = "b/manifest.json: ood.band_thresholds"
WANT = ('expected an object {"snr_edges_db": [increasing dB], "thresholds": [one more number '
        'than edges]}')


def test_manifest_refusal_says_what_is_accepted_and_what_came() -> None:
    with pytest.raises(BundleError) as e:
        BandThresholds.from_manifest([1, 2], WHERE)
    assert str(e.value) == f"{WHERE}: {WANT}, got [1, 2]"
    raw = {"snr_edges_db": [-7.5], "thresholds": [0.1]}
    with pytest.raises(BundleError) as e:
        BandThresholds.from_manifest(raw, WHERE)
    assert str(e.value) == f"{WHERE}: {WANT}, got {raw!r}"


@pytest.mark.parametrize("raw", [
    {"snr_edges_db": [-7.5, -7.5], "thresholds": [1, 2, 3]},  # equal edges: not increasing
    {"snr_edges_db": [-7.5], "thresholds": [0.1, 0.2, 0.3]},  # one threshold too many
    {"snr_edges_db": [], "thresholds": []},
    {"snr_edges_db": [False], "thresholds": [0.1, 0.2]},  # a bool is not a number
    {"snr_edges_db": [-7.5], "thresholds": [0.1, math.inf]},
    {"snr_edges_db": [-math.inf], "thresholds": [0.1, 0.2]},
    {"snr_edges_db": ["-7.5"], "thresholds": [0.1, 0.2]},
    {"snr_edges_db": (-7.5,), "thresholds": [0.1, 0.2]},  # JSON gives lists; a tuple is not one
    {"snr_edges_db": [-7.5], "thresholds": (0.1, 0.2)},
    {"snr_edges_db": -7.5, "thresholds": [0.1, 0.2]},
    {"snr_edges_db": [-7.5]},
    "snr_edges_db",
])
def test_manifest_refusals(raw: object) -> None:
    with pytest.raises(BundleError, match=r"^b/manifest\.json: ood\.band_thresholds: expected an object"):
        BandThresholds.from_manifest(raw, WHERE)


def test_manifest_accepts_ints_no_edges_and_several_edges() -> None:
    bt = BandThresholds.from_manifest({"snr_edges_db": [-8, 0, 3.5], "thresholds": [1, 0.5, 0, -2]}, WHERE)
    assert bt == BandThresholds((-8.0, 0.0, 3.5), (1.0, 0.5, 0.0, -2.0))
    assert bt is not None and all(type(v) is float for v in (*bt.edges_db, *bt.thresholds))
    one = BandThresholds.from_manifest({"snr_edges_db": [], "thresholds": [0.3]}, WHERE)
    assert one == BandThresholds((), (0.3,))
    # extra keys are ignored (a later build may add some)
    assert BandThresholds.from_manifest(
        {"snr_edges_db": [0], "thresholds": [1, 2], "note": "x"}, WHERE) == BandThresholds((0.0,), (1.0, 2.0))


def test_in_distribution_captures_at_the_edge_are_the_rest_band() -> None:
    # every in-distribution capture of the upper band estimated exactly at the edge: still 10
    # rows above it (as the device's searchsorted side="right" puts them), the usual (1, 11)
    fit = _fit(ID_LOW, ID_REST, [0.5], [10.5], rest_snr=EDGE)
    assert fit is not None and fit.thresholds.thresholds == (1.0, 11.0) and fit.caught == 2


def test_a_low_family_score_at_the_edge_is_judged_by_the_rest_threshold() -> None:
    # family 0.5 estimated exactly at the edge: the rest band's threshold (every split catches
    # it there), so the ties keep r = 0: (0, 12), caught 1. Counted below the edge, r = 1
    # would catch it twice over.
    fit = _fit(ID_LOW, ID_REST, [], [0.5], fam_rest_snr=EDGE)
    assert fit is not None and fit.thresholds.thresholds == (0.0, 12.0) and fit.caught == 1


F32_EDGE = -7.4  # not a float32: float32(-7.4) = -7.4000000954 lies just below it


def test_float32_estimates_fall_in_the_band_the_device_reads() -> None:
    # the device bands a float32 estimate against the float64 edge (searchsorted promotes):
    # float32(-7.4) is below -7.4, so the low band. The fit must split the same way.
    e32 = np.float32(F32_EDGE)
    assert BandThresholds((F32_EDGE,), (1.0, 2.0)).band(np.array([e32], np.float32)).tolist() == [0]
    ind = np.r_[ID_LOW, ID_REST]
    ind_snr = np.r_[np.full(10, e32), np.full(10, 0.0)].astype(np.float32)
    fam = np.array([0.5, 10.5])
    fam_snr = np.array([e32, 0.0], np.float32)
    fit = fit_low_band(ind, ind_snr, fam, fam_snr, edge_db=F32_EDGE, target=0.9,
                       min_low_accept=0.8, min_rows=5)
    # as in test_caught_counts_both_bands: (1, 11) catches both
    assert fit is not None and fit.thresholds.thresholds == (1.0, 11.0) and fit.caught == 2


def test_float32_family_scores_are_compared_exactly() -> None:
    # the single threshold (the third lowest in-distribution score) is t = float32(2.1) + 1e-12
    # in float64; a family score of float32(2.1) lies below it. Compared after rounding t to
    # float32 it would tie and not be caught.
    v = np.float32(2.1)
    t = float(v) + 1e-12
    assert t != float(v) and np.float32(t) == v
    ind = np.r_[0.0, 1.0, t, np.arange(3.0, 20.0)]
    ind_snr = np.r_[np.full(10, -10.0), np.full(10, 0.0)]
    fit = fit_low_band(ind, ind_snr, np.array([v], np.float32), np.array([-10.0]), edge_db=EDGE,
                       target=0.9, min_low_accept=0.8, min_rows=5)  # float32 as given, not cast here
    assert fit is not None and fit.caught_single == 1
