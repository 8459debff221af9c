"""Figures of one membership-inference attack, each with a 95 % interval that covers the truth.

Scores are "higher means member". ROC AUC comes from ranks (the Mann-Whitney statistic, ties
counted half); membership advantage is max(TPR - FPR) over all thresholds (Yeom et al. 2018);
TPR at a low FPR is the literature's headline (Carlini et al. 2022, "Membership inference attacks
from first principles").

The intervals, one method per figure because one method does not fit all three:

* AUC: percentile bootstrap (Efron & Tibshirani 1993), members and non-members resampled
  separately. AUC is a smooth mean of pairs, where the percentile bootstrap is accurate.
* Advantage: a maximum over thresholds is biased upwards and a bootstrap of a maximum
  under-covers (it held the truth in 7-10 of 10 audits). Instead a distribution-free band:
  by the Dvoretzky-Kiefer-Wolfowitz inequality with Massart's constant (Massart 1990),
  P(sup_t |F_n(t) - F(t)| > e) <= 2 exp(-2 n e^2) for each group's score distribution; with
  alpha/2 per group, both empirical ROC axes are within e_m and e_n of the truth at every
  threshold at once, so the true maximum of TPR - FPR lies within e_m + e_n of the measured one.
  Conservative (coverage >= 95 % for any score distribution), never anti-conservative.
* TPR at FPR f: exact, distribution-free. The number K of non-members above the true threshold
  t_f is Binomial(N, f), so order statistics of the non-member scores bracket t_f
  (David & Nagaraja 2003, "Order statistics", distribution-free quantile intervals); at each
  bracketing threshold the members' TPR is a binomial proportion with a Clopper-Pearson bound
  (Clopper & Pearson 1934). alpha/4 per event (union bound). Exact for continuous scores; ties
  at the bracketing scores make it approximate. With N * f below a few, the interval is wide by
  design (``too_few_non_members``).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from edgekit.results import MembershipAttack

__all__ = [
    "NO_AUC_INTERVAL",
    "advantage",
    "advantage_interval",
    "attack_figures",
    "auc_bootstrap",
    "dkw_epsilon",
    "roc_auc",
    "roc_curve",
    "too_few_non_members",
    "tpr_at_fpr",
    "tpr_interval",
]

_FEW_FALSE_POSITIVES = 5.0  # below this many expected false positives, a TPR@FPR is a range only
NO_AUC_INTERVAL = "no interval (--bootstrap 0)"
"""What stands for the AUC's interval when no bootstrap resamples were drawn."""
_BOOT_CHUNK = 64  # bootstrap resamples per vectorised block (memory: chunk * rows floats)


def roc_auc(members: np.ndarray, non_members: np.ndarray) -> float:
    """P(score of a random member > score of a random non-member), ties counted half."""
    m, n = len(members), len(non_members)
    ranks = stats.rankdata(np.concatenate([members, non_members]).astype(np.float64))
    return float((ranks[:m].sum() - m * (m + 1) / 2.0) / (m * n))


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


def auc_bootstrap(
    members: np.ndarray, non_members: np.ndarray, resamples: int, rng: np.random.Generator
) -> np.ndarray:
    """AUC of ``resamples`` bootstrap resamples, vectorised: a resample is a multinomial count
    per row; each member's wins are the resampled count of non-members below it (plus half of
    the tied ones), read off a cumulative sum over the sorted non-members."""
    m, n = len(members), len(non_members)
    ns = np.sort(non_members)
    below = np.searchsorted(ns, members, side="left")  # non-members strictly below each member
    upto = np.searchsorted(ns, members, side="right")  # ... below or tied
    out = np.empty(resamples)
    for start in range(0, resamples, _BOOT_CHUNK):
        b = min(_BOOT_CHUNK, resamples - start)
        wm = rng.multinomial(m, np.full(m, 1.0 / m), size=b).astype(np.float64)
        # non-members are exchangeable: weights drawn on the sorted order are a valid resample
        wn = rng.multinomial(n, np.full(n, 1.0 / n), size=b).astype(np.float64)
        cum = np.concatenate([np.zeros((b, 1)), np.cumsum(wn, axis=1)], axis=1)
        wins = (cum[:, below] + cum[:, upto]) / 2.0
        out[start : start + b] = (wm * wins).sum(axis=1) / (m * n)
    return out


def dkw_epsilon(n: int, alpha: float) -> float:
    """Half-width e with P(sup |F_n - F| > e) <= alpha (DKW with Massart's constant)."""
    return math.sqrt(math.log(2.0 / alpha) / (2.0 * n))


def advantage_interval(point: float, n_m: int, n_n: int, confidence: float) -> tuple[float, float]:
    """The DKW band of the advantage: ``point`` +- (e_m + e_n), alpha split between the groups."""
    alpha = 1.0 - confidence
    half = dkw_epsilon(n_m, alpha / 2) + dkw_epsilon(n_n, alpha / 2)
    return max(0.0, point - half), min(1.0, point + half)


def too_few_non_members(n_non_members: int, fpr: float) -> bool:
    """True when fewer than a few false positives are expected at ``fpr`` (a range, not a figure)."""
    return n_non_members * fpr < _FEW_FALSE_POSITIVES


def tpr_interval(
    members: np.ndarray, non_members: np.ndarray, fpr: float, confidence: float
) -> tuple[float, float]:
    """Distribution-free interval of the TPR at the threshold whose true FPR is ``fpr``."""
    q = (1.0 - confidence) / 4.0
    n_m, n_n = len(members), len(non_members)
    desc = np.sort(non_members)[::-1]  # desc[k-1]: the k-th largest non-member score
    # K ~ Bin(N, fpr): the largest k with P(K >= k) >= 1 - q (the q-quantile of K) puts
    # desc[k-1] at or above t_f; k = 0 is the threshold +inf (TPR 0)
    k_lo = int(stats.binom.ppf(q, n_n, fpr))
    # ... and the smallest k with P(K <= k - 1) >= 1 - q puts desc[k-1] below t_f
    k_hi = int(stats.binom.ppf(1 - q, n_n, fpr)) + 1
    if k_lo >= 1:
        x = int(np.count_nonzero(members > desc[k_lo - 1]))  # strictly above: safe with ties
        low = float(stats.beta.ppf(q, x, n_m - x + 1)) if x > 0 else 0.0
    else:
        low = 0.0
    if k_hi <= n_n:
        x = int(np.count_nonzero(members >= desc[k_hi - 1]))
        high = float(stats.beta.ppf(1 - q, x + 1, n_m - x)) if x < n_m else 1.0
    else:
        high = 1.0
    return low, high


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
    """Figures of one attack's scores, each with its interval (see the module docstring);
    ``bootstrap`` = 0 gives the AUC no interval: null bounds and :data:`NO_AUC_INTERVAL` (the
    others need no resampling)."""
    m = np.asarray(members, dtype=np.float64)
    n = np.asarray(non_members, dtype=np.float64)
    fpr, tpr = roc_curve(m, n)
    auc = roc_auc(m, n)
    adv = float(np.max(tpr - fpr))
    t1, t01 = float(np.max(tpr[fpr <= 0.01])), float(np.max(tpr[fpr <= 0.001]))
    auc_ci: tuple[float | None, float | None] = (None, None)
    if bootstrap:
        boots = auc_bootstrap(m, n, bootstrap, np.random.default_rng(seed))
        lo_q, hi_q = 100 * (1 - confidence) / 2, 100 * (1 + confidence) / 2
        auc_ci = (float(np.percentile(boots, lo_q)), float(np.percentile(boots, hi_q)))
    return MembershipAttack(
        attack,
        method,
        len(m),
        len(n),
        auc,
        auc_ci,
        adv,
        advantage_interval(adv, len(m), len(n), confidence),
        t1,
        tpr_interval(m, n, 0.01, confidence),
        t01,
        tpr_interval(m, n, 0.001, confidence),
        bootstrap,
        confidence,
        "" if bootstrap else NO_AUC_INTERVAL,
    )
