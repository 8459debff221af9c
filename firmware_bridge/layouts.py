"""Payload layouts of every message (PROTOCOL.md §5) and their range rules (§5.0).

One packer and one parser per message type. Packers refuse a field outside its wire range with
``LocalProtocolError``; parsers refuse it with ``PayloadError`` (a malformed payload). Layouts
depend on the packet's minor version: 1.1 appended fields to HELLO and HEARTBEAT, and a receiver
ignores bytes appended by a newer minor than its own (§1). No state, no I/O.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from typing import Any

from firmware_bridge.errors import LocalProtocolError
from firmware_bridge.messages import (
    Capture,
    Config,
    DeviceState,
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
    ResultContext,
    ResultFlag,
    SampleFormat,
    Start,
    Stop,
    TimeReply,
    TimeRequest,
)

__all__ = [
    "MAX_CAPTURE_SAMPLES",
    "MAX_LOG_TEXT_BYTES",
    "MAX_PAYLOAD_SIZE",
    "MAX_POWER_SAMPLES",
    "PROTOCOL_MAJOR",
    "PROTOCOL_MINOR",
    "PayloadError",
    "forge_payload",
    "hello_incompatibilities",
    "pack_payload",
    "parse_payload",
]

PROTOCOL_MAJOR = 1
PROTOCOL_MINOR = 2
MAX_CAPTURE_SAMPLES = 1024
MAX_POWER_SAMPLES = 256
MAX_LOG_TEXT_BYTES = 255
MAX_PAYLOAD_SIZE = 4140

_HELLO_10 = struct.Struct("<BBBBHQIBBHQI")  # 34 bytes
_HELLO_11 = struct.Struct("<IBBIH")  # 12 bytes appended: boot_id, state, reserved, periods
_CAPTURE = struct.Struct("<IIQfBBH")
_POWER_COUNT = struct.Struct("<H")
_POWER_SAMPLE = struct.Struct("<QHi")
_HEARTBEAT_10 = struct.Struct("<IIII")  # 16 bytes
_HEARTBEAT_11 = struct.Struct("<IIBBH")  # 12 bytes appended: boot_id, host lost, state, reserved
_LOG = struct.Struct("<BB")
_TOKEN = struct.Struct("<I")
_CONFIG = struct.Struct("<IQfIHH")
_RESULT = struct.Struct("<IHBBfI")
_RESULT_12 = struct.Struct("<HHHH")  # 1.2, with flag CONTEXT: precision, ci_low, ci_high (x 1e4), n
_E4 = 10_000
# TIME_REQUEST is padded to TIME_REPLY's size so that both frames take equally long on the wire:
# the offset estimate assumes equal delays both ways.
_TIME = struct.Struct("<QQQ")
_STATES = frozenset(int(s) for s in DeviceState)
_HELLO_11_FIELDS = ("boot_id", "state", "capture_period_ms", "power_period_ms")
_HEARTBEAT_11_FIELDS = ("boot_id", "host_packets_lost", "state")


class PayloadError(ValueError):
    """A payload that does not match its type's layout or ranges (becomes a FrameError)."""


# -- packing ------------------------------------------------------------------------------------


def _finite(name: str, value: float) -> float:
    if not math.isfinite(value):
        raise LocalProtocolError(f"{name} must be finite, got {value!r}")
    return value


def _v11_fields(m: Any, names: tuple[str, ...], minor: int) -> bool:
    """True when ``m`` carries its 1.1 fields; refuses a mix, or a layout ``minor`` lacks."""
    present = [getattr(m, n) is not None for n in names]
    kind = type(m).TYPE.name
    if any(present) and not all(present):
        missing = [n for n, p in zip(names, present, strict=True) if not p]
        raise LocalProtocolError(f"{kind}: 1.1 fields {', '.join(missing)} missing")
    if minor >= 1 and not all(present):
        raise LocalProtocolError(
            f"{kind} at protocol 1.{minor} needs {', '.join(names)} (a 1.0 layout needs minor=0)"
        )
    if minor == 0 and all(present):
        raise LocalProtocolError(f"{kind} with 1.1 fields cannot be sent as protocol 1.0")
    return minor >= 1


def _check_state(kind: str, state: int) -> None:
    if state not in _STATES:
        raise LocalProtocolError(f"{kind} state {state} unknown (0 idle, 1 streaming, 2 stopped)")


def _check_boot_id(kind: str, boot_id: int) -> None:
    if not 1 <= boot_id <= 0xFFFF_FFFF:
        raise LocalProtocolError(f"{kind} boot_id must be 1..2**32-1, got {boot_id}")


def _pack_hello(m: Hello, minor: int) -> bytes:
    problems = hello_incompatibilities(m)
    if problems:
        raise LocalProtocolError(f"HELLO: {'; '.join(problems)}")
    head = _HELLO_10.pack(
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
    if not _v11_fields(m, _HELLO_11_FIELDS, minor) or m.boot_id is None or m.state is None:
        return head
    _check_boot_id("HELLO", m.boot_id)
    _check_state("HELLO", m.state)
    return head + _HELLO_11.pack(m.boot_id, m.state, 0, m.capture_period_ms, m.power_period_ms)


def _pack_capture(m: Capture, minor: int) -> bytes:
    if not isinstance(m.iq_bytes, bytes | bytearray | memoryview):
        raise LocalProtocolError(
            f"CAPTURE iq_bytes: field of the wrong type ({type(m.iq_bytes).__name__}, expected bytes)"
        )
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
    return head + bytes(m.iq_bytes)


def _pack_power(m: Power, minor: int) -> bytes:
    if len(m.samples) > MAX_POWER_SAMPLES:
        raise LocalProtocolError(
            f"POWER holds {len(m.samples)} samples, at most {MAX_POWER_SAMPLES} per packet"
        )
    parts = [_POWER_COUNT.pack(len(m.samples))]
    parts.extend(_POWER_SAMPLE.pack(s.timestamp_us, s.voltage_mv, s.current_ua) for s in m.samples)
    return b"".join(parts)


def _pack_heartbeat(m: Heartbeat, minor: int) -> bytes:
    head = _HEARTBEAT_10.pack(m.uptime_s, m.captures_sent, m.captures_dropped, m.rx_errors)
    if not _v11_fields(m, _HEARTBEAT_11_FIELDS, minor) or m.boot_id is None or m.state is None:
        return head
    _check_boot_id("HEARTBEAT", m.boot_id)
    _check_state("HEARTBEAT", m.state)
    return head + _HEARTBEAT_11.pack(m.boot_id, m.host_packets_lost, m.state, 0, 0)


def _pack_log(m: Log, minor: int) -> bytes:
    text = m.text.encode("utf-8")
    if len(text) > MAX_LOG_TEXT_BYTES:
        raise LocalProtocolError(f"LOG text is {len(text)} bytes of UTF-8, at most {MAX_LOG_TEXT_BYTES}")
    return _LOG.pack(m.level, len(text)) + text


def _e4(name: str, value: float) -> int:
    if not 0.0 <= _finite(name, value) <= 1.0:
        raise LocalProtocolError(f"RESULT context {name} must be in [0, 1], got {value}")
    return round(value * _E4)


def _pack_result(m: Result, minor: int) -> bytes:
    confidence = _finite("confidence", m.confidence)
    if not 0.0 <= confidence <= 1.0:
        raise LocalProtocolError(f"RESULT confidence must be in [0, 1], got {confidence}")
    head = _RESULT.pack(m.capture_id, m.label_index, m.flags, 0, confidence, m.latency_us)
    flagged = bool(m.flags & ResultFlag.CONTEXT)
    if flagged != (m.context is not None):
        raise LocalProtocolError("RESULT: flag CONTEXT and the context field go together (both or neither)")
    if m.context is None:
        return head
    if minor < 2:
        raise LocalProtocolError(f"RESULT context does not exist in protocol 1.{minor} (since 1.2)")
    c = m.context
    p, lo, hi = _e4("precision", c.precision), _e4("ci_low", c.ci_low), _e4("ci_high", c.ci_high)
    if not lo <= p <= hi:
        raise LocalProtocolError(
            f"RESULT context needs ci_low <= precision <= ci_high, got {lo}, {p}, {hi} (x 1e-4)"
        )
    return head + _RESULT_12.pack(p, lo, hi, c.n)


def _pack_config(m: Config, minor: int) -> bytes:
    if not 0 <= m.samples_per_capture <= MAX_CAPTURE_SAMPLES:
        raise LocalProtocolError(
            f"CONFIG samples_per_capture must be 0..{MAX_CAPTURE_SAMPLES}, got {m.samples_per_capture}"
        )
    return _CONFIG.pack(
        m.sample_rate_hz,
        m.centre_freq_hz,
        _finite("gain_db", m.gain_db),
        m.capture_period_ms,
        m.samples_per_capture,
        m.power_period_ms,
    )


_PACKERS: dict[type, Callable[[Any, int], bytes]] = {
    Hello: _pack_hello,
    Capture: _pack_capture,
    Power: _pack_power,
    Heartbeat: _pack_heartbeat,
    Log: _pack_log,
    Pong: lambda m, minor: _TOKEN.pack(m.token),
    TimeReply: lambda m, minor: _TIME.pack(m.t1_us, m.t2_us, m.t3_us),
    Start: lambda m, minor: b"",
    Stop: lambda m, minor: b"",
    Config: _pack_config,
    Result: _pack_result,
    Ping: lambda m, minor: _TOKEN.pack(m.token),
    TimeRequest: lambda m, minor: _TIME.pack(m.t1_us, 0, 0),
}
_NEW_IN_11 = (TimeReply, TimeRequest)


def pack_payload(message: Message, minor: int = PROTOCOL_MINOR) -> bytes:
    """The payload of ``message`` in the layout of protocol 1.``minor``.

    Raises LocalProtocolError for a field outside its range or of the wrong type, a message
    the minor version lacks, or a payload over MAX_PAYLOAD_SIZE.
    """
    packer = _PACKERS.get(type(message))
    if packer is None:
        raise LocalProtocolError(f"not a firmware_bridge message: {type(message).__name__}")
    if not 0 <= minor <= PROTOCOL_MINOR:
        raise LocalProtocolError(f"can only encode protocol 1.0..1.{PROTOCOL_MINOR}, not 1.{minor}")
    name = type(message).__name__
    if minor == 0 and isinstance(message, _NEW_IN_11):
        raise LocalProtocolError(f"{name} does not exist in protocol 1.0")
    try:
        payload = packer(message, minor)
    except struct.error as e:
        raise LocalProtocolError(f"{name}: field out of range ({e})") from e
    except (TypeError, AttributeError, ValueError, OverflowError) as e:
        # a str where a number belongs, a list for iq_bytes ...: still the protocol's error
        raise LocalProtocolError(f"{name}: field of the wrong type ({e})") from e
    if len(payload) > MAX_PAYLOAD_SIZE:
        raise LocalProtocolError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_SIZE}")
    return payload


def forge_payload(message: Hello | Capture) -> bytes:
    """A payload packed with no range checks, for tools and tests that must send what a
    well-behaved sender never would (e.g. a HELLO announcing an unsupported sample format)."""
    if isinstance(message, Hello):
        good = Hello(**{**_fields(message), "sample_format": 1, "samples_per_capture": 1})
        payload = bytearray(pack_payload(good, 1 if message.boot_id is not None else 0))
        struct.pack_into("<B", payload, 18, message.sample_format)
        struct.pack_into("<H", payload, 20, message.samples_per_capture)
        return bytes(payload)
    good_capture = Capture(
        message.capture_id, message.sample_rate_hz, message.centre_freq_hz, message.gain_db,
        message.iq_bytes,
    )  # fmt: skip
    payload = bytearray(pack_payload(good_capture))
    payload[20] = message.sample_format
    return bytes(payload)


def _fields(message: Hello) -> dict[str, Any]:
    return {name: getattr(message, name) for name in message.__slots__}


def hello_incompatibilities(hello: Hello) -> list[str]:
    """Why a host cannot receive captures as ``hello`` announces them (empty: it can)."""
    problems = []
    if hello.sample_format != SampleFormat.CI16:
        problems.append(f"sample_format {hello.sample_format} unsupported (1 = CI16)")
    if not 1 <= hello.samples_per_capture <= MAX_CAPTURE_SAMPLES:
        problems.append(f"samples_per_capture {hello.samples_per_capture} outside 1..{MAX_CAPTURE_SAMPLES}")
    return problems


# -- parsing ------------------------------------------------------------------------------------


def _need(payload: bytes, size: int, exact: bool, what: str) -> None:
    if len(payload) < size or (exact and len(payload) != size):
        raise PayloadError(f"{what} payload is {len(payload)} bytes, expected {size}")


def _state(kind: str, value: int) -> int:
    if value not in _STATES:
        raise PayloadError(f"{kind} state {value} unknown")
    return value


def _parse_hello(p: bytes, minor: int, exact: bool) -> Hello:
    size = _HELLO_10.size + (_HELLO_11.size if minor >= 1 else 0)
    _need(p, size, exact, "HELLO")
    (pmaj, pmin, fmaj, fmin, fpatch, dev, rate, fmt, _r, spc, freq, caps) = _HELLO_10.unpack_from(p)
    if minor == 0:
        return Hello(pmaj, pmin, fmaj, fmin, fpatch, dev, rate, fmt, spc, freq, caps)
    boot_id, state, _r2, capture_ms, power_ms = _HELLO_11.unpack_from(p, _HELLO_10.size)
    if boot_id == 0:
        raise PayloadError("HELLO boot_id is 0")
    state = _state("HELLO", state)
    return Hello(
        pmaj, pmin, fmaj, fmin, fpatch, dev, rate, fmt, spc, freq, caps,
        boot_id, state, capture_ms, power_ms,
    )  # fmt: skip


def _parse_capture(p: bytes, minor: int, exact: bool) -> Capture:
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


def _parse_power(p: bytes, minor: int, exact: bool) -> Power:
    _need(p, 2, False, "POWER")
    (n,) = _POWER_COUNT.unpack_from(p)
    if n > MAX_POWER_SAMPLES:
        raise PayloadError(f"POWER count {n} exceeds {MAX_POWER_SAMPLES}")
    end = 2 + n * _POWER_SAMPLE.size
    _need(p, end, exact, "POWER")
    samples = tuple(map(PowerSample._make, _POWER_SAMPLE.iter_unpack(p[2:end])))
    return Power(samples)


def _parse_heartbeat(p: bytes, minor: int, exact: bool) -> Heartbeat:
    size = _HEARTBEAT_10.size + (_HEARTBEAT_11.size if minor >= 1 else 0)
    _need(p, size, exact, "HEARTBEAT")
    uptime, sent, dropped, rx_errors = _HEARTBEAT_10.unpack_from(p)
    if minor == 0:
        return Heartbeat(uptime, sent, dropped, rx_errors)
    boot_id, lost, state, _r, _r2 = _HEARTBEAT_11.unpack_from(p, _HEARTBEAT_10.size)
    if boot_id == 0:
        raise PayloadError("HEARTBEAT boot_id is 0")
    return Heartbeat(uptime, sent, dropped, rx_errors, boot_id, lost, _state("HEARTBEAT", state))


def _parse_log(p: bytes, minor: int, exact: bool) -> Log:
    _need(p, 2, False, "LOG")
    level, n = _LOG.unpack_from(p)
    _need(p, 2 + n, exact, "LOG")
    return Log(level, p[2 : 2 + n].decode("utf-8", errors="replace"))


def _parse_result(p: bytes, minor: int, exact: bool) -> Result:
    _need(p, _RESULT.size, False, "RESULT")
    cid, label, flags, _r, confidence, latency = _RESULT.unpack_from(p)
    # 1.2's context field exists when the flag says so; a 1.0/1.1 receiver knows neither the
    # flag nor the field, and ignores both in a 1.2 packet (bytes appended by a newer minor)
    with_context = minor >= 2 and bool(flags & ResultFlag.CONTEXT)
    _need(p, _RESULT.size + (_RESULT_12.size if with_context else 0), exact, "RESULT")
    if not 0.0 <= confidence <= 1.0:  # also rejects NaN
        raise PayloadError(f"RESULT confidence {confidence} outside [0, 1]")
    if not with_context:
        return Result(cid, label, confidence, latency, flags)
    prec, lo, hi, n = _RESULT_12.unpack_from(p, _RESULT.size)
    if not lo <= prec <= hi <= _E4:
        raise PayloadError(
            f"RESULT context needs ci_low <= precision <= ci_high <= 10000, got {lo}, {prec}, {hi}"
        )
    return Result(cid, label, confidence, latency, flags, ResultContext(prec / _E4, lo / _E4, hi / _E4, n))


def _parse_config(p: bytes, minor: int, exact: bool) -> Config:
    _need(p, _CONFIG.size, exact, "CONFIG")
    config = Config(*_CONFIG.unpack_from(p))
    if not math.isfinite(config.gain_db):
        raise PayloadError("CONFIG gain_db is not finite")
    if config.samples_per_capture > MAX_CAPTURE_SAMPLES:
        raise PayloadError(
            f"CONFIG samples_per_capture {config.samples_per_capture} exceeds {MAX_CAPTURE_SAMPLES}"
        )
    return config


def _parse_empty(cls: type[Start] | type[Stop]) -> Callable[[bytes, int, bool], Message]:
    def parse(p: bytes, minor: int, exact: bool) -> Message:
        _need(p, 0, exact, cls.TYPE.name)
        return cls()

    return parse


def _parse_token(cls: type[Ping] | type[Pong]) -> Callable[[bytes, int, bool], Message]:
    def parse(p: bytes, minor: int, exact: bool) -> Message:
        _need(p, 4, exact, cls.TYPE.name)
        return cls(_TOKEN.unpack_from(p)[0])

    return parse


def _parse_time_request(p: bytes, minor: int, exact: bool) -> TimeRequest:
    _need(p, _TIME.size, exact, "TIME_REQUEST")
    return TimeRequest(_TIME.unpack_from(p)[0])


def _parse_time_reply(p: bytes, minor: int, exact: bool) -> TimeReply:
    _need(p, _TIME.size, exact, "TIME_REPLY")
    return TimeReply(*_TIME.unpack_from(p))


PARSERS: dict[int, Callable[[bytes, int, bool], Message]] = {
    MessageType.HELLO: _parse_hello,
    MessageType.CAPTURE: _parse_capture,
    MessageType.POWER: _parse_power,
    MessageType.HEARTBEAT: _parse_heartbeat,
    MessageType.LOG: _parse_log,
    MessageType.PONG: _parse_token(Pong),
    MessageType.TIME_REPLY: _parse_time_reply,
    MessageType.START: _parse_empty(Start),
    MessageType.STOP: _parse_empty(Stop),
    MessageType.CONFIG: _parse_config,
    MessageType.RESULT: _parse_result,
    MessageType.PING: _parse_token(Ping),
    MessageType.TIME_REQUEST: _parse_time_request,
}


def parse_payload(msg_type: int, payload: bytes, version_minor: int = PROTOCOL_MINOR) -> Message:
    """Parse a known type's payload sent at protocol 1.``version_minor``; fields appended by a
    newer minor are ignored. Raises PayloadError when malformed, KeyError for an unknown type."""
    minor = min(version_minor, PROTOCOL_MINOR)
    return PARSERS[msg_type](payload, minor, version_minor <= PROTOCOL_MINOR)
