"""The whole link in simulated time: scanner, line, faults, latency, host and host session.

``SimulatedLink`` runs a ``VirtualScanner`` against a host ``Connection`` driven by a
``firmware_bridge.HostSession``, over a link with a one-way latency, random jitter and an
optional UART rate, all on one simulated clock (host monotonic µs). It jumps from one due time
to the next, so a minute of link life takes a second or two, and a seed gives the same run
every time. What the host counts can then be held against ``LineAccount``'s truth, the stream's
stalls against the session's bound, and the clock mapping against the scanner's real clock.
A public utility (like a replay meter): use it to try a host policy without hardware.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from edgekit.emulator.line import LineModel
from edgekit.emulator.scanner import Frame, VirtualScanner
from edgekit.emulator.truth import LineAccount, account_frame
from firmware_bridge import (
    Capture,
    Connection,
    ConnectionState,
    Event,
    HostSession,
    Message,
    Packet,
)

__all__ = ["CaptureArrival", "LinkProfile", "SimulatedLink"]


@dataclass(frozen=True)
class LinkProfile:
    """The wire between scanner and host: one-way ``latency_us`` plus uniform
    ``0..jitter_us`` per delivery (USB polling, OS scheduling), and a UART ``baud`` (None:
    USB CDC, no rate limit)."""

    latency_us: int = 250
    jitter_us: int = 750
    baud: int | None = None
    seed: int = 0


@dataclass(frozen=True, slots=True)
class CaptureArrival:
    """A capture the host received: when (host µs) and the packet."""

    host_us: int
    packet: Packet


@dataclass(slots=True)
class _Pipe:
    """A FIFO byte pipe with per-chunk delivery times (never reordering)."""

    items: deque[tuple[int, bytes]] = field(default_factory=deque)
    last_us: int = 0

    def put(self, at_us: int, data: bytes) -> None:
        self.last_us = max(self.last_us, at_us)
        self.items.append((self.last_us, data))

    def due(self) -> int | None:
        return self.items[0][0] if self.items else None

    def take(self, now_us: int) -> bytes:
        out = bytearray()
        while self.items and self.items[0][0] <= now_us:
            out += self.items.popleft()[1]
        return bytes(out)


class SimulatedLink:
    """Scanner <-> host in simulated time (see the module docstring)."""

    def __init__(
        self,
        scanner: VirtualScanner,
        session: HostSession,
        profile: LinkProfile | None = None,
        *,
        on_event: Callable[[Event, int], None] | None = None,
    ) -> None:
        self.profile = profile if profile is not None else LinkProfile()
        self.scanner = scanner
        self.session = session
        self.now_us = 0
        self.host = Connection("host", clock_us=lambda: self.now_us)
        self.account = LineAccount()
        self.line = LineModel(self.profile.baud)
        self.captures: list[CaptureArrival] = []
        self.state_mismatch_s: list[float] = []  # lengths of the episodes the host was wrong
        self.stalls_s: list[float] = []  # lengths of the episodes the scanner did not stream
        # while the host wanted it to (reboots until the next START)
        self._to_host = _Pipe()
        self._to_device = _Pipe()
        self._rng = np.random.default_rng(np.random.SeedSequence((self.profile.seed, 0x5111)))
        self._on_event = on_event
        self._mismatch_since: int | None = None
        self._stall_since: int | None = None
        self._started = False

    def run(self, seconds: float) -> None:
        """Advance the simulation by ``seconds`` (boots the scanner and opens the port first)."""
        if not self._started:
            self._started = True
            self.account.opened()
            self._route(self.scanner.boot(self.now_us))
            self._to_device_send(self.session.opened(self.now_us))
        end = self.now_us + round(seconds * 1e6)
        while True:
            self._step()
            due = [
                d
                for d in (
                    self.scanner.next_due_us(),
                    self.line.next_due_us(),
                    self._to_host.due(),
                    self._to_device.due(),
                    self.session.next_deadline_us(),
                )
                if d is not None
            ]
            nxt = min([*due, end])
            if nxt >= end and self.now_us >= end:
                break
            self.now_us = max(self.now_us + 1, nxt) if nxt <= self.now_us else nxt
            if self.now_us > end:
                self.now_us = end

    def finish(self) -> None:
        """Deliver what is still on the wire to the host (the scanner makes nothing more)
        and close the open episodes, so that the host's counters can be held against the
        truth."""
        while (due := [d for d in (self.line.next_due_us(), self._to_host.due()) if d]) != []:
            self.now_us = max(self.now_us, min(due))
            wire = self.line.take(self.now_us)
            if wire:
                self._to_host.put(self.now_us + self._delay_us(), wire)
            self._deliver_to_host(self.now_us)
        self._check_state(final=True)

    # -- one step -------------------------------------------------------------------------------
    def _step(self) -> None:
        now = self.now_us
        self._route(self.scanner.poll(now))
        wire = self.line.take(now)
        if wire:
            self._to_host.put(now + self._delay_us(), wire)
        self._deliver_to_host(now)
        commands = self._to_device.take(now)
        if commands:
            self._route(self.scanner.receive_data(commands, now))
        self._to_device_send(self.session.poll(now))
        self._check_state(final=False)

    def _deliver_to_host(self, now: int) -> None:
        data = self._to_host.take(now)
        if not data:
            return
        self.host.receive_data(data)
        for event in self.host.events():
            self.session.handle(event, now)
            if isinstance(event, Packet) and isinstance(event.message, Capture):
                self.captures.append(CaptureArrival(now, event))
            if self._on_event is not None:
                self._on_event(event, now)

    def _route(self, frames: list[Frame]) -> None:
        for frame in frames:
            fits = self.line.fits(len(frame.data))
            if not fits and frame.seq is not None:
                self.scanner.tx_dropped(frame, "tx_overflow")
            fate = account_frame(self.account, frame, written=fits)
            if fits:
                self.line.offer(frame.data, self.now_us)
            if fate == "lost" and frame.fault is None and fits:
                self.scanner.set_fault(frame, "merged")

    def _to_device_send(self, messages: list[Message]) -> None:
        for message in messages:
            data = self.host.send(message)
            self._to_device.put(self.now_us + self._delay_us(), data)

    def _delay_us(self) -> int:
        p = self.profile
        return p.latency_us + int(self._rng.integers(0, p.jitter_us + 1))

    def _check_state(self, *, final: bool) -> None:
        host_streaming = self.host.state is ConnectionState.STREAMING
        wrong = host_streaming != self.scanner.is_streaming
        self._mismatch_since = self._episode(wrong, self._mismatch_since, self.state_mismatch_s, final)
        stalled = self.session.want_streaming and not self.scanner.is_streaming
        self._stall_since = self._episode(stalled, self._stall_since, self.stalls_s, final)

    def _episode(self, on: bool, since: int | None, lengths: list[float], final: bool) -> int | None:
        if on and since is None and not final:
            return self.now_us
        if (not on or final) and since is not None:
            lengths.append((self.now_us - since) / 1e6)
            return None
        return since
