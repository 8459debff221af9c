"""One endpoint of the protocol (host or device), sans-IO: a Decoder, a sequence counter for what
we send, and the handshake state. The caller owns the port (``firmware_bridge.link`` or a test).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from firmware_bridge._state import (
    DEVICE_TRANSITIONS,
    HOST_TRANSITIONS,
    ConnectionState,
    Trigger,
)
from firmware_bridge.codec import PROTOCOL_MAJOR, PROTOCOL_MINOR, encode
from firmware_bridge.errors import LocalProtocolError, RemoteProtocolError
from firmware_bridge.events import DeviceReset, Event, Incompatible, Packet, VersionMismatch
from firmware_bridge.messages import (
    DEVICE_TO_HOST,
    HOST_TO_DEVICE,
    Capture,
    DeviceState,
    Heartbeat,
    Hello,
    Message,
    Start,
    Stop,
)
from firmware_bridge.protocol import Decoder, Role, StreamStats

__all__ = ["Connection", "monotonic_us"]

_STATE_TRIGGERS = {
    DeviceState.IDLE: Trigger.RECV_STATE_IDLE,
    DeviceState.STREAMING: Trigger.RECV_STATE_STREAMING,
    DeviceState.STOPPED: Trigger.RECV_STATE_STOPPED,
}


def monotonic_us() -> int:
    """Microseconds of the monotonic clock (the default packet timestamp)."""
    return time.monotonic_ns() // 1000


class Connection:
    """A protocol endpoint: ``receive_data`` / ``next_event`` in, ``send`` -> bytes out.

    ``minor`` is the protocol minor version this endpoint speaks (1 by default; 0 plays a 1.0
    endpoint). ``next_event`` raises RemoteProtocolError when the peer speaks another major
    version (the packet is consumed, so a caller may catch it and go on).
    """

    def __init__(
        self,
        role: Role = "host",
        *,
        clock_us: Callable[[], int] = monotonic_us,
        minor: int = PROTOCOL_MINOR,
    ) -> None:
        if not 0 <= minor <= PROTOCOL_MINOR:
            raise ValueError(f"minor must be 0..{PROTOCOL_MINOR}, got {minor}")
        self.role: Role = role
        self.minor = minor
        self.decoder = Decoder(role)
        self.state = ConnectionState.IDLE
        self.peer_hello: Hello | None = None
        self.peer_minor: int | None = None
        self.incompatible: Incompatible | None = None
        self._clock_us = clock_us
        self._tx_seq = 0
        self._sendable = HOST_TO_DEVICE if role == "host" else DEVICE_TO_HOST
        self._table = HOST_TRANSITIONS if role == "host" else DEVICE_TRANSITIONS

    @property
    def stats(self) -> StreamStats:
        """Counters of the receiving side."""
        return self.decoder.stats

    @property
    def next_seq(self) -> int:
        """The sequence number the next sent packet will carry."""
        return self._tx_seq

    @property
    def peer_boot_id(self) -> int | None:
        """The device's boot ID (1.1 devices, once announced)."""
        return self.decoder.boot_id

    def receive_data(self, data: bytes) -> None:
        """Feed bytes read from the port."""
        self.decoder.receive_data(data)

    def next_event(self) -> Event | None:
        """The next event (None when more bytes are needed); updates the handshake state."""
        event = self.decoder.next_event()
        if isinstance(event, Packet):
            self._packet(event)
        elif isinstance(event, DeviceReset):
            self._received(Trigger.RECV_RESET)
        elif isinstance(event, Incompatible):
            self.incompatible = event
            self._received(Trigger.RECV_INCOMPATIBLE)
        elif isinstance(event, VersionMismatch):
            raise RemoteProtocolError(
                f"peer speaks protocol {event.version_major}.{event.version_minor}, we speak "
                f"{PROTOCOL_MAJOR}.{self.minor}: major versions differ, packet refused "
                f"(update the firmware or the host so that both use {PROTOCOL_MAJOR}.x)"
            )
        return event

    def events(self) -> Iterator[Event]:
        """Drain the pending events (see ``next_event``)."""
        while (event := self.next_event()) is not None:
            yield event

    def send(self, message: Message, *, timestamp_us: int | None = None, flags: int = 0) -> bytes:
        """Encode ``message`` with the next sequence number; returns the bytes to write.

        Raises LocalProtocolError for a message our role may not send, a send the handshake
        state forbids, or an invalid field. The sequence number advances only on success.
        """
        if message.TYPE not in self._sendable:
            raise LocalProtocolError(f"a {self.role} cannot send {message.TYPE.name}")
        trigger = {Start: Trigger.SEND_START, Stop: Trigger.SEND_STOP}.get(type(message))
        new_state = self.state
        if trigger is not None:
            found = self._table.get((self.state, trigger))
            if found is None:
                raise LocalProtocolError(f"cannot send {message.TYPE.name} in state {self.state}")
            new_state = found
        ts = self._clock_us() if timestamp_us is None else timestamp_us
        data = encode(message, self._tx_seq, ts, flags, minor=self.minor)
        self._tx_seq = (self._tx_seq + 1) & 0xFFFF
        self.state = new_state
        return data

    def reset_tx_sequence(self) -> None:
        """Restart our own sequence numbers at 0 (a device does this at boot)."""
        self._tx_seq = 0

    def link_lost(self) -> None:
        """The transport dropped: forget partial frames and the expected sequence number (the
        device's boot identity is kept, so a reboot meanwhile is still seen as a reset)."""
        self.decoder.forget_sequence()

    def _packet(self, event: Packet) -> None:
        message = event.message
        self.peer_minor = event.version_minor
        if isinstance(message, Capture):
            self._received(Trigger.RECV_CAPTURE)
        elif isinstance(message, Hello):
            self.peer_hello = message
            self.incompatible = None
            self._received(Trigger.RECV_HELLO)
            if message.state is not None:
                self._received(_STATE_TRIGGERS[DeviceState(message.state)])
        elif isinstance(message, Heartbeat) and message.state is not None:
            self._received(_STATE_TRIGGERS[DeviceState(message.state)])
        elif isinstance(message, Start):
            self._received(Trigger.RECV_START)
        elif isinstance(message, Stop):
            self._received(Trigger.RECV_STOP)

    def _received(self, trigger: Trigger) -> None:
        self.state = self._table.get((self.state, trigger), self.state)
