#!/usr/bin/env python3
"""Per-capture cost of the ``spectral`` OOD score, as the daemon pays it (one capture at a time),
against baselines measured in the same run.

    .venv/bin/python bench/bench_spectral.py [--captures 300]

Timed, each the median over ``--captures`` single captures of ``generate(seed=11)`` after a
warm-up, interleaved capture by capture so host load hits every row alike:

- ``spectral score``: ``SpectralStats.score`` (Welch PSD once, blind SNR band, standardised
  Mahalanobis), statistics fitted on ``generate(3000, seed=101)`` as the build does;
- ``scipy.signal.welch``: the PSD alone, the score's settings;
- ``framed FFT``: the same PSD from numpy's ``sliding_window_view`` and one ``scipy.fft.fft``
  over every segment (checked equal to welch's), what a hand-written Welch average would cost;
- ``max_softmax``: the cheapest score, on logits of the same count, the baseline of the ratios.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edgekit.data.synth import generate
from edgekit.signals.scores import ood_scores
from edgekit.signals.spectral import SPECTRAL_BINS, fit_spectral

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    from numpy.lib.stride_tricks import sliding_window_view
    from scipy import fft, signal

    args = sys.argv[1:] if argv is None else argv
    n = int(args[1]) if len(args) == 2 and args[0] == "--captures" else 300
    fit = generate(3000, seed=101)
    stats = fit_spectral(fit.x, fit.y, 10)
    x = generate(n, seed=11).x
    logits = np.random.default_rng(0).normal(size=(n, 10))
    b = SPECTRAL_BINS
    win = signal.get_window("hann", b)

    def welch(xi: np.ndarray) -> np.ndarray:
        z = xi[:, 0].astype(np.float64) + 1j * xi[:, 1].astype(np.float64)
        return signal.welch(z, nperseg=b, return_onesided=False, detrend=False, axis=-1)[1]

    def framed(xi: np.ndarray) -> np.ndarray:
        z = xi[:, 0].astype(np.float64) + 1j * xi[:, 1].astype(np.float64)
        seg = sliding_window_view(z, b, axis=-1)[:, :: b // 2] * win
        out: np.ndarray = (np.abs(fft.fft(seg, axis=-1)) ** 2).mean(axis=1)
        return out

    a, w = framed(x[:3]), welch(x[:3])
    if not np.allclose(a / a.sum(1, keepdims=True), w / w.sum(1, keepdims=True)):
        print("framed FFT and welch disagree: the comparison would be meaningless", file=sys.stderr)
        return 1
    rows = {
        "max_softmax": lambda i: ood_scores(logits[i : i + 1], "max_softmax", "logits"),
        "spectral score": lambda i: stats.score(x[i : i + 1]),
        "scipy.signal.welch": lambda i: welch(x[i : i + 1]),
        "framed FFT": lambda i: framed(x[i : i + 1]),
    }
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
        print(f"  {k:<20} {med * 1e6:8.1f} µs   x{med / base:7.1f} max_softmax")
    return 0


if __name__ == "__main__":
    sys.exit(main())
