"""Metrics, slice discovery on data with a planted bad slice, and the OOD threshold."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.builder import metrics


def test_macro_f1_and_recall_by_hand() -> None:
    y = np.array([0, 0, 1, 1, 2, 2])
    p = np.array([0, 1, 1, 1, 2, 0])
    # class 0: tp1 fp1 fn1 -> 0.5 ; class 1: tp2 fp1 fn0 -> 0.8 ; class 2: tp1 fp0 fn1 -> 2/3
    assert metrics.macro_f1(y, p, 3) == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    assert metrics.per_class_recall(y, p, ["a", "b", "c"]) == {"a": 0.5, "b": 1.0, "c": 0.5}


def test_numeric_bins_and_categorical_slices() -> None:
    meta = {
        "snr_db": np.array([-9.0, -1.0, 0.0, 5.0, 10.0, 20.0]),
        "kind": np.array(list("aabbab")),
    }
    keep = np.ones(6, bool)
    sl = metrics.make_slices(meta, ["snr_db", "kind"], {"snr_db": [-10, 0, 10, 20]}, keep)
    got = {(s.column, s.value): int(s.mask.sum()) for s in sl}
    assert got == {
        ("snr_db", "[-10, 0)"): 2,
        ("snr_db", "[0, 10)"): 2,
        ("snr_db", "[10, 20]"): 2,
        ("kind", "a"): 3,
        ("kind", "b"): 3,
    }


def test_quartiles_when_no_bins_and_keep_mask() -> None:
    meta = {"x": np.arange(100, dtype=float)}
    keep = np.arange(100) < 50
    sl = metrics.make_slices(meta, ["x"], {}, keep)
    assert sum(int(s.mask.sum()) for s in sl) == 50  # only kept rows, every one once
    assert all(not s.mask[~keep].any() for s in sl)


def test_planted_bad_slice_is_found_first() -> None:
    rng = np.random.default_rng(0)
    n = 3000
    region = rng.choice(["north", "south", "east", "west"], n)
    snr = rng.uniform(-10, 20, n)
    y = rng.integers(0, 5, n)
    ref = y.copy()
    flip = rng.random(n) < 0.05
    ref[flip] = (y[flip] + 1) % 5  # reference: 95 % everywhere
    pred = ref.copy()
    bad = (region == "east") & (snr >= 10)  # the planted slice: quantisation broke it
    pred[bad] = (y[bad] + 2) % 5
    sl = metrics.make_slices(
        {"region": region, "snr_db": snr},
        ["region", "snr_db"],
        {"snr_db": [-10, 0, 10, 20]},
        np.ones(n, bool),
    )
    res = metrics.slice_results(sl, y, pred, ref)
    worst = metrics.worst_slices(res, min_size=50, k=3)
    assert (worst[0].column, worst[0].value) == ("region", "east")
    assert worst[0].drop > 0.3
    assert {(w.column, w.value) for w in worst} >= {("snr_db", "[10, 20]")}


def test_worst_slices_respects_min_size() -> None:
    res = [
        metrics.SliceResult("c", "tiny", 5, 0.0, 1.0, 1.0),
        metrics.SliceResult("c", "big", 500, 0.8, 0.9, 0.1),
    ]
    assert [r.value for r in metrics.worst_slices(res, min_size=50, k=5)] == ["big"]


def test_ood_threshold_accepts_target_fraction() -> None:
    rng = np.random.default_rng(1)
    logits_in = rng.normal(0, 1, (1000, 4))
    logits_in[np.arange(1000), rng.integers(0, 4, 1000)] += 6  # confident
    logits_ood = rng.normal(0, 1, (400, 4))  # flat: low confidence
    scores = np.vstack([logits_in, logits_ood])
    in_d = np.r_[np.ones(1000, bool), np.zeros(400, bool)]
    for kind in ("max_softmax", "energy"):
        _, s = metrics.ood_scores(scores, kind, "logits")
        r = metrics.calibrate_ood(s, in_d, ~in_d, kind=kind, target_accept=0.95, ood_classes=["x"])
        assert r.in_distribution_accept_rate == pytest.approx(0.95, abs=0.01)
        assert r.ood_unknown_rate is not None and r.ood_unknown_rate > 0.8


def test_ood_from_probabilities() -> None:
    probs = np.array([[0.9, 0.1], [0.5, 0.5]])
    conf, s = metrics.ood_scores(probs, "max_softmax", "probabilities")
    assert conf.tolist() == pytest.approx([0.9, 0.5])
    assert s.tolist() == pytest.approx([0.9, 0.5])
