"""The blind SNR estimate against the synthetic generator's known SNR."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from edgekit.data.synth import CLASSES, generate, to_int16_iq
from edgekit.signals.observe import OBSERVABLES, observe
from edgekit.signals.snr import SNR_FLOOR_DB, estimate_snr_db, welch_psd


@pytest.fixture(scope="module")
def data():  # type: ignore[no-untyped-def]
    return generate(1500, seed=7, snr_range_db=(-10.0, 25.0))


@pytest.mark.parametrize("cls", [c for c in CLASSES if c != "noise"])
def test_estimate_tracks_the_known_snr(data, cls: str) -> None:  # type: ignore[no-untyped-def]
    m = data.meta["class"] == cls
    err = estimate_snr_db(data.x[m]) - data.meta["snr_db"][m]
    # the generator fixes signal power / noise power per capture; within 1.5 dB at the median
    # and 3 dB for nine captures in ten over -10..25 dB
    assert abs(np.median(err)) < 1.5
    assert np.quantile(np.abs(err), 0.9) < 3.0


def test_orders_low_and_high_snr(data) -> None:  # type: ignore[no-untyped-def]
    est = estimate_snr_db(data.x)
    true = data.meta["snr_db"]
    sig = data.meta["class"] != "noise"
    low, high = sig & (true < 0), sig & (true > 10)
    assert np.quantile(est[low], 0.95) < np.quantile(est[high], 0.05)


def test_noise_alone_reads_as_the_floor() -> None:
    ds = generate(60, seed=3, classes=["noise"])
    assert np.all(estimate_snr_db(ds.x) < -10.0)
    assert np.min(estimate_snr_db(ds.x)) >= SNR_FLOOR_DB


def test_single_capture_and_int16_units_agree(data) -> None:  # type: ignore[no-untyped-def]
    x = data.x[:5]
    raw = to_int16_iq(x).transpose(0, 2, 1).astype(np.float64)  # wire units; the estimate is a ratio
    one = estimate_snr_db(x[0])
    assert np.ndim(one) == 0
    assert np.allclose(estimate_snr_db(raw), estimate_snr_db(x), atol=0.05)
    assert float(one) == pytest.approx(float(estimate_snr_db(x)[0]))


def test_refuses_a_wrong_shape() -> None:
    with pytest.raises(ValueError, match="shape"):
        estimate_snr_db(np.zeros((3, 1024)))


def test_registry_names_the_estimate(data) -> None:  # type: ignore[no-untyped-def]
    assert "snr_db" in OBSERVABLES
    assert observe("snr_db", data.x[:4]).shape == (4,)


@pytest.mark.parametrize(("length", "nperseg"), [(1024, 32), (1000, 32), (97, 16), (64, 64), (33, 32)])
def test_vectorised_psd_equals_scipy_welch(length: int, nperseg: int) -> None:
    # welch stays the reference: random complex captures, lengths that leave a tail, one segment
    rng = np.random.default_rng(length + nperseg)
    z = (rng.standard_normal((5, length)) + 1j * rng.standard_normal((5, length))) * rng.uniform(
        0.01, 100.0, (5, 1)
    )
    _f, want = signal.welch(z, nperseg=nperseg, detrend=False, return_onesided=False, axis=-1)
    np.testing.assert_allclose(welch_psd(z, nperseg), want, rtol=1e-10)
    # float32 captures as the daemon decodes them: equal within float32 rounding
    z32 = z.astype(np.complex64)
    _f, want32 = signal.welch(z32, nperseg=nperseg, detrend=False, return_onesided=False, axis=-1)
    np.testing.assert_allclose(welch_psd(z32, nperseg), want32, rtol=1e-5)


def test_vectorised_psd_refuses_captures_shorter_than_a_segment() -> None:
    with pytest.raises(ValueError, match=r"L >= 32"):
        welch_psd(np.zeros((2, 31), complex), 32)
