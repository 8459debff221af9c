"""A blind SNR estimate of a radio capture, computed from the capture alone.

The daemon has no metadata: to say "in conditions like these" it needs a condition it can
compute on the device. This is the spectral noise-floor estimator: Welch's power spectral density
(:func:`welch_psd`: ``scipy.signal.welch``'s 32-bin Hann segments, 50 % overlap, in one
vectorised transform) splits a capture's power into bins;
the lowest quarter of the bins holds noise only for any signal that leaves a quarter of the band
free (every synthetic class but ``noise``), so their mean, divided by what that mean is for pure
white noise (the order-statistic bias, measured once on seeded white noise through the same
estimator, not hard-coded), estimates the noise power. SNR = (total - noise) / noise.

Checked against the synthetic generator's known SNR in ``tests/signals/test_snr.py``. A capture
of noise alone reads as the floor, :data:`SNR_FLOOR_DB`.
"""

from __future__ import annotations

import functools

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import fft

__all__ = [
    "SNR_CEILING_DB",
    "SNR_FLOOR_DB",
    "SNR_NPERSEG",
    "estimate_snr_db",
    "snr_db_from_psd",
    "welch_psd",
]

SNR_FLOOR_DB = -30.0
"""The lowest value reported: below it the estimate is noise-dominated anyway."""
SNR_CEILING_DB = 60.0
"""The highest value reported (a capture with no visible noise floor)."""

SNR_NPERSEG = 32
"""The Welch segment length of the estimate (public: ``signals.spectral`` shares its PSD)."""
_LOW_FRACTION = 0.25  # the share of PSD bins taken as noise-only


@functools.lru_cache(maxsize=8)
def _hann(nperseg: int) -> tuple[np.ndarray, float]:
    """welch's default window (periodic Hann) and its density scaling 1 / sum(w^2) at fs = 1.

    The periodic Hann window of length n is numpy's symmetric one of length n + 1 without its
    last point (what ``scipy.signal.get_window("hann", n)`` returns; compared in the tests):
    importing scipy.signal for it would cost the daemon's start-up most of a second."""
    w = np.hanning(nperseg + 1)[:-1]
    return w, float(1.0 / np.sum(w * w))


def welch_psd(z: np.ndarray, nperseg: int) -> np.ndarray:
    """Two-sided Welch PSD of each complex row ``z`` (N, L) -> (N, nperseg), FFT order: what
    ``scipy.signal.welch(z, nperseg=nperseg, detrend=False, return_onesided=False)`` returns
    (Hann segments, 50 % overlap, density scaling at fs = 1, trailing samples that fill no
    segment dropped), from one ``scipy.fft.fft`` over a strided view of all segments.

    Why not welch itself: scipy 1.17's welch runs one FFT per segment (63 for a 1024-sample
    capture), ~10x the cost on the daemon's single capture (``bench/bench_spectral.py``);
    ``scipy.signal.ShortTimeFFT`` loops per segment too and measured slower still. Checked equal
    to welch in ``tests/signals/test_snr.py``."""
    a = np.asarray(z)
    if a.ndim != 2 or not 1 <= nperseg <= a.shape[1]:
        raise ValueError(f"expected complex rows (N, L >= {nperseg}), got shape {a.shape}")
    w, scale = _hann(nperseg)
    # starts 0, step, 2 step, ... while a whole segment fits: welch's segmentation
    seg = sliding_window_view(a, nperseg, axis=-1)[:, :: nperseg - nperseg // 2] * w
    spec = fft.fft(seg, axis=-1)
    p = spec.real**2 + spec.imag**2
    out: np.ndarray = p.mean(axis=1) * scale
    return out


def _psd(z: np.ndarray, nperseg: int) -> np.ndarray:
    """Two-sided Welch PSD of each complex row ``z`` (N, L) -> (N, bins)."""
    return welch_psd(np.asarray(z, dtype=np.complex128), nperseg)


def _low_mean(p: np.ndarray) -> np.ndarray:
    k = max(1, round(_LOW_FRACTION * p.shape[1]))
    return np.asarray(np.sort(p, axis=1)[:, :k].mean(axis=1))


@functools.lru_cache(maxsize=16)
def _white_noise_bias(length: int, nperseg: int) -> float:
    """Mean of the lowest bins over the mean of all bins, for complex white noise of ``length``.

    Measured with a fixed seed on 2000 captures through the same PSD, so the correction follows
    the estimator's real segment count and overlap rather than an approximate formula."""
    rng = np.random.default_rng(20261129)
    z = np.empty((2000, length), dtype=np.complex128)  # the same draws, real parts first,
    z.real = rng.standard_normal((2000, length))  # without the temporaries of re + 1j * im
    z.imag = rng.standard_normal((2000, length))
    # the PSD 200 captures at a time: the same per-capture ratios, but the segment views and
    # their transforms no longer all live at once (the daemon computes this at load: done in
    # one go it raised its peak resident memory by about 240 MiB for 1024-sample captures)
    ratios = [_low_mean(p) / p.mean(axis=1) for p in (_psd(z[i : i + 200], nperseg)
                                                      for i in range(0, len(z), 200))]
    return float(np.mean(np.concatenate(ratios)))


def estimate_snr_db(x: np.ndarray) -> np.ndarray:
    """Estimated SNR in dB of each capture: ``x`` is (N, 2, L) or (2, L) float I and Q.

    Returns float64 (N,) (a 0-d array for one capture), clipped to
    [:data:`SNR_FLOOR_DB`, :data:`SNR_CEILING_DB`]. Scale-invariant: int16 or float units alike.
    """
    arr = np.asarray(x, dtype=np.float64)
    single = arr.ndim == 2
    if single:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[1] != 2:
        raise ValueError(f"expected captures of shape (N, 2, L) or (2, L), got {np.shape(x)}")
    length = arr.shape[2]
    nperseg = min(SNR_NPERSEG, length)
    z = arr[:, 0, :] + 1j * arr[:, 1, :]
    out = snr_db_from_psd(_psd(z, nperseg), length, nperseg)
    return out[0] if single else out


def snr_db_from_psd(p: np.ndarray, length: int, nperseg: int) -> np.ndarray:
    """:func:`estimate_snr_db` from a Welch PSD ``(N, bins)`` already computed with this
    module's settings (``nperseg`` Hann segments, 50 % overlap, no detrending, two-sided) on
    captures of ``length`` samples: the spectral score reads the same PSD, so the device
    computes it once."""
    total = p.mean(axis=1)
    noise = _low_mean(p) / _white_noise_bias(length, nperseg)
    with np.errstate(divide="ignore", invalid="ignore"):
        # no noise floor at all reads as the ceiling; a NaN floor stays NaN and reads as the floor
        ratio = np.where(noise == 0, np.inf, (total - noise) / noise)
        db = 10.0 * np.log10(np.maximum(ratio, 1e-30))
    db = np.nan_to_num(db, nan=SNR_FLOOR_DB, posinf=SNR_CEILING_DB)
    out: np.ndarray = np.clip(db, SNR_FLOOR_DB, SNR_CEILING_DB)
    return out
