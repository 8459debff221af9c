"""Slice discovery finds a planted weak subgroup and, on data without one, (almost) nothing."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.builder.discovery import conditions_of, discover

N_CLASSES = 5


def _data(seed: int, n: int = 2400, plant: bool = True):  # type: ignore[no-untyped-def]
    """Metadata, true labels and a model that is right 85 % of the time independently of the
    metadata; with ``plant``, labels of the subgroup site = c and snr_db < 0 are corrupted."""
    rng = np.random.default_rng(seed)
    meta = {
        "snr_db": rng.uniform(-10, 20, n).astype(np.float32),
        "class": np.array([f"k{i}" for i in rng.integers(0, N_CLASSES, n)]),
        "multipath": rng.random(n) < 0.3,
        "site": np.array(list("abcd"))[rng.integers(0, 4, n)],
    }
    y = rng.integers(0, N_CLASSES, n)
    pred = np.where(rng.random(n) < 0.85, y, (y + rng.integers(1, N_CLASSES, n)) % N_CLASSES)
    planted = (meta["site"] == "c") & (meta["snr_db"] < 0)
    if plant:  # corrupted labels: a random other class
        y = np.where(planted, (y + rng.integers(1, N_CLASSES, n)) % N_CLASSES, y)
    return meta, y, pred, planted


BINS = {"snr_db": [0.0, 10.0]}


def test_finds_the_planted_subgroup() -> None:
    meta, y, pred, planted = _data(1)
    keep = np.ones(len(y), bool)
    found = discover(meta, pred == y, keep, bins=BINS, min_size=30)
    pairs = {frozenset(map(tuple, d.conditions)) for d in found if d.metric == "accuracy"}
    assert frozenset({("site", "= c"), ("snr_db", "< 0")}) in pairs
    hit = next(d for d in found if len(d.conditions) == 2 and d.description.startswith("site = c"))
    # figures checked against the rows themselves, not the code's own bookkeeping
    assert hit.n == int(planted.sum())
    assert hit.value == pytest.approx(float((pred == y)[planted].mean()))
    assert hit.rest_value == pytest.approx(float((pred == y)[~planted].mean()))
    assert hit.q_value <= 0.05 and hit.gap > 0.5
    # every discovery overlaps the planted region: nothing is found elsewhere
    for d in found:
        assert any(c in (["site", "= c"], ["snr_db", "< 0"]) for c in d.conditions), d.description
    scores = [d.score for d in found]
    assert scores == sorted(scores, reverse=True)


def test_no_discovery_without_a_planted_slice_over_many_seeds() -> None:
    """BH at alpha = 0.05 under the global null: P(any discovery) <= 0.05, so over 20 seeds we
    expect about one seed with a (false) discovery; more than 3 would have probability < 2 %."""
    with_any = 0
    for seed in range(20):
        meta, y, pred, _ = _data(100 + seed, plant=False)
        found = discover(meta, pred == y, np.ones(len(y), bool), bins=BINS, min_size=30, min_gap=0.0)
        with_any += bool(found)
    assert with_any <= 3


def test_drop_against_fp32_is_its_own_question() -> None:
    meta, y, ref_pred, _ = _data(5, plant=False)
    rng = np.random.default_rng(9)
    pred = ref_pred.copy()
    weak = meta["multipath"] & (meta["snr_db"] >= 10)
    flip = weak & (rng.random(len(y)) < 0.5)  # the variant loses half of these captures
    pred[flip] = (pred[flip] + 1) % N_CLASSES
    found = discover(meta, pred == y, np.ones(len(y), bool), ref_correct=ref_pred == y, bins=BINS)
    drops = [d for d in found if d.metric == "drop_vs_fp32"]
    assert drops, "the variant's loss against fp32 was not found"
    top = max(drops, key=lambda d: d.gap)
    assert {tuple(c) for c in top.conditions} == {("multipath", "= True"), ("snr_db", ">= 10")}
    lost = (ref_pred == y) & (pred != y)
    assert top.value == pytest.approx(float(lost[weak].mean()))


def test_minimum_size_and_rows_kept() -> None:
    meta, y, pred, planted = _data(1)
    keep = np.ones(len(y), bool)
    big = int(planted.sum()) + 1
    found = discover(meta, pred == y, keep, bins=BINS, min_size=big)
    assert all(d.n >= big for d in found)
    assert not any(len(d.conditions) == 2 and d.n == planted.sum() for d in found)
    # rows outside ``keep`` (e.g. out-of-distribution) are never counted
    keep2 = ~planted
    assert not discover(meta, pred == y, keep2, bins=BINS, min_size=30) or all(
        d.n <= int(keep2.sum()) for d in discover(meta, pred == y, keep2, bins=BINS)
    )


def test_conditions_cover_every_row_once_per_column() -> None:
    meta, y, _, _ = _data(2, n=500)
    keep = np.ones(len(y), bool)
    conds = conditions_of(meta, keep, bins=BINS)
    for col in meta:
        total = sum(int(c.mask.sum()) for c in conds if c.column == col)
        assert total == len(y), col
    assert {c.value for c in conds if c.column == "snr_db"} == {"< 0", "in [0, 10)", ">= 10"}
    # a text column with too many values (an id) is skipped
    ids = {"id": np.array([f"r{i}" for i in range(len(y))])}
    assert conditions_of(ids, keep, max_values=12) == []
