"""The ``edgekit`` command: a thin face over the library (parse, call, print, exit code).

Each sub-command lives in its own module in this package and registers itself on ``app``.
"""

from __future__ import annotations

import sys

import typer

from edgekit import __version__
from edgekit.errors import EdgekitError

__all__ = ["app", "main"]

app = typer.Typer(
    name="edgekit",
    help="Build, run and benchmark models for battery-powered radio-wave scanners.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"edgekit {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Build, run and benchmark models for battery-powered radio-wave scanners."""


def _register() -> None:
    # Imported for their side effect of adding commands to ``app``.
    from edgekit.cli import (  # noqa: F401
        bench_cmd,
        build_cmd,
        data_cmd,
        emulate_cmd,
        inspect_cmd,
        journal_cmd,
        run_cmd,
        status_cmd,
    )


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; an ``EdgekitError`` becomes one line on stderr and its exit code.

    Usage errors found by the argument parser exit with 2 and a short message of its own.
    """
    _register()
    try:
        app(args=argv, prog_name="edgekit")
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except EdgekitError as e:
        typer.echo(f"edgekit: error: {e}", err=True)
        return e.exit_code
    except KeyboardInterrupt:
        typer.echo("edgekit: interrupted", err=True)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
