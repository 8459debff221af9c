"""Scenarios, discovered weak slices and the results-with-context table in the reports."""

from __future__ import annotations

import json

from edgekit.report import render_markdown
from edgekit.report.html import render_html
from edgekit.results import BudgetCheck, BuildResult, ContextCell, DiscoveredSlice, ScenarioResult

from .conftest import make_build_result


def _with_insight() -> BuildResult:
    r = make_build_result("pass")
    v = r.variant(r.selected or "onnx-fp32")
    v.scenarios = [
        ScenarioResult("low-SNR BPSK", 'snr_db < 0 and class = "bpsk"', 0.6, 98, 74, 74 / 98, 0.661, 0.830),
        ScenarioResult("impossible", "snr_db < -20", 0.5, 0, 0, None, None, None,
                       "no in-distribution evaluation capture matches 'snr_db < -20'"),
    ]
    v.checks += [
        BudgetCheck("scenario:low-SNR BPSK", "pass", 0.6, 74 / 98, "", "74 of 98 right"),
        BudgetCheck("scenario:impossible", "not_evaluated", 0.5, None, "", "filter selects nothing"),
    ]
    v.discovered_slices = [
        DiscoveredSlice("accuracy", [["snr_db", "in [-10, -5)"]], "snr_db in [-10, -5)", 442, 0.538,
                        0.885, 0.347, 1e-56, 4.7e-55, 153.3, 395),
    ]
    v.context = [
        ContextCell("bpsk", "", "all", None, None, 277, 241, 241 / 277, 0.83, 0.91, 0.95),
        ContextCell("bpsk", "snr_db", "[0, 10)", 0.0, 10.0, 273, 167, 167 / 273, 0.552, 0.668, 0.95),
        ContextCell("bpsk", "snr_db", ">= 10", 10.0, None, 0, 0, None, 0.0, 1.0, 0.95),
    ]
    return r


def test_markdown_shows_the_three_sections() -> None:
    md = render_markdown(_with_insight())
    assert "### Scenarios" in md and "74 of 98" in md and "*not evaluated*" in md
    assert "snr\\_db &lt; -20" in md  # the reason the scenario was not evaluated
    assert "### Discovered weak slices" in md and "34.7 pp" in md and "395 tests" in md
    assert "### Results with context" in md and "61% of 273 \\[55–67\\]" in md
    row = next(line for line in md.splitlines() if line.startswith("| bpsk |"))
    assert row.endswith("| — |")  # a bin without answers is shown as such, not as 0 %


def test_html_and_json_carry_them() -> None:
    r = _with_insight()
    html = render_html(r)
    assert "Discovered weak slices" in html and "Results with context" in html
    d = json.loads(json.dumps(r.to_dict()))
    v = next(x for x in d["variants"] if x["name"] == r.selected)
    assert v["discovered_slices"][0]["q_value"] == 4.7e-55
    assert v["context"][1]["n"] == 273 and v["scenarios"][1]["why_empty"].startswith("no in-distribution")


def test_no_sections_without_insight() -> None:
    md = render_markdown(make_build_result("pass"))
    assert "### Scenarios" not in md and "### Results with context" not in md
    assert "### Discovered weak slices" in md  # searched and nothing found is said so
    assert "No subgroup is significantly worse" in md
