"""The calibrated attacks' scores, against values computed here by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgekit.privacy.attacks import attack_scores, logit_confidence
from edgekit.privacy.metrics import roc_auc


def test_logit_confidence_from_probabilities_and_logits() -> None:
    p = np.array([[0.9, 0.05, 0.05], [0.2, 0.3, 0.5]])
    y = np.array([0, 2])
    want = [math.log(0.9 / 0.1), math.log(0.5 / 0.5)]
    assert logit_confidence(p, y, "probabilities") == pytest.approx(want)
    assert logit_confidence(np.log(p) + 3.0, y, "logits") == pytest.approx(want)
    # near-certain logits stay finite: log(p/(1-p)) = 40 - log(2 e^0) for logits [40, 0, 0]
    assert logit_confidence(np.array([[40.0, 0.0, 0.0]]), np.array([0]))[0] == pytest.approx(40 - math.log(2))


def test_offline_lira_uses_the_references_mean_and_pooled_variance() -> None:
    target = np.log(np.array([[0.8, 0.2], [0.6, 0.4], [0.3, 0.7]]))
    r1 = np.log(np.array([[0.5, 0.5], [0.6, 0.4], [0.2, 0.8]]))
    r2 = np.log(np.array([[0.7, 0.3], [0.4, 0.6], [0.4, 0.6]]))
    y = np.array([0, 0, 1])
    s = attack_scores(target, y, "logits", [r1, r2])
    phi = lambda p: math.log(p / (1 - p))  # noqa: E731
    t = [phi(0.8), phi(0.6), phi(0.7)]
    a = [phi(0.5), phi(0.6), phi(0.8)]
    b = [phi(0.7), phi(0.4), phi(0.6)]
    mu = [(x + z) / 2 for x, z in zip(a, b, strict=True)]
    var = [((x - m) ** 2 + (z - m) ** 2) / 1 for x, z, m in zip(a, b, mu, strict=True)]  # ddof=1
    sigma = math.sqrt(sum(var) / 3)
    assert s["lira_offline"] == pytest.approx([(ti - m) / sigma for ti, m in zip(t, mu, strict=True)])
    loss = [-math.log(0.8), -math.log(0.6), -math.log(0.7)]
    ref_loss = [(-math.log(0.5) - math.log(0.7)) / 2, (-math.log(0.6) - math.log(0.4)) / 2,
                (-math.log(0.8) - math.log(0.6)) / 2]
    assert s["reference_loss"] == pytest.approx([r - v for r, v in zip(ref_loss, loss, strict=True)])


def test_one_reference_gives_the_difference_attack_only() -> None:
    z = np.zeros((4, 3))
    s = attack_scores(z, np.zeros(4, dtype=int), "logits", [z])
    assert set(s) == {"loss", "confidence", "reference_loss"}
    assert set(attack_scores(z, np.zeros(4, dtype=int))) == {"loss", "confidence"}


def test_calibration_removes_example_difficulty() -> None:
    """Examples of very different difficulty; training lowers members' loss a little. The raw
    loss mostly ranks difficulty; the reference-calibrated scores see the training effect."""
    rng = np.random.default_rng(0)
    n = 2000
    member = np.r_[np.ones(n), np.zeros(n)].astype(bool)
    hard = rng.uniform(-4.0, 4.0, 2 * n)  # the true label's logit margin, per example
    margin = hard + 1.0 * member  # training raised it for members
    refs = [np.c_[hard + rng.normal(0, 0.3, 2 * n), np.zeros(2 * n)] for _ in range(4)]
    target = np.c_[margin, np.zeros(2 * n)]
    y = np.zeros(2 * n, dtype=int)
    s = attack_scores(target, y, "logits", refs)
    auc = {k: roc_auc(v[member], v[~member]) for k, v in s.items()}
    assert auc["loss"] < 0.65
    assert auc["lira_offline"] > 0.9 and auc["reference_loss"] > 0.8
