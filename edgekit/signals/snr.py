"""A blind SNR estimate of a radio capture, computed from the capture alone.

The daemon has no metadata: to say "in conditions like these" it needs a condition it can
compute on the device. This is the spectral noise-floor estimator: Welch's power spectral density
(:func:`welch_psd`: ``scipy.signal.welch``'s 32-bin Hann segments, 50 % overlap, in one
vectorised transform) splits a capture's power into bins;
the lowest quarter of the bins holds noise only for any signal that leaves a quarter of the band
free (every synthetic class but ``noise``), so their mean, divided by what that mean is for pure
white noise (the order-statistic bias, measured once on seeded white noise through the same
estimator, not hard-coded; the build ships the value it used in the spectral statistics file,
``signals.spectral.save_spectral``, and the device uses that one), estimates the noise power.
SNR = (total - noise) / noise.

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
    "measure_white_noise_bias",
    "snr_db_from_psd",
    "use_white_noise_bias",
    "welch_psd",
    "white_noise_bias",
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
    # one point: scipy's window is [1.0] (numpy's periodic form would be [0.0], a zero window)
    w = np.ones(1) if nperseg == 1 else np.hanning(nperseg + 1)[:-1]
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


_BIAS_SEED = 20261129
_BIAS_CAPTURES = 2000
_BIAS_CHUNK = 200  # captures per PSD pass: ~3 MiB of noise and ~13 MiB of transforms at L = 1024

_BIASES: dict[tuple[int, int], float] = {}  # (length, nperseg) -> the bias in use, this process


def measure_white_noise_bias(length: int, nperseg: int) -> float:
    """Mean of the lowest bins over the mean of all bins, for complex white noise of ``length``.

    Measured with a fixed seed on 2000 captures through the same PSD, so the correction follows
    the estimator's real segment count and overlap rather than an approximate formula. The
    draws are the real parts of all 2000 captures, then their imaginary parts; they are taken
    200 captures at a time from two generators (the second run past the real parts first), so
    no more than one chunk of noise and its transforms live at once (~20 MiB at L = 1024; all
    2000 at once raised the daemon's peak resident memory by ~50 MiB). Chunked draws of a
    ``numpy.random.Generator`` are the same numbers as one draw: the value is unchanged."""
    shape, chunks = (_BIAS_CHUNK, length), _BIAS_CAPTURES // _BIAS_CHUNK
    re, im = np.random.default_rng(_BIAS_SEED), np.random.default_rng(_BIAS_SEED)
    for _ in range(chunks):
        im.standard_normal(shape)  # past the real parts: the imaginary parts follow them
    ratios = []
    for _ in range(chunks):
        z = np.empty(shape, dtype=np.complex128)  # without the temporaries of re + 1j * im
        z.real = re.standard_normal(shape)
        z.imag = im.standard_normal(shape)
        p = _psd(z, nperseg)
        ratios.append(_low_mean(p) / p.mean(axis=1))
    return float(np.mean(np.concatenate(ratios)))


def white_noise_bias(length: int, nperseg: int) -> float:
    """The bias in use for captures of ``length`` and segments of ``nperseg``: the one a loaded
    spectral-statistics file shipped (:func:`use_white_noise_bias`), else measured here once
    (:func:`measure_white_noise_bias`) and kept for the process."""
    key = (length, nperseg)
    if key not in _BIASES:
        _BIASES[key] = measure_white_noise_bias(length, nperseg)
    return _BIASES[key]


def use_white_noise_bias(length: int, nperseg: int, bias: float) -> None:
    """Use ``bias`` for captures of ``length`` and segments of ``nperseg`` from now on, in the
    whole process: the value the build measured and calibrated its thresholds with, shipped in
    the statistics file, so the device neither measures it at load (memory and time) nor
    uses a value its own FFT rounded differently. ValueError for values no white noise gives."""
    if not 1 <= nperseg <= length or not 0.0 < bias < 1.0:
        raise ValueError(
            f"white-noise bias {bias!r} for length {length}, segments {nperseg}; expected "
            "0 < bias < 1 and 1 <= segments <= length"
        )
    _BIASES[(length, nperseg)] = float(bias)


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
    noise = _low_mean(p) / white_noise_bias(length, nperseg)
    with np.errstate(divide="ignore", invalid="ignore"):
        # no noise floor at all reads as the ceiling; a NaN floor stays NaN and reads as the floor
        ratio = np.where(noise == 0, np.inf, (total - noise) / noise)
        db = 10.0 * np.log10(np.maximum(ratio, 1e-30))
    db = np.nan_to_num(db, nan=SNR_FLOOR_DB, posinf=SNR_CEILING_DB)
    out: np.ndarray = np.clip(db, SNR_FLOOR_DB, SNR_CEILING_DB)
    return out
