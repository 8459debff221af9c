"""``budget.device_latency`` / ``device_memory`` and the budgets that read them, pinned value by
value: every figure below is worked out by hand from the quarters in the fixtures (exact in
binary), never by calling the code under test. Written for the mutation round on ``budget.py``
(``scripts/mutation.sh budget``): each test names the fault it would notice.
"""

from __future__ import annotations

import math

from edgekit.budget import (
    BudgetContext,
    check_variant,
    device_latency,
    device_memory,
    pareto_front,
    select_variant,
)
from edgekit.config import BudgetsConfig
from edgekit.results import AccuracyResult, EnergyFigure, LatencyResult, ScoreCost, VariantResult

EPS = 2.0**-20
CTX = BudgetContext(reference_accuracy=0.75, min_slice_size=40)
HOST = "host x86_64, measured, onnxruntime, 200 runs"
TARGET = "target rpi4b, measured by edgekit bench"


def _lat(p50: float, p99: float, mem: float = 64.0, where: str = HOST) -> LatencyResult:
    # cold and p90 and mean set apart from p50/p99 so a mutant reading the wrong field shows
    return LatencyResult(9.0, p50, p50 + 0.25, p99, p50 + 0.5, 0.0, 200, 1, 1, mem, "ort", where)


def _cost(p50: float = 0.5, p99: float = 1.0, total_p50: float = 2.75, total_p99: float = 4.75,
          stats_bytes: int = 3 * 2**20, model_mem: float = 64.0, total_mem: float = 72.0) -> ScoreCost:
    return ScoreCost("spectral", 200, 0.25, p50, 0.75, p99, 0.5, total_p50, total_p50 + 0.125,
                     total_p99, 1.0, 1.0, 1.0, 1.0, stats_bytes, model_mem, total_mem, "timed with")


def _v(name: str = "v", score: ScoreCost | None = None, lat: LatencyResult | None = None,
       acc: float = 0.75, no_lat: bool = False) -> VariantResult:
    return VariantResult(name, "onnxruntime", "fp32", "built",
                         accuracy=AccuracyResult(100, acc, acc, {}, 1.0, 0.0, []),
                         latency=None if no_lat else (lat or _lat(2.0, 4.0)), score_cost=score)


def _energy(mj: float) -> EnergyFigure:
    return EnergyFigure(mj, mj, 0.0, "estimated", "model", 0.0, 100, 1)


# --- device_latency -------------------------------------------------------------------------


def test_no_latency_means_no_device_latency_even_with_a_score() -> None:
    assert device_latency(_v(no_lat=True)) is None
    assert device_latency(_v(score=_cost(), no_lat=True)) is None


def test_model_only_without_a_score() -> None:
    assert device_latency(_v(lat=_lat(2.0, 4.0))) == (2.0, 4.0, "model only (no OOD score timed)")


def test_host_figures_are_the_per_run_sums_not_sums_of_percentiles() -> None:
    # host: totals 2.75 / 4.75 (not 2.0 + 0.5 = 2.5 nor 4.0 + 1.0 = 5.0)
    p50, p99, what = device_latency(_v(score=_cost(), lat=_lat(2.0, 4.0)))  # type: ignore[misc]
    assert (p50, p99) == (2.75, 4.75)
    assert what == ("model + the spectral score, p99 of 200 per-run sums (model alone p99 "
                    "4 ms, score p99 1 ms)")


def test_target_figures_get_the_host_score_added_to_each_percentile() -> None:
    # target: 2.0 + 0.5 = 2.5 and 4.0 + 1.0 = 5.0 (the per-run sums were timed on the host)
    p50, p99, what = device_latency(  # type: ignore[misc]
        _v(score=_cost(), lat=_lat(2.0, 4.0, where=TARGET)))
    assert (p50, p99) == (2.5, 5.0)
    assert what == ("model p99 4 ms on the target + the spectral score's p99 1 ms timed on the "
                    "build host (the target is likely slower)")


def test_only_a_provenance_starting_with_target_counts_as_target() -> None:
    # "target" later in the text is a host figure: the host's per-run sums
    got = device_latency(_v(score=_cost(), lat=_lat(2.0, 4.0, where="host, compared with target")))
    assert got is not None and got[:2] == (2.75, 4.75)


# --- device_memory --------------------------------------------------------------------------


def test_memory_none_model_only_host_total_and_target_plus_statistics() -> None:
    assert device_memory(_v(no_lat=True)) is None
    assert device_memory(_v(score=_cost(), no_lat=True)) is None
    assert device_memory(_v(lat=_lat(2.0, 4.0, mem=64.0))) == 64.0
    assert device_memory(_v(score=_cost(total_mem=72.0), lat=_lat(2.0, 4.0, mem=64.0))) == 72.0
    # target: 64 MiB + 3 * 2**20 bytes = 67 MiB; 1 byte is 2**-20 MiB
    t = _lat(2.0, 4.0, mem=64.0, where=TARGET)
    assert device_memory(_v(score=_cost(stats_bytes=3 * 2**20), lat=t)) == 67.0
    assert device_memory(_v(score=_cost(stats_bytes=1), lat=t)) == 64.0 + 2.0**-20
    assert device_memory(_v(score=_cost(stats_bytes=0), lat=t)) == 64.0


# --- the budgets reading them ---------------------------------------------------------------


def _one(v: VariantResult, **limit: float):
    (c,) = check_variant(v, BudgetsConfig(**limit), CTX)
    return c


def test_latency_budget_not_evaluated_without_a_measurement() -> None:
    c = _one(_v(score=_cost(), no_lat=True), max_latency_p99_ms=10.0)
    assert (c.status, c.value, c.unit, c.detail) == ("not_evaluated", None, "ms", "latency not measured")


def test_latency_budget_detail_names_what_and_where() -> None:
    c = _one(_v(lat=_lat(2.0, 4.0)), max_latency_p99_ms=4.0)
    assert (c.status, c.value, c.unit, c.detail) == ("pass", 4.0, "ms", HOST)
    c = _one(_v(score=_cost(), lat=_lat(2.0, 4.0)), max_latency_p99_ms=4.75)
    assert c.status == "pass" and c.value == 4.75
    assert c.detail == ("model + the spectral score, p99 of 200 per-run sums (model alone p99 4 ms, "
                        "score p99 1 ms); " + HOST)


def test_latency_budget_target_boundaries() -> None:
    v = _v(score=_cost(), lat=_lat(2.0, 4.0, where=TARGET))  # 5.0 ms
    assert _one(v, max_latency_p99_ms=5.0).status == "pass"
    assert _one(v, max_latency_p99_ms=5.0 + EPS).status == "pass"
    assert _one(v, max_latency_p99_ms=5.0 - EPS).status == "fail"


def test_memory_budget_refusal_detail_and_boundaries() -> None:
    c = _one(_v(score=_cost(), no_lat=True), max_peak_memory_mb=100.0)
    assert (c.status, c.value, c.unit, c.detail) == ("not_evaluated", None, "MiB", "memory not measured")
    c = _one(_v(lat=_lat(2.0, 4.0, mem=64.0)), max_peak_memory_mb=64.0)
    assert (c.status, c.value, c.unit, c.detail) == ("pass", 64.0, "MiB", "")
    v = _v(score=_cost(total_mem=72.0))
    c = _one(v, max_peak_memory_mb=72.0)
    assert (c.status, c.value, c.detail) == ("pass", 72.0, "with the spectral score loaded")
    assert _one(v, max_peak_memory_mb=72.0 - EPS).status == "fail"
    assert _one(v, max_peak_memory_mb=72.0 + EPS).status == "pass"


def test_non_finite_device_figures_are_not_evaluated() -> None:
    c = _one(_v(score=_cost(total_p99=math.inf)), max_latency_p99_ms=1e9)
    assert c.status == "not_evaluated" and c.detail == "the measured value is not a finite number"
    c = _one(_v(score=_cost(total_mem=math.nan)), max_peak_memory_mb=1e9)
    assert c.status == "not_evaluated"


# --- selection and the Pareto front read the device figures ----------------------------------


def _passing(v: VariantResult) -> VariantResult:
    v.checks = check_variant(v, BudgetsConfig(max_latency_p99_ms=100.0), CTX)
    assert v.passed
    return v


def test_selection_by_latency_uses_the_device_p99_and_says_it() -> None:
    # model p99: a 3.0 < b 4.0; device p99: a 5.5 > b 4.75 -> b
    a = _passing(_v("a", score=_cost(total_p50=2.0, total_p99=5.5), lat=_lat(1.5, 3.0)))
    b = _passing(_v("b", score=_cost(total_p50=3.0, total_p99=4.75), lat=_lat(2.0, 4.0)))
    chosen, why = select_variant([a, b])
    assert chosen is b
    assert why == "meets every budget at the lowest p99 latency (4.75 ms, host)"
    chosen, _ = select_variant([b, a])
    assert chosen is b


def test_selection_by_energy_breaks_ties_on_device_latency() -> None:
    # equal energy: the lower device p99 wins, whatever the order
    a = _passing(_v("a", score=_cost(total_p99=5.5), lat=_lat(1.5, 3.0)))
    b = _passing(_v("b", score=_cost(total_p99=4.75), lat=_lat(2.0, 4.0)))
    a.energy, b.energy = _energy(2.0), _energy(2.0)
    assert select_variant([a, b])[0] is b and select_variant([b, a])[0] is b
    # lower energy beats lower latency
    a.energy = _energy(1.5)
    chosen, why = select_variant([b, a])
    assert chosen is a and why == "meets every budget at the lowest energy per inference (1.5 mJ, estimated)"


def test_a_variant_without_latency_sorts_after_one_with_it() -> None:
    # no latency: cost inf; selection by latency picks the measured one either way round
    a = _v("a", no_lat=True)
    a.checks = []  # nothing configured: passes
    b = _passing(_v("b", lat=_lat(2.0, 40.0)))
    assert select_variant([a, b])[0] is b and select_variant([b, a])[0] is b


def test_pareto_front_uses_the_device_p50() -> None:
    # same accuracy; model p50 a 1.0 < b 2.0, device p50 a 3.5 > b 2.75: a dominated
    a = _v("a", score=_cost(total_p50=3.5), lat=_lat(1.0, 3.0))
    b = _v("b", score=_cost(total_p50=2.75), lat=_lat(2.0, 4.0))
    assert pareto_front([a, b]) == ["b"]
    # target: p50 = model + score p50: a 1.0 + 0.5 = 1.5 < b 2.0 + 0.5 = 2.5, b more accurate
    a = _v("a", score=_cost(p50=0.5), lat=_lat(1.0, 3.0, where=TARGET), acc=0.5)
    b = _v("b", score=_cost(p50=0.5), lat=_lat(2.0, 4.0, where=TARGET), acc=0.75)
    assert pareto_front([b, a]) == ["a", "b"]
    # a variant without latency is not on the front
    assert pareto_front([_v("c", no_lat=True), b]) == ["b"]


def test_a_scenario_with_rows_but_no_accuracy_is_not_evaluated_not_a_crash() -> None:
    # evaluate_scenarios never writes this, but a manifest read back or a future evaluator could:
    # rows counted, no accuracy -> "not evaluated" (never a pass, never a TypeError)
    from edgekit.budget import check_scenarios
    from edgekit.config import ScenarioConfig
    from edgekit.results import ScenarioResult

    v = _v()
    v.scenarios = [ScenarioResult("s", "snr_db < 0", 0.5, 40, 0, None, why_empty="no labels")]
    (c,) = check_scenarios(v, [ScenarioConfig("s", "snr_db < 0", 0.5)])
    assert (c.budget, c.status, c.value) == ("scenario:s", "not_evaluated", None)
    assert c.detail == "filter 'snr_db < 0': no labels"
