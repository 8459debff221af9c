"""Report sections for issue 13's insight stage: scenarios, discovered weak slices, and the
results-with-context table the device attaches to its answers. Renderer-neutral, like
``_view``'s sections."""

from __future__ import annotations

from edgekit.report._view import Block, Cell, CellKind, Para, Section, Table, b, code, fmt_pct, rich
from edgekit.results import BuildResult, ContextCell, VariantResult

__all__ = ["insight_sections"]

_NA = "—"


def _target(r: BuildResult) -> VariantResult | None:
    """The selected variant, else the fp32 reference, else the first with results."""
    have = [v for v in r.variants if v.accuracy is not None]
    return next((v for v in have if v.name == r.selected), None) or next(
        (v for v in have if v.name == "onnx-fp32"), None) or (have[0] if have else None)


def _ci(lo: float | None, hi: float | None) -> str:
    return _NA if lo is None or hi is None else f"[{lo * 100:.0f}, {hi * 100:.0f}]"


def _scenarios(r: BuildResult) -> Section | None:
    rows = []
    for v in r.variants:
        checks = {c.budget: c for c in v.checks}
        for s in v.scenarios:
            c = checks.get(f"scenario:{s.name}")
            status = c.status.replace("_", " ") if c else _NA
            kinds: dict[str, CellKind] = {"pass": "pass", "fail": "fail", "not_evaluated": "ne"}
            kind = kinds.get(c.status if c else "", "")
            acc = (f"{fmt_pct(s.accuracy)} ({s.correct} of {s.n})" if s.accuracy is not None
                   else s.why_empty or "no captures")
            rows.append([Cell(rich(s.name)), Cell(rich(code(s.filter))), Cell(rich(v.name)),
                         Cell(rich(acc)), Cell(rich(_ci(s.ci_low, s.ci_high))),
                         Cell(rich(f">= {fmt_pct(s.min_accuracy)}")), Cell(rich(status), kind)])
    if not rows:
        return None
    return Section("scenarios", "Scenarios", [
        Para(rich("Each ", code("[[scenarios]]"), " entry is a budget of its own: accuracy on the "
                  "in-distribution evaluation captures its filter selects, against its minimum. "
                  "A filter that selects nothing is not evaluated (and blocks shipping).")),
        Table(["Scenario", "Filter", "Variant", "Accuracy", "95 % Wilson", "Minimum", "Status"],
              rows, [False, False, False, True, True, True, False]),
    ])


def _discovered(r: BuildResult) -> Section | None:
    target = _target(r)
    if target is None or target.accuracy is None:
        return None
    found = target.discovered_slices
    tested = found[0].tested if found else 0
    how = rich(
        "Searched, not configured: every value of each metadata column, numeric columns in bins, "
        "and pairs of conditions on two columns (", code("observed_*"), " columns are what the "
        "device computes from the capture). Each subgroup is tested against the rest "
        "(one-sided Fisher exact), the p-values corrected for the number of subgroups tested "
        "(Benjamini-Hochberg); subgroups explained by a stronger discovery they overlap are "
        "dropped. Ranked by size × gap.",
    )
    if not found:
        return Section("discovered", f"Discovered weak slices — {target.name}", [
            Para(how), Para(rich("No subgroup is significantly worse than the rest."), note=True)])
    rows = []
    for d in found:
        what = "accuracy" if d.metric == "accuracy" else "lost vs fp32"
        rows.append([Cell(rich(d.description)), Cell(rich(what)), Cell(rich(str(d.n))),
                     Cell(rich(fmt_pct(d.value))), Cell(rich(fmt_pct(d.rest_value))),
                     Cell(rich(f"{d.gap * 100:.1f} pp"), "fail"), Cell(rich(f"{d.q_value:.2g}")),
                     Cell(rich(f"{d.score:.0f}"))])
    return Section("discovered", f"Discovered weak slices — {target.name}", [
        Para(how),
        Table(["Subgroup", "Question", "n", "In subgroup", "Rest", "Gap", "q (BH)", "n × gap"],
              rows, [False, False, True, True, True, True, True, True]),
        Para(rich(f"{tested} tests (subgroups × questions) in the correction."), note=True),
    ])


def _context_cell(c: ContextCell | None) -> str:
    if c is None or c.n == 0 or c.precision is None:
        return _NA
    return f"{c.precision * 100:.0f}% of {c.n} [{c.ci_low * 100:.0f}–{c.ci_high * 100:.0f}]"


def _context(r: BuildResult) -> Section | None:
    target = _target(r)
    if target is None or not target.context:
        return None
    cells = target.context
    conditions = list(dict.fromkeys(c.condition for c in cells if c.condition))
    blocks: list[Block] = [Para(rich(
        "What ", code("edgekit run"), " attaches to each answer: of the evaluation captures "
        f"{target.name} accepted (not \"unknown\") and gave this label, in this condition, the "
        "share that were right, with the count and a 95 % Wilson interval. Conditions are "
        "computed from the capture itself, on the device as here: ",
        b(", ".join(conditions) or "none"), ". Out-of-distribution captures count as wrong.",
    ))]
    labels = list(dict.fromkeys(c.label for c in cells))
    by = {(c.label, c.condition, c.bin): c for c in cells}
    for cond in conditions:
        bins = list(dict.fromkeys(c.bin for c in cells if c.condition == cond))
        rows = [[Cell(rich(lbl)), Cell(rich(_context_cell(by.get((lbl, "", "all")))))]
                + [Cell(rich(_context_cell(by.get((lbl, cond, bn))))) for bn in bins]
                for lbl in labels]
        blocks.append(Table(["Label", "All", *[f"{cond} {bn}" for bn in bins]], rows,
                            [False] + [True] * (len(bins) + 1)))
    return Section("context", f"Results with context — {target.name}", blocks)


def insight_sections(r: BuildResult) -> list[Section]:
    """Scenarios, discovered slices and the context table, those that have content."""
    return [s for s in (_scenarios(r), _discovered(r), _context(r)) if s is not None]
