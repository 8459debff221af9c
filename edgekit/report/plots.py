"""Plots for the build and bench reports, each returned as an inline-ready SVG string.

Every function takes plain data (names and numbers, no ``BuildResult``), so the bench report can
reuse them. Figures are made with ``matplotlib.figure.Figure`` directly, never ``pyplot``: no
global figure registry, no GUI backend is touched, and importing this module does not change the
caller's backend (the SVG writer needs none). Output is deterministic: a fixed ``svg.hashsalt``
per figure (its ``figure_id``, so two figures inlined in one page do not share element ids), no
date, and the ``<metadata>`` block (creator and matplotlib version) removed.
Text is kept as SVG ``<text>`` (``svg.fonttype = "none"``): smaller, selectable, searchable;
matplotlib XML-escapes it.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, cast

import matplotlib
import numpy as np
from adjustText import adjust_text
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = [
    "PALETTE",
    "cdf",
    "errorbars",
    "grouped_bars",
    "heatmap",
    "label_boxes_overlap",
    "line",
    "pareto_front",
    "reliability",
    "scatter_pareto",
]

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]

# Sizes chosen to stay readable when a 6.4 in figure is scaled down to a phone's width.
_RC: dict[str, Any] = {
    "svg.fonttype": "none",
    "font.size": 11.0,
    "axes.titlesize": 12.0,
    "axes.labelsize": 11.0,
    "xtick.labelsize": 10.0,
    "ytick.labelsize": 10.0,
    "legend.fontsize": 10.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
}

_PROLOG = re.compile(r"\A\s*(<\?xml[^>]*\?>\s*)?(<!DOCTYPE[^>]*>\s*)?", re.S)
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.S)
_SVG_SIZE = re.compile(r'\s(width|height)="[^"]*"')
_TAG = re.compile(r"<[A-Za-z][^>]*>")  # text content is XML-escaped, so every "<x" is a tag
_ID_ATTR = re.compile(r'(\sid=")([^"]+)"')
_ID_REF = re.compile(r'((?:xlink:)?href="#|url\(#)([^")]+)')


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def _f(x: float | None) -> float:
    """``x`` as a float, NaN when missing (matplotlib leaves NaN points out)."""
    return math.nan if x is None else float(x)


def _rc(figure_id: str) -> Any:
    # cast: matplotlib's stubs type rc keys as a Literal union that a plain dict cannot satisfy.
    return cast(Any, {**_RC, "svg.hashsalt": figure_id})


@contextmanager
def _figure(figure_id: str, figsize: tuple[float, float]) -> Iterator[Figure]:
    with matplotlib.rc_context(_rc(figure_id)):
        yield Figure(figsize=figsize, layout="constrained")


def _to_svg(fig: Figure, figure_id: str, title: str) -> str:
    """Serialise ``fig`` to an SVG fragment ready to inline in HTML (no prolog, no metadata)."""
    buf = io.StringIO()
    with matplotlib.rc_context(_rc(figure_id)):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    svg = _METADATA.sub("", _PROLOG.sub("", buf.getvalue()), count=1)
    svg = _prefix_ids(svg, f"{figure_id}-")
    start = svg.find("<svg")
    end = svg.find(">", start)
    # Drop the fixed pt size so the figure scales with the page (the viewBox keeps the aspect).
    head = _SVG_SIZE.sub("", svg[start:end])
    label = _xml_attr(title or figure_id)
    head += f' role="img" aria-label="{label}" style="max-width:100%;height:auto"'
    return svg[:start] + head + svg[end:]


def _prefix_ids(svg: str, prefix: str) -> str:
    """Prefix every element id and reference: matplotlib names groups ``figure_1``, ``axes_1`` in
    every figure, which would collide once several SVGs share one HTML document."""

    def in_tag(m: re.Match[str]) -> str:
        tag = _ID_ATTR.sub(lambda a: f'{a[1]}{prefix}{a[2]}"', m[0])
        return _ID_REF.sub(lambda r: f"{r[1]}{prefix}{r[2]}", tag)

    return _TAG.sub(in_tag, svg)


def _xml_attr(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def _place_labels(fig: Figure, ax: Axes, texts: list[Any], xs: list[float],
                  ys: list[float]) -> None:
    """Move point labels apart so none overlaps another label or a point (adjustText), with a
    thin leader line back to the point when a label had to move."""
    if len(texts) < 2:
        return
    FigureCanvasAgg(fig)  # adjustText measures text extents with a renderer; Agg gives one
    adjust_text(texts, x=xs, y=ys, ax=ax, expand=(1.2, 1.4),
                arrowprops={"arrowstyle": "-", "color": "#888888", "lw": 0.6})


def label_boxes_overlap(fig: Figure, texts: list[Any]) -> bool:
    """Whether any two of ``texts`` overlap on the drawn figure (used by the tests)."""
    renderer = FigureCanvasAgg(fig).get_renderer()
    boxes = [t.get_window_extent(renderer) for t in texts]
    return any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])


def _empty(ax: Axes, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="#666")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)


def pareto_front(
    points: Sequence[tuple[str, float, float]], *, minimize_x: bool = True, maximize_y: bool = True
) -> list[str]:
    """Names of the non-dominated points (best x and best y), ordered by x from best to worst."""
    sx = 1.0 if minimize_x else -1.0
    sy = 1.0 if maximize_y else -1.0
    pts = [(n, sx * x, sy * y) for n, x, y in points if _finite(x) and _finite(y)]
    front: list[str] = []
    best_y = -math.inf
    for name, _x, y in sorted(pts, key=lambda p: (p[1], -p[2], p[0])):
        if y > best_y:
            front.append(name)
            best_y = y
    return front


def scatter_pareto(
    points: Sequence[tuple[str, float, float]],
    x_label: str,
    y_label: str,
    selected: str | None = None,
    *,
    front: Sequence[str] | None = None,
    title: str = "",
    minimize_x: bool = True,
    maximize_y: bool = True,
    figure_id: str = "plot-pareto",
) -> str:
    """Labelled scatter of ``(name, x, y)`` with the Pareto front as a step line.

    ``front`` gives the front's members (e.g. the build's own ``pareto`` list); if omitted it is
    computed. ``selected`` is ringed. Points with a non-finite coordinate are left out.
    """
    pts = [(n, x, y) for n, x, y in points if _finite(x) and _finite(y)]
    with _figure(figure_id, (6.4, 4.0)) as fig:
        ax = fig.subplots()
        if not pts:
            _empty(ax, "no variant with both figures")
        else:
            members = set(front if front is not None else pareto_front(
                pts, minimize_x=minimize_x, maximize_y=maximize_y))
            on = [p for p in pts if p[0] in members]
            off = [p for p in pts if p[0] not in members]
            if off:
                ax.scatter([p[1] for p in off], [p[2] for p in off], s=30, color="#999999",
                           label="dominated", zorder=3)
            if on:
                on.sort(key=lambda p: p[1], reverse=not minimize_x)
                ax.step([p[1] for p in on], [p[2] for p in on], where="post", color=PALETTE[0],
                        linewidth=1.2, alpha=0.8, zorder=2)
                ax.scatter([p[1] for p in on], [p[2] for p in on], s=36, color=PALETTE[0],
                           label="Pareto front", zorder=3)
            texts = []
            for name, x, y in pts:
                if name == selected:
                    ax.scatter([x], [y], s=180, facecolors="none", edgecolors=PALETTE[3],
                               linewidths=2.0, label=f"selected: {name}", zorder=4)
                texts.append(ax.text(x, y, name, fontsize=10))
            ax.set_xlabel(x_label)
            ax.set_ylabel(y_label)
            ax.margins(x=0.15, y=0.12)
            ax.legend(loc="best", frameon=False)
            _place_labels(fig, ax, texts, [p[1] for p in pts], [p[2] for p in pts])
        if title:
            ax.set_title(title)
        return _to_svg(fig, figure_id, title or f"{y_label} vs {x_label}")


def grouped_bars(
    categories: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    y_label: str,
    *,
    title: str = "",
    y_lim: tuple[float, float] | None = None,
    figure_id: str = "plot-bars",
) -> str:
    """One group of bars per category, one bar per series; ``None``/NaN values leave a gap."""
    n_series = max(len(series), 1)
    width = 0.8 / n_series
    with _figure(figure_id, (max(6.4, 0.5 * len(categories) * n_series * 0.6 + 2), 4.0)) as fig:
        ax = fig.subplots()
        if not categories or not series:
            _empty(ax, "no data")
        else:
            for i, (name, values) in enumerate(series.items()):
                xs = [c + (i - (n_series - 1) / 2) * width for c in range(len(categories))]
                pairs = [(x, _f(v)) for x, v in zip(xs, values, strict=False) if _finite(v)]
                ax.bar([p[0] for p in pairs], [p[1] for p in pairs], width=width * 0.95,
                       label=name, color=PALETTE[i % len(PALETTE)])
            ax.set_xticks(range(len(categories)), list(categories), rotation=30, ha="right")
            ax.set_ylabel(y_label)
            ax.grid(axis="x", visible=False)
            if y_lim is not None:
                ax.set_ylim(*y_lim)
            ax.legend(frameon=False, ncols=min(n_series, 4), loc="lower right")
        if title:
            ax.set_title(title)
        return _to_svg(fig, figure_id, title or y_label)


def heatmap(
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    values: Sequence[Sequence[float | None]],
    *,
    value_label: str = "",
    value_format: str = "{:.2f}",
    v_range: tuple[float, float] | None = None,
    title: str = "",
    cmap: str = "viridis",
    figure_id: str = "plot-heatmap",
) -> str:
    """Annotated grid of ``values[row][col]``; ``None``/NaN cells are blank and marked "n/a".

    ``value_label`` names the quantity for screen readers (the SVG's aria-label) when no title.
    """
    n_rows, n_cols = len(row_labels), len(col_labels)
    height = min(max(2.2, 0.32 * n_rows + 1.6), 14.0)
    with _figure(figure_id, (max(4.5, 1.3 * n_cols + 2.6), height)) as fig:
        ax = fig.subplots()
        if n_rows == 0 or n_cols == 0:
            _empty(ax, "no data")
        else:
            grid = [[_f(v) for v in row] for row in values]
            finite = [v for row in grid for v in row if math.isfinite(v)]
            lo, hi = v_range or ((min(finite), max(finite)) if finite else (0.0, 1.0))
            # pcolormesh, not imshow: imshow would embed a PNG in the SVG; this stays vector.
            edges_x = [c - 0.5 for c in range(n_cols + 1)]
            edges_y = [r - 0.5 for r in range(n_rows + 1)]
            ax.pcolormesh(edges_x, edges_y, np.ma.masked_invalid(np.array(grid)),
                          cmap=cmap, vmin=lo, vmax=hi)
            ax.set_xlim(-0.5, n_cols - 0.5)
            ax.set_ylim(n_rows - 0.5, -0.5)  # first row on top, as in a table
            mid = (lo + hi) / 2
            for r, row in enumerate(grid):
                for c, v in enumerate(row):
                    text = value_format.format(v) if math.isfinite(v) else "n/a"
                    colour = "white" if math.isfinite(v) and v < mid else "black"
                    ax.text(c, r, text, ha="center", va="center", fontsize=7, color=colour)
            ax.set_xticks(range(n_cols), list(col_labels), rotation=20, ha="right")
            ax.set_yticks(range(n_rows), list(row_labels))
            ax.grid(False)
            # No colorbar: every cell is labelled, and matplotlib rasterises colorbars into PNG.
        if title:
            ax.set_title(title)
        return _to_svg(fig, figure_id, title or value_label)


def errorbars(
    labels: Sequence[str],
    values: Sequence[float],
    errors: Sequence[float | tuple[float, float]],
    y_label: str,
    *,
    tags: Sequence[str] | None = None,
    title: str = "",
    figure_id: str = "plot-errorbars",
) -> str:
    """Bars with error bars, one per label; ``tags`` (e.g. "estimated"/"measured") are printed
    under each label, and bars tagged "estimated" are hatched so they never pass for measured.

    An error is ``e`` (symmetric, ± e) or ``(below, above)`` for an asymmetric interval (e.g. a
    p10-p90 spread around a median), drawn as it is rather than symmetric at the larger side.
    """
    with _figure(figure_id, (max(5.0, 1.1 * len(labels) + 2), 3.8)) as fig:
        ax = fig.subplots()
        rows = [(i, v, e) for i, (v, e) in enumerate(zip(values, errors, strict=True))
                if _finite(v)]
        if not rows:
            _empty(ax, "no data")
        else:
            tag_list = list(tags) if tags is not None else [""] * len(labels)
            for i, v, e in rows:
                estimated = tag_list[i] == "estimated"
                lo, hi = e if isinstance(e, tuple) else (e, e)
                yerr = [[lo if _finite(lo) else 0.0], [hi if _finite(hi) else 0.0]]
                ax.bar([i], [v], yerr=yerr, capsize=4, width=0.6,
                       color=PALETTE[i % len(PALETTE)], alpha=0.55 if estimated else 0.9,
                       hatch="//" if estimated else None, edgecolor="#333333", linewidth=0.6)
            ticks = [f"{lbl}\n({t})" if t else lbl
                     for lbl, t in zip(labels, tag_list, strict=True)]
            ax.set_xticks(range(len(labels)), ticks)
            ax.set_ylabel(y_label)
            ax.grid(axis="x", visible=False)
        if title:
            ax.set_title(title)
        return _to_svg(fig, figure_id, title or y_label)


def cdf(
    series: Mapping[str, Sequence[float]],
    x_label: str,
    *,
    title: str = "",
    marker_x: float | None = None,
    marker_label: str = "budget",
    figure_id: str = "plot-cdf",
) -> str:
    """Empirical CDFs (e.g. latency distributions), one step line per series; ``marker_x`` draws a
    vertical line such as a latency budget."""
    with _figure(figure_id, (6.4, 3.8)) as fig:
        ax = fig.subplots()
        drawn = 0
        for i, (name, samples) in enumerate(series.items()):
            xs = sorted(float(s) for s in samples if _finite(s))
            if not xs:
                continue
            ys = [(i + 1) / len(xs) for i in range(len(xs))]
            ax.step(xs, ys, where="post", label=f"{name} (n={len(xs)})",
                    color=PALETTE[i % len(PALETTE)])
            drawn += 1
        if not drawn:
            _empty(ax, "no samples")
        else:
            if marker_x is not None and _finite(marker_x):
                ax.axvline(marker_x, color=PALETTE[3], linestyle="--", linewidth=1.0,
                           label=f"{marker_label} {marker_x:g}")
            ax.set_xlabel(x_label)
            ax.set_ylabel("fraction ≤ x")
            ax.set_ylim(0, 1.02)
            ax.legend(frameon=False, loc="lower right")
        if title:
            ax.set_title(title)
        return _to_svg(fig, figure_id, title or f"CDF of {x_label}")


def line(
    xs: Sequence[float],
    series: Mapping[str, Sequence[float | None]],
    x_label: str,
    y_label: str,
    *,
    title: str = "",
    y_from_zero: bool = False,
    figure_id: str = "plot-line",
) -> str:
    """Lines over a shared x axis (e.g. power over time, battery life vs duty cycle).

    ``y_from_zero`` starts the y axis at 0, so that a 0.1 % difference (battery life with and
    without a model) does not fill the plot and look large.
    """
    with _figure(figure_id, (6.4, 3.8)) as fig:
        ax = fig.subplots()
        if not xs or not series:
            _empty(ax, "no data")
        else:
            for i, (name, ys) in enumerate(series.items()):
                ax.plot(list(xs), [_f(y) for y in ys], label=name, linewidth=1.2,
                        color=PALETTE[i % len(PALETTE)])
            ax.set_xlabel(x_label)
            ax.set_ylabel(y_label)
            if y_from_zero:
                ax.set_ylim(bottom=0)
            if len(series) > 1:
                ax.legend(frameon=False)
        if title:
            ax.set_title(title)
        return _to_svg(fig, figure_id, title or f"{y_label} vs {x_label}")


def reliability(
    series: Mapping[str, tuple[Sequence[float], Sequence[float], Sequence[float]]],
    *,
    title: str = "",
    figure_id: str = "plot-reliability",
) -> str:
    """Reliability diagram: accuracy against mean confidence per confidence bin, one line per
    series (e.g. before and after temperature scaling), marker area by the bin's count; the
    diagonal is perfect calibration. ``series``: name -> (confidence, accuracy, count)."""
    with _figure(figure_id, (6.4, 4.4)) as fig:
        ax = fig.subplots()
        ax.plot([0, 1], [0, 1], color="#888888", linewidth=1.0, linestyle="--",
                label="perfectly calibrated")
        if not series:
            _empty(ax, "no data")
        for i, (name, (conf, acc, count)) in enumerate(series.items()):
            total = max(sum(count), 1.0)
            sizes = [12 + 400 * c / total for c in count]
            color = PALETTE[i % len(PALETTE)]
            ax.plot(list(conf), list(acc), color=color, linewidth=1.2, label=name)
            ax.scatter(list(conf), list(acc), s=sizes, color=color, alpha=0.6, zorder=3)
        ax.set_xlim(0, 1.02)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("confidence (mean in bin)")
        ax.set_ylabel("accuracy in bin")
        ax.legend(frameon=False, loc="upper left")
        if title:
            ax.set_title(title)
        return _to_svg(fig, figure_id, title or "reliability diagram")
