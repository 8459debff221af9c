"""Report sections for tree models: what each engineered feature costs, and what truncating the
boosting rounds trades (accuracy, latency, size). Renderer-neutral, like ``_view``'s sections."""

from __future__ import annotations

from typing import Any

from edgekit.report._view import Block, Cell, Para, Section, Table, fmt_num, fmt_pct, fmt_pp, rich
from edgekit.results import BuildResult

__all__ = ["trees_sections"]


def _us(x: Any) -> str:
    return "—" if not isinstance(x, int | float) else f"{x:.1f}"


def _feature_costs(r: BuildResult) -> Section | None:
    fc = r.feature_costs
    if not fc or not fc.get("features"):
        return None
    feats = sorted(fc["features"], key=lambda f: -float(f.get("cost_us") or 0.0))
    total = sum(float(f.get("cost_us") or 0.0) for f in feats)
    rows = [
        [
            Cell(rich(f["name"])),
            Cell(rich(_us(f.get("cost_us")))),
            Cell(rich(_us(f.get("own_us")))),
            Cell(rich(_us(f.get("shared_us")))),
            Cell(rich(fmt_pct(f["importance"], 1) if f.get("importance") is not None else "—")),
        ]
        for f in feats
    ]
    extract = fc.get("extract_us")
    note = (
        f"Sum of the per-feature costs {total:.0f} µs; the whole feature extraction of one capture "
        f"took {_us(extract)} µs end to end (the difference is the graph's own overhead: "
        "allocation, the output row, cache effects). "
        + str(fc.get("method", ""))
        + (f"; importance: {fc['importance_kind']}." if fc.get("importance_kind") else ".")
    )
    return Section(
        "feature-costs",
        "Feature cost per capture",
        [
            Table(["Feature", "Cost µs", "Own µs", "Shared µs", "Importance"], rows,
                  [False, True, True, True, True]),
            Para(rich(note), note=True),
        ],
    )


def _truncation(r: BuildResult) -> Section | None:
    blocks: list[Block] = []
    for v in r.variants:
        steps = (v.meta or {}).get("truncation_search")
        if not steps:
            continue
        rows = [
            [
                Cell(rich(str(s["rounds"]))),
                Cell(rich(str(s["trees"]))),
                Cell(rich(fmt_pct(s["accuracy"], 2))),
                Cell(rich(fmt_pp(s["accuracy_drop"]))),
                Cell(rich(fmt_pp(s.get("worst_slice_drop")))),
                Cell(rich(_us(s.get("p50_us")))),
                Cell(rich(fmt_num(s["size_bytes"] / 1024))),
                Cell(rich("yes" if s["accepted"] else "no"), "pass" if s["accepted"] else "muted"),
            ]
            for s in steps
        ]
        blocks.append(Para(rich(
            f"{v.name}: kept the first {v.meta.get('rounds')} of {v.meta.get('total_rounds')} boosting "
            "rounds, the fewest that keep max_accuracy_drop and max_slice_accuracy_drop; every "
            "candidate scored against the fp32 model on the evaluation data:")))
        blocks.append(Table(
            ["Rounds", "Trees", "Accuracy", "Drop", "Worst slice drop", "Trees p50 µs", "KiB",
             "Within budgets"], rows, [True, True, True, True, True, True, True, False]))
    if not blocks:
        return None
    blocks.append(Para(rich("Trees p50: onnxruntime on one feature row, in process, this host "
                            "(the trees alone, without the features)."), note=True))
    return Section("truncation", "Tree truncation (boosting rounds)", blocks)


def trees_sections(r: BuildResult) -> list[Section]:
    """The tree sections that apply to this build (none for a CNN)."""
    return [s for s in (_feature_costs(r), _truncation(r)) if s is not None]
