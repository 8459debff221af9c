"""A format-neutral view of a ``BuildResult``: the sections, tables and sentences of the report.

Markdown and HTML render the same view, so the two can never disagree on what a figure says
(e.g. one showing a not-evaluated budget as passing). Text is held as spans (plain, bold, code) and
each renderer escapes it for its own format; nothing here is pre-escaped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from edgekit.results import BudgetCheck, BuildResult, EnergyFigure, SliceResult, VariantResult

__all__ = [
    "LATENCY_SCOPE",
    "MODEL_ONLY",
    "Block",
    "Bullets",
    "Cell",
    "Para",
    "ReportView",
    "Rich",
    "Section",
    "Span",
    "Table",
    "Verdict",
    "build_view",
    "device_p99_ms",
    "fmt_mj",
    "fmt_ms",
    "fmt_pct",
    "largest_drop_slices",
    "latency_basis",
    "lowest_accuracy_slices",
    "slice_label",
    "with_code",
    "worst_slices",
]

CellKind = Literal["", "pass", "fail", "ne", "muted", "selected"]


@dataclass(frozen=True)
class Span:
    """A run of text; ``style`` is "" (plain), "b" (bold) or "code"."""

    text: str
    style: Literal["", "b", "code"] = ""


Rich = tuple[Span, ...]


def rich(*parts: str | Span) -> Rich:
    """Plain strings and spans as one rich text; empty strings are dropped."""
    return tuple(p if isinstance(p, Span) else Span(p) for p in parts if p != "")


def b(text: str) -> Span:
    return Span(text, "b")


def code(text: str) -> Span:
    return Span(text, "code")


@dataclass
class Cell:
    text: Rich
    kind: CellKind = ""


@dataclass
class Table:
    headers: list[str]
    rows: list[list[Cell]]
    numeric: list[bool]  # right-align these columns


@dataclass
class Para:
    text: Rich
    note: bool = False


@dataclass
class Bullets:
    items: list[Rich]
    kind: CellKind = ""


Block = Table | Para | Bullets


@dataclass
class Section:
    id: str
    title: str
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Verdict:
    passed: bool
    headline: str
    summary: Rich
    failures: list[Rich]
    unevaluated: list[Rich]
    other: list[Rich]


@dataclass
class ReportView:
    title: str
    verdict: Verdict
    meta: Rich
    sections: list[Section]


# ---------------------------------------------------------------------------- number formatting

_NA = "—"


def _ok(x: float | None) -> bool:
    return x is not None and not isinstance(x, bool) and math.isfinite(x)


def fmt_num(x: float | None) -> str:
    """A number with sensible precision for a table; "—" when missing or not finite."""
    if x is None or isinstance(x, bool) or not math.isfinite(x):
        return _NA
    ax = abs(x)
    if ax >= 1000:
        return f"{x:,.0f}"
    if ax >= 100:
        return f"{x:.0f}" if x == int(x) else f"{x:.1f}"
    if ax >= 10:
        return f"{x:.1f}"
    if ax >= 1:
        return f"{x:.2f}"
    return "0" if ax == 0 else f"{x:.3g}"


def fmt_ms(x: float | None) -> str:
    """Milliseconds to 3 significant figures (0.182, 4.48, 12.3, 150)."""
    return _sig3(x)


def fmt_mj(x: float | None) -> str:
    """Millijoules to 3 significant figures."""
    return _sig3(x)


def _dynamic_mj(x: float | None, spread: float | None) -> str:
    """Dynamic energy; below what its ± spread resolves it reads so (report.json keeps it raw)."""
    from edgekit.report.energy_text import below_resolution, fmt_energy_mj

    if spread is not None and below_resolution(x, -spread, spread):
        return fmt_energy_mj(x, -spread, spread, unit=False)
    return fmt_mj(x)


def _sig3(x: float | None) -> str:
    if x is None or isinstance(x, bool) or not math.isfinite(x):
        return _NA
    if x == 0:
        return "0"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    digits = max(0, 2 - math.floor(math.log10(abs(x))))
    return f"{x:.{digits}f}"


def _signed_ms(x: float | None) -> str:
    if x is None or not _ok(x):
        return _NA
    return ("-" if x < 0 else "+") + fmt_ms(abs(x))


LATENCY_SCOPE = "preprocessing + inference"
MODEL_ONLY = "model only"


# On a quiet host a single-threaded inference's p99 stays within ~2x its p50 (the reference model
# measured 0.37 -> 0.55 ms); a p99 beyond 3x p50 is the host (other processes, steal), not the model.
NOISY_TAIL_RATIO = 3.0


def noisy_latency(v: VariantResult) -> bool:
    """Whether the variant's p99 is dominated by host interference: the profiler saw signs of it
    (``LatencyResult.interference``), or p99 > 3 x p50 (figures from elsewhere)."""
    lat = v.latency
    return lat is not None and (bool(lat.interference) or (
        _ok(lat.p50_ms) and _ok(lat.p99_ms) and lat.p50_ms > 0
        and lat.p99_ms > NOISY_TAIL_RATIO * lat.p50_ms))


def latency_noise_ms(v: VariantResult) -> float | None:
    """The measured noise of the p99: its distance from the p50 (what interference can add)."""
    lat = v.latency
    if lat is None or not _ok(lat.p50_ms) or not _ok(lat.p99_ms):
        return None
    return max(0.0, lat.p99_ms - lat.p50_ms)


def marginal(v: VariantResult, c: BudgetCheck) -> bool:
    """A latency budget whose limit lies within the measured noise of the value: pass or fail by
    chance, so it is reported as marginal rather than as a clean result."""
    noise = latency_noise_ms(v)
    if c.budget != "max_latency_p99_ms" or c.value is None or isinstance(c.limit, bool):
        return False
    return noise is not None and abs(float(c.value) - float(c.limit)) <= noise


def device_p99_ms(v: VariantResult) -> float | None:
    """p99 of one capture with the chosen OOD score (the figure ``edgekit.budget.device_latency``
    judges): the per-run sums when the score was timed with the model, the bench's model p99 plus
    the score's host p99 when the model's figure came from the target."""
    lat, sc = v.latency, v.score_cost
    if lat is None or sc is None:
        return None
    return lat.p99_ms + sc.p99_ms if lat.provenance.startswith("target") else sc.total_p99_ms


def latency_basis(r: BuildResult) -> str:
    """Where the variants' latencies were measured: the host, the target, or both."""
    kinds = {("target" if v.latency.provenance.startswith("target") else "host")
             for v in r.variants if v.latency}
    if kinds == {"target"}:
        return "measured on the target"
    if kinds == {"host", "target"}:
        return "target where measured there, else this host"
    return "measured on this host"


def fmt_pct(x: float | None, digits: int = 1) -> str:
    """A fraction (0..1) as a percentage."""
    return f"{100 * x:.{digits}f}%" if _ok(x) and x is not None else _NA


def fmt_pp(x: float | None) -> str:
    """A difference of fractions as percentage points, signed only when negative."""
    return f"{100 * x:.2f} pp" if _ok(x) and x is not None else _NA


def _with_unit(text: str, unit: str) -> str:
    if text == _NA or not unit:
        return text
    return f"{text}{unit}" if unit == "%" else f"{text} {unit}"


def slice_label(s: SliceResult) -> str:
    return f"{s.column}={s.value}"


# ---------------------------------------------------------------------------- budget wording


def _is_min(c: BudgetCheck) -> bool:
    return c.is_minimum


def _display_unit(c: BudgetCheck) -> tuple[float, str]:
    """(scale, unit) a budget's figures are shown in: one unit per quantity across the report.

    Accuracy drops are fractions in the budget ("abs") but percentage points everywhere else;
    an accuracy without a unit is a fraction shown as %.
    """
    if c.unit == "abs" or (c.unit == "" and "drop" in c.budget):
        return 100.0, "pp"
    if c.unit == "" and "accuracy" in c.budget:
        return 100.0, "%"
    return 1.0, c.unit


def _fig(c: BudgetCheck, x: float) -> str:
    scale, unit = _display_unit(c)
    if unit == "pp":
        return fmt_pp(x)  # the same 2 decimals as every Drop column
    return _with_unit(fmt_num(scale * x), unit)


def _limit_text(c: BudgetCheck) -> str:
    if isinstance(c.limit, bool):
        return "must be true" if c.limit else "must be false"
    return ("≥ " if _is_min(c) else "≤ ") + _fig(c, c.limit)


def _value_text(c: BudgetCheck) -> str:
    if c.value is None:
        return _NA
    if isinstance(c.limit, bool):
        return "true" if c.value else "false"
    return _fig(c, float(c.value))


def _margin_text(c: BudgetCheck) -> str:
    """How far past the limit (fail) or how much room is left (pass)."""
    ex = c.excess
    if ex is None or not _ok(ex) or c.status == "not_evaluated":
        return _NA
    amount = _fig(c, abs(ex))
    rel = ""
    if isinstance(c.limit, int | float) and c.limit != 0 and ex > 0:
        rel = f" ({100 * ex / abs(c.limit):+.0f}%)"
    if ex > 0:
        return ("short by " if _is_min(c) else "over by ") + amount + rel
    return f"{amount} to spare"


def _status_cell(c: BudgetCheck) -> Cell:
    if c.status == "pass":
        return Cell(rich("pass"), "pass")
    if c.status == "fail":
        return Cell(rich(b("FAIL")), "fail")
    return Cell(rich("not evaluated"), "ne")


def _failure_line(v: VariantResult, c: BudgetCheck) -> Rich:
    if isinstance(c.limit, bool):
        body = f": {_value_text(c)}, {_limit_text(c)}"
    else:
        op = "<" if _is_min(c) else ">"
        bound = _fig(c, c.limit)
        body = f": {_value_text(c)} {op} limit {bound}, {_margin_text(c)}"
    return rich(b(c.budget), " on ", b(v.name), body, f" — {c.detail}" if c.detail else "")


def _unevaluated_line(v: VariantResult, c: BudgetCheck) -> Rich:
    why = c.detail or "no reason recorded"
    return rich(b(c.budget), " on ", b(v.name), f": not evaluated ({why}), limit {_limit_text(c)}")


def _checks_summary(v: VariantResult) -> Cell:
    if v.status != "built" and not v.checks:
        return Cell(rich(_NA), "muted")
    if not v.checks:
        return Cell(rich("no budgets"), "ne")
    n_pass = sum(c.status == "pass" for c in v.checks)
    n_fail = len(v.failed_checks)
    n_ne = len(v.unevaluated_checks)
    parts = [f"{n_pass} pass"]
    if n_fail:
        parts.append(f"{n_fail} FAIL")
    if n_ne:
        parts.append(f"{n_ne} n.e.")
    kind: CellKind = "fail" if n_fail else ("ne" if n_ne else "pass")
    return Cell(rich(" · ".join(parts)), kind)


# ---------------------------------------------------------------------------- sections


def _rankable(v: VariantResult) -> list[SliceResult]:
    if v.accuracy is None:
        return []
    return [s for s in v.accuracy.slices if s.n >= v.accuracy.min_slice_size]


def largest_drop_slices(v: VariantResult, n: int) -> list[SliceResult]:
    """The ``n`` slices with the largest accuracy drop vs the reference, largest first.

    Only real drops (> 0) qualify: a slice the variant improves is never listed as worst.
    """
    drops = [s for s in _rankable(v) if _ok(s.drop) and s.drop > 0]
    return sorted(drops, key=lambda s: (-s.drop, slice_label(s)))[:n]


def lowest_accuracy_slices(v: VariantResult, n: int) -> list[SliceResult]:
    """The ``n`` least accurate slices, lowest first (a weakness of the model, not of the build)."""
    accs = [s for s in _rankable(v) if _ok(s.accuracy)]
    return sorted(accs, key=lambda s: (s.accuracy, slice_label(s)))[:n]


def worst_slices(v: VariantResult, n: int, *, by_accuracy: bool = False) -> list[SliceResult]:
    """Largest drops, or with ``by_accuracy`` the least accurate slices (kept for callers)."""
    return lowest_accuracy_slices(v, n) if by_accuracy else largest_drop_slices(v, n)


def _verdict(r: BuildResult) -> Verdict:
    built = [v for v in r.variants if v.status == "built"]
    failures = [_failure_line(v, c) for v in r.variants for c in v.failed_checks]
    unevaluated = [_unevaluated_line(v, c) for v in r.variants for c in v.unevaluated_checks]
    other: list[Rich] = []
    for v in r.variants:
        if v.status == "failed":
            other.append(rich(b(v.name), f" failed to build: {v.reason or 'no reason recorded'}"))
    n_skipped = sum(v.status == "skipped" for v in r.variants)
    if n_skipped:
        other.append(rich(f"{n_skipped} variant(s) skipped (see below)"))
    if r.verdict == "pass":
        headline = f"Build PASSED — ships {r.selected}" if r.selected else "Build PASSED"
        failed = [v.name for v in r.variants if v.status == "failed"]
        if failed:
            # A requested variant that failed is part of the outcome, not a footnote.
            headline += (
                f"; {len(failed)} of {len(r.variants)} variants failed: see {', '.join(failed)}"
            )
        summary = rich(r.selection_reason)
        # The shipped variant's own record is what matters; others' failures are in the table.
        n_other_fail = sum(1 for v in built if v.name != r.selected and not v.passed)
        keep = [o for o in other if any("failed to build" in sp.text for sp in o)]
        shipped = next((v for v in built if v.name == r.selected), None)
        if shipped is not None:
            keep += [rich(b(c.budget), " on ", b(shipped.name), f": marginal — {_value_text(c)} "
                          f"vs limit {_limit_text(c)} is within the measured noise "
                          f"(p99 − p50 = {fmt_ms(latency_noise_ms(shipped))} ms); it could pass "
                          "or fail by chance")
                     for c in shipped.checks if marginal(shipped, c)]
        other = keep + ([rich(f"{n_other_fail} other built variant(s) did not meet every budget")]
                        if n_other_fail else [])
        return Verdict(True, headline, summary, [], [], other)
    n_pass = sum(v.passed for v in built)
    reason = (
        "no variant meets every budget" if n_pass == 0
        else f"{n_pass} variant(s) pass, but the build was rejected"
    )
    if not built:
        reason = "no variant was built"
    return Verdict(False, f"Build REJECTED — {reason}", rich(r.selection_reason),
                   failures, unevaluated, other)


_STATUS_KIND: dict[str, CellKind] = {"built": "", "skipped": "muted", "failed": "fail"}


def _variants_section(r: BuildResult) -> Section:
    ref = next((v for v in r.variants if v.name == r.reference), None)
    ref_acc = r.reference_accuracy
    if ref_acc is None and ref is not None and ref.accuracy is not None:
        ref_acc = ref.accuracy.accuracy
    has_energy = any(v.energy for v in r.variants)
    scored = any(v.score_cost for v in r.variants)
    headers = ["Variant", "Status", "Size KiB", "Accuracy", "Drop vs ref", "Agreement",
               f"p50 ms ({LATENCY_SCOPE})", f"p99 ms ({LATENCY_SCOPE})", "CPU p99 ms", "Peak MiB"]
    numeric = [False, False, True, True, True, True, True, True, True, True]
    if scored:  # the daemon scores every capture: the score's cost and the total, beside the model
        headers[8:8] = ["OOD score p99 ms", "Total p99 ms"]
        numeric[8:8] = [True, True]
    if has_energy:
        headers.append("Energy mJ")
        numeric.append(True)
    headers.append("Budgets")
    numeric.append(False)
    rows: list[list[Cell]] = []
    marks_used: set[str] = set()
    for v in r.variants:
        mark = (" ★" if v.name == r.selected else "") + (" (ref)" if v.name == r.reference else "")
        marks_used.update(m for m in ("★", "(ref)") if m in mark)
        acc, lat = v.accuracy, v.latency
        drop: str
        if v.name == r.reference:
            drop = "ref"
        elif acc and _ok(ref_acc) and ref_acc is not None:
            drop = fmt_pp(ref_acc - acc.accuracy)
        else:
            drop = _NA
        status_kind = _STATUS_KIND[v.status]
        row = [
            Cell(rich(b(v.name) if v.name == r.selected else v.name, mark),
                 "selected" if v.name == r.selected else ""),
            Cell(rich(v.status), status_kind),
            Cell(rich(f"{v.size_bytes / 1024:,.1f}" if v.size_bytes is not None else _NA)),
            Cell(rich(fmt_pct(acc.accuracy, 2) if acc else _NA)),
            Cell(rich(drop)),
            Cell(rich(fmt_pct(acc.agreement_with_reference, 2) if acc else _NA)),
            Cell(rich(fmt_ms(lat.p50_ms) if lat else _NA)),
            Cell(rich(fmt_ms(lat.p99_ms) if lat else _NA)),
            Cell(rich(fmt_ms(lat.cpu_ms_p99) if lat else _NA)),
            Cell(rich(fmt_num(lat.peak_memory_mb) if lat else _NA)),
        ]
        if scored:
            sc = v.score_cost
            row[8:8] = [Cell(rich(f"{fmt_ms(sc.p99_ms)} ({sc.score})" if sc else _NA)),
                        Cell(rich(fmt_ms(device_p99_ms(v)) if sc else _NA))]
        if has_energy:
            e = v.energy
            text = (f"{fmt_mj(e.energy_per_inference_mj)} ± {fmt_mj(e.spread_mj)} ({e.kind})"
                    if e else _NA)
            row.append(Cell(rich(text)))
        row.append(_checks_summary(v))
        rows.append(row)
    blocks: list[Block] = [Table(headers, rows, numeric)]
    legend = [m for m in ("★ selected", "(ref) the reference")
              if m.split()[0] in marks_used]
    if "(ref)" not in marks_used:
        legend.append(f"drop and agreement are measured against {r.reference}")
    legend.append(f"p50/p99: {LATENCY_SCOPE}, wall time, {latency_basis(r)}; CPU p99: the "
                  "process's CPU time for the same runs (a wall p99 far above it is time spent "
                  "descheduled); each variant's provenance is under Host and provenance")
    if scored:
        legend.append("OOD score p99: the chosen score on each run's outputs, timed in the same "
                      "runs; Total p99: the p99 of the per-run sums, what the latency budget "
                      "judges; Peak MiB: the model alone (with the score: under Cost of the OOD "
                      "score)")
    blocks.append(Para(rich(" · ".join(legend)), note=True))
    noisy = [v for v in r.variants if noisy_latency(v)]
    if noisy:
        timed = max((v.latency.attempt for v in noisy if v.latency), default=1)
        blocks.append(Bullets([rich(
            b("Host interference:"),
            f" on {len(noisy)} of {sum(1 for v in r.variants if v.latency)} variants (p50 → p99: ",
            ", ".join(f"{v.name} {fmt_ms(v.latency.p50_ms)} → {fmt_ms(v.latency.p99_ms)} ms"
                      for v in noisy if v.latency),
            ")" + (f", still after timing {timed} times" if timed > 1 else "")
            + ". The tail is the host's load, not the model (the signs are under Warnings): "
            "re-run on a quiet host or measure on the target with ", code("edgekit bench"),
            " before trusting a p99 budget.")], "ne"))
    return Section("variants", "Variants", blocks)


def _skipped_section(r: BuildResult) -> Section | None:
    items = [
        rich(b(v.name), f" ({v.runtime} {v.precision}, {v.status}): ",
             v.reason or "no reason recorded")
        for v in r.variants if v.status != "built"
    ]
    return Section("skipped", "Skipped and failed variants", [Bullets(items, "muted")]) \
        if items else None


def _budgets_section(r: BuildResult) -> Section:
    """A variants x budgets matrix (value, coloured by status), then every check that did not
    pass, with its limit, margin and detail."""
    keys: list[str] = []
    limits: dict[str, BudgetCheck] = {}
    for v in r.variants:
        for c in v.checks:
            if c.budget not in limits:
                keys.append(c.budget)
                limits[c.budget] = c
    blocks: list[Block] = []
    if not keys:
        blocks.append(Para(rich("No budget was applied.")))
        return Section("budgets", "Budget checks", blocks)
    kinds: dict[str, CellKind] = {"pass": "pass", "fail": "fail", "not_evaluated": "ne"}
    matrix = []
    for v in r.variants:
        if not v.checks:
            continue
        by_key = {c.budget: c for c in v.checks}
        row = [Cell(rich(v.name))]
        for k in keys:
            check = by_key.get(k)
            if check is None:
                row.append(Cell(rich(_NA), "muted"))
            else:
                text = _value_text(check) if check.status != "not_evaluated" else "not evaluated"
                if check.status != "not_evaluated" and marginal(v, check):
                    text += f" ({check.status}, marginal)"
                    row.append(Cell(rich(b(text)), "ne"))
                    continue
                row.append(Cell(rich(b(text) if check.status == "fail" else text), kinds[check.status]))
        matrix.append(row)
    headers = ["Variant"] + [f"{k} ({_limit_text(limits[k])})" for k in keys]
    blocks.append(Table(headers, matrix, [False] + [True] * len(keys)))
    problems = [
        [Cell(rich(v.name)), Cell(rich(code(c.budget))), Cell(rich(_limit_text(c))),
         Cell(rich(_value_text(c))), Cell(rich(_margin_text(c))), _status_cell(c),
         Cell(rich(c.detail))]
        for v in r.variants for c in v.checks if c.status != "pass"
    ]
    if problems:
        blocks.append(Table(["Variant", "Budget", "Limit", "Value", "Margin", "Status", "Detail"],
                            problems, [False, False, True, True, True, False, False]))
    blocks.append(Para(rich("A budget that could not be evaluated is not a pass: the variant "
                            "cannot ship until it is. Where each value comes from: the variant's "
                            "latency, energy and accuracy provenance below."), note=True))
    return Section("budgets", "Budget checks", blocks)


def _slice_rows(top: list[SliceResult]) -> list[list[Cell]]:
    return [
        [Cell(rich(slice_label(s))), Cell(rich(str(s.n))), Cell(rich(fmt_pct(s.accuracy))),
         Cell(rich(fmt_pct(s.reference_accuracy))),
         Cell(rich(fmt_pp(s.drop)), "fail" if _ok(s.drop) and s.drop > 0 else "")]
        for s in top
    ]


_SLICE_HEADERS = ["Slice", "n", "Accuracy", "Ref accuracy", "Drop"]
_SLICE_NUMERIC = [False, True, True, True, True]


def _slices_section(r: BuildResult, n: int) -> Section | None:
    """Two lists, each sorted by its own key: largest drop vs reference, and lowest accuracy."""
    target = next((v for v in r.variants if v.name == r.selected and v.accuracy), None) or next(
        (v for v in r.variants if v.name == r.reference and v.accuracy), None)
    if target is None or target.accuracy is None:
        return None
    lowest = lowest_accuracy_slices(target, n)
    if not lowest:
        return None
    blocks: list[Block] = []
    size = target.accuracy.min_slice_size
    scope = f"slices of at least {size} captures" if size else "all slices"
    if target.name != r.reference:
        drops = largest_drop_slices(target, n)
        blocks.append(Para(rich(b("Largest drop vs reference"),
                                f" ({scope}, largest first; improvements are not listed)")))
        if drops:
            blocks.append(Table(_SLICE_HEADERS, _slice_rows(drops), _SLICE_NUMERIC))
        else:
            blocks.append(Para(rich("No slice is less accurate than on the reference."),
                               note=True))
    else:
        blocks.append(Para(rich("No variant selected: the reference is shown, whose drops are "
                                "zero by definition."), note=True))
    blocks.append(Para(rich(b("Lowest accuracy"), f" ({scope}, lowest first)")))
    blocks.append(Table(_SLICE_HEADERS, _slice_rows(lowest), _SLICE_NUMERIC))
    return Section("slices", f"Slices — {target.name}", blocks)


def _ood_section(r: BuildResult) -> Section | None:
    rows = []
    for v in r.variants:
        o = v.accuracy.ood if v.accuracy else None
        if o is None:
            continue
        rows.append([
            Cell(rich(v.name)), Cell(rich(o.score)), Cell(rich(fmt_num(o.threshold))),
            Cell(rich(fmt_pct(o.in_distribution_accept_rate))),
            Cell(rich(fmt_pct(o.ood_unknown_rate) if o.ood_unknown_rate is not None
                      else "no OOD data")),
            Cell(rich(str(o.n_in_distribution))), Cell(rich(str(o.n_ood))),
            Cell(rich(", ".join(o.ood_classes) or _NA)),
        ])
    if not rows:
        return None
    return Section("ood", 'Out of distribution ("unknown")', [
        Table(["Variant", "Score", "Threshold", "In-dist. accepted", "OOD called unknown",
               "n in-dist.", "n OOD", "OOD classes"], rows,
              [False, False, True, True, True, True, True, False])])


def _nodes_text(nodes: list[str], keep: int = 3) -> str:
    if not nodes:
        return "none (fully quantised)"
    shown = ", ".join(nodes[:keep]) + (f", … (+{len(nodes) - keep})" if len(nodes) > keep else "")
    return f"{len(nodes)}: {shown}"


def _quant_section(r: BuildResult) -> Section | None:
    blocks: list[Block] = []
    for v in r.variants:
        steps = v.quant_search
        if not steps:
            continue
        base = steps[0]
        chosen = next((s for s in reversed(steps) if s.accepted), None)
        if chosen is None:
            blocks.append(Para(rich(b(v.name), f": no step was accepted after {len(steps)} "
                                    "round(s).")))
        else:
            cost = ""
            if _ok(base.p50_ms) and _ok(chosen.p50_ms) and base.p50_ms and chosen.p50_ms:
                delta = chosen.p50_ms - base.p50_ms
                cost = (f"; p50 ({MODEL_ONLY}) {fmt_ms(base.p50_ms)} → {fmt_ms(chosen.p50_ms)} "
                        f"ms ({_signed_ms(delta)} ms, {100 * delta / base.p50_ms:+.0f}%) vs fully "
                        "quantised")
            blocks.append(Para(rich(
                b(v.name), f": kept {len(chosen.float_nodes)} node(s) in float",
                f" ({', '.join(chosen.float_nodes)})" if chosen.float_nodes else "",
                f"; accuracy drop {fmt_pp(base.accuracy_drop)} → {fmt_pp(chosen.accuracy_drop)}",
                cost, ".")))
        rows = []
        for i, s in enumerate(steps):
            dp = (s.p50_ms - base.p50_ms) if _ok(s.p50_ms) and _ok(base.p50_ms) \
                and s.p50_ms is not None and base.p50_ms is not None else None
            rows.append([
                Cell(rich(str(i + 1))), Cell(rich(_nodes_text(s.float_nodes))),
                Cell(rich(fmt_pct(s.accuracy, 2))), Cell(rich(fmt_pp(s.accuracy_drop))),
                Cell(rich(fmt_pp(s.worst_slice_drop))), Cell(rich(fmt_ms(s.p50_ms))),
                Cell(rich(_signed_ms(dp))),
                Cell(rich("yes" if s.accepted else "no"), "pass" if s.accepted else "muted"),
            ])
        blocks.append(Table(["Step", "Float nodes", "Accuracy", "Drop", "Worst slice drop",
                             f"p50 ms ({MODEL_ONLY})", "Δ p50 ms", "Accepted"], rows,
                            [True, False, True, True, True, True, True, False]))
    return Section("quant", "Accuracy-aware quantisation", blocks) if blocks else None


def _energy_section(r: BuildResult) -> Section | None:
    with_energy = [v for v in r.variants if v.energy]
    if not with_energy:
        return None
    rows = []
    for v in with_energy:
        e = v.energy
        if e is None:  # cannot happen (filtered above); narrows the type
            continue
        rows.append([
            Cell(rich(v.name)), Cell(rich(fmt_mj(e.energy_per_inference_mj))),
            Cell(rich(_dynamic_mj(e.dynamic_energy_per_inference_mj, e.dynamic_spread_mj))),
            Cell(rich(f"± {fmt_mj(e.spread_mj)}")),
            Cell(rich(f"± {fmt_mj(e.dynamic_spread_mj)}")),
            Cell(rich(b(_energy_kind(e))), "" if e.measured_on_target else "ne"),
            Cell(rich(e.meter)), Cell(rich(f"{e.n_inferences} × {e.windows}")),
            Cell(rich(fmt_num(e.battery_life_h) + _span(e.battery_life_interval_h))),
            Cell(rich(fmt_num(e.battery_life_loss_pct) + _span(e.battery_life_loss_interval_pct))),
        ])
        if any(x.energy and x.energy.ood_score_mj is not None for x in with_energy):
            rows[-1].insert(2, Cell(rich(_NA if e.ood_score_mj is None else fmt_mj(e.ood_score_mj))))
    score_col = any(v.energy and v.energy.ood_score_mj is not None for v in with_energy)
    headers = ["Variant", "Energy/inf. mJ", "Dynamic mJ", "Spread mJ", "Dynamic spread mJ", "Kind",
               "Meter", "N × windows", "Battery life h", "Life lost %"]
    numeric = [False, True, True, True, True, False, False, True, True, True]
    if score_col:
        headers.insert(2, "of which OOD score mJ")
        numeric.insert(2, True)
    blocks: list[Block] = [Table(headers, rows, numeric)]
    if score_col:
        blocks.append(Para(rich("Estimated energy covers the model and the chosen OOD score (the "
                                "daemon pays both on every capture); — : the figure does not "
                                "include a score (none was timed, or a bench figure of the "
                                "model alone)."),
                           note=True))
    blocks.append(Para(rich("How each figure was obtained: the variant's entry under Host and "
                            "provenance."), note=True))
    if any(v.energy and v.energy.kind == "estimated" for v in with_energy):
        blocks.append(Para(rich("Estimated figures come from a CPU-utilisation power model, not a "
                                "meter; measure on the target with ", code("edgekit bench"), "."),
                           note=True))
    return Section("energy", "Energy per inference", blocks)


def _span(pair: tuple[float, float] | None) -> str:
    """`` [lo–hi]`` of an interval carried from the dynamic energy, or nothing."""
    return "" if not pair else f" [{fmt_num(pair[0])}–{fmt_num(pair[1])}]"


def _energy_kind(e: EnergyFigure) -> str:
    """``measured on target``, ``measured (not on target)``, ``estimated`` or ``unverified``:
    only a figure ``is_measured_on_target`` accepted reads as measured on the target."""
    if e.kind != "measured":
        return e.kind
    return "measured on target" if e.measured_on_target else "measured (not on target)"


def _pareto_section(r: BuildResult) -> Section:
    parts: list[str] = []
    for name in r.pareto:
        try:
            v = r.variant(name)
        except KeyError:
            parts.append(name)
            continue
        acc = fmt_pct(v.accuracy.accuracy, 2) if v.accuracy else _NA
        p50 = fmt_ms(v.latency.p50_ms) if v.latency else _NA
        parts.append(f"{name} ({acc}, {p50} ms)")
    text = (rich("Non-dominated on accuracy vs host p50 latency: ", " → ".join(parts))
            if parts else rich("No Pareto front: no variant has both accuracy and latency."))
    return Section("pareto", "Pareto front", [Para(text)])


def _stages_section(r: BuildResult) -> Section | None:
    if not r.stages:
        return None
    rows = [[Cell(rich(s.name)), Cell(rich(fmt_num(s.duration_s))), Cell(rich(s.detail))]
            for s in r.stages]
    rows.append([Cell(rich(b("total"))), Cell(rich(b(fmt_num(r.duration_s)))), Cell(rich(""))])
    return Section("stages", "Stage timings",
                   [Table(["Stage", "Duration s", "Detail"], rows, [False, True, False])])


def _host_name(host: dict[str, str]) -> str:
    name = host.get("hostname") or host.get("node") or host.get("name") or "this host"
    rest = ", ".join(f"{k} {v}" for k, v in host.items() if k not in ("hostname", "node", "name"))
    return f"{name} ({rest})" if rest else name


def with_code(text: str) -> Rich:
    """Plain text whose `backticked` parts become code spans (never printed as literal ticks)."""
    parts = text.split("`")
    if len(parts) % 2 == 0:  # an unpaired tick: keep the text as it is
        return rich(text)
    return rich(*(code(p) if i % 2 else p for i, p in enumerate(parts) if p))


def _variant_provenance(v: VariantResult) -> Rich | None:
    """One named entry per variant: where its latency, memory, energy and accuracy come from."""
    parts: list[Span] = []
    if v.latency and v.latency.provenance:
        parts += [b("latency and memory"), Span(f" ({LATENCY_SCOPE}): ")]
        parts += with_code(v.latency.provenance)
    if v.score_cost and v.score_cost.provenance:
        parts += [Span("; " if parts else ""), b("OOD score"), Span(": ")]
        parts += with_code(v.score_cost.provenance)
    if v.energy and v.energy.provenance:
        parts += [Span("; " if parts else ""), b("energy"), Span(": ")]
        parts += with_code(v.energy.provenance)
    if v.accuracy and v.accuracy.data_source:
        parts += [Span("; " if parts else ""), b("accuracy"), Span(f": {v.accuracy.data_source}")]
    if not parts:
        return None
    return rich(b(v.name), ": ", *parts)


def _provenance_section(r: BuildResult) -> Section:
    entries = [e for e in (_variant_provenance(v) for v in r.variants) if e is not None]
    blocks: list[Block] = [Para(rich(
        f"Host: {_host_name(r.host)}. Each variant's figures and how they were obtained "
        "(on-target figures come from ", code("edgekit bench"), "):"))]
    blocks.append(Bullets(entries) if entries else Para(rich("No provenance recorded.")))
    if r.versions:
        blocks.append(Para(rich("Versions: ", ", ".join(f"{k} {v}" for k, v in r.versions.items())),
                           note=True))
    if r.logs:
        names: list[Span] = []
        for i, path in enumerate(r.logs):
            names += [Span(", " if i else ""), code(path)]
        blocks.append(Para(rich("Logs (onnxruntime, TensorFlow and onnx2tf output, kept out of the "
                                "terminal; ", code("--verbose"), " shows it): ", *names), note=True))
    files = [rich("model ", code(r.model_path)), rich("config ", code(r.config_path))]
    if r.bundle_dir:
        files.append(rich("bundle ", code(r.bundle_dir)))
    if r.bundle_archive:
        files.append(rich("archive ", code(r.bundle_archive)))
    if r.bundle_id:
        files.append(rich("bundle ID ", code(r.bundle_id), " (SHA-256 of the canonical manifest)"))
    blocks.append(Bullets(files))
    return Section("provenance", "Host and provenance", blocks)


def build_view(result: BuildResult, *, worst_n: int = 5) -> ReportView:
    """The report's content, in display order, for any renderer."""
    r = result
    meta = rich("Model ", b(r.model_name), " · config ", code(r.config_path), " · started ",
                r.started_at or _NA, f" · {fmt_num(r.duration_s)} s")
    optional = [
        _variants_section(r), _skipped_section(r), _budgets_section(r), _slices_section(r, worst_n),
        _ood_section(r), _quant_section(r), _energy_section(r), _pareto_section(r),
        _stages_section(r), _provenance_section(r),
    ]
    sections = [s for s in optional if s is not None]
    from edgekit.report.trees_section import trees_sections  # imports this module's blocks

    at = next((i for i, s in enumerate(sections) if s.id in ("stages", "provenance")), len(sections))
    sections[at:at] = trees_sections(r)  # feature costs and truncation, before the timings
    from edgekit.report.ood_section import ood_sections  # imports this module's blocks

    at = next((i + 1 for i, s in enumerate(sections) if s.id == "ood"), len(sections))
    sections[at:at] = ood_sections(r)  # every score and the calibration, after the summary
    from edgekit.report.score_cost_section import score_cost_section  # imports this module's blocks

    cost = score_cost_section(r)
    at = next((i for i, s in enumerate(sections) if s.id in ("energy", "pareto", "stages")), len(sections))
    sections[at:at] = [cost] if cost is not None else []  # what the device pays, before energy
    from edgekit.report.privacy_section import privacy_section  # imports this module's blocks

    priv = privacy_section(r)
    at = next((i for i, s in enumerate(sections) if s.id in ("stages", "provenance")), len(sections))
    sections[at:at] = [priv] if priv is not None else []  # the audit, before the timings
    from edgekit.report.insight_section import insight_sections  # imports this module's blocks

    at = next((i for i, s in enumerate(sections) if s.id in ("ood", "quant", "energy")), len(sections))
    sections[at:at] = insight_sections(r)  # scenarios, discovered slices, context: after the slices
    from edgekit.report.baseline_section import baseline_section  # imports this module's blocks

    base = baseline_section(r)
    at = next((i for i, s in enumerate(sections) if s.id in ("stages", "provenance")), len(sections))
    sections[at:at] = [base] if base is not None else []  # the fallback, before the timings
    if r.warnings:
        sections.append(Section("warnings", "Warnings",
                                [Bullets([rich(w) for w in r.warnings], "ne")]))
    return ReportView(f"edgekit build — {r.model_name}", _verdict(r), meta, sections)
