"""The blind SNR estimate against a reference built here from ``scipy.signal.welch`` (written
against the survivors of a mutation run): the documented estimator (Welch PSD, the lowest quarter
of the bins as noise, divided by that quarter's share for seeded white noise, clipped to
[-30, 60] dB) typed out on scipy's PSD, on lengths that leave a tail, short captures (one odd
segment) and hand-built PSDs at the clips."""

from __future__ import annotations

import functools
import math
import warnings

import numpy as np
import pytest
from scipy import signal

from edgekit.signals.snr import (
    SNR_CEILING_DB,
    SNR_FLOOR_DB,
    SNR_NPERSEG,
    estimate_snr_db,
    snr_db_from_psd,
    welch_psd,
)


def _welch(z: np.ndarray, nperseg: int) -> np.ndarray:
    return signal.welch(z, nperseg=nperseg, detrend=False, return_onesided=False, axis=-1)[1]


def _low(p: np.ndarray) -> np.ndarray:
    k = max(1, round(p.shape[1] / 4))
    return np.sort(p, axis=1)[:, :k].mean(axis=1)


@functools.lru_cache
def _bias(length: int, nperseg: int) -> float:
    """The documented correction: 2000 seeded white-noise captures through scipy's welch."""
    rng = np.random.default_rng(20261129)
    z = rng.standard_normal((2000, length)) + 1j * rng.standard_normal((2000, length))
    p = _welch(z, nperseg)
    return float(np.mean(_low(p) / p.mean(axis=1)))


def _reference_db(x: np.ndarray) -> np.ndarray:
    z = x[:, 0, :].astype(np.float64) + 1j * x[:, 1, :].astype(np.float64)
    nperseg = min(32, x.shape[2])
    p = _welch(z, nperseg)
    noise = _low(p) / _bias(x.shape[2], nperseg)
    ratio = (p.mean(axis=1) - noise) / noise  # below the noise floor (ratio <= 0): the floor
    return np.clip(10 * np.log10(np.maximum(ratio, 1e-30)), -30.0, 60.0)


def _tone_in_noise(n: int, length: int, amplitude: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    tone = amplitude * np.exp(2j * np.pi * 0.11 * t)
    z = tone + (rng.standard_normal((n, length)) + 1j * rng.standard_normal((n, length))) / math.sqrt(2)
    return np.stack([z.real, z.imag], axis=1)


def test_the_documented_constants():
    assert (SNR_FLOOR_DB, SNR_CEILING_DB, SNR_NPERSEG) == (-30.0, 60.0, 32)


@pytest.mark.parametrize("length", [1024, 1000, 77, 32, 17, 8])
def test_equals_the_estimator_typed_out_on_scipys_welch(length: int):
    x = _tone_in_noise(6, length, 1.5, seed=length)
    got = estimate_snr_db(x)
    assert got.shape == (6,) and got.dtype == np.float64
    np.testing.assert_allclose(got, _reference_db(x), rtol=1e-9, atol=1e-9)


def test_one_capture_gives_a_0d_array():
    x = _tone_in_noise(1, 256, 2.0, seed=3)
    one = estimate_snr_db(x[0])
    assert one.shape == () and one == pytest.approx(float(_reference_db(x)[0]), rel=1e-9)


@pytest.mark.parametrize("shape", [(2, 3, 64), (3, 64), (64,), (1, 2, 2, 64)])
def test_other_shapes_are_refused_naming_the_shape(shape):
    with pytest.raises(ValueError) as e:
        estimate_snr_db(np.zeros(shape))
    assert str(e.value) == f"expected captures of shape (N, 2, L) or (2, L), got {shape}"


def test_the_psd_refuses_a_zero_segment_and_a_flat_array_with_the_shape():
    with pytest.raises(ValueError, match=r"^expected complex rows \(N, L >= 0\), got shape \(2, 8\)$"):
        welch_psd(np.zeros((2, 8), complex), 0)
    with pytest.raises(ValueError, match=r"^expected complex rows \(N, L >= 4\), got shape \(8,\)$"):
        welch_psd(np.zeros(8, complex), 4)
    assert welch_psd(np.ones((1, 8), complex), 8).shape == (1, 8)  # one segment of the whole row
    # one-sample segments: scipy's window is [1.0], so the PSD is the mean power (here 1 + 4 = 5)
    np.testing.assert_allclose(welch_psd(np.full((1, 8), 1 + 2j), 1), [[5.0]], rtol=1e-12)


def test_odd_segments_overlap_as_welch_does():
    rng = np.random.default_rng(5)
    z = rng.standard_normal((3, 50)) + 1j * rng.standard_normal((3, 50))
    for nperseg in (7, 9, 15):  # welch's overlap nperseg // 2: step nperseg - nperseg // 2
        np.testing.assert_allclose(welch_psd(z, nperseg), _welch(z, nperseg), rtol=1e-10)


def test_snr_from_a_psd_follows_the_total_over_the_noise_floor():
    """Two PSD rows with the same lowest quarter: (SNR + 1) is total x bias / low, so the ratio
    of (SNR + 1) between them is the ratio of their totals, whatever the bias."""
    low = [1.0] * 8
    rows = np.array([low + [10.0] * 24, low + [100.0] * 24])
    db = snr_db_from_psd(rows, 1024, 32)
    totals = rows.mean(axis=1)
    ratio = (10 ** (db[1] / 10) + 1) / (10 ** (db[0] / 10) + 1)
    assert ratio == pytest.approx(totals[1] / totals[0], rel=1e-9)
    bias = (10 ** (db[0] / 10) + 1) * 1.0 / totals[0]
    assert bias == pytest.approx(_bias(1024, 32), rel=1e-9)  # the bias is the documented one


def test_the_lowest_quarter_rounds_and_takes_at_least_one_bin():
    # 6 bins: a quarter is 1.5 -> 2 bins; 2 bins: 0.5 -> rounds to 0 -> 1 bin
    six = np.array([[1.0, 3.0, 50.0, 50.0, 50.0, 50.0]])
    two = np.array([[1.0, 9.0]])
    for p, low in ((six, 2.0), (two, 1.0)):
        length = p.shape[1] * 4
        b = _bias(length, p.shape[1])
        want = 10 * math.log10((p.mean() - low / b) / (low / b))
        assert snr_db_from_psd(p, length, p.shape[1])[0] == pytest.approx(want, rel=1e-9)


def test_no_noise_floor_reads_the_ceiling_and_pure_noise_the_floor():
    psd = np.array([[0.0] * 8 + [5.0] * 24, [np.nan] * 32, [1.0] * 31 + [np.nan], [1.0] * 32])
    np.testing.assert_array_equal(snr_db_from_psd(psd, 1024, 32), [60.0, -30.0, -30.0, -30.0])
    assert snr_db_from_psd(np.array([[1e-3] * 8 + [1e300] * 24]), 1024, 32)[0] == 60.0  # clipped
    x = _tone_in_noise(1, 1024, 0.0, seed=9)[0]  # noise alone
    assert estimate_snr_db(x) == -30.0


def test_a_psd_without_a_noise_floor_reads_the_ceiling_without_warnings():
    psd = np.array([[0.0] * 32, [0.0] * 8 + [2.0] * 24])  # nothing at all; signal but no floor
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning from 0 / 0 or x / 0 in the logs
        np.testing.assert_array_equal(snr_db_from_psd(psd, 1024, 32), [60.0, 60.0])
