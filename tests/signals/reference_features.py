"""The float64 feature implementation as of issue 16, kept verbatim as an independent reference.

The shipped ``edgekit.signals.features`` is a float32 rewrite with shared intermediates; tests and
``bench/bench_trees.py`` compare it against this copy, which must never import the code under test.
"""
from __future__ import annotations

import numpy as np

__all__ = ["FEATURE_NAMES", "extract_features"]

FEATURE_NAMES: tuple[str, ...] = (
    "spec_flatness",  # geometric / arithmetic mean of the PSD: 1 for white noise
    "spec_peak_to_avg_db",  # tallest PSD bin over the mean, dB
    "spec_occupied_bw_frac",  # fraction of bins holding 90% of the power
    "spec_centroid",  # power-weighted mean frequency, cycles/sample
    "spec_spread",  # power-weighted std of frequency, cycles/sample
    "spec_entropy",  # normalised Shannon entropy of the PSD
    "cum_c20",  # |C20| (second-order, conjugate-free)
    "cum_c40",  # |C40|
    "cum_c41",  # |C41|
    "cum_c42",  # C42 (real)
    "cum_c63",  # |C63|
    "env_mean",  # mean of |z|
    "env_std",  # std of |z|
    "env_kurtosis",  # kurtosis of |z|
    "env_sigma_aa",  # std of |centred normalised amplitude|
    "env_papr_db",  # peak-to-average power ratio, dB
    "if_std",  # std of the instantaneous frequency, cycles/sample
    "if_kurtosis",  # kurtosis of the instantaneous frequency
    "if_abs_dev",  # mean |IF - median IF| (robust spread)
    "if_trend_r2",  # R^2 of a straight-line fit to the smoothed IF (chirps -> 1)
    "if_trend_slope",  # |slope| of that line, cycles/sample over the capture
    "phase_resid_std",  # std of unwrapped phase about its best straight line, rad
    "line_z1",  # strongest spectral line of z, fraction of energy
    "line_z2",  # ... of z**2 (BPSK, AM, tone)
    "line_z4",  # ... of z**4 (QPSK, 16QAM)
    "line_z8",  # ... of z**8 (8PSK)
    "line_z4_over_z2",  # log ratio: separates QPSK (z4 line, no z2 line) from BPSK
    "line_z8_over_z4",  # log ratio: separates 8PSK from QPSK
    "acf_lag1",  # |normalised autocorrelation| at lag 1 (bandwidth proxy)
    "acf_lag4",  # ... at lag 4
    "acf_lag16",  # ... at lag 16
)
"""Names of the columns returned by ``extract_features``, in order."""

_CHUNK = 2048  # captures per pass, to bound complex128 temporaries
_SEG = 256  # Welch segment length for the PSD
_EPS = 1e-12


def extract_features(x: np.ndarray) -> np.ndarray:
    """Features ``(N, len(FEATURE_NAMES))`` float32 for captures ``(N, 2, L)`` (I, Q).

    Vectorised over the batch and pure; all values are finite (silent captures give zeros
    rather than NaN).
    """
    arr = np.asarray(x)
    if arr.ndim != 3 or arr.shape[1] != 2:
        raise ValueError(f"extract_features expects captures (N, 2, L), got shape {arr.shape}")
    if arr.shape[2] < 32:
        raise ValueError(f"extract_features needs at least 32 samples, got {arr.shape[2]}")
    out = np.empty((arr.shape[0], len(FEATURE_NAMES)), dtype=np.float32)
    for start in range(0, arr.shape[0], _CHUNK):
        chunk = arr[start : start + _CHUNK].astype(np.float64)
        out[start : start + _CHUNK] = _features(chunk[:, 0] + 1j * chunk[:, 1])
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)


def _features(z: np.ndarray) -> np.ndarray:
    power = np.mean(np.abs(z) ** 2, axis=1, keepdims=True)
    z = z / np.sqrt(np.maximum(power, _EPS))
    cols = [*_spectral(z), *_cumulants(z), *_envelope(z), *_inst_freq(z), *_lines(z), *_acf(z)]
    return np.stack(cols, axis=1)


def _spectral(z: np.ndarray) -> list[np.ndarray]:
    n, length = z.shape
    seg = min(_SEG, length)
    n_seg = length // seg
    win = np.hanning(seg)
    segs = z[:, : n_seg * seg].reshape(n, n_seg, seg) * win
    psd = np.mean(np.abs(np.fft.fftshift(np.fft.fft(segs, axis=2), axes=2)) ** 2, axis=1)
    psd = psd + _EPS
    total = np.sum(psd, axis=1, keepdims=True)
    p = psd / total
    freqs = np.fft.fftshift(np.fft.fftfreq(seg))[None, :]
    flatness = np.exp(np.mean(np.log(psd), axis=1)) / np.mean(psd, axis=1)
    peak_db = 10 * np.log10(np.max(psd, axis=1) / np.mean(psd, axis=1))
    sorted_p = -np.sort(-p, axis=1)
    occupied = (np.sum(np.cumsum(sorted_p, axis=1) < 0.9, axis=1) + 1) / seg
    centroid = np.sum(p * freqs, axis=1)
    spread = np.sqrt(np.sum(p * (freqs - centroid[:, None]) ** 2, axis=1))
    entropy = -np.sum(p * np.log(p), axis=1) / np.log(seg)
    return [flatness, peak_db, occupied, centroid, spread, entropy]


def _cumulants(z: np.ndarray) -> list[np.ndarray]:
    zc = np.conj(z)
    a2 = _abs2(z)
    z2 = z * z
    m20 = np.mean(z2, axis=1)
    m21 = np.mean(a2, axis=1)
    m40 = np.mean(z2 * z2, axis=1)
    m41 = np.mean(z2 * a2, axis=1)
    m42 = np.mean(a2 * a2, axis=1)
    m63 = np.mean(a2 * a2 * a2, axis=1)
    c40 = m40 - 3 * m20**2
    c41 = m41 - 3 * m20 * m21
    c42 = m42 - np.abs(m20) ** 2 - 2 * m21**2
    m41c = np.mean(zc * zc * zc * z, axis=1)  # conj(M41)
    c63 = m63 - 6 * np.real(m20 * np.conj(m41c)) - 9 * m42 * m21 + 18 * np.abs(m20) ** 2 * m21
    c63 = c63 + 12 * m21**3
    return [np.abs(m20), np.abs(c40), np.abs(c41), np.real(c42), np.abs(c63)]


def _kurtosis(v: np.ndarray) -> np.ndarray:
    c = v - np.mean(v, axis=1, keepdims=True)
    c2 = c * c  # explicit products: ``c**4`` goes through the slow generic pow
    var = np.mean(c2, axis=1)
    result: np.ndarray = np.mean(c2 * c2, axis=1) / np.maximum(var * var, _EPS)
    return result


def _envelope(z: np.ndarray) -> list[np.ndarray]:
    a = np.abs(z)
    mean = np.mean(a, axis=1)
    acn = a / np.maximum(mean[:, None], _EPS) - 1.0
    sigma_aa = np.std(np.abs(acn), axis=1)
    a2 = a * a
    papr = 10 * np.log10(
        np.maximum(np.max(a2, axis=1), _EPS) / np.maximum(np.mean(a2, axis=1), _EPS)
    )
    return [mean, np.std(a, axis=1), _kurtosis(a), sigma_aa, papr]


def _inst_freq(z: np.ndarray) -> list[np.ndarray]:
    n, length = z.shape
    prod = z[:, 1:] * np.conj(z[:, :-1])
    inst = np.angle(prod) / (2 * np.pi)
    median = np.median(inst, axis=1, keepdims=True)
    abs_dev = np.mean(np.abs(inst - median), axis=1)

    # Smooth the IF by averaging the lag-1 products in blocks of 16 (phase of the sum, which
    # weights by amplitude and rejects noise far better than averaging angles), then fit a line.
    blk = 16
    n_blk = (length - 1) // blk
    smooth = np.angle(np.sum(prod[:, : n_blk * blk].reshape(n, n_blk, blk), axis=2))
    smooth = smooth / (2 * np.pi)
    t = np.arange(n_blk) - (n_blk - 1) / 2
    slope = smooth @ t / np.sum(t**2)
    fit = np.mean(smooth, axis=1, keepdims=True) + slope[:, None] * t[None, :]
    ss_res = np.sum((smooth - fit) ** 2, axis=1)
    ss_tot = np.sum((smooth - np.mean(smooth, axis=1, keepdims=True)) ** 2, axis=1)
    r2 = 1.0 - ss_res / np.maximum(ss_tot, _EPS)

    phase = np.unwrap(np.angle(z), axis=1)
    tt = np.arange(length) - (length - 1) / 2
    ph_c = phase - np.mean(phase, axis=1, keepdims=True)
    ph_slope = ph_c @ tt / np.sum(tt**2)
    resid = ph_c - ph_slope[:, None] * tt[None, :]
    return [
        np.std(inst, axis=1),
        _kurtosis(inst),
        abs_dev,
        np.clip(r2, 0.0, 1.0),
        np.abs(slope) * n_blk,
        np.std(resid, axis=1),
    ]


def _lines(z: np.ndarray) -> list[np.ndarray]:
    """Energy fraction of the strongest spectral line of z**k, k = 1, 2, 4, 8."""
    n_fft = 2 * z.shape[1]  # zero-padding halves the scalloping loss of off-bin lines
    z2 = z * z
    z4 = z2 * z2
    z8 = z4 * z4
    out = []
    for zk in (z, z2, z4, z8):
        zk_n = zk / np.sqrt(np.maximum(np.mean(np.abs(zk) ** 2, axis=1, keepdims=True), _EPS))
        spec = _abs2(np.fft.fft(zk_n, n_fft, axis=1))
        # x2: a pure off-bin line splits over ~2 bins after padding; this keeps a tone near 1
        out.append(2 * np.max(spec, axis=1) / np.maximum(np.sum(spec, axis=1), _EPS))
    l1, l2, l4, l8 = out
    return [
        l1,
        l2,
        l4,
        l8,
        np.log10((l4 + 1e-6) / (l2 + 1e-6)),
        np.log10((l8 + 1e-6) / (l4 + 1e-6)),
    ]


def _abs2(v: np.ndarray) -> np.ndarray:
    result: np.ndarray = v.real * v.real + v.imag * v.imag
    return result


def _acf(z: np.ndarray) -> list[np.ndarray]:
    zc = z - np.mean(z, axis=1, keepdims=True)
    den = np.maximum(np.sum(np.abs(zc) ** 2, axis=1), _EPS)
    return [np.abs(np.sum(zc[:, lag:] * np.conj(zc[:, :-lag]), axis=1)) / den for lag in (1, 4, 16)]
