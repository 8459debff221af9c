from __future__ import annotations

import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest

from edgekit.report import render_html, write_html, write_reports
from edgekit.results import BuildResult

FIGURE_IDS = ["plot-pareto", "plot-slices", "plot-energy"]


class _Collector(HTMLParser):
    """Every start tag with its attributes, to check links and ids as a browser would see them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _tags(doc: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Collector()
    parser.feed(doc)
    parser.close()
    return parser.tags


@pytest.fixture(scope="module")
def rejected_html() -> str:
    from tests.report.conftest import make_build_result

    return render_html(make_build_result("rejected"))


def test_html_is_self_contained(rejected_html: str) -> None:
    tags = _tags(rejected_html)
    links = [(t, k, v) for t, a in tags for k, v in a.items()
             if k in ("src", "href", "xlink:href", "action", "data") and v is not None]
    assert links, "expected in-page links (nav, SVG <use>)"
    assert all(v.startswith("#") for _t, _k, v in links), [v for *_, v in links
                                                           if not v.startswith("#")]
    assert not re.search(r"(src|href)\s*=\s*[\"']?\s*(https?:)?//", rejected_html, re.I)
    names = {t for t, _ in tags}
    assert not names & {"script", "link", "iframe", "img", "object", "embed"}
    assert "@import" not in rejected_html and "url(http" not in rejected_html


def test_html_has_the_three_figures_with_inline_svg(rejected_html: str) -> None:
    for fid in FIGURE_IDS:
        m = re.search(rf'<figure id="{fid}">\s*<svg\b.*?</svg>\s*<figcaption>[^<]+</figcaption>'
                      r"\s*</figure>", rejected_html, re.S)
        assert m is not None, fid
        assert "<?xml" not in m[0] and "<metadata" not in m[0]


def test_html_element_ids_are_unique(rejected_html: str) -> None:
    ids = Counter(a["id"] for _t, a in _tags(rejected_html) if a.get("id"))
    assert [i for i, n in ids.items() if n > 1] == []
    assert {"variants", "budgets", *FIGURE_IDS} <= set(ids)


def test_verdict_banner_and_budget_cells(rejected_html: str, passed_result: BuildResult) -> None:
    assert '<header class="verdict fail">' in rejected_html
    assert "<h1>Build REJECTED — " in rejected_html
    assert rejected_html.index('class="verdict fail"') < rejected_html.index('id="variants"')
    failing = re.search(r"<li><strong>max_slice_accuracy_drop</strong> on <strong>tflite-int8"
                        r"</strong>: ([^<]*)</li>", rejected_html)
    assert failing is not None
    assert "over by 7.00 pp" in failing[1] and "snr_db=-10..-5" in failing[1]
    # Not evaluated is its own cell class and text, never "pass".
    assert '<td class="ne">not evaluated</td>' in rejected_html
    # Matrix cells carry their check's status as the class: as many "pass" cells as passing
    # checks (two of the passed result's passes are fails in the rejected one).
    n_pass = sum(c.status == "pass" for v in passed_result.variants for c in v.checks) - 2
    budgets = rejected_html[rejected_html.index('id="budgets"'):]
    budgets = budgets[: budgets.index("</section>")]
    assert len(re.findall(r'<td class="pass num">', budgets)) == n_pass
    passed = render_html(passed_result)
    assert '<header class="verdict pass">' in passed
    assert "<h1>Build PASSED — ships onnx-int8-static</h1>" in passed


def test_user_strings_are_escaped_everywhere(passed_result: BuildResult) -> None:
    evil = "<script>alert(1)</script>"
    passed_result.variant("tflite-int8").name = f"tfl{evil}"
    passed_result.pareto = [f"tfl{evil}" if p == "tflite-int8" else p
                            for p in passed_result.pareto]
    passed_result.variant("onnx-fp16").checks[-1].detail = f'"quoted" {evil}'
    passed_result.warnings.append(evil)
    doc = render_html(passed_result)
    assert "<script" not in doc.lower()
    assert "tfl&lt;script&gt;alert(1)&lt;/script&gt;" in doc
    # The label also reaches the plots (SVG text), escaped there too.
    pareto = doc[doc.index('<figure id="plot-pareto">'):doc.index("</figure>",
                                                                  doc.index('id="plot-pareto"'))]
    assert "tfl&lt;script&gt;" in pareto


def test_html_is_deterministic(passed_result: BuildResult) -> None:
    assert render_html(passed_result) == render_html(passed_result)


def test_energy_figure_omitted_without_energy(passed_result: BuildResult) -> None:
    for v in passed_result.variants:
        v.energy = None
    doc = render_html(passed_result)
    assert 'id="plot-energy"' not in doc and 'id="energy"' not in doc
    assert 'id="plot-pareto"' in doc


def test_write_reports_writes_three_files(passed_result: BuildResult, tmp_path: Path) -> None:
    out = tmp_path / "out"
    paths = write_reports(passed_result, out)
    assert {k: p.name for k, p in paths.items()} == {
        "json": "report.json", "markdown": "report.md", "html": "report.html"}
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "report.json", "report.md"]
    assert paths["html"].read_text("utf-8").startswith("<!DOCTYPE html>")


def test_write_html_matches_render(passed_result: BuildResult, tmp_path: Path) -> None:
    path = write_html(passed_result, tmp_path / "r.html")
    assert path.read_text("utf-8") == render_html(passed_result)
