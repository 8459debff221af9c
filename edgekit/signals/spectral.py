"""The input-space ``spectral`` OOD score: how far a capture's spectral shape lies from every
in-distribution class, read from the raw I/Q capture, so it needs nothing from the model and
works the same for every variant (ONNX, TFLite, trees).

Features: the Welch power spectral density of the complex capture (``scipy.signal.welch``,
``SPECTRAL_BINS``-sample Hann segments, two-sided, no detrending so a carrier at DC stays
visible), divided by its total power (the shape, not the level: the SNR and gain vary) and
taken in log. Score: minus the smallest squared Mahalanobis distance to a class mean of those
features, with one Ledoit-Wolf shared precision (the same form as the feature-space
``mahalanobis`` score, ``signals.ood.mahalanobis_score``). Higher means more in-distribution.

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
from edgekit.signals.ood import mahalanobis_score

__all__ = [
    "INPUT_SCORES",
    "SPECTRAL_BINS",
    "SpectralStats",
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
707, never the build's 202): 16/24/32/48/64/128 bins gave OFDM 59/60/58/55/53/51 % unknown at
95 % acceptance, fhss 72/73/74/75/75/74 %, AUROC OFDM 0.80/0.81/0.81/0.79/0.78/0.77; 32 is best
or within a point on both families."""
_FLOOR = 1e-10  # relative power floor before the log: an empty bin must not give -inf


def spectral_applicable(x: np.ndarray) -> bool:
    """True for I/Q captures ``(N, 2, L)`` long enough for one Welch segment."""
    return x.ndim == 3 and x.shape[1] == 2 and x.shape[2] >= SPECTRAL_BINS


def psd_features(x: np.ndarray, bins: int = SPECTRAL_BINS) -> np.ndarray:
    """``(N, bins)`` log of the power-normalised Welch PSD of ``(N, 2, L)`` I/Q captures
    (frequencies in fftshift order, negative to positive)."""
    from scipy.signal import welch

    a = np.asarray(x)
    if a.ndim != 3 or a.shape[1] != 2 or a.shape[2] < bins:
        raise ValueError(
            f"the spectral score needs I/Q captures (N, 2, L >= {bins}), got shape {a.shape}"
        )
    z = a[:, 0, :].astype(np.float64) + 1j * a[:, 1, :].astype(np.float64)
    _, p = welch(z, nperseg=bins, return_onesided=False, detrend=False, axis=-1)
    p = np.fft.fftshift(p, axes=-1)
    total = p.sum(axis=1, keepdims=True)
    shape = p / np.where(total > 0, total, 1.0)
    out: np.ndarray = np.log(shape + _FLOOR)
    return out


@dataclass(frozen=True)
class SpectralStats:
    """Class means ``(C, B)`` and the shared precision ``(B, B)`` of the PSD features."""

    means: np.ndarray
    precision: np.ndarray

    @property
    def bins(self) -> int:
        return int(self.means.shape[1])

    def score(self, x: np.ndarray) -> np.ndarray:
        """The spectral score of raw captures ``(N, 2, L)``: higher is more in-distribution."""
        return mahalanobis_score(psd_features(x, self.bins), self.means, self.precision)

    @property
    def nbytes(self) -> int:
        """Memory the statistics take when loaded (float64)."""
        return int(self.means.nbytes + self.precision.nbytes)


def fit_spectral(
    x: np.ndarray, y: np.ndarray, n_classes: int, bins: int = SPECTRAL_BINS
) -> SpectralStats:
    """Class means and the Ledoit-Wolf shared precision of the class-centred PSD features of
    in-distribution captures ``x`` with label indices ``y``. A class absent from ``x`` gets a
    mean far away (1e6 in every bin), so it attracts no capture."""
    from sklearn.covariance import LedoitWolf

    f = psd_features(x, bins)
    yy = np.asarray(y, dtype=np.int64)
    means = np.full((n_classes, bins), 1e6)
    for c in range(n_classes):
        if np.any(yy == c):
            means[c] = f[yy == c].mean(axis=0)
    precision = LedoitWolf(assume_centered=True).fit(f - means[yy]).precision_
    # rounded to float32 as the bundle stores them, so the build measures the threshold on the
    # very numbers the device will load
    return SpectralStats(
        means.astype(np.float32).astype(np.float64),
        np.asarray(precision, dtype=np.float32).astype(np.float64),
    )


def save_spectral(stats: SpectralStats, path: Path) -> None:
    """Write ``stats`` as an uncompressed ``.npz`` (float32 on disk; deterministic bytes)."""
    buf = io.BytesIO()
    np.savez(
        buf,
        kind=np.array("spectral"),
        means=stats.means.astype(np.float32),
        precision=stats.precision.astype(np.float32),
    )
    path.write_bytes(buf.getvalue())


def load_spectral(path: Path) -> SpectralStats:
    """Read :func:`save_spectral`'s file; BundleError naming the file and key when it is not one."""
    keys = ("kind", "means", "precision")
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in keys if k not in z.files]
            if missing:
                raise BundleError(
                    f"{path}: missing array {missing[0]!r}; expected {', '.join(keys)}"
                )
            kind = str(z["kind"])
            means = np.asarray(z["means"], dtype=np.float64)
            precision = np.asarray(z["precision"], dtype=np.float64)
    except (OSError, ValueError) as e:
        raise BundleError(f"{path}: not a spectral-statistics .npz ({e})") from e
    if kind != "spectral":
        raise BundleError(f"{path}: kind {kind!r}; expected 'spectral'")
    b = means.shape[1] if means.ndim == 2 else -1
    if b < 1 or precision.shape != (b, b):
        raise BundleError(
            f"{path}: shapes means {means.shape}, precision {precision.shape} do not fit "
            "together; expected (C, B) and (B, B)"
        )
    if not (np.all(np.isfinite(means)) and np.all(np.isfinite(precision))):
        raise BundleError(f"{path}: means or precision hold NaN or inf; expected finite numbers")
    return SpectralStats(means, precision)
