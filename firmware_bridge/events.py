"""What the receiving side hands out: packets, protocol events and link events.

Every event is a frozen dataclass. ``Packet`` wraps a decoded message with its header fields;
the others report damage, loss, resets and link state, so that nothing is silently swallowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from firmware_bridge.messages import Hello, Message

__all__ = [
    "DeviceReset",
    "Disconnected",
    "Duplicate",
    "Event",
    "FrameError",
    "FrameErrorKind",
    "Incompatible",
    "LinkEvent",
    "Packet",
    "PeerRestart",
    "Reconnected",
    "ResetCause",
    "SequenceGap",
    "UnknownMessage",
    "VersionMismatch",
]

FrameErrorKind = Literal["cobs", "short", "length", "crc", "payload", "overflow"]
ResetCause = Literal["boot_hello", "boot_id", "sequence", "uptime"]


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
    """The device rebooted: sequence tracking restarted at ``seq`` (PROTOCOL.md §4.1).

    ``cause``: ``boot_hello`` (a HELLO with the BOOT flag from a new boot), ``boot_id`` (a new
    boot ID in HELLO or HEARTBEAT), ``sequence`` (a backward jump of more than half the
    sequence space) or ``uptime`` (the device clock went back). ``lost`` packets of the new boot
    (numbers 0..seq-1) were missed; it is 0 when the link had just been (re)opened.
    """

    seq: int
    cause: ResetCause = "boot_hello"
    boot_id: int | None = None
    lost: int = 0


@dataclass(frozen=True, slots=True)
class Duplicate:
    """A packet identical to one received recently (same sequence number and CRC); dropped."""

    seq: int


@dataclass(frozen=True, slots=True)
class PeerRestart:
    """Device side: the host's sequence numbers jumped back (a new host session); no loss."""

    expected: int
    received: int


@dataclass(frozen=True, slots=True)
class Incompatible:
    """A HELLO announcing captures this host cannot take (sample format, capture length);
    refused, carrying what the device announced and why."""

    hello: Hello
    reasons: tuple[str, ...]
    seq: int


@dataclass(frozen=True, slots=True)
class Disconnected:
    """The serial link went away (unplug, I/O error); the link will try to reconnect."""

    reason: str


@dataclass(frozen=True, slots=True)
class Reconnected:
    """The serial link is back after ``attempts`` open attempts."""

    attempts: int


Event = (
    Packet
    | FrameError
    | SequenceGap
    | UnknownMessage
    | VersionMismatch
    | DeviceReset
    | Duplicate
    | PeerRestart
    | Incompatible
)
LinkEvent = Event | Disconnected | Reconnected
