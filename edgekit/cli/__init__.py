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
    from edgekit.cli import bench_cmd, build_cmd, data_cmd, emulate_cmd, inspect_cmd  # noqa: F401


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; every error a user can cause is one line on stderr and an exit code.

    2: a usage, input or environment error (bad argument, malformed file, disk full); 130:
    interrupted; 70: a bug (with its traceback). See ``edgekit.cli._errors``.
    """
    from edgekit.cli._errors import describe, invoke, one_line, report_bug

    _register()
    try:
        return invoke(app, argv)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except EdgekitError as e:
        typer.echo(f"edgekit: error: {one_line(str(e))}", err=True)
        return e.exit_code
    except KeyboardInterrupt:
        typer.echo("edgekit: interrupted", err=True)
        return 130
    except Exception as e:  # the last boundary: environment failures are one line, bugs say so
        known = describe(e)
        if known is None:
            return report_bug(e)
        typer.echo(f"edgekit: error: {known[0]}", err=True)
        return known[1]


if __name__ == "__main__":
    sys.exit(main())
