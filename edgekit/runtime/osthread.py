"""Name the calling thread at the OS level, so ``top -H``, ``ps -L`` and the CPU bench
(``bench/bench_daemon.py``, which reads ``/proc/PID/task/TID/comm``) can tell the daemon's
threads apart.

Python 3.11 names threads only inside the interpreter; the kernel keeps the process name for
every thread. Writing the thread's own ``comm`` (what ``prctl(PR_SET_NAME)`` sets) costs one
small write when the thread starts. The kernel keeps at most 15 bytes; on a system without
``/proc`` (or a read-only one) the name simply stays as it was.
"""

from __future__ import annotations

import threading
from pathlib import Path

__all__ = ["COMM_MAX_BYTES", "name_os_thread"]

COMM_MAX_BYTES = 15  # TASK_COMM_LEN - 1: the kernel cuts longer names


def name_os_thread(name: str, *, proc: Path = Path("/proc")) -> bool:
    """Set the calling thread's OS name to ``name`` (cut to 15 bytes); True when it was set."""
    comm = proc / "self" / "task" / str(threading.get_native_id()) / "comm"
    try:
        comm.write_bytes(name.encode("ascii", "replace")[:COMM_MAX_BYTES])
    except OSError:  # no /proc, or not writable: a cosmetic loss only
        return False
    return True
