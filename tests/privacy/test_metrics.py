"""Attack figures against values worked out by hand or by brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from edgekit.privacy.attacks import attack_scores, per_example_loss
from edgekit.privacy.metrics import advantage, attack_figures, roc_auc, tpr_at_fpr


def _auc_pairs(m: np.ndarray, n: np.ndarray) -> float:
    wins = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a, b in itertools.product(m, n))
    return wins / (len(m) * len(n))


def test_auc_matches_pair_counting_with_ties() -> None:
    rng = np.random.default_rng(3)
    m = rng.integers(0, 6, 40).astype(float)  # many ties
    n = rng.integers(0, 5, 30).astype(float)
    assert roc_auc(m, n) == pytest.approx(_auc_pairs(m, n))


def test_perfect_separation_and_no_separation() -> None:
    m, n = np.array([5.0, 6.0, 7.0]), np.array([1.0, 2.0])
    assert roc_auc(m, n) == 1.0
    assert advantage(m, n) == 1.0
    same = np.array([1.0, 1.0, 1.0])
    assert roc_auc(same, same) == 0.5
    assert advantage(same, same) == 0.0


def test_advantage_and_tpr_at_fpr_by_hand() -> None:
    # members 4,3,1 ; non-members 2,0. Threshold >=3: TPR 2/3, FPR 0 -> 0.667;
    # >=2: TPR 2/3, FPR 1/2; >=1: TPR 1, FPR 1/2 -> 0.5. Max = 2/3.
    m, n = np.array([4.0, 3.0, 1.0]), np.array([2.0, 0.0])
    assert advantage(m, n) == pytest.approx(2 / 3)
    assert tpr_at_fpr(m, n, 0.01) == pytest.approx(2 / 3)
    assert tpr_at_fpr(m, n, 0.5) == pytest.approx(1.0)


def test_bootstrap_interval_contains_the_point_and_narrows_with_n() -> None:
    rng = np.random.default_rng(0)
    small = attack_figures("loss", "", rng.normal(0.5, 1, 50), rng.normal(0, 1, 50), seed=1)
    big = attack_figures("loss", "", rng.normal(0.5, 1, 2000), rng.normal(0, 1, 2000), seed=1)
    for f in (small, big):
        assert f.auc_ci[0] <= f.auc <= f.auc_ci[1]
        assert f.advantage_ci[0] <= f.advantage <= f.advantage_ci[1]
    assert big.auc_ci[1] - big.auc_ci[0] < small.auc_ci[1] - small.auc_ci[0]
    # truth for two unit normals 0.5 apart: AUC = Phi(0.5 / sqrt 2) = 0.638
    assert big.auc_ci[0] <= 0.638 <= big.auc_ci[1]


def test_loss_from_logits_and_probabilities() -> None:
    logits = np.array([[2.0, 0.0], [0.0, 0.0]])
    y = np.array([0, 1])
    expect = np.array([np.log(1 + np.exp(-2.0)), np.log(2.0)])
    assert per_example_loss(logits, y) == pytest.approx(expect)
    probs = np.array([[0.9, 0.1], [0.5, 0.5]])
    assert per_example_loss(probs, y, "probabilities") == pytest.approx([-np.log(0.9), np.log(2)])
    s = attack_scores(logits, y, reference_scores=np.zeros((2, 2)))
    assert s["confidence"] == pytest.approx([1 / (1 + np.exp(-2.0)), 0.5])
    assert s["reference_loss"] == pytest.approx(np.log(2.0) - expect)
