"""A Connection over a pyserial port, with read timeouts and reconnect after unplug.

``open_link("/dev/ttyACM0?baud=921600")``, ``open_link("loop://")``, ``open_link("socket://h:p")``
or a pseudo-terminal path. A read or write error closes the port and yields ``Disconnected``;
later calls reopen the same URL with capped exponential backoff and yield ``Reconnected``.
After every open the link writes a 0x00 and a PING (PROTOCOL.md §6.1: bytes the device wrote
before the port was open are gone, so the host asks). With a ``HostSession`` the link also
feeds it every event and sends what it asks for, at the times it asks (handshake, retries,
watchdog, clock sync). No call blocks longer than its timeout (plus one open attempt).
"""

from __future__ import annotations

import collections
import contextlib
import errno
import os
import select
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl

import serial

from firmware_bridge.connection import Connection, monotonic_us
from firmware_bridge.errors import LinkError, LocalProtocolError
from firmware_bridge.events import Disconnected, Event, LinkEvent, Reconnected
from firmware_bridge.messages import Message, Ping
from firmware_bridge.protocol import Role, StreamStats
from firmware_bridge.session import HostSession

__all__ = ["DEFAULT_BAUDRATE", "Link", "open_link"]

DEFAULT_BAUDRATE = 921_600
_READ_CHUNK = 65_536
_PATH_OPTIONS: dict[str, Callable[[str], Any]] = {
    "baud": int,
    "baudrate": int,
    "exclusive": lambda v: v.lower() not in ("0", "false", "no"),
}


def _split_url(url: str) -> tuple[str, dict[str, Any]]:
    """A plain device path may carry ``?baud=N&exclusive=0``; pyserial URLs pass through."""
    if "://" in url or "?" not in url:
        return url, {}
    path, _, query = url.partition("?")
    options: dict[str, Any] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        convert = _PATH_OPTIONS.get(key)
        if convert is None:
            raise LinkError(f"{url}: unknown option {key!r} (accepted: baud, exclusive)")
        try:
            options["baudrate" if key == "baud" else key] = convert(value)
        except ValueError as e:
            raise LinkError(f"{url}: option {key}={value!r} is not valid") from e
    return path, options


class Link:
    """A serial port speaking the protocol. Use ``open_link`` to make one.

    ``next_event`` / ``events`` yield protocol events plus ``Disconnected`` and ``Reconnected``;
    ``send`` writes a message; ``close`` always works and is idempotent.
    """

    def __init__(
        self,
        url: str,
        *,
        role: Role = "host",
        baudrate: int = DEFAULT_BAUDRATE,
        timeout_s: float = 0.05,
        write_timeout_s: float = 1.0,
        exclusive: bool = True,
        reconnect: bool = True,
        backoff_initial_s: float = 0.05,
        backoff_max_s: float = 2.0,
        max_reconnect_attempts: int | None = None,
        connection: Connection | None = None,
        session: HostSession | None = None,
        ping_on_open: bool = True,
    ) -> None:
        path, options = _split_url(url)
        self.url = url
        self.connection = connection if connection is not None else Connection(role)
        self._path = path
        self._port_kwargs: dict[str, Any] = {
            "baudrate": options.get("baudrate", baudrate),
            "timeout": timeout_s,
            "write_timeout": write_timeout_s,
            "exclusive": options.get("exclusive", exclusive),
        }
        self._timeout_s = timeout_s
        self._reconnect = reconnect
        self._backoff_initial_s = backoff_initial_s
        self._backoff_max_s = backoff_max_s
        self._max_attempts = max_reconnect_attempts
        self._pending: collections.deque[LinkEvent] = collections.deque()
        self._port: serial.SerialBase | None = None
        self._closed = False
        self._attempts = 0
        self._next_attempt_at = 0.0
        self.session = session
        self._ping_on_open = ping_on_open and self.connection.role == "host"
        self._ping_token = 0
        self._port = self._open()
        self._after_open()

    # -- public --------------------------------------------------------------------------------
    @property
    def is_connected(self) -> bool:
        """True while the port is open."""
        return self._port is not None

    @property
    def reconnect_attempts(self) -> int:
        """Open attempts made since the last disconnect."""
        return self._attempts

    @property
    def stats(self) -> StreamStats:
        """Receive counters (they survive reconnects)."""
        return self.connection.stats

    def next_event(self, timeout_s: float | None = None) -> LinkEvent | None:
        """The next event, reading (or reconnecting) for at most ``timeout_s`` (default: the
        read timeout); None if nothing arrived in time."""
        deadline = time.monotonic() + (self._timeout_s if timeout_s is None else timeout_s)
        while True:
            if self._pending:
                return self._pending.popleft()
            event = self.connection.next_event()
            if event is not None:
                self._drive(event)
                return event
            if self._closed:
                return None
            self._drive(None)
            if self._port is None:
                self._try_reconnect(deadline)
            else:
                self._read_once(deadline)
            if time.monotonic() >= deadline and not self._pending:
                event = self.connection.next_event()
                if event is not None:
                    self._drive(event)
                return event

    def events(self, timeout_s: float | None = None) -> Iterator[LinkEvent]:
        """Yield events until none arrives within ``timeout_s`` (or the link is closed)."""
        while (event := self.next_event(timeout_s)) is not None:
            yield event

    def send(self, message: Message, *, timestamp_us: int | None = None, flags: int = 0) -> None:
        """Encode and write ``message``. Raises LinkError if the link is down or the write fails
        (a failed write also queues ``Disconnected``)."""
        if self._port is None:
            raise LinkError(f"{self.url}: link is down, cannot send {message.TYPE.name}")
        self._write(self.connection.send(message, timestamp_us=timestamp_us, flags=flags))

    def _write(self, data: bytes) -> None:
        port = self._port
        if port is None:
            raise LinkError(f"{self.url}: link is down")
        fd = _posix_fd(port)
        if fd is not None:
            # One write(2) for a whole packet; pyserial's write adds a select per call. What a
            # full buffer leaves over goes through pyserial's write and its write timeout.
            try:
                done = os.write(fd, data)
            except (BlockingIOError, InterruptedError):
                done = 0
            except OSError as e:
                self._lost(f"write failed: {e}")
                raise LinkError(f"{self.url}: write failed: {e}") from e
            if done == len(data):
                return
            data = data[done:]
        try:
            port.write(data)
        except serial.SerialTimeoutException as e:
            raise LinkError(f"{self.url}: write timed out (device not reading?)") from e
        except (serial.SerialException, OSError) as e:
            self._lost(f"write failed: {e}")
            raise LinkError(f"{self.url}: write failed: {e}") from e

    def close(self) -> None:
        """Close the port; never raises. Later ``next_event`` calls return None."""
        self._closed = True
        port, self._port = self._port, None
        if port is not None:
            with contextlib.suppress(Exception):  # closing must always succeed
                port.close()

    def __enter__(self) -> Link:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals -----------------------------------------------------------------------------
    def _after_open(self) -> None:
        """A 0x00 ends whatever partial frame the device holds, then PING (§6.1)."""
        try:
            self._write(b"\x00")
            if self.session is not None:
                self._send_quietly(self.session.opened(monotonic_us()))
            elif self._ping_on_open:
                self._ping_token = (self._ping_token + 1) & 0xFFFF_FFFF
                self.send(Ping(self._ping_token))
        except LinkError:
            pass  # the port failed at once: _lost queued Disconnected (or the write timed out)

    def _drive(self, event: Event | None) -> None:
        """Feed the session one event (or just the time) and send what it asks for."""
        session = self.session
        if session is None:
            return
        now = monotonic_us()
        if event is not None:
            session.handle(event, now)
        if self._port is not None:
            self._send_quietly(session.poll(now))

    def _send_quietly(self, messages: list[Message]) -> None:
        for message in messages:
            if self._port is None:
                return
            try:
                self.send(message)
            except (LinkError, LocalProtocolError):
                return  # a lost port is already queued as Disconnected; the session retries

    def _open(self) -> serial.SerialBase:
        try:
            return serial.serial_for_url(self._path, **self._port_kwargs)
        except (serial.SerialException, OSError, ValueError) as e:
            if "lock" in str(e).lower() or "resource temporarily unavailable" in str(e).lower():
                raise LinkError(f"{self.url}: port is in use by another process ({e})") from e
            raise LinkError(f"{self.url}: cannot open: {e}") from e

    def _read_once(self, deadline: float) -> None:
        port = self._port
        if port is None:
            return
        wait_s = min(self._timeout_s, deadline - time.monotonic())
        due_us = self.session.next_deadline_us() if self.session is not None else None
        if due_us is not None:
            wait_s = min(wait_s, (due_us - monotonic_us()) / 1e6)
        fd = _posix_fd(port)
        if fd is not None:
            self._read_fd(fd, wait_s)
            return
        try:
            waiting = port.in_waiting
            if waiting:  # bytes are there: read them without touching the port's settings
                data = port.read(min(waiting, _READ_CHUNK))
            else:
                # pyserial re-applies the termios settings whenever ``timeout`` is set, so it is
                # set only when the wait (rounded to a millisecond) changes
                timeout = round(max(0.0, wait_s), 3)
                if port.timeout != timeout:
                    port.timeout = timeout
                data = port.read(1)
        except (serial.SerialException, OSError) as e:
            self._lost(f"read failed: {e}")
            return
        if data:
            self.connection.receive_data(data)

    def _read_fd(self, fd: int, wait_s: float) -> None:
        """A POSIX port: one ``select`` for the wait, then one ``read`` of everything waiting.

        pyserial's ``read`` costs a readiness check, a one-byte read and another read per burst
        of bytes (and re-applies termios when the timeout changes); on a daemon woken a few
        dozen times a second those calls are most of its idle CPU. Its error rules are kept:
        readable but no data means the device is gone.
        """
        try:
            ready, _, _ = select.select([fd], [], [], max(0.0, wait_s))
            if not ready:
                return
            data = os.read(fd, _READ_CHUNK)
        except OSError as e:
            if e.errno in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR):
                return
            self._lost(f"read failed: {e}")
            return
        except ValueError as e:  # the descriptor was closed under us
            self._lost(f"read failed: {e}")
            return
        if not data:
            self._lost(
                "read failed: device reports readiness to read but returned no data "
                "(device disconnected or multiple access on port?)"
            )
            return
        self.connection.receive_data(data)

    def _lost(self, reason: str) -> None:
        port, self._port = self._port, None
        if port is not None:
            with contextlib.suppress(Exception):  # the port is already gone
                port.close()
        self.connection.link_lost()
        if self.session is not None:
            self.session.closed(monotonic_us())
        self._attempts = 0
        self._next_attempt_at = time.monotonic()
        self._pending.append(Disconnected(reason))
        if not self._reconnect:
            self._closed = True

    def _try_reconnect(self, deadline: float) -> None:
        now = time.monotonic()
        if now < self._next_attempt_at:
            time.sleep(max(0.0, min(self._next_attempt_at, deadline) - now))
            if time.monotonic() < self._next_attempt_at:
                return
        if self._max_attempts is not None and self._attempts >= self._max_attempts:
            self._closed = True
            raise LinkError(f"{self.url}: gave up after {self._attempts} reconnect attempts")
        self._attempts += 1
        try:
            self._port = self._open()
        except LinkError:
            delay = min(self._backoff_max_s, self._backoff_initial_s * 2 ** (self._attempts - 1))
            self._next_attempt_at = time.monotonic() + delay
            return
        self._pending.append(Reconnected(self._attempts))
        self._after_open()


def _posix_fd(port: serial.SerialBase) -> int | None:
    """The file descriptor of a POSIX serial port or pty (None for URL transports such as
    ``loop://`` or ``socket://``, which keep pyserial's own reads)."""
    try:
        from serial.serialposix import Serial as PosixSerial
    except ImportError:  # not a POSIX system
        return None
    if type(port) is not PosixSerial:
        return None
    fd = getattr(port, "fd", None)
    return fd if isinstance(fd, int) and fd >= 0 else None


def open_link(
    url: str,
    *,
    role: Role = "host",
    baudrate: int = DEFAULT_BAUDRATE,
    timeout_s: float = 0.05,
    write_timeout_s: float = 1.0,
    exclusive: bool = True,
    reconnect: bool = True,
    backoff_initial_s: float = 0.05,
    backoff_max_s: float = 2.0,
    max_reconnect_attempts: int | None = None,
    connection: Connection | None = None,
    session: HostSession | None = None,
    ping_on_open: bool = True,
) -> Link:
    """Open ``url`` (device path with ``?baud=``, pyserial URL or pty path) as a Link.

    Raises LinkError if the port cannot be opened now (missing, busy, no permission); once
    open, a lost port is reopened with backoff (``reconnect=False`` ends the link instead).
    Every open sends a 0x00 and a PING (``ping_on_open=False`` does not); a ``session`` is
    driven by the link (see the module docstring).
    """
    return Link(
        url,
        role=role,
        baudrate=baudrate,
        timeout_s=timeout_s,
        write_timeout_s=write_timeout_s,
        exclusive=exclusive,
        reconnect=reconnect,
        backoff_initial_s=backoff_initial_s,
        backoff_max_s=backoff_max_s,
        max_reconnect_attempts=max_reconnect_attempts,
        connection=connection,
        session=session,
        ping_on_open=ping_on_open,
    )
