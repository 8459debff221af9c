"""``edgekit status``: one screen about a running daemon, from its ``/status`` endpoint."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import typer

from edgekit.cli import app
from edgekit.errors import UsageError

__all__ = ["status"]


@app.command()
def status(
    addr: str = typer.Option("127.0.0.1:9108", "--addr", help="The daemon's --metrics-addr."),
    as_json: bool = typer.Option(False, "--json", help="The raw JSON snapshot."),
) -> None:
    """Uptime, capture rate, unknown and fallback shares, latency, energy, battery, drift."""
    from edgekit.runtime.settings import parse_addr
    from edgekit.runtime.status import render_status

    host, port = parse_addr(addr, "--addr")
    url = f"http://{host}:{port}/status"
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            snapshot = json.loads(resp.read())
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise UsageError(f"--addr {addr}: no edgekit run answering at {url} ({e})") from e
    typer.echo(json.dumps(snapshot, indent=2) if as_json else render_status(snapshot))
