"""The tree sections of the report: feature costs (sorted, with importance) and the truncation
trade-off, in Markdown, HTML and JSON; absent for a model without them."""

from __future__ import annotations

import json

from edgekit.report import render_html, render_json, render_markdown
from tests.report.conftest import make_build_result

COSTS = {
    "extract_us": 300.0,
    "captures": 8,
    "repeats": 30,
    "method": "each step timed alone",
    "importance_kind": "share of the model's tree splits on the feature",
    "features": [
        {"name": "cheap_one", "cost_us": 1.5, "own_us": 1.0, "shared_us": 0.5, "importance": 0.30},
        {"name": "costly_one", "cost_us": 42.4, "own_us": 40.0, "shared_us": 2.4, "importance": 0.01},
        {"name": "no_imp", "cost_us": 7.0, "own_us": 7.0, "shared_us": 0.0, "importance": None},
    ],
}
SEARCH = [
    {"rounds": 3, "trees": 30, "accuracy": 0.70, "accuracy_drop": 0.05, "worst_slice_drop": 0.09,
     "size_bytes": 4096, "p50_us": 5.0, "accepted": False},
    {"rounds": 6, "trees": 60, "accuracy": 0.74, "accuracy_drop": 0.01, "worst_slice_drop": None,
     "size_bytes": 8192, "p50_us": 9.0, "accepted": True},
]


def _result():
    r = make_build_result()
    r.feature_costs = COSTS
    v = r.variants[0]
    v.meta = {**(v.meta or {}), "rounds": 6, "total_rounds": 12, "truncation_search": SEARCH}
    return r, v.name


def test_markdown_lists_features_by_cost_with_importance():
    r, _ = _result()
    md = render_markdown(r)
    assert "Feature cost per capture" in md
    table = md[md.index("Feature cost per capture"):]
    assert table.index("costly\\_one") < table.index("no\\_imp") < table.index("cheap\\_one")
    assert "| costly\\_one | 42.4 | 40.0 | 2.4 | 1.0% |" in md
    assert "| no\\_imp | 7.0 | 7.0 | 0.0 | — |" in md
    assert "300.0 µs end to end" in md


def test_truncation_trade_off_shows_every_candidate():
    r, name = _result()
    md = render_markdown(r)
    assert "Tree truncation" in md and f"{name}: kept the first 6 of 12 boosting rounds" in md
    assert "| 3 | 30 | 70.00% | 5.00 pp | 9.00 pp | 5.0 | 4.00 | no |" in md
    assert "| 6 | 60 | 74.00% | 1.00 pp | — | 9.0 | 8.00 | yes |" in md


def test_html_and_json_carry_them():
    r, _ = _result()
    html = render_html(r)
    assert "Feature cost per capture" in html and "costly_one" in html and "Tree truncation" in html
    data = json.loads(render_json(r))
    assert data["feature_costs"]["features"][1]["name"] == "costly_one"


def test_a_model_without_features_or_trees_has_no_such_sections():
    r = make_build_result()
    md = render_markdown(r)
    assert "Feature cost" not in md and "Tree truncation" not in md
    assert json.loads(render_json(r))["feature_costs"] is None
