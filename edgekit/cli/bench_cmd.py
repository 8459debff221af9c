"""``edgekit bench BUNDLE``: the on-device energy benchmark and its reports."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from edgekit.cli import app
from edgekit.cli.bundle_cmd import MAX_SIZE_HELP, TRUSTED_KEY_HELP

__all__ = ["bench"]


def _fmt(v: float | None, spec: str = ".3g") -> str:
    return "-" if v is None else format(v, spec)


@app.command()
def bench(
    bundle: Path = typer.Argument(..., help="A bundle folder or .tar.gz archive (verified first)."),
    meter: str | None = typer.Option(
        None,
        "--meter",
        help="Power meter spec, e.g. ina260:bus=1,addr=0x40, pmic, hwmon, replay:trace.csv, "
        "model:rpi4b (ESTIMATED). Default: the first meter detected.",
    ),
    variants: str | None = typer.Option(
        None, "--variants", help="Comma-separated variant names (default: every variant in the bundle)."
    ),
    duty: float | None = typer.Option(
        None,
        "--duty",
        metavar="HZ",
        help="Captures per second in the field: also measure energy per capture at this duty cycle "
        "(one capture per period, sleep between) beside the back-to-back figure, and project the "
        "battery from both (default: no duty-cycle measurement; projection at the manifest's duty).",
    ),
    record: Path | None = typer.Option(
        None,
        "--record",
        metavar="DIR",
        help="Also write each variant's power trace and event log (VARIANT.power.csv, "
        "VARIANT.events.jsonl; docs/energy-files.md) to DIR, for `edgekit energy attribute`: a new "
        "path, an empty folder, or one an earlier `edgekit bench --record` wrote; replaced in one "
        "atomic step at the end.",
    ),
    out: Path = typer.Option(
        Path("bench-out"),
        "--out",
        "-o",
        help="Folder for bench.json, bench.md, bench.html: a new path, an empty folder, or one an "
        "earlier `edgekit bench` wrote (it holds .edgekit-output); anything else is refused before "
        "the bench starts. Replaced in one atomic step at the end.",
    ),
    threads: int = typer.Option(1, "--threads", help="CPU threads for the inference runtime."),
    window_s: float | None = typer.Option(
        None, "--window-s", help="Minimum energy window, seconds (default 10, as MLPerf Tiny)."
    ),
    windows: int | None = typer.Option(
        None, "--windows", help="Energy windows per variant; the median is reported (default 5)."
    ),
    idle_s: float | None = typer.Option(
        None, "--idle-s", help="Idle power measured before and after, seconds (default 5)."
    ),
    min_samples: int | None = typer.Option(
        None, "--min-samples", help="Meter samples a window must hold (default 100)."
    ),
    runs: int | None = typer.Option(
        None, "--runs", help="Timed runs for the latency distribution (default 200)."
    ),
    batch: int = typer.Option(1, "--batch", help="Captures per inference (1 = the device's path)."),
    quick: bool = typer.Option(
        False,
        "--quick",
        help="Smoke test for CI: 3 x 1 s windows, 1 s idle, 50 runs; flagged in every report.",
    ),
    verbose: bool = typer.Option(
        False,
        "--verbose",
        "-v",
        help="Show everything: the runtimes' output too. By default it goes to logs/runtime.log "
        "in the output folder.",
    ),
    sysfs_root: Path = typer.Option(Path("/sys"), "--sysfs-root", help="Where sysfs is (tests, containers)."),
    proc_root: Path = typer.Option(Path("/proc"), "--proc-root", help="Where procfs is."),
    devicetree_root: Path | None = typer.Option(
        None, "--devicetree-root", help="Where the device tree is (default PROC_ROOT/device-tree)."
    ),
    vcgencmd: str = typer.Option("vcgencmd", "--vcgencmd", help="The vcgencmd program (throttling, PMIC)."),
    trusted_key: list[Path] | None = typer.Option(
        None, "--trusted-key", metavar="PUB", help=TRUSTED_KEY_HELP
    ),
    max_size: str | None = typer.Option(None, "--max-size", metavar="SIZE", help=MAX_SIZE_HELP),
) -> None:
    """Measure every variant of a bundle on this board: cold start, latency distribution, CPU time,
    peak memory, energy per inference with spread, and battery life at the duty cycle; probe the
    board (model, governor, temperature, throttling) before and after.

    Writes bench.json (read by `edgekit build --target-results`), bench.md and bench.html.
    Exit codes: 0 when every variant was measured, 1 when an energy measurement could not be made
    (the reports say why), 2 for a usage error (bad bundle, variant name or meter spec) or a bundle
    that fails verification (hashes, files outside the bundle, or a signature by no trusted key).

    Example: `edgekit bench out/rfclass-cnn/bundle --meter model:rpi4b --quick` (no meter: an
    estimate, labelled so)
    """
    from dataclasses import replace

    from edgekit.bench.energy_run import EnergyPlan
    from edgekit.bench.reports import write_reports
    from edgekit.bench.runner import QUICK_PLAN, BenchOptions, run_bench
    from edgekit.bundle import ArchiveLimits, resolve_trusted_keys
    from edgekit.environment import EnvironmentRoots
    from edgekit.logs import LOGS_DIR, RUNTIME_LOG, captured
    from edgekit.outdir import open_output

    names = None
    if variants is not None:
        names = [v.strip() for v in variants.split(",") if v.strip()]
    plan = QUICK_PLAN if quick else EnergyPlan()
    overrides: dict[str, Any] = {
        k: v
        for k, v in (
            ("window_s", window_s),
            ("windows", windows),
            ("idle_s", idle_s),
            ("min_samples", min_samples),
        )
        if v is not None
    }
    _check_plan(overrides)
    from edgekit.cli._options import check_number

    check_number("--duty", duty, above=0, what="captures per second")
    check_number("--threads", threads, at_least=1, what="CPU threads")
    check_number("--runs", runs, at_least=1, what="timed runs")
    check_number("--batch", batch, at_least=1, what="captures per inference")
    plan = replace(plan, **overrides)
    width = None if sys.stderr.isatty() else 150
    err = Console(stderr=True, width=width)
    # Keys and limits are read before the output folder is locked or anything is measured.
    keys = resolve_trusted_keys(trusted_key or [])
    limits = ArchiveLimits.resolve(max_size)

    def say(m: str) -> None:
        err.print(m, highlight=False, markup=False)

    protect: list[tuple[str, Path]] = [("bundle", bundle)]
    replayed = _replayed_path(meter)
    if replayed is not None:
        protect.append(("replayed recording", replayed))
    # The output folders are checked and locked before minutes of measuring, not after.
    with contextlib.ExitStack() as stack:
        folder = stack.enter_context(
            open_output(out, kind="bench", protect=[*protect, *_also(record, "--record folder")], log=say)
        )
        recorder = None
        if record is not None:
            recorder = stack.enter_context(
                open_output(record, kind="bench-record", protect=[*protect, ("--out folder", out)], log=say)
            )
        opts = BenchOptions(
            variants=names,
            meter=meter,
            duty_hz=duty,
            threads=threads,
            runs=runs if runs is not None else (50 if quick else 200),
            warmup=5 if quick else 10,
            batch=batch,
            plan=plan,
            quick=quick,
            roots=EnvironmentRoots(sysfs_root, proc_root, devicetree_root, vcgencmd),
            log=say,
            scratch_dir=folder.scratch,
            trusted_keys=keys,
            archive_limits=limits,
            record_dir=recorder.staging if recorder is not None else None,
            record_dir_shown=record,
            measure_duty=duty is not None,
        )
        # The runtimes' own output goes to logs/runtime.log, not the terminal (edgekit.logs).
        with captured(folder.staging / LOGS_DIR / RUNTIME_LOG, verbose=verbose):
            result = run_bench(bundle, opts)
            written = write_reports(result, folder.staging)
        if recorder is not None:
            recorder.publish()
        folder.publish()
    paths = {kind: out / p.name for kind, p in written.items()}
    con = Console(width=width)
    for v in result.variants:
        e = v.energy
        energy = (
            f"{_figure(e, 'inference')} {v.energy_label}" if e else f"energy not measured ({v.energy_error})"
        )
        life = f"; {_life(v.battery)}" if v.battery else ""
        con.print(
            f"{v.name}: p50 {_fmt(v.latency.p50_ms)} ms, p99 {_fmt(v.latency.p99_ms)} ms, "
            f"cold {_fmt(v.cold_start.cold_start_ms, '.0f')} ms, {_fmt(v.peak_memory_mb, '.0f')} MiB; "
            f"{energy}{life}",
            highlight=False,
            markup=False,
        )
        if duty is not None:
            con.print(f"  {_duty_line(v)}", highlight=False, markup=False)
    for w in result.warnings:
        err.print(f"warning: {w}", highlight=False, markup=False)
    con.print(f"Reports: {', '.join(str(p) for p in paths.values())}; runtime log: "
              f"{out / LOGS_DIR / RUNTIME_LOG}", highlight=False, markup=False)
    if any(v.energy is None for v in result.variants):
        raise typer.Exit(1)


def _figure(e: dict[str, Any], per: str) -> str:
    """Total and dynamic energy, each with its interval."""
    lo, hi = e["spread_mj"]
    dlo, dhi = e.get("dynamic_spread_mj") or (None, None)
    from edgekit.report.energy_text import fmt_energy_mj

    # A figure below what its interval resolves reads as such (bench.json keeps the raw value).
    return (
        f"{_fmt(e['energy_per_inference_mj'])} mJ/{per} [{_fmt(lo)}-{_fmt(hi)}], dynamic "
        f"{fmt_energy_mj(e['dynamic_energy_per_inference_mj'], dlo, dhi)} [{_fmt(dlo)}-{_fmt(dhi)}]"
    )


def _life(b: dict[str, Any]) -> str:
    lo, hi = b.get("life_with_model_interval_h") or (None, None)
    span = f" [{_fmt(lo, '.1f')}-{_fmt(hi, '.1f')}]" if lo is not None else ""
    return (
        f"battery {_fmt(b['life_with_model_h'], '.1f')} h{span}, life lost "
        f"{_fmt(b['life_lost_pct'], '.2f')}%"
    )


def _duty_line(v: Any) -> str:
    e = v.duty_energy
    if not e:
        return f"at the duty cycle: not measured ({v.duty_energy_error or 'no duty cycle'})"
    life = f"; {_life(v.duty_battery)}" if v.duty_battery else ""
    return f"at {_fmt(e.get('duty_hz'))} Hz duty cycle: {_figure(e, 'capture')} {e['label']}{life}"


def _replayed_path(meter: str | None) -> Path | None:
    """The file or folder a ``replay:`` spec reads (protected from the output folders)."""
    if meter is None or not meter.startswith("replay:"):
        return None
    rest = meter.split(":", 1)[1]
    for part in rest.split(","):
        key, eq, value = part.partition("=")
        if not eq:
            return Path(key)
        if key in ("path", "power"):
            return Path(value)
    return None


def _also(path: Path | None, what: str) -> list[tuple[str, Path]]:
    return [] if path is None else [(what, path)]


def _check_plan(overrides: dict[str, Any]) -> None:
    import math

    from edgekit.errors import UsageError

    minimum = {"window_s": 0.0, "idle_s": 0.0, "windows": 1, "min_samples": 2}
    for key, value in overrides.items():
        low = minimum[key]
        ok = math.isfinite(value) and (value > low if isinstance(low, float) else value >= low)
        if not ok:
            need = "> 0" if isinstance(low, float) else f">= {low}"
            raise UsageError(f"--{key.replace('_', '-')}: must be {need}, got {value}")
