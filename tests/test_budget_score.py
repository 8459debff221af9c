"""The latency and memory budgets judge the model plus the chosen OOD score, as the device spends
them; the selection and the Pareto front read the same totals.

Figures are quarters (exact in binary): the model's p99 is 4.0 ms, the score's own p99 1.0 ms
and the p99 of the per-run sums 4.75 ms (a percentile of sums, not 4.0 + 1.0). A limit of 4.5 ms
passes on the model alone and fails once the score is counted; 4.75 is at the limit (pass) and
4.75 + 2**-20 just under it (fail the other way round).
"""

from __future__ import annotations

import pytest

from edgekit.budget import BudgetContext, check_variant, pareto_front, select_variant
from edgekit.config import BudgetsConfig
from edgekit.results import AccuracyResult, LatencyResult, ScoreCost, VariantResult

EPS = 2.0**-20
CTX = BudgetContext(reference_accuracy=0.75, min_slice_size=40)


def _lat(p50: float, p99: float, mem: float = 64.0, where: str = "host x86_64, measured") -> LatencyResult:
    return LatencyResult(p50, p50, p50, p99, p50, 0.0, 200, 1, 1, mem, "ort", where)


def _cost(total_p50: float = 2.5, total_p99: float = 4.75, score_p99: float = 1.0,
          total_mem: float = 72.0, stats_bytes: int = 3 * 2**20) -> ScoreCost:
    return ScoreCost("spectral", 200, 0.25, 0.5, 0.75, score_p99, 0.5, total_p50, total_p50,
                     total_p99, 1.0, 1.0, 1.0, 1.0, stats_bytes, 64.0, total_mem, "timed with")


def _v(name: str = "v", score: ScoreCost | None = None, lat: LatencyResult | None = None,
       acc: float = 0.75) -> VariantResult:
    return VariantResult(name, "onnxruntime", "fp32", "built",
                         accuracy=AccuracyResult(100, acc, acc, {}, 1.0, 0.0, []),
                         latency=lat or _lat(2.0, 4.0), score_cost=score)


def _latency_check(v: VariantResult, limit: float):
    (c,) = check_variant(v, BudgetsConfig(max_latency_p99_ms=limit), CTX)
    return c


def test_a_budget_the_model_alone_meets_fails_once_the_score_is_counted() -> None:
    assert _latency_check(_v(), 4.5).status == "pass"  # model alone: 4.0 ms
    c = _latency_check(_v(score=_cost()), 4.5)
    assert c.status == "fail" and c.value == 4.75
    assert "spectral" in c.detail and "model alone p99 4 ms" in c.detail


@pytest.mark.parametrize(("limit", "status"), [(4.75, "pass"), (4.75 - EPS, "fail"), (4.75 + EPS, "pass")])
def test_the_total_at_just_under_and_above_the_limit(limit: float, status: str) -> None:
    assert _latency_check(_v(score=_cost()), limit).status == status


def test_target_latency_gets_the_host_score_added_and_says_so() -> None:
    # the bench times the model only: 4.0 (target) + 1.0 (the score's p99 on the build host)
    v = _v(score=_cost(), lat=_lat(2.0, 4.0, where="target, measured by edgekit bench on rpi4b"))
    assert _latency_check(v, 5.0).status == "pass"
    c = _latency_check(v, 5.0 - EPS)
    assert c.status == "fail" and c.value == 5.0 and "build host" in c.detail


def test_memory_is_judged_with_the_score_loaded() -> None:
    budgets = BudgetsConfig(max_peak_memory_mb=70.0)
    (alone,) = check_variant(_v(), budgets, CTX)  # 64 MiB
    (both,) = check_variant(_v(score=_cost(total_mem=72.0)), budgets, CTX)
    assert alone.status == "pass" and both.status == "fail" and both.value == 72.0
    # a target figure (model only) gets the statistics' 3 MiB added: 64 + 3 = 67
    target = _v(score=_cost(), lat=_lat(2.0, 4.0, where="target, measured by edgekit bench"))
    (t,) = check_variant(target, BudgetsConfig(max_peak_memory_mb=67.0), CTX)
    (t_over,) = check_variant(target, BudgetsConfig(max_peak_memory_mb=67.0 - EPS), CTX)
    assert (t.status, t.value, t_over.status) == ("pass", 67.0, "fail")


def test_selection_and_pareto_read_the_totals() -> None:
    # "a" is faster as a model (p99 3.0 vs 4.0) but slower with its score (5.5 vs 4.75)
    a = _v("a", score=_cost(total_p50=3.5, total_p99=5.5), lat=_lat(1.5, 3.0))
    b = _v("b", score=_cost(total_p50=2.5, total_p99=4.75), lat=_lat(2.0, 4.0))
    for v in (a, b):
        v.checks = check_variant(v, BudgetsConfig(max_latency_p99_ms=6.0), CTX)
    chosen, why = select_variant([a, b])
    assert chosen is b and "4.75 ms" in why
    assert pareto_front([a, b]) == ["b"]  # same accuracy, b lower total p50: a is dominated
