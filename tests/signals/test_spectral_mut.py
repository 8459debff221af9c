"""The spectral score's scoring path (``class_loglik``, ``SpectralStats.band``, ``score``,
``score_and_snr``, ``score_features``) on hand-worked numbers (mutation round,
``scripts/mutation.sh spectral``): every expected value is worked out in the comments from small
integer statistics, and the composition of the path is checked against the SNR estimator of
``signals.snr`` and the cyclic-prefix statistic by its definition (tests/signals/test_cyclic.py),
not against the module's own feature code.
"""

from __future__ import annotations

import numpy as np

from edgekit.signals.snr import estimate_snr_db
from edgekit.signals.spectral import SpectralStats, class_loglik, psd_features
from tests.signals.test_cyclic import cp_by_definition

# Two features (B = 2), three classes (C = 3, unlike B so an axis mix-up cannot broadcast):
#   class 0: mean (0, 0), precision diag(1, 1),     logdet 0
#   class 1: mean (3, 0), precision diag(4, 1/4),   logdet 1.5
#   class 2: mean (10, 10), precision I,            logdet 0   (far: never the best)
# row (1, 2): class 0 q = 1 + 4 = 5 -> 5; class 1 d = (-2, 2), q = 16 + 1 = 17 -> 18.5;
#   class 2 d = (-9, -8), q = 145. Best 5: -5.
# row (3, 1): class 0 q = 9 + 1 = 10; class 1 d = (0, 1), q = 1/4 -> 1.75; class 2 q = 49 + 81.
#   Best 1.75: -1.75.
MEANS = np.array([[0.0, 0.0], [3.0, 0.0], [10.0, 10.0]])
PREC = np.stack([np.eye(2), np.diag([4.0, 0.25]), np.eye(2)])
LOGDET = np.array([0.0, 1.5, 0.0])


def test_class_loglik_by_hand() -> None:
    f = np.array([[1.0, 2.0], [3.0, 1.0]])
    assert class_loglik(f, MEANS, PREC, LOGDET).tolist() == [-5.0, -1.75]


def test_class_loglik_uses_the_full_precision_matrix() -> None:
    # a non-diagonal precision [[2, 1], [1, 2]] for class 0 alone (others far away):
    # d = (1, -1): q = 2 - 1 - 1 + 2 = 2; d = (1, 1): q = 2 + 1 + 1 + 2 = 6
    prec = np.stack([np.array([[2.0, 1.0], [1.0, 2.0]]), np.eye(2), np.eye(2)])
    means = np.array([[0.0, 0.0], [100.0, 100.0], [-100.0, 100.0]])
    f = np.array([[1.0, -1.0], [1.0, 1.0]])
    assert class_loglik(f, means, prec, np.zeros(3)).tolist() == [-2.0, -6.0]


def test_class_loglik_of_one_row_and_one_class() -> None:
    # the daemon's case: one capture; d = (2, -1) with precision diag(1, 2): q = 4 + 2 = 6; + 0.5
    got = class_loglik(np.array([[2.0, -1.0]]), np.zeros((1, 2)), np.diag([1.0, 2.0])[None],
                       np.array([0.5]))
    assert got.shape == (1,) and got[0] == -6.5


def test_band_of_an_estimate_on_and_either_side_of_an_edge() -> None:
    st = _one_feature_stats()
    edges = np.array([0.0])
    assert np.array_equal(st.edges, edges)
    snr = np.array([-100.0, np.nextafter(0.0, -1.0), 0.0, np.nextafter(0.0, 1.0), 100.0])
    assert st.band(snr).tolist() == [0, 0, 1, 1, 1]
    three = SpectralStats(np.array([-5.0, 5.0]), *[np.zeros((3, 1, 1))] * 3, np.zeros(3), np.ones(3))
    assert three.band(np.array([-5.0, -5.1, 4.9, 5.0, 5.1])).tolist() == [1, 0, 1, 2, 2]


def _one_feature_stats() -> SpectralStats:
    # one feature, one class per band, bands cut at 0 dB:
    #   band 0: mean 0,  precision 1, logdet 0,   centre -1, scale 2
    #   band 1: mean 10, precision 1, logdet 0.5, centre -3, scale 4
    return SpectralStats(
        edges=np.array([0.0]),
        means=np.array([[[0.0]], [[10.0]]]),
        precision=np.array([[[[1.0]]], [[[1.0]]]]),
        logdet=np.array([[0.0], [0.5]]),
        centre=np.array([-1.0, -3.0]),
        scale=np.array([2.0, 4.0]),
    )


def test_score_features_standardises_each_row_by_its_own_band() -> None:
    # f 1 at -1 dB (band 0): loglik -1, (-1 + 1) / 2 = 0
    # f 12 at 1 dB (band 1): -(4 + 0.5) = -4.5, (-4.5 + 3) / 4 = -0.375
    # f 0 at 0 dB (on the edge: band 1): -(100 + 0.5), (-100.5 + 3) / 4 = -24.375
    # f 10 at -0.5 dB (band 0): -100, (-100 + 1) / 2 = -49.5
    st = _one_feature_stats()
    f = np.array([[1.0], [12.0], [0.0], [10.0]])
    got = st.score_features(f, np.array([-1.0, 1.0, 0.0, -0.5]))
    assert got.tolist() == [0.0, -0.375, -24.375, -49.5]
    # one row alone (the daemon's case), in either band
    assert st.score_features(f[1:2], np.array([1.0])).tolist() == [-0.375]
    assert st.score_features(f[3:4], np.array([-0.5])).tolist() == [-49.5]


def test_bins_and_bank_follow_the_cyclic_prefix_column() -> None:
    st = _one_feature_stats()
    assert st.bank == () and st.bins == 1
    z = np.zeros((1, 1, 33))
    with_cp = SpectralStats(np.zeros(0), z, np.zeros((1, 1, 33, 33)), np.zeros((1, 1)), np.zeros(1),
                            np.ones(1), np.array([[64.0, 16.0], [128.0, 32.0]]))
    assert with_cp.bank == ((64, 16), (128, 32)) and with_cp.bins == 32
    assert all(type(v) is int for pair in with_cp.bank for v in pair)
    flat = SpectralStats(np.zeros(0), z, np.zeros((1, 1, 33, 33)), np.zeros((1, 1)), np.zeros(1),
                         np.ones(1), np.array([64.0, 16.0]))  # one pair, stored flat
    assert flat.bank == ((64, 16),)


# --- the whole path on captures --------------------------------------------------------------

RNG = np.random.default_rng(21)
L = 1024


def _captures() -> np.ndarray:
    # white noise (blind estimate at the floor) and a tone 20 dB above it (far above 0 dB)
    t = np.arange(L)
    noise = (RNG.normal(size=(2, L)) + 1j * RNG.normal(size=(2, L))) / np.sqrt(2)
    z = noise.copy()
    z[1] += 10.0 * np.exp(2j * np.pi * 0.05 * t)
    return np.stack([z.real, z.imag], axis=1).astype(np.float32)


X = _captures()


def _stats(bins: int, bank: np.ndarray) -> SpectralStats:
    # two bands cut at 0 dB; per band one class with an integer mean and diagonal precision
    width = bins + (1 if bank.size else 0)
    rng = np.random.default_rng(5)
    means = rng.integers(-8, 0, size=(2, 1, width)).astype(float)
    prec = np.stack([np.diag(rng.integers(1, 4, size=width).astype(float))[None] for _ in range(2)])
    return SpectralStats(np.array([0.0]), means, prec, np.array([[0.25], [-0.5]]),
                         np.array([-20.0, -40.0]), np.array([5.0, 8.0]), bank)


def _by_hand(st: SpectralStats, f: np.ndarray, snr: np.ndarray) -> np.ndarray:
    out = []
    for row, e in zip(f, snr, strict=True):
        k = 0 if e < 0.0 else 1
        d = row - st.means[k, 0]
        q = float(d @ st.precision[k, 0] @ d)
        out.append((-(q + st.logdet[k, 0]) - st.centre[k]) / st.scale[k])
    return np.array(out)


def test_score_and_snr_compose_the_psd_the_estimate_and_the_bands() -> None:
    st = _stats(32, np.zeros((0, 2)))
    score, snr = st.score_and_snr(X)
    want_snr = np.atleast_1d(estimate_snr_db(X))
    assert want_snr[0] < 0.0 < want_snr[1]  # one capture in each band
    np.testing.assert_allclose(snr, want_snr, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(score, _by_hand(st, psd_features(X, 32), want_snr), rtol=1e-9)
    np.testing.assert_array_equal(st.score(X), score)


def test_score_with_other_bins_reads_the_estimate_of_its_own_segment_length() -> None:
    # 16 bins: the PSD is not the SNR estimator's (32), so the estimate comes from signals.snr
    st = _stats(16, np.zeros((0, 2)))
    score, snr = st.score_and_snr(X)
    want_snr = np.atleast_1d(estimate_snr_db(X))
    np.testing.assert_allclose(snr, want_snr, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(score, _by_hand(st, psd_features(X, 16), want_snr), rtol=1e-9)


def test_score_with_the_cyclic_prefix_column() -> None:
    bank = np.array([[64.0, 16.0]])
    st = _stats(32, bank)
    score, _ = st.score_and_snr(X)
    f = np.c_[psd_features(X, 32), cp_by_definition(X, ((64, 16),))]
    np.testing.assert_allclose(score, _by_hand(st, f, np.atleast_1d(estimate_snr_db(X))), rtol=1e-6)
