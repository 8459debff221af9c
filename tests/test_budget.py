"""Budget verdicts: pass, fail with the excess, not evaluated (never a pass), selection."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from edgekit.budget import (
    BUDGET_KINDS,
    BudgetContext,
    check_scenarios,
    check_variant,
    pareto_front,
    select_variant,
)
from edgekit.builder.scenarios import evaluate_scenarios
from edgekit.config import BudgetsConfig, ScenarioConfig
from edgekit.results import (
    AccuracyResult,
    BudgetCheck,
    EnergyFigure,
    LatencyResult,
    ScenarioResult,
    SliceResult,
    VariantResult,
)

CTX = BudgetContext(reference_accuracy=0.90, min_slice_size=40)


def _lat(p50: float, p99: float, mem: float = 100.0) -> LatencyResult:
    return LatencyResult(p50, p50, p50, p99, p50, 0.1, 100, 1, 1, mem, "ort", "host, measured")


def _acc(acc: float, slices: list[SliceResult] | None = None) -> AccuracyResult:
    return AccuracyResult(1000, acc, acc, {}, 0.99, 0.1, slices or [])


def _variant(
    name: str,
    acc: float | None,
    p50: float,
    p99: float,
    size: int = 10_240,
    slices: list[SliceResult] | None = None,
    energy: EnergyFigure | None = None,
) -> VariantResult:
    v = VariantResult(name, "onnxruntime", "int8", "built", size_bytes=size)
    v.accuracy = _acc(acc, slices) if acc is not None else None
    v.latency = _lat(p50, p99)
    v.energy = energy
    return v


def _by(checks: list, key: str):
    return next(c for c in checks if c.budget == key)


def test_every_config_budget_has_a_kind() -> None:
    from dataclasses import fields

    keys = {f.name for f in fields(BudgetsConfig)} - {"require_measured_energy"}
    assert keys == set(BUDGET_KINDS)


def test_pass_and_fail_with_excess() -> None:
    b = BudgetsConfig(max_accuracy_drop=0.02, max_latency_p99_ms=5.0, max_model_size_kb=8.0)
    checks = check_variant(_variant("v", 0.87, 1.0, 6.5), b, CTX)
    drop = _by(checks, "max_accuracy_drop")
    assert (
        drop.status == "fail"
        and drop.value == pytest.approx(0.03)
        and drop.excess == pytest.approx(0.01)
    )
    lat = _by(checks, "max_latency_p99_ms")
    assert lat.status == "fail" and lat.excess == pytest.approx(1.5)
    size = _by(checks, "max_model_size_kb")
    assert size.status == "fail" and size.value == pytest.approx(10.0)


def test_min_accuracy_excess_sign() -> None:
    c = _by(
        check_variant(_variant("v", 0.6, 1, 1), BudgetsConfig(min_accuracy=0.7), CTX),
        "min_accuracy",
    )
    assert c.status == "fail" and c.excess == pytest.approx(0.1)


def test_slice_budget_names_the_slice_and_ignores_small_ones() -> None:
    slices = [
        SliceResult("snr_db", "[-10, 0)", 500, 0.5, 0.6, 0.10),
        SliceResult("class", "qpsk", 10, 0.0, 1.0, 1.0),
    ]  # too small to judge
    c = _by(
        check_variant(
            _variant("v", 0.9, 1, 1, slices=slices),
            BudgetsConfig(max_slice_accuracy_drop=0.05),
            CTX,
        ),
        "max_slice_accuracy_drop",
    )
    assert c.status == "fail" and c.value == pytest.approx(0.10)
    assert "snr_db=[-10, 0)" in c.detail


def test_not_evaluated_is_not_a_pass() -> None:
    v = _variant("v", None, 1, 1)
    checks = check_variant(
        v, BudgetsConfig(max_accuracy_drop=0.02, max_energy_per_inference_mj=1.0), CTX
    )
    assert {c.status for c in checks} == {"not_evaluated"}
    v.checks = checks
    assert not v.passed
    chosen, why = select_variant([v])
    assert chosen is None and "no variant" in why


def _energy(mj: float, kind: str = "estimated", loss: float | None = 5.0) -> EnergyFigure:
    # a measured figure here stands for one is_measured_on_target accepted
    return EnergyFigure(
        mj,
        mj / 2,
        0.01,
        kind,
        "model:rpi4",
        10.0,
        1000,
        5,  # type: ignore[arg-type]
        battery_life_h=10.0,
        battery_life_without_model_h=11.0,
        battery_life_loss_pct=loss,
        measured_on_target=kind == "measured",
    )


def test_require_measured_energy() -> None:
    b = BudgetsConfig(max_battery_life_loss_pct=15.0, require_measured_energy=True)
    ctx = BudgetContext(0.9, 40, require_measured_energy=True)
    c = _by(
        check_variant(_variant("v", 0.9, 1, 1, energy=_energy(1.0)), b, ctx),
        "max_battery_life_loss_pct",
    )
    assert c.status == "not_evaluated" and "estimate" in c.detail
    c2 = _by(
        check_variant(_variant("v", 0.9, 1, 1, energy=_energy(1.0, "measured")), b, ctx),
        "max_battery_life_loss_pct",
    )
    assert c2.status == "pass"


def test_battery_loss_budget_fails_by_amount() -> None:
    b = BudgetsConfig(max_battery_life_loss_pct=15.0)
    c = _by(
        check_variant(_variant("v", 0.9, 1, 1, energy=_energy(1.0, loss=21.5)), b, CTX),
        "max_battery_life_loss_pct",
    )
    assert c.status == "fail" and c.excess == pytest.approx(6.5)


def test_selection_lowest_latency_then_energy() -> None:
    b = BudgetsConfig(max_accuracy_drop=0.05)
    a, f, s = (
        _variant("a", 0.89, 2.0, 3.0),
        _variant("fast", 0.88, 1.0, 1.5),
        _variant("slow", 0.9, 5, 6),
    )
    bad = _variant("broken", 0.5, 0.1, 0.2)
    for v in (a, f, s, bad):
        v.checks = check_variant(v, b, CTX)
    chosen, why = select_variant([a, f, s, bad])
    assert chosen is f and "latency" in why
    a.energy, f.energy, s.energy = _energy(1.0), _energy(3.0), _energy(2.0)
    chosen, why = select_variant([a, f, s, bad])
    assert chosen is a and "energy" in why


def test_pareto_front() -> None:
    vs = [
        _variant("a", 0.90, 5, 6),
        _variant("b", 0.88, 1, 2),
        _variant("c", 0.87, 3, 4),
        _variant("d", 0.90, 4, 5),
    ]
    assert pareto_front(vs) == ["b", "d"]


def test_measured_elsewhere_is_not_evaluated_with_the_reason() -> None:
    b = BudgetsConfig(max_battery_life_loss_pct=15.0, require_measured_energy=True)
    ctx = BudgetContext(0.9, 40, require_measured_energy=True)
    e = dataclasses.replace(
        _energy(1.0, "measured"), measured_on_target=False,
        target_reason="measured on rpi5 (Raspberry Pi 5), but [target] board is rpi4b",
    )
    c = _by(check_variant(_variant("v", 0.9, 1, 1, energy=e), b, ctx), "max_battery_life_loss_pct")
    assert c.status == "not_evaluated"
    assert c.detail == (
        "not measured on the target: measured on rpi5 (Raspberry Pi 5), but [target] board is "
        "rpi4b; require_measured_energy = true"
    )


# --- [[scenarios]]: each one a budget "scenario:<name>" (check_scenarios). The counts below are
# written out by hand; accuracies are k / n of whole rows, exact in binary where a boundary is hit.


def _scenario(name: str, flt: str, minimum: float = 0.75, min_size: int = 1) -> ScenarioConfig:
    return ScenarioConfig(name, flt, minimum, min_size)


def _judged(*results: ScenarioResult, acc: float | None = 0.9) -> VariantResult:
    v = _variant("v", acc, 1, 1)
    v.scenarios = list(results)
    return v


def _rows(name: str, flt: str, n: int, right: int, why: str = "") -> ScenarioResult:
    # min_accuracy 0.5 here, 0.75 in the config: the budget takes the config's limit
    return ScenarioResult(name, flt, 0.5, n, right, right / n if n else None, why_empty=why)


def test_scenario_at_its_minimum_passes_and_one_row_less_fails() -> None:
    sc = _scenario("low-SNR BPSK", "snr_db < 0")
    (at,) = check_scenarios(_judged(_rows("low-SNR BPSK", "snr_db < 0", 40, 30)), [sc])
    assert at == BudgetCheck("scenario:low-SNR BPSK", "pass", 0.75, 0.75, "", "30 of 40 right (snr_db < 0)")
    assert at.is_minimum and at.excess == 0.0
    (under,) = check_scenarios(_judged(_rows("low-SNR BPSK", "snr_db < 0", 40, 29)), [sc])
    want = ("scenario:low-SNR BPSK", "fail", 0.75, 0.725)
    assert (under.budget, under.status, under.limit, under.value) == want
    assert under.detail == "29 of 40 right (snr_db < 0)"
    assert under.excess == pytest.approx(0.025)
    (over,) = check_scenarios(_judged(_rows("low-SNR BPSK", "snr_db < 0", 40, 31)), [sc])
    assert (over.status, over.value) == ("pass", 0.775)


@pytest.mark.parametrize(
    ("n", "status", "detail"),
    [
        (40, "pass", "40 of 40 right (class = 'bpsk')"),  # exactly min_size rows: judged
        (41, "pass", "41 of 41 right (class = 'bpsk')"),
        (39, "not_evaluated", "filter \"class = 'bpsk'\" selects 39 captures, fewer than min_size = 40"),
        (1, "not_evaluated", "filter \"class = 'bpsk'\" selects 1 captures, fewer than min_size = 40"),
    ],
)
def test_scenario_with_too_few_rows_is_not_evaluated(n: int, status: str, detail: str) -> None:
    sc = _scenario("bpsk", "class = 'bpsk'", min_size=40)
    (c,) = check_scenarios(_judged(_rows("bpsk", "class = 'bpsk'", n, n)), [sc])
    assert (c.budget, c.status, c.limit, c.unit, c.detail) == ("scenario:bpsk", status, 0.75, "", detail)
    assert c.value == (1.0 if status == "pass" else None)


def test_scenario_of_one_row_is_judged_with_the_default_min_size() -> None:
    sc = _scenario("one", "snr_db > 30")
    (right,) = check_scenarios(_judged(_rows("one", "snr_db > 30", 1, 1)), [sc])
    (wrong,) = check_scenarios(_judged(_rows("one", "snr_db > 30", 1, 0)), [sc])
    assert (right.status, right.value, wrong.status, wrong.value) == ("pass", 1.0, "fail", 0.0)


def test_scenario_selecting_nothing_says_which_clause() -> None:
    why = "no in-distribution evaluation capture matches 'snr_db < -20'"
    sc = _scenario("impossible", "snr_db < -20 and class = 'fm'")
    (c,) = check_scenarios(_judged(_rows("impossible", sc.filter, 0, 0, why)), [sc])
    assert c == BudgetCheck(
        "scenario:impossible", "not_evaluated", 0.75, None, "",
        f"filter \"snr_db < -20 and class = 'fm'\": {why}",
    )


def test_scenario_without_data_or_result_is_not_evaluated() -> None:
    sc = _scenario("night", "hour >= 22")
    no_data = check_scenarios(_judged(_rows("night", "hour >= 22", 40, 40), acc=None), [sc])
    unknown = check_scenarios(_judged(_rows("day", "hour < 22", 40, 40)), [sc])  # another name
    for (c,) in (no_data, unknown):
        assert c == BudgetCheck("scenario:night", "not_evaluated", 0.75, None, "", "no evaluation data")
    assert check_scenarios(_judged(_rows("night", "hour >= 22", 40, 40)), []) == []


def test_scenarios_match_their_results_by_name_in_config_order() -> None:
    a, b = _scenario("a", "snr_db < 0", 0.5), _scenario("b", "snr_db >= 0", 0.9)
    # results listed in the other order: each budget reads the result of its own name
    v = _judged(_rows("b", "snr_db >= 0", 20, 18), _rows("a", "snr_db < 0", 20, 9))
    ca, cb = check_scenarios(v, [a, b])
    assert (ca.budget, ca.status, ca.limit, ca.value) == ("scenario:a", "fail", 0.5, 0.45)
    assert (cb.budget, cb.status, cb.limit, cb.value) == ("scenario:b", "pass", 0.9, 0.9)
    assert ca.detail == "9 of 20 right (snr_db < 0)" and cb.detail == "18 of 20 right (snr_db >= 0)"


def test_scenario_rows_follow_the_filter_rules() -> None:
    """The rows a filter selects (``and`` of clauses, strict ``<``, in-distribution only), counted
    here by hand, are the rows the budget judges."""
    meta = {
        "snr_db": np.array([-6.0, -0.5, 0.0, 0.0, 3.0, -2.0, -1.0, -4.0]),
        "class": np.array(["bpsk", "bpsk", "bpsk", "qpsk", "bpsk", "qpsk", "bpsk", "bpsk"]),
    }
    keep = np.array([True, True, True, True, True, True, True, False])  # row 7: out of distribution
    correct = np.array([True, False, True, True, True, True, True, True])
    sc = _scenario("low-SNR BPSK", "snr_db < 0 and class = \"bpsk\"", 0.6)
    # rows 0, 1, 6 (bpsk, below 0 dB, in distribution): 0 and 6 right; 2 of 3 = 0.667 >= 0.6
    (r,) = evaluate_scenarios([sc], meta, keep, correct)
    assert (r.n, r.correct) == (3, 2)
    (c,) = check_scenarios(_judged(r), [sc])
    assert (c.status, c.value, c.detail) == ("pass", 2 / 3, "2 of 3 right (snr_db < 0 and class = \"bpsk\")")
    strict = _scenario("strict", "snr_db < 0 and class = \"bpsk\"", 0.7)  # 2/3 < 0.7
    (c,) = check_scenarios(_judged(*evaluate_scenarios([strict], meta, keep, correct)), [strict])
    assert (c.budget, c.status) == ("scenario:strict", "fail")
