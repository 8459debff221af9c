"""Accuracy figures, slices and the OOD threshold pinned on cases counted by hand (issue 17).

Every expected number below is counted from the arrays in the comment beside it, never by
calling the metrics under test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgekit.builder import metrics
from edgekit.results import OodResult, SliceResult

LABELS = ["a", "b", "c"]


def _scores(pred: list[int], n_classes: int = 3, hi: float = 0.75) -> np.ndarray:
    s = np.full((len(pred), n_classes), (1 - hi) / (n_classes - 1), dtype=np.float32)
    s[np.arange(len(pred)), pred] = hi
    return s


def test_accuracy_result_counts_in_distribution_rows_only() -> None:
    # rows 0-5 in distribution, rows 6-7 out of distribution (their y is a placeholder 0)
    y = np.array([0, 0, 1, 1, 2, 2, 0, 0])
    pred = [0, 1, 1, 1, 2, 0, 0, 0]  # in-dist: 4 of 6 right; with the OOD rows it would be 6/8
    ref = [0, 0, 1, 1, 2, 2, 1, 0]  # agrees with pred on rows 0, 2, 3, 4, 7: 5 of 8
    in_dist = np.array([True] * 6 + [False] * 2)
    scores, ref_scores = _scores(pred), _scores(ref, hi=0.5)
    mask = np.array([True, True, True, False, False, False, False, False])
    sl = [metrics.SliceMask("snr", "low", mask), metrics.SliceMask("snr", "none", np.zeros(8, bool))]
    ood = OodResult("max_softmax", 0.5, 0.9, 0.8, 6, 2, ["ofdm"])
    r = metrics.accuracy_result(
        y=y,
        scores=scores,
        ref_scores=ref_scores,
        labels=LABELS,
        in_dist=in_dist,
        slices=sl,
        min_slice=3,
        worst_k=5,
        ood=ood,
        source="eval.npz",
    )
    assert r.n == 6
    assert r.accuracy == pytest.approx(4 / 6)
    # class a: tp1 fp1 fn1 -> 0.5; b: tp2 fp1 fn0 -> 0.8; c: tp1 fp0 fn1 -> 2/3
    assert r.macro_f1 == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    assert r.per_class_recall == {"a": 0.5, "b": 1.0, "c": 0.5}
    assert r.agreement_with_reference == pytest.approx(5 / 8)
    assert r.max_abs_diff_vs_reference == pytest.approx(0.75 - 0.25)  # 0.75 vs 0.25 where they disagree
    # slice rows 0-2: pred right on 0, 2 (2/3); reference right on all three; the empty slice is dropped
    assert r.slices == [SliceResult("snr", "low", 3, pytest.approx(2 / 3), 1.0, pytest.approx(1 / 3))]
    assert r.worst_slices == r.slices
    assert (r.ood, r.data_source, r.min_slice_size) == (ood, "eval.npz", 3)
    r4 = metrics.accuracy_result(
        y=y,
        scores=scores,
        ref_scores=ref_scores,
        labels=LABELS,
        in_dist=in_dist,
        slices=sl,
        min_slice=4,
        worst_k=5,
        ood=None,
        source="",
    )
    assert r4.worst_slices == [] and r4.ood is None


def test_accuracy_result_without_in_distribution_rows_is_nan() -> None:
    y = np.array([0, 1])
    r = metrics.accuracy_result(
        y=y,
        scores=_scores([0, 1]),
        ref_scores=_scores([0, 1]),
        labels=LABELS,
        in_dist=np.zeros(2, bool),
        slices=[],
        min_slice=1,
        worst_k=1,
        ood=None,
        source="x",
    )
    assert r.n == 0 and math.isnan(r.accuracy) and r.macro_f1 == 0.0 and r.per_class_recall == {}
    assert r.agreement_with_reference == 1.0 and r.max_abs_diff_vs_reference == 0.0


def test_macro_f1_skips_absent_classes_and_counts_predicted_only_ones() -> None:
    # classes 2 and 3 neither occur nor are predicted: skipped, not counted as 0 or 1
    assert metrics.macro_f1(np.array([0, 0, 1]), np.array([0, 1, 1]), 4) == pytest.approx(2 / 3)
    # class 2 only predicted: tp0 fp1 fn0 -> F1 0; class 0: tp1 fp0 fn1 -> 2/3
    assert metrics.macro_f1(np.array([0, 0]), np.array([0, 2]), 3) == pytest.approx(1 / 3)
    assert metrics.macro_f1(np.array([], int), np.array([], int), 3) == 0.0
    assert metrics.per_class_recall(np.array([1, 1]), np.array([1, 0]), LABELS) == {"b": 0.5}


def test_slice_bins_are_left_closed_and_the_last_one_closed() -> None:
    v = np.array([0.0, 1.0, 2.0, 2.0, 3.0, np.nan, 5.0])
    keep = np.array([True, True, True, True, True, True, False])
    sl = metrics.make_slices({"x": v, "gone": v}, ["missing", "x"], {"x": [0, 2, 3]}, keep)
    got = [(s.column, s.value, s.mask.nonzero()[0].tolist()) for s in sl]
    assert got == [("x", "[0, 2)", [0, 1]), ("x", "[2, 3]", [2, 3, 4])]
    # fractional edges print with %g
    sl = metrics.make_slices({"x": v}, ["x"], {"x": [0.5, 2.5]}, keep)
    assert [(s.value, s.mask.nonzero()[0].tolist()) for s in sl] == [("[0.5, 2.5]", [1, 2, 3])]


def test_slices_of_quartiles_values_and_empty_columns() -> None:
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0])  # quartiles 1, 2, 3, 4, 5
    sl = metrics.make_slices({"x": x}, ["x"], {}, np.ones(5, bool))
    assert [(s.value, s.mask.nonzero()[0].tolist()) for s in sl] == [
        ("[1, 2)", [0]),
        ("[2, 3)", [1]),
        ("[3, 4)", [2]),
        ("[4, 5]", [3, 4]),
    ]
    same = metrics.make_slices({"x": np.full(4, 7.0)}, ["x"], {}, np.ones(4, bool))
    assert same == []  # one distinct value: no bin
    nan = metrics.make_slices({"x": np.full(3, np.nan)}, ["x"], {}, np.ones(3, bool))
    assert nan == []
    keep = np.array([True, True, False])
    flags = metrics.make_slices({"f": np.array([True, False, True])}, ["f"], {}, keep)
    assert [(s.value, s.mask.tolist()) for s in flags] == [
        ("False", [False, True, False]),
        ("True", [True, False, False]),
    ]


def test_slice_results_by_hand() -> None:
    y = np.array([0, 1, 2, 0])
    pred = np.array([0, 0, 2, 1])
    ref = np.array([0, 1, 1, 0])
    sl = [
        metrics.SliceMask("c", "v", np.array([True, True, True, False])),
        metrics.SliceMask("c", "w", np.zeros(4, bool)),
    ]
    # pred right on 0, 2 -> 2/3; ref right on 0, 1 -> 2/3; drop 0
    assert metrics.slice_results(sl, y, pred, ref) == [SliceResult("c", "v", 3, 2 / 3, 2 / 3, 0.0)]


def _sr(col: str, val: str, n: int, acc: float, drop: float) -> SliceResult:
    return SliceResult(col, val, n, acc, acc + drop, drop)


def test_worst_slices_rank_real_drops_of_big_enough_slices() -> None:
    rs = [
        _sr("a", "1", 10, 0.5, 0.25),
        _sr("a", "2", 10, 0.4, 0.25),  # same drop, lower accuracy: first
        _sr("b", "0", 10, 0.4, 0.25),  # same drop and accuracy: by column, then value
        _sr("a", "0", 10, 0.4, 0.25),
        _sr("c", "x", 9, 0.0, 0.9),  # too small
        _sr("d", "x", 10, 0.9, 0.0),  # no drop
        _sr("e", "x", 10, 0.9, -0.1),  # an improvement
        _sr("f", "x", 10, 0.9, float("nan")),
        _sr("g", "x", 10, 0.1, 0.5),
    ]
    got = [(r.column, r.value) for r in metrics.worst_slices(rs, 10, 10)]
    assert got == [("g", "x"), ("a", "0"), ("a", "2"), ("b", "0"), ("a", "1")]
    assert [(r.column, r.value) for r in metrics.worst_slices(rs, 10, 2)] == [("g", "x"), ("a", "0")]
    assert [r.column for r in metrics.worst_slices(rs, 9, 1)] == ["c"]


def test_ood_threshold_is_the_quantile_written_out() -> None:
    ind_scores = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    ood_scores = [0.05, 0.28, 0.5]
    score = np.array(ind_scores + ood_scores)
    in_dist = np.array([True] * 10 + [False] * 3)
    ood = ~in_dist
    # quantile 0.2 of 10 sorted values, linear: position 0.2 * 9 = 1.8 -> 0.2 + 0.8 * (0.3 - 0.2)
    thr = 0.2 + 0.8 * (0.3 - 0.2)
    r = metrics.calibrate_ood(
        score, in_dist, ood, kind="max_softmax", target_accept=0.8, ood_classes=["ofdm"]
    )
    assert r.threshold == pytest.approx(thr)
    assert r.in_distribution_accept_rate == pytest.approx(8 / 10)  # 0.3 .. 1.0 are >= 0.28
    assert r.ood_unknown_rate == pytest.approx(1 / 3)  # only 0.05 is below; 0.28 is not
    assert (r.score, r.n_in_distribution, r.n_ood, r.ood_classes) == ("max_softmax", 10, 3, ["ofdm"])
    # a threshold exactly on a score accepts it: target 0.9 -> position 0.9 -> 0.1 + 0.9 * 0.1 = 0.19
    exact = metrics.calibrate_ood(
        np.array([0.0, 1.0, 2.0]),
        np.ones(3, bool),
        np.zeros(3, bool),
        kind="k",
        target_accept=0.5,
        ood_classes=[],
    )
    assert exact.threshold == 1.0 and exact.in_distribution_accept_rate == pytest.approx(2 / 3)
    assert exact.ood_unknown_rate is None and exact.n_ood == 0


def test_ood_without_in_distribution_rows_is_nan() -> None:
    r = metrics.calibrate_ood(
        np.array([0.5]), np.zeros(1, bool), np.ones(1, bool), kind="k", target_accept=0.9, ood_classes=["x"]
    )
    assert math.isnan(r.threshold) and math.isnan(r.in_distribution_accept_rate)
    assert r.ood_unknown_rate == 0.0 and r.n_in_distribution == 0 and r.n_ood == 1


def test_no_rows_at_all_gives_no_difference_and_worst_k_is_a_cap() -> None:
    empty = np.zeros((0, 3), np.float32)
    r = metrics.accuracy_result(
        y=np.array([], int),
        scores=empty,
        ref_scores=empty,
        labels=LABELS,
        in_dist=np.array([], bool),
        slices=[],
        min_slice=1,
        worst_k=1,
        ood=None,
        source="",
    )
    assert r.max_abs_diff_vs_reference == 0.0 and r.n == 0
    y = np.array([0, 0, 1, 1])
    pred, ref = [1, 0, 0, 1], [0, 0, 1, 1]
    sl = [metrics.SliceMask("c", "0", y == 0), metrics.SliceMask("c", "1", y == 1)]
    r = metrics.accuracy_result(
        y=y,
        scores=_scores(pred),
        ref_scores=_scores(ref),
        labels=LABELS,
        in_dist=np.ones(4, bool),
        slices=sl,
        min_slice=1,
        worst_k=1,
        ood=None,
        source="",
    )
    assert len(r.slices) == 2 and len(r.worst_slices) == 1


def test_macro_f1_of_an_uneven_case() -> None:
    # class 0: tp1 fp1 fn0 -> 2/3; class 1: tp2 fp0 fn1 -> 4/5
    assert metrics.macro_f1(np.array([0, 1, 1, 1]), np.array([0, 0, 1, 1]), 2) == pytest.approx(
        (2 / 3 + 4 / 5) / 2
    )


def test_an_ood_score_equal_to_the_threshold_is_accepted() -> None:
    score = np.array([0.0, 1.0, 2.0, 1.0, 0.5])
    in_dist = np.array([True, True, True, False, False])
    r = metrics.calibrate_ood(score, in_dist, ~in_dist, kind="k", target_accept=0.5, ood_classes=[])
    assert r.threshold == 1.0 and r.ood_unknown_rate == pytest.approx(1 / 2)


def test_an_empty_column_or_slice_does_not_stop_the_others() -> None:
    meta = {"gone": np.full(4, np.nan), "x": np.array([0.0, 1.0, 2.0, 3.0])}
    sl = metrics.make_slices(meta, ["gone", "x"], {"x": [0, 2, 3]}, np.ones(4, bool))
    assert [s.value for s in sl] == ["[0, 2)", "[2, 3]"]
    y = np.array([0, 1])
    res = metrics.slice_results(
        [metrics.SliceMask("c", "none", np.zeros(2, bool)), metrics.SliceMask("c", "all", np.ones(2, bool))],
        y,
        y,
        y,
    )
    assert [r.value for r in res] == ["all"]
