"""The sans-IO receiver: bytes in (``receive_data``), events out (``next_event``).

The decoder splits the stream at 0x00 delimiters, COBS-decodes each frame, checks its CRC-32,
version and sequence number and parses the payload. Damage costs the damaged frame only: it
becomes one ``FrameError`` and decoding resumes at the next delimiter. The unterminated tail is
capped at ``MAX_ENCODED_SIZE`` bytes; beyond that it is discarded up to the next delimiter.
Nothing but events comes out of it, whatever the input.
"""

from __future__ import annotations

import struct
import zlib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from cobs import cobs

from firmware_bridge.codec import (
    _CRC,
    _HEADER,
    CRC_SIZE,
    HEADER_SIZE,
    MAX_ENCODED_SIZE,
    MAX_PAYLOAD_SIZE,
    PROTOCOL_MAJOR,
    PROTOCOL_MINOR,
    PayloadError,
)
from firmware_bridge.events import (
    DeviceReset,
    Duplicate,
    Event,
    FrameError,
    FrameErrorKind,
    Incompatible,
    Packet,
    PeerRestart,
    ResetCause,
    SequenceGap,
    UnknownMessage,
    VersionMismatch,
)
from firmware_bridge.layouts import PARSERS, hello_incompatibilities
from firmware_bridge.messages import DEVICE_TO_HOST, HOST_TO_DEVICE, Hello, MessageType, PacketFlag

__all__ = ["DUPLICATE_WINDOW", "UPTIME_SLACK_US", "Decoder", "Role", "StreamStats"]

Role = Literal["host", "device"]
_SEQ_MOD = 1 << 16
_HALF = 1 << 15
DUPLICATE_WINDOW = 64
"""Packets remembered (sequence number and CRC) to recognise a duplicate (PROTOCOL.md §4.1)."""
UPTIME_SLACK_US = 1_000_000
"""A device clock that goes back by more than this is a reboot (§4.1); smaller steps are the
legitimate reordering of CAPTURE stamps (first sample) against packets stamped when sent."""
_BOOT_ID = struct.Struct("<I")
_BOOT_ID_OFFSET: dict[int, int] = {MessageType.HELLO: 34, MessageType.HEARTBEAT: 16}  # 1.1


@dataclass(slots=True)
class StreamStats:
    """Counters of one receiving stream (mutable; read them, do not write them).

    ``bytes`` counts every byte fed in. Each dropped frame increments exactly one of
    ``crc_failures``, ``framing_errors`` (COBS, size, length or payload damage) or ``resyncs``
    (an over-long frame discarded up to the next delimiter). ``lost_packets`` counts sequence
    numbers never received (a reset, a duplicate or a host restart is never counted as loss).
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
    duplicates: int = 0
    peer_restarts: int = 0
    incompatible: int = 0


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
        # what we know of the peer's current boot; kept across a reconnect (forget_sequence)
        self._heard = False
        self._boot_id: int | None = None
        self._last_ts: int | None = None
        self._recent: dict[int, int] = {}
        self._recent_order: deque[int] = deque()

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
        """Forget the expected sequence number and any partial frame (after a reconnect: the
        gap is unknowable). What identifies the peer's boot is kept, so a reboot that happened
        while the port was closed is still reported as a reset."""
        self._expected_seq = None
        self._partial = b""
        self._discarding = False
        self._clear_recent()

    def forget_peer(self) -> None:
        """Forget everything about the peer (another device may be attached now)."""
        self.forget_sequence()
        self._heard = False
        self._boot_id = None
        self._last_ts = None

    @property
    def buffered_bytes(self) -> int:
        """Bytes held while waiting for a delimiter (never above MAX_ENCODED_SIZE)."""
        return len(self._partial)

    @property
    def boot_id(self) -> int | None:
        """The peer's current boot ID, once a 1.1 HELLO or HEARTBEAT announced it."""
        return self._boot_id

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
        crc = zlib.crc32(body)
        if crc != _CRC.unpack_from(raw, len(body))[0]:
            self._error("crc", "CRC-32 mismatch", frame)
            return
        major, minor, msg_type, flags, seq, payload_len, timestamp_us = _HEADER.unpack_from(raw)
        if payload_len != len(body) - HEADER_SIZE or payload_len > MAX_PAYLOAD_SIZE:
            self._error("length", f"header says {payload_len} payload bytes", frame)
            return
        events = self._events
        if major != PROTOCOL_MAJOR:
            self.stats.version_mismatches += 1
            events.append(VersionMismatch(major, minor, msg_type))
            return
        # a 1.0 BOOT HELLO soon after the last one may be byte-identical (same seq 0, same
        # boot-relative time): without a boot ID, the BOOT flag wins over duplicate detection
        boot_10 = minor == 0 and flags & PacketFlag.BOOT and msg_type == MessageType.HELLO
        if not boot_10 and seq in self._recent and self._recent[seq] == crc:
            self.stats.duplicates += 1
            events.append(Duplicate(seq))
            return
        payload = body[HEADER_SIZE:]
        if self.role == "host":
            self._track_device(msg_type, flags, seq, timestamp_us, minor, payload)
        else:
            self._track_host(seq)
        self._remember(seq, crc)
        if msg_type not in self._accepted:
            self.stats.unknown_types += 1
            events.append(UnknownMessage(msg_type, seq, payload))
            return
        try:
            message = PARSERS[msg_type](payload, min(minor, PROTOCOL_MINOR), minor <= PROTOCOL_MINOR)
        except PayloadError as e:
            self._error("payload", str(e), frame)
            return
        if isinstance(message, Hello) and self.role == "host":
            problems = hello_incompatibilities(message)
            if problems:
                self.stats.incompatible += 1
                events.append(Incompatible(message, tuple(problems), seq))
                return
        self.stats.packets += 1
        events.append(Packet(message, seq, timestamp_us, flags, minor))

    # -- sequence tracking (PROTOCOL.md §4 step 6 and §4.1) --------------------------------------
    def _remember(self, seq: int, crc: int) -> None:
        if seq not in self._recent:
            self._recent_order.append(seq)
            if len(self._recent_order) > DUPLICATE_WINDOW:
                self._recent.pop(self._recent_order.popleft(), None)
        self._recent[seq] = crc

    def _clear_recent(self) -> None:
        self._recent.clear()
        self._recent_order.clear()

    def _track_host(self, seq: int) -> None:
        """Device side: a backward jump is a new host session, not 65,000 lost packets."""
        expected = self._expected_seq
        if expected is not None and seq != expected:
            ahead = (seq - expected) % _SEQ_MOD
            if ahead >= _HALF:
                self.stats.peer_restarts += 1
                self._events.append(PeerRestart(expected, seq))
                self._clear_recent()
            else:
                self.stats.lost_packets += ahead
                self._events.append(SequenceGap(expected, seq, ahead))
        self._expected_seq = (seq + 1) % _SEQ_MOD

    def _track_device(self, msg_type: int, flags: int, seq: int, ts: int, minor: int, payload: bytes) -> None:
        boot_id = None
        offset = _BOOT_ID_OFFSET.get(msg_type)
        if offset is not None and minor >= 1 and len(payload) >= offset + 4:
            boot_id = _BOOT_ID.unpack_from(payload, offset)[0] or None
        boot_hello = msg_type == MessageType.HELLO and bool(flags & PacketFlag.BOOT)
        cause = self._reset_cause(boot_hello, boot_id, seq, ts)
        expected = self._expected_seq
        if cause is not None:
            lost = seq if expected is not None else 0  # the new boot counts from 0
            self.stats.device_resets += 1
            self.stats.lost_packets += lost
            self._events.append(DeviceReset(seq, cause, boot_id, lost))
            self._clear_recent()
            self._boot_id = boot_id
            self._last_ts = ts
        else:
            if expected is not None and seq != expected:
                lost = (seq - expected) % _SEQ_MOD
                self.stats.lost_packets += lost
                self._events.append(SequenceGap(expected, seq, lost))
            if boot_id is not None:
                self._boot_id = boot_id
            if self._last_ts is None or ts > self._last_ts:
                self._last_ts = ts
        self._heard = True
        self._expected_seq = (seq + 1) % _SEQ_MOD

    def _reset_cause(self, boot_hello: bool, boot_id: int | None, seq: int, ts: int) -> ResetCause | None:
        """Why this packet starts a new boot of a device we have heard before, if it does."""
        if not self._heard:
            return None
        known = self._boot_id
        if boot_id is not None and known is not None:
            if boot_id != known:
                return "boot_hello" if boot_hello else "boot_id"
            return None  # same boot (a repeated BOOT HELLO is not another reset)
        expected = self._expected_seq
        if expected is not None and seq != expected and (seq - expected) % _SEQ_MOD >= _HALF:
            return "boot_hello" if boot_hello else "sequence"
        if self._last_ts is not None and ts + UPTIME_SLACK_US < self._last_ts:
            return "boot_hello" if boot_hello else "uptime"
        if boot_hello and (boot_id is None or seq == 0):
            # a 1.0 BOOT HELLO always means a boot; a 1.1 one of unknown ID only when it is
            # the boot's first packet (later ones are repeats of a boot we already follow)
            return "boot_hello"
        return None
