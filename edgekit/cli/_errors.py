"""Running the command tree so that every failure a user can cause ends as one line on stderr.

Typer's standalone mode prints argument errors as a multi-line box, turns ``EOFError`` into a bare
``Aborted!`` and lets ``OSError`` and ``MemoryError`` escape as tracebacks. Here the click command
is invoked directly and each failure becomes ``edgekit: error: <one line>`` with an exit code:

* argument errors (click's ``UsageError``/``BadParameter``, any ``ClickException``) -> 2;
* ``OSError`` at the top (disk full, permission denied, read-only file system) -> 2 with the path:
  the build could not run, which must not read as 1, "rejected by a budget";
* ``MemoryError`` -> 2: the input is too big for this machine;
* ``EOFError`` -> 2: a file ended early (a truncated archive), shown with its message, never as
  typer's bare ``Aborted!``;
* anything else is a bug in edgekit: its traceback is kept and the last line says so (exit 70,
  ``EX_SOFTWARE``).
"""

from __future__ import annotations

import errno
import os
import sys
import traceback
from collections.abc import Sequence

import typer
from typer.main import get_command

__all__ = ["BUG_EXIT", "describe", "invoke", "one_line"]

BUG_EXIT = 70  # sysexits.h EX_SOFTWARE: an internal error, neither a verdict nor a usage error

_OS_WHAT = {
    errno.ENOSPC: "disk full",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file too large for this file system or limit",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENOENT: "no such file or folder",
    errno.ENOTDIR: "not a folder",
    errno.EISDIR: "is a folder",
    errno.EIO: "input/output error",
}


def one_line(text: str) -> str:
    """``text`` with its lines joined by ``; `` and control characters made visible."""
    parts = [line.strip() for line in str(text).splitlines() if line.strip()]
    flat = "; ".join(parts) or "(no message)"
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in flat)


def invoke(app: typer.Typer, argv: Sequence[str] | None) -> int:
    """Parse ``argv`` and run the command; returns its exit code. Click's own exceptions
    (bad arguments, ``typer.Exit``) are handled here; everything else propagates."""
    command = get_command(app)
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        with command.make_context("edgekit", args) as run_ctx:
            command.invoke(run_ctx)
    except typer.Exit as e:
        return int(e.exit_code)
    except typer.Abort:
        typer.echo("edgekit: error: aborted", err=True)
        return 1
    except typer.TyperException as e:  # click's ClickException, UsageError, BadParameter
        if type(e).__name__ == "NoArgsIsHelpError":  # bare `edgekit`: typer printed the help
            return 2
        hint = ""
        ctx = getattr(e, "ctx", None)
        if ctx is not None:
            hint = f" (see: {ctx.command_path} --help)"
        typer.echo(f"edgekit: error: {one_line(e.format_message())}{hint}", err=True)
        return 2
    return 0


def describe(exc: BaseException) -> tuple[str, int] | None:
    """The one line and exit code for an environment failure, or None for a bug."""
    if isinstance(exc, MemoryError):
        return "out of memory: the input is too big for this machine; use a smaller one", 2
    if isinstance(exc, EOFError):  # a library reading a truncated file (gzip, tar, pickle-free npy)
        return one_line(f"unexpected end of a file (truncated?): {exc}"), 2
    if isinstance(exc, OSError):
        what = _OS_WHAT.get(exc.errno or -1) or exc.strerror or type(exc).__name__
        where = " -> ".join(
            os.fsdecode(f) for f in (exc.filename, exc.filename2) if f is not None
        )
        return one_line(f"{what}" + (f": {where}" if where else f" ({exc})")), 2
    return None


def report_bug(exc: BaseException) -> int:
    """Print the traceback of an unexpected exception and say it is a bug."""
    traceback.print_exception(exc)
    typer.echo(
        f"edgekit: internal error (a bug in edgekit, please report it with the traceback "
        f"above): {type(exc).__name__}: {one_line(str(exc))}",
        err=True,
    )
    return BUG_EXIT
