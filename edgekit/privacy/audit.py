"""One variant's membership-inference audit from its outputs on members and non-members."""

from __future__ import annotations

import numpy as np

from edgekit.privacy.attacks import ATTACKS, attack_scores
from edgekit.privacy.metrics import attack_figures
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
    member_reference: np.ndarray | None = None,
    non_member_reference: np.ndarray | None = None,
    seed: int = 0,
) -> PrivacyResult:
    """Every attack's figures from the model's scores (rows: examples, columns: classes)."""
    ref_given = member_reference is not None and non_member_reference is not None
    sm = attack_scores(member_scores, member_y, output, member_reference if ref_given else None)
    sn = attack_scores(non_member_scores, non_member_y, output, non_member_reference if ref_given else None)
    attacks = [
        attack_figures(name, ATTACKS[name], sm[name], sn[name], bootstrap=bootstrap, seed=seed) for name in sm
    ]
    return PrivacyResult(
        members=members,
        non_members=non_members,
        attacks=attacks,
        provenance=(
            f"{len(member_y)} members, {len(non_member_y)} non-members; intervals: "
            f"{bootstrap} bootstrap resamples of each group, 95 % percentile"
        ),
    )
