"""Hand-crafted modulation-classification features for gradient-boosted trees.

Each capture is normalised to unit power first, so every feature is gain-invariant. The set
follows the automatic-modulation-classification literature: spectral shape, higher-order
cumulants (Swami & Sadler), envelope and instantaneous-frequency statistics (Nandi & Azzouz),
and the strength of the spectral line that appears in z**k when a k-ary PSK is raised to its
order (the classic carrier-recovery trick, which survives a frequency offset where plain
cumulants of z**2 and z**4 do not).

The computation is a small graph: named *intermediates* (the normalised capture, z**2, z**4,
z**8, the envelope, the lag-1 product, one batched FFT for every spectral line, ...) computed
once and shared, and one short function per feature on top. Everything runs in float32 (complex64
FFTs), vectorised over the batch; only the few reductions that need it (the unwrapped phase) are
accumulated in float64. The graph is also what :mod:`edgekit.signals.feature_cost` times, so the
cost of each feature, its own work plus its share of the intermediates it uses, can be reported.
The same code runs in training, in the build and on the device (preprocessing op ``features``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np
import scipy.fft

__all__ = ["FEATURES", "FEATURE_NAMES", "INTERMEDIATES", "Step", "compute_graph", "extract_features"]

_F32 = np.float32
_SEG = 256  # Welch segment length for the PSD
_BLK = 16  # block length for the smoothed instantaneous frequency
_CHUNK = 1024  # captures per pass, to bound the temporaries (the line FFT is 4 x 2L per capture)
_EPS = _F32(1e-12)
_TWO_PI = _F32(2 * np.pi)

Cache = dict[str, np.ndarray]


@dataclass(frozen=True)
class Step:
    """One node of the feature graph: ``fn(cache) -> array``, reading only ``deps`` from the cache."""

    name: str
    deps: tuple[str, ...]
    fn: Callable[[Cache], np.ndarray]


# Reductions go straight to the ufunc: ``np.mean``/``np.sum`` add microseconds of Python
# dispatch per call, which at one capture of 1024 samples is most of their cost.
def _sum(v: np.ndarray) -> np.ndarray:
    result: np.ndarray = np.add.reduce(v, axis=-1)
    return result


def _mean(v: np.ndarray) -> np.ndarray:
    result: np.ndarray = np.add.reduce(v, axis=-1) * (1.0 / v.shape[-1])
    return result


def _max(v: np.ndarray) -> np.ndarray:
    result: np.ndarray = np.maximum.reduce(v, axis=-1)
    return result


def _std(v: np.ndarray) -> np.ndarray:
    d = v - _mean(v)[..., None]
    result: np.ndarray = np.sqrt(_mean(d * d))
    return result


@cache
def _hann(seg: int) -> np.ndarray:
    win: np.ndarray = np.hanning(seg).astype(_F32)
    win.setflags(write=False)  # cached: shared between calls
    return win


@cache
def _fftfreq(n: int) -> np.ndarray:
    """Bin frequencies in cycles/sample, unshifted like the PSD, as a (1, n) row."""
    freqs: np.ndarray = np.fft.fftfreq(n).astype(_F32)[None, :]
    freqs.setflags(write=False)  # shared between calls
    return freqs


@cache
def _ramp(n: int) -> tuple[np.ndarray, float]:
    """Centred time axis of ``n`` points and its sum of squares, for straight-line fits."""
    t = np.arange(n) - (n - 1) / 2
    t.setflags(write=False)  # cached: shared between calls
    return t, float(t @ t)


# ---- intermediates (each computed once per batch) ---------------------------------------------


def _i_z(c: Cache) -> np.ndarray:
    """Complex64 capture scaled to unit mean power (silence stays zero)."""
    x = c["x"]
    z = np.empty(x.shape[::2], dtype=np.complex64)
    z.real, z.imag = x[:, 0], x[:, 1]
    power = _mean(x[:, 0] * x[:, 0] + x[:, 1] * x[:, 1])[:, None]
    z *= 1 / np.sqrt(np.maximum(power, _EPS))
    return z


def _i_psd(c: Cache) -> np.ndarray:
    """Welch PSD (Hann, ``_SEG`` bins, unshifted order) + eps; the features need no fftshift."""
    z = c["z"]
    n, length = z.shape
    seg = min(_SEG, length)
    n_seg = length // seg
    segs = z[:, : n_seg * seg].reshape(n, n_seg, seg) * _hann(seg)
    mag = np.abs(scipy.fft.fft(segs, axis=2, overwrite_x=True))
    psd: np.ndarray = np.add.reduce(mag * mag, axis=1) * (1.0 / n_seg) + _EPS
    return psd


def _i_psd_p(c: Cache) -> np.ndarray:
    psd = c["psd"]
    p: np.ndarray = psd / _sum(psd)[:, None]
    return p


def _i_psd_mean(c: Cache) -> np.ndarray:
    return _mean(c["psd"])


def _i_freqs(c: Cache) -> np.ndarray:
    return _fftfreq(c["psd"].shape[1])


def _i_centroid(c: Cache) -> np.ndarray:
    return _sum(c["psd_p"] * c["freqs"])


def _i_a2(c: Cache) -> np.ndarray:
    a = c["env"]
    result: np.ndarray = a * a
    return result


def _i_a4(c: Cache) -> np.ndarray:
    a2 = c["a2"]
    result: np.ndarray = a2 * a2
    return result


def _i_z2(c: Cache) -> np.ndarray:
    z = c["z"]
    result: np.ndarray = z * z
    return result


def _i_z4(c: Cache) -> np.ndarray:
    z2 = c["z2"]
    result: np.ndarray = z2 * z2
    return result


def _i_z8(c: Cache) -> np.ndarray:
    z4 = c["z4"]
    result: np.ndarray = z4 * z4
    return result


def _i_m20(c: Cache) -> np.ndarray:
    return _mean(c["z2"]).astype(np.complex128)


def _i_m21(c: Cache) -> np.ndarray:
    return _mean(c["a2"]).astype(np.float64)


def _i_m41(c: Cache) -> np.ndarray:
    return _mean(c["z2"] * c["a2"]).astype(np.complex128)


def _i_m42(c: Cache) -> np.ndarray:
    return _mean(c["a4"]).astype(np.float64)


def _i_env(c: Cache) -> np.ndarray:
    """The envelope |z| (hypot: faster than re*re + im*im on complex views, and as exact)."""
    result: np.ndarray = np.abs(c["z"])
    return result


def _i_env_mean(c: Cache) -> np.ndarray:
    return _mean(c["env"])


def _i_env_c2(c: Cache) -> np.ndarray:
    """Squared deviation of the envelope from its mean (std and kurtosis share it)."""
    d = c["env"] - c["env_mean"][:, None]
    result: np.ndarray = d * d
    return result


def _i_env_var(c: Cache) -> np.ndarray:
    return _mean(c["env_c2"])


def _i_prod(c: Cache) -> np.ndarray:
    """Lag-1 product z[n] conj(z[n-1]): its phase is the instantaneous frequency."""
    z = c["z"]
    result: np.ndarray = z[:, 1:] * np.conj(z[:, :-1])
    return result


def _i_inst(c: Cache) -> np.ndarray:
    result: np.ndarray = np.angle(c["prod"]) / _TWO_PI
    return result


def _i_inst_c2(c: Cache) -> np.ndarray:
    inst = c["inst"]
    d = inst - _mean(inst)[:, None]
    result: np.ndarray = d * d
    return result


def _i_inst_var(c: Cache) -> np.ndarray:
    return _mean(c["inst_c2"])


def _i_if_fit(c: Cache) -> np.ndarray:
    """(R^2, |slope| over the capture) of a line through the block-smoothed IF.

    The IF is smoothed by summing the lag-1 products in blocks of ``_BLK`` (phase of the sum,
    which weights by amplitude and rejects noise far better than averaging angles).
    """
    prod = c["prod"]
    n, m = prod.shape
    n_blk = m // _BLK
    blocks = _sum(prod[:, : n_blk * _BLK].reshape(n, n_blk, _BLK))
    smooth = np.arctan2(blocks.imag, blocks.real).astype(np.float64) * (1 / (2 * np.pi))
    t, stt = _ramp(n_blk)
    centred = smooth - _mean(smooth)[:, None]
    slope = centred @ t / stt
    # least squares with a centred ramp: ss_res = ss_tot - slope**2 * stt, so R^2 needs no residual
    ss_tot = np.einsum("ij,ij->i", centred, centred)
    out = np.empty((2, n))
    ss_res = np.maximum(ss_tot - slope * slope * stt, 0.0)
    out[0] = np.maximum(1.0 - ss_res / np.maximum(ss_tot, 1e-12), 0.0)  # silence: 1, as before
    out[1] = np.abs(slope) * n_blk
    return out


def _i_lines(c: Cache) -> np.ndarray:
    """Strongest spectral line of z**k, k = 1, 2, 4, 8, as a fraction of energy: shape (4, N).

    One batched FFT, zero-padded to 2L (halves the scalloping loss of off-bin lines). The ratio
    is scale-free, so z**k needs no normalisation; by Parseval the spectrum's total is
    ``2L * sum |z|**(2k)``, from the envelope in float64 (|z|**16 can leave float32's range),
    cheaper than summing 2L bins. The factor 2 keeps a pure off-bin tone, split over ~2 bins
    after padding, near 1.
    """
    z = c["z"]
    n, length = z.shape
    stack = np.zeros((4, n, 2 * length), dtype=np.complex64)
    stack[0, :, :length], stack[1, :, :length] = z, c["z2"]
    stack[2, :, :length], stack[3, :, :length] = c["z4"], c["z8"]
    peak = _max(np.abs(scipy.fft.fft(stack, axis=2, overwrite_x=True))).astype(np.float64)
    pw = np.empty((4, n, length))
    pw[0] = c["a2"]
    np.multiply(pw[0], pw[0], out=pw[1])
    np.multiply(pw[1], pw[1], out=pw[2])
    np.multiply(pw[2], pw[2], out=pw[3])
    # a silent capture has peak 0 and energy 0: 0 / tiny is the 0 the reference gives
    energy = np.maximum(_sum(pw) * (2 * length), 1e-300)
    out: np.ndarray = 2 * peak * peak / energy
    return out


def _i_zc(c: Cache) -> np.ndarray:
    z = c["z"]
    result: np.ndarray = z - _mean(z)[:, None]
    return result


def _i_zc_energy(c: Cache) -> np.ndarray:
    a = np.abs(c["zc"])
    result: np.ndarray = np.maximum(_sum(a * a), _EPS)
    return result


INTERMEDIATES: tuple[Step, ...] = (
    Step("z", ("x",), _i_z),
    Step("psd", ("z",), _i_psd),
    Step("psd_p", ("psd",), _i_psd_p),
    Step("psd_mean", ("psd",), _i_psd_mean),
    Step("freqs", ("psd",), _i_freqs),
    Step("centroid", ("psd_p", "freqs"), _i_centroid),
    Step("env", ("z",), _i_env),
    Step("a2", ("env",), _i_a2),
    Step("a4", ("a2",), _i_a4),
    Step("z2", ("z",), _i_z2),
    Step("z4", ("z2",), _i_z4),
    Step("z8", ("z4",), _i_z8),
    Step("m20", ("z2",), _i_m20),
    Step("m21", ("a2",), _i_m21),
    Step("m41", ("z2", "a2"), _i_m41),
    Step("m42", ("a4",), _i_m42),
    Step("env_mean", ("env",), _i_env_mean),
    Step("env_c2", ("env", "env_mean"), _i_env_c2),
    Step("env_var", ("env_c2",), _i_env_var),
    Step("prod", ("z",), _i_prod),
    Step("inst", ("prod",), _i_inst),
    Step("inst_c2", ("inst",), _i_inst_c2),
    Step("inst_var", ("inst_c2",), _i_inst_var),
    Step("if_fit", ("prod",), _i_if_fit),
    Step("lines", ("z", "z2", "z4", "z8", "a2"), _i_lines),
    Step("zc", ("z",), _i_zc),
    Step("zc_energy", ("zc",), _i_zc_energy),
)
"""Shared intermediate results, in dependency order (``x`` is the input batch (N, 2, L))."""


# ---- features (one short function each) -------------------------------------------------------


def _spec_occupied(c: Cache) -> np.ndarray:
    p = c["psd_p"]
    sorted_p = np.sort(p, axis=1)[:, ::-1]
    result: np.ndarray = (np.count_nonzero(np.cumsum(sorted_p, axis=1) < 0.9, axis=1) + 1) / p.shape[1]
    return result


def _spec_spread(c: Cache) -> np.ndarray:
    d = c["freqs"] - c["centroid"][:, None]
    result: np.ndarray = np.sqrt(_sum(c["psd_p"] * d * d))
    return result


def _spec_entropy(c: Cache) -> np.ndarray:
    p = c["psd_p"]
    result: np.ndarray = -_sum(p * np.log(p)) / np.log(p.shape[1])
    return result


def _cum_c40(c: Cache) -> np.ndarray:
    return np.abs(_mean(c["z4"]).astype(np.complex128) - 3 * c["m20"] ** 2)


def _cum_c63(c: Cache) -> np.ndarray:
    # conj(z)^3 z = conj(z^2) |z|^2, whose mean is conj(M41): the reference's M41c term is M41.
    m63 = _mean(c["a4"] * c["a2"]).astype(np.float64)
    m20, m21, m42 = c["m20"], c["m21"], c["m42"]
    c63 = m63 - 6 * np.real(m20 * c["m41"]) - 9 * m42 * m21 + 18 * np.abs(m20) ** 2 * m21
    return np.abs(c63 + 12 * m21**3)


def _env_sigma_aa(c: Cache) -> np.ndarray:
    acn = c["env"] / np.maximum(c["env_mean"][:, None], _EPS) - _F32(1.0)
    return _std(np.abs(acn))


def _env_papr(c: Cache) -> np.ndarray:
    peak = np.maximum(_max(c["a2"]), _EPS)
    return 10 * np.log10(peak / np.maximum(c["m21"], 1e-12))


def _kurt(c2: np.ndarray, var: np.ndarray) -> np.ndarray:
    result: np.ndarray = _mean(c2 * c2) / np.maximum(var * var, _EPS)
    return result


def _if_abs_dev(c: Cache) -> np.ndarray:
    inst = c["inst"]
    m = inst.shape[1]
    k = m // 2
    # np.median is np.partition plus much dispatch; partition directly (odd/even like median).
    if m % 2:
        median = np.partition(inst, k, axis=1)[:, k]
    else:
        part = np.partition(inst, (k - 1, k), axis=1)
        median = (part[:, k - 1] + part[:, k]) * _F32(0.5)
    return _mean(np.abs(inst - median[:, None]))


def _phase_resid_std(c: Cache) -> np.ndarray:
    """Std of the unwrapped phase about its best line.

    The unwrapped phase is the running sum of the wrapped lag-1 phase steps (what ``np.unwrap``
    computes), so it reuses the IF instead of a second ``angle`` and an unwrap; the sum runs in
    float64 because it grows to thousands of radians under a frequency offset.
    """
    inst = c["inst"]
    length = inst.shape[1] + 1  # the phase starts at 0, then one running sum per step
    phase = np.add.accumulate(inst, axis=1, dtype=np.float64)  # in cycles; x 2 pi at the end
    tt, stt = _ramp(length)
    mean = _sum(phase) / length
    slope = phase @ tt[1:] / stt  # the ramp is centred, so the phase's mean drops out
    # variance about the line = mean square - mean**2 - slope**2 * stt / L (exact for least
    # squares with a centred ramp; float64 keeps the cancellation at ~1e-9 rad)
    var = np.einsum("ij,ij->i", phase, phase) / length - mean * mean - slope * slope * stt / length
    result: np.ndarray = np.sqrt(np.maximum(var, 0.0)) * (2 * np.pi)
    return result


def _log_ratio(c: Cache, hi: int, lo: int) -> np.ndarray:
    lines = c["lines"]
    return np.log10((lines[hi] + 1e-6) / (lines[lo] + 1e-6))


def _acf(lag: int) -> Callable[[Cache], np.ndarray]:
    def fn(c: Cache) -> np.ndarray:
        zc = c["zc"]
        result: np.ndarray = np.abs(_sum(zc[:, lag:] * np.conj(zc[:, :-lag])))
        return result / c["zc_energy"]

    return fn


FEATURES: tuple[Step, ...] = (
    # geometric / arithmetic mean of the PSD: 1 for white noise
    Step(
        "spec_flatness",
        ("psd", "psd_mean"),
        lambda c: np.exp(_mean(np.log(c["psd"]))) / c["psd_mean"],
    ),
    # tallest PSD bin over the mean, dB
    Step(
        "spec_peak_to_avg_db",
        ("psd", "psd_mean"),
        lambda c: 10 * np.log10(_max(c["psd"]) / c["psd_mean"]),
    ),
    Step("spec_occupied_bw_frac", ("psd_p",), _spec_occupied),  # bins holding 90% of the power
    Step("spec_centroid", ("centroid",), lambda c: c["centroid"]),  # cycles/sample
    Step("spec_spread", ("psd_p", "freqs", "centroid"), _spec_spread),  # cycles/sample
    Step("spec_entropy", ("psd_p",), _spec_entropy),  # normalised Shannon entropy of the PSD
    Step("cum_c20", ("m20",), lambda c: np.abs(c["m20"])),  # |C20|
    Step("cum_c40", ("z4", "m20"), _cum_c40),  # |C40|
    Step(
        "cum_c41",  # |C41|
        ("m41", "m20", "m21"),
        lambda c: np.abs(c["m41"] - 3 * c["m20"] * c["m21"]),
    ),
    Step(
        "cum_c42",  # C42 (real)
        ("m42", "m20", "m21"),
        lambda c: c["m42"] - np.abs(c["m20"]) ** 2 - 2 * c["m21"] ** 2,
    ),
    Step("cum_c63", ("a2", "a4", "m20", "m21", "m41", "m42"), _cum_c63),  # |C63|
    Step("env_mean", ("env_mean",), lambda c: c["env_mean"]),  # mean of |z|
    Step("env_std", ("env_var",), lambda c: np.sqrt(c["env_var"])),  # std of |z|
    Step("env_kurtosis", ("env_c2", "env_var"), lambda c: _kurt(c["env_c2"], c["env_var"])),
    Step("env_sigma_aa", ("env", "env_mean"), _env_sigma_aa),  # std of |centred norm. amplitude|
    Step("env_papr_db", ("a2", "m21"), _env_papr),  # peak-to-average power ratio, dB
    Step("if_std", ("inst_var",), lambda c: np.sqrt(c["inst_var"])),  # cycles/sample
    Step("if_kurtosis", ("inst_c2", "inst_var"), lambda c: _kurt(c["inst_c2"], c["inst_var"])),
    Step("if_abs_dev", ("inst",), _if_abs_dev),  # mean |IF - median IF|
    Step("if_trend_r2", ("if_fit",), lambda c: c["if_fit"][0]),  # chirps -> 1
    Step("if_trend_slope", ("if_fit",), lambda c: c["if_fit"][1]),  # cycles/sample over capture
    Step("phase_resid_std", ("inst",), _phase_resid_std),  # rad
    Step("line_z1", ("lines",), lambda c: c["lines"][0]),
    Step("line_z2", ("lines",), lambda c: c["lines"][1]),  # BPSK, AM, tone
    Step("line_z4", ("lines",), lambda c: c["lines"][2]),  # QPSK, 16QAM
    Step("line_z8", ("lines",), lambda c: c["lines"][3]),  # 8PSK
    Step("line_z4_over_z2", ("lines",), lambda c: _log_ratio(c, 2, 1)),  # QPSK vs BPSK
    Step("line_z8_over_z4", ("lines",), lambda c: _log_ratio(c, 3, 2)),  # 8PSK vs QPSK
    Step("acf_lag1", ("zc", "zc_energy"), _acf(1)),  # bandwidth proxy
    Step("acf_lag4", ("zc", "zc_energy"), _acf(4)),
    Step("acf_lag16", ("zc", "zc_energy"), _acf(16)),
)
"""One step per feature, in column order."""

FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
"""Names of the columns returned by ``extract_features``, in order."""


def compute_graph(x: np.ndarray) -> Cache:
    """Every intermediate of the graph for a float32 batch ``(N, 2, L)``, keyed by name."""
    cache: Cache = {"x": x}
    for step in INTERMEDIATES:
        cache[step.name] = step.fn(cache)
    return cache


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
    out = np.empty((arr.shape[0], len(FEATURES)), dtype=np.float32)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for start in range(0, arr.shape[0], _CHUNK):
            cache = compute_graph(arr[start : start + _CHUNK].astype(_F32, copy=False))
            block = out[start : start + _CHUNK]
            for j, feat in enumerate(FEATURES):
                block[:, j] = feat.fn(cache)
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0, copy=False)
