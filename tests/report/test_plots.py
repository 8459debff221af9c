from __future__ import annotations

import math
import re

import pytest

from edgekit.report import plots


def _check_svg(svg: str) -> None:
    assert svg.startswith("<svg")
    assert svg.rstrip().endswith("</svg>")
    assert "<?xml" not in svg and "<!DOCTYPE" not in svg and "<metadata" not in svg
    assert "<dc:date" not in svg


def test_pareto_front() -> None:
    pts = [("a", 1.0, 0.80), ("b", 2.0, 0.90), ("c", 3.0, 0.85), ("d", 4.0, 0.95),
           ("nan", math.nan, 0.99)]
    assert plots.pareto_front(pts) == ["a", "b", "d"]
    # Maximising x instead: "d" dominates everything with lower accuracy.
    assert plots.pareto_front(pts, minimize_x=False) == ["d"]


def test_scatter_pareto_labels_and_selected() -> None:
    svg = plots.scatter_pareto([("fast", 1.0, 90.0), ("slow", 3.0, 93.0), ("bad", 4.0, 80.0)],
                               "p50 (ms)", "accuracy (%)", "fast")
    _check_svg(svg)
    for text in ("fast", "slow", "bad", "selected: fast", "Pareto front", "dominated"):
        assert f">{text}<" in svg, text


def test_plots_are_deterministic_and_ids_prefixed() -> None:
    a = plots.cdf({"int8": [1.0, 2.0, 2.5, math.nan], "fp32": [3.0, 4.0]}, "latency (ms)",
                  marker_x=3.5, figure_id="plot-cdf-x")
    b = plots.cdf({"int8": [1.0, 2.0, 2.5, math.nan], "fp32": [3.0, 4.0]}, "latency (ms)",
                  marker_x=3.5, figure_id="plot-cdf-x")
    assert a == b
    _check_svg(a)
    ids = re.findall(r'\sid="([^"]+)"', a)
    assert ids and all(i.startswith("plot-cdf-x-") for i in ids)
    refs = re.findall(r'(?:href="#|url\(#)([^")]+)', a)
    assert set(refs) <= set(ids)
    assert ">int8 (n=3)<" in a  # the NaN sample is not counted


@pytest.mark.parametrize("make", [
    lambda: plots.grouped_bars(["AM", "FM"], {"fp32": [0.9, 0.8], "int8": [0.85, None]}, "acc"),
    lambda: plots.heatmap(["snr=-10", "snr=0"], ["fp32", "int8"], [[0.6, None], [0.9, 0.88]],
                          value_format="{:.0%}"),
    lambda: plots.errorbars(["fp32", "int8"], [3.0, 1.5], [0.2, math.nan], "mJ",
                            tags=["measured", "estimated"]),
    lambda: plots.line([0, 1, 2], {"power": [1.0, None, 1.2]}, "t (s)", "W"),
])
def test_generic_plots_render(make) -> None:
    _check_svg(make())


def test_heatmap_marks_missing_cells_and_errorbars_tags() -> None:
    svg = plots.heatmap(["r"], ["a", "b"], [[0.5, None]], value_format="{:.0%}")
    assert ">50%<" in svg and ">n/a<" in svg
    eb = plots.errorbars(["x"], [1.0], [0.1], "mJ", tags=["estimated"])
    assert "(estimated)" in eb


@pytest.mark.parametrize("make", [
    lambda: plots.scatter_pareto([], "x", "y", None),
    lambda: plots.cdf({}, "ms"),
    lambda: plots.grouped_bars([], {}, "y"),
    lambda: plots.errorbars([], [], [], "mJ"),
])
def test_empty_inputs_give_a_placeholder_not_an_error(make) -> None:
    svg = make()
    _check_svg(svg)
    assert ">no " in svg


def test_close_pareto_labels_are_moved_apart() -> None:
    from matplotlib.figure import Figure

    from edgekit.report.plots import _place_labels, label_boxes_overlap

    # Two variants 0.3 µs and 0.01 pp apart: the labels overlap ("tflite-fp32onnx-fp32") unless
    # they are placed with collision avoidance.
    xs, ys = [0.300, 0.3003], [82.92, 82.9201]
    fig = Figure(figsize=(6.4, 4.0))
    ax = fig.subplots()
    ax.scatter(xs, ys)
    ax.set_xlim(0.2, 0.4)
    ax.set_ylim(82.0, 83.5)
    texts = [ax.text(x, y, n) for n, x, y in zip(["tflite-fp32", "onnx-fp32"], xs, ys, strict=True)]
    assert label_boxes_overlap(fig, texts)  # the starting position: one on the other
    _place_labels(fig, ax, texts, xs, ys)
    assert not label_boxes_overlap(fig, texts)
