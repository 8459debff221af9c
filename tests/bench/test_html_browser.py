"""bench.html in a real headless Chromium: it loads without errors and every plot is there."""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from edgekit.bench.report_html import FIGURE_IDS, render_html
from edgekit.bench_result import load_bench_json
from tests.browser import DESKTOP, PHONE, check_page, screenshot

from .conftest import CliRun

_CHROMIUM = next(
    (p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p),
    None,
)
_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
]


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert _CHROMIUM is not None
    return subprocess.run(
        [_CHROMIUM, *_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.browser
@pytest.mark.skipif(_CHROMIUM is None, reason="no chromium binary on PATH (apt-get install chromium)")
def test_bench_html_renders_in_chromium(estimate_run: CliRun, tmp_path: Path) -> None:
    page = (estimate_run.out_dir / "bench.html").resolve()
    dumped = _chromium(tmp_path, "--dump-dom", page.as_uri())
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = dumped.stdout
    assert re.search(r"<title>edgekit bench: tiny-rf on Raspberry Pi 4 Model B Rev 1\.4</title>", dom)
    for fig in FIGURE_IDS:
        m = re.search(rf'<figure id="{fig}">(.*?)</figure>', dom, re.S)
        assert m, f"figure {fig} missing from the rendered DOM"
        assert "<svg" in m.group(1) and "<path" in m.group(1), f"figure {fig} has no drawing"
    assert "ESTIMATED" in dom
    logged = dumped.stderr
    assert "Uncaught" not in logged
    assert not re.search(r"CONSOLE\(\d+\)|Console.*error|Failed to load resource", logged), logged

    shot = tmp_path / "bench.png"
    taken = _chromium(tmp_path, "--window-size=1280,2400", f"--screenshot={shot}", page.as_uri())
    assert taken.returncode == 0, taken.stderr[-2000:]
    assert shot.stat().st_size > 20_000  # a blank page is a few KB


def test_user_strings_are_escaped(estimate_run: CliRun) -> None:
    result = load_bench_json(estimate_run.out_dir / "bench.json")
    evil = dataclasses.replace(
        result,
        bundle={**result.bundle, "name": "<img src=x onerror=alert(1)>"},
        warnings=("<b>bold</b> & more",),
    )
    page = render_html(evil)
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; more" in page


@pytest.mark.browser
@pytest.mark.skipif(_CHROMIUM is None, reason="no chromium binary on PATH (apt-get install chromium)")
@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_bench_html_fits_the_page(estimate_run: CliRun, tmp_path: Path, size: tuple[int, int]) -> None:
    """Nothing passes the page's right edge (tables scroll inside their own box); every plot is
    drawn; a screenshot at this width is kept in the output folder."""
    page = estimate_run.out_dir / "bench.html"
    got = check_page(page, size, tmp_path)
    assert got.overflowing == [], got.overflowing
    assert got.scroll_width <= got.viewport
    assert {k: v for k, v in got.figures.items() if k in FIGURE_IDS} == dict.fromkeys(FIGURE_IDS, True)
    shot = screenshot(page, size, estimate_run.out_dir / f"bench-{size[0]}px.png", tmp_path)
    assert shot.stat().st_size > 20_000
