"""``report.html``: one self-contained page (inline CSS, inline SVG plots, no script, no URL).

It must open from a CI artefact, an e-mail attachment or an air-gapped laptop, so nothing is
fetched. Same sections as the markdown summary (both render ``_view.build_view``), plus plots:
accuracy vs latency with the Pareto front, per-slice accuracy per variant, and energy per
inference with spread. Every user string is escaped with ``html.escape``.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import TYPE_CHECKING

from edgekit.report import plots
from edgekit.report._atomic import atomic_write_text
from edgekit.report._view import (
    Block,
    Bullets,
    Cell,
    Para,
    Rich,
    Section,
    Table,
    build_view,
)

if TYPE_CHECKING:
    from edgekit.results import BuildResult

__all__ = ["render_html", "report_figures", "write_html"]

_CSS = """
:root{--ok:#1a7f37;--ok-bg:#dafbe1;--bad:#cf222e;--bad-bg:#ffebe9;--warn:#9a6700;
--warn-bg:#fff8c5;--muted:#6e7781;--line:#d0d7de;--zebra:#f6f8fa}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;
background:#fff}
main{max-width:1180px;margin:0 auto;padding:16px 24px 48px}
.verdict{border-radius:8px;padding:14px 18px;margin:8px 0 12px;border:1px solid}
.verdict.pass{background:var(--ok-bg);border-color:var(--ok)}
.verdict.fail{background:var(--bad-bg);border-color:var(--bad)}
.verdict h1{margin:0 0 6px;font-size:22px}
.verdict.pass h1{color:var(--ok)}.verdict.fail h1{color:var(--bad)}
.verdict h2{font-size:14px;margin:10px 0 2px}
.verdict ul{margin:4px 0;padding-left:20px}
.meta{color:var(--muted);margin:0 0 8px}
nav{font-size:13px;margin:0 0 8px}nav a{margin-right:10px;color:#0969da;text-decoration:none}
section{margin-top:22px}
h2{font-size:17px;border-bottom:1px solid var(--line);padding-bottom:4px}
.scroll{overflow-x:auto;max-width:100%}
p,li,figcaption,code{overflow-wrap:anywhere}
@media (max-width:600px){main{padding:8px 10px 32px}}
table{border-collapse:collapse;font-size:13px;margin:6px 0}
th,td{border:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
th{background:var(--zebra);font-weight:600;vertical-align:bottom}
tbody tr:nth-child(even){background:#fbfcfd}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.pass{background:var(--ok-bg);color:var(--ok);font-weight:600}
td.fail{background:var(--bad-bg);color:var(--bad);font-weight:600}
td.ne{background:var(--warn-bg);color:var(--warn);font-style:italic}
td.muted{color:var(--muted)}
td.selected{font-weight:600}
ul.ne li{color:var(--warn)}ul.muted li{color:var(--muted)}
p.note{color:var(--muted);font-size:12px}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;background:var(--zebra);
padding:1px 4px;border-radius:4px}
figure{margin:14px 0;padding:8px;border:1px solid var(--line);border-radius:8px;max-width:900px}
figcaption{color:var(--muted);font-size:12px;margin-top:4px}
figure svg{display:block;width:100%;height:auto}
"""


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _rich(text: Rich) -> str:
    out = []
    for span in text:
        t = _esc(span.text)
        out.append(f"<strong>{t}</strong>" if span.style == "b"
                   else f"<code>{t}</code>" if span.style == "code" else t)
    return "".join(out)


def _td(cell: Cell, numeric: bool) -> str:
    classes = [c for c in (cell.kind, "num" if numeric else "") if c]
    attr = f' class="{" ".join(classes)}"' if classes else ""
    return f"<td{attr}>{_rich(cell.text)}</td>"


def _table(t: Table) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in t.headers)
    body = "\n".join(
        "<tr>" + "".join(_td(c, n) for c, n in zip(row, t.numeric, strict=False)) + "</tr>"
        for row in t.rows
    )
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n' \
           "</tbody></table></div>"


def _block(block: Block) -> str:
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Bullets):
        cls = f' class="{block.kind}"' if block.kind else ""
        items = "".join(f"<li>{_rich(i)}</li>" for i in block.items)
        return f"<ul{cls}>{items}</ul>"
    if isinstance(block, Para):
        return f'<p class="note">{_rich(block.text)}</p>' if block.note \
            else f"<p>{_rich(block.text)}</p>"
    raise TypeError(f"unknown report block {type(block).__name__}")


def _figure(figure_id: str, svg: str, caption: str) -> str:
    return (f'<figure id="{_esc(figure_id)}">\n{svg}\n'
            f"<figcaption>{_esc(caption)}</figcaption></figure>")


def report_figures(result: BuildResult) -> dict[str, str]:
    """The report's plots as ``{section id: <figure> HTML}``; a plot without data is left out."""
    r = result
    figures: dict[str, str] = {}
    built = [v for v in r.variants if v.status == "built"]

    points = [(v.name, v.latency.p50_ms, 100 * v.accuracy.accuracy)
              for v in built if v.accuracy and v.latency]
    if points:
        svg = plots.scatter_pareto(points, "host p50 latency (ms)", "accuracy (%)", r.selected,
                                   front=r.pareto or None, figure_id="plot-pareto")
        sel = f"; ringed: the selected variant, {r.selected}" if r.selected else ""
        figures["pareto"] = _figure(
            "plot-pareto", svg,
            f"Accuracy vs host p50 latency per built variant; the step line is the Pareto "
            f"front{sel}.")

    with_slices = [v for v in built if v.accuracy and v.accuracy.slices]
    ref = next((v for v in with_slices if v.name == r.reference), None) or \
        (with_slices[0] if with_slices else None)
    if ref is not None and ref.accuracy is not None:
        keys = [(s.column, s.value) for s in ref.accuracy.slices]
        rows = [f"{c}={val}" for c, val in keys]
        cols = [v.name for v in with_slices]
        lookup = {(v.name, s.column, s.value): s.accuracy
                  for v in with_slices if v.accuracy for s in v.accuracy.slices}
        values = [[lookup.get((name, c, val)) for name in cols] for c, val in keys]
        svg = plots.heatmap(rows, cols, values, value_label="accuracy", value_format="{:.0%}",
                            figure_id="plot-slices")
        figures["slices"] = _figure(
            "plot-slices", svg,
            f"Accuracy per slice (the slices of {ref.name}) for each built variant.")

    with_energy = [v for v in r.variants if v.energy]
    if with_energy:
        energy = [v.energy for v in with_energy if v.energy]
        svg = plots.errorbars([v.name for v in with_energy],
                              [e.energy_per_inference_mj for e in energy],
                              [e.spread_mj for e in energy], "energy per inference (mJ)",
                              tags=[e.kind for e in energy], figure_id="plot-energy")
        figures["energy"] = _figure(
            "plot-energy", svg,
            "Energy per inference with spread; hatched bars are estimated (power model), "
            "solid bars measured.")
    cal = next((v for v in built if v.name == r.selected and v.calibration), None) or next(
        (v for v in built if v.calibration), None
    )
    if cal is not None and cal.calibration is not None:
        c = cal.calibration
        series = {
            f"before (ECE {c.ece_before:.3f})": tuple(c.bins_before.get(k, []) for k in
                                                     ("confidence", "accuracy", "count")),
            f"after, T = {c.temperature:.2f} (ECE {c.ece_after:.3f})": tuple(
                c.bins_after.get(k, []) for k in ("confidence", "accuracy", "count")),
        }
        svg = plots.reliability(series, figure_id="plot-reliability")  # type: ignore[arg-type]
        figures["calibration"] = _figure(
            "plot-reliability", svg,
            f"Reliability diagram of {cal.name} on the in-distribution evaluation captures, before "
            "and after temperature scaling; marker area: captures in the bin.")
    return figures


def render_html(result: BuildResult, *, worst_n: int = 5) -> str:
    """The full report as one HTML document with inline CSS and SVG."""
    view = build_view(result, worst_n=worst_n)
    figures = report_figures(result)
    v = view.verdict
    verdict = [f'<header class="verdict {"pass" if v.passed else "fail"}">',
               f"<h1>{_esc(v.headline)}</h1>"]
    if v.summary:
        verdict.append(f"<p>{_rich(v.summary)}</p>")
    if v.failures:
        verdict.append("<h2>Failing budgets</h2><ul>"
                       + "".join(f"<li>{_rich(f)}</li>" for f in v.failures) + "</ul>")
    if v.unevaluated:
        verdict.append("<h2>Not evaluated (blocks shipping)</h2><ul>"
                       + "".join(f"<li>{_rich(u)}</li>" for u in v.unevaluated) + "</ul>")
    if v.other:
        verdict.append("<ul>" + "".join(f"<li>{_rich(o)}</li>" for o in v.other) + "</ul>")
    verdict.append("</header>")

    sections = list(view.sections)
    present = {s.id for s in sections}
    orphans = [fig for sid, fig in figures.items() if sid not in present]
    if orphans:
        sections.append(Section("plots", "Plots"))
    nav = " ".join(f'<a href="#{_esc(s.id)}">{_esc(s.title)}</a>' for s in sections)
    body = []
    for s in sections:
        parts = [f'<section id="{_esc(s.id)}">', f"<h2>{_esc(s.title)}</h2>"]
        parts += [_block(b) for b in s.blocks]
        if s.id in figures:
            parts.append(figures[s.id])
        if s.id == "plots":
            parts += orphans
        parts.append("</section>")
        body.append("\n".join(parts))
    doc = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_esc(v.headline)} · {_esc(view.title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body><main>",
        *verdict,
        f'<p class="meta">{_rich(view.meta)}</p>',
        f"<nav>{nav}</nav>",
        *body,
        "</main></body>",
        "</html>",
    ]
    return "\n".join(doc) + "\n"


def write_html(result: BuildResult, path: str | os.PathLike[str], *, worst_n: int = 5) -> Path:
    """Write ``report.html`` atomically to ``path`` and return it."""
    return atomic_write_text(path, render_html(result, worst_n=worst_n))

