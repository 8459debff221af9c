"""Generate ``vectors.json`` from the Python codec.

Run: ``python -m firmware_bridge.vectors.make_vectors``.

Each valid vector holds a message's fields, its header values and the expected wire bytes (hex,
delimiter included). Invalid vectors hold damaged frames and the error both codecs must report.
The output is deterministic; the test suite checks that the checked-in file is up to date.
"""

from __future__ import annotations

import json
import random
import sys
from dataclasses import asdict
from typing import Any

from firmware_bridge.codec import PROTOCOL_MAJOR, PROTOCOL_MINOR, build_header, encode, encode_raw
from firmware_bridge.messages import (
    Capture,
    Config,
    DeviceState,
    Heartbeat,
    Hello,
    Log,
    Message,
    MessageType,
    PacketFlag,
    Ping,
    Pong,
    Power,
    PowerSample,
    Result,
    ResultContext,
    ResultFlag,
    Start,
    Stop,
    TimeReply,
    TimeRequest,
)
from firmware_bridge.vectors import VECTORS_PATH

__all__ = ["build_vectors", "main", "message_from_fields", "message_to_fields"]

_CLASSES: dict[str, type] = {
    cls.TYPE.name: cls
    for cls in (
        Hello,
        Capture,
        Power,
        Heartbeat,
        Log,
        Pong,
        TimeReply,
        Start,
        Stop,
        Config,
        Result,
        Ping,
        TimeRequest,
    )
}


def message_to_fields(message: Message) -> dict[str, Any]:
    """JSON-friendly fields of a message (IQ as hex, power samples as [t, mV, uA] lists)."""
    if isinstance(message, Capture):
        fields = asdict(message)
        fields["iq_hex"] = fields.pop("iq_bytes").hex()
        return fields
    if isinstance(message, Power):
        return {"samples": [[s.timestamp_us, s.voltage_mv, s.current_ua] for s in message.samples]}
    return asdict(message)


def message_from_fields(type_name: str, fields: dict[str, Any]) -> Message:
    """Inverse of ``message_to_fields``."""
    cls = _CLASSES[type_name]
    if cls is Capture:
        f = dict(fields)
        f["iq_bytes"] = bytes.fromhex(f.pop("iq_hex"))
        return Capture(**f)
    if cls is Power:
        return Power(tuple(PowerSample(*s) for s in fields["samples"]))
    if cls is Result and fields.get("context") is not None:
        return Result(**{**fields, "context": ResultContext(**fields["context"])})
    message: Message = cls(**fields)
    return message


def _iq(n: int, rng: random.Random, value: int | None = None) -> bytes:
    values = [value if value is not None else rng.randint(-32768, 32767) for _ in range(2 * n)]
    return b"".join(v.to_bytes(2, "little", signed=True) for v in values)


def _messages() -> list[tuple[str, Message, int, int, int]]:
    """(name, message, seq, timestamp_us, flags), all at the current protocol (1.2)."""
    rng = random.Random(20240501)
    hello = Hello(
        PROTOCOL_MAJOR, PROTOCOL_MINOR, 2, 3, 17, 0x1122334455667788, 2_000_000, 1, 1024, 433_920_000, 0x2F,
        0x9E3779B9, DeviceState.IDLE, 100, 100,
    )  # fmt: skip  (the HELLO announces the version of the header it travels in)
    streaming = Hello(
        PROTOCOL_MAJOR, PROTOCOL_MINOR, 2, 3, 17, 0x1122334455667788, 2_000_000, 1, 256, 868_000_000, 0x2F,
        0x0000_0001, DeviceState.STREAMING, 0, 0,
    )  # fmt: skip
    return [
        ("hello_boot", hello, 0, 1_000, PacketFlag.BOOT),
        ("hello_solicited", hello, 65535, 2**64 - 1, 0),
        ("hello_streaming", streaming, 12, 2_000, 0),
        ("capture_small", Capture(7, 2_000_000, 433_920_000, 12.5, _iq(4, rng)), 1, 5_000, 0),
        ("capture_empty", Capture(8, 1_000_000, 868_000_000, -3.25, b""), 2, 6_000, 0),
        # the packet ends in two full 254-byte COBS blocks (no trailing code byte)
        (
            "capture_no_zeros",
            Capture(0x01010101, 0x01010101, 0x0101010101010101, 1.0, _iq(126, rng, 0x0101)),
            0x0101,
            0x0101010101010101,
            PacketFlag.OVERFLOW,
        ),
        (
            "capture_max",
            Capture(2**32 - 1, 20_000_000, 2_400_000_000, 40.0, _iq(1024, rng)),
            3,
            7_000,
            0,
        ),
        (
            "power_batch",
            Power(tuple(PowerSample(10_000 + 100 * i, 3_700 - i, -5_000 + 1_234 * i) for i in range(8))),
            4,
            8_000,
            0,
        ),
        ("power_empty", Power(()), 5, 8_100, 0),
        (
            "power_extremes",
            Power((PowerSample(2**64 - 1, 65535, -(2**31)), PowerSample(0, 0, 2**31 - 1))),
            6,
            8_200,
            0,
        ),
        ("heartbeat", Heartbeat(3_600, 12_345, 6, 2, 0x9E3779B9, 3, DeviceState.STREAMING), 7, 9_000, 0),
        ("time_reply", TimeReply(123_456_789, 1_000_250, 1_000_300), 13, 1_000_300, 0),
        ("log_ascii", Log(1, "capture loop started"), 8, 9_100, 0),
        ("log_utf8", Log(3, "température élevée: 71 °C"), 9, 9_200, 0),
        ("log_empty", Log(0, ""), 10, 9_300, 0),
        ("pong", Pong(0xDEADBEEF), 11, 9_400, 0),
        ("start", Start(), 0, 100, 0),
        ("stop", Stop(), 1, 200, 0),
        ("config", Config(2_000_000, 433_920_000, 20.5, 100, 1024, 500), 2, 300, 0),
        ("result", Result(7, 3, 0.875, 42_000, 0), 3, 400, 0),
        (
            "result_unknown",
            Result(8, 0xFFFF, 0.25, 150_000, ResultFlag.UNKNOWN | ResultFlag.FALLBACK),
            4,
            500,
            0,
        ),
        (
            "result_context",  # 1.2: right 61.17 % [55.26, 66.80] of 273 times in conditions like these
            Result(9, 4, 0.9375, 38_000, ResultFlag.CONTEXT, ResultContext(0.6117, 0.5526, 0.668, 273)),
            8,
            550,
            0,
        ),
        ("ping", Ping(0x01020304), 5, 600, 0),
        ("ping_wrapped_seq", Ping(0), 65535, 700, 0),
        ("time_request", TimeRequest(123_456_789), 6, 123_456_789, 0),
        ("config_unchanged", Config(0, 0, 0.0, 0, 0, 0), 7, 800, 0),
    ]


def _messages_v10() -> list[tuple[str, Message, int, int, int]]:
    """Protocol 1.0 packets (what a 1.0 device sends) that a 1.1 host must still decode."""
    hello = Hello(1, 0, 2, 3, 17, 0x1122334455667788, 2_000_000, 1, 1024, 433_920_000, 0x0F)
    return [
        ("v10_hello_boot", hello, 0, 1_000, PacketFlag.BOOT),
        ("v10_heartbeat", Heartbeat(3_600, 12_345, 6, 2), 7, 9_000, 0),
        ("v10_pong", Pong(0xDEADBEEF), 11, 9_400, 0),
    ]


def _invalid() -> list[dict[str, Any]]:
    """Damaged frames for the host-command decoder (C) and the device-side Python decoder."""
    good = bytearray(encode(Ping(7), 9, 1_000)[:-1])
    bad_crc = bytearray(good)
    bad_crc[-2] ^= 0x01 if bad_crc[-2] not in (0x01,) else 0x03
    raw_v2 = build_header(MessageType.PING, 10, 0, 4, major=2) + (7).to_bytes(4, "little")
    raw_unknown = build_header(0x8F, 11, 0, 3) + b"abc"
    raw_short_cfg = build_header(MessageType.CONFIG, 12, 0, 4) + b"\x01\x02\x03\x04"
    raw_len = build_header(MessageType.PING, 13, 0, 5) + (7).to_bytes(4, "little")

    def config(gain_bits: int, spc: int = 0) -> str:
        payload = bytearray(24)
        payload[12:16] = gain_bits.to_bytes(4, "little")
        payload[20:22] = spc.to_bytes(2, "little")
        return encode_raw(build_header(MessageType.CONFIG, 20, 0, 24) + bytes(payload)).hex()

    def result(confidence_bits: int) -> str:
        payload = bytearray(16)
        payload[8:12] = confidence_bits.to_bytes(4, "little")
        return encode_raw(build_header(MessageType.RESULT, 21, 0, 16) + bytes(payload)).hex()

    def result_context(flag: int, ctx: tuple[int, int, int, int] | None) -> str:
        payload = bytearray(16)
        payload[6] = flag
        if ctx is not None:
            payload += b"".join(v.to_bytes(2, "little") for v in ctx)
        raw = build_header(MessageType.RESULT, 22, 0, len(payload)) + bytes(payload)
        return encode_raw(raw).hex()

    return [
        {"name": "config_nan_gain", "hex": config(0x7FC00000), "error": "payload"},
        {"name": "config_negative_nan_gain", "hex": config(0xFFC00001), "error": "payload"},
        {"name": "config_inf_gain", "hex": config(0x7F800000), "error": "payload"},
        {"name": "config_1025_samples", "hex": config(0, 1025), "error": "payload"},
        {"name": "result_nan_confidence", "hex": result(0x7FC00000), "error": "payload"},
        {"name": "result_confidence_above_1", "hex": result(0x3F800001), "error": "payload"},
        {"name": "result_negative_confidence", "hex": result(0xBF800000), "error": "payload"},
        # 1.2 context: the flag without the field, and the field out of order or range
        {"name": "result_context_flag_no_field", "hex": result_context(0x10, None), "error": "payload"},
        {"name": "result_context_low_above", "hex": result_context(0x10, (5000, 6000, 7000, 9)),
         "error": "payload"},
        {"name": "result_context_above_1", "hex": result_context(0x10, (10001, 9000, 10001, 9)),
         "error": "payload"},
        {"name": "result_context_no_flag", "hex": result_context(0, (5000, 4000, 6000, 9)),
         "error": "payload"},
        {"name": "bad_crc", "hex": bytes(bad_crc).hex() + "00", "error": "crc"},
        {"name": "major_version_2", "hex": encode_raw(raw_v2).hex(), "error": "version"},
        {"name": "unknown_type", "hex": encode_raw(raw_unknown).hex(), "error": "unknown"},
        {"name": "short_config", "hex": encode_raw(raw_short_cfg).hex(), "error": "payload"},
        {"name": "length_field", "hex": encode_raw(raw_len).hex(), "error": "length"},
        {"name": "too_short", "hex": "0501020304" + "00", "error": "short"},
        {"name": "bad_cobs", "hex": "0901020300", "error": "cobs"},
    ]


def build_vectors() -> dict[str, Any]:
    """The whole vectors document."""
    vectors = []
    cases = [(m, PROTOCOL_MINOR) for m in _messages()] + [(m, 0) for m in _messages_v10()]
    for (name, message, seq, timestamp_us, flags), minor in cases:
        direction = "host_to_device" if message.TYPE & 0x80 else "device_to_host"
        vectors.append(
            {
                "name": name,
                "type": message.TYPE.name,
                "direction": direction,
                "minor": minor,
                "seq": seq,
                "timestamp_us": timestamp_us,
                "flags": int(flags),
                "fields": message_to_fields(message),
                "hex": encode(message, seq, timestamp_us, flags, minor=minor).hex(),
            }
        )
    return {
        "protocol": f"{PROTOCOL_MAJOR}.{PROTOCOL_MINOR}",
        "generator": "python -m firmware_bridge.vectors.make_vectors",
        "vectors": vectors,
        "invalid": _invalid(),
    }


def render() -> str:
    """The file content."""
    return json.dumps(build_vectors(), indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write vectors.json (or the path given as the only argument)."""
    args = sys.argv[1:] if argv is None else argv
    path = args[0] if args else str(VECTORS_PATH)
    with open(path, "w", encoding="utf-8") as f:
        f.write(render())
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
