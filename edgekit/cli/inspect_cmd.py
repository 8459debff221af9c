"""``edgekit inspect MODEL``: what is inside an ONNX model file."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from edgekit.cli import app
from edgekit.cli._text import esc
from edgekit.model_info import inspect_model

__all__ = ["inspect"]


def _fmt_bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"


@app.command()
def inspect(
    model: Path = typer.Argument(..., help="An ONNX model file (.onnx)."),
    as_json: bool = typer.Option(
        False, "--json", help="Print the facts as JSON instead of tables."
    ),
) -> None:
    """Show a model's inputs and outputs, opsets, operators, parameters, size, and whether
    conversion to TFLite is expected to work."""
    info = inspect_model(model)
    if as_json:
        typer.echo(json.dumps(info.to_dict(), indent=2))
        return
    # Everything read from the file (names, shapes, producer, operators) is escaped: rich would
    # read "[batch, 6, 1024]" as a markup tag and drop it.
    con = Console(highlight=False)
    con.print(f"[bold]{esc(info.path)}[/bold]  {_fmt_bytes(info.file_size_bytes)}")
    opsets = ", ".join(f"{d} {v}" for d, v in info.opsets.items())
    con.print(
        f"IR version {info.ir_version}; opsets: {esc(opsets)}; producer: {esc(info.producer or '-')}"
    )
    io = Table(title="Inputs and outputs")
    for col in ("kind", "name", "shape", "dtype"):
        io.add_column(col)
    for kind, tensors in (("input", info.inputs), ("output", info.outputs)):
        for t in tensors:
            shape = "[" + ", ".join(str(d) for d in t.shape) + "]"
            io.add_row(kind, esc(t.name), esc(shape), esc(t.dtype))
    con.print(io)
    ops = Table(title=f"Operators ({info.node_count} nodes)")
    ops.add_column("op")
    ops.add_column("count", justify="right")
    for op, n in info.op_counts.items():
        ops.add_row(esc(op), str(n))
    con.print(ops)
    con.print(
        f"Parameters: {info.parameter_count:,} ({_fmt_bytes(info.parameter_bytes)} of weights)"
    )
    verdict = (
        "[green]expected to work[/green]"
        if info.tflite_convertible
        else "[yellow]not possible[/yellow]"
    )
    con.print(f"TFLite conversion: {verdict} — {esc(info.tflite_reason)}")
