"""``edgekit journal PATH``: read the daemon's journal (results and events)."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from pathlib import Path

import typer

from edgekit.cli import app
from edgekit.errors import UsageError

__all__ = ["journal", "parse_since"]

_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h|d)$")
_UNITS_S = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_since(text: str, now: float | None = None) -> float:
    """``30m``, ``2h``, ``1d``, ``90s`` ago, or an ISO 8601 time (UTC unless it says) -> Unix time."""
    now = time.time() if now is None else now
    m = _RELATIVE.match(text.strip())
    if m:
        return now - float(m.group(1)) * _UNITS_S[m.group(2)]
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"--since {text!r}: expected a duration ago (90s, 30m, 2h, 1d) or an ISO time "
            "(2026-05-01T12:00:00)"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds")


@app.command()
def journal(
    path: Path = typer.Argument(..., help="The journal (runtime.journal.path)."),
    since: str | None = typer.Option(
        None, "--since", help="Only records since: 30m, 2h, 1d, or an ISO time."
    ),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line (results and events)."),
    events_only: bool = typer.Option(False, "--events", help="Events only (no results)."),
    limit: int | None = typer.Option(None, "--limit", help="At most N records of each kind."),
) -> None:
    """Print the results and events the daemon journaled, oldest first.

    Exit codes: 0 printed (also when nothing matched); 2 a missing file, a file that is not an
    edgekit journal, or a bad --since or --limit.

    Example: `edgekit journal /var/lib/edgekit/journal.sqlite --since 1h --events`
    """
    from edgekit.runtime.journal import read_journal

    if limit is not None and limit < 1:
        raise UsageError(f"--limit: need an integer >= 1, got {limit}")
    cutoff = None if since is None else parse_since(since)
    tables = ("events",) if events_only else ("results", "events")
    data = read_journal(path, since=cutoff, tables=tables, limit=limit)
    records = sorted(
        [("result", r) for r in data.get("results", [])] + [("event", e) for e in data.get("events", [])],
        key=lambda kv: kv[1]["at"],
    )
    for kind, rec in records:
        if as_json:
            typer.echo(json.dumps({"type": kind, **rec}, default=str))
        elif kind == "result":
            extra = f" {rec['reason']}" if rec.get("reason") else ""
            typer.echo(
                f"{_iso(rec['at'])}  capture {rec['capture_id']:>8}  {rec['status']:<11} "
                f"{rec['label']:<12} {rec['confidence']:.3f}  {rec['source']}:{rec['model'] or '-'}"
                f"{extra}  {rec['latency_ms'] or 0:.2f} ms"
            )
        else:
            typer.echo(f"{_iso(rec['at'])}  event   {rec['level']:<7} {rec['kind']}: {rec['message']}")
