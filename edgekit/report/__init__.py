"""Build report renderers: ``report.json``, ``report.md`` (CI summary) and ``report.html``.

Renderers only read a ``BuildResult`` (``edgekit.results``); they never compute a verdict.
Plots live in ``edgekit.report.plots`` and take plain data so the bench report can reuse them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from edgekit.report.html import render_html, write_html
from edgekit.report.json_report import render_json, report_dict, write_json
from edgekit.report.markdown import render_markdown, write_markdown

if TYPE_CHECKING:
    from edgekit.results import BuildResult

__all__ = [
    "REPORT_FILES",
    "render_html",
    "render_json",
    "render_markdown",
    "report_dict",
    "write_html",
    "write_json",
    "write_markdown",
    "write_reports",
]

REPORT_FILES = {"json": "report.json", "markdown": "report.md", "html": "report.html"}


def write_reports(result: BuildResult, out_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Write report.json, report.md and report.html into ``out_dir`` (created if missing).

    Returns ``{"json": path, "markdown": path, "html": path}``. JSON is written first: it is the
    cheapest and the one machines read, so it exists even if plotting fails.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return {
        "json": write_json(result, out / REPORT_FILES["json"]),
        "markdown": write_markdown(result, out / REPORT_FILES["markdown"]),
        "html": write_html(result, out / REPORT_FILES["html"]),
    }
