"""Temperature scaling (Guo et al., 2017) and the expected calibration error, shared by the build
(which fits the temperature on calibration data and reports ECE before and after) and the daemon
(which divides its logits by it), so a confidence means the same on both sides."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax

__all__ = ["ReliabilityBins", "as_logits", "expected_calibration_error", "fit_temperature"]

# Temperatures searched, as log T: from 1/20 to 20 covers every model we have seen many times over.
_LOG_T_BOUNDS = (float(np.log(0.05)), float(np.log(20.0)))


def as_logits(scores: np.ndarray, output: str) -> np.ndarray:
    """Logits as they are; probabilities as log-probabilities (softmax of them gives them back)."""
    s = np.asarray(scores, dtype=np.float64)
    if output == "probabilities":
        p = s / np.clip(s.sum(axis=1, keepdims=True), 1e-12, None)
        out: np.ndarray = np.log(np.clip(p, 1e-12, None))
        return out
    return s


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The T > 0 minimising the negative log-likelihood of ``softmax(logits / T)`` on labels ``y``.

    Bounded one-dimensional search on log T (scipy's Brent method): the NLL is smooth in log T,
    and the bound keeps a degenerate set (all correct, all wrong) from running off to 0 or infinity.
    """
    z = np.asarray(logits, dtype=np.float64)
    yi = np.asarray(y, dtype=np.int64)
    if z.ndim != 2 or len(z) != len(yi) or len(z) == 0:
        raise ValueError(f"fit_temperature: logits {z.shape} and labels {yi.shape} do not match")

    def nll(log_t: float) -> float:
        lp = log_softmax(z / np.exp(log_t), axis=1)
        return float(-lp[np.arange(len(yi)), yi].mean())

    res = minimize_scalar(nll, bounds=_LOG_T_BOUNDS, method="bounded", options={"xatol": 1e-5})
    return float(np.exp(res.x))


@dataclass(frozen=True)
class ReliabilityBins:
    """Equal-width confidence bins: mean confidence, accuracy and count of each non-empty one."""

    confidence: list[float]
    accuracy: list[float]
    count: list[int]
    ece: float


def expected_calibration_error(
    confidence: np.ndarray, correct: np.ndarray, n_bins: int = 15
) -> ReliabilityBins:
    """ECE: the count-weighted mean |accuracy - confidence| over ``n_bins`` equal-width bins of
    (0, 1] (a confidence of exactly 1 falls in the last bin)."""
    c = np.asarray(confidence, dtype=np.float64)
    ok = np.asarray(correct, dtype=bool)
    if c.shape != ok.shape or c.size == 0:
        raise ValueError("expected_calibration_error: confidence and correct must match, non-empty")
    idx = np.clip(np.ceil(c * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    conf_b, acc_b, n_b = [], [], []
    ece = 0.0
    for b in range(n_bins):
        m = idx == b
        n = int(m.sum())
        if n == 0:
            continue
        mc, ma = float(c[m].mean()), float(ok[m].mean())
        conf_b.append(mc)
        acc_b.append(ma)
        n_b.append(n)
        ece += n / c.size * abs(ma - mc)
    return ReliabilityBins(conf_b, acc_b, n_b, float(ece))
