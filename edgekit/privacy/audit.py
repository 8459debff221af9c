"""One variant's membership-inference audit from its outputs on members and non-members."""

from __future__ import annotations

import numpy as np

from edgekit.privacy.attacks import ATTACKS, attack_scores
from edgekit.privacy.metrics import attack_figures, too_few_non_members
from edgekit.results import PrivacyResult

__all__ = ["audit_outputs", "subsample"]


def subsample(n: int, max_rows: int, seed: int) -> np.ndarray:
    """Indices of at most ``max_rows`` of ``n`` rows, seeded (all rows, in order, if fewer)."""
    if n <= max_rows:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, max_rows, replace=False))


def audit_outputs(
    *,
    member_scores: np.ndarray,
    member_y: np.ndarray,
    non_member_scores: np.ndarray,
    non_member_y: np.ndarray,
    output: str,
    members: str,
    non_members: str,
    bootstrap: int,
    member_reference: list[np.ndarray] | None = None,
    non_member_reference: list[np.ndarray] | None = None,
    reference_note: str = "",
    seed: int = 0,
) -> PrivacyResult:
    """Every attack's figures from the model's scores (rows: examples, columns: classes).

    ``member_reference`` / ``non_member_reference``: each reference model's scores on the same
    rows (one array per model); they enable the calibrated attacks.
    """
    n_m = len(member_y)
    y = np.concatenate([member_y, non_member_y])
    refs = None
    if member_reference and non_member_reference:
        refs = [np.concatenate([a, b]) for a, b in zip(member_reference, non_member_reference, strict=True)]
    # Both groups scored together: the offline LiRA pools one variance over all audited rows,
    # which must not differ between members and non-members.
    s = attack_scores(np.concatenate([member_scores, non_member_scores]), y, output, refs)
    attacks = [
        attack_figures(name, ATTACKS[name], v[:n_m], v[n_m:], bootstrap=bootstrap, seed=seed)
        for name, v in s.items()
    ]
    n_n = len(non_member_y)
    few = [
        f"TPR at {label} FPR: {n_n} non-members expect {n_n * f:g} false positive(s) there, too "
        "few for an estimate; its interval is the honest range"
        for f, label in ((0.01, "1 %"), (0.001, "0.1 %"))
        if too_few_non_members(n_n, f)
    ]
    return PrivacyResult(
        members=members,
        non_members=non_members,
        attacks=attacks,
        provenance=(
            f"{n_m} members, {n_n} non-members; 95 % intervals: "
            + (f"AUC by {bootstrap} bootstrap resamples of each group (percentile), " if bootstrap
               else "AUC: no interval (--bootstrap 0), ")
            + "advantage by the DKW band of both score "
            "distributions (distribution-free), TPR at 1 % / 0.1 % FPR by order statistics of the "
            "non-members and Clopper-Pearson bounds (exact); see edgekit.privacy.metrics"
            + "".join(f"; {line}" for line in few)
            + (f"; {reference_note}" if refs and reference_note else "")
        ),
    )
