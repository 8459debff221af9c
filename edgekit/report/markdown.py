"""``report.md``: the build's CI summary (e.g. ``$GITHUB_STEP_SUMMARY``), GitHub-flavoured.

The verdict comes first: a reviewer sees whether the build ships and, if not, exactly which budget
broke, by how much, on which variant and slice, before any table. User strings are escaped so a
variant or slice name cannot inject markup, links or HTML into the summary.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from edgekit.report._atomic import atomic_write_text
from edgekit.report._view import Block, Bullets, Cell, Para, Rich, Table, build_view

if TYPE_CHECKING:
    from edgekit.results import BuildResult

__all__ = ["render_markdown", "write_markdown"]

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|#~])")
_ENTITY_START = re.compile(r"&(?=#?[0-9A-Za-z]+;)")


def _plain(text: str) -> str:
    """Escape markdown and inline-HTML specials; newlines become spaces (tables are one line)."""
    text = " ".join(text.splitlines())
    # '<' as an entity: GitHub would otherwise treat '<script>' as (stripped) HTML. '&' only where
    # it would start an entity reference ('&lt;', '&#60;'): a bare '&' renders as itself, so data
    # sources such as 'synthetic:rf?n=300&seed=2' stay readable in the raw file too.
    text = _ENTITY_START.sub("&amp;", text).replace("<", "&lt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def _code(text: str) -> str:
    text = " ".join(text.splitlines()).replace("|", "\\|")  # GFM splits cells even inside code
    fence = "``" if "`" in text else "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _rich(text: Rich) -> str:
    out = []
    for span in text:
        if span.style == "code":
            out.append(_code(span.text))
        elif span.style == "b":
            out.append(f"**{_plain(span.text)}**" if span.text.strip() else _plain(span.text))
        else:
            out.append(_plain(span.text))
    return "".join(out)


def _cell(cell: Cell) -> str:
    text = _rich(cell.text)
    if cell.kind == "ne" and text and not text.startswith("*"):
        return f"*{text}*"  # italics: visibly "not a pass" even without colour
    return text


def _table(t: Table) -> list[str]:
    lines = ["| " + " | ".join(_plain(h) for h in t.headers) + " |"]
    lines.append("|" + "|".join("---:" if n else "---" for n in t.numeric) + "|")
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in t.rows]
    return lines


def _block(block: Block) -> list[str]:
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Bullets):
        return [f"- {_rich(item)}" for item in block.items]
    if isinstance(block, Para):
        text = _rich(block.text)
        return [f"<sub>{text}</sub>" if block.note else text]
    raise TypeError(f"unknown report block {type(block).__name__}")


def render_markdown(result: BuildResult, *, worst_n: int = 5) -> str:
    """The CI summary as GitHub-flavoured markdown; the verdict heading is the first line."""
    view = build_view(result, worst_n=worst_n)
    v = view.verdict
    lines = [f"## {_plain(v.headline)}", ""]
    if v.summary:
        lines += [_rich(v.summary), ""]
    if v.failures:
        lines += ["**Failing budgets:**", ""] + [f"- ❌ {_rich(f)}" for f in v.failures] + [""]
    if v.unevaluated:
        lines += ["**Not evaluated (blocks shipping):**", ""]
        lines += [f"- ⚠️ {_rich(u)}" for u in v.unevaluated] + [""]
    if v.other:
        lines += [f"- {_rich(o)}" for o in v.other] + [""]
    lines += [_rich(view.meta), ""]
    for section in view.sections:
        lines += [f"### {_plain(section.title)}", ""]
        for block in section.blocks:
            lines += [*_block(block), ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def write_markdown(result: BuildResult, path: str | os.PathLike[str], *, worst_n: int = 5) -> Path:
    """Write ``report.md`` atomically to ``path`` and return it."""
    return atomic_write_text(path, render_markdown(result, worst_n=worst_n))
