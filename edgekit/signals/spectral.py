"""The input-space ``spectral`` OOD score: how far a capture's spectral shape lies from every
in-distribution class, read from the raw I/Q capture, so it needs nothing from the model and
works the same for every variant (ONNX, TFLite, trees).

Features: the Welch power spectral density of the complex capture (``signals.snr.welch_psd``,
equal to ``scipy.signal.welch`` with ``SPECTRAL_BINS``-sample Hann segments, two-sided, no
detrending so a carrier at DC stays visible), divided by its total power (the shape, not the
level: the SNR and gain vary) and taken in log. Score: the capture's SNR band is found from its
own blind SNR estimate (``signals.snr``, cut at ``SNR_EDGES_DB``); within the band, the largest
Gaussian class-conditional log-likelihood over the classes, each class with its own mean and
Ledoit-Wolf covariance: ``max_c -(d_c^T P_c d_c + log det S_c)`` (constants dropped),
standardised by the band's in-distribution median and 5 %-quantile spread, so one threshold
rejects a similar share of in-distribution captures in every band. Higher means more
in-distribution.

Why per class: a tone's or a chirp's spectra vary unlike a QAM's; one shared precision rejected
15 % of tones and 19 % of chirps at 95 % overall acceptance and let more OFDM through. On
development data (fit seed 101, measured on 707 with ``scripts/ood_dev_check.py``'s protocol, never
the build's 202) per-class covariances took OFDM from 76 % to 81 % unknown, fhss from 94 % to
97 %, AUROC 0.906 -> 0.913 and 0.985 -> 0.992, and no class above 12 % false "unknown" (tone 8 %,
chirp 12 %).

Why: the model-based scores called only 11-32 % of the held-out OFDM and fhss captures unknown
(issue 13); OFDM's flat-topped and fhss's hopping spectra differ in shape from every trained
class wherever the signal stands above the noise.

The fitted statistics live in the bundle as one ``.npz`` (:func:`save_spectral` /
:func:`load_spectral`); fitting needs scikit-learn (the build), scoring numpy and scipy only.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgekit.errors import BundleError
from edgekit.signals.snr import SNR_NPERSEG, estimate_snr_db, snr_db_from_psd, welch_psd

__all__ = [
    "INPUT_SCORES",
    "MIN_BAND_ROWS",
    "SNR_EDGES_DB",
    "SPECTRAL_BINS",
    "SpectralStats",
    "features_and_snr",
    "fit_spectral",
    "load_spectral",
    "psd_features",
    "save_spectral",
    "spectral_applicable",
]

INPUT_SCORES = ("spectral",)
"""Scores that read the raw capture (the others read the model's outputs)."""
SPECTRAL_BINS = 32
"""Welch segment length = frequency bins: 32 bins of 31 kHz at 1 MS/s, 63 half-overlapping
segments in a 1024-sample capture. Chosen on development data (fit seed 101, measured on seed
707, never the build's 202), with one set of statistics for all SNRs (before the bands below):
16/24/32/48/64/128 bins gave OFDM 59/60/58/55/53/51 % unknown at
95 % acceptance, fhss 72/73/74/75/75/74 %, AUROC OFDM 0.80/0.81/0.81/0.79/0.78/0.77; 32 is best
or within a point on both families."""
SNR_EDGES_DB = (-5.0, 0.0, 5.0)
"""SNR bands (the capture's own blind estimate): each has its own statistics and standardisation.
One set for all SNRs spent the 5 % rejection budget on high-SNR in-distribution captures, whose
spectra vary most, and let low-SNR OFDM through; on development data (fit seed 101, measured on
707) these bands took OFDM from 58 % to 76 % unknown and fhss from 74 % to 94 % (with 64 bins:
72 % and 93 %, so 32 stays)."""
MIN_BAND_ROWS = 100
_FLOOR = 1e-10  # relative power floor before the log: an empty bin must not give -inf


def spectral_applicable(x: np.ndarray) -> bool:
    """True for I/Q captures ``(N, 2, L)`` long enough for one Welch segment."""
    return x.ndim == 3 and x.shape[1] == 2 and x.shape[2] >= SPECTRAL_BINS


def _welch(x: np.ndarray, bins: int) -> np.ndarray:
    """``(N, bins)`` two-sided Welch PSD of ``(N, 2, L)`` I/Q captures, fftshift order (negative
    to positive frequencies): ``signals.snr``'s settings, so both can share one PSD."""
    a = np.asarray(x)
    if a.ndim != 3 or a.shape[1] != 2 or a.shape[2] < bins:
        raise ValueError(
            f"the spectral score needs I/Q captures (N, 2, L >= {bins}), got shape {a.shape}"
        )
    z = a[:, 0, :].astype(np.float64) + 1j * a[:, 1, :].astype(np.float64)
    out: np.ndarray = np.fft.fftshift(welch_psd(z, bins), axes=-1)
    return out


def _shape(p: np.ndarray) -> np.ndarray:
    total = p.sum(axis=1, keepdims=True)
    out: np.ndarray = np.log(p / np.where(total > 0, total, 1.0) + _FLOOR)
    return out


def psd_features(x: np.ndarray, bins: int = SPECTRAL_BINS) -> np.ndarray:
    """``(N, bins)`` log of the power-normalised Welch PSD of ``(N, 2, L)`` I/Q captures
    (frequencies in fftshift order, negative to positive)."""
    return _shape(_welch(x, bins))


def features_and_snr(x: np.ndarray, bins: int = SPECTRAL_BINS) -> tuple[np.ndarray, np.ndarray]:
    """(:func:`psd_features`, the blind SNR estimate in dB) of ``(N, 2, L)`` captures, from one
    Welch PSD when ``bins`` is the SNR estimator's segment length (the per-capture cost on the
    device is mostly scipy's per-call overhead, so one call instead of two halves it)."""
    p = _welch(x, bins)
    if bins == SNR_NPERSEG:
        snr = snr_db_from_psd(p, np.shape(x)[2], bins)
    else:
        snr = np.atleast_1d(estimate_snr_db(x))
    return _shape(p), snr


def class_loglik(f: np.ndarray, means: np.ndarray, precision: np.ndarray,
                 logdet: np.ndarray) -> np.ndarray:
    """``(N,)`` largest Gaussian log-likelihood (constants dropped) of features ``f`` (N, B) over
    classes with ``means`` (C, B), ``precision`` (C, B, B) and covariance ``logdet`` (C,)."""
    d = f[:, None, :] - means[None, :, :]  # (N, C, B)
    # batched matmul, not einsum: einsum's unoptimised path took ~4x as long for one capture
    q = (np.matmul(d[:, :, None, :], precision[None])[:, :, 0, :] * d).sum(axis=-1)
    out: np.ndarray = -(q + logdet[None, :]).min(axis=1)
    return out


@dataclass(frozen=True)
class SpectralStats:
    """Per SNR band (the blind estimate of ``signals.snr``, cut at ``edges`` dB), per class:
    means ``(K, C, B)``, precision ``(K, C, B, B)`` and log-determinant of the covariance
    ``(K, C)``; and the in-band location ``centre`` (K,) and ``scale`` (K,) the log-likelihoods
    are standardised by."""

    edges: np.ndarray  # (K - 1,) dB, increasing
    means: np.ndarray
    precision: np.ndarray
    logdet: np.ndarray
    centre: np.ndarray
    scale: np.ndarray

    @property
    def bins(self) -> int:
        return int(self.means.shape[2])

    def band(self, snr_db: np.ndarray) -> np.ndarray:
        """Index of the SNR band of each estimate."""
        out: np.ndarray = np.searchsorted(self.edges, snr_db, side="right")
        return out

    def score(self, x: np.ndarray) -> np.ndarray:
        """The spectral score of raw captures ``(N, 2, L)``: higher is more in-distribution."""
        f, snr = features_and_snr(x, self.bins)
        b = self.band(snr)
        out = np.empty(len(f))
        for k in set(b.tolist()):  # one band for the daemon's single capture
            m = b == k
            d = class_loglik(f[m], self.means[k], self.precision[k], self.logdet[k])
            out[m] = (d - self.centre[k]) / self.scale[k]
        return out

    @property
    def nbytes(self) -> int:
        """Memory the statistics take when loaded (float64)."""
        return int(sum(getattr(self, k).nbytes for k in _ARRAYS))


def _f32(a: np.ndarray) -> np.ndarray:
    """Rounded to float32 as the bundle stores it, so the build measures the threshold on the
    very numbers the device will load."""
    return np.asarray(a, dtype=np.float32).astype(np.float64)


_ABSENT = 1e6  # the mean of a class with no captures in a band: far away, attracts nothing


def _fit_band(
    f: np.ndarray, y: np.ndarray, n_classes: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(means (C, B), precision (C, B, B), logdet (C,)): each class's mean and Ledoit-Wolf
    covariance; a class with fewer than two captures gets a far mean and the identity."""
    from sklearn.covariance import LedoitWolf

    bins = f.shape[1]
    means = np.full((n_classes, bins), _ABSENT)
    precision = np.broadcast_to(np.eye(bins), (n_classes, bins, bins)).copy()
    logdet = np.zeros(n_classes)
    for c in range(n_classes):
        g = f[y == c]
        if len(g) < 2:
            continue
        lw = LedoitWolf().fit(g)
        means[c] = g.mean(axis=0)
        # the log-determinant from the float32 precision the bundle stores: -log det P = log det S
        precision[c] = _f32(lw.precision_)
        sign, ld = np.linalg.slogdet(precision[c])
        logdet[c] = -ld if sign > 0 else np.linalg.slogdet(lw.covariance_)[1]
    return _f32(means), precision, _f32(logdet)


def fit_spectral(
    x: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    bins: int = SPECTRAL_BINS,
    edges: tuple[float, ...] = SNR_EDGES_DB,
) -> SpectralStats:
    """Fit on in-distribution captures ``x`` with label indices ``y``: per SNR band and class, the
    mean and Ledoit-Wolf covariance of the PSD features, then the median and the median minus the
    5 % quantile of the band's own log-likelihoods (standardising them, so the threshold rejects a
    similar share in every band). A band with fewer than ``MIN_BAND_ROWS``
    captures uses the statistics of all of them."""
    f, snr = features_and_snr(x, bins)
    yy = np.asarray(y, dtype=np.int64)
    e = np.asarray(edges, dtype=np.float64)
    band = np.searchsorted(e, snr, side="right")
    pooled = _fit_band(f, yy, n_classes)
    fits, centre, scale = [], [], []
    for k in range(len(e) + 1):
        m = band == k
        fit = _fit_band(f[m], yy[m], n_classes) if m.sum() >= MIN_BAND_ROWS else pooled
        d = class_loglik(f[m] if m.any() else f, *fit)
        lo, med = np.quantile(d, [0.05, 0.5])
        fits.append(fit)
        centre.append(med)
        scale.append(max(med - lo, 1e-9))
    means, precision, logdet = (np.stack(a) for a in zip(*fits, strict=True))
    return SpectralStats(e, means, precision, logdet, _f32(np.array(centre)),
                         _f32(np.array(scale)))


def save_spectral(stats: SpectralStats, path: Path) -> None:
    """Write ``stats`` as an uncompressed ``.npz`` (float32 on disk; deterministic bytes)."""
    buf = io.BytesIO()
    np.savez(
        buf,
        kind=np.array("spectral"),
        **{k: getattr(stats, k).astype(np.float32) for k in _ARRAYS},
    )
    path.write_bytes(buf.getvalue())


_ARRAYS = ("edges", "means", "precision", "logdet", "centre", "scale")


def load_spectral(path: Path) -> SpectralStats:
    """Read :func:`save_spectral`'s file; BundleError naming the file and key when it is not one."""
    keys = ("kind", *_ARRAYS)
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in keys if k not in z.files]
            if missing == ["logdet"]:
                raise BundleError(
                    f"{path}: the shared-precision spectral statistics of an earlier edgekit "
                    "(no array 'logdet'); expected per-class covariances: rebuild the bundle"
                )
            if missing:
                raise BundleError(
                    f"{path}: missing array {missing[0]!r}; expected {', '.join(keys)}"
                )
            kind = str(z["kind"])
            a = {k: np.asarray(z[k], dtype=np.float64) for k in _ARRAYS}
    except (OSError, ValueError) as e:
        raise BundleError(f"{path}: not a spectral-statistics .npz ({e})") from e
    if kind != "spectral":
        raise BundleError(f"{path}: kind {kind!r}; expected 'spectral'")
    m, p = a["means"], a["precision"]
    k = len(a["edges"]) + 1 if a["edges"].ndim == 1 else -1
    c, b = m.shape[1:] if m.ndim == 3 else (-1, -1)
    if k < 1 or b < 1 or m.shape[0] != k or p.shape != (k, c, b, b) \
            or a["logdet"].shape != (k, c) or a["centre"].shape != (k,) or a["scale"].shape != (k,):
        raise BundleError(
            f"{path}: shapes " + ", ".join(f"{n} {a[n].shape}" for n in _ARRAYS)
            + " do not fit together; expected (K-1,), (K, C, B), (K, C, B, B), (K, C), (K,), (K,)"
        )
    if not all(np.all(np.isfinite(v)) for v in a.values()):
        raise BundleError(f"{path}: arrays hold NaN or inf; expected finite numbers")
    if np.any(a["scale"] <= 0) or np.any(np.diff(a["edges"]) <= 0):
        raise BundleError(f"{path}: scale must be > 0 and edges increasing")
    return SpectralStats(**a)
