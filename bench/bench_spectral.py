#!/usr/bin/env python3
"""Per-capture cost of the ``spectral`` OOD score, as the daemon pays it (one capture at a time),
against baselines measured in the same run: the vectorised Welch PSD it uses now against
``scipy.signal.welch``, which it used before.

    .venv/bin/python bench/bench_spectral.py [--captures 300]

Timed, each the median over ``--captures`` single captures of ``generate(seed=11)`` after a
warm-up, interleaved capture by capture so host load hits every row alike:

- ``max_softmax``: the cheapest score, on logits of the same count, the baseline of the ratios;
- ``spectral score``: ``SpectralStats.score`` (PSD once, blind SNR band of seven, per-class
  Gaussian log-likelihood, standardised), statistics fitted on ``generate(12000, seed=101)`` as
  the reference build does (``data.calibration``), the build's default form;
- ``spectral score + CP column``: the same with the cyclic-prefix column (``[ood]
  cyclic_prefix = true``), so the column's cost is measured;
- ``spectral score, 4 bands``: the form before the finer low-SNR bands (SNR bands cut at
  -5/0/5 dB), fitted on the same captures;
- ``cp_evidence``: the cyclic-prefix column alone (``signals.spectral.cp_evidence``);
- ``spectral score, welch PSD``: the same score with the PSD from ``scipy.signal.welch`` (the
  previous implementation, patched in for this row only), so the saving is measured, not assumed;
- ``welch_psd (new)``: ``signals.snr.welch_psd``, one ``scipy.fft.fft`` over a strided view;
- ``scipy.signal.welch (old)``: the same PSD from scipy's welch (one FFT per segment);
- ``ShortTimeFFT``: the same PSD from ``scipy.signal.ShortTimeFFT`` (spectrogram, mean over
  time), the other vectorised candidate, measured slower.

Every PSD row is checked equal to welch's (rtol 1e-9) before timing.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edgekit.data.synth import generate
from edgekit.signals import spectral as spectral_mod
from edgekit.signals.scores import ood_scores
from edgekit.signals.snr import welch_psd
from edgekit.signals.spectral import CP_BANK, SPECTRAL_BINS, cp_evidence, fit_spectral

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    from scipy import signal

    args = sys.argv[1:] if argv is None else argv
    n = int(args[1]) if len(args) == 2 and args[0] == "--captures" else 300
    fit = generate(12000, seed=101)  # the reference build's data.calibration
    stats = fit_spectral(fit.x, fit.y, 10)  # the build's default form: the PSD, seven SNR bands
    with_cp = fit_spectral(fit.x, fit.y, 10, cp_bank=CP_BANK)  # [ood] cyclic_prefix = true
    psd_only = fit_spectral(fit.x, fit.y, 10, edges=(-5.0, 0.0, 5.0))  # the form before: 4 bands
    x = generate(n, seed=11).x
    z_all = x[:, 0].astype(np.float64) + 1j * x[:, 1].astype(np.float64)
    logits = np.random.default_rng(0).normal(size=(n, 10))
    b = SPECTRAL_BINS
    stft = signal.ShortTimeFFT(signal.get_window("hann", b), hop=b - b // 2, fs=1.0,
                               fft_mode="twosided", scale_to=None)
    stft_scale = 1.0 / float(np.sum(stft.win**2))
    n_seg = (x.shape[2] - b) // (b - b // 2) + 1

    def welch(z: np.ndarray, nperseg: int = b) -> np.ndarray:
        return signal.welch(z, nperseg=nperseg, return_onesided=False, detrend=False, axis=-1)[1]

    def short_time(z: np.ndarray) -> np.ndarray:
        s = stft.stft(z, p0=0, p1=n_seg, k_offset=b // 2, axis=-1)
        out: np.ndarray = (np.abs(s) ** 2).mean(axis=-1) * stft_scale
        return out

    ref = welch(z_all[:5])
    candidates: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "welch_psd": lambda z: welch_psd(z, b), "ShortTimeFFT": short_time,
    }
    for name, psd in candidates.items():
        if not np.allclose(psd(z_all[:5]), ref, rtol=1e-9, atol=0):
            print(f"{name} and scipy.signal.welch disagree: the comparison would be meaningless",
                  file=sys.stderr)
            return 1
    old_score = mock.patch.object(spectral_mod, "welch_psd", welch)
    rows: dict[str, Callable[[int], object]] = {
        "max_softmax": lambda i: ood_scores(logits[i : i + 1], "max_softmax", "logits"),
        "spectral score": lambda i: stats.score(x[i : i + 1]),
        "spectral score + CP column": lambda i: with_cp.score(x[i : i + 1]),
        "spectral score, 4 bands": lambda i: psd_only.score(x[i : i + 1]),
        "cp_evidence": lambda i: cp_evidence(z_all[i : i + 1]),
        "spectral score, welch PSD": lambda i: _with(old_score, lambda: stats.score(x[i : i + 1])),
        "welch_psd (new)": lambda i: welch_psd(z_all[i : i + 1], b),
        "scipy.signal.welch (old)": lambda i: welch(z_all[i : i + 1]),
        "ShortTimeFFT": lambda i: short_time(z_all[i : i + 1]),
    }
    with old_score:
        old_check = stats.score(x[:5])
    if not np.allclose(old_check, stats.score(x[:5]), rtol=1e-6, atol=1e-6):
        print("the score differs with welch's PSD: the comparison would be meaningless",
              file=sys.stderr)
        return 1
    times: dict[str, list[float]] = {k: [] for k in rows}
    for i in range(min(n, 20)):  # warm-up
        for f in rows.values():
            f(i)
    for i in range(n):
        for k, f in rows.items():
            t0 = time.perf_counter()
            f(i)
            times[k].append(time.perf_counter() - t0)
    base = float(np.median(times["max_softmax"]))
    print(f"{n} captures, one at a time, interleaved; median per capture (host; shared unless quiet)")
    for k, t in times.items():
        med = float(np.median(t))
        print(f"  {k:<26} {med * 1e6:8.1f} µs   x{med / base:7.1f} max_softmax")
    new, old = (float(np.median(times[k])) for k in ("welch_psd (new)", "scipy.signal.welch (old)"))
    s_new, s_old = (float(np.median(times[k])) for k in ("spectral score", "spectral score, welch PSD"))
    print(f"  PSD: welch / welch_psd = x{old / new:.1f}; score: welch PSD / new = x{s_old / s_new:.1f}")
    s_cp, s_psd = (float(np.median(times[k])) for k in ("spectral score + CP column",
                                                        "spectral score, 4 bands"))
    kib, kib_cp, kib_psd = stats.nbytes / 1024, with_cp.nbytes / 1024, psd_only.nbytes / 1024
    print(f"  statistics loaded (float64): {kib:.0f} KiB (seven bands), {kib_cp:.0f} KiB with the "
          f"cyclic-prefix column, {kib_psd:.0f} KiB (four bands)")
    print(f"  score with the cyclic-prefix column / without = x{s_cp / s_new:.2f}; "
          f"seven bands / four = x{s_new / s_psd:.2f}")
    return 0


def _with(patch: Any, f: Callable[[], object]) -> object:
    """``f()`` with ``patch`` active (entered per call: its own cost is ~1 µs, stated as such)."""
    with patch:
        return f()


if __name__ == "__main__":
    sys.exit(main())
