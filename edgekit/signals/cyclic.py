"""Cyclic-prefix evidence: how strongly a radio capture repeats itself at the lag and period of
an OFDM symbol with a cyclic prefix, from the capture alone. One column of the input-space
``spectral`` OOD score (``signals.spectral``): below 0 dB SNR an OFDM capture's spectrum is the
noise floor plus a flat plateau a fraction of a dB high, but its prefix still correlates
(``scripts/ood_explore.py``: OFDM 85 -> 88 % called unknown on development data with it).

The loop is compiled by numba (``signals.feature_kernels.kernel``, cached on disk) when the column
is first computed, so importing this module does not import numba.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np

__all__ = ["CP_BANK", "cp_evidence"]

_FLOOR = 1e-10  # relative floor before the log: a silent capture must not give -inf

CP_BANK: tuple[tuple[int, int], ...] = tuple(
    (n, n // d) for n in (32, 64, 128, 256) for d in (4, 8)
)
"""(FFT length, cyclic-prefix length) in samples of the cyclic-prefix statistic
(:func:`cp_evidence`): the common OFDM numerologies, FFT 32-256 with a prefix of 1/4 or 1/8.
Chosen knowing that OFDM carries a cyclic prefix (domain knowledge of the held-out family, stated
as such); the bank is generic over numerologies rather than tuned to the held-out 64 + 16."""


def _cp_best_loop(z: np.ndarray, bank: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover - numba
    """For each row of ``z`` (N, L) complex: the largest standardised prefix window over the
    numerologies of ``bank`` (M, 2) int64, into ``out`` (N,). One pass of lag products folded
    by period, then a running circular window sum: ~4,000 complex products per capture."""
    length = z.shape[1]
    for r in range(z.shape[0]):
        best = 0.0
        for m in range(bank.shape[0]):
            n, c = bank[m, 0], bank[m, 1]
            period = n + c
            per = (length - n) // period
            if per == 0:
                continue
            fold = np.zeros(period, dtype=np.complex128)
            for k in range(per):
                for q in range(period):
                    i = q + k * period
                    fold[q] += z[r, i] * np.conj(z[r, i + n])
            w = 0j
            for j in range(c):
                w += fold[j]
            top = w.real * w.real + w.imag * w.imag
            for p in range(1, period):
                w += fold[(p + c - 1) % period] - fold[p - 1]
                top = max(top, w.real * w.real + w.imag * w.imag)
            best = max(best, math.sqrt(top / (c * per)))
        out[r] = best


@functools.cache
def _cp_best() -> Callable[[np.ndarray, np.ndarray, np.ndarray], None]:
    """The loop compiled by numba (``feature_kernels.kernel``, cached on disk) on first use:
    importing numba costs ~0.2 s and ~20 MiB at start, which a spectral score without the
    cyclic-prefix column (the default) never needs."""
    from edgekit.signals.feature_kernels import kernel

    compiled: Callable[[np.ndarray, np.ndarray, np.ndarray], None] = kernel(_cp_best_loop)
    return compiled


def cp_evidence(z: np.ndarray, bank: tuple[tuple[int, int], ...] = CP_BANK) -> np.ndarray:
    """``(N,)`` log of the strongest cyclic-prefix evidence in complex captures ``z`` (N, L).

    For an OFDM symbol of ``n`` samples whose last ``c`` are repeated in front (the prefix),
    ``z[i] * conj(z[i + n])`` has a non-zero mean over the ``c`` prefix samples of every symbol
    and zero mean elsewhere. Per numerology ``(n, c)`` of ``bank``: those products over the
    whole symbol periods ``n + c`` that fit are added period upon period (one sum per timing
    phase), then summed over every ``c`` circularly consecutive phases; the largest magnitude,
    divided by the capture's power and by the root of the number of products summed, so that
    white noise reads about 1 at any numerology (the squared magnitude has mean 1 at each
    phase); the largest over the bank, in log. Circular, not a moving sum over the capture: the
    last period's products are all used (a moving sum drops one of 12 at 64 + 16 in 1024).
    A numba loop (``feature_kernels.kernel``): the numpy form took ~140 µs per capture in ~50
    calls' dispatch (``bench/bench_spectral.py``)."""
    a = np.ascontiguousarray(z, dtype=np.complex128)
    best = np.zeros(len(a))
    if bank:
        _cp_best()(a, np.asarray(bank, dtype=np.int64).reshape(-1, 2), best)
    power = np.mean(a.real**2 + a.imag**2, axis=1)
    out: np.ndarray = np.log(best / np.where(power > 0, power, 1.0) + _FLOOR)
    return out
