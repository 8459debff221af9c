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
    """Uptime, capture rate, unknown and fallback shares, latency, energy, battery, drift of a
    running `edgekit run`, read from its /status endpoint.

    Exit codes: 0 shown; 2 a bad --addr, or no `edgekit run` answering there (is it running,
    with --metrics-addr off?).

    Example: `edgekit status --addr 127.0.0.1:9108`
    """
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
