"""Clocks the energy code reads time from: the real monotonic clock, or a virtual one for tests.

Attribution needs "now" and "sleep" only; injecting them lets a simulated board and a replayed
trace run deterministically without sleeping (the virtual clock advances when told to).
"""

from __future__ import annotations

import threading
import time
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "MonotonicClock", "VirtualClock"]


@runtime_checkable
class Clock(Protocol):
    """Where time comes from: ``monotonic()`` in seconds and a ``sleep(duration_s)``."""

    def monotonic(self) -> float: ...

    def sleep(self, duration_s: float) -> None: ...


class MonotonicClock:
    """The real clock: ``time.monotonic`` and ``time.sleep``."""

    is_virtual = False

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, duration_s: float) -> None:
        if duration_s > 0:
            time.sleep(duration_s)


class VirtualClock:
    """A clock that moves only when advanced: ``sleep`` and ``advance`` add to ``now_s``.

    Simulated workloads advance it by their inference durations, so a 60 s measurement runs in
    milliseconds and gives the same answer every time.
    """

    is_virtual = True

    def __init__(self, start_s: float = 0.0) -> None:
        self._now_s = float(start_s)
        self._lock = threading.Lock()

    @property
    def now_s(self) -> float:
        return self._now_s

    def monotonic(self) -> float:
        return self._now_s

    def advance(self, duration_s: float) -> float:
        """Move time forward by ``duration_s`` (negative is refused) and return the new time."""
        if duration_s < 0:
            raise ValueError(f"a clock cannot go backwards (advance by {duration_s} s)")
        with self._lock:
            self._now_s += duration_s
            return self._now_s

    def sleep(self, duration_s: float) -> None:
        if duration_s > 0:
            self.advance(duration_s)
