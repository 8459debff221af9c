"""The report shows the model, the chosen OOD score and their total separately (latency,
memory, energy share), in Markdown, HTML's view and report.json."""

from __future__ import annotations

import json

from edgekit.report import render_markdown
from edgekit.report.json_report import render_json
from edgekit.results import BuildResult, ScoreCost
from tests.report.test_markdown import _section, _tables, _unescape


def _scored(result: BuildResult) -> BuildResult:
    v = result.variant("onnx-int8-static")  # model p50 2.1 ms, p99 3.4 ms, peak 31 MiB
    v.score_cost = ScoreCost(
        "spectral", 200, 0.18, 0.21, 0.24, 0.31, 0.2, 2.33, 2.5, 3.65, 2.2, 2.1, 2.4, 3.5,
        24_576, 31.0, 38.5, "host, measured: x86_64; the spectral score on each of the 200 runs",
    )
    assert v.energy is not None
    v.energy.ood_score_mj = 0.17
    return result


def test_the_variants_table_shows_score_and_total_beside_the_model(passed_result: BuildResult) -> None:
    md = _unescape(render_markdown(_scored(passed_result)))
    section = _section(md, "Variants")
    header = next(line for line in section.splitlines() if line.startswith("| Variant"))
    assert "OOD score p99 ms" in header and "Total p99 ms" in header
    row = next(r for r in _tables(section)[0] if "onnx-int8-static" in r[0])
    assert "0.310 (spectral)" in row and "3.65" in row
    other = next(r for r in _tables(section)[0] if "onnx-fp32" in r[0])
    assert other.count("—") >= 2  # no score timed: not shown as zero


def test_the_cost_section_lists_model_score_total_and_memory(passed_result: BuildResult) -> None:
    md = _unescape(render_markdown(_scored(passed_result)))
    section = _section(md, "Cost of the OOD score")
    (row,) = _tables(section)[0]
    assert row[:3] == ["onnx-int8-static", "spectral", "200"]
    assert "2.10 / 3.40" in row  # the model
    assert "2.33 / 3.65" in row  # the total, per-run sums
    assert "24.0" in row  # statistics KiB: 24576 / 1024
    assert "31.0 / 38.5" in row  # peak MiB, model alone / with the score
    energy = _section(md, "Energy per inference")
    assert "of which OOD score mJ" in energy and "0.170" in energy


def test_report_json_carries_the_score_cost(passed_result: BuildResult) -> None:
    data = json.loads(render_json(_scored(passed_result)))
    v = next(x for x in data["variants"] if x["name"] == "onnx-int8-static")
    assert v["score_cost"]["total_p99_ms"] == 3.65 and v["score_cost"]["stats_bytes"] == 24_576
    assert v["latency"]["p99_ms"] == 3.4  # the model's own figure stays the model's
    assert v["energy"]["ood_score_mj"] == 0.17
    assert next(x for x in data["variants"] if x["name"] == "onnx-fp32")["score_cost"] is None
