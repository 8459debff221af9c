"""The thin I/O shell around ``VirtualScanner``: a pseudo-terminal (or a serial URL), a stable
symlink, unplug / replug, and the pacing loop.

The loop sleeps in ``select()`` until the scanner's next packet is due, the host writes, or the
port can take more bytes; it never busy-waits. Writes are non-blocking into a bounded queue: a
host that does not read costs whole packets (``tx_overflow``), as on a real USB CDC device.
SIGINT / SIGTERM end the run cleanly; the symlink is removed on every exit path.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import time
import tty
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from types import FrameType
from typing import IO, Any, Protocol

from edgekit.emulator.scanner import Frame, VirtualScanner
from edgekit.emulator.symlink import check_link_path, place_link, remove_link

__all__ = ["PtyPort", "RunOptions", "RunSummary", "SerialPort", "default_symlink", "run"]

_TX_LIMIT_BYTES = 256 * 1024  # queued bytes beyond which new packets are dropped
_MAX_SLEEP_S = 0.05  # upper bound on one select(), so stop requests are seen promptly
_READ_CHUNK = 4096


def default_symlink() -> Path:
    """Where the stable path goes when none is given: ``/tmp/edgekit-scanner-<pid>``."""
    return Path("/tmp") / f"edgekit-scanner-{os.getpid()}"


def _monotonic_us() -> int:
    return time.monotonic_ns() // 1000


class Port(Protocol):
    """What the loop needs from a transport."""

    def exchange(self, pending: bytearray, timeout_s: float) -> bytes:
        """Write what can be written from ``pending`` (removing it) and return bytes read,
        waiting at most ``timeout_s`` for either."""
        ...

    def close(self) -> None:
        """Release the transport."""
        ...


class PtyPort:
    """A pseudo-terminal whose slave is reachable at ``symlink`` (re-pointed on each plug).

    The master end is ours; we also hold the slave open (raw mode) so bytes written before the
    host opens the port are queued rather than lost, and a host closing the port is not an
    error for us.
    """

    def __init__(self, symlink: Path) -> None:
        self.symlink = symlink
        self.slave_path = ""
        self._master: int | None = None
        self._slave: int | None = None

    @property
    def is_plugged(self) -> bool:
        """True while the pty exists."""
        return self._master is not None

    def plug(self) -> str:
        """Create a fresh pty and point the symlink at it; returns the slave's path.

        Refuses (``UsageError``) a symlink path that holds anything but a dangling link or our
        own (``edgekit.emulator.symlink``).
        """
        check_link_path(self.symlink, {self.slave_path} - {""})
        master, slave = os.openpty()
        try:
            tty.setraw(slave)
            os.set_blocking(master, False)
            slave_path = os.ttyname(slave)
            place_link(self.symlink, slave_path, {self.slave_path} - {""})
        except BaseException:
            os.close(master)
            os.close(slave)
            raise
        self._master, self._slave = master, slave
        self.slave_path = slave_path
        return self.slave_path

    def unplug(self) -> None:
        """Remove the symlink and close both ends (the host's next read fails)."""
        self._remove_symlink()
        for fd in (self._master, self._slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = None

    def exchange(self, pending: bytearray, timeout_s: float) -> bytes:
        """See ``Port.exchange``."""
        master = self._master
        if master is None:
            time.sleep(timeout_s)
            return b""
        want_write = [master] if pending else []
        readable, writable, _ = select.select([master], want_write, [], timeout_s)
        if writable:
            with contextlib.suppress(BlockingIOError):
                del pending[: os.write(master, pending)]
        if readable:
            with contextlib.suppress(BlockingIOError):
                return os.read(master, _READ_CHUNK)
        return b""

    def close(self) -> None:
        """Unplug for good."""
        self.unplug()

    def _remove_symlink(self) -> None:
        # only our own link: another emulator may have taken the path since
        remove_link(self.symlink, self.slave_path)


class SerialPort:
    """A real serial port (or any pyserial URL): the emulator plays the device on it."""

    def __init__(self, url: str, baudrate: int = 921_600) -> None:
        import serial

        try:
            self._port = serial.serial_for_url(url, baudrate=baudrate, timeout=0)
        except (serial.SerialException, OSError, ValueError) as e:
            raise OSError(f"{url}: cannot open: {e}") from e
        self.url = url

    def exchange(self, pending: bytearray, timeout_s: float) -> bytes:
        """See ``Port.exchange`` (writes block until pyserial took the bytes)."""
        if pending:
            written = self._port.write(bytes(pending))
            del pending[: written if written is not None else len(pending)]
        self._port.timeout = timeout_s
        data: bytes = self._port.read(max(1, self._port.in_waiting))
        return data

    def close(self) -> None:
        """Close the port."""
        with contextlib.suppress(Exception):
            self._port.close()


@dataclass(frozen=True)
class RunOptions:
    """How long to run and what to record (the scanner's own behaviour is in ScannerConfig).

    ``linger_s``: after ``max_captures`` was reached, keep serving this long (or until every
    capture was answered) so the host can drain the port and send its last RESULTs.
    """

    duration_s: float | None = None
    unplug_every_s: float | None = None
    unplug_for_s: float = 1.0
    linger_s: float = 2.0
    truth_path: Path | None = None
    stats_path: Path | None = None


@dataclass(frozen=True)
class RunSummary:
    """How a run ended."""

    reason: str
    duration_s: float
    unplugs: int
    stats: dict[str, Any]


class _StopFlag:
    def __init__(self) -> None:
        self.reason: str | None = None

    def __call__(self, signum: int, _frame: FrameType | None) -> None:
        self.reason = signal.Signals(signum).name


@contextlib.contextmanager
def _signals(flag: _StopFlag) -> Iterator[None]:
    """Route SIGINT / SIGTERM to ``flag`` (main thread only; elsewhere they are left alone)."""
    try:
        saved = {s: signal.signal(s, flag) for s in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)


def run(
    scanner: VirtualScanner,
    port: Port,
    options: RunOptions | None = None,
    *,
    clock_us: Callable[[], int] = _monotonic_us,
    should_stop: Callable[[], bool] | None = None,
) -> RunSummary:
    """Boot ``scanner`` on ``port`` and serve it until the duration, the capture count (plus
    linger), a signal or ``should_stop()`` ends the run. Writes the truth and stats files."""
    opts = options if options is not None else RunOptions()
    flag = _StopFlag()
    truth_file = opts.truth_path.open("w", encoding="utf-8") if opts.truth_path else None
    start_us = clock_us()
    pending = bytearray()
    unplugs = 0
    try:
        with _signals(flag):
            _queue(scanner, scanner.boot(start_us), pending, truth_file, plugged=True)
            next_unplug_us = _after(start_us, opts.unplug_every_s)
            replug_at_us: int | None = None
            finished_at_us: int | None = None
            while True:
                now = clock_us()
                reason = _stop_reason(flag, should_stop, scanner, opts, start_us, now, finished_at_us)
                if reason is not None:
                    break
                if scanner.finished and finished_at_us is None:
                    finished_at_us = now
                if isinstance(port, PtyPort):
                    if next_unplug_us is not None and now >= next_unplug_us and port.is_plugged:
                        port.unplug()
                        pending.clear()
                        unplugs += 1
                        scanner.set_connected(False, now)
                        replug_at_us = now + round(opts.unplug_for_s * 1e6)
                    elif replug_at_us is not None and now >= replug_at_us:
                        port.plug()
                        replug_at_us = None
                        next_unplug_us = _after(now, opts.unplug_every_s)
                        frames = scanner.set_connected(True, now)
                        _queue(scanner, frames, pending, truth_file, plugged=True)
                plugged = not isinstance(port, PtyPort) or port.is_plugged
                _queue(scanner, scanner.poll(now), pending, truth_file, plugged=plugged)
                timeout_s = _sleep_s(scanner, now, clock_us, pending, next_unplug_us, replug_at_us)
                data = port.exchange(pending, timeout_s)
                if data:
                    replies = scanner.receive_data(data, clock_us())
                    _queue(scanner, replies, pending, truth_file, plugged=plugged)
    finally:
        if truth_file is not None:
            truth_file.close()
        port.close()
    duration_s = (clock_us() - start_us) / 1e6
    stats = _stats_dict(scanner, reason, duration_s, unplugs)
    if opts.stats_path is not None:
        opts.stats_path.write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")
    return RunSummary(reason, duration_s, unplugs, stats)


def _after(now_us: int, seconds: float | None) -> int | None:
    return None if seconds is None else now_us + round(seconds * 1e6)


def _stop_reason(
    flag: _StopFlag,
    should_stop: Callable[[], bool] | None,
    scanner: VirtualScanner,
    opts: RunOptions,
    start_us: int,
    now_us: int,
    finished_at_us: int | None,
) -> str | None:
    if flag.reason is not None:
        return flag.reason
    if should_stop is not None and should_stop():
        return "stopped"
    if opts.duration_s is not None and now_us - start_us >= opts.duration_s * 1e6:
        return "duration"
    if finished_at_us is not None and (
        not scanner.unanswered() or now_us - finished_at_us >= opts.linger_s * 1e6
    ):
        return "count"
    return None


def _sleep_s(
    scanner: VirtualScanner,
    now_us: int,
    clock_us: Callable[[], int],
    pending: bytearray,
    *deadlines_us: int | None,
) -> float:
    due = [d for d in (scanner.next_due_us(), *deadlines_us) if d is not None]
    wait_us = min(due) - clock_us() if due else _MAX_SLEEP_S * 1e6
    return min(_MAX_SLEEP_S, max(0.0, wait_us / 1e6))


def _queue(
    scanner: VirtualScanner,
    frames: list[Frame],
    pending: bytearray,
    truth_file: IO[str] | None,
    *,
    plugged: bool,
) -> None:
    """Queue whole frames; a frame that does not fit (or has nowhere to go) is dropped."""
    for frame in frames:
        truth = frame.truth
        if not plugged or len(pending) + len(frame.data) > _TX_LIMIT_BYTES:
            reason = "unplugged" if not plugged else "tx_overflow"
            scanner.tx_dropped(frame, reason)
            if truth is not None:
                truth = replace(truth, fault=reason)
        else:
            pending += frame.data
        if truth is not None and truth_file is not None:
            truth_file.write(json.dumps(truth.to_dict()) + "\n")
            truth_file.flush()


def _stats_dict(scanner: VirtualScanner, reason: str, duration_s: float, unplugs: int) -> dict[str, Any]:
    faults = scanner.fault_stats
    return {
        "reason": reason,
        "duration_s": round(duration_s, 3),
        "unplugs": unplugs,
        "scanner": scanner.stats.to_dict(),
        "faults": {k: getattr(faults, k) for k in faults.__slots__},
        "unanswered": len(scanner.unanswered()),
    }
