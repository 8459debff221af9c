"""``report.json``: the machine-readable build report.

It is ``BuildResult.to_dict()`` (field order kept, derived ``passed`` flags included) made strictly
JSON: NaN and infinities become ``null`` (a reader in another language must not choke on ``NaN``),
tuples become lists, numpy scalars and paths become plain values.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgekit._json import json_safe
from edgekit.report._atomic import atomic_write_text

if TYPE_CHECKING:
    from edgekit.results import BuildResult

__all__ = ["json_safe", "render_json", "report_dict", "write_json"]


def report_dict(result: BuildResult) -> dict[str, Any]:
    """The JSON-ready dict of ``result``: its ``to_dict()``, sanitised, with ``schema_version``."""
    d: dict[str, Any] = json_safe(result.to_dict())
    d.setdefault("schema_version", result.schema_version)
    return d


def render_json(result: BuildResult) -> str:
    """``report.json`` as text: indented, UTF-8 (not ASCII-escaped), newline-terminated."""
    return json.dumps(report_dict(result), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_json(result: BuildResult, path: str | os.PathLike[str]) -> Path:
    """Write ``report.json`` atomically to ``path`` and return it."""
    return atomic_write_text(path, render_json(result))
