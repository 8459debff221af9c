"""Feature-space OOD scores and the input guard on toy data with answers computed independently
(scipy's Mahalanobis distance, brute-force nearest neighbours, hand-built captures)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.distance import mahalanobis

from edgekit.errors import BundleError
from edgekit.signals.ood import (
    FeatureStats,
    InputGuard,
    knn_score,
    l2_normalise,
    load_stats,
    mahalanobis_score,
    save_stats,
)
from edgekit.signals.scores import ood_scores


def _clusters(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    means = np.array([[0.0, 0.0, 0.0], [6.0, 0.0, 1.0], [0.0, 5.0, -2.0]])
    a = np.array([[1.0, 0.3, 0.0], [0.0, 0.8, 0.2], [0.1, 0.0, 0.5]])
    return means, a @ a.T  # a shared covariance, not diagonal


def test_mahalanobis_matches_scipy_on_gaussian_clusters():
    means, cov = _clusters()
    vi = np.linalg.inv(cov)
    rng = np.random.default_rng(1)
    pts = rng.normal(0.0, 3.0, size=(40, 3))
    want = np.array([-min(mahalanobis(p, m, vi) ** 2 for m in means) for p in pts])
    np.testing.assert_allclose(mahalanobis_score(pts, means, vi), want, rtol=1e-9, atol=1e-9)


def test_mahalanobis_ranks_far_points_below_cluster_members():
    means, cov = _clusters()
    rng = np.random.default_rng(2)
    members = np.concatenate([rng.multivariate_normal(m, cov, 200) for m in means])
    far = rng.multivariate_normal([20.0, 20.0, 20.0], cov, 200)
    s_in = mahalanobis_score(members, means, np.linalg.inv(cov))
    s_out = mahalanobis_score(far, means, np.linalg.inv(cov))
    # chi-square with 3 dof: 99.9 % of members lie below 16.27; the far points are far beyond
    assert (s_in > -16.27).mean() > 0.99 and s_out.max() < s_in.min()


def test_knn_is_the_kth_nearest_distance_on_unit_vectors():
    rng = np.random.default_rng(3)
    bank_raw = rng.normal(size=(50, 4))
    q = rng.normal(size=(7, 4)) * 5.0  # scale must not matter: features are normalised
    bank = l2_normalise(bank_raw)
    for k in (1, 3, 50):
        got = knn_score(q, bank, k)
        for i, row in enumerate(q):
            u = row / np.linalg.norm(row)
            d = sorted(np.linalg.norm(b - u) for b in bank)
            assert got[i] == pytest.approx(-d[k - 1], abs=1e-9)


def test_feature_scores_through_ood_scores_and_the_npz_roundtrip(tmp_path: Path):
    means, cov = _clusters()
    rng = np.random.default_rng(4)
    bank = l2_normalise(rng.normal(size=(30, 3)))
    stats = FeatureStats(means, np.linalg.inv(cov), bank, 2)
    save_stats(stats, tmp_path / "s.npz")
    back = load_stats(tmp_path / "s.npz")
    feats = rng.normal(size=(5, 3))
    logits = rng.normal(size=(5, 3))
    for kind in ("mahalanobis", "knn"):
        _, s = ood_scores(logits, kind, "logits", features=feats, stats=back)
        np.testing.assert_allclose(s, stats.score(kind, feats), rtol=1e-5, atol=1e-5)  # float32 on disk
    with pytest.raises(ValueError, match="needs the penultimate"):
        ood_scores(logits, "knn", "logits")


def test_load_stats_refuses_files_that_are_not_statistics(tmp_path: Path):
    bad = tmp_path / "bad.npz"
    np.savez(bad, means=np.zeros((2, 3)), precision=np.eye(4), bank=np.zeros((1, 3)), k=1)
    with pytest.raises(BundleError, match="do not fit together"):
        load_stats(bad)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(BundleError, match="not a feature-statistics"):
        load_stats(tmp_path / "junk.npz")
    np.savez(tmp_path / "m.npz", means=np.zeros((2, 3)))
    with pytest.raises(BundleError, match="missing array"):
        load_stats(tmp_path / "m.npz")


def test_input_guard_catches_silent_saturated_and_wrong_scale():
    rng = np.random.default_rng(5)
    x = rng.normal(0.0, 1.0, size=(500, 2, 256))  # RMS 1, full scale 16: about 16 sigma of room
    guard = InputGuard.fit(x, full_scale=16.0)
    assert guard.reasons(x) == [None] * 500
    silent = np.zeros((1, 2, 256))
    clipped = np.clip(x[:1] * 50.0, -16.0, 16.0)
    quiet, loud = x[:1] * 0.01, x[:1] * 5.0  # x5: beyond the x4 margin, below clipping
    assert guard.reasons(silent) == ["silent"]
    assert guard.reasons(clipped) == ["saturated"]
    assert guard.reasons(quiet) == ["wrong scale"]
    assert guard.reasons(loud) == ["wrong scale"]
    assert InputGuard.from_manifest(guard.to_manifest(), "m") == guard
    with pytest.raises(BundleError, match="input_guard"):
        InputGuard.from_manifest({"rms_low": "x"}, "manifest ood.input_guard")
