"""Membership-inference attacks that need only the model's outputs, as per-example scores.

Every score is "higher means more likely a member":

* ``loss``: minus the cross-entropy of the true label (Yeom et al. 2018: training examples have
  lower loss).
* ``confidence``: the top softmax probability, whatever the label (Salem et al. 2019, ML-Leaks:
  the model is more confident on what it was trained on; needs no label).
* ``reference_loss``: the model's loss minus the mean loss of reference models that never saw the
  members, on the same example (the "difference to a reference model" calibration of Watson et
  al. 2022): it removes how hard an example is in itself. Only when reference scores are given.
* ``lira_offline``: the offline likelihood-ratio attack (Carlini et al. 2022, "Membership
  inference attacks from first principles", offline variant with a fixed variance): the model's
  logit-scaled confidence in the true label, phi = log(p / (1 - p)), against a Gaussian fitted to
  the reference models' phi on the same example (their per-example mean, one variance pooled
  over all examples, as the paper advises for few reference models); the score is the one-sided
  z = (phi - mu_out(x)) / sigma_out, rank-equivalent to the paper's 1 - Pr[Z > phi]. Needs at
  least two reference models.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ATTACKS", "attack_scores", "logit_confidence", "per_example_loss"]

ATTACKS: dict[str, str] = {
    "loss": "loss threshold (Yeom et al. 2018): members have lower cross-entropy on their label",
    "confidence": "confidence threshold (Salem et al. 2019): the top softmax probability",
    "reference_loss": (
        "calibrated loss (Watson et al. 2022): the model's loss minus the reference models' mean "
        "loss on the same example"
    ),
    "lira_offline": (
        "offline likelihood-ratio attack (Carlini et al. 2022, fixed variance): the model's "
        "logit-scaled confidence in the label against a Gaussian of the reference models' on the "
        "same example"
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


def logit_confidence(scores: np.ndarray, y: np.ndarray, output: str = "logits") -> np.ndarray:
    """phi = log(p_y / (1 - p_y)) per row, computed in log space (stable when p_y is near 1)."""
    lp = _log_probs(scores, output)
    rows = np.arange(len(y))
    yi = np.asarray(y, dtype=np.int64)
    own = lp[rows, yi]
    rest = lp.copy()
    rest[rows, yi] = -np.inf
    top = rest.max(axis=1, keepdims=True)
    others = top[:, 0] + np.log(np.exp(rest - top).sum(axis=1))  # log(1 - p_y)
    return own - np.maximum(others, -700.0)


def attack_scores(
    scores: np.ndarray,
    y: np.ndarray,
    output: str = "logits",
    reference_scores: np.ndarray | list[np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Each attack's per-example membership score (higher = member).

    ``reference_scores``: one (N, classes) array per reference model (or a single array), on the
    same rows; ``reference_loss`` needs one, ``lira_offline`` two or more.
    """
    loss = per_example_loss(scores, y, output)
    out = {"loss": -loss, "confidence": np.exp(_log_probs(scores, output).max(axis=1))}
    if reference_scores is None:
        return out
    refs = [reference_scores] if isinstance(reference_scores, np.ndarray) else reference_scores
    if not refs:
        return out
    ref_loss = np.mean([per_example_loss(r, y, output) for r in refs], axis=0)
    out["reference_loss"] = ref_loss - loss
    if len(refs) >= 2:
        phi_ref = np.stack([logit_confidence(r, y, output) for r in refs])  # (refs, N)
        mu = phi_ref.mean(axis=0)
        sigma = float(np.sqrt(phi_ref.var(axis=0, ddof=1).mean()))
        out["lira_offline"] = (logit_confidence(scores, y, output) - mu) / max(sigma, 1e-12)
    return out
