"""``bench.md``: the bench summary as GitHub-flavoured Markdown (reads a ``BenchResult`` only)."""

from __future__ import annotations

from edgekit.bench._text import (
    BATTERY_HEADERS,
    DUTY_HEADERS,
    SUMMARY_HEADERS,
    battery_rows,
    duty_row,
    energy_provenance,
    environment_rows,
    fmt,
    how_obtained,
    summary_row,
    title,
)
from edgekit.bench_result import BenchResult

__all__ = ["render_markdown"]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(headers: tuple[str, ...] | list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(_cell(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return out


def render_markdown(result: BenchResult) -> str:
    """The whole report; every energy figure names measured/estimated, meter, rate, N, spread."""
    lines = [f"# {title(result)}", ""]
    if result.quick:
        lines += ["> **QUICK RUN**: short windows for a smoke test; not a benchmark.", ""]
    if result.throttled_during_run:
        lines += ["> **WARNING: the board throttled during the run** (see Environment).", ""]
    if "estimated" in result.energy_kinds:
        lines += [
            "> **Energy figures are ESTIMATED** from a CPU-utilisation power model "
            f"({result.meter['name']}), not measured.",
            "",
        ]
    m = result.meter
    lines += [
        f"Started {result.started_at}, {fmt(result.duration_s, '.1f')} s, {result.tool}. "
        f"Bundle `{result.bundle.get('path')}` (manifest SHA-256 "
        f"`{str(result.bundle.get('manifest_sha256'))[:16]}…`, selected "
        f"`{result.bundle.get('selected')}`). Meter: {m['kind']} `{m['spec']}` "
        f"({m['measures']}, nominal {fmt(m['sample_rate_hz'], '.0f')} Hz, {m['chosen_by']}).",
        "",
    ]
    if result.warnings:
        lines += ["## Warnings", ""] + [f"- {_cell(w)}" for w in result.warnings] + [""]
    lines += ["## Summary", ""]
    lines += [*_table(SUMMARY_HEADERS, [summary_row(v) for v in result.variants]), ""]
    if any(v.duty_energy is not None or v.duty_energy_error for v in result.variants):
        lines += ["## Energy per capture at the duty cycle", ""]
        lines += [*_table(DUTY_HEADERS, [duty_row(v) for v in result.variants]), ""]
    lines += ["## Energy per inference: provenance", ""]
    lines += [f"- {energy_provenance(v)}" for v in result.variants] + [""]
    lines += ["## Battery", ""]
    bat = result.battery
    if bat is None:
        lines += ["No battery projection (see warnings).", ""]
    else:
        cap = (
            f"{fmt(bat.get('capacity_wh'))} Wh"
            if bat.get("capacity_wh") is not None
            else f"{fmt(bat.get('capacity_mah'), '.0f')} mAh at {fmt(bat.get('nominal_v'))} V"
        )
        lines += [
            f"Battery {cap}, usable fraction {fmt(bat.get('usable_fraction'))}, scanner baseline "
            f"{fmt(bat.get('scanner_baseline_w'))} W, duty {fmt(bat['duty_hz'])} captures/s "
            f"({bat['duty_hz_source']}).",
            "",
        ]
        lines += [*_table(BATTERY_HEADERS, battery_rows(result)), ""]
    lines += ["## Environment", ""]
    lines += [*_table(["", "before", "after"], [list(r) for r in environment_rows(result)]), ""]
    lines += ["## How each number was obtained", ""]
    lines += [f"- {h}" for h in how_obtained(result)] + [""]
    return "\n".join(lines)
