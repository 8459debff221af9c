"""Temperature scaling recovers a known temperature; ECE on hand-computed bins; the tempered
confidence and energy score as defined."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.signals.calibration import as_logits, expected_calibration_error, fit_temperature
from edgekit.signals.scores import ood_scores


@pytest.mark.parametrize("t_true", [0.5, 1.0, 2.5])
def test_fit_recovers_the_temperature_the_labels_were_drawn_with(t_true: float):
    rng = np.random.default_rng(7)
    z = rng.normal(0.0, 3.0, size=(20000, 5))
    p = np.exp(z / t_true)
    p /= p.sum(axis=1, keepdims=True)
    y = (rng.random((len(z), 1)) > np.cumsum(p, axis=1)).sum(axis=1)  # a draw from softmax(z/T)
    assert fit_temperature(z, y) == pytest.approx(t_true, rel=0.05)


def test_fit_refuses_mismatched_inputs():
    with pytest.raises(ValueError, match="do not match"):
        fit_temperature(np.zeros((3, 2)), np.zeros(4, dtype=int))


def test_ece_on_hand_computed_bins():
    conf = np.array([0.95, 0.95, 0.95, 0.95, 0.55, 0.55])
    ok = np.array([True, True, True, False, True, False])
    r = expected_calibration_error(conf, ok, n_bins=10)
    # bin (0.9, 1]: acc 0.75 vs 0.95 -> 0.2 x 4/6; bin (0.5, 0.6]: 0.5 vs 0.55 -> 0.05 x 2/6
    assert r.ece == pytest.approx(0.2 * 4 / 6 + 0.05 * 2 / 6)
    assert r.count == [2, 4] and r.accuracy == [0.5, 0.75]
    assert expected_calibration_error(np.array([1.0]), np.array([True])).ece == 0.0


def test_tempered_confidence_and_energy():
    z = np.array([[2.0, 0.0, -1.0], [0.5, 0.4, 0.3]])
    t = 2.0
    e = np.exp(z / t)
    conf, _ = ood_scores(z, "max_softmax", "logits", temperature=t)
    np.testing.assert_allclose(conf, (e / e.sum(axis=1, keepdims=True)).max(axis=1))
    _, energy = ood_scores(z, "energy", "logits", temperature=t)
    np.testing.assert_allclose(energy, t * np.log(e.sum(axis=1)))
    probs = np.array([[0.7, 0.2, 0.1]])
    np.testing.assert_allclose(as_logits(probs, "probabilities"), np.log(probs))
    c1, _ = ood_scores(probs, "max_softmax", "probabilities")
    assert c1[0] == pytest.approx(0.7)
    with pytest.raises(ValueError, match="temperature"):
        ood_scores(z, "max_softmax", "logits", temperature=0.0)
    with pytest.raises(ValueError, match="unknown OOD score"):
        ood_scores(z, "bogus", "logits")
