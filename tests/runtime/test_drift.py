"""PSI against hand-computed values, and the rolling monitor on stable and shifted streams."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgekit.runtime.drift import DriftMonitor, build_reference, capture_statistics, psi, psi_quantile_bins


def test_psi_matches_the_formula_by_hand():
    e, a = [0.5, 0.3, 0.2], [0.4, 0.4, 0.2]
    by_hand = (0.4 - 0.5) * math.log(0.4 / 0.5) + (0.4 - 0.3) * math.log(0.4 / 0.3)
    assert psi(np.array(e), np.array(a)) == pytest.approx(by_hand)
    assert psi(np.array(e), np.array(e)) == 0.0


def test_psi_on_quantile_bins_uses_the_gaps_between_levels():
    levels, edges = [0.25, 0.5, 0.75], [1.0, 2.0, 3.0]
    values = np.array([0.5, 1.5, 1.6, 2.5, 3.5, 3.6, 3.7, 3.8])  # bins: 1, 2, 1, 4 of 8
    expected = [0.25, 0.25, 0.25, 0.25]
    actual = [1 / 8, 2 / 8, 1 / 8, 4 / 8]
    by_hand = sum((a - e) * math.log(a / e) for a, e in zip(actual, expected, strict=True))
    assert psi_quantile_bins(levels, edges, values) == pytest.approx(by_hand)


def test_repeated_quantile_edges_are_merged():
    # a statistic that is 0 for 60 % of the reference: levels 0.25 and 0.5 share the edge 0
    levels, edges = [0.25, 0.5, 0.75], [0.0, 0.0, 1.0]
    values = np.array([0.0] * 6 + [0.5] * 2 + [2.0] * 2)
    # merged bins: (-inf, 0) 0.0 expected... (x < 0): 0, [0, 1): 0.75-0.5... computed by hand:
    expected = [0.5, 0.25, 0.25]  # x < 0 | 0 <= x < 1 | x >= 1, levels 0.5 and 0.75 kept
    actual = [0.0, 0.8, 0.2]
    by_hand = sum(
        (max(a, 1e-4) - e) * math.log(max(a, 1e-4) / e) for a, e in zip(actual, expected, strict=True)
    )
    assert psi_quantile_bins(levels, edges, values) == pytest.approx(by_hand)


def test_capture_statistics_are_channel_means_and_stds():
    x = np.stack([np.full((2, 4), 3.0), np.array([[0, 2, 0, 2], [1, 1, 1, 1.0]])])[:, :, :]
    names, stats = capture_statistics(x)
    assert names == ["c0_mean", "c0_std", "c1_mean", "c1_std"]
    np.testing.assert_allclose(stats, [[3, 0, 3, 0], [1, 1, 1, 0]])


def _stream(rng, n, shift=0.0):
    x = rng.normal(shift, 1.0, (n, 2, 64)).astype(np.float32)
    scores = rng.normal(0, 1, (n, 3))
    scores[:, 0] += 2.0 + shift * 3  # mostly class 0; a shift moves confidence and the mix
    return x, scores


def test_monitor_is_quiet_on_the_reference_distribution_and_fires_on_a_shift():
    rng = np.random.default_rng(1)
    ref = build_reference(*_stream(rng, 4000))
    mon = DriftMonitor(ref, ["a", "b", "c"], window=256, every=32, threshold=0.25)
    reports = []
    for shift in [0.0] * 512 + [1.0] * 512:
        x, s = _stream(rng, 1, shift)
        pred = ["a", "b", "c"][int(s[0].argmax())]
        conf = float(np.exp(s[0]).max() / np.exp(s[0]).sum())
        r = mon.observe(x, pred, conf)
        if r is not None:
            reports.append((shift, r))
    stable = [r for shift, r in reports if shift == 0.0]
    assert stable and not any(r.drifting for r in stable)
    assert max(r.worst_psi for r in stable) < 0.25
    assert reports[-1][1].drifting and reports[-1][1].worst.startswith("input.")
    assert sum(r.changed for _, r in reports) == 1  # one crossing, reported once
