"""report.html in a real headless Chromium at desktop and phone widths: nothing overflows the page
horizontally (tables scroll inside their own box), every plot is drawn, and a screenshot of each
width is kept beside the report."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgekit.report import write_html
from edgekit.results import BuildResult
from tests.browser import CHROMIUM, DESKTOP, PHONE, check_page, screenshot

from .test_html import FIGURE_IDS

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary on PATH (apt-get install chromium)"),
]


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_report_html_fits_the_page(passed_result: BuildResult, tmp_path: Path,
                                   size: tuple[int, int]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    # Long unbreakable words, as a real build has: the 64-hex bundle ID and absolute paths.
    passed_result.bundle_id = "f2860a7ae50376ab9c5f65159f0743c26e711f256f8b073eccc096ce556c7133"
    passed_result.bundle_dir = "/home/ci/builds/rfclass-cnn/out/rfclass-cnn/bundle"
    page = write_html(passed_result, out / "report.html")
    got = check_page(page, size, tmp_path)
    assert got.viewport <= size[0]
    assert got.overflowing == [], got.overflowing
    assert got.scroll_width <= got.viewport
    assert {k: v for k, v in got.figures.items() if k in FIGURE_IDS} == dict.fromkeys(FIGURE_IDS, True)
    shot = screenshot(page, size, out / f"report-{size[0]}px.png", tmp_path)
    assert shot.stat().st_size > 20_000  # a blank page is a few KB


def test_the_probe_sees_an_overflowing_table(passed_result: BuildResult, tmp_path: Path) -> None:
    """The check can fail: a table made 2000 px wide outside any scrolling box is reported."""
    page = write_html(passed_result, tmp_path / "report.html")
    html = page.read_text("utf-8").replace('<div class="scroll">', '<div>', 1)
    html = html.replace("<table>", '<table style="width:2000px">', 1)
    page.write_text(html, "utf-8")
    got = check_page(page, PHONE, tmp_path)
    assert any(e.startswith("table") for e in got.overflowing), got.overflowing
