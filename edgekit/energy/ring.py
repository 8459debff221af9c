"""A preallocated ring of (timestamp_s, power_w) samples with window queries.

The sampler thread and the serial-link meter append here; attribution asks for the samples of a
window. Appends cost two array stores under a lock (no allocation); queries copy only the window.
"""

from __future__ import annotations

import threading

import numpy as np

from edgekit.energy.meters.base import SampleArrays

__all__ = ["RingBuffer", "window_of"]


def window_of(t: np.ndarray, p: np.ndarray, t0_s: float, t1_s: float) -> SampleArrays:
    """Samples with t in [t0_s, t1_s] plus the nearest neighbour on each side (sorted input)."""
    lo = max(int(np.searchsorted(t, t0_s, side="left")) - 1, 0)
    hi = min(int(np.searchsorted(t, t1_s, side="right")) + 1, len(t))
    return SampleArrays(t[lo:hi].copy(), p[lo:hi].copy())


class RingBuffer:
    """Fixed-capacity sample store; the oldest samples are overwritten when full."""

    def __init__(self, capacity: int) -> None:
        if capacity < 2:
            raise ValueError(f"ring capacity must be at least 2, got {capacity}")
        self.capacity = int(capacity)
        self._t = np.zeros(self.capacity, dtype=np.float64)
        self._p = np.zeros(self.capacity, dtype=np.float64)
        self._n = 0  # total appended, ever
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return min(self._n, self.capacity)

    @property
    def total(self) -> int:
        """Samples appended since creation (including overwritten ones)."""
        return self._n

    def append(self, timestamp_s: float, power_w: float) -> None:
        with self._lock:
            i = self._n % self.capacity
            self._t[i] = timestamp_s
            self._p[i] = power_w
            self._n += 1

    def extend(self, timestamps_s: np.ndarray, power_w: np.ndarray) -> None:
        for t, p in zip(timestamps_s.tolist(), power_w.tolist(), strict=True):
            self.append(t, p)

    def last(self) -> tuple[float, float] | None:
        with self._lock:
            if self._n == 0:
                return None
            i = (self._n - 1) % self.capacity
            return float(self._t[i]), float(self._p[i])

    def ordered(self) -> SampleArrays:
        """All retained samples, oldest first (a copy)."""
        with self._lock:
            n, cap = self._n, self.capacity
            if n <= cap:
                return SampleArrays(self._t[:n].copy(), self._p[:n].copy())
            i = n % cap
            return SampleArrays(
                np.concatenate((self._t[i:], self._t[:i])),
                np.concatenate((self._p[i:], self._p[:i])),
            )

    def samples_between(self, t0_s: float, t1_s: float) -> SampleArrays:
        t, p = self.ordered()
        return window_of(t, p, t0_s, t1_s)

    def count_between(self, t0_s: float, t1_s: float) -> int:
        with self._lock:
            n, cap = self._n, self.capacity
            segments = [self._t[:n]] if n <= cap else [self._t[n % cap :], self._t[: n % cap]]
            return sum(
                int(np.searchsorted(s, t1_s, side="right") - np.searchsorted(s, t0_s, side="left"))
                for s in segments
            )
