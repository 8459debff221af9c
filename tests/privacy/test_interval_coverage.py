"""Do the audit's 95 % intervals hold the truth? Simulated audits against closed-form figures.

Non-members score N(0, 1), members N(d, 1). Then, worked out here with the standard library only
(independently of edgekit.privacy.metrics):

* AUC = Phi(d / sqrt 2)  (difference of two unit normals is N(d, 2))
* advantage = max_t Phi(d - t) - Phi(-t) = 2 Phi(d / 2) - 1  (at t = d / 2)
* TPR at FPR f = Phi(d - z_{1-f})

200 simulated audits per separation; every 95 % interval must hold the truth in >= 90 % of them
(the brief's bar; 200 draws put a true 95 % at 190 +- 3). The bigger run is bench/bench_privacy.py.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pytest

from edgekit.privacy.metrics import attack_figures, too_few_non_members

PHI = NormalDist()
TRIALS = 200
ROWS = 500  # per group, as a small audit


def _truth(d: float) -> dict[str, float]:
    return {
        "auc": PHI.cdf(d / 2**0.5),
        "advantage": 2 * PHI.cdf(d / 2) - 1,
        "tpr_at_1pct_fpr": PHI.cdf(d - PHI.inv_cdf(0.99)),
        "tpr_at_01pct_fpr": PHI.cdf(d - PHI.inv_cdf(0.999)),
    }


@pytest.mark.parametrize("d", [0.5, 1.5])
def test_intervals_hold_the_closed_form_truth(d: float) -> None:
    truth = _truth(d)
    rng = np.random.default_rng(int(d * 10))
    held = dict.fromkeys(truth, 0)
    widths: dict[str, list[float]] = {k: [] for k in truth}
    for i in range(TRIALS):
        f = attack_figures(
            "sim", "", rng.normal(d, 1, ROWS), rng.normal(0, 1, ROWS), bootstrap=200, seed=i
        )
        for k, t in truth.items():
            lo, hi = getattr(f, f"{k}_ci")
            held[k] += lo <= t <= hi
            widths[k].append(hi - lo)
    for k in truth:
        assert held[k] >= 0.90 * TRIALS, f"{k}: held the truth {truth[k]:.4f} in {held[k]}/{TRIALS}"
    # an interval of [0, 1] would hold anything: the useful ones must stay narrow
    assert np.median(widths["auc"]) < 0.08
    assert np.median(widths["advantage"]) < 0.30
    assert np.median(widths["tpr_at_1pct_fpr"]) < 0.35  # 0.32 at d = 1.5: a steep ROC there


def test_percentile_bootstrap_of_the_maximum_would_fail_this_check() -> None:
    """The check above can fail: the old interval (percentile bootstrap of max TPR - FPR) held
    the closed-form advantage in clearly fewer than 90 % of audits."""
    d, rows = 0.5, 500
    truth = 2 * PHI.cdf(d / 2) - 1
    rng = np.random.default_rng(7)

    def adv(m: np.ndarray, n: np.ndarray) -> float:  # written here, independently of the code
        order = np.argsort(-np.concatenate([m, n]))  # continuous scores: no ties
        step = np.where(order < len(m), 1 / len(m), -1 / len(n))
        return float(np.max(np.cumsum(step)))

    held = 0
    for _ in range(60):
        m, n = rng.normal(d, 1, rows), rng.normal(0, 1, rows)
        boots = [adv(rng.choice(m, rows), rng.choice(n, rows)) for _ in range(100)]
        held += np.percentile(boots, 2.5) <= truth <= np.percentile(boots, 97.5)
    assert held < 0.85 * 60, held


def test_interval_brackets_follow_the_counts() -> None:
    rng = np.random.default_rng(1)
    f = attack_figures("x", "", rng.normal(1, 1, 1000), rng.normal(0, 1, 1000), bootstrap=0)
    # bootstrap 0: the AUC has no interval (null bounds and why); the others need no resampling
    assert f.auc_ci == (None, None) and f.auc_ci_note == "no interval (--bootstrap 0)"
    assert f.advantage_ci[0] < f.advantage < f.advantage_ci[1]
    # DKW half-width sqrt(ln(2 / 0.025) / 2000) per group = 0.0468, twice: 0.0936 each side
    assert f.advantage_ci[1] - f.advantage == pytest.approx(0.0936, abs=5e-4)
    # 1000 non-members at 0.1 % FPR: one false positive expected, a range only
    assert too_few_non_members(1000, 0.001) and not too_few_non_members(10_000, 0.001)
    assert f.tpr_at_01pct_fpr_ci[0] == 0.0
