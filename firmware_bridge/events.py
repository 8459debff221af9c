"""What the receiving side hands out: packets, protocol events and link events.

Every event is a frozen dataclass. ``Packet`` wraps a decoded message with its header fields;
the others report damage, loss, resets and link state, so that nothing is silently swallowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from firmware_bridge.messages import Message

__all__ = [
    "DeviceReset",
    "Disconnected",
    "Event",
    "FrameError",
    "FrameErrorKind",
    "LinkEvent",
    "Packet",
    "Reconnected",
    "SequenceGap",
    "UnknownMessage",
    "VersionMismatch",
]

FrameErrorKind = Literal["cobs", "short", "length", "crc", "payload", "overflow"]


@dataclass(frozen=True, slots=True)
class Packet:
    """A valid packet: the message plus its header's sequence number, timestamp and flags."""

    message: Message
    seq: int
    timestamp_us: int
    flags: int = 0
    version_minor: int = 0


@dataclass(frozen=True, slots=True)
class FrameError:
    """A delimited frame that was dropped; ``size_bytes`` is its encoded length.

    kind: ``cobs`` bad COBS code, ``short`` smaller than header + CRC, ``length`` header's
    payload length disagrees with the frame, ``crc`` CRC-32 mismatch, ``payload`` a known type
    whose payload is malformed, ``overflow`` longer than the maximum frame (discarded up to the
    next delimiter).
    """

    kind: FrameErrorKind
    detail: str
    size_bytes: int


@dataclass(frozen=True, slots=True)
class SequenceGap:
    """Packets went missing: ``lost`` = (received - expected) mod 2**16."""

    expected: int
    received: int
    lost: int


@dataclass(frozen=True, slots=True)
class UnknownMessage:
    """A valid packet of a type we do not know (or not meant for our role); skipped."""

    msg_type: int
    seq: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class VersionMismatch:
    """A valid packet of another protocol major version; refused."""

    version_major: int
    version_minor: int
    msg_type: int


@dataclass(frozen=True, slots=True)
class DeviceReset:
    """The peer rebooted (HELLO with the BOOT flag mid-stream): sequence tracking restarted."""

    seq: int


@dataclass(frozen=True, slots=True)
class Disconnected:
    """The serial link went away (unplug, I/O error); the link will try to reconnect."""

    reason: str


@dataclass(frozen=True, slots=True)
class Reconnected:
    """The serial link is back after ``attempts`` open attempts."""

    attempts: int


Event = Packet | FrameError | SequenceGap | UnknownMessage | VersionMismatch | DeviceReset
LinkEvent = Event | Disconnected | Reconnected
