"""``die_with_parent``: a worker asks the kernel to kill it when edgekit dies.

Kept apart from ``edgekit.children`` (which imports ``subprocess``) so that calling it from a
worker whose cold start is measured costs no import beyond ``ctypes``, which numpy has loaded.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys

__all__ = ["PARENT_ENV", "die_with_parent"]

PARENT_ENV = "EDGEKIT_PARENT_PID"
"""Set for every child: the pid it must find as its parent once the death signal is armed."""
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """In a child: be killed by the kernel when the parent process dies (Linux; else nothing).

    Exits at once when the parent named in ``EDGEKIT_PARENT_PID`` is already gone (it died
    before the signal was armed).
    """
    if sys.platform.startswith("linux"):
        import ctypes

        u = ctypes.c_ulong
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).prctl(
                ctypes.c_int(_PR_SET_PDEATHSIG), u(int(signal.SIGKILL)), u(0), u(0), u(0)
            )
    expected = os.environ.get(PARENT_ENV, "")
    if expected.isdigit() and os.getppid() != int(expected):
        os._exit(1)
