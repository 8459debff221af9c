"""``edgekit energy attribute``: energy per inference from a recorded trace and its event log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from edgekit.cli import app

__all__ = ["attribute_cmd", "energy_app"]

energy_app = typer.Typer(
    help="Energy figures from recorded runs.", no_args_is_help=True, rich_markup_mode="markdown"
)
app.add_typer(energy_app, name="energy")


def _mj(x: float) -> str:
    return f"{x:.4g}"


def _energy(value: float, low: float, high: float) -> str:
    """A figure against its interval (edgekit.report.energy_text): no ``4.77e-15 mJ`` dust."""
    from edgekit.report.energy_text import fmt_energy_mj as fmt

    return fmt(value, low, high)


def _print_result(data: dict[str, Any], con: Console) -> None:
    lo, hi = data["spread_mj"]
    dlo, dhi = data["dynamic_spread_mj"]
    conf = f"{data['confidence']:.0%}"
    prov = data["provenance"]
    lines = [
        f"energy per inference: {_energy(data['energy_per_inference_mj'], lo, hi)} "
        f"[{_mj(lo)}, {_mj(hi)}] ({conf}), dynamic "
        f"{_energy(data['dynamic_energy_per_inference_mj'], dlo, dhi)} "
        f"[{_mj(dlo)}, {_mj(dhi)}]; {data['label']}",
        f"kind: {data['kind']} ({prov.get('reason')}); board {prov.get('board') or '?'}, bundle "
        f"{prov.get('bundle_id') or '?'}, variant {prov.get('variant') or '?'}",
        f"{data['n_inferences']} inferences in {len(data['windows'])} windows "
        f"({data['duration_s']:.1f} s, {data['mode']}); idle {data['idle_power_w']:.4g} W "
        f"(first {data['idle_power_before_w']:.4g}, last {data['idle_power_after_w']:.4g}, "
        f"{data['idle']['interpolation']}), active {data['active_power_w']:.4g} W",
        f"clock: {data['clock']['method']}, rate {data['clock']['rate']:.6f}, "
        f"residual {data['clock']['residual_s'] * 1e3:.3g} ms",
        f"method: {data['method']}",
    ]
    for line in lines:
        con.print(line, highlight=False, markup=False)
    for k, w in enumerate(data["windows"]):
        con.print(
            f"  window {k}: {w['duration_s']:.2f} s, {w['n_inferences']} inferences, "
            f"{_energy(w['energy_per_inference_mj'], lo, hi)} total, "
            f"{_energy(w['dynamic_energy_per_inference_mj'], dlo, dhi)} dynamic, idle "
            f"{w['idle_before_w']:.4g} -> {w['idle_after_w']:.4g} W",
            highlight=False, markup=False,
        )
    for r in data["regimes"]:
        con.print(
            f"  regime {r['start_s']:.2f}-{r['end_s']:.2f} s: {_mj(r['energy_per_inference_mj'])} mJ "
            f"total, {_energy(r['dynamic_energy_per_inference_mj'], *r['dynamic_spread_mj'])} dynamic "
            f"[{_mj(r['dynamic_spread_mj'][0])}, {_mj(r['dynamic_spread_mj'][1])}], "
            f"{r['inference_ms']:.4g} ms/inference{'; ' + r['cause'] if r['cause'] else ''}",
            highlight=False, markup=False,
        )


@energy_app.command("attribute")
def attribute_cmd(
    power: Path = typer.Option(..., "--power", help="The power trace (CSV, docs/energy-files.md)."),
    events: Path = typer.Option(..., "--events", help="The inference event log (JSON Lines)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result (or the refusal) as JSON."),
    board: str | None = typer.Option(
        None, "--board", help="Board profile for the unit check (default: the trace's board)."
    ),
) -> None:
    """Per-inference total and dynamic energy, with intervals, from a power trace and the event log
    of the same run (`edgekit bench --record DIR` writes both), or a refusal naming the cause.

    Exit codes: 0 a figure, 1 refused (the files are understood but cannot give a defensible
    figure: aliasing, clock, units, drift, coverage), 2 unreadable or malformed input.

    Example: `edgekit energy attribute --power rec/onnx-fp32.power.csv --events
    rec/onnx-fp32.events.jsonl` (after `edgekit bench BUNDLE --record rec`)
    """
    from edgekit._json import json_safe
    from edgekit.energy import attribute, read_events, read_trace
    from edgekit.energy.attribute import profile_for
    from edgekit.energy.meters.model import BOARD_ALIASES
    from edgekit.energy.result import EnergyRefused
    from edgekit.errors import UsageError

    if board is not None and board.lower() not in BOARD_ALIASES:
        raise UsageError(f"--board: unknown board {board!r}; accepted: {', '.join(sorted(BOARD_ALIASES))}")
    trace = read_trace(power)
    log = read_events(events)
    profile = profile_for(board or trace.header.board)
    try:
        result = attribute(trace, log, profile=profile)
    except EnergyRefused as e:
        if as_json:
            typer.echo(json.dumps({"status": "refused", "cause": e.cause, "reason": e.detail}, indent=2))
            raise typer.Exit(e.exit_code) from e
        raise
    data = {"status": "ok", **result.to_dict()}
    if as_json:  # NaN/inf (e.g. a window with no idle reading) are written as null
        typer.echo(json.dumps(json_safe(data), indent=2, allow_nan=False))
        return
    con = Console(width=None if typer.get_text_stream("stdout").isatty() else 150)
    _print_result(data, con)
    for w in result.warnings:
        Console(stderr=True, width=150).print(f"warning: {w}", highlight=False, markup=False)
