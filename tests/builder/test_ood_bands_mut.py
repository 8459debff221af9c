"""``builder.stages.ood_bands.apply_bands`` on hand-built evaluation rows (mutation round,
``scripts/mutation.sh ood-bands``): which rows the band thresholds are fitted on (the choice
half's in-distribution rows and its choice family only), and every held-out figure it rewrites,
worked out by hand below. No model, no converter: the stage's arithmetic alone.

Choice half: in-distribution scores 0..49 below the edge (-10 dB) and 50..99 above (0 dB), the
least a band needs (``MIN_LOW_BAND_ROWS``); the choice family ``fam_c`` at 0.5 (below) and 50.5
(above). Target 98 % of 100 leaves 2 rejections, the floor 96 % of 50 allows both below the edge;
r low-band rejections give thresholds r=0 (0, 52) catching 50.5; r=1 (1, 51) catching both;
r=2 (2, 50) catching 0.5: (1, 51) is fitted, caught 2 against 1 for one threshold (2.0).
The choice half also holds ``fam_h`` captures at 1.5 below the edge, which must not steer the
fit (counted, they would make r=2 catch 4).
"""

from __future__ import annotations

import numpy as np

from edgekit.builder.stages.ood_bands import apply_bands
from edgekit.results import OodBandRow, OodScoreRow
from edgekit.signals.bands import BandThresholds

LO, HI = -10.0, 0.0

# (score, snr, name, in_dist, choice half)
CHOICE = (
    [(float(s), LO, "a" if s % 2 else "b", True, True) for s in range(50)]
    + [(float(s), HI, "a" if s % 2 else "b", True, True) for s in range(50, 100)]
    + [(0.5, LO, "fam_c", False, True), (50.5, HI, "fam_c", False, True)]
    + [(1.5, LO, "fam_h", False, True)] * 3
)
# held-out half, against thresholds (1, 51):
#   in-distribution below: 0.5 a (unknown), 1.0 a (== threshold: accepted), 5 b, 5 b -> 3/4;
#     class a 1/2, b 2/2: worst a at 0.5
#   in-distribution above: 50.5 b (unknown), 55 a -> 1/2; class a 1/1, b 0/1: worst b at 0.0
#   overall 4/6
#   fam_c: 0.5 below (unknown), 52, 53, 54 above (accepted) -> 1/4; below 1/1, above 0/3
#   fam_h: 5 below (accepted), 0.25 below (unknown), 50, 50.5 above (unknown) -> 3/4;
#     below 1/2, above 2/2
#   every OOD row: 4 unknown of 8 -> 1/2
HELD = (
    [(0.5, LO, "a", True, False), (1.0, LO, "a", True, False), (5.0, LO, "b", True, False),
     (5.0, LO, "b", True, False), (50.5, HI, "b", True, False), (55.0, HI, "a", True, False)]
    + [(0.5, LO, "fam_c", False, False)] + [(s, HI, "fam_c", False, False) for s in (52.0, 53.0, 54.0)]
    + [(5.0, LO, "fam_h", False, False), (0.25, LO, "fam_h", False, False),
       (50.0, HI, "fam_h", False, False), (50.5, HI, "fam_h", False, False)]
)
FAMILIES = ["fam_c", "fam_h", "fam_x"]  # fam_x has no captures at all


def _arrays(rows):
    s, snr, names, ind, half = zip(*rows, strict=True)
    ind_a = np.array(ind)
    return (np.array(s), np.array(snr), np.array(names), ind_a, ~ind_a, np.array(half))


def _row() -> OodScoreRow:
    # the single threshold's figures, as the stage left them before the bands
    return OodScoreRow("spectral", True, threshold=2.0, heldout_accept_rate=0.8,
                       heldout_unknown={"fam_c": 0.125, "fam_h": 0.375}, heldout_unknown_all=0.25)


def _apply(rows, row, **kw):
    s, snr, names, ind, ood, half = _arrays(rows)
    args = {"edge_db": -7.5, "target": 0.98, "min_low_accept": 0.96, **kw}
    return apply_bands(row, s, snr, names, ind, ood, half, "fam_c", FAMILIES, **args)


def test_the_fit_uses_the_choice_half_and_its_choice_family_only() -> None:
    # the held-out rows shuffled in between change nothing
    bt = _apply(CHOICE + HELD, _row())
    assert bt == BandThresholds((-7.5,), (1.0, 51.0))
    bt = _apply(HELD[:3] + CHOICE + HELD[3:], _row())
    assert bt == BandThresholds((-7.5,), (1.0, 51.0))


def test_held_out_figures_are_rewritten_to_the_band_thresholds() -> None:
    row = _row()
    _apply(CHOICE + HELD, row)
    assert row.threshold == 51.0  # the band above the last edge
    assert row.heldout_accept_rate == 4 / 6
    assert row.heldout_unknown == {"fam_c": 0.25, "fam_h": 0.75}
    assert row.heldout_unknown_all == 0.5
    # the single threshold's figures kept, as they were (a copy, not the rewritten dict)
    assert row.single_heldout_accept_rate == 0.8
    assert row.single_heldout_unknown == {"fam_c": 0.125, "fam_h": 0.375}


def test_one_row_per_band_with_its_held_out_figures() -> None:
    row = _row()
    _apply(CHOICE + HELD, row)
    assert row.bands == [
        OodBandRow("< -7.5 dB", 1.0, 0.98, 4, 0.75, {"fam_c": 1.0, "fam_h": 0.5}, "a", 0.5),
        OodBandRow(">= -7.5 dB", 51.0, 0.98, 2, 0.5, {"fam_c": 0.0, "fam_h": 1.0}, "b", 0.0),
    ]
    assert all(type(b.threshold) is float for b in row.bands)


def test_the_rule_says_what_was_chosen_and_on_what() -> None:
    row = _row()
    _apply(CHOICE + HELD, row)
    assert row.band_rule == (
        "below -7.5 dB (blind SNR estimate) a threshold of its own, accepting 98.0% of that "
        "band's in-distribution captures on the choice half (floor 96%); the rest 98.0%; chosen "
        "to call most fam_c unknown at 98% accepted overall (2 against 1 with one threshold, "
        "choice half)")


def test_a_band_without_held_out_in_distribution_rows_has_no_rate() -> None:
    # held-out in-distribution rows above the edge only: the low band's held-out figures are
    # absent (None, no worst class), not 0 or 1
    held = [r for r in HELD if not (r[3] and r[1] == LO)]
    row = _row()
    _apply(CHOICE + held, row)
    low, high = row.bands
    assert (low.n_heldout_in_distribution, low.heldout_accept_rate) == (0, None)
    assert (low.heldout_worst_class, low.heldout_worst_class_accept) == ("", None)
    assert (high.n_heldout_in_distribution, high.heldout_accept_rate) == (2, 0.5)
    assert row.heldout_accept_rate == 0.5


def test_no_held_out_rows_at_all_give_no_rates() -> None:
    row = _row()
    _apply(CHOICE, row)
    assert row.heldout_accept_rate is None and row.heldout_unknown_all is None
    assert row.heldout_unknown == {"fam_c": 0.125, "fam_h": 0.375}  # no family measured again
    assert [b.heldout_unknown for b in row.bands] == [{}, {}]


def test_too_little_to_fit_keeps_one_threshold_and_says_why() -> None:
    row = _row()
    # min_low_accept / target as above, but the choice family left out: nothing to steer by
    rows = [r for r in CHOICE + HELD if not (r[2] == "fam_c" and r[4])]
    assert _apply(rows, row) is None
    assert row.band_rule == ("one threshold: too few captures below -7.5 dB or of 'fam_c' on the "
                             "choice half to fit a second")
    assert (row.threshold, row.heldout_accept_rate, row.bands) == (2.0, 0.8, [])
    assert row.single_heldout_accept_rate is None


def test_band_rows_count_their_own_band_s_choice_rows_and_families() -> None:
    # the choice family only below the edge, at 0.5 and 1.5: r = 2 (2, 50) catches both (r = 1
    # one): the choice half's in-distribution accepted 48/50 below, 50/50 above. Held out:
    # fam_h only above the edge (49.5 unknown, 60 accepted), fam_c only below (0.5 unknown)
    choice = [r for r in CHOICE if r[2] != "fam_c"] + [(0.5, LO, "fam_c", False, True),
                                                       (1.5, LO, "fam_c", False, True)]
    held = [(0.5, LO, "fam_c", False, False), (49.5, HI, "fam_h", False, False),
            (60.0, HI, "fam_h", False, False), (3.0, LO, "a", True, False), (55.0, HI, "b", True, False)]
    row = _row()
    bt = _apply(choice + held, row)
    assert bt == BandThresholds((-7.5,), (2.0, 50.0))
    low, high = row.bands
    assert (low.choice_accept_rate, high.choice_accept_rate) == (0.96, 1.0)
    assert low.heldout_unknown == {"fam_c": 1.0} and high.heldout_unknown == {"fam_h": 0.5}
    assert row.heldout_unknown == {"fam_c": 1.0, "fam_h": 0.5}
