"""``bench.html``: one self-contained page (inline CSS and SVG, no script, nothing fetched).

Tables: summary (total and dynamic energy with their intervals), energy per capture at the duty
cycle (``--duty``), battery projections from each with their intervals and the converter efficiency.
Plots: latency CDF per variant, energy per inference with its interval (estimated bars hatched),
battery life vs duty cycle (a line per variant and one without the model), and accuracy
(host-validated at build time) vs energy with the Pareto front. Every user string is escaped.
"""

from __future__ import annotations

import html
import math

from edgekit.bench._text import (
    BATTERY_HEADERS,
    DUTY_HEADERS,
    SUMMARY_HEADERS,
    battery_curves,
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
from edgekit.report import plots

__all__ = ["FIGURE_IDS", "render_html"]

FIGURE_IDS = ("fig-latency-cdf", "fig-energy", "fig-battery", "fig-pareto")

_CSS = """
:root{--bad:#cf222e;--bad-bg:#ffebe9;--warn:#9a6700;--warn-bg:#fff8c5;--muted:#6e7781;
--line:#d0d7de;--zebra:#f6f8fa}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328}
main{max-width:1180px;margin:0 auto;padding:16px 24px 48px}
h1{font-size:22px;margin:8px 0}
h2{font-size:17px;border-bottom:1px solid var(--line);padding-bottom:4px}
.banner{border-radius:8px;padding:10px 14px;margin:8px 0;border:1px solid;font-weight:600}
.banner.warn{background:var(--warn-bg);border-color:var(--warn);color:var(--warn)}
.banner.bad{background:var(--bad-bg);border-color:var(--bad);color:var(--bad)}
.meta{color:var(--muted);margin:0 0 8px}
nav{font-size:13px;margin:0 0 8px}nav a{margin-right:10px;color:#0969da;text-decoration:none}
section{margin-top:22px}
.scroll{overflow-x:auto;max-width:100%}
p,li,figcaption,code{overflow-wrap:anywhere}
@media (max-width:600px){main{padding:8px 10px 32px}}
table{border-collapse:collapse;font-size:13px;margin:6px 0}
th,td{border:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
th{background:var(--zebra);font-weight:600;white-space:nowrap}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.estimated{background:var(--warn-bg);color:var(--warn);font-weight:600}
ul.warnings li{color:var(--bad)}
ul.prov li{margin-bottom:4px}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;background:var(--zebra);
padding:1px 4px;border-radius:4px}
.figs{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(480px,100%),1fr));gap:12px}
figure{margin:0;padding:8px;border:1px solid var(--line);border-radius:8px}
figcaption{color:var(--muted);font-size:12px;margin-top:4px}
figure svg{display:block;width:100%;height:auto}
"""

_TEXT_COLUMNS = {0, 1, 8, 9, 10, 11, 12}  # figures with their intervals read as text


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _table(headers: tuple[str, ...] | list[str], rows: list[list[str]], numeric: set[int]) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for i, c in enumerate(row):
            cls = ["num"] if i in numeric else []
            if c.startswith("ESTIMATED"):
                cls.append("estimated")
            attr = f' class="{" ".join(cls)}"' if cls else ""
            cells.append(f"<td{attr}>{_esc(c)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>\n'
        + "\n".join(body)
        + "\n</tbody></table></div>"
    )


def _figure(figure_id: str, svg: str, caption: str) -> str:
    return f'<figure id="{_esc(figure_id)}">\n{svg}\n<figcaption>{_esc(caption)}</figcaption></figure>'


def _figures(result: BenchResult) -> list[str]:
    vs = result.variants
    estimated = "estimated" in result.energy_kinds
    est_word = " (ESTIMATED)" if estimated else ""
    budget = (result.bundle.get("budgets") or {}).get("max_latency_p99_ms")
    slowest_ms = max((v.latency.max_ms for v in vs), default=0.0)
    # a far-away budget line would squash every distribution against the y axis
    marker = budget if budget is not None and budget <= 3.0 * slowest_ms else None
    out = [
        _figure(
            "fig-latency-cdf",
            plots.cdf(
                {v.name: v.latency.samples_ms for v in vs},
                "latency per inference, ms (preprocessing + inference, measured on this device)",
                marker_x=marker,
                marker_label="p99 budget",
                title="Latency distribution",
                figure_id="bench-latency-cdf",
            ),
            "Empirical CDF of the timed runs per variant, in a fresh process after warm-up"
            + (
                f"; dashed line: the bundle's p99 budget ({fmt(budget)} ms)."
                if marker is not None
                else f"; the bundle's p99 budget ({fmt(budget)} ms) is far right of every run."
                if budget is not None
                else "."
            ),
        )
    ]
    values: list[float] = []
    errors: list[float | tuple[float, float]] = []
    tags: list[str] = []
    for v in vs:
        e = v.energy
        if e is None:
            values.append(math.nan)
            errors.append(math.nan)
            tags.append("not measured")
            continue
        mid = float(e["energy_per_inference_mj"])
        lo, hi = (float(x) for x in e["spread_mj"])
        values.append(mid)
        errors.append((mid - lo, hi - mid))  # asymmetric: the interval as measured
        tags.append(str(e["kind"]))
    out.append(
        _figure(
            "fig-energy",
            plots.errorbars(
                [v.name for v in vs],
                values,
                errors,
                f"energy per inference, mJ{est_word}",
                tags=tags,
                title="Energy per inference" + est_word,
                figure_id="bench-energy",
            ),
            "The trace attributed to the run's events over all windows; error bars: the "
            "interval (block bootstrap over the windows, widened by the systematic terms), drawn "
            "as it is. Hatched bars are ESTIMATED by a power model, solid bars measured. "
            + "; ".join(f"{v.name}: {v.energy_label}" for v in vs),
        )
    )
    xs, series = battery_curves(result)
    bat = result.battery
    out.append(
        _figure(
            "fig-battery",
            plots.line(
                xs,
                series,
                "duty cycle, captures per second",
                "battery life, hours" + est_word,
                title="Battery life vs duty cycle" + est_word,
                y_from_zero=True,  # from 0 h: a 0.1 % difference must look like one
                figure_id="bench-battery",
            ),
            (
                f"Usable battery energy / average power; the configured duty is {fmt(bat['duty_hz'])} "
                f"captures/s ({bat['duty_hz_source']}); 'without model' is the scanner baseline alone."
                if bat
                else "No battery projection: the bundle has no usable battery section."
            ),
        )
    )
    points = [
        (v.name, float(v.energy["energy_per_inference_mj"]), float(v.accuracy))
        for v in vs
        if v.energy is not None and v.accuracy is not None
    ]
    out.append(
        _figure(
            "fig-pareto",
            plots.scatter_pareto(
                points,
                f"energy per inference, mJ{est_word}",
                "accuracy (host-validated at build)",
                selected=result.bundle.get("selected"),
                title="Accuracy vs energy",
                figure_id="bench-pareto",
            ),
            "Accuracy is the bundle's build-time validation on the host (not measured by bench); "
            "energy is from this run. The step line joins the Pareto-optimal variants.",
        )
    )
    return out


def render_html(result: BenchResult) -> str:
    """The full report as one HTML document."""
    t = title(result)
    banners = []
    if result.quick:
        banners.append(
            '<div class="banner warn">QUICK RUN: short windows for a smoke test; not a benchmark.</div>'
        )
    if result.throttled_during_run:
        banners.append(
            '<div class="banner bad">WARNING: the board throttled during the run; '
            "figures are not representative (see Environment).</div>"
        )
    if "estimated" in result.energy_kinds:
        banners.append(
            '<div class="banner warn">Energy figures are ESTIMATED from a CPU-utilisation power '
            f"model ({_esc(result.meter['name'])}), not measured.</div>"
        )
    m = result.meter
    meta = (
        f"Started {_esc(result.started_at)}, {_esc(fmt(result.duration_s, '.1f'))} s, "
        f"{_esc(result.tool)}. Bundle <code>{_esc(result.bundle.get('path'))}</code>, selected "
        f"<code>{_esc(result.bundle.get('selected'))}</code>. Meter: {_esc(m['kind'])} "
        f"<code>{_esc(m['spec'])}</code> ({_esc(m['measures'])}, nominal "
        f"{_esc(fmt(m['sample_rate_hz'], '.0f'))} Hz)."
    )
    sections = []
    if result.warnings:
        items = "".join(f"<li>{_esc(w)}</li>" for w in result.warnings)
        sections.append(("warnings", "Warnings", f'<ul class="warnings">{items}</ul>'))
    numeric = set(range(len(SUMMARY_HEADERS))) - _TEXT_COLUMNS
    sections.append(
        (
            "summary",
            "Summary",
            _table(SUMMARY_HEADERS, [summary_row(v) for v in result.variants], numeric),
        )
    )
    sections.append(("plots", "Plots", '<div class="figs">' + "\n".join(_figures(result)) + "</div>"))
    if any(v.duty_energy is not None or v.duty_energy_error for v in result.variants):
        rows = [duty_row(v) for v in result.variants]
        sections.append(("duty", "Energy per capture at the duty cycle",
                         _table(DUTY_HEADERS, rows, {1, 2, 3, 4, 6, 7})))
    if result.battery is not None:
        table = _table(BATTERY_HEADERS, battery_rows(result), {2, 3, 4, 5, 6, 7})
        sections.append(("battery", "Battery", table))
    prov = "".join(f"<li>{_esc(energy_provenance(v))}</li>" for v in result.variants)
    sections.append(("energy", "Energy per inference: provenance", f'<ul class="prov">{prov}</ul>'))
    env_rows = [list(r) for r in environment_rows(result)]
    sections.append(("environment", "Environment", _table(["", "before", "after"], env_rows, set())))
    how = "".join(f"<li>{_esc(h)}</li>" for h in how_obtained(result))
    sections.append(("how", "How each number was obtained", f'<ul class="prov">{how}</ul>'))
    nav = " ".join(f'<a href="#{sid}">{_esc(name)}</a>' for sid, name, _ in sections)
    body = "\n".join(
        f'<section id="{sid}"><h2>{_esc(name)}</h2>\n{content}\n</section>' for sid, name, content in sections
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_esc(t)}</title>\n<style>{_CSS}</style>\n</head>\n<body><main>\n"
        f"<h1>{_esc(t)}</h1>\n" + "\n".join(banners) + f'\n<p class="meta">{meta}</p>\n'
        f"<nav>{nav}</nav>\n{body}\n</main></body>\n</html>\n"
    )
