"""Write ``bench.json``, ``bench.md`` and ``bench.html`` atomically into one folder."""

from __future__ import annotations

from pathlib import Path

from edgekit.bench.report_html import render_html
from edgekit.bench.report_md import render_markdown
from edgekit.bench_result import BenchResult
from edgekit.report._atomic import atomic_write_text

__all__ = ["write_reports"]


def write_reports(result: BenchResult, out_dir: str | Path) -> dict[str, Path]:
    """Render everything first, then write each file atomically; return the paths by format."""
    out = Path(out_dir)
    texts = {
        "json": result.to_json(),
        "md": render_markdown(result),
        "html": render_html(result),
    }
    return {kind: atomic_write_text(out / f"bench.{kind}", text) for kind, text in texts.items()}
