"""The ``edgekit`` command: a thin face over the library (parse, call, print, exit code).

Each sub-command lives in its own module in this package and registers itself on ``app``.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import typer

from edgekit import __version__
from edgekit.errors import EdgekitError

__all__ = ["Interrupted", "app", "main"]

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
        audit_cmd,
        bench_cmd,
        build_cmd,
        bundle_cmd,
        data_cmd,
        emulate_cmd,
        energy_cmd,
        inspect_cmd,
        journal_cmd,
        run_cmd,
        status_cmd,
    )


class Interrupted(BaseException):
    """SIGINT or SIGTERM, raised where the program is so ``finally`` blocks clean up.

    A ``BaseException`` that is not a ``KeyboardInterrupt``: typer turns the latter into a
    silent exit 130, and no ``except Exception`` may swallow a stop request.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    # Later signals are ignored, so the cleanup this one starts is not cut short.
    for s in _SIGNALS:
        signal.signal(s, signal.SIG_IGN)
    raise Interrupted(signum)


@contextmanager
def _stop_signals() -> Iterator[None]:
    """SIGINT and SIGTERM raise ``Interrupted`` while the command runs (main thread only)."""
    try:
        # A signal the parent set to be ignored (nohup, a background job) stays ignored.
        saved = {
            s: signal.signal(s, _on_signal)
            for s in _SIGNALS
            if signal.getsignal(s) is not signal.SIG_IGN
        }
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; every error a user can cause is one line on stderr and an exit code.

    2: a usage, input or environment error (bad argument, malformed file, disk full); 70: a bug
    (with its traceback), see ``edgekit.cli._errors``; 141, silently, when stdout's reader closed
    the pipe (``| head``). SIGINT and SIGTERM unwind the command (its
    cleanup runs), print one line and exit with 128 + the signal number: 130 and 143.
    """
    from edgekit.cli._errors import describe, invoke, one_line, report_bug

    _register()
    try:
        with _stop_signals():
            return invoke(app, argv)
    except Interrupted as e:
        word = "interrupted" if e.signum == signal.SIGINT else "terminated"
        typer.echo(f"edgekit: {word}", err=True)
        return 128 + e.signum
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except EdgekitError as e:
        typer.echo(f"edgekit: error: {one_line(str(e))}", err=True)
        return e.exit_code
    except KeyboardInterrupt:
        typer.echo("edgekit: interrupted", err=True)
        return 130
    except BrokenPipeError:
        # The reader went away (`edgekit build --help | head`): not the user's mistake, so no
        # error line; exit as a tool killed by SIGPIPE would, and keep Python's final flush of
        # stdout from raising again at shutdown.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 128 + signal.SIGPIPE
    except Exception as e:  # the last boundary: environment failures are one line, bugs say so
        known = describe(e)
        if known is None:
            return report_bug(e)
        typer.echo(f"edgekit: error: {known[0]}", err=True)
        return known[1]


if __name__ == "__main__":
    sys.exit(main())
