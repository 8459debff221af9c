"""The sans-IO receiver: bytes in (``receive_data``), events out (``next_event``).

The decoder splits the stream at 0x00 delimiters, COBS-decodes each frame, checks its CRC-32,
version and sequence number and parses the payload. Damage costs the damaged frame only: it
becomes one ``FrameError`` and decoding resumes at the next delimiter. The unterminated tail is
capped at ``MAX_ENCODED_SIZE`` bytes; beyond that it is discarded up to the next delimiter.
Nothing but events comes out of it, whatever the input.
"""

from __future__ import annotations

import zlib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from cobs import cobs

from firmware_bridge.codec import (
    _CRC,
    _HEADER,
    _PARSERS,
    CRC_SIZE,
    HEADER_SIZE,
    MAX_ENCODED_SIZE,
    PROTOCOL_MAJOR,
    PROTOCOL_MINOR,
    PayloadError,
)
from firmware_bridge.events import (
    DeviceReset,
    Event,
    FrameError,
    FrameErrorKind,
    Packet,
    SequenceGap,
    UnknownMessage,
    VersionMismatch,
)
from firmware_bridge.messages import DEVICE_TO_HOST, HOST_TO_DEVICE, MessageType, PacketFlag

__all__ = ["Decoder", "Role", "StreamStats"]

Role = Literal["host", "device"]
_SEQ_MOD = 1 << 16


@dataclass(slots=True)
class StreamStats:
    """Counters of one receiving stream (mutable; read them, do not write them).

    ``bytes`` counts every byte fed in. Each dropped frame increments exactly one of
    ``crc_failures``, ``framing_errors`` (COBS, size, length or payload damage) or ``resyncs``
    (an over-long frame discarded up to the next delimiter).
    """

    packets: int = 0
    bytes: int = 0
    crc_failures: int = 0
    framing_errors: int = 0
    resyncs: int = 0
    lost_packets: int = 0
    unknown_types: int = 0
    version_mismatches: int = 0
    device_resets: int = 0


class Decoder:
    """Incremental decoder for one direction of the link.

    ``role="host"`` accepts device-to-host messages, ``role="device"`` host-to-device ones;
    a known type meant for the other direction is reported as ``UnknownMessage``.
    """

    def __init__(self, role: Role = "host") -> None:
        if role not in ("host", "device"):
            raise ValueError(f"role must be 'host' or 'device', got {role!r}")
        self.role: Role = role
        self._accepted = DEVICE_TO_HOST if role == "host" else HOST_TO_DEVICE
        self.stats = StreamStats()
        self._partial = b""
        self._discarding = False
        self._events: deque[Event] = deque()
        self._expected_seq: int | None = None

    def receive_data(self, data: bytes) -> None:
        """Feed received bytes (any split); complete frames are decoded into pending events."""
        if not data:
            return
        if not isinstance(data, bytes):  # bytearray / memoryview from a caller's buffer
            data = bytes(data)
        self.stats.bytes += len(data)
        if self._discarding:
            cut = data.find(b"\x00")
            if cut < 0:
                return
            self._discarding = False
            data = data[cut + 1 :]
        frames = (self._partial + data).split(b"\x00") if self._partial else data.split(b"\x00")
        self._partial = frames.pop()
        for frame in frames:
            if frame:  # empty frames (back-to-back delimiters) are legal padding
                self._frame(frame)
        if len(self._partial) > MAX_ENCODED_SIZE:
            self._error("overflow", "no delimiter within the maximum frame size", self._partial)
            self._partial = b""
            self._discarding = True

    def next_event(self) -> Event | None:
        """The next pending event, or None when more data is needed."""
        return self._events.popleft() if self._events else None

    def events(self) -> Iterator[Event]:
        """Drain the pending events."""
        while self._events:
            yield self._events.popleft()

    def forget_sequence(self) -> None:
        """Forget the expected sequence number and any partial frame (e.g. after a reconnect),
        so that the next packet is not counted as a gap."""
        self._expected_seq = None
        self._partial = b""
        self._discarding = False

    @property
    def buffered_bytes(self) -> int:
        """Bytes held while waiting for a delimiter (never above MAX_ENCODED_SIZE)."""
        return len(self._partial)

    def _error(self, kind: FrameErrorKind, detail: str, frame: bytes) -> None:
        stats = self.stats
        if kind == "crc":
            stats.crc_failures += 1
        elif kind == "overflow":
            stats.resyncs += 1
        else:
            stats.framing_errors += 1
        self._events.append(FrameError(kind, detail, len(frame)))

    def _frame(self, frame: bytes) -> None:
        if len(frame) > MAX_ENCODED_SIZE:
            self._error("overflow", f"frame of {len(frame)} bytes > {MAX_ENCODED_SIZE}", frame)
            return
        try:
            raw = cobs.decode(frame)
        except cobs.DecodeError as e:
            self._error("cobs", str(e), frame)
            return
        if len(raw) < HEADER_SIZE + CRC_SIZE:
            self._error("short", f"{len(raw)} bytes < header + CRC", frame)
            return
        body = raw[:-CRC_SIZE]
        if zlib.crc32(body) != _CRC.unpack_from(raw, len(body))[0]:
            self._error("crc", "CRC-32 mismatch", frame)
            return
        major, minor, msg_type, flags, seq, payload_len, timestamp_us = _HEADER.unpack_from(raw)
        if payload_len != len(body) - HEADER_SIZE:
            self._error("length", f"header says {payload_len} payload bytes", frame)
            return
        events = self._events
        if major != PROTOCOL_MAJOR:
            self.stats.version_mismatches += 1
            events.append(VersionMismatch(major, minor, msg_type))
            return
        is_hello = msg_type == MessageType.HELLO and self._role_accepts(msg_type)
        if is_hello and flags & PacketFlag.BOOT:
            if self._expected_seq is not None:
                self.stats.device_resets += 1
                events.append(DeviceReset(seq))
            self._expected_seq = None
        self._track(seq)
        payload = body[HEADER_SIZE:]
        if not self._role_accepts(msg_type):
            self.stats.unknown_types += 1
            events.append(UnknownMessage(msg_type, seq, payload))
            return
        try:
            message = _PARSERS[msg_type](payload, minor <= PROTOCOL_MINOR)
        except PayloadError as e:
            self._error("payload", str(e), frame)
            return
        self.stats.packets += 1
        events.append(Packet(message, seq, timestamp_us, flags, minor))

    def _role_accepts(self, msg_type: int) -> bool:
        return msg_type in self._accepted

    def _track(self, seq: int) -> None:
        expected = self._expected_seq
        if expected is not None and seq != expected:
            lost = (seq - expected) % _SEQ_MOD
            self.stats.lost_packets += lost
            self._events.append(SequenceGap(expected, seq, lost))
        self._expected_seq = (seq + 1) % _SEQ_MOD
