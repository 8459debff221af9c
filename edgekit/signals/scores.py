"""Model outputs to confidence and out-of-distribution scores, shared by the build (which
calibrates the OOD threshold on them) and the daemon (which applies them) so both compute the
same numbers. Numpy (and scipy's Welch PSD for ``spectral``).

Every score is "higher means more in-distribution": ``max_softmax``, ``energy`` (from the class
scores), the feature-space ``mahalanobis`` and ``knn`` (``signals.ood``, from the penultimate
features) and the input-space ``spectral`` (``signals.spectral``, from the raw capture). The
confidence is the top softmax probability after temperature scaling (``signals.calibration``).
"""

from __future__ import annotations

import numpy as np

from edgekit.signals.ood import FEATURE_SCORES, FeatureStats
from edgekit.signals.spectral import INPUT_SCORES, SpectralStats

__all__ = ["LOGIT_SCORES", "SCORES", "logit_score", "ood_scores", "softmax"]

LOGIT_SCORES = ("max_softmax", "energy")
SCORES = LOGIT_SCORES + FEATURE_SCORES + INPUT_SCORES
"""Every OOD score edgekit knows, in the order the build measures them."""


def logit_score(name: str) -> str:
    """The configured score when it needs the class scores only, else max-softmax: what a stage
    without penultimate features (validate before the ood stage, a baseline) can compute."""
    return name if name in LOGIT_SCORES else "max_softmax"


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax, numerically stable."""
    z = np.asarray(z, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: np.ndarray = e / e.sum(axis=1, keepdims=True)
    return out


def ood_scores(
    scores: np.ndarray,
    kind: str,
    output: str,
    *,
    temperature: float = 1.0,
    features: np.ndarray | None = None,
    stats: FeatureStats | None = None,
    raw: np.ndarray | None = None,
    spectral: SpectralStats | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(confidence in [0, 1], OOD score where higher means more in-distribution).

    ``max_softmax``: the top softmax probability (of the tempered logits). ``energy``: the
    negative free energy ``T logsumexp(logits / T)`` (Liu et al., 2020); from probabilities the
    logits are the log-probabilities. ``mahalanobis`` and ``knn`` need ``features`` and the
    fitted ``stats``; ``spectral`` needs the raw captures ``raw`` ``(N, 2, L)`` (before
    preprocessing) and the fitted ``spectral`` statistics.
    """
    s = np.asarray(scores, dtype=np.float64)
    if output == "probabilities":
        probs = s / np.clip(s.sum(axis=1, keepdims=True), 1e-12, None)
        logits = np.log(np.clip(probs, 1e-12, None))
    else:
        logits = s
    t = float(temperature)
    if not np.isfinite(t) or t <= 0:
        raise ValueError(f"temperature must be a number > 0, got {temperature!r}")
    tempered = softmax(logits / t) if (t != 1.0 or output != "probabilities") else probs
    conf = tempered.max(axis=1)
    if kind == "energy":
        z = logits / t
        m = z.max(axis=1, keepdims=True)
        score = t * (m[:, 0] + np.log(np.exp(z - m).sum(axis=1)))
    elif kind in FEATURE_SCORES:
        if features is None or stats is None:
            raise ValueError(f"the {kind} score needs the penultimate features and fitted stats")
        score = stats.score(kind, features)
    elif kind in INPUT_SCORES:
        if raw is None or spectral is None:
            raise ValueError(f"the {kind} score needs the raw captures and fitted spectral stats")
        score = spectral.score(raw)
    elif kind == "max_softmax":
        score = conf
    else:
        raise ValueError(f"unknown OOD score {kind!r}; accepted: {', '.join(SCORES)}")
    return conf, score
