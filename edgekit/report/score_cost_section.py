"""The report section on what the chosen OOD score costs per capture: the model, the score and
their total, side by side (latency and memory), with how each figure was obtained. The daemon
computes the score on every capture, so the budgets judge the total (``edgekit.budget``).
Renderer-neutral, like ``_view``'s sections."""

from __future__ import annotations

from edgekit.report._view import (
    LATENCY_SCOPE,
    Block,
    Bullets,
    Cell,
    Para,
    Section,
    Table,
    b,
    device_p99_ms,
    fmt_ms,
    fmt_num,
    rich,
    with_code,
)
from edgekit.results import BuildResult

__all__ = ["score_cost_section"]


def score_cost_section(r: BuildResult) -> Section | None:
    """None when no variant had its score timed (no data, or a build before the ood stage)."""
    scored = [v for v in r.variants if v.score_cost is not None and v.latency is not None]
    if not scored:
        return None
    rows = []
    notes = []
    for v in scored:
        sc, lat = v.score_cost, v.latency
        if sc is None or lat is None:  # filtered above; narrows the type
            continue
        on_target = lat.provenance.startswith("target")
        rows.append([
            Cell(rich(v.name)), Cell(rich(sc.score)), Cell(rich(str(sc.runs))),
            Cell(rich(f"{fmt_ms(sc.p50_ms)} [{fmt_ms(sc.p10_ms)}–{fmt_ms(sc.p90_ms)}]")),
            Cell(rich(fmt_ms(sc.p99_ms))), Cell(rich(fmt_ms(sc.cpu_ms_per_capture))),
            Cell(rich(f"{fmt_ms(lat.p50_ms)} / {fmt_ms(lat.p99_ms)}")),
            Cell(rich(f"{fmt_ms(sc.total_p50_ms)} / {fmt_ms(device_p99_ms(v))}")),
            Cell(rich(f"{sc.stats_bytes / 1024:,.1f}")),
            Cell(rich(f"{fmt_num(sc.model_peak_memory_mb)} / {fmt_num(sc.total_peak_memory_mb)}")),
        ])
        if on_target:
            notes.append(rich(b(v.name), ": the model's figures are the target's (edgekit bench "
                              "times the model only); its total p99 adds the score's p99 from "
                              "the build host, a lower bound on a slower target"))
        notes.append(rich(b(v.name), ": ", *with_code(sc.provenance)))
    blocks: list[Block] = [
        Para(rich(
            "The daemon computes the chosen OOD score on every capture, after the model; the build "
            "times it in the same worker process and the same runs as the model's latency, so the "
            f"total is measured per run ({LATENCY_SCOPE}, then the score) and its percentiles are "
            "those of the sums. Latency and memory budgets and the energy estimate judge the "
            "total.")),
        Table(["Variant", "Score", "Runs", "Score p50 ms [p10–p90]", "Score p99 ms",
               "Score CPU ms", "Model p50 / p99 ms", "Total p50 / p99 ms", "Statistics KiB",
               "Peak MiB model / with score"], rows,
              [False, False, True, True, True, True, True, True, True, True]),
        Bullets(notes),
    ]
    return Section("score-cost", "Cost of the OOD score", blocks)
