"""Every budget kind at, just over and just under its limit; zero limits; NaN and infinity never
evaluated; the worst of several slices; every selection rule and tie-break (issue 17).

Values are chosen so that the figure each kind compares is exact in binary (quarters, sizes in
whole bytes), so "at the limit" really is equal and "just over" is over by 2**-20.
"""

from __future__ import annotations

import math

import pytest

from edgekit.budget import BudgetContext, check_variant, pareto_front, select_variant
from edgekit.config import BudgetsConfig
from edgekit.results import (
    AccuracyResult,
    BudgetCheck,
    EnergyFigure,
    LatencyResult,
    MembershipAttack,
    PrivacyResult,
    SliceResult,
    VariantResult,
)

EPS = 2.0**-20
CTX = BudgetContext(reference_accuracy=0.75, min_slice_size=40)


def _lat(p99: float = 1.0, mem: float = 64.0, p50: float = 1.0) -> LatencyResult:
    return LatencyResult(p50, p50, p50, p99, p50, 0.0, 10, 1, 1, mem, "ort", "host x86_64, measured")


def _acc(acc: float, slices: list[SliceResult] | None = None) -> AccuracyResult:
    return AccuracyResult(100, acc, acc, {}, 1.0, 0.0, slices or [])


def _energy(
    mj: float = 1.0,
    kind: str = "measured",
    life_h: float | None = 10.0,
    loss: float | None = 5.0,
    meter: str = "ina260",
    on_target: bool = True,
) -> EnergyFigure:
    return EnergyFigure(mj, mj / 2, 0.0, kind, meter, 1000.0, 100, 5,  # type: ignore[arg-type]
                        battery_life_h=life_h, battery_life_loss_pct=loss,
                        measured_on_target=on_target and kind == "measured")


def _v(name: str = "v", **kw: object) -> VariantResult:
    v = VariantResult(name, "onnxruntime", "int8", "built", size_bytes=2048)
    for k, val in kw.items():
        setattr(v, k, val)
    return v


def _one(v: VariantResult, ctx: BudgetContext = CTX, **limits: float) -> BudgetCheck:
    checks = check_variant(v, BudgetsConfig(**limits), ctx)  # type: ignore[arg-type]
    assert len(checks) == 1
    return checks[0]


# --- each kind: (limit key, unit, a variant whose figure is `value`, detail on a verdict, minimum?)
def _case(key: str, value: float) -> tuple[VariantResult, str, str]:
    """A variant whose figure for ``key`` is exactly ``value``; the unit and detail expected."""
    if key == "max_accuracy_drop":
        return _v(accuracy=_acc(0.75 - value)), "abs", ""
    if key == "min_accuracy":
        return _v(accuracy=_acc(value)), "", ""
    if key == "max_latency_p99_ms":
        return _v(latency=_lat(p99=value)), "ms", "host x86_64, measured"
    if key == "max_peak_memory_mb":
        return _v(latency=_lat(mem=value)), "MiB", ""
    if key == "max_model_size_kb":
        v = _v()
        v.size_bytes = round(value * 1024)
        return v, "KiB", ""
    if key == "max_energy_per_inference_mj":
        return _v(energy=_energy(mj=value)), "mJ", "measured on target, ina260"
    if key == "max_battery_life_loss_pct":
        return _v(energy=_energy(loss=value)), "%", "measured on target, ina260"
    if key == "min_battery_life_h":
        return _v(energy=_energy(life_h=value)), "h", "measured on target, ina260"
    raise AssertionError(key)


MAX_KINDS = [
    "max_accuracy_drop",
    "max_latency_p99_ms",
    "max_peak_memory_mb",
    "max_model_size_kb",
    "max_energy_per_inference_mj",
    "max_battery_life_loss_pct",
]
MIN_KINDS = ["min_accuracy", "min_battery_life_h"]


@pytest.mark.parametrize("key", MAX_KINDS + MIN_KINDS)
def test_at_the_limit_passes_with_value_unit_and_detail(key: str) -> None:
    limit = 0.25
    v, unit, detail = _case(key, limit)
    assert _one(v, **{key: limit}) == BudgetCheck(key, "pass", limit, limit, unit, detail)


@pytest.mark.parametrize("key", MAX_KINDS)
def test_a_maximum_just_over_fails_just_under_passes(key: str) -> None:
    limit = 0.5
    over, under = limit + EPS, limit - EPS
    if key == "max_model_size_kb":  # whole bytes: one byte over and under
        over, under = limit + 1 / 1024, limit - 1 / 1024
    v, unit, detail = _case(key, over)
    c = _one(v, **{key: limit})
    assert (c.status, c.value, c.unit, c.detail) == ("fail", over, unit, detail)
    assert c.excess == pytest.approx(over - limit)
    v, _, _ = _case(key, under)
    assert _one(v, **{key: limit}).status == "pass"


@pytest.mark.parametrize("key", MIN_KINDS)
def test_a_minimum_just_under_fails_just_over_passes(key: str) -> None:
    limit = 0.5
    v, unit, detail = _case(key, limit - EPS)
    c = _one(v, **{key: limit})
    assert (c.status, c.value, c.unit, c.detail) == ("fail", limit - EPS, unit, detail)
    assert c.excess == pytest.approx(EPS)
    v, _, _ = _case(key, limit + EPS)
    assert _one(v, **{key: limit}).status == "pass"


def test_min_battery_life_too_short_fails_long_enough_passes() -> None:
    # the example: a battery life below the minimum must not pass
    assert _one(_v(energy=_energy(life_h=7.5)), min_battery_life_h=8.0).status == "fail"
    assert _one(_v(energy=_energy(life_h=8.5)), min_battery_life_h=8.0).status == "pass"


@pytest.mark.parametrize("key", MAX_KINDS)
def test_a_zero_limit_is_checked_not_skipped(key: str) -> None:
    v, _, _ = _case(key, 0.0)
    c = _one(v, **{key: 0})
    assert (c.budget, c.status, c.limit, c.value) == (key, "pass", 0.0, 0.0)
    assert isinstance(c.limit, float)
    v, _, _ = _case(key, 0.25)
    assert _one(v, **{key: 0}).status == "fail"


@pytest.mark.parametrize("bad", [math.nan, math.inf])
@pytest.mark.parametrize("key", ["max_latency_p99_ms", "max_peak_memory_mb", "max_energy_per_inference_mj",
                                 "max_battery_life_loss_pct", "min_battery_life_h", "min_accuracy"])
def test_a_non_finite_figure_is_not_evaluated(key: str, bad: float) -> None:
    v, unit, _ = _case(key, 0.0)
    if key == "max_latency_p99_ms":
        v.latency = _lat(p99=bad)
    elif key == "max_peak_memory_mb":
        v.latency = _lat(mem=bad)
    elif key == "max_energy_per_inference_mj":
        v.energy = _energy(mj=bad)
    elif key == "max_battery_life_loss_pct":
        v.energy = _energy(loss=bad)
    elif key == "min_battery_life_h":
        v.energy = _energy(life_h=bad)
    else:
        v.accuracy = _acc(bad)
    c = _one(v, **{key: 1.0})
    why = "the measured value is not a finite number"
    assert c == BudgetCheck(key, "not_evaluated", 1.0, None, unit, why)
    v.checks = [c]
    assert not v.passed


def test_nan_accuracy_drop_is_not_evaluated() -> None:
    c = _one(_v(accuracy=_acc(math.nan)), max_accuracy_drop=0.1)
    assert (c.status, c.value, c.unit) == ("not_evaluated", None, "abs")


# --- missing figures: not evaluated, each with its reason and unit --------------------------------
@pytest.mark.parametrize(
    ("key", "unit", "why"),
    [
        ("max_accuracy_drop", "", "no evaluation data"),
        ("max_slice_accuracy_drop", "", "no evaluation data"),
        ("min_accuracy", "", "no evaluation data"),
        ("max_latency_p99_ms", "ms", "latency not measured"),
        ("max_peak_memory_mb", "MiB", "memory not measured"),
        ("max_energy_per_inference_mj", "mJ", "energy not measured or estimated"),
        ("max_battery_life_loss_pct", "%", "energy not measured or estimated"),
        ("min_battery_life_h", "h", "energy not measured or estimated"),
        ("max_membership_advantage", "", "no member data ([privacy] members and non_members)"),
        ("max_membership_auc", "", "no member data ([privacy] members and non_members)"),
    ],
)
def test_missing_figure_is_not_evaluated_with_its_reason(key: str, unit: str, why: str) -> None:
    v = VariantResult("v", "onnxruntime", "int8", "built", size_bytes=2048)
    assert _one(v, **{key: 1.0}) == BudgetCheck(key, "not_evaluated", 1.0, None, unit, why)


def test_no_model_file_is_not_evaluated() -> None:
    v = _v()
    v.size_bytes = None
    c = _one(v, max_model_size_kb=1.0)
    assert c == BudgetCheck("max_model_size_kb", "not_evaluated", 1.0, None, "KiB", "no model file")


def test_accuracy_drop_needs_the_reference() -> None:
    ctx = BudgetContext(reference_accuracy=None, min_slice_size=1)
    c = _one(_v(accuracy=_acc(0.5)), ctx, max_accuracy_drop=0.1)
    assert (c.status, c.detail) == ("not_evaluated", "no evaluation data")


@pytest.mark.parametrize(("key", "unit"), [("max_battery_life_loss_pct", "%"), ("min_battery_life_h", "h")])
def test_battery_budget_without_battery_is_not_evaluated(key: str, unit: str) -> None:
    v = _v(energy=_energy(life_h=None, loss=None))
    assert _one(v, **{key: 1.0}) == BudgetCheck(key, "not_evaluated", 1.0, None, unit,
                                                "no battery configured ([battery])")


@pytest.mark.parametrize(
    ("key", "unit", "value"),
    [("max_energy_per_inference_mj", "mJ", 0.5), ("max_battery_life_loss_pct", "%", 5.0),
     ("min_battery_life_h", "h", 10.0)],
)
def test_an_estimate_is_not_evaluated_when_measured_is_required(key: str, unit: str, value: float) -> None:
    strict = BudgetContext(0.75, 40, require_measured_energy=True)
    est = _v(energy=_energy(mj=0.5, kind="estimated", meter="model:rpi4"))
    assert _one(est, strict, **{key: 100.0}) == BudgetCheck(
        key, "not_evaluated", 100.0, value, unit,
        "not measured on the target: only an estimate (model:rpi4); require_measured_energy = true",
    )
    # without the requirement the same estimate is judged, and says it is one
    c = _one(est, CTX, **{key: 100.0})
    assert c.detail == "estimated, model:rpi4" and c.status in ("pass", "fail")
    # a measured figure is judged under the requirement
    assert _one(_v(energy=_energy(mj=0.5)), strict, **{key: 100.0}).status in ("pass", "fail")
    assert _one(_v(energy=_energy(mj=0.5)), strict, **{key: 100.0}).detail == "measured on target, ina260"
    # measured, but not on the target (another board or another file): not evaluated, with why
    off = _one(_v(energy=_energy(mj=0.5, on_target=False)), strict, **{key: 100.0})
    assert off.status == "not_evaluated" and off.detail.startswith("not measured on the target")
    assert _one(_v(energy=_energy(mj=0.5, on_target=False)), CTX, **{key: 100.0}).detail == (
        "measured, not on target, ina260"
    )


# --- slices: the worst big slice is judged ----------------------------------------------------------
def _slices() -> list[SliceResult]:
    return [
        SliceResult("snr_db", "[0, 10)", 400, 0.70, 0.75, 0.05),
        SliceResult("snr_db", "[-10, 0)", 40, 0.50, 0.75, 0.25),  # exactly min size: judged, worst
        SliceResult("class", "qpsk", 39, 0.00, 1.00, 1.00),  # one short of min size: ignored
        SliceResult("class", "tone", 1000, 0.80, 0.78, -0.02),
    ]


def test_the_worst_slice_of_several_sizes_is_judged() -> None:
    v = _v(accuracy=_acc(0.75, _slices()))
    c = _one(v, max_slice_accuracy_drop=0.25)
    assert c == BudgetCheck("max_slice_accuracy_drop", "pass", 0.25, 0.25, "abs",
                            "slice snr_db=[-10, 0) (n=40)")
    c = _one(v, max_slice_accuracy_drop=0.25 - EPS)
    assert (c.status, c.value) == ("fail", 0.25)
    # the order of the slices does not matter
    v2 = _v(accuracy=_acc(0.75, _slices()[::-1]))
    assert _one(v2, max_slice_accuracy_drop=0.1).detail == "slice snr_db=[-10, 0) (n=40)"


def test_no_slice_big_enough_is_not_evaluated() -> None:
    v = _v(accuracy=_acc(0.75, [SliceResult("class", "qpsk", 39, 0.0, 1.0, 1.0)]))
    c = _one(v, max_slice_accuracy_drop=0.1)
    assert c == BudgetCheck("max_slice_accuracy_drop", "not_evaluated", 0.1, None, "",
                            "no slice has at least 40 captures")
    assert _one(_v(accuracy=_acc(0.75)), max_slice_accuracy_drop=0.1).status == "not_evaluated"


# --- membership: the strongest attack on each figure ---------------------------------------------------
def _attack(name: str, auc: float, adv: float) -> MembershipAttack:
    return MembershipAttack(name, "m", 10, 10, auc, (0, 1), adv, (0, 1), 0.0, (0, 1), 0.0, (0, 1), 10, 0.95)


def test_membership_budgets_judge_the_strongest_attack_on_their_figure() -> None:
    priv = PrivacyResult("m.npz", "n.npz", [_attack("loss", 0.75, 0.125), _attack("calibrated", 0.625, 0.25)],
                         provenance="200 bootstrap")
    v = _v(privacy=priv)
    adv = _one(v, max_membership_advantage=0.25)
    assert adv == BudgetCheck("max_membership_advantage", "pass", 0.25, 0.25, "",
                              "calibrated attack; 200 bootstrap")
    assert _one(v, max_membership_advantage=0.25 - EPS).status == "fail"
    auc = _one(v, max_membership_auc=0.75)
    assert auc == BudgetCheck("max_membership_auc", "pass", 0.75, 0.75, "", "loss attack; 200 bootstrap")
    assert _one(v, max_membership_auc=0.75 - EPS).status == "fail"
    # the same attacks in the other order
    priv.attacks.reverse()
    assert _one(v, max_membership_auc=0.75).detail == "loss attack; 200 bootstrap"
    assert _one(v, max_membership_advantage=0.25).detail == "calibrated attack; 200 bootstrap"


def test_membership_without_attacks_is_not_evaluated() -> None:
    v = _v(privacy=PrivacyResult("m", "n", []))
    assert _one(v, max_membership_auc=0.6).status == "not_evaluated"


def test_check_variant_follows_budgets_order_and_skips_unset() -> None:
    v = _v(accuracy=_acc(0.75), latency=_lat(), energy=_energy())
    b = BudgetsConfig(min_accuracy=0.5, max_latency_p99_ms=2.0, max_energy_per_inference_mj=3.0,
                      require_measured_energy=True)
    keys = [c.budget for c in check_variant(v, b, CTX)]
    assert keys == ["min_accuracy", "max_latency_p99_ms", "max_energy_per_inference_mj"]
    assert check_variant(v, BudgetsConfig(), CTX) == []


# --- selection: every rule and tie-break -------------------------------------------------------------------
def _cand(name: str, *, ok: bool = True, mj: float | None = None, p99: float | None = 1.0,
          size: int | None = 1000, kind: str = "measured") -> VariantResult:
    v = VariantResult(name, "onnxruntime", "int8", "built", size_bytes=size)
    v.checks = [BudgetCheck("min_accuracy", "pass" if ok else "fail", 0.5, 0.6)]
    v.latency = _lat(p99=p99) if p99 is not None else None
    v.energy = _energy(mj=mj, kind=kind) if mj is not None else None
    return v


def _pick(vs: list[VariantResult]) -> tuple[str | None, str]:
    chosen, why = select_variant(vs)
    # the choice does not depend on the order the variants come in
    again, _ = select_variant(vs[::-1])
    assert (chosen.name if chosen else None) == (again.name if again else None)
    return (chosen.name if chosen else None), why


def test_no_passing_variant_selects_nothing() -> None:
    none = (None, "no variant meets every budget")
    assert _pick([_cand("a", ok=False), _cand("b", ok=False, mj=0.1)]) == none
    assert _pick([]) == (None, "no variant meets every budget")
    skipped = _cand("s")
    skipped.status = "skipped"
    assert _pick([skipped])[0] is None


def test_lowest_energy_when_every_passing_variant_has_energy() -> None:
    vs = [_cand("a", mj=2.0, p99=0.5), _cand("b", mj=1.25, p99=9.0, kind="estimated"),
          _cand("cheap-but-failing", ok=False, mj=0.1, p99=0.1)]
    assert _pick(vs) == ("b", "meets every budget at the lowest energy per inference (1.25 mJ, estimated)")


def test_energy_tie_broken_by_latency_then_size() -> None:
    assert _pick([_cand("a", mj=1.0, p99=2.0), _cand("b", mj=1.0, p99=1.5)])[0] == "b"
    assert _pick([_cand("a", mj=1.0, p99=2.0, size=500), _cand("b", mj=1.0, p99=2.0, size=400)])[0] == "b"
    # no latency counts as the slowest
    assert _pick([_cand("a", mj=1.0, p99=None), _cand("b", mj=1.0, p99=50.0)])[0] == "b"
    # no size counts as zero
    assert _pick([_cand("a", mj=1.0, size=None), _cand("b", mj=1.0, size=1)])[0] == "a"


def test_lowest_latency_when_a_passing_variant_lacks_energy() -> None:
    vs = [_cand("a", mj=0.1, p99=3.0), _cand("b", p99=2.5), _cand("fast-failing", ok=False, p99=0.1)]
    assert _pick(vs) == ("b", "meets every budget at the lowest p99 latency (2.5 ms, host)")


def test_latency_tie_broken_by_size_and_missing_latency_is_slowest() -> None:
    assert _pick([_cand("a", p99=2.0, size=700), _cand("b", p99=2.0, size=600)])[0] == "b"
    assert _pick([_cand("a", p99=2.0, size=None), _cand("b", p99=2.0, size=1)])[0] == "a"
    name, why = _pick([_cand("a", p99=None), _cand("b", p99=None, size=10)])
    assert name == "b" and why == "meets every budget at the lowest p99 latency (nan ms, host)"
    assert _pick([_cand("a", p99=None), _cand("b", p99=1e6)])[0] == "b"


# --- the Pareto front ---------------------------------------------------------------------------------------
def _pt(name: str, acc: float, p50: float, status: str = "built") -> VariantResult:
    v = VariantResult(name, "onnxruntime", "int8", status)  # type: ignore[arg-type]
    v.accuracy, v.latency = _acc(acc), _lat(p50=p50)
    return v


def test_pareto_front_ties_and_dominance() -> None:
    vs = [
        _pt("a", 0.9, 5.0),
        _pt("twin", 0.9, 5.0),  # equal on both: neither dominates the other
        _pt("same-acc-slower", 0.9, 6.0),  # dominated on latency alone
        _pt("same-speed-worse", 0.8, 5.0),  # dominated on accuracy alone
        _pt("fast", 0.7, 1.0),
        _pt("failed", 1.0, 0.1, status="failed"),
    ]
    no_acc = _pt("no-acc", 1.0, 0.1)
    no_acc.accuracy = None
    no_lat = _pt("no-lat", 1.0, 0.1)
    no_lat.latency = None
    assert pareto_front([*vs, no_acc, no_lat]) == ["fast", "a", "twin"]
