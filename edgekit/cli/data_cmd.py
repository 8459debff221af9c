"""``edgekit data``: generate synthetic radio datasets and describe dataset files."""

from __future__ import annotations

import shutil
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from edgekit.cli import app
from edgekit.cli._options import parse_classes
from edgekit.cli._text import esc, printable
from edgekit.data.dataset import Dataset, load_npz, nonfinite_rows, save_npz
from edgekit.data.limits import check_allocation
from edgekit.data.synth import ALL_CLASSES, BYTES_PER_CAPTURE, CLASSES, generate
from edgekit.errors import UsageError

__all__ = ["data_app", "info", "synth"]

data_app = typer.Typer(
    help="Generate synthetic radio datasets and describe dataset files.",
    no_args_is_help=True,
)
app.add_typer(data_app, name="data")

_PROGRESS_MIN = 8192  # below this, generation is quick enough that a bar is noise


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


@data_app.command()
def synth(
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the dataset (.npz).")],
    n: Annotated[int, typer.Option("--n", min=1, help="Number of captures to generate.")],
    seed: Annotated[
        int, typer.Option("--seed", min=0, help="Random seed; the same seed gives the same file.")
    ],
    snr_range: Annotated[
        tuple[float, float],
        typer.Option("--snr-range", help="Per-capture SNR drawn uniformly in [A, B] dB."),
    ] = (-10.0, 20.0),
    classes: Annotated[
        str | None,
        typer.Option(
            "--classes",
            help=f"Comma list of classes (default: the {len(CLASSES)} in-distribution ones). "
            f"Accepted: {', '.join(ALL_CLASSES)}.",
        ),
    ] = None,
    cfo_max_hz: Annotated[
        float,
        typer.Option("--cfo-max-hz", min=0.0, help="Carrier offset drawn uniformly in ±this Hz."),
    ] = 10_000.0,
    multipath: Annotated[
        float,
        typer.Option(
            "--multipath", min=0.0, max=1.0, help="Fraction of captures given multipath fading."
        ),
    ] = 0.3,
    drift: Annotated[
        float,
        typer.Option(
            "--drift",
            min=0.0,
            max=1.0,
            help="Front-end degradation 0..1 (IQ imbalance, DC offset, frequency drift); 0 = none.",
        ),
    ] = 0.0,
) -> None:
    """Generate N labelled synthetic captures (1024 IQ samples each) and save them as .npz.

    Exit codes: 0 written; 2 a bad option, or an output path that is a folder, in a missing
    folder, or too big for the disk.

    Example: `edgekit data synth --out captures.npz --n 5000 --seed 7 --classes bpsk,qpsk,ofdm`
    """
    chosen = None if classes is None else parse_classes(classes)
    lo, hi = snr_range
    if not (np.isfinite(lo) and np.isfinite(hi) and lo <= hi):
        raise UsageError(f"--snr-range: need finite A <= B, got {lo:g} {hi:g}")
    _check_out(out, n)
    con = Console(stderr=True)
    t0 = time.perf_counter()

    def run(progress: Callable[[int], None] | None) -> Dataset:
        return generate(
            n,
            seed=seed,
            classes=chosen,
            snr_range_db=(lo, hi),
            cfo_max_hz=cfo_max_hz,
            multipath_prob=multipath,
            drift=drift,
            progress=progress,
        )

    try:
        if n >= _PROGRESS_MIN:
            columns = (TextColumn("generating"), BarColumn(), MofNCompleteColumn())
            with Progress(*columns, TimeElapsedColumn(), console=con, transient=True) as bar:
                task = bar.add_task("synth", total=n)
                ds = run(lambda done: bar.update(task, completed=done))
        else:
            ds = run(None)
    except ValueError as e:
        raise UsageError(str(e)) from e
    with con.status("saving"):
        save_npz(ds, out)
    elapsed_s = time.perf_counter() - t0

    per_label = np.bincount(ds.y, minlength=len(ds.labels))
    counts = {name: int(c) for name, c in zip(ds.labels, per_label, strict=True) if c}
    summary = ", ".join(f"{k} {v}" for k, v in counts.items())
    typer.echo(f"wrote {printable(out)} ({_fmt_bytes(out.stat().st_size)}) in {elapsed_s:.1f} s")
    typer.echo(f"{len(ds)} captures x {ds.x.shape[2]} samples; SNR {lo:g}..{hi:g} dB")
    typer.echo(f"per class: {summary}")


def _check_out(out: Path, n: int) -> None:
    """Refuse an output path that is a folder, in a missing folder, or another kind of file, and
    a dataset too big for memory or the disk, before generating anything."""
    if out.is_dir():
        raise UsageError(f"--out: {out} is a folder; give a file path such as {out / 'data.npz'}")
    if not out.parent.is_dir():
        raise UsageError(f"--out: folder {out.parent} does not exist")
    if out.exists() or out.is_symlink():
        if not out.is_file() or out.is_symlink():
            raise UsageError(f"--out: {out} exists and is not a regular file; not replacing it")
        if not zipfile.is_zipfile(out):
            raise UsageError(f"--out: {out} exists and is not an .npz dataset; not overwriting it")
    need = n * BYTES_PER_CAPTURE
    check_allocation(need, f"--n {n}: {n} captures")
    free = shutil.disk_usage(out.parent).free
    if need > free:
        raise UsageError(
            f"--out: {n} captures need about {_fmt_bytes(need)} on disk but {out.parent} has "
            f"{_fmt_bytes(free)} free"
        )


@data_app.command()
def info(path: Annotated[Path, typer.Argument(help="A dataset file (.npz).")]) -> None:
    """Show a dataset's shape, labels, count per class and metadata columns with ranges.

    Exit codes: 0 shown; 2 a missing file or one that is not a dataset (docs/config.md, "The
    .npz dataset format").

    Example: `edgekit data info captures.npz`
    """
    ds = load_npz(path, allow_nonfinite=True)
    con = Console()
    con.print(
        f"[bold]{esc(path)}[/bold]  {_fmt_bytes(path.stat().st_size)}  "
        f"x {tuple(ds.x.shape)} {ds.x.dtype}  y {tuple(ds.y.shape)} {ds.y.dtype}",
        highlight=False,
    )
    bad = int(nonfinite_rows(ds.x).sum())
    if bad:
        con.print(
            f"[yellow]{bad} of {len(ds)} captures hold NaN or inf[/yellow]: a build refuses "
            "them unless data.drop_nonfinite = true",
            highlight=False,
        )
    classes = Table(title="captures per label")
    classes.add_column("index", justify="right")
    classes.add_column("label")
    classes.add_column("count", justify="right")
    per_label = np.bincount(ds.y, minlength=len(ds.labels))
    for i, (name, c) in enumerate(zip(ds.labels, per_label, strict=True)):
        classes.add_row(str(i), esc(name), str(int(c)))
    con.print(classes)
    if ds.meta:
        con.print(_meta_table(ds))


def _meta_table(ds: Dataset) -> Table:
    table = Table(title="metadata columns")
    for head in ("column", "dtype", "min", "max", "distinct"):
        table.add_column(head, justify="left" if head in ("column", "dtype") else "right")
    for name, col in ds.meta.items():
        if col.size and np.issubdtype(col.dtype, np.number) and col.dtype != np.bool_:
            finite = col[np.isfinite(col)] if np.issubdtype(col.dtype, np.floating) else col
            lo = f"{finite.min():.4g}" if finite.size else "-"
            hi = f"{finite.max():.4g}" if finite.size else "-"
        elif col.size:  # strings and booleans: first and last distinct value
            distinct = np.unique(col)
            lo, hi = str(distinct[0]), str(distinct[-1])
        else:
            lo = hi = "-"
        table.add_row(esc(name), str(col.dtype), esc(lo), esc(hi), str(len(np.unique(col))))
    return table
