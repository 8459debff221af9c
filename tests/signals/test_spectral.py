"""The spectral OOD score: its features against an analytic answer and an independent Welch
average written here, its score against scipy's Mahalanobis distance, its AUROC on a toy problem
whose answer is known, and its statistics file (round trip and refusals)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.distance import mahalanobis
from sklearn.covariance import ledoit_wolf

from edgekit.errors import BundleError
from edgekit.signals.ood import FeatureStats, l2_normalise, save_stats
from edgekit.signals.scores import SCORES, ood_scores
from edgekit.signals.spectral import (
    SPECTRAL_BINS,
    SpectralStats,
    fit_spectral,
    load_spectral,
    psd_features,
    save_spectral,
    spectral_applicable,
)

B = SPECTRAL_BINS
L = 1024


def _iq(z: np.ndarray) -> np.ndarray:
    """Complex ``(N, L)`` -> I/Q ``(N, 2, L)`` float32."""
    return np.stack([z.real, z.imag], axis=1).astype(np.float32)


def _white(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.normal(size=(n, L + 1)) + 1j * rng.normal(size=(n, L + 1))


def _lowpass(rng: np.random.Generator, n: int) -> np.ndarray:
    w = _white(rng, n)
    return (w[:, 1:] + w[:, :-1])[:, :L]  # |1 + e^-jw|^2: power falls to zero at +-fs/2


def _highpass(rng: np.random.Generator, n: int) -> np.ndarray:
    w = _white(rng, n)
    return (w[:, 1:] - w[:, :-1])[:, :L]  # |1 - e^-jw|^2: power falls to zero at DC


def _auroc(ind: np.ndarray, out: np.ndarray) -> float:
    """P(an in-distribution score > an OOD score), ties count half: counted pair by pair."""
    diff = ind[:, None] - out[None, :]
    return float(((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size)


def test_a_bin_centred_tone_gives_the_hann_window_s_three_lines():
    # a complex tone at exactly k cycles per segment: the periodic Hann window's DFT has three
    # lines, amplitude N/2 at k and N/4 at k +- 1, so powers 1 : 1/4 : 1/4 -> 2/3 and 1/6 each
    k = 5
    z = np.exp(2j * np.pi * k * np.arange(L) / B)[None, :]
    f = psd_features(_iq(z))
    assert f.shape == (1, B)
    centre = B // 2 + k  # fftshift order: index B/2 is DC
    assert np.exp(f[0, centre]) == pytest.approx(2 / 3, abs=1e-5)
    assert np.exp(f[0, centre - 1]) == pytest.approx(1 / 6, abs=1e-5)
    assert np.exp(f[0, centre + 1]) == pytest.approx(1 / 6, abs=1e-5)
    rest = np.delete(f[0], [centre - 1, centre, centre + 1])
    assert np.all(rest < np.log(1e-6))  # float32 input leaves only rounding noise elsewhere


def test_features_equal_an_independent_welch_average_and_ignore_the_level():
    rng = np.random.default_rng(3)
    z = _lowpass(rng, 4)
    # half-overlapping periodic-Hann segments, |FFT|^2 averaged, normalised, in log
    win = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(B) / B)
    starts = range(0, L - B + 1, B // 2)
    zz = _iq(z).astype(np.float64)
    zc = zz[:, 0] + 1j * zz[:, 1]
    p = np.mean([np.abs(np.fft.fft(zc[:, s : s + B] * win, axis=1)) ** 2 for s in starts], axis=0)
    p = np.fft.fftshift(p, axes=1)
    want = np.log(p / p.sum(axis=1, keepdims=True) + 1e-10)
    np.testing.assert_allclose(psd_features(_iq(z)), want, atol=1e-9)
    # the shape, not the level: 20 dB more power gives the same features
    np.testing.assert_allclose(psd_features(_iq(10 * z)), psd_features(_iq(z)), atol=1e-5)


def test_only_iq_captures_are_accepted():
    assert spectral_applicable(np.zeros((3, 2, L))) and not spectral_applicable(np.zeros((3, 96)))
    assert not spectral_applicable(np.zeros((3, 2, B - 1)))
    with pytest.raises(ValueError, match=r"I/Q captures \(N, 2, L"):
        psd_features(np.zeros((3, 4, L)))


def test_the_score_is_minus_the_nearest_mahalanobis_distance_scipy_computes():
    rng = np.random.default_rng(4)
    x = _iq(np.concatenate([_white(rng, 150)[:, :L], _highpass(rng, 150)]))
    y = np.r_[np.zeros(150, int), np.ones(150, int)]
    stats = fit_spectral(x, y, 3)  # class 2 has no captures: its mean must attract none
    f = psd_features(x)
    means = np.stack([f[y == 0].mean(0), f[y == 1].mean(0)])
    precision = np.linalg.inv(ledoit_wolf(f - means[y], assume_centered=True)[0])
    np.testing.assert_allclose(stats.means[:2], means, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(stats.precision, precision, rtol=1e-4, atol=1e-4 * np.abs(precision).max())
    probe = _iq(_lowpass(rng, 5))
    pf = psd_features(probe)
    want = [-min(mahalanobis(v, m, precision) ** 2 for m in means) for v in pf]
    np.testing.assert_allclose(stats.score(probe), want, rtol=1e-3)
    # through the shared scoring function, as the build and the daemon call it
    _, s = ood_scores(np.zeros((5, 3)), "spectral", "logits", raw=probe, spectral=stats)
    np.testing.assert_allclose(s, stats.score(probe))
    assert "spectral" in SCORES
    with pytest.raises(ValueError, match="raw captures"):
        ood_scores(np.zeros((5, 3)), "spectral", "logits")


def test_toy_problem_auroc_matches_the_known_answer():
    # in distribution: white and high-pass noise; OOD: low-pass noise (a spectrum neither class
    # has) -> AUROC 1; OOD made half of white noise -> AUROC 0.5 * 1 + 0.5 * 0.5 = 0.75
    rng = np.random.default_rng(5)
    fit_x = _iq(np.concatenate([_white(rng, 200)[:, :L], _highpass(rng, 200)]))
    stats = fit_spectral(fit_x, np.r_[np.zeros(200, int), np.ones(200, int)], 2)
    ind = stats.score(_iq(np.concatenate([_white(rng, 200)[:, :L], _highpass(rng, 200)])))
    low = stats.score(_iq(_lowpass(rng, 200)))
    white = stats.score(_iq(_white(rng, 200)[:, :L]))
    assert _auroc(ind, low) == 1.0
    assert _auroc(ind, np.r_[low, white]) == pytest.approx(0.75, abs=0.05)
    # at 95 % in-distribution acceptance every low-pass capture is called unknown
    assert np.mean(low < np.quantile(ind, 0.05)) == 1.0


def test_statistics_round_trip(tmp_path: Path):
    rng = np.random.default_rng(6)
    stats = SpectralStats(rng.normal(size=(4, B)), np.eye(B) * 3.0 + 0.1)
    save_spectral(stats, tmp_path / "s.npz")
    back = load_spectral(tmp_path / "s.npz")
    np.testing.assert_allclose(back.means, stats.means, rtol=1e-6)  # float32 on disk
    np.testing.assert_allclose(back.precision, stats.precision, rtol=1e-6)
    assert back.bins == B and back.nbytes == (4 * B + B * B) * 8
    save_spectral(stats, tmp_path / "again.npz")  # deterministic bytes: the bundle hashes them
    assert (tmp_path / "again.npz").read_bytes() == (tmp_path / "s.npz").read_bytes()


def test_malformed_statistics_files_are_refused_naming_the_file(tmp_path: Path):
    good = {"kind": np.array("spectral"), "means": np.zeros((3, 8)), "precision": np.eye(8)}
    cases = {
        "missing.npz": ({k: v for k, v in good.items() if k != "precision"}, "missing array 'precision'"),
        "shapes.npz": ({**good, "precision": np.eye(7)}, r"means \(3, 8\), precision \(7, 7\)"),
        "nan.npz": ({**good, "means": np.full((3, 8), np.nan)}, "NaN or inf"),
        "kind.npz": ({**good, "kind": np.array("knn")}, "kind 'knn'; expected 'spectral'"),
    }
    for name, (arrays, message) in cases.items():
        np.savez(tmp_path / name, **arrays)
        with pytest.raises(BundleError, match=message) as e:
            load_spectral(tmp_path / name)
        assert str(tmp_path / name) in str(e.value)
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(BundleError, match=r"not a spectral-statistics \.npz"):
        load_spectral(tmp_path / "text.npz")
    # the feature scores' file is not a spectral one
    save_stats(FeatureStats(np.zeros((2, 4)), np.eye(4), l2_normalise(np.ones((3, 4))), 1),
               tmp_path / "feat.npz")
    with pytest.raises(BundleError, match="missing array 'kind'"):
        load_spectral(tmp_path / "feat.npz")
