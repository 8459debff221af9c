"""The formulas of the engineered features: each a scalar from the graph's intermediates.

Compiled by numba like :mod:`edgekit.signals.feature_kernels`, and called from both of
:mod:`edgekit.signals.features`' paths (the fused pass and the step-by-step graph), so the cost
table times exactly the code the device runs. Accumulation in float64, as in the kernels.
"""

from __future__ import annotations

import math

import numpy as np

from edgekit.signals.feature_kernels import kernel

__all__ = [
    "cum_c63",
    "env_papr_db",
    "env_sigma_aa",
    "if_abs_dev",
    "log_ratio",
    "phase_resid_std",
    "spec_centroid",
    "spec_entropy",
    "spec_flatness",
    "spec_occupied",
    "spec_peak_to_avg_db",
    "spec_spread",
]

_EPS = 1e-12


@kernel
def spec_flatness(psd, psd_mean):  # type: ignore[no-untyped-def]
    """Geometric over arithmetic mean of the PSD: 1 for white noise."""
    acc = 0.0
    for v in psd:
        acc += math.log(v)
    return math.exp(acc / psd.shape[0]) / psd_mean


@kernel
def spec_peak_to_avg_db(psd, psd_mean):  # type: ignore[no-untyped-def]
    return 10.0 * math.log10(psd.max() / psd_mean)


@kernel
def spec_occupied(p):  # type: ignore[no-untyped-def]
    """Fraction of bins holding 90 % of the power, the largest first."""
    s = np.sort(p)
    acc = 0.0
    count = 0
    for j in range(s.shape[0] - 1, -1, -1):
        acc += s[j]
        if acc >= 0.9:
            break
        count += 1
    return (count + 1) / s.shape[0]


@kernel
def spec_centroid(p, freqs):  # type: ignore[no-untyped-def]
    acc = 0.0
    for j in range(p.shape[0]):
        acc += p[j] * freqs[j]
    return acc


@kernel
def spec_spread(p, freqs, centroid):  # type: ignore[no-untyped-def]
    acc = 0.0
    for j in range(p.shape[0]):
        d = freqs[j] - centroid
        acc += p[j] * d * d
    return math.sqrt(acc)


@kernel
def spec_entropy(p):  # type: ignore[no-untyped-def]
    acc = 0.0
    for v in p:
        acc -= v * math.log(v)
    return acc / math.log(p.shape[0])


@kernel
def cum_c63(mom):  # type: ignore[no-untyped-def]
    # conj(z)^3 z = conj(z^2) |z|^2, whose mean is conj(M41): the reference's M41c term is M41.
    m20, m21, _, m41, m42, m63 = mom
    c63 = m63 - 6 * (m20 * m41).real - 9 * m42 * m21 + 18 * abs(m20) ** 2 * m21
    return abs(c63 + 12 * m21**3)


@kernel
def env_sigma_aa(env, env_mean):  # type: ignore[no-untyped-def]
    """Std of |centred normalised amplitude| (Nandi & Azzouz), two passes."""
    scale = 1.0 / max(env_mean, _EPS)
    acc = 0.0
    for v in env:
        acc += abs(v * scale - 1.0)
    mu = acc / env.shape[0]
    acc = 0.0
    for v in env:
        d = abs(v * scale - 1.0) - mu
        acc += d * d
    return math.sqrt(acc / env.shape[0])


@kernel
def env_papr_db(a2, m21):  # type: ignore[no-untyped-def]
    return 10.0 * math.log10(max(a2.max(), _EPS) / max(m21, _EPS))


@kernel
def if_abs_dev(inst):  # type: ignore[no-untyped-def]
    """Mean |IF - median IF|: a spread that ignores the wild IF of amplitude nulls."""
    med = np.median(inst)
    acc = 0.0
    for v in inst:
        acc += abs(v - med)
    return acc / inst.shape[0]


@kernel
def phase_resid_std(inst):  # type: ignore[no-untyped-def]
    """Std of the unwrapped phase about its best line, rad.

    The unwrapped phase is the running sum of the wrapped lag-1 phase steps (what ``np.unwrap``
    computes), so it reuses the IF; float64, as it grows to thousands of radians under an offset.
    """
    n = inst.shape[0] + 1  # the phase starts at 0, then one running sum per step
    half = (n - 1) / 2
    phase = s_p = s_tp = stt = 0.0
    for j in range(n):
        if j:
            phase += inst[j - 1]
        t = j - half
        s_p += phase
        s_tp += t * phase
        stt += t * t
    mu, slope = s_p / n, s_tp / stt
    phase = acc = 0.0
    for j in range(n):
        if j:
            phase += inst[j - 1]
        r = phase - mu - slope * (j - half)
        acc += r * r
    return math.sqrt(acc / n) * 2 * math.pi


@kernel
def log_ratio(hi, lo):  # type: ignore[no-untyped-def]
    return math.log10((hi + 1e-6) / (lo + 1e-6))
