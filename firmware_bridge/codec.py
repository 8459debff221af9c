"""Packet layout: header + payload + CRC-32, COBS-framed, 0x00-delimited (PROTOCOL.md §2-§4).

``encode`` turns a message into wire bytes; ``decode_frame``-style work (COBS, CRC, header) is
done by :class:`firmware_bridge.protocol.Decoder`; payload layouts and their range rules live in
:mod:`firmware_bridge.layouts`. No I/O, no state.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from cobs import cobs

from firmware_bridge.errors import LocalProtocolError
from firmware_bridge.layouts import (
    MAX_CAPTURE_SAMPLES,
    MAX_LOG_TEXT_BYTES,
    MAX_PAYLOAD_SIZE,
    MAX_POWER_SAMPLES,
    PROTOCOL_MAJOR,
    PROTOCOL_MINOR,
    PayloadError,
    forge_payload,
    pack_payload,
    parse_payload,
)
from firmware_bridge.messages import Message

__all__ = [
    "CRC_SIZE",
    "HEADER_SIZE",
    "MAX_CAPTURE_SAMPLES",
    "MAX_ENCODED_SIZE",
    "MAX_LOG_TEXT_BYTES",
    "MAX_PACKET_SIZE",
    "MAX_PAYLOAD_SIZE",
    "MAX_POWER_SAMPLES",
    "PROTOCOL_MAJOR",
    "PROTOCOL_MINOR",
    "Header",
    "PayloadError",
    "build_header",
    "encode",
    "encode_payload",
    "encode_raw",
    "forge_payload",
    "parse_payload",
    "unpack_header",
]

_HEADER = struct.Struct("<BBBBHHQ")  # major, minor, type, flags, seq, payload_len, timestamp_us
HEADER_SIZE = _HEADER.size  # 16
CRC_SIZE = 4
MAX_PACKET_SIZE = HEADER_SIZE + MAX_PAYLOAD_SIZE + CRC_SIZE  # 4160
# COBS adds one code byte per started 254-byte block; the 0x00 delimiter is not counted.
MAX_ENCODED_SIZE = MAX_PACKET_SIZE + MAX_PACKET_SIZE // 254 + 1  # 4177
_CRC = struct.Struct("<I")


@dataclass(frozen=True, slots=True)
class Header:
    """The 16-byte packet header."""

    version_major: int
    version_minor: int
    msg_type: int
    flags: int
    seq: int
    payload_len: int
    timestamp_us: int


def encode_payload(message: Message, minor: int = PROTOCOL_MINOR) -> bytes:
    """The payload bytes of ``message`` (layout of protocol 1.``minor``); raises
    LocalProtocolError on a field outside its range (PROTOCOL.md §5.0)."""
    return pack_payload(message, minor)


def encode(
    message: Message, seq: int, timestamp_us: int, flags: int = 0, *, minor: int = PROTOCOL_MINOR
) -> bytes:
    """Wire bytes of one packet: COBS(header + payload + CRC-32) followed by the 0x00 delimiter.

    ``minor`` selects the layout and the header's minor version (0 speaks protocol 1.0).
    """
    payload = pack_payload(message, minor)
    try:
        header = _HEADER.pack(PROTOCOL_MAJOR, minor, message.TYPE, flags, seq, len(payload), timestamp_us)
    except struct.error as e:
        raise LocalProtocolError(
            f"header out of range: seq must be u16, timestamp_us u64, flags u8 ({e})"
        ) from e
    return encode_raw(header + payload)


def encode_raw(packet: bytes) -> bytes:
    """Append the CRC-32 to ``packet`` (header + payload), COBS-encode it and delimit it."""
    return cobs.encode(packet + _CRC.pack(zlib.crc32(packet))) + b"\x00"


def build_header(
    msg_type: int,
    seq: int,
    timestamp_us: int,
    payload_len: int,
    flags: int = 0,
    major: int = PROTOCOL_MAJOR,
    minor: int = PROTOCOL_MINOR,
) -> bytes:
    """A raw header, for tests and tools that forge packets (unknown types, other versions)."""
    return _HEADER.pack(major, minor, msg_type, flags, seq, payload_len, timestamp_us)


def unpack_header(raw: bytes) -> Header:
    """Parse the first HEADER_SIZE bytes of a decoded packet."""
    return Header(*_HEADER.unpack_from(raw))
