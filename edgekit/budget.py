"""Budgets: the limits a variant must meet, each a small kind in one registry.

A kind reads a :class:`VariantResult` (plus the build's context) and returns a
:class:`BudgetCheck`: ``pass``, ``fail`` or ``not_evaluated``. A budget that cannot be evaluated
(no data, no measurement, an estimate where a measurement is required) is never a pass, and a
variant with any unevaluated budget is not shipped. Adding a budget is adding a kind here and a
key in ``[budgets]``; the verdict and the selection do not change.

Latency and memory are judged as the device spends them: the model (``VariantResult.latency``)
plus the chosen OOD score the daemon computes on every capture (``VariantResult.score_cost``,
timed with the model), see :func:`device_latency` and :func:`device_memory`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields

from edgekit.config import BudgetsConfig, ScenarioConfig
from edgekit.results import BudgetCheck, VariantResult

__all__ = [
    "BUDGET_KINDS",
    "BudgetContext",
    "BudgetKind",
    "check_scenarios",
    "check_variant",
    "device_latency",
    "device_memory",
    "pareto_front",
    "select_variant",
]


@dataclass(frozen=True)
class BudgetContext:
    """What a budget needs beyond the variant itself."""

    reference_accuracy: float | None
    min_slice_size: int
    require_measured_energy: bool = False


Evaluator = Callable[[float, VariantResult, BudgetContext], BudgetCheck]


@dataclass(frozen=True)
class BudgetKind:
    """One budget: its ``[budgets]`` key, unit, one-line description and evaluator."""

    key: str
    unit: str
    describe: str
    evaluate: Evaluator


def _ne(key: str, limit: float, why: str, unit: str = "") -> BudgetCheck:
    return BudgetCheck(key, "not_evaluated", limit, None, unit, why)


def _cmp(
    key: str, limit: float, value: float, unit: str, detail: str = "", minimum: bool = False
) -> BudgetCheck:
    if not math.isfinite(value):
        return _ne(key, limit, "the measured value is not a finite number", unit)
    ok = value >= limit if minimum else value <= limit
    return BudgetCheck(key, "pass" if ok else "fail", limit, value, unit, detail)


def _accuracy_drop(limit: float, v: VariantResult, ctx: BudgetContext) -> BudgetCheck:
    key = "max_accuracy_drop"
    if v.accuracy is None or ctx.reference_accuracy is None:
        return _ne(key, limit, "no evaluation data")
    return _cmp(key, limit, ctx.reference_accuracy - v.accuracy.accuracy, "abs")


def _slice_drop(limit: float, v: VariantResult, ctx: BudgetContext) -> BudgetCheck:
    key = "max_slice_accuracy_drop"
    if v.accuracy is None:
        return _ne(key, limit, "no evaluation data")
    big = [s for s in v.accuracy.slices if s.n >= ctx.min_slice_size]
    if not big:
        return _ne(key, limit, f"no slice has at least {ctx.min_slice_size} captures")
    worst = max(big, key=lambda s: s.drop)
    return _cmp(key, limit, worst.drop, "abs", f"slice {worst.column}={worst.value} (n={worst.n})")


def _min_accuracy(limit: float, v: VariantResult, ctx: BudgetContext) -> BudgetCheck:
    if v.accuracy is None:
        return _ne("min_accuracy", limit, "no evaluation data")
    return _cmp("min_accuracy", limit, v.accuracy.accuracy, "", minimum=True)


def device_latency(v: VariantResult) -> tuple[float, float, str] | None:
    """(p50 ms, p99 ms, what they cover) of one capture on the device: the model's latency plus
    the chosen OOD score's cost; None when the latency was not measured.

    When the score was timed with the model (host figures) the totals are percentiles of the
    per-run sums. When the model's figures came from the target (``edgekit bench`` does not
    run the score) the score's host percentiles are added: a lower bound of the target's cost,
    said in the description."""
    lat, sc = v.latency, v.score_cost
    if lat is None:
        return None
    if sc is None:
        return lat.p50_ms, lat.p99_ms, "model only (no OOD score timed)"
    if lat.provenance.startswith("target"):
        return (lat.p50_ms + sc.p50_ms, lat.p99_ms + sc.p99_ms,
                f"model p99 {lat.p99_ms:.3g} ms on the target + the {sc.score} score's p99 "
                f"{sc.p99_ms:.3g} ms timed on the build host (the target is likely slower)")
    return (sc.total_p50_ms, sc.total_p99_ms,
            f"model + the {sc.score} score, p99 of {sc.runs} per-run sums (model alone p99 "
            f"{lat.p99_ms:.3g} ms, score p99 {sc.p99_ms:.3g} ms)")


def device_memory(v: VariantResult) -> float | None:
    """Peak resident MiB with the score loaded, else the model's; None when not measured. A
    target figure (the bench's, model only) gets the score's statistics added."""
    lat, sc = v.latency, v.score_cost
    if lat is None:
        return None
    if sc is None:
        return lat.peak_memory_mb
    if lat.provenance.startswith("target"):
        return lat.peak_memory_mb + sc.stats_bytes / 2**20
    return sc.total_peak_memory_mb


def _latency(limit: float, v: VariantResult, ctx: BudgetContext) -> BudgetCheck:
    got = device_latency(v)
    if v.latency is None or got is None:
        return _ne("max_latency_p99_ms", limit, "latency not measured", "ms")
    _, p99, what = got
    detail = f"{what}; {v.latency.provenance}" if v.score_cost else v.latency.provenance
    return _cmp("max_latency_p99_ms", limit, p99, "ms", detail)


def _size(limit: float, v: VariantResult, ctx: BudgetContext) -> BudgetCheck:
    if v.size_bytes is None:
        return _ne("max_model_size_kb", limit, "no model file", "KiB")
    return _cmp("max_model_size_kb", limit, v.size_bytes / 1024.0, "KiB")


def _memory(limit: float, v: VariantResult, ctx: BudgetContext) -> BudgetCheck:
    peak = device_memory(v)
    if peak is None:
        return _ne("max_peak_memory_mb", limit, "memory not measured", "MiB")
    what = f"with the {v.score_cost.score} score loaded" if v.score_cost else ""
    return _cmp("max_peak_memory_mb", limit, peak, "MiB", what)


def _membership(key: str, attr: str) -> Evaluator:
    """The strongest attack's figure ``attr``; not evaluated without a [privacy] audit."""

    def evaluate(limit: float, v: VariantResult, ctx: BudgetContext) -> BudgetCheck:
        if v.privacy is None or not v.privacy.attacks:
            return _ne(key, limit, "no member data ([privacy] members and non_members)")
        a = max(v.privacy.attacks, key=lambda x: float(getattr(x, attr)))
        detail = f"{a.attack} attack; {v.privacy.provenance}"
        return _cmp(key, limit, float(getattr(a, attr)), "", detail)

    return evaluate


def _energy_check(key: str, unit: str, attr: str, minimum: bool = False) -> Evaluator:
    def evaluate(limit: float, v: VariantResult, ctx: BudgetContext) -> BudgetCheck:
        e = v.energy
        if e is None:
            return _ne(key, limit, "energy not measured or estimated", unit)
        value = getattr(e, attr)
        if value is None:
            return _ne(key, limit, "no battery configured ([battery])", unit)
        if ctx.require_measured_energy and not (e.kind == "measured" and e.measured_on_target):
            why = e.target_reason or f"only an estimate ({e.meter})"
            return BudgetCheck(
                key,
                "not_evaluated",
                limit,
                value,
                unit,
                f"not measured on the target: {why}; require_measured_energy = true",
            )
        kind = e.kind if e.kind != "measured" else (
            "measured on target" if e.measured_on_target else "measured, not on target"
        )
        return _cmp(key, limit, float(value), unit, f"{kind}, {e.meter}", minimum=minimum)

    return evaluate


BUDGET_KINDS: dict[str, BudgetKind] = {
    k.key: k
    for k in (
        BudgetKind("max_accuracy_drop", "abs", "overall accuracy drop vs fp32", _accuracy_drop),
        BudgetKind(
            "max_slice_accuracy_drop", "abs", "accuracy drop vs fp32 on any slice", _slice_drop
        ),
        BudgetKind("min_accuracy", "", "overall accuracy", _min_accuracy),
        BudgetKind("max_latency_p99_ms", "ms", "p99 latency, preprocessing + inference + OOD score",
                   _latency),
        BudgetKind("max_model_size_kb", "KiB", "model file size", _size),
        BudgetKind("max_peak_memory_mb", "MiB", "peak resident memory", _memory),
        BudgetKind(
            "max_energy_per_inference_mj",
            "mJ",
            "energy per inference",
            _energy_check("max_energy_per_inference_mj", "mJ", "energy_per_inference_mj"),
        ),
        BudgetKind(
            "max_battery_life_loss_pct",
            "%",
            "battery life lost at the duty cycle",
            _energy_check("max_battery_life_loss_pct", "%", "battery_life_loss_pct"),
        ),
        BudgetKind(
            "min_battery_life_h",
            "h",
            "battery life at the duty cycle",
            _energy_check("min_battery_life_h", "h", "battery_life_h", minimum=True),
        ),
        BudgetKind(
            "max_membership_advantage",
            "",
            "membership-inference advantage (max TPR - FPR), strongest attack",
            _membership("max_membership_advantage", "advantage"),
        ),
        BudgetKind(
            "max_membership_auc",
            "",
            "membership-inference ROC AUC, strongest attack",
            _membership("max_membership_auc", "auc"),
        ),
    )
}


def check_variant(
    v: VariantResult, budgets: BudgetsConfig, ctx: BudgetContext
) -> list[BudgetCheck]:
    """Every configured budget applied to ``v`` (in ``[budgets]`` order)."""
    checks = []
    for f in fields(BudgetsConfig):
        limit = getattr(budgets, f.name)
        kind = BUDGET_KINDS.get(f.name)
        if kind is None or limit is None:
            continue
        checks.append(kind.evaluate(float(limit), v, ctx))
    return checks


def check_scenarios(v: VariantResult, scenarios: Sequence[ScenarioConfig]) -> list[BudgetCheck]:
    """Each ``[[scenarios]]`` entry as a budget ``scenario:<name>``: accuracy on the rows its
    filter selects >= ``min_accuracy``. Not evaluated without data, with no matching rows (the
    detail says which clause selected nothing) or fewer than the scenario's ``min_size``."""
    results = {s.name: s for s in v.scenarios}
    checks = []
    for sc in scenarios:
        key = f"scenario:{sc.name}"
        r = results.get(sc.name)
        if v.accuracy is None or r is None:
            checks.append(_ne(key, sc.min_accuracy, "no evaluation data"))
        elif r.n == 0 or r.accuracy is None:
            checks.append(_ne(key, sc.min_accuracy, f"filter {sc.filter!r}: {r.why_empty}"))
        elif r.n < sc.min_size:
            why = f"filter {sc.filter!r} selects {r.n} captures, fewer than min_size = {sc.min_size}"
            checks.append(_ne(key, sc.min_accuracy, why))
        else:
            detail = f"{r.correct} of {r.n} right ({sc.filter})"
            checks.append(_cmp(key, sc.min_accuracy, r.accuracy, "", detail, minimum=True))
    return checks


def _cost(v: VariantResult) -> tuple[float, float]:
    """Selection order: lowest energy when every candidate has it, else lowest p99 latency."""
    energy = v.energy.energy_per_inference_mj if v.energy else math.inf
    got = device_latency(v)
    return energy, got[1] if got else math.inf


def select_variant(variants: Sequence[VariantResult]) -> tuple[VariantResult | None, str]:
    """The passing variant to ship and why: lowest energy if all passing ones have it, else latency."""
    passing = [v for v in variants if v.passed]
    if not passing:
        return None, "no variant meets every budget"
    with_energy = [(v, v.energy) for v in passing if v.energy is not None]
    if len(with_energy) == len(passing):
        best, e = min(with_energy, key=lambda ve: (_cost(ve[0]), ve[0].size_bytes or 0))
        return best, (
            f"meets every budget at the lowest energy per inference "
            f"({e.energy_per_inference_mj:.3g} mJ, {e.kind})"
        )
    best = min(passing, key=lambda v: (_cost(v)[1], v.size_bytes or 0))
    got = device_latency(best)
    p99 = got[1] if got else float("nan")
    return best, f"meets every budget at the lowest p99 latency ({p99:.3g} ms, host)"


def pareto_front(variants: Sequence[VariantResult]) -> list[str]:
    """Built variants not dominated on (accuracy higher, p50 latency lower), fastest first; the
    latency is the device's (:func:`device_latency`)."""
    pts = [
        (v.name, v.accuracy.accuracy, got[0])
        for v in variants
        if v.status == "built" and v.accuracy is not None and (got := device_latency(v)) is not None
    ]
    front = [
        p
        for p in pts
        if not any(q[1] >= p[1] and q[2] <= p[2] and (q[1] > p[1] or q[2] < p[2]) for q in pts)
    ]
    return [p[0] for p in sorted(front, key=lambda p: p[2])]
