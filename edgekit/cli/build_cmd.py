"""``edgekit build CONFIG``."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from edgekit.cli import app
from edgekit.cli._text import esc
from edgekit.config import VARIANT_NAMES
from edgekit.results import BuildResult

__all__ = ["as_given", "build"]


def _fmt(v: float | None, spec: str = ".3g") -> str:
    return "-" if v is None else format(v, spec)


@app.command()
def build(
    config: Path = typer.Argument(..., help="The build configuration, an edgekit.toml file."),
    out: Path | None = typer.Option(
        None,
        "--out",
        "-o",
        help="Output folder (default: out/MODEL-NAME): a new path, an empty folder, or one an "
        "earlier `edgekit build` wrote (it holds .edgekit-output and nothing else). A folder with "
        "other files, a file, or a folder holding the config, model or data is refused before "
        "the build starts. Replaced in one atomic step when the build ends; a second build into "
        "the same folder is refused while one runs.",
    ),
    variants: str | None = typer.Option(
        None,
        "--variants",
        help=f"Comma-separated variants to build instead of the config's list: {', '.join(VARIANT_NAMES)}.",
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print report.json on stdout (progress goes to stderr)."
    ),
    keep_going: bool = typer.Option(
        False,
        "--keep-going",
        help="Build the other variants after one fails (the headline counts the failures). "
        "Without it the build stops at the first failure, writes its reports and exits 1.",
    ),
    verbose: bool = typer.Option(
        False,
        "--verbose",
        "-v",
        help="Show everything: onnxruntime, TensorFlow and onnx2tf output too. By default it goes "
        "to log files in the output folder (logs/, variants/*.convert.log), named in the report.",
    ),
    target_results: Path | None = typer.Option(
        None,
        "--target-results",
        help="A bench.json from `edgekit bench` on the target: its latency, memory and energy "
        "(measured when a meter was used) replace the host figures in the verdict.",
    ),
) -> None:
    """Quantise and export a model, validate every variant overall and per slice, profile it,
    judge it against the budgets, and write a bundle and reports.

    Exit codes: 0 when the selected variant meets every budget, 1 when the build is rejected
    (the report says which budget, by how much, for which variant and slice), 2 for a usage or
    input error; 130 / 143 when stopped by Ctrl-C / SIGTERM (the previous output is kept).

    Example: `edgekit build models/rfclass-cnn/edgekit.toml --variants onnx-fp32,onnx-int8-static`
    """
    from edgekit.builder.pipeline import BuildOptions, default_out_dir, run_build
    from edgekit.config import load_config
    from edgekit.errors import UsageError

    cfg = load_config(config)
    names = None
    if variants is not None:
        names = [v.strip() for v in variants.split(",") if v.strip()]
        bad = [v for v in names if v not in VARIANT_NAMES]
        if bad or not names:
            raise UsageError(
                f"--variants: unknown {bad or 'empty list'}; accepted: {', '.join(VARIANT_NAMES)}"
            )
    out_dir = out if out is not None else default_out_dir(cfg)
    # Wide enough for the summary table in CI logs, where there is no terminal to size it.
    width = None if sys.stdout.isatty() else 150
    err = Console(stderr=True, width=width)
    con = err if as_json else Console(width=width)
    result = run_build(
        cfg,
        BuildOptions(
            out_dir=out_dir,
            variants=names,
            keep_going=keep_going,
            verbose=verbose,
            target_results=target_results,
            log=lambda m: con.print(m, highlight=False, markup=False),
        ),
    )
    if as_json:
        sys.stdout.write((out_dir / "report.json").read_text() + "\n")
    _summary(con, result, out_dir)
    if result.verdict != "pass":
        raise typer.Exit(1)


def _summary(con: Console, result: BuildResult, out_dir: Path) -> None:
    from edgekit.report._view import LATENCY_SCOPE, fmt_ms, fmt_pct, latency_basis

    # Latency basis from the figures themselves: --target-results makes them target figures.
    t = Table(title=f"{esc(result.model_name)}: variants (latency {latency_basis(result)}, "
                    f"{LATENCY_SCOPE})")
    for col in (
        "variant",
        "status",
        "KiB",
        "accuracy",
        "agree",
        "p50 ms",
        "p99 ms",
        "CPU p99",
        "peak MiB",
        "budgets",
    ):
        t.add_column(col, justify="left" if col in ("variant", "status", "budgets") else "right")
    for v in result.variants:
        if v.status != "built":
            t.add_row(v.name, v.status, "", "", "", "", "", "", "", esc(v.reason[:60]))
            continue
        acc, lat = v.accuracy, v.latency
        fails = [c.budget for c in v.failed_checks]
        ne = [c.budget for c in v.unevaluated_checks]
        verdict = (
            "pass" if v.passed else ("FAIL " + ",".join(fails) if fails else "not evaluated: " + ",".join(ne))
        )
        t.add_row(
            v.name + (" *" if v.name == result.selected else ""),
            v.status,
            _fmt((v.size_bytes or 0) / 1024, ".1f"),
            fmt_pct(acc.accuracy if acc else None, 2),
            fmt_pct(acc.agreement_with_reference if acc else None, 2),
            fmt_ms(lat.p50_ms if lat else None),
            fmt_ms(lat.p99_ms if lat else None),
            fmt_ms(lat.cpu_ms_p99 if lat else None),
            _fmt(lat.peak_memory_mb if lat else None, ".0f"),
            esc(verdict),
        )
    con.print(t)
    for s in result.stages:
        con.print(f"  {s.name:<9} {s.duration_s:6.1f} s", highlight=False)
    failed = [v for v in result.variants if v.status == "failed"]
    if result.verdict == "pass":
        tail = (
            f"; {len(failed)} of {len(result.variants)} variants failed: see "
            + ", ".join(v.name for v in failed)
            if failed
            else ""
        )
        con.print(
            f"[bold green]PASS[/] — ships {result.selected}{esc(tail)} — "
            f"{esc(result.selection_reason)}"
        )
        _marginal(con, result)
    else:
        con.print(f"[bold red]REJECTED[/]: {esc(result.selection_reason)}")
        for v in result.variants:
            for c in v.failed_checks:
                op = "<" if c.is_minimum else ">"
                unit = f" {c.unit}" if c.unit and c.unit != "abs" else ""
                con.print(
                    f"  {v.name}: {c.budget} = {_fmt(c.value, '.4g')}{unit} {op} limit {c.limit}{unit} "
                    f"(by {_fmt(c.excess, '.4g')}){' — ' + c.detail if c.detail else ''}",
                    highlight=False,
                    markup=False,
                )
            for c in v.unevaluated_checks:
                con.print(
                    f"  {v.name}: {c.budget} not evaluated — {c.detail}", highlight=False, markup=False
                )
    for v in failed:
        con.print(f"  {v.name} failed: {v.reason}", highlight=False, markup=False)
    for w in result.warnings:
        con.print(f"  warning: {w}", highlight=False, markup=False)
    con.print(
        f"Reports: {out_dir}/report.md, report.html, report.json; "
        f"bundle: {as_given(result.bundle_dir, out_dir)}",
        highlight=False,
        markup=False,
    )


def as_given(path: str, out_dir: Path) -> str:
    """``path`` inside the output folder, spelled from ``out_dir`` as the user gave it.

    The build records absolute paths; the summary's line names the reports relative to
    ``--out``, and a bundle shown as an absolute path beside them read as another place."""
    if not path:
        return path
    try:
        rel = Path(path).relative_to(out_dir.resolve())
    except ValueError:
        return path
    return str(out_dir / rel)


def _marginal(con: Console, result: BuildResult) -> None:
    """A p99 budget of the shipped variant within the measured noise: a pass by chance."""
    from edgekit.report._view import fmt_ms, latency_noise_ms, marginal

    shipped = next((v for v in result.variants if v.name == result.selected), None)
    if shipped is None:
        return
    for c in shipped.checks:
        if marginal(shipped, c):
            con.print(
                f"  marginal: {c.budget} on {shipped.name}: {_fmt(c.value)} ms vs limit "
                f"{c.limit} ms is within the measured noise (p99 - p50 = "
                f"{fmt_ms(latency_noise_ms(shipped))} ms); it could pass or fail by chance",
                highlight=False,
                markup=False,
            )
