"""Hand-crafted modulation-classification features for gradient-boosted trees.

Each capture is normalised to unit power first, so every feature is gain-invariant. The set
follows the automatic-modulation-classification literature: spectral shape, higher-order
cumulants (Swami & Sadler), envelope and instantaneous-frequency statistics (Nandi & Azzouz),
and the strength of the spectral line that appears in z**k when a k-ary PSK is raised to its
order (the classic carrier-recovery trick, which survives a frequency offset where plain
cumulants of z**2 and z**4 do not).

The computation is a small graph: named *intermediates* (the normalised capture, the Welch PSD,
the envelope, the moments, the IF, the spectral lines of z**k from one batched FFT, ...) computed
once and shared, and one short formula per feature on top. The loops are compiled by numba
(:mod:`edgekit.signals.feature_kernels` for the intermediates,
:mod:`edgekit.signals.feature_formulas` for the features): at one capture, numpy's per-call
dispatch was most of the cost. :func:`extract_features` runs the graph fused, one compiled pass
per batch around two ``scipy.fft`` calls; :func:`compute_graph` runs it one step at a time on
one capture, which is what :mod:`edgekit.signals.feature_cost` times. Both call the same kernels
and formulas. The same code runs in training, in the build and on the device (preprocessing op ``features``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import scipy.fft

from edgekit.signals import feature_formulas as fm
from edgekit.signals import feature_kernels as k

__all__ = [
    "FEATURES",
    "FEATURE_NAMES",
    "INTERMEDIATES",
    "Step",
    "compute_graph",
    "extract_features",
    "graph_features",
]

_SEG = 256  # Welch segment length for the PSD
_CHUNK = 256  # captures per fused pass: bounds the line FFT's buffer (4 x 2L complex64 each)
_EPS = 1e-12

Cache = dict[str, Any]


@dataclass(frozen=True)
class Step:
    """One node of the feature graph: ``fn(cache) -> value``, reading only ``deps`` from the cache."""

    name: str
    deps: tuple[str, ...]
    fn: Callable[[Cache], Any]


@cache
def _hann(seg: int) -> np.ndarray:
    win: np.ndarray = np.hanning(seg).astype(np.float32)
    win.setflags(write=False)  # cached: shared between calls
    return win


@cache
def _fftfreq(n: int) -> np.ndarray:
    """Bin frequencies in cycles/sample, unshifted like the PSD."""
    freqs: np.ndarray = np.fft.fftfreq(n)
    freqs.setflags(write=False)  # shared between calls
    return freqs


def _fft(a: np.ndarray) -> np.ndarray:
    # one thread (the device's budget), and the input is scratch: pocketfft may work in place
    out: np.ndarray = scipy.fft.fft(a, axis=-1, overwrite_x=True, workers=1)
    return out


# ---- the graph, one step at a time on one capture (for the cost table) -------------------------


def _g_psd(c: Cache) -> np.ndarray:
    z = c["z"]
    seg = min(_SEG, len(z))
    segs = np.empty((len(z) // seg, seg), np.complex64)
    k.fill_segments(z, _hann(seg), segs)
    result: np.ndarray = k.psd(_fft(segs))
    return result


def _g_lines(c: Cache) -> np.ndarray:
    z = c["z"]
    stack = np.empty((4, 2 * len(z)), np.complex64)
    k.fill_lines(z, stack)
    result: np.ndarray = k.line_fractions(_fft(stack), c["env"][1])
    return result


INTERMEDIATES: tuple[Step, ...] = (
    Step("z", ("x",), lambda c: k.normalise(c["x"])),
    Step("psd", ("z",), _g_psd),  # Hann segments, one FFT, power averaged
    Step("psd_p", ("psd",), lambda c: k.psd_p(c["psd"])),
    Step("psd_mean", ("psd",), lambda c: k.mean(c["psd"])),
    Step("centroid", ("psd_p",), lambda c: fm.spec_centroid(c["psd_p"], _fftfreq(len(c["psd_p"])))),
    Step("env", ("z",), lambda c: k.envelope(c["z"])),  # (|z|, |z|**2)
    Step("moments", ("z",), lambda c: k.moments(c["z"])),  # M20, M21, M40, M41, M42, M63
    Step("env_mean", ("env",), lambda c: k.mean(c["env"][0])),
    Step("env_var", ("env", "env_mean"), lambda c: k.centred_var(c["env"][0], c["env_mean"])),
    Step("inst", ("z",), lambda c: k.inst_freq(c["z"])),
    Step("inst_mean", ("inst",), lambda c: k.mean(c["inst"])),
    Step("inst_var", ("inst", "inst_mean"), lambda c: k.centred_var(c["inst"], c["inst_mean"])),
    Step("if_fit", ("z",), lambda c: k.if_fit(c["z"])),
    Step("lines", ("z", "env"), _g_lines),  # z, z**2, z**4, z**8: one batched FFT
    Step("zc", ("z",), lambda c: _centred(c["z"])),  # (z - mean, its energy)
)
"""Shared intermediate results, in dependency order (``x`` is one capture (2, L) float32)."""


def _centred(z: np.ndarray) -> tuple[np.ndarray, float]:
    zc = np.empty_like(z)
    return zc, k.centre_into(z, zc)


FEATURES: tuple[Step, ...] = (
    Step("spec_flatness", ("psd", "psd_mean"), lambda c: fm.spec_flatness(c["psd"], c["psd_mean"])),
    Step(  # tallest PSD bin over the mean, dB
        "spec_peak_to_avg_db", ("psd", "psd_mean"), lambda c: fm.spec_peak_to_avg_db(c["psd"], c["psd_mean"])
    ),
    Step("spec_occupied_bw_frac", ("psd_p",), lambda c: fm.spec_occupied(c["psd_p"])),
    Step("spec_centroid", ("centroid",), lambda c: c["centroid"]),  # cycles/sample
    Step(  # cycles/sample
        "spec_spread",
        ("psd_p", "centroid"),
        lambda c: fm.spec_spread(c["psd_p"], _fftfreq(len(c["psd_p"])), c["centroid"]),
    ),
    Step("spec_entropy", ("psd_p",), lambda c: fm.spec_entropy(c["psd_p"])),  # normalised Shannon
    Step("cum_c20", ("moments",), lambda c: abs(c["moments"][0])),  # |C20|
    Step("cum_c40", ("moments",), lambda c: abs(c["moments"][2] - 3 * c["moments"][0] ** 2)),
    Step(  # |C41|
        "cum_c41", ("moments",), lambda c: abs(c["moments"][3] - 3 * c["moments"][0] * c["moments"][1])
    ),
    Step(  # C42 (real)
        "cum_c42",
        ("moments",),
        lambda c: c["moments"][4] - abs(c["moments"][0]) ** 2 - 2 * c["moments"][1] ** 2,
    ),
    Step("cum_c63", ("moments",), lambda c: fm.cum_c63(c["moments"])),  # |C63|
    Step("env_mean", ("env_mean",), lambda c: c["env_mean"]),  # mean of |z|
    Step("env_std", ("env_var",), lambda c: math.sqrt(c["env_var"])),  # std of |z|
    Step(
        "env_kurtosis",
        ("env", "env_mean", "env_var"),
        lambda c: k.kurtosis(c["env"][0], c["env_mean"], c["env_var"]),
    ),
    Step("env_sigma_aa", ("env", "env_mean"), lambda c: fm.env_sigma_aa(c["env"][0], c["env_mean"])),
    Step("env_papr_db", ("env", "moments"), lambda c: fm.env_papr_db(c["env"][1], c["moments"][1])),
    Step("if_std", ("inst_var",), lambda c: math.sqrt(c["inst_var"])),  # cycles/sample
    Step(
        "if_kurtosis",
        ("inst", "inst_mean", "inst_var"),
        lambda c: k.kurtosis(c["inst"], c["inst_mean"], c["inst_var"]),
    ),
    Step("if_abs_dev", ("inst",), lambda c: fm.if_abs_dev(c["inst"])),  # mean |IF - median IF|
    Step("if_trend_r2", ("if_fit",), lambda c: c["if_fit"][0]),  # chirps -> 1
    Step("if_trend_slope", ("if_fit",), lambda c: c["if_fit"][1]),  # cycles/sample over capture
    Step("phase_resid_std", ("inst",), lambda c: fm.phase_resid_std(c["inst"])),  # rad
    Step("line_z1", ("lines",), lambda c: c["lines"][0]),
    Step("line_z2", ("lines",), lambda c: c["lines"][1]),  # BPSK, AM, tone
    Step("line_z4", ("lines",), lambda c: c["lines"][2]),  # QPSK, 16QAM
    Step("line_z8", ("lines",), lambda c: c["lines"][3]),  # 8PSK
    Step("line_z4_over_z2", ("lines",), lambda c: fm.log_ratio(c["lines"][2], c["lines"][1])),
    Step("line_z8_over_z4", ("lines",), lambda c: fm.log_ratio(c["lines"][3], c["lines"][2])),
    Step("acf_lag1", ("zc",), lambda c: k.acf(c["zc"][0], c["zc"][1], 1)),  # bandwidth proxy
    Step("acf_lag4", ("zc",), lambda c: k.acf(c["zc"][0], c["zc"][1], 4)),
    Step("acf_lag16", ("zc",), lambda c: k.acf(c["zc"][0], c["zc"][1], 16)),
)
"""One step per feature, in column order."""

FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
"""Names of the columns returned by ``extract_features``, in order."""


def compute_graph(capture: np.ndarray) -> Cache:
    """Every intermediate of the graph for one float32 capture ``(2, L)``, keyed by name."""
    cache: Cache = {"x": np.ascontiguousarray(capture, dtype=np.float32)}
    for step in INTERMEDIATES:
        cache[step.name] = step.fn(cache)
    return cache


def graph_features(cache: Cache) -> np.ndarray:
    """The feature row computed step by step from ``compute_graph``'s cache (float32, cleaned)."""
    row = np.array([f.fn(cache) for f in FEATURES], dtype=np.float32)
    return np.nan_to_num(row, nan=0.0, posinf=0.0, neginf=0.0, copy=False)


# ---- the fused pass ------------------------------------------------------------------------------


@k.kernel
def _put(row, j, value):  # type: ignore[no-untyped-def]
    v = np.float32(value)
    row[j] = v if np.isfinite(v) else np.float32(0.0)  # as nan_to_num: NaN and +-inf -> 0


@k.kernel
def _finish(z, fs, fl, freqs, out):  # type: ignore[no-untyped-def]
    """The fused pass's second half: every intermediate and feature, in FEATURES' order."""
    n, length = z.shape
    psd = np.empty(fs.shape[2], np.float32)
    env = np.empty(length, np.float32)
    a2 = np.empty(length, np.float32)
    inst = np.empty(length - 1, np.float32)
    zc = np.empty(length, np.complex64)
    for i in range(n):
        zi, row = z[i], out[i]
        k.psd_into(fs[i], psd)
        p = k.psd_p(psd)
        pm = k.mean(psd)
        cen = fm.spec_centroid(p, freqs)
        k.envelope_into(zi, env, a2)
        m20, m21, m40, m41, m42, _ = mom = k.moments(zi)
        em = k.mean(env)
        ev = k.centred_var(env, em)
        k.inst_into(zi, inst)
        im = k.mean(inst)
        iv = k.centred_var(inst, im)
        r2, slope = k.if_fit(zi)
        ln = k.line_fractions(fl[i], a2)
        ze = k.centre_into(zi, zc)
        _put(row, 0, fm.spec_flatness(psd, pm))
        _put(row, 1, fm.spec_peak_to_avg_db(psd, pm))
        _put(row, 2, fm.spec_occupied(p))
        _put(row, 3, cen)
        _put(row, 4, fm.spec_spread(p, freqs, cen))
        _put(row, 5, fm.spec_entropy(p))
        _put(row, 6, abs(m20))
        _put(row, 7, abs(m40 - 3 * m20**2))
        _put(row, 8, abs(m41 - 3 * m20 * m21))
        _put(row, 9, m42 - abs(m20) ** 2 - 2 * m21**2)
        _put(row, 10, fm.cum_c63(mom))
        _put(row, 11, em)
        _put(row, 12, math.sqrt(ev))
        _put(row, 13, k.kurtosis(env, em, ev))
        _put(row, 14, fm.env_sigma_aa(env, em))
        _put(row, 15, fm.env_papr_db(a2, m21))
        _put(row, 16, math.sqrt(iv))
        _put(row, 17, k.kurtosis(inst, im, iv))
        _put(row, 18, fm.if_abs_dev(inst))
        _put(row, 19, r2)
        _put(row, 20, slope)
        _put(row, 21, fm.phase_resid_std(inst))
        for r in range(4):
            _put(row, 22 + r, ln[r])
        _put(row, 26, fm.log_ratio(ln[2], ln[1]))
        _put(row, 27, fm.log_ratio(ln[3], ln[2]))
        _put(row, 28, k.acf(zc, ze, 1))
        _put(row, 29, k.acf(zc, ze, 4))
        _put(row, 30, k.acf(zc, ze, 16))


def extract_features(x: np.ndarray) -> np.ndarray:
    """Features ``(N, len(FEATURE_NAMES))`` float32 for captures ``(N, 2, L)`` (I, Q).

    Pure, computed in float32 (inputs of another dtype are converted first); all values are
    finite (silent captures give zeros rather than NaN).
    """
    arr = np.asarray(x)
    if arr.ndim != 3 or arr.shape[1] != 2:
        raise ValueError(f"extract_features expects captures (N, 2, L), got shape {arr.shape}")
    n, _, length = arr.shape
    if length < 32:
        raise ValueError(f"extract_features needs at least 32 samples, got {length}")
    seg = min(_SEG, length)
    hann, freqs = _hann(seg), _fftfreq(seg)
    out = np.empty((n, len(FEATURES)), dtype=np.float32)
    for start in range(0, n, _CHUNK):
        xb = np.ascontiguousarray(arr[start : start + _CHUNK], dtype=np.float32)
        m = len(xb)
        z = np.empty((m, length), np.complex64)
        segs = np.empty((m, length // seg, seg), np.complex64)
        stack = np.empty((m, 4, 2 * length), np.complex64)
        k.prepare(xb, hann, z, segs, stack)
        _finish(z, _fft(segs), _fft(stack), freqs, out[start : start + m])
    return out
