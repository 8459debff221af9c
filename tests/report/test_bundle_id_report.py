"""The build reports show the bundle ID (SHA-256 of the canonical manifest) when a bundle was written."""

from __future__ import annotations

import json

from edgekit.report import render_html, render_json, render_markdown
from edgekit.results import BuildResult

BUNDLE_ID = "3f" * 32


def test_reports_show_the_bundle_id(passed_result: BuildResult) -> None:
    passed_result.bundle_id = BUNDLE_ID
    assert json.loads(render_json(passed_result))["bundle_id"] == BUNDLE_ID
    md = render_markdown(passed_result)
    assert f"bundle ID `{BUNDLE_ID}`" in md
    assert BUNDLE_ID in render_html(passed_result)


def test_no_bundle_no_id(passed_result: BuildResult) -> None:
    assert passed_result.bundle_id == ""
    assert "bundle ID" not in render_markdown(passed_result)
    assert "bundle ID" not in render_html(passed_result)
