"""The input-space ``spectral`` OOD score: how far a capture's spectral shape lies from every
in-distribution class, read from the raw I/Q capture, so it needs nothing from the model and
works the same for every variant (ONNX, TFLite, trees).

Features: the Welch power spectral density of the complex capture (``signals.snr.welch_psd``,
equal to ``scipy.signal.welch`` with ``SPECTRAL_BINS``-sample Hann segments, two-sided, no
detrending so a carrier at DC stays visible), divided by its total power (the shape, not the
level: the SNR and gain vary) and taken in log, followed by one cyclic-prefix statistic
(``signals.cyclic.cp_evidence``: how strongly the capture repeats itself at the lag and period
of a common OFDM numerology). Score: the capture's SNR band is found from its
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

Why the cyclic-prefix column and the finer low-SNR bands: below 0 dB OFDM's spectrum is the
noise floor plus a flat plateau a fraction of a dB high, and its blind SNR estimate reads
several dB low, so it was taken for the ``noise`` class. On development data (fit on
``generate(12000, seed=101)``, measured on seeds 707 and 909 with ``scripts/ood_explore.py``):
OFDM 81 / 83 % -> 88 / 88 % unknown, fhss 95 / 96 % -> 96 / 96 %. Tried and not kept (same
script): 16-64 bins, a DCT-smoothed PSD, amplitude moments and the 31 engineered features of
``signals.features``, autocorrelation magnitudes at lags 32-128, the SNR estimate as a feature,
class priors per band, Gaussian mixtures per class: none gained more than noise. Nor did other
density models and decisions on the same features (``scripts/ood_density.py``, seeds 707 and
909: k-means components per class, kNN distance, likelihood ratios, SNR-smooth class means,
per-band quantiles, other blind SNR estimates for the bands): none gained 2 points of OFDM on
both seeds (README).

Why: the model-based scores called only 11-32 % of the held-out OFDM and fhss captures unknown
(issue 13); OFDM's flat-topped and fhss's hopping spectra differ in shape from every trained
class wherever the signal stands above the noise.

The fitted statistics live in the bundle as one ``.npz`` (:func:`save_spectral` /
:func:`load_spectral`); fitting needs scikit-learn (the build), scoring numpy and scipy only.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgekit.errors import BundleError
from edgekit.signals.cyclic import CP_BANK, cp_evidence
from edgekit.signals.snr import (
    SNR_NPERSEG,
    estimate_snr_db,
    snr_db_from_psd,
    use_white_noise_bias,
    welch_psd,
    white_noise_bias,
)

__all__ = [
    "CP_BANK",
    "INPUT_SCORES",
    "MIN_BAND_ROWS",
    "MIN_CLASS_ROWS",
    "SNR_EDGES_DB",
    "SPECTRAL_BINS",
    "SPECTRAL_FILE_VERSION",
    "SpectralStats",
    "cp_evidence",
    "features_and_snr",
    "fit_features",
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
SNR_EDGES_DB = (-20.0, -12.0, -8.0, -5.0, 0.0, 5.0)
"""SNR bands (the capture's own blind estimate): each has its own statistics and standardisation.
One set for all SNRs spent the 5 % rejection budget on high-SNR in-distribution captures, whose
spectra vary most, and let low-SNR OFDM through; on development data (fit seed 101, measured on
707) bands cut at -5/0/5 dB took OFDM from 58 % to 76 % unknown and fhss from 74 % to 94 %.
The cuts at -20, -12 and -8 dB split the lowest band: the blind estimate reads a wideband signal
such as OFDM several dB low (its quietest quarter of bins holds signal too), so low-SNR OFDM
landed among the pure-noise captures (estimate at the -30 dB floor) and was taken for noise; on
its own band the noise class is rare. With 12,000 fit captures: OFDM 81 -> 85 %, fhss 95 -> 97 %
(``scripts/ood_explore.py``, measured on seed 707)."""
MIN_BAND_ROWS = 100
MIN_CLASS_ROWS = 5
"""Captures a class needs in an SNR band for a Gaussian of its own there; fewer and it is absent
from the band. With two rows Ledoit-Wolf returns a nearly singular covariance (log-determinant
about -1300 in 32 dimensions, fit seed 101: bpsk below -20 dB, tone at -20..-12 dB), whose
log-likelihood outbids every other class for any capture; only the float32 rounding of its
precision (a log-determinant of the wrong sign) hid it. Measured with ``scripts/ood_density.py``
(development seeds 707 / 909): 5 rows reproduce the build's figures within 0.2 points (OFDM
0.850 / 0.857, fhss 0.963 / 0.962), 10 within 0.7, 33 lose 1-2 points of fhss."""
_FLOOR = 1e-10  # relative power floor before the log: an empty bin must not give -inf


def spectral_applicable(x: np.ndarray) -> bool:
    """True for I/Q captures ``(N, 2, L)`` long enough for one Welch segment."""
    return x.ndim == 3 and x.shape[1] == 2 and x.shape[2] >= SPECTRAL_BINS


def _complex(x: np.ndarray, bins: int) -> np.ndarray:
    """``(N, L)`` complex128 of ``(N, 2, L)`` I/Q captures; ValueError for any other shape."""
    a = np.asarray(x)
    if a.ndim != 3 or a.shape[1] != 2 or a.shape[2] < bins:
        raise ValueError(
            f"the spectral score needs I/Q captures (N, 2, L >= {bins}), got shape {a.shape}"
        )
    z: np.ndarray = a[:, 0, :].astype(np.float64) + 1j * a[:, 1, :].astype(np.float64)
    return z


def _welch(z: np.ndarray, bins: int) -> np.ndarray:
    """``(N, bins)`` two-sided Welch PSD of complex captures ``(N, L)``, fftshift order (negative
    to positive frequencies): ``signals.snr``'s settings, so both can share one PSD."""
    out: np.ndarray = np.fft.fftshift(welch_psd(z, bins), axes=-1)
    return out


def _shape(p: np.ndarray) -> np.ndarray:
    total = p.sum(axis=1, keepdims=True)
    out: np.ndarray = np.log(p / np.where(total > 0, total, 1.0) + _FLOOR)
    return out


def psd_features(x: np.ndarray, bins: int = SPECTRAL_BINS) -> np.ndarray:
    """``(N, bins)`` log of the power-normalised Welch PSD of ``(N, 2, L)`` I/Q captures
    (frequencies in fftshift order, negative to positive)."""
    return _shape(_welch(_complex(x, bins), bins))


_FIT_CHUNK = 2048  # captures per feature pass when fitting
def features_and_snr(
    x: np.ndarray, bins: int = SPECTRAL_BINS, cp_bank: tuple[tuple[int, int], ...] = ()
) -> tuple[np.ndarray, np.ndarray]:
    """(the score's feature rows, the blind SNR estimate in dB) of ``(N, 2, L)`` captures: the
    rows are :func:`psd_features` followed, with a non-empty ``cp_bank``, by
    :func:`cp_evidence`. One Welch PSD when ``bins`` is the SNR estimator's segment length (the
    per-capture cost on the device is mostly numpy's per-call overhead, so one call instead of
    two halves it)."""
    z = _complex(x, bins)  # shared by the PSD and the prefix statistic
    p = _welch(z, bins)
    if bins == SNR_NPERSEG:
        snr = snr_db_from_psd(p, np.shape(x)[2], bins)
    else:
        snr = np.atleast_1d(estimate_snr_db(x))
    f = _shape(p)
    if cp_bank:
        f = np.concatenate([f, cp_evidence(z, cp_bank)[:, None]], axis=1)
    return f, snr


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
    ``(K, C)``; the in-band location ``centre`` (K,) and ``scale`` (K,) the log-likelihoods
    are standardised by; and the cyclic-prefix bank ``cp_bank`` (M, 2) whose evidence is the
    last feature (none when M = 0: the feature rows are the PSD alone)."""

    edges: np.ndarray  # (K - 1,) dB, increasing
    means: np.ndarray
    precision: np.ndarray
    logdet: np.ndarray
    centre: np.ndarray
    scale: np.ndarray
    cp_bank: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))

    @property
    def bank(self) -> tuple[tuple[int, int], ...]:
        """``cp_bank`` as (FFT length, prefix length) pairs of ints."""
        return tuple((int(n), int(c)) for n, c in np.asarray(self.cp_bank).reshape(-1, 2))

    @property
    def bins(self) -> int:
        """PSD bins: the feature width less the cyclic-prefix column."""
        return int(self.means.shape[2]) - (1 if self.bank else 0)

    def band(self, snr_db: np.ndarray) -> np.ndarray:
        """Index of the SNR band of each estimate."""
        out: np.ndarray = np.searchsorted(self.edges, snr_db, side="right")
        return out

    def score(self, x: np.ndarray) -> np.ndarray:
        """The spectral score of raw captures ``(N, 2, L)``: higher is more in-distribution."""
        return self.score_and_snr(x)[0]

    def score_and_snr(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The score and the blind SNR estimate (dB) it was banded by, from one PSD: the device's
        per-band threshold (``signals.bands``) reads the same estimate without a second one."""
        f, snr = features_and_snr(x, self.bins, self.bank)
        return self.score_features(f, snr), snr

    def score_features(self, f: np.ndarray, snr: np.ndarray) -> np.ndarray:
        """The score of feature rows ``f`` (N, B) whose captures have blind SNR ``snr`` (N,)."""
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
    covariance; a class with fewer than ``MIN_CLASS_ROWS`` captures gets a far mean and the
    identity (absent: it attracts nothing)."""
    from sklearn.covariance import LedoitWolf

    bins = f.shape[1]
    means = np.full((n_classes, bins), _ABSENT)
    precision = np.broadcast_to(np.eye(bins), (n_classes, bins, bins)).copy()
    logdet = np.zeros(n_classes)
    for c in range(n_classes):
        g = f[y == c]
        if len(g) < MIN_CLASS_ROWS:
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
    cp_bank: tuple[tuple[int, int], ...] = (),
) -> SpectralStats:
    """Fit on in-distribution captures ``x`` with label indices ``y``: per SNR band and class, the
    mean and Ledoit-Wolf covariance of the PSD features, then the median and the median minus the
    5 % quantile of the band's own log-likelihoods (standardising them, so the threshold rejects a
    similar share in every band). A band with fewer than ``MIN_BAND_ROWS``
    captures uses the statistics of all of them."""
    # in chunks: the Welch segments of 12,000 captures at once would take ~1 GiB
    parts = [features_and_snr(x[i : i + _FIT_CHUNK], bins, cp_bank)
             for i in range(0, len(x), _FIT_CHUNK)]
    f = np.concatenate([p[0] for p in parts])
    snr = np.concatenate([p[1] for p in parts])
    return fit_features(f, snr, y, n_classes, edges, cp_bank)


def fit_features(
    f: np.ndarray, snr: np.ndarray, y: np.ndarray, n_classes: int,
    edges: tuple[float, ...] = SNR_EDGES_DB, cp_bank: tuple[tuple[int, int], ...] = (),
) -> SpectralStats:
    """:func:`fit_spectral` on feature rows ``f`` (N, D) already computed, with each capture's
    blind SNR estimate ``snr`` (N,); ``cp_bank`` is recorded (the rows must end in its
    evidence when it is not empty)."""
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
                         _f32(np.array(scale)), np.array(cp_bank, dtype=np.float64).reshape(-1, 2))


SPECTRAL_FILE_VERSION = 2
"""1: no ``version`` array (no shipped bias); 2: ``version`` and an optional ``snr_bias``."""


def save_spectral(stats: SpectralStats, path: Path, *, capture_length: int | None = None) -> None:
    """Write ``stats`` as an uncompressed ``.npz`` (float32 on disk; deterministic bytes).

    With ``capture_length`` the file (version 2) also carries, in float64, the blind SNR
    estimator's white-noise bias for captures of that length (``snr_bias``: length, segment
    length, bias): the value this process used, so the one the band thresholds were
    calibrated with; the device then uses it instead of measuring it at load."""
    arrays = {"kind": np.array("spectral"),
              **{k: getattr(stats, k).astype(np.float32) for k in _ARRAYS},
              "version": np.array(SPECTRAL_FILE_VERSION)}
    if capture_length is not None:
        nperseg = min(SNR_NPERSEG, capture_length)
        bias = white_noise_bias(capture_length, nperseg)
        arrays["snr_bias"] = np.array([capture_length, nperseg, bias], dtype=np.float64)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    path.write_bytes(buf.getvalue())


_ARRAYS = ("edges", "means", "precision", "logdet", "centre", "scale", "cp_bank")


def load_spectral(path: Path) -> SpectralStats:
    """Read :func:`save_spectral`'s file; BundleError naming the file and key when it is not one."""
    keys = ("kind", *_ARRAYS)
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in keys if k not in z.files]
            if set(missing) == {"logdet", "cp_bank"}:
                raise BundleError(
                    f"{path}: the shared-precision spectral statistics of an earlier edgekit "
                    "(no array 'logdet'); expected per-class covariances: rebuild the bundle"
                )
            if missing == ["cp_bank"]:
                raise BundleError(
                    f"{path}: the PSD-only spectral statistics of an earlier edgekit (no array "
                    "'cp_bank'); expected the cyclic-prefix feature and its bank: rebuild the bundle"
                )
            if missing:
                raise BundleError(
                    f"{path}: missing array {missing[0]!r}; expected {', '.join(keys)}"
                )
            kind = str(z["kind"])
            a = {k: np.asarray(z[k], dtype=np.float64) for k in _ARRAYS}
            version = int(z["version"]) if "version" in z.files else 1
            bias = np.asarray(z["snr_bias"], dtype=np.float64) if "snr_bias" in z.files else None
    except (OSError, ValueError, TypeError) as e:  # TypeError: a version that is not one number
        raise BundleError(f"{path}: not a spectral-statistics .npz ({e})") from e
    if kind != "spectral":
        raise BundleError(f"{path}: kind {kind!r}; expected 'spectral'")
    if not 1 <= version <= SPECTRAL_FILE_VERSION:
        raise BundleError(
            f"{path}: version {version}; this edgekit reads versions 1 to "
            f"{SPECTRAL_FILE_VERSION}: a newer edgekit built it"
        )
    m, p, bank = a["means"], a["precision"], a["cp_bank"]
    k = len(a["edges"]) + 1 if a["edges"].ndim == 1 else -1
    c, b = m.shape[1:] if m.ndim == 3 else (-1, -1)
    if k < 1 or b < 1 or m.shape[0] != k or p.shape != (k, c, b, b) \
            or a["logdet"].shape != (k, c) or a["centre"].shape != (k,) or a["scale"].shape != (k,) \
            or bank.ndim != 2 or bank.shape[1] != 2 or b < 1 + (len(bank) > 0):
        raise BundleError(
            f"{path}: shapes " + ", ".join(f"{n} {a[n].shape}" for n in _ARRAYS)
            + " do not fit together; expected (K-1,), (K, C, D), (K, C, D, D), (K, C), (K,), (K,),"
            " (M, 2) with D = PSD bins + (1 if M else 0)"
        )
    if len(bank) and (np.any(bank != np.round(bank)) or np.any(bank[:, 1] < 1)
                      or np.any(bank[:, 1] >= bank[:, 0])):
        raise BundleError(
            f"{path}: cp_bank {bank.tolist()}; expected whole (FFT length, prefix length) pairs "
            "with 1 <= prefix < FFT length"
        )
    if not all(np.all(np.isfinite(v)) for v in a.values()):
        raise BundleError(f"{path}: arrays hold NaN or inf; expected finite numbers")
    if np.any(a["scale"] <= 0) or np.any(np.diff(a["edges"]) <= 0):
        raise BundleError(f"{path}: scale must be > 0 and edges increasing")
    if version > 1 and bias is not None:
        _use_bias(path, bias)
    return SpectralStats(**a)


def _use_bias(path: Path, row: np.ndarray) -> None:
    """Check a file's ``snr_bias`` row and make it the process's bias for its capture length."""
    ok = row.shape == (3,) and bool(np.all(np.isfinite(row)))
    length, nperseg, bias = (row.tolist() if ok else (0, 0, 0.0))
    if not ok or length < 1 or length != round(length) or nperseg != min(SNR_NPERSEG, length) \
            or not 0.0 < bias < 1.0:
        raise BundleError(
            f"{path}: snr_bias {row.tolist()}; expected [capture length, min({SNR_NPERSEG}, "
            "length), bias] with a whole length and 0 < bias < 1"
        )
    use_white_noise_bias(int(length), int(nperseg), bias)
