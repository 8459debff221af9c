"""``edgekit inspect MODEL``: what is inside an ONNX model file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from edgekit.cli import app
from edgekit.cli._text import esc
from edgekit.model_info import ModelInfo, inspect_model

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
    try_convert: bool = typer.Option(
        False,
        "--try-convert",
        help="Run the real ONNX->TFLite converter (fp32, in a temporary folder) and report the "
        "outcome, instead of judging from operator types alone.",
    ),
    input_shape: str | None = typer.Option(
        None,
        "--input-shape",
        help="Per-sample input shape for --try-convert when the model's is dynamic, e.g. 3,224,224.",
    ),
) -> None:
    """Show a model's inputs and outputs, opsets, operators, parameters (inside If/Loop bodies
    too), size, and what TFLite conversion needs (dynamic dims, names, extra inputs).

    Exit codes: 0 shown (also when --try-convert reports a failed conversion: read its outcome);
    2 a missing file or one that is not an ONNX model, or a bad option.

    Example: `edgekit inspect classifier.onnx --try-convert --input-shape 3,224,224`
    """
    info = inspect_model(model)
    tried = _try_convert(model, info, input_shape) if try_convert else None
    if as_json:
        facts = info.to_dict()
        if tried is not None:
            facts["tflite_try_convert"] = tried
        typer.echo(json.dumps(facts, indent=2))
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
    for c in info.tflite_caveats:
        con.print(f"  - {esc(c)}")
    if tried is not None:
        mark = "[green]converted[/green]" if tried["ok"] else "[red]failed[/red]"
        con.print(f"TFLite conversion, tried with the real converter: {mark} — {esc(tried['detail'])}")


def _try_convert(model: Path, info: ModelInfo, input_shape: str | None) -> dict[str, Any]:
    """Convert to TFLite fp32 as ``edgekit build`` would (prepared model, TF-safe names) in a
    temporary folder; the outcome as ``{"ok": bool, "detail": str}``."""
    import tempfile

    from edgekit.builder.converter import convert_to_tflite_variants
    from edgekit.builder.prepare import prepare_model
    from edgekit.config import parse_config
    from edgekit.errors import ConversionError, UsageError
    from edgekit.model_info import load_onnx

    if not info.tflite_convertible:
        return {"ok": False, "detail": f"not attempted: {info.tflite_reason}"}
    shape: list[int] = []
    if input_shape:
        try:
            shape = [int(d) for d in input_shape.split(",")]
        except ValueError as e:
            raise UsageError(
                f"--input-shape: {input_shape!r} is not comma-separated sizes, e.g. 3,224,224"
            ) from e
    cfg = parse_config(
        {"model": {"path": str(model.resolve()), "input_shape": shape}}, source="--input-shape"
    )
    name = info.inputs[0].name if info.inputs else ""
    with tempfile.TemporaryDirectory(prefix="edgekit-try-") as tmp:
        prepared = prepare_model(cfg, load_onnx(model), name, None, Path(tmp) / model.name)
        try:
            done = convert_to_tflite_variants(
                prepared.path, Path(tmp) / "out", precisions=("fp32",), progress=None,
                log_path=Path(tmp) / "onnx2tf.log", log_label="(temporary log)",
            )
        except ConversionError as e:
            return {"ok": False, "detail": str(e)}
    v = done["fp32"].verification
    return {
        "ok": True,
        "detail": f"fp32 for input {prepared.input_shape}; max |diff| {v.max_abs_diff:.3g} vs "
        f"onnxruntime on {v.n_samples} {v.inputs} samples",
    }
