"""Membership-inference attacks that need only the model's outputs, as per-example scores.

Every score is "higher means more likely a member":

* ``loss``: minus the cross-entropy of the true label (Yeom et al. 2018: training examples have
  lower loss).
* ``confidence``: the top softmax probability, whatever the label (Salem et al. 2019, ML-Leaks:
  the model is more confident on what it was trained on; needs no label).
* ``reference_loss``: the model's loss minus the loss of a reference model that never saw the
  members, on the same example (the offline "difference to a reference model" calibration of
  Carlini et al. 2022 / Watson et al. 2022): it removes how hard an example is in itself. Only
  when reference scores are given.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ATTACKS", "attack_scores", "per_example_loss"]

ATTACKS: dict[str, str] = {
    "loss": "loss threshold (Yeom et al. 2018): members have lower cross-entropy on their label",
    "confidence": "confidence threshold (Salem et al. 2019): the top softmax probability",
    "reference_loss": (
        "calibrated loss (Watson et al. 2022; offline reference as in Carlini et al. 2022): the "
        "model's loss minus a reference model's loss on the same example"
    ),
}


def _log_probs(scores: np.ndarray, output: str) -> np.ndarray:
    s = np.asarray(scores, dtype=np.float64)
    if output == "probabilities":
        return np.log(np.clip(s, 1e-12, None))
    z = s - s.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def per_example_loss(scores: np.ndarray, y: np.ndarray, output: str = "logits") -> np.ndarray:
    """Cross-entropy of each row's true label, from logits or probabilities."""
    lp = _log_probs(scores, output)
    return -lp[np.arange(len(y)), np.asarray(y, dtype=np.int64)]


def attack_scores(
    scores: np.ndarray,
    y: np.ndarray,
    output: str = "logits",
    reference_scores: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Each attack's per-example membership score (higher = member)."""
    loss = per_example_loss(scores, y, output)
    out = {"loss": -loss, "confidence": np.exp(_log_probs(scores, output).max(axis=1))}
    if reference_scores is not None:
        out["reference_loss"] = per_example_loss(reference_scores, y, output) - loss
    return out
