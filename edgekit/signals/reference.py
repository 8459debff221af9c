"""Reference statistics of in-distribution data, in the manifest's ``reference_statistics``
format: written by the build from validation data, compared against by the daemon's drift
monitor (``edgekit.runtime.drift``). Here, below both, so neither imports the other.

``preprocessed``: per capture, the mean and standard deviation over the samples of each channel
of the preprocessed input (a feature vector's features as they are), summarised by quantiles;
``prediction_distribution``: the reference model's top-label shares; ``confidence``: the
quantiles of its confidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from edgekit.signals.scores import ood_scores

__all__ = ["DEFAULT_QUANTILES", "build_reference", "capture_statistics"]

DEFAULT_QUANTILES = (0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99)


def capture_statistics(xp: np.ndarray) -> tuple[list[str], np.ndarray]:
    """(names, (N, S) values): per-channel mean and std over the samples of ``(N, C, L)``, or
    the features themselves for ``(N, F)``."""
    x = np.asarray(xp, dtype=np.float32)
    if x.ndim == 2:
        return [f"f{i}" for i in range(x.shape[1])], x.astype(np.float64)
    flat = x.reshape(x.shape[0], x.shape[1], -1)
    names = [f"c{c}_{s}" for c in range(flat.shape[1]) for s in ("mean", "std")]
    stats = np.empty((flat.shape[0], flat.shape[1], 2), dtype=np.float64)
    stats[:, :, 0] = flat.mean(axis=2)
    stats[:, :, 1] = flat.std(axis=2)
    return names, stats.reshape(flat.shape[0], -1)


def build_reference(
    xp: np.ndarray,
    scores: np.ndarray,
    *,
    ood_score: str = "max_softmax",
    output_kind: str = "logits",
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
) -> dict[str, Any]:
    """Reference statistics of in-distribution validation data, in the manifest's format:
    ``preprocessed``, ``prediction_distribution`` and ``confidence``. ``xp`` is the
    preprocessed input and ``scores`` the reference model's outputs on it."""
    names, stats = capture_statistics(xp)
    qs = list(quantiles)
    conf, _ = ood_scores(np.asarray(scores), ood_score, output_kind)
    pred = np.asarray(scores).argmax(axis=1)
    return {
        "preprocessed": {
            "statistics": names,
            "quantiles": qs,
            "values": np.quantile(stats, qs, axis=0).T.tolist(),
            "n": int(stats.shape[0]),
        },
        "prediction_distribution": (np.bincount(pred, minlength=scores.shape[1]) / len(pred)).tolist(),
        "confidence": {"quantiles": qs, "values": np.quantile(conf, qs).tolist()},
    }
