"""Figures of one membership-inference attack, with bootstrap intervals.

Scores are "higher means member". ROC AUC comes from ranks (the Mann-Whitney statistic, ties
counted half); membership advantage is max(TPR - FPR) over all thresholds (Yeom et al. 2018);
TPR at a low FPR is the literature's headline (Carlini et al. 2022, "Membership inference attacks
from first principles"). Intervals resample members and non-members separately (percentile
bootstrap), so the split between the two groups stays as measured.
"""

from __future__ import annotations

import numpy as np

from edgekit.results import MembershipAttack

__all__ = ["advantage", "attack_figures", "roc_auc", "roc_curve", "tpr_at_fpr"]


def roc_auc(members: np.ndarray, non_members: np.ndarray) -> float:
    """P(score of a random member > score of a random non-member), ties counted half."""
    m, n = len(members), len(non_members)
    both = np.concatenate([members, non_members]).astype(np.float64)
    order = np.argsort(both, kind="mergesort")
    ranks = np.empty(len(both), dtype=np.float64)
    ranks[order] = np.arange(1, len(both) + 1)
    # average the ranks of tied scores
    sorted_vals = both[order]
    _, start, counts = np.unique(sorted_vals, return_index=True, return_counts=True)
    for s, c in zip(start, counts, strict=True):
        if c > 1:
            ranks[order[s : s + c]] = s + (c + 1) / 2.0
    rank_sum = ranks[:m].sum()
    return float((rank_sum - m * (m + 1) / 2.0) / (m * n))


def roc_curve(members: np.ndarray, non_members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(FPR, TPR) at every distinct threshold "score >= t", from (0, 0) to (1, 1)."""
    both = np.concatenate([members, non_members]).astype(np.float64)
    is_m = np.concatenate([np.ones(len(members)), np.zeros(len(non_members))])
    order = np.argsort(-both, kind="mergesort")
    s, lab = both[order], is_m[order]
    tp, fp = np.cumsum(lab), np.cumsum(1.0 - lab)
    last = np.r_[s[1:] != s[:-1], True]  # a threshold falls only between distinct scores
    tpr = np.r_[0.0, tp[last] / len(members)]
    fpr = np.r_[0.0, fp[last] / len(non_members)]
    return fpr, tpr


def advantage(members: np.ndarray, non_members: np.ndarray) -> float:
    """Membership advantage: max over thresholds of TPR - FPR (0 = no better than a guess)."""
    fpr, tpr = roc_curve(members, non_members)
    return float(np.max(tpr - fpr))


def tpr_at_fpr(members: np.ndarray, non_members: np.ndarray, fpr_max: float) -> float:
    """The highest TPR of a threshold whose FPR is at most ``fpr_max``."""
    fpr, tpr = roc_curve(members, non_members)
    return float(np.max(tpr[fpr <= fpr_max]))


def _figures(m: np.ndarray, n: np.ndarray) -> tuple[float, float, float, float]:
    fpr, tpr = roc_curve(m, n)
    return (
        roc_auc(m, n),
        float(np.max(tpr - fpr)),
        float(np.max(tpr[fpr <= 0.01])),
        float(np.max(tpr[fpr <= 0.001])),
    )


def attack_figures(
    attack: str,
    method: str,
    members: np.ndarray,
    non_members: np.ndarray,
    *,
    bootstrap: int = 200,
    confidence: float = 0.95,
    seed: int = 0,
) -> MembershipAttack:
    """Figures of one attack's scores, each with a bootstrap interval."""
    m = np.asarray(members, dtype=np.float64)
    n = np.asarray(non_members, dtype=np.float64)
    point = _figures(m, n)
    rng = np.random.default_rng(seed)
    samples = np.array(
        [_figures(rng.choice(m, len(m)), rng.choice(n, len(n))) for _ in range(bootstrap)]
    ).reshape(bootstrap, 4)
    lo_q, hi_q = 100 * (1 - confidence) / 2, 100 * (1 + confidence) / 2
    ci = [
        (float(np.percentile(samples[:, i], lo_q)), float(np.percentile(samples[:, i], hi_q)))
        if bootstrap
        else (point[i], point[i])
        for i in range(4)
    ]
    return MembershipAttack(
        attack,
        method,
        len(m),
        len(n),
        point[0],
        ci[0],
        point[1],
        ci[1],
        point[2],
        ci[2],
        point[3],
        ci[3],
        bootstrap,
        confidence,
    )
