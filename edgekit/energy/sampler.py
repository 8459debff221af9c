"""A background thread that polls a meter at a fixed rate into a preallocated ring.

Sleep scheduling uses absolute deadlines (start + k / rate), so the rate does not drift with the
cost of each read; a late sample skips missed deadlines instead of bursting to catch up. Each
sample costs one ``read()`` and two array stores: no allocation beyond the meter's own tuple.

A meter that averages on chip and says when a value is new (``read_if_ready``, INA226/INA260) is
polled instead: each poll asks the conversion-ready flag and stores a sample only when there is a
new value, so polling ~2x the chip's output rate reads every value once. A value then reaches the
ring on average half a poll period after it completed (``delay_s``), which attribution corrects.

A failed read (a ``MeterError``: an empty hwmon file, an I2C NACK/EIO) is not the end: the read
is counted (``failed_reads``), nothing is stored for it (a gap stays a gap: windows count only
the samples really in the ring, and ``failed_between`` says how many reads failed in a window),
and the next read waits a backoff doubling from one period up to ``max_backoff_s``. Only
``max_failures`` failures in a row (``DEFAULT_MAX_FAILURES``) end the thread; ``check`` then
raises the last error, the existing stop path. Any other exception is a bug and ends it at once.
"""

from __future__ import annotations

import threading
import time
from collections import deque

from edgekit.energy.meters.base import Meter, SampleArrays
from edgekit.energy.ring import RingBuffer
from edgekit.errors import MeterError

__all__ = ["DEFAULT_MAX_BACKOFF_S", "DEFAULT_MAX_FAILURES", "Sampler"]

DEFAULT_MAX_FAILURES = 10
"""Failed reads in a row that end sampling: with the backoff below, about 5 s of a dead meter
at 1 kHz, while a transient I2C EIO (one read in many thousands) never comes near it."""

DEFAULT_MAX_BACKOFF_S = 1.0
"""Longest wait between retries, so a meter that comes back is read again within a second."""

_FAILURE_TIMES_KEPT = 4096  # timestamps of recent failed reads kept for failed_between


class Sampler:
    """Poll ``meter`` at ``rate_hz`` on a daemon thread; query windows with ``samples_between``.

    Works with the real monotonic clock only (a virtual clock never advances by itself; trace
    meters are read directly by attribution instead). ``capacity_s`` bounds the history kept.
    """

    def __init__(
        self, meter: Meter, rate_hz: float, *, capacity_s: float = 600.0,
        ready_polling: bool | None = None, max_failures: int = DEFAULT_MAX_FAILURES,
        max_backoff_s: float = DEFAULT_MAX_BACKOFF_S,
    ) -> None:
        if not rate_hz > 0:
            raise MeterError(f"sampler rate must be positive, got {rate_hz} Hz")
        if max_failures < 1:
            raise MeterError(f"sampler max_failures must be >= 1, got {max_failures}")
        self.max_failures = int(max_failures)
        self.max_backoff_s = float(max_backoff_s)
        self.failed_reads = 0  # reads that raised MeterError, over the sampler's life
        self.consecutive_failures = 0
        self._failed_at: deque[float] = deque(maxlen=_FAILURE_TIMES_KEPT)
        self.meter = meter
        self.rate_hz = float(rate_hz)
        ready = getattr(meter, "read_if_ready", None)
        self.ready_polling = callable(ready) if ready_polling is None else ready_polling
        self.polls = 0
        self._ring = RingBuffer(max(16, int(capacity_s * rate_hz) + 16))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self.late = 0  # deadlines skipped because a read overran its period
        self.started_s = 0.0

    def __enter__(self) -> Sampler:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self.started_s = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="edgekit-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            thread.join(timeout=5.0)

    @property
    def delay_s(self) -> float:
        """Mean lag between a value's completion and its timestamp (ready polling only)."""
        return 0.5 / self.rate_hz if self.ready_polling else 0.0

    def _run(self) -> None:
        period_s = 1.0 / self.rate_hz
        read = self.meter.read_if_ready if self.ready_polling else self.meter.read  # type: ignore[attr-defined]
        append = self._ring.append
        stop = self._stop.is_set
        next_s = time.monotonic()
        k = 0
        try:
            while not stop():
                try:
                    sample = read()
                except MeterError:
                    if self._failed_read(time.monotonic()):
                        raise
                    # bounded exponential backoff, then a fresh schedule from now
                    wait_s = min(period_s * 2.0 ** (self.consecutive_failures - 1), self.max_backoff_s)
                    self._stop.wait(max(wait_s, period_s))
                    next_s = time.monotonic()
                    continue
                self.consecutive_failures = 0
                if sample is not None:
                    append(sample[0], sample[1])
                k += 1
                next_s += period_s
                now_s = time.monotonic()
                if next_s <= now_s:  # overran: skip the missed deadlines
                    missed = int((now_s - next_s) / period_s) + 1
                    self.late += missed
                    next_s += missed * period_s
                time.sleep(next_s - now_s)
        except BaseException as e:  # surfaced to the caller by check()
            self._error = e

    def _failed_read(self, now_s: float) -> bool:
        """Count one failed read; True when it is the ``max_failures``-th in a row (give up)."""
        self.failed_reads += 1
        self.consecutive_failures += 1
        self._failed_at.append(now_s)
        return self.consecutive_failures >= self.max_failures

    def failed_between(self, t0_s: float, t1_s: float) -> int:
        """Failed reads with host monotonic time in [t0_s, t1_s] (the last 4096 are kept)."""
        return sum(1 for t in tuple(self._failed_at) if t0_s <= t <= t1_s)

    def check(self) -> None:
        """Re-raise the error that ended the sampling thread (after ``max_failures`` failed
        reads in a row, said in the message; at once for anything but a ``MeterError``)."""
        if self._error is not None:
            if isinstance(self._error, MeterError):
                raise MeterError(
                    f"{self._error} ({self.consecutive_failures} failed reads in a row, "
                    f"{self.failed_reads} in all)"
                ) from self._error
            raise MeterError(f"sampler: meter {self.meter.info.name} failed: {self._error}") from (
                self._error
            )

    @property
    def count(self) -> int:
        return self._ring.total

    def samples_between(self, t0_s: float, t1_s: float) -> SampleArrays:
        self.check()
        return self._ring.samples_between(t0_s, t1_s)

    def count_between(self, t0_s: float, t1_s: float) -> int:
        self.check()
        return self._ring.count_between(t0_s, t1_s)

    def samples(self) -> SampleArrays:
        """Everything retained, oldest first."""
        self.check()
        return self._ring.ordered()
