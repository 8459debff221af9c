"""Packet layout: header + payload + CRC-32, COBS-framed, 0x00-delimited (PROTOCOL.md §2-§4).

``encode`` turns a message into wire bytes; ``decode_frame`` turns one delimited frame (without
its 0x00) into a header and a payload; ``parse_payload`` turns a payload into a message. No I/O,
no state: the stateful receiver is :class:`firmware_bridge.protocol.Decoder`.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cobs import cobs

from firmware_bridge.errors import LocalProtocolError
from firmware_bridge.messages import (
    Capture,
    Config,
    Heartbeat,
    Hello,
    Log,
    Message,
    MessageType,
    Ping,
    Pong,
    Power,
    PowerSample,
    Result,
    SampleFormat,
    Start,
    Stop,
)

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
    "parse_payload",
    "unpack_header",
]

PROTOCOL_MAJOR = 1
PROTOCOL_MINOR = 0

_HEADER = struct.Struct("<BBBBHHQ")  # major, minor, type, flags, seq, payload_len, timestamp_us
HEADER_SIZE = _HEADER.size  # 16
CRC_SIZE = 4
MAX_CAPTURE_SAMPLES = 1024
MAX_POWER_SAMPLES = 256
MAX_LOG_TEXT_BYTES = 255
MAX_PAYLOAD_SIZE = 4140
MAX_PACKET_SIZE = HEADER_SIZE + MAX_PAYLOAD_SIZE + CRC_SIZE  # 4160
# COBS adds one code byte per started 254-byte block; the 0x00 delimiter is not counted.
MAX_ENCODED_SIZE = MAX_PACKET_SIZE + MAX_PACKET_SIZE // 254 + 1  # 4177

_HELLO = struct.Struct("<BBBBHQIBBHQI")
_CAPTURE = struct.Struct("<IIQfBBH")
_POWER_COUNT = struct.Struct("<H")
_POWER_SAMPLE = struct.Struct("<QHi")
_HEARTBEAT = struct.Struct("<IIII")
_LOG = struct.Struct("<BB")
_TOKEN = struct.Struct("<I")
_CONFIG = struct.Struct("<IQfIHH")
_RESULT = struct.Struct("<IHBBfI")
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


class PayloadError(ValueError):
    """A payload that does not match its type's layout (internal: becomes a FrameError event)."""


def _finite(name: str, value: float) -> float:
    if not math.isfinite(value):
        raise LocalProtocolError(f"{name} must be finite, got {value!r}")
    return value


def _pack_hello(m: Hello) -> bytes:
    return _HELLO.pack(
        m.protocol_major,
        m.protocol_minor,
        m.firmware_major,
        m.firmware_minor,
        m.firmware_patch,
        m.device_id,
        m.sample_rate_hz,
        m.sample_format,
        0,
        m.samples_per_capture,
        m.centre_freq_hz,
        m.capabilities,
    )


def _pack_capture(m: Capture) -> bytes:
    if len(m.iq_bytes) % 4:
        raise LocalProtocolError(
            f"CAPTURE iq_bytes must hold whole (I, Q) int16 pairs, got {len(m.iq_bytes)} bytes"
        )
    if m.n_samples > MAX_CAPTURE_SAMPLES:
        raise LocalProtocolError(
            f"CAPTURE holds {m.n_samples} samples, at most {MAX_CAPTURE_SAMPLES} fit a packet"
        )
    if m.sample_format != SampleFormat.CI16:
        raise LocalProtocolError(f"CAPTURE sample_format {m.sample_format} unsupported (1 = CI16)")
    head = _CAPTURE.pack(
        m.capture_id,
        m.sample_rate_hz,
        m.centre_freq_hz,
        _finite("gain_db", m.gain_db),
        m.sample_format,
        0,
        m.n_samples,
    )
    return head + m.iq_bytes


def _pack_power(m: Power) -> bytes:
    if len(m.samples) > MAX_POWER_SAMPLES:
        raise LocalProtocolError(
            f"POWER holds {len(m.samples)} samples, at most {MAX_POWER_SAMPLES} per packet"
        )
    parts = [_POWER_COUNT.pack(len(m.samples))]
    parts.extend(_POWER_SAMPLE.pack(s.timestamp_us, s.voltage_mv, s.current_ua) for s in m.samples)
    return b"".join(parts)


def _pack_log(m: Log) -> bytes:
    text = m.text.encode("utf-8")
    if len(text) > MAX_LOG_TEXT_BYTES:
        raise LocalProtocolError(
            f"LOG text is {len(text)} bytes of UTF-8, at most {MAX_LOG_TEXT_BYTES}"
        )
    return _LOG.pack(m.level, len(text)) + text


def _pack_result(m: Result) -> bytes:
    confidence = _finite("confidence", m.confidence)
    if not 0.0 <= confidence <= 1.0:
        raise LocalProtocolError(f"RESULT confidence must be in [0, 1], got {confidence}")
    return _RESULT.pack(m.capture_id, m.label_index, m.flags, 0, confidence, m.latency_us)


def _pack_config(m: Config) -> bytes:
    return _CONFIG.pack(
        m.sample_rate_hz,
        m.centre_freq_hz,
        _finite("gain_db", m.gain_db),
        m.capture_period_ms,
        m.samples_per_capture,
        m.power_period_ms,
    )


_PACKERS: dict[type, Callable[[Any], bytes]] = {
    Hello: _pack_hello,
    Capture: _pack_capture,
    Power: _pack_power,
    Heartbeat: lambda m: _HEARTBEAT.pack(
        m.uptime_s, m.captures_sent, m.captures_dropped, m.rx_errors
    ),
    Log: _pack_log,
    Pong: lambda m: _TOKEN.pack(m.token),
    Start: lambda m: b"",
    Stop: lambda m: b"",
    Config: _pack_config,
    Result: _pack_result,
    Ping: lambda m: _TOKEN.pack(m.token),
}


def encode_payload(message: Message) -> bytes:
    """The payload bytes of ``message``; raises LocalProtocolError on an out-of-range field."""
    packer = _PACKERS.get(type(message))
    if packer is None:
        raise LocalProtocolError(f"not a firmware_bridge message: {type(message).__name__}")
    try:
        payload = packer(message)
    except struct.error as e:
        raise LocalProtocolError(f"{type(message).__name__}: field out of range ({e})") from e
    if len(payload) > MAX_PAYLOAD_SIZE:
        raise LocalProtocolError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_SIZE}")
    return payload


def encode(message: Message, seq: int, timestamp_us: int, flags: int = 0) -> bytes:
    """Wire bytes of one packet: COBS(header + payload + CRC-32) followed by the 0x00 delimiter."""
    payload = encode_payload(message)
    try:
        header = _HEADER.pack(
            PROTOCOL_MAJOR, PROTOCOL_MINOR, message.TYPE, flags, seq, len(payload), timestamp_us
        )
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


def _need(payload: bytes, size: int, exact: bool, what: str) -> None:
    if len(payload) < size or (exact and len(payload) != size):
        raise PayloadError(f"{what} payload is {len(payload)} bytes, expected {size}")


def _parse_hello(p: bytes, exact: bool) -> Hello:
    _need(p, _HELLO.size, exact, "HELLO")
    (pmaj, pmin, fmaj, fmin, fpatch, dev, rate, fmt, _r, spc, freq, caps) = _HELLO.unpack_from(p)
    return Hello(pmaj, pmin, fmaj, fmin, fpatch, dev, rate, fmt, spc, freq, caps)


def _parse_capture(p: bytes, exact: bool) -> Capture:
    _need(p, _CAPTURE.size, False, "CAPTURE")
    cid, rate, freq, gain, fmt, _r, n = _CAPTURE.unpack_from(p)
    if fmt != SampleFormat.CI16:
        raise PayloadError(f"CAPTURE sample_format {fmt} unsupported")
    if n > MAX_CAPTURE_SAMPLES:
        raise PayloadError(f"CAPTURE n_samples {n} exceeds {MAX_CAPTURE_SAMPLES}")
    if not math.isfinite(gain):
        raise PayloadError("CAPTURE gain_db is not finite")
    end = _CAPTURE.size + 4 * n
    _need(p, end, exact, "CAPTURE")
    return Capture(cid, rate, freq, gain, p[_CAPTURE.size : end], fmt)


def _parse_power(p: bytes, exact: bool) -> Power:
    _need(p, 2, False, "POWER")
    (n,) = _POWER_COUNT.unpack_from(p)
    if n > MAX_POWER_SAMPLES:
        raise PayloadError(f"POWER count {n} exceeds {MAX_POWER_SAMPLES}")
    end = 2 + n * _POWER_SAMPLE.size
    _need(p, end, exact, "POWER")
    samples = tuple(map(PowerSample._make, _POWER_SAMPLE.iter_unpack(p[2:end])))
    return Power(samples)


def _parse_log(p: bytes, exact: bool) -> Log:
    _need(p, 2, False, "LOG")
    level, n = _LOG.unpack_from(p)
    _need(p, 2 + n, exact, "LOG")
    return Log(level, p[2 : 2 + n].decode("utf-8", errors="replace"))


def _parse_result(p: bytes, exact: bool) -> Result:
    _need(p, _RESULT.size, exact, "RESULT")
    cid, label, flags, _r, confidence, latency = _RESULT.unpack_from(p)
    if not 0.0 <= confidence <= 1.0:  # also rejects NaN
        raise PayloadError(f"RESULT confidence {confidence} outside [0, 1]")
    return Result(cid, label, confidence, latency, flags)


def _parse_config(p: bytes, exact: bool) -> Config:
    _need(p, _CONFIG.size, exact, "CONFIG")
    config = Config(*_CONFIG.unpack_from(p))
    if not math.isfinite(config.gain_db):
        raise PayloadError("CONFIG gain_db is not finite")
    return config


def _parse_heartbeat(p: bytes, exact: bool) -> Heartbeat:
    _need(p, _HEARTBEAT.size, exact, "HEARTBEAT")
    return Heartbeat(*_HEARTBEAT.unpack_from(p))


def _parse_empty(cls: type[Start] | type[Stop]) -> Callable[[bytes, bool], Message]:
    def parse(p: bytes, exact: bool) -> Message:
        _need(p, 0, exact, cls.TYPE.name)
        return cls()

    return parse


def _parse_token(cls: type[Ping] | type[Pong]) -> Callable[[bytes, bool], Message]:
    def parse(p: bytes, exact: bool) -> Message:
        _need(p, 4, exact, cls.TYPE.name)
        return cls(_TOKEN.unpack_from(p)[0])

    return parse


_PARSERS: dict[int, Callable[[bytes, bool], Message]] = {
    MessageType.HELLO: _parse_hello,
    MessageType.CAPTURE: _parse_capture,
    MessageType.POWER: _parse_power,
    MessageType.HEARTBEAT: _parse_heartbeat,
    MessageType.LOG: _parse_log,
    MessageType.PONG: _parse_token(Pong),
    MessageType.START: _parse_empty(Start),
    MessageType.STOP: _parse_empty(Stop),
    MessageType.CONFIG: _parse_config,
    MessageType.RESULT: _parse_result,
    MessageType.PING: _parse_token(Ping),
}


def parse_payload(msg_type: int, payload: bytes, version_minor: int = PROTOCOL_MINOR) -> Message:
    """Parse a known type's payload; a newer minor version may append fields, which are ignored.

    Raises PayloadError on a malformed payload and KeyError on an unknown type.
    """
    return _PARSERS[msg_type](payload, version_minor <= PROTOCOL_MINOR)
