"""The thin I/O shell around ``VirtualScanner``: a pseudo-terminal (or a serial URL), a stable
symlink, unplug / replug, the line model and the pacing loop.

The loop sleeps in ``poll()`` until the scanner's next packet is due, the host writes, or the
port can take more bytes; it never busy-waits. Bytes go through a ``LineModel`` (a UART's rate
with ``baud``, a bounded TX buffer) and then non-blocking into the pty: a host that does not
read costs whole packets (``tx_overflow``), as on a real device.

Like a USB CDC device, the emulator writes only while a host has the port open: it watches the
pty's master for the hang-up that means "no slave open" and, in packet mode, for the input
flush a host does when it opens the port (pyserial does). What the scanner produced meanwhile
is not written and is booked as ``not_open`` in the truth, apart from losses. Every written
byte goes through a ``LineAccount``, whose totals end the truth file and the stats file.
SIGINT / SIGTERM end the run cleanly; the symlink is removed on every exit path.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import signal
import struct
import termios
import time
import tty
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from types import FrameType
from typing import IO, Any, Protocol

from edgekit.emulator.line import LineModel
from edgekit.emulator.scanner import Frame, VirtualScanner
from edgekit.emulator.symlink import check_link_path, place_link, remove_link
from edgekit.emulator.truth import LineAccount, account_frame

__all__ = ["PtyPort", "RunOptions", "RunSummary", "SerialPort", "default_symlink", "run"]

_TX_LIMIT_BYTES = 256 * 1024  # queued bytes beyond which new packets are dropped
_MAX_SLEEP_S = 0.05  # upper bound on one select(), so stop requests are seen promptly
_READ_CHUNK = 4096
_OPEN_SETTLE_S = 0.2  # a host that opened the port but neither flushed nor wrote: open anyway
_CLOSED_POLL_S = 0.01  # how often to look for a host while none has the port open


def default_symlink() -> Path:
    """Where the stable path goes when none is given: ``/tmp/edgekit-scanner-<pid>``."""
    return Path("/tmp") / f"edgekit-scanner-{os.getpid()}"


def _monotonic_us() -> int:
    return time.monotonic_ns() // 1000


class Port(Protocol):
    """What the loop needs from a transport."""

    @property
    def host_open(self) -> bool:
        """True while a host has the port open (bytes written now reach it)."""
        ...

    def exchange(self, pending: bytearray, timeout_s: float) -> bytes:
        """Write what can be written from ``pending`` (removing it) and return bytes read,
        waiting at most ``timeout_s`` for either."""
        ...

    def take_transitions(self) -> list[bool]:
        """Host open (True) / close (False) transitions since the last call, in order."""
        ...

    def close(self) -> None:
        """Release the transport."""
        ...


class PtyPort:
    """A pseudo-terminal whose slave is reachable at ``symlink`` (re-pointed on each plug).

    The master end is ours, in packet mode (``TIOCPKT``); the slave is set raw and closed, so
    the master reports a hang-up while no host has the slave open and a status byte when the
    host flushes its input on opening (see the module docstring).
    """

    def __init__(self, symlink: Path) -> None:
        self.symlink = symlink
        self.slave_path = ""
        self._master: int | None = None
        self._slave: int | None = None
        self._host = "closed"  # closed / opening / open
        self._opening_since = 0.0
        self._transitions: list[bool] = []

    @property
    def host_open(self) -> bool:
        """True once a host opened the slave and flushed (or wrote); False after it closed."""
        return self._host == "open"

    def take_transitions(self) -> list[bool]:
        """See ``Port.take_transitions``."""
        out, self._transitions = self._transitions, []
        return out

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
            fcntl.ioctl(master, termios.TIOCPKT, struct.pack("i", 1))
            slave_path = os.ttyname(slave)
            place_link(self.symlink, slave_path, {self.slave_path} - {""})
        except BaseException:
            os.close(master)
            os.close(slave)
            raise
        os.close(slave)  # the host's open is then visible (no more hang-up on the master)
        self._master = master
        self.slave_path = slave_path
        self._host = "closed"
        return self.slave_path

    def unplug(self) -> None:
        """Remove the symlink and close both ends (the host's next read fails)."""
        self._remove_symlink()
        for fd in (self._master, self._slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = None
        self._set_host("closed")

    def exchange(self, pending: bytearray, timeout_s: float) -> bytes:
        """See ``Port.exchange``; nothing is written while no host has the port open."""
        master = self._master
        if master is None:
            time.sleep(timeout_s)
            return b""
        poller = select.poll()
        writing = bool(pending) and self._host == "open"
        poller.register(master, select.POLLIN | select.POLLPRI | (select.POLLOUT if writing else 0))
        flags = 0
        for _fd, ev in poller.poll(max(0, round(timeout_s * 1000))):
            flags |= ev
        if flags & select.POLLHUP:  # no host has the slave open (also closes an open one)
            self._set_host("closed")
            time.sleep(min(timeout_s, _CLOSED_POLL_S))
            return b""
        if self._host == "closed":
            self._set_host("opening")
            self._opening_since = time.monotonic()
        data = b""
        if flags & (select.POLLIN | select.POLLPRI):
            data = self._read(master)
        if self._host == "opening" and time.monotonic() - self._opening_since > _OPEN_SETTLE_S:
            self._set_host("open")
        if flags & select.POLLOUT and self._host == "open" and pending:
            with contextlib.suppress(BlockingIOError, OSError):
                del pending[: os.write(master, pending)]
        return data

    def _read(self, master: int) -> bytes:
        """One packet-mode read: a status byte, or 0x00 followed by the host's bytes."""
        try:
            packet = os.read(master, _READ_CHUNK + 1)
        except (BlockingIOError, OSError):
            return b""
        if not packet:
            return b""
        if packet[0] == 0:
            if len(packet) > 1:
                self._set_host("open")  # the host writes: it has the port
            return packet[1:]
        if packet[0] & termios.TIOCPKT_FLUSHREAD:
            self._set_host("open")  # the host flushed its input while opening: from now on
        return b""

    def _set_host(self, state: str) -> None:
        was_open = self._host == "open"
        self._host = state
        if was_open != (state == "open"):
            self._transitions.append(state == "open")

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
        self._transitions = [True]

    @property
    def host_open(self) -> bool:
        """A real serial line has no notion of the host's open: always True."""
        return True

    def take_transitions(self) -> list[bool]:
        """See ``Port.take_transitions`` (one opening, at the start)."""
        out, self._transitions = self._transitions, []
        return out

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
    ``baud``: a UART's rate (None: USB CDC, no limit but the host's reading).
    ``drain_s``: at the end, stop producing, write what is queued and wait this long at most
    for the host to close the port (closing the pty first would discard what it has not read,
    and the truth would count it as delivered).
    """

    duration_s: float | None = None
    baud: int | None = None
    drain_s: float = 2.0
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


@dataclass
class _Tx:
    """Where frames go: the line model, then ``pending`` bytes for the port; plus the books."""

    scanner: VirtualScanner
    line: LineModel
    account: LineAccount
    truth_file: IO[str] | None
    pending: bytearray

    def queue(self, frames: list[Frame], now_us: int, *, host_open: bool) -> None:
        """Queue whole frames; a frame that does not fit is dropped, one produced while no
        host has the port open is not written (``not_open``)."""
        scanner = self.scanner
        for frame in frames:
            size = len(frame.data)
            fits = self.line.fits(size) and len(self.pending) + size <= _TX_LIMIT_BYTES
            fault: str | None = None
            if not host_open:
                account_frame(self.account, frame, written=False, port_open=False)
                fault = "not_open"
                scanner.set_fault(frame, fault)
            elif not fits:
                account_frame(self.account, frame, written=False)
                if frame.seq is not None:
                    fault = "tx_overflow"
                    scanner.tx_dropped(frame, fault)
            else:
                self.line.offer(frame.data, now_us)
                fate = account_frame(self.account, frame, written=True)
                if fate == "lost" and frame.fault is None:
                    fault = "merged"
                    scanner.set_fault(frame, fault)
            truth = frame.truth
            if truth is not None and self.truth_file is not None:
                record = truth if fault is None else replace(truth, fault=fault)
                self.truth_file.write(json.dumps(record.to_dict()) + "\n")
                self.truth_file.flush()

    def pump(self, now_us: int) -> None:
        """Move the bytes the line has finished sending into ``pending``."""
        self.pending += self.line.take(now_us)


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
    tx = _Tx(scanner, LineModel(opts.baud), LineAccount(), truth_file, bytearray())
    unplugs = 0
    reason = "stopped"
    final_state, state_age_s = scanner.state, 0.0
    try:
        with _signals(flag):
            _transitions(port, tx)
            tx.queue(scanner.boot(start_us), start_us, host_open=port.host_open)
            next_unplug_us = _after(start_us, opts.unplug_every_s)
            replug_at_us: int | None = None
            finished_at_us: int | None = None
            while True:
                now = clock_us()
                reason_now = _stop_reason(flag, should_stop, scanner, opts, start_us, now, finished_at_us)
                if reason_now is not None:
                    reason = reason_now
                    break
                if scanner.finished and finished_at_us is None:
                    finished_at_us = now
                if isinstance(port, PtyPort):
                    if next_unplug_us is not None and now >= next_unplug_us and port.is_plugged:
                        scanner.note_cut("unplug", now)
                        port.unplug()
                        unplugs += 1
                        scanner.set_connected(False, now)
                        replug_at_us = now + round(opts.unplug_for_s * 1e6)
                    elif replug_at_us is not None and now >= replug_at_us:
                        port.plug()
                        replug_at_us = None
                        next_unplug_us = _after(now, opts.unplug_every_s)
                        frames = scanner.set_connected(True, now)
                        tx.queue(frames, now, host_open=port.host_open)
                _transitions(port, tx)
                tx.queue(scanner.poll(now), now, host_open=port.host_open)
                tx.pump(now)
                timeout_s = _sleep_s(
                    scanner, now, clock_us, next_unplug_us, replug_at_us, tx.line.next_due_us()
                )
                data = port.exchange(tx.pending, timeout_s)
                _transitions(port, tx)
                if data:
                    replies = scanner.receive_data(data, clock_us())
                    tx.queue(replies, clock_us(), host_open=port.host_open)
            scanner.note_cut("end", clock_us())  # the host's bytes are not read from here on
            final_state = scanner.state
            state_age_s = (clock_us() - scanner.state_since_us) / 1e6
            _drain(port, tx, clock_us, opts.drain_s)
    finally:
        totals = tx.account.finish()
        if truth_file is not None:
            truth_file.write(json.dumps({"line": totals.to_dict()}) + "\n")
            truth_file.close()
        port.close()
    duration_s = (clock_us() - start_us) / 1e6
    stats = _stats_dict(scanner, tx.account, reason, duration_s, unplugs)
    stats["final_state"] = final_state.name.lower()
    stats["final_state_age_s"] = round(state_age_s, 3)
    if opts.stats_path is not None:
        opts.stats_path.write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")
    return RunSummary(reason, duration_s, unplugs, stats)


def _drain(port: Port, tx: _Tx, clock_us: Callable[[], int], drain_s: float) -> None:
    """Write what is queued, then wait for the host to close the port (at most ``drain_s``).
    The scanner is not polled any more and the host's bytes are not answered."""
    deadline = clock_us() + round(drain_s * 1e6)
    while clock_us() < deadline and port.host_open:
        tx.pump(clock_us())
        port.exchange(tx.pending, _CLOSED_POLL_S)
        _transitions(port, tx)


def _transitions(port: Port, tx: _Tx) -> None:
    """Book the host's opening and closing of the port (bytes queued for a closed port are
    gone: the host's open flushes them)."""
    for opened in port.take_transitions():
        tx.pending.clear()
        tx.line.clear()
        if opened:
            tx.account.opened()
            tx.pending += b"\x00"  # the host starts at a frame boundary
        else:
            tx.account.closed()


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
    *deadlines_us: int | None,
) -> float:
    due = [d for d in (scanner.next_due_us(), *deadlines_us) if d is not None]
    wait_us = min(due) - clock_us() if due else _MAX_SLEEP_S * 1e6
    return min(_MAX_SLEEP_S, max(0.0, wait_us / 1e6))


def _stats_dict(
    scanner: VirtualScanner, account: LineAccount, reason: str, duration_s: float, unplugs: int
) -> dict[str, Any]:
    faults = scanner.fault_stats
    return {
        "reason": reason,
        "duration_s": round(duration_s, 3),
        "unplugs": unplugs,
        "scanner": scanner.stats.to_dict(),
        "faults": {k: getattr(faults, k) for k in faults.__slots__},
        "line": account.totals.to_dict(),
        "unanswered": len(scanner.unanswered()),
        # what a test needs to tell a RESULT the host could not deliver from one it lost:
        # the captures owed at each cut (VirtualScanner.note_cut) and those never answered
        "cuts": scanner.cuts,
        "unanswered_ids": scanner.unanswered(),
    }
