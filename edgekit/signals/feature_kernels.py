"""Compiled kernels of the engineered features: plain loops over one capture, built by numba.

At one capture of 1,024 samples the features cost almost nothing in arithmetic; what the numpy
version paid for was ~150 calls' own dispatch. Each function here is a loop over one capture
that numba compiles to machine code (``cache=True``: compiled once per machine, then loaded from
numba's on-disk cache). :mod:`edgekit.signals.features` calls them in two ways that share every
line of arithmetic: one fused pass over a batch (:func:`prepare`, two FFTs in scipy, then
:func:`finish`), which is what training, the build and the device run, and one step at a time
through its graph, which is what the feature cost table times.

Values are float32 where they are arrays (the capture, the spectra, the envelope, the IF) and
accumulated in float64 in the loops (free for scalar code, and what the reference implementation
did). ``error_model="numpy"``: a division by zero gives inf/NaN like numpy, not an exception, and
the output is cleaned to zeros at the end as before.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numba import njit

__all__ = [
    "acf",
    "centred_var",
    "envelope",
    "if_fit",
    "inst_freq",
    "kernel",
    "kurtosis",
    "line_fractions",
    "mean",
    "moments",
    "normalise",
    "prepare",
    "psd",
    "psd_p",
]
# (the *_into variants fill caller-owned arrays: the fused pass allocates its scratch once)

_OPTIONS: dict[str, Any] = {"nogil": True, "error_model": "numpy"}


def kernel(fn: Callable[..., Any]) -> Any:
    """``numba.njit`` with the on-disk cache: beside this file, else numba's per-user folder.

    Where neither is writable (a read-only install run by a user without a home), numba refuses
    to cache at all; the kernels are then compiled in memory at every start instead of failing.
    ``NUMBA_CACHE_DIR`` names another folder.
    """
    try:
        return njit(cache=True, **_OPTIONS)(fn)
    except RuntimeError:  # "cannot cache function ...: no locator available"
        return njit(cache=False, **_OPTIONS)(fn)
_EPS = 1e-12
_BLK = 16  # block length for the smoothed instantaneous frequency
_INV_2PI = 1.0 / (2.0 * math.pi)


# ---- the capture and its spectra ----------------------------------------------------------------


@kernel
def normalise_into(xi, z):  # type: ignore[no-untyped-def]
    """``z`` = the (2, L) float32 capture as complex64, scaled to unit mean power."""
    n = xi.shape[1]
    acc = 0.0
    for k in range(n):
        acc += xi[0, k] * xi[0, k] + xi[1, k] * xi[1, k]
    scale = np.float32(1.0 / math.sqrt(max(acc / n, _EPS)))
    for k in range(n):
        z[k] = complex(xi[0, k] * scale, xi[1, k] * scale)


@kernel
def normalise(xi):  # type: ignore[no-untyped-def]
    z = np.empty(xi.shape[1], np.complex64)
    normalise_into(xi, z)
    return z


@kernel
def fill_segments(z, hann, segs):  # type: ignore[no-untyped-def]
    """Hann-windowed Welch segments (n_seg, seg) of ``z``, ready for one batched FFT."""
    n_seg, seg = segs.shape
    for s in range(n_seg):
        for k in range(seg):
            segs[s, k] = z[s * seg + k] * hann[k]


@kernel
def fill_lines(z, stack):  # type: ignore[no-untyped-def]
    """z, z**2, z**4, z**8 zero-padded to 2L (halves the scalloping loss of off-bin lines)."""
    n = z.shape[0]
    for k in range(n):
        w = z[k]
        w2 = w * w
        w4 = w2 * w2
        stack[0, k], stack[1, k], stack[2, k], stack[3, k] = w, w2, w4, w4 * w4
    for r in range(4):
        stack[r, n:] = 0


@kernel
def psd_into(fs, out):  # type: ignore[no-untyped-def]
    """Welch PSD from the segments' FFT (unshifted bin order), + eps so its log is finite."""
    n_seg, seg = fs.shape
    for k in range(seg):
        acc = 0.0
        for s in range(n_seg):
            v = fs[s, k]
            acc += float(v.real) * v.real + float(v.imag) * v.imag
        out[k] = acc / n_seg + _EPS


@kernel
def psd(fs):  # type: ignore[no-untyped-def]
    out = np.empty(fs.shape[1], np.float32)
    psd_into(fs, out)
    return out


@kernel
def psd_p(psd):  # type: ignore[no-untyped-def]
    """The PSD as a distribution over bins (float64)."""
    total = 0.0
    for v in psd:
        total += v
    return psd.astype(np.float64) / total


@kernel
def line_fractions(fl, a2):  # type: ignore[no-untyped-def]
    """Strongest spectral line of z**k, k = 1, 2, 4, 8, as a fraction of energy: shape (4,).

    By Parseval the padded spectrum's total is ``2L * sum |z|**(2k)``, summed from |z|**2 in
    float64 (|z|**16 can leave float32's range). The factor 2 keeps a pure off-bin tone, split
    over ~2 bins after padding, near 1.
    """
    n_fft = fl.shape[1]
    energy = np.zeros(4)
    for v in a2:
        p = float(v)
        for r in range(4):
            energy[r] += p
            p = p * p
    out = np.empty(4)
    for r in range(4):
        peak = 0.0
        for k in range(n_fft):
            v = fl[r, k]
            m = float(v.real) * v.real + float(v.imag) * v.imag
            if m > peak:
                peak = m
        # a silent capture has peak 0 and energy 0: 0 / tiny is the 0 the reference gives
        out[r] = 2.0 * peak / max(energy[r] * n_fft, 1e-300)
    return out


# ---- envelope, moments, instantaneous frequency ------------------------------------------------


@kernel
def envelope_into(z, env, a2):  # type: ignore[no-untyped-def]
    for k in range(z.shape[0]):
        p = z[k].real * z[k].real + z[k].imag * z[k].imag
        a2[k] = p
        env[k] = math.sqrt(p)


@kernel
def envelope(z):  # type: ignore[no-untyped-def]
    """(|z|, |z|**2) as float32 arrays."""
    env = np.empty(z.shape[0], np.float32)
    a2 = np.empty(z.shape[0], np.float32)
    envelope_into(z, env, a2)
    return env, a2


@kernel
def moments(z):  # type: ignore[no-untyped-def]
    """(M20, M21, M40, M41, M42, M63) of ``z`` in one pass, complex128 / float64."""
    m20 = m40 = m41 = 0j
    m21 = m42 = m63 = 0.0
    for k in range(z.shape[0]):
        w = complex(z[k])
        a2 = w.real * w.real + w.imag * w.imag
        w2 = w * w
        m20 += w2
        m21 += a2
        m40 += w2 * w2
        m41 += w2 * a2
        m42 += a2 * a2
        m63 += a2 * a2 * a2
    n = z.shape[0]
    return m20 / n, m21 / n, m40 / n, m41 / n, m42 / n, m63 / n


@kernel
def mean(v):  # type: ignore[no-untyped-def]
    acc = 0.0
    for x in v:
        acc += x
    return acc / v.shape[0]


@kernel
def centred_var(v, mu):  # type: ignore[no-untyped-def]
    acc = 0.0
    for x in v:
        d = x - mu
        acc += d * d
    return acc / v.shape[0]


@kernel
def kurtosis(v, mu, var):  # type: ignore[no-untyped-def]
    acc = 0.0
    for x in v:
        d = x - mu
        acc += d * d * d * d
    return acc / v.shape[0] / max(var * var, _EPS)


@kernel
def inst_into(z, inst):  # type: ignore[no-untyped-def]
    """IF in cycles/sample: the phase of the lag-1 product z[n] conj(z[n-1])."""
    for k in range(inst.shape[0]):
        p = z[k + 1] * np.conj(z[k])
        inst[k] = math.atan2(p.imag, p.real) * _INV_2PI


@kernel
def inst_freq(z):  # type: ignore[no-untyped-def]
    inst = np.empty(z.shape[0] - 1, np.float32)
    inst_into(z, inst)
    return inst


@kernel
def if_fit(z):  # type: ignore[no-untyped-def]
    """(R^2, |slope| over the capture) of a line through the block-smoothed IF.

    The IF is smoothed by summing the lag-1 products in blocks of ``_BLK`` (phase of the sum,
    which weights by amplitude and rejects noise far better than averaging angles).
    """
    n_blk = (z.shape[0] - 1) // _BLK
    if n_blk < 2:
        return math.nan, math.nan  # no line through one point (the reference's 0/0, cleaned to 0)
    smooth = np.empty(n_blk)
    for b in range(n_blk):
        acc = 0j
        for k in range(b * _BLK, (b + 1) * _BLK):
            acc += complex(z[k + 1] * np.conj(z[k]))
        smooth[b] = math.atan2(acc.imag, acc.real) * _INV_2PI
    mu = mean(smooth)
    half = (n_blk - 1) / 2
    stt = sty = 0.0
    for b in range(n_blk):
        t = b - half
        stt += t * t
        sty += t * (smooth[b] - mu)
    slope = sty / stt
    ss_tot = ss_res = 0.0
    for b in range(n_blk):
        d = smooth[b] - mu
        r = d - slope * (b - half)
        ss_tot += d * d
        ss_res += r * r
    r2 = 1.0 - ss_res / max(ss_tot, _EPS)  # silence: 0 / eps, R^2 = 1 as in the reference
    return min(max(r2, 0.0), 1.0), abs(slope) * n_blk


@kernel
def acf(zc, energy, lag):  # type: ignore[no-untyped-def]
    """|normalised autocorrelation| of the centred capture at ``lag``."""
    acc = 0j
    for k in range(lag, zc.shape[0]):
        acc += complex(zc[k] * np.conj(zc[k - lag]))
    return abs(acc) / energy


@kernel
def centre_into(z, zc):  # type: ignore[no-untyped-def]
    """``zc`` = z minus its mean; returns its energy (floored at eps)."""
    mu = 0j
    for w in z:
        mu += w
    mu /= z.shape[0]
    energy = 0.0
    for k in range(z.shape[0]):
        d = z[k] - mu
        zc[k] = d
        energy += d.real * d.real + d.imag * d.imag
    return max(energy, _EPS)


@kernel
def prepare(x, hann, z, segs, stack):  # type: ignore[no-untyped-def]
    """The fused pass's first half, for a batch: normalised captures and both FFTs' inputs."""
    for i in range(x.shape[0]):
        normalise_into(x[i], z[i])
        fill_segments(z[i], hann, segs[i])
        fill_lines(z[i], stack[i])
