"""How busy the host was while a variant was profiled: CPU busy and steal share, load average.

A shared or virtual host (CI runners, a 2-core VM with other users) inflates the latency tail;
recording its load beside every latency figure lets a reader tell the model's p99 from the
neighbours'. Counters come from psutil (``/proc/stat`` on Linux); steal is 0 where the kernel
does not report it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import psutil

__all__ = ["HostLoad", "cpu_snapshot", "load_between"]

_IDLE = ("idle", "iowait")


@dataclass(frozen=True)
class HostLoad:
    busy_pct: float  # share of all CPUs' time not idle, steal included
    steal_pct: float  # share taken by the hypervisor for other guests
    loadavg_1m: float

    def text(self) -> str:
        return (f"host during profiling: CPUs {self.busy_pct:.0f}% busy, steal "
                f"{self.steal_pct:.1f}%, load average {self.loadavg_1m:.2f}")


def cpu_snapshot() -> Any:
    """System-wide CPU time counters now (all CPUs summed)."""
    return psutil.cpu_times()


def _total(t: Any) -> float:
    return float(sum(getattr(t, f) for f in t._fields))


def load_between(before: Any, after: Any, loadavg_1m: float | None = None) -> HostLoad:
    """The host's CPU load between two snapshots (``cpu_snapshot``)."""
    span = _total(after) - _total(before)
    if span <= 0:
        return HostLoad(0.0, 0.0, loadavg_1m or 0.0)
    idle = sum(getattr(after, f, 0.0) - getattr(before, f, 0.0) for f in _IDLE)
    steal = getattr(after, "steal", 0.0) - getattr(before, "steal", 0.0)
    load = os.getloadavg()[0] if loadavg_1m is None else loadavg_1m
    return HostLoad(100.0 * (span - idle) / span, 100.0 * steal / span, load)
