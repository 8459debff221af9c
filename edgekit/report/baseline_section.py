"""Report section for the bundle's baseline: what the daemon answers with when the model fails,
what it costs in accuracy against the selected variant, and how fast it is. Renderer-neutral,
like ``_view``'s sections."""

from __future__ import annotations

from edgekit.report._view import Cell, Para, Section, Table, b, code, fmt_ms, fmt_pct, rich
from edgekit.results import BuildResult

__all__ = ["baseline_section"]


def baseline_section(r: BuildResult) -> Section | None:
    """None when the build has no ``[baseline]``."""
    bl = r.baseline
    if bl is None:
        return None
    sel = next((v for v in r.variants if v.name == r.selected), None)
    rows = [
        [
            Cell(rich(b(f"baseline: {bl.name}"))),
            Cell(rich(bl.kind)),
            Cell(rich(fmt_pct(bl.accuracy, 2))),
            Cell(rich(fmt_pct(bl.ood.ood_unknown_rate, 1) if bl.ood else "—")),
            Cell(rich(fmt_ms(bl.latency_p50_ms))),
            Cell(rich(fmt_ms(bl.latency_p99_ms))),
        ]
    ]
    if sel is not None:
        acc = sel.accuracy
        rows.append(
            [
                Cell(rich(f"selected: {sel.name}")),
                Cell(rich("model")),
                Cell(rich(fmt_pct(acc.accuracy if acc else None, 2))),
                Cell(rich(fmt_pct(acc.ood.ood_unknown_rate, 1) if acc and acc.ood else "—")),
                Cell(rich(fmt_ms(sel.latency.p50_ms if sel.latency else None))),
                Cell(rich(fmt_ms(sel.latency.p99_ms if sel.latency else None))),
            ]
        )
    what = rich(
        "When the model raises, would overrun its latency budget or cannot load, ",
        code("edgekit run"),
        " answers from this baseline and marks the result as fallback. Source: ",
        code(bl.source),
        f". Accuracy: {bl.accuracy_of}, on the same evaluation data as the variants ",
        "(answers mapped onto the bundle's labels by name)",
        f"; agreement with the fp32 model {fmt_pct(bl.agreement_with_model, 1)}."
        if bl.agreement_with_model is not None
        else ".",
    )
    notes = [
        f"Baseline latency: {bl.latency_provenance}." if bl.latency_provenance else "",
        f"Bundle file: {bl.bundle_file}." if bl.bundle_file else "",
    ]
    return Section(
        "baseline",
        "Fallback baseline",
        [
            Para(what),
            Table(
                ["Answers from", "Kind", "Accuracy", "OOD called unknown", "p50 ms", "p99 ms"],
                rows,
                [False, False, True, True, True, True],
            ),
            Para(rich(" ".join(n for n in notes if n)), note=True),
        ],
    )
