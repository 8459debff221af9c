"""The spectral OOD score: its features against an analytic answer and an independent Welch
average written here, its cyclic-prefix column (``signals.cyclic``, tested in test_cyclic.py),
its score against scipy's Mahalanobis distance, its AUROC on a toy problem whose answer is
known, and its statistics file (round trip and refusals)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.distance import mahalanobis
from sklearn.covariance import ledoit_wolf

from edgekit.errors import BundleError
from edgekit.signals.ood import FeatureStats, l2_normalise, save_stats
from edgekit.signals.scores import SCORES, ood_scores
from edgekit.signals.snr import estimate_snr_db
from edgekit.signals.spectral import (
    CP_BANK,
    MIN_CLASS_ROWS,
    SPECTRAL_BINS,
    SpectralStats,
    features_and_snr,
    fit_features,
    fit_spectral,
    load_spectral,
    psd_features,
    save_spectral,
    spectral_applicable,
)
from tests.signals.test_cyclic import cp_by_definition

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


def test_the_score_is_the_standardised_best_class_log_likelihood_scipy_and_numpy_compute():
    rng = np.random.default_rng(4)
    # two classes whose spectra vary differently: white noise, and high-pass noise at random
    # levels of added white noise (its shape spreads), so their covariances differ
    hp = _highpass(rng, 150) + rng.uniform(0.0, 2.0, (150, 1)) * _white(rng, 150)[:, :L]
    x = _iq(np.concatenate([_white(rng, 150)[:, :L], hp]))
    y = np.r_[np.zeros(150, int), np.ones(150, int)]
    stats = fit_spectral(x, y, 3, edges=(), cp_bank=CP_BANK)  # one band; class 2: no captures
    assert stats.bank == CP_BANK and stats.bins == B
    f = np.c_[psd_features(x), cp_by_definition(x, CP_BANK)]
    means = [f[y == c].mean(0) for c in (0, 1)]
    covs = [ledoit_wolf(f[y == c])[0] for c in (0, 1)]  # each class its own, centred on its mean
    precs = [np.linalg.inv(c) for c in covs]
    logdets = [np.linalg.slogdet(c)[1] for c in covs]
    assert abs(logdets[0] - logdets[1]) > 1.0  # the per-class form matters here
    np.testing.assert_allclose(stats.means[0, :2], np.stack(means), rtol=1e-6, atol=1e-6)
    for c in (0, 1):
        np.testing.assert_allclose(stats.precision[0, c], precs[c], rtol=1e-4,
                                   atol=1e-4 * np.abs(precs[c]).max())
        assert stats.logdet[0, c] == pytest.approx(logdets[c], abs=1e-3)

    def dist(rows: np.ndarray) -> np.ndarray:
        return np.array([
            -min(mahalanobis(v, m, p) ** 2 + ld for m, p, ld in zip(means, precs, logdets, strict=True))
            for v in rows
        ])

    lo, med = np.quantile(dist(f), [0.05, 0.5])  # the fit rows' own spread standardises
    probe = _iq(_lowpass(rng, 5))
    want = (dist(np.c_[psd_features(probe), cp_by_definition(probe, CP_BANK)]) - med) / (med - lo)
    np.testing.assert_allclose(stats.score(probe), want, rtol=1e-3)
    # through the shared scoring function, as the build and the daemon call it
    _, s = ood_scores(np.zeros((5, 3)), "spectral", "logits", raw=probe, spectral=stats)
    np.testing.assert_allclose(s, stats.score(probe))
    assert "spectral" in SCORES
    with pytest.raises(ValueError, match="raw captures"):
        ood_scores(np.zeros((5, 3)), "spectral", "logits")


def test_a_class_with_too_few_rows_in_a_band_is_absent_and_cannot_outbid_the_others():
    # class 0: 300 rows; class 1: two rows (a nearly singular Ledoit-Wolf covariance, whose
    # log-likelihood would outbid class 0 everywhere); class 2: MIN_CLASS_ROWS rows (kept)
    from scipy.stats import multivariate_normal

    assert MIN_CLASS_ROWS == 5
    rng = np.random.default_rng(11)
    d = 8
    f = np.r_[rng.normal(size=(300, d)), 3.0 + 1e-3 * rng.normal(size=(2, d)),
              -3.0 + rng.normal(size=(5, d))]
    y = np.r_[np.zeros(300, int), np.ones(2, int), np.full(5, 2)]
    stats = fit_features(f, np.zeros(len(f)), y, 3, edges=())
    assert np.all(stats.means[0, 1] == 1e6) and stats.logdet[0, 1] == 0.0
    np.testing.assert_array_equal(stats.precision[0, 1], np.eye(d))
    np.testing.assert_allclose(stats.means[0, 2], f[y == 2].mean(0), atol=1e-6)
    # a capture equal to class 1's first row: scored by class 0 or 2, whichever fits better,
    # each a Gaussian with its Ledoit-Wolf covariance (scipy's density: -(q + log det) =
    # 2 log pdf + d log 2 pi)
    probe = f[300:301]
    ll = max(2 * multivariate_normal(f[y == c].mean(0), ledoit_wolf(f[y == c])[0]).logpdf(probe[0])
             + d * np.log(2 * np.pi) for c in (0, 2))
    fit_ll = np.array([max(2 * multivariate_normal(f[y == c].mean(0), ledoit_wolf(f[y == c])[0])
                           .logpdf(v) + d * np.log(2 * np.pi) for c in (0, 2)) for v in f])
    lo, med = np.quantile(fit_ll, [0.05, 0.5])
    np.testing.assert_allclose(stats.score_features(probe, np.zeros(1)), (ll - med) / (med - lo),
                               rtol=1e-3)


def test_each_snr_band_has_its_own_statistics_and_rejects_its_own_five_percent():
    # a tone at -8 dB and at +15 dB SNR (the generator's convention: unit signal power, noise
    # power 10^(-SNR/10)): the blind estimate puts them in bands 0 and 3 of (-5, 0, 5) dB
    # (PSD-only here: the cyclic-prefix column is tested below)
    rng = np.random.default_rng(7)
    n = 400
    snr_db = np.r_[np.full(n, -8.0), np.full(n, 15.0)]
    f0 = rng.uniform(-0.2, 0.2, size=(2 * n, 1))
    tone = np.exp(2j * np.pi * f0 * np.arange(L))
    noise = (rng.normal(size=(2 * n, L)) + 1j * rng.normal(size=(2 * n, L))) / np.sqrt(2)
    x = _iq(tone + noise * np.sqrt(10 ** (-snr_db / 10))[:, None])
    stats = fit_spectral(x, np.zeros(2 * n, int), 1, edges=(-5.0, 0.0, 5.0), cp_bank=())
    assert stats.bins == B and stats.means.shape == (4, 1, B)
    band = stats.band(np.array([-8.0, 15.0]))
    assert band.tolist() == [0, 3]
    # bands 1 and 2 had no captures: they fall back to the pooled statistics
    np.testing.assert_array_equal(stats.means[1], stats.means[2])
    assert not np.allclose(stats.means[0], stats.means[3])
    s = stats.score(x)
    for rows in (slice(0, n), slice(n, 2 * n)):
        # standardised by the band's own median and 5 % quantile: 5 % of its rows below -1
        assert np.mean(s[rows] < -1.0) == pytest.approx(0.05, abs=0.01)


def test_the_features_end_in_the_cyclic_prefix_column():
    rng = np.random.default_rng(8)
    x = _iq(_white(rng, 3)[:, :L])
    bank = ((32, 8), (64, 16), (256, 32))
    f, snr = features_and_snr(x, B, bank)
    assert f.shape == (3, B + 1)
    np.testing.assert_allclose(snr, estimate_snr_db(x), rtol=1e-9)  # the band is unchanged
    np.testing.assert_allclose(f[:, -1], cp_by_definition(x, bank), rtol=1e-6)
    np.testing.assert_allclose(f[:, :B], psd_features(x), rtol=1e-9)
    assert features_and_snr(x, B, ())[0].shape == (3, B)  # an empty bank: the PSD alone


def test_toy_problem_auroc_matches_the_known_answer():
    # in distribution: white and high-pass noise; OOD: low-pass noise (a spectrum neither class
    # has) -> AUROC 1; OOD made half of white noise -> AUROC 0.5 * 1 + 0.5 * 0.5 = 0.75
    rng = np.random.default_rng(5)
    fit_x = _iq(np.concatenate([_white(rng, 200)[:, :L], _highpass(rng, 200)]))
    stats = fit_spectral(fit_x, np.r_[np.zeros(200, int), np.ones(200, int)], 2)
    assert stats.bank == () and stats.means.shape[2] == B  # no cyclic-prefix column by default
    ind = stats.score(_iq(np.concatenate([_white(rng, 200)[:, :L], _highpass(rng, 200)])))
    low = stats.score(_iq(_lowpass(rng, 200)))
    white = stats.score(_iq(_white(rng, 200)[:, :L]))
    assert _auroc(ind, low) == 1.0
    assert _auroc(ind, np.r_[low, white]) == pytest.approx(0.75, abs=0.05)
    # at 95 % in-distribution acceptance every low-pass capture is called unknown
    assert np.mean(low < np.quantile(ind, 0.05)) == 1.0


def test_statistics_round_trip(tmp_path: Path):
    rng = np.random.default_rng(6)
    d = B + 1  # the PSD bins and the cyclic-prefix column
    stats = SpectralStats(np.array([0.0]), rng.normal(size=(2, 4, d)),
                          np.stack([[np.eye(d) * (3.0 + c)] for c in range(4)], axis=1).repeat(2, 0),
                          rng.normal(size=(2, 4)), np.array([-40.0, -30.0]), np.array([7.0, 5.0]),
                          np.array([[64.0, 16.0], [128.0, 16.0]]))
    save_spectral(stats, tmp_path / "s.npz")
    back = load_spectral(tmp_path / "s.npz")
    for key in ("edges", "means", "precision", "logdet", "centre", "scale", "cp_bank"):
        np.testing.assert_allclose(getattr(back, key), getattr(stats, key), rtol=1e-6)  # float32
    assert back.bins == B and back.bank == ((64, 16), (128, 16))
    assert back.nbytes == (1 + 2 * 4 * d + 2 * 4 * d * d + 2 * 4 + 2 + 2 + 4) * 8
    save_spectral(stats, tmp_path / "again.npz")  # deterministic bytes: the bundle hashes them
    assert (tmp_path / "again.npz").read_bytes() == (tmp_path / "s.npz").read_bytes()


def test_malformed_statistics_files_are_refused_naming_the_file(tmp_path: Path):
    good = {"kind": np.array("spectral"), "edges": np.array([0.0]), "means": np.zeros((2, 3, 8)),
            "precision": np.tile(np.eye(8), (2, 3, 1, 1)), "logdet": np.zeros((2, 3)),
            "centre": np.zeros(2), "scale": np.ones(2), "cp_bank": np.array([[64.0, 16.0]])}
    np.savez(tmp_path / "good.npz", **good)
    assert load_spectral(tmp_path / "good.npz").precision.shape == (2, 3, 8, 8)
    assert load_spectral(tmp_path / "good.npz").bins == 7
    psd_only = {k: v for k, v in good.items() if k != "cp_bank"}
    old = {k: v for k, v in psd_only.items() if k != "logdet"} | {"precision": np.stack([np.eye(8)] * 2)}
    cases = {
        # the files of earlier builds: one line saying so, not a shape puzzle
        "old.npz": (old, r"shared-precision .*no array 'logdet'.*rebuild the bundle"),
        "psd_only.npz": (psd_only, r"PSD-only .*no array 'cp_bank'.*rebuild the bundle"),
        "bank_shape.npz": ({**good, "cp_bank": np.array([64.0, 16.0])}, r"cp_bank \(2,\)"),
        "bank_width.npz": ({**good, "means": np.zeros((2, 3, 1)), "precision": np.ones((2, 3, 1, 1))},
                           r"D = PSD bins \+ \(1 if M else 0\)"),
        "bank_values.npz": ({**good, "cp_bank": np.array([[16.0, 64.0]])},
                            r"cp_bank \[\[16\.0, 64\.0\]\]; expected whole .* 1 <= prefix < FFT"),
        "missing.npz": ({k: v for k, v in good.items() if k != "precision"}, "missing array 'precision'"),
        "shapes.npz": ({**good, "precision": np.tile(np.eye(7), (2, 3, 1, 1))},
                       r"means \(2, 3, 8\), precision \(2, 3, 7, 7\)"),
        "logdet.npz": ({**good, "logdet": np.zeros(2)}, r"logdet \(2,\)"),
        "bands.npz": ({**good, "edges": np.array([-5.0, 0.0])}, r"edges \(2,\), means \(2, 3, 8\)"),
        "nan.npz": ({**good, "means": np.full((2, 3, 8), np.nan)}, "NaN or inf"),
        "scale.npz": ({**good, "scale": np.array([1.0, 0.0])}, "scale must be > 0"),
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
