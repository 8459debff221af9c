"""Child processes that end with the run: the converter and the profiling workers.

Each child starts in its own process group, so a Ctrl-C in the terminal reaches edgekit alone
and edgekit decides how its children end. When the ``with`` block around a child is left by an
error, ``SIGINT`` or ``SIGTERM`` (raised as an exception by the CLI), the whole group gets
``SIGTERM`` and, after a short grace, ``SIGKILL``. For a ``SIGKILL`` of edgekit itself, which
runs no code, each child asks the kernel to kill it when its parent dies
(``PR_SET_PDEATHSIG``): edgekit's workers call :func:`die_with_parent` themselves, and a foreign
program (onnx2tf) is started through a two-line launcher that does it and then ``exec``s.

The group is signalled only while its leader has not been reaped: until then its pid, and so
the group id, cannot belong to anyone else.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from edgekit._deathsig import PARENT_ENV, die_with_parent

__all__ = ["GRACE_S", "PARENT_ENV", "child", "die_with_parent", "run_child", "stop"]

GRACE_S = 3.0
"""Seconds a child group gets between ``SIGTERM`` and ``SIGKILL``."""

# Run by a fresh interpreter (-I -S: no site, no environment; ~15 ms) in front of a foreign
# program: arm the death signal, give up if the parent is already gone, then become the program.
_LAUNCHER = (
    "import ctypes, os, signal, sys\n"
    "try:\n"
    "    u = ctypes.c_ulong\n"
    "    ctypes.CDLL(None).prctl(ctypes.c_int(1), u(int(signal.SIGKILL)), u(0), u(0), u(0))\n"
    "except (OSError, AttributeError):\n"
    "    pass\n"
    "if os.getppid() != int(sys.argv[1]):\n"
    "    os._exit(1)\n"
    "os.execvp(sys.argv[2], sys.argv[2:])\n"
)


def stop(proc: subprocess.Popen[Any], grace_s: float = GRACE_S) -> None:
    """End ``proc``'s whole process group: ``SIGTERM``, then ``SIGKILL`` after ``grace_s``."""
    try:
        if proc.returncode is None:  # not reaped: the group id is still ours
            _killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(grace_s)
            except subprocess.TimeoutExpired:
                _killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    except BaseException:
        # interrupted while waiting: never leave the group behind
        if proc.returncode is None:
            _killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(Exception):
                proc.wait(grace_s)
        raise
    finally:
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


@contextlib.contextmanager
def child(
    cmd: Sequence[str],
    *,
    foreign: bool = False,
    grace_s: float = GRACE_S,
    env: dict[str, str] | None = None,
    **popen: Any,
) -> Iterator[subprocess.Popen[Any]]:
    """Start ``cmd`` in its own process group; the group is stopped when the block is left.

    ``foreign``: ``cmd`` is not an edgekit worker, so the launcher arms the death signal for it.
    Other keyword arguments go to ``subprocess.Popen``. An ``OSError`` from starting propagates.
    """
    child_env = dict(os.environ if env is None else env)
    child_env[PARENT_ENV] = str(os.getpid())
    argv = list(cmd)
    if foreign and sys.platform.startswith("linux"):
        path = child_env.get("PATH") if os.sep not in argv[0] else None
        if shutil.which(argv[0], path=path) is None:  # as Popen would: fail here, not in the launcher
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), argv[0])
        argv = [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(os.getpid()), *argv]
    proc = subprocess.Popen(argv, process_group=0, env=child_env, **popen)
    try:
        yield proc
    finally:
        stop(proc, grace_s)


def run_child(
    cmd: Sequence[str],
    *,
    timeout_s: float | None = None,
    foreign: bool = False,
    env: dict[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Like ``subprocess.run(capture_output=True, text=True)`` in a group of its own.

    ``subprocess.TimeoutExpired`` propagates after the group was stopped.
    """
    with child(
        cmd,
        foreign=foreign,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        out, err = proc.communicate(timeout=timeout_s)
    return subprocess.CompletedProcess(list(cmd), proc.returncode, out, err)
