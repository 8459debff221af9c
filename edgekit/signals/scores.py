"""Model outputs to confidence and out-of-distribution scores, shared by the build (which
calibrates the OOD threshold on them) and the daemon (which applies it) so both compute the
same numbers. Pure numpy."""

from __future__ import annotations

import numpy as np

__all__ = ["ood_scores", "softmax"]


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax, numerically stable."""
    z = np.asarray(z, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: np.ndarray = e / e.sum(axis=1, keepdims=True)
    return out


def ood_scores(scores: np.ndarray, kind: str, output: str) -> tuple[np.ndarray, np.ndarray]:
    """(confidence in [0, 1], OOD score where higher means more in-distribution).

    ``max_softmax``: the top softmax probability. ``energy``: the negative free energy
    ``logsumexp(logits)`` (Liu et al., 2020); from probabilities it falls back to log-probabilities.
    """
    s = np.asarray(scores, dtype=np.float64)
    if output == "probabilities":
        probs = s / np.clip(s.sum(axis=1, keepdims=True), 1e-12, None)
        logits = np.log(np.clip(probs, 1e-12, None))
    else:
        probs = softmax(s)
        logits = s
    conf = probs.max(axis=1)
    if kind == "energy":
        m = logits.max(axis=1, keepdims=True)
        score = m[:, 0] + np.log(np.exp(logits - m).sum(axis=1))
    else:
        score = conf
    return conf, score
