"""Shared vectors: the checked-in file is current, Python matches it, and the C reference codec
produces (device messages) and accepts (host commands) the very same bytes."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
from fb_strategies import device_messages, host_messages
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge import (
    PROTOCOL_MINOR,
    Capture,
    Decoder,
    Heartbeat,
    Hello,
    Log,
    Packet,
    Ping,
    Pong,
    Power,
    TimeReply,
    encode,
)
from firmware_bridge.vectors import VECTORS_PATH
from firmware_bridge.vectors.make_vectors import message_from_fields, render

DOC = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))
# the C codec is a 1.2 device: it encodes the current layouts only (the 1.0 ones are for hosts)
DEVICE = [v for v in DOC["vectors"] if v["direction"] == "device_to_host" and v["minor"] == PROTOCOL_MINOR]
HOST = [v for v in DOC["vectors"] if v["direction"] == "host_to_device"]
PY_ERROR_KIND = {
    "crc": "crc",
    "cobs": "cobs",
    "short": "short",
    "length": "length",
    "payload": "payload",
}


def test_checked_in_vectors_are_up_to_date():
    assert VECTORS_PATH.read_text(encoding="utf-8") == render(), (
        "run: python -m firmware_bridge.vectors.make_vectors"
    )


@pytest.mark.parametrize("vector", DOC["vectors"], ids=lambda v: v["name"])
def test_python_encodes_and_decodes_every_vector(vector):
    message = message_from_fields(vector["type"], vector["fields"])
    data = bytes.fromhex(vector["hex"])
    minor = vector["minor"]
    assert encode(message, vector["seq"], vector["timestamp_us"], vector["flags"], minor=minor) == (data)
    decoder = Decoder("host" if vector["direction"] == "device_to_host" else "device")
    decoder.receive_data(data)
    assert list(decoder.events()) == [
        Packet(message, vector["seq"], vector["timestamp_us"], vector["flags"], minor)
    ]


def _c_line(message, seq: int, timestamp_us: int, flags: int) -> str:
    """The fb_vectors command that encodes ``message``."""
    head = f"{message.TYPE.name} {seq} {timestamp_us} {flags}"
    if isinstance(message, Hello):
        m = message
        return (
            f"{head} {m.protocol_major} {m.protocol_minor} {m.firmware_major} "
            f"{m.firmware_minor} {m.firmware_patch} {m.device_id} {m.sample_rate_hz} "
            f"{m.sample_format} {m.samples_per_capture} {m.centre_freq_hz} {m.capabilities} "
            f"{m.boot_id} {m.state} {m.capture_period_ms} {m.power_period_ms}"
        )
    if isinstance(message, Capture):
        m = message
        return (
            f"{head} {m.capture_id} {m.sample_rate_hz} {m.centre_freq_hz} {m.gain_db!r} "
            f"{m.sample_format} {m.n_samples} {m.iq_bytes.hex() or '-'}"
        )
    if isinstance(message, Power):
        flat = " ".join(f"{s.timestamp_us} {s.voltage_mv} {s.current_ua}" for s in message.samples)
        return f"{head} {len(message.samples)} {flat}"
    if isinstance(message, Heartbeat):
        m = message
        return (
            f"{head} {m.uptime_s} {m.captures_sent} {m.captures_dropped} {m.rx_errors} "
            f"{m.boot_id} {m.host_packets_lost} {m.state}"
        )
    if isinstance(message, TimeReply):
        return f"{head} {message.t1_us} {message.t2_us} {message.t3_us}"
    if isinstance(message, Log):
        return f"{head} {message.level} {message.text.encode().hex() or '-'}"
    if isinstance(message, Pong):
        return f"{head} {message.token}"
    raise AssertionError(f"no C encoder for {message}")


def _expected_c_decode(message, seq: int, timestamp_us: int, flags: int) -> dict[str, str]:
    fields = {
        "type": str(int(message.TYPE)),
        "seq": str(seq),
        "timestamp_us": str(timestamp_us),
        "flags": str(flags),
    }
    name = message.TYPE.name
    if name == "PING":
        fields["token"] = str(message.token)
    elif name == "TIME_REQUEST":
        fields["t1_us"] = str(message.t1_us)
    elif name == "CONFIG":
        for key in (
            "sample_rate_hz",
            "centre_freq_hz",
            "gain_db",
            "capture_period_ms",
            "samples_per_capture",
            "power_period_ms",
        ):
            fields[key] = str(getattr(message, key))
    elif name == "RESULT":
        for key in ("capture_id", "label_index", "confidence", "latency_us"):
            fields[key] = str(getattr(message, key))
        fields["result_flags"] = str(int(message.flags))
        if message.context is not None:  # 1.2: fractions on the wire in units of 1e-4
            c = message.context
            for key, value in (("precision", c.precision), ("ci_low", c.ci_low), ("ci_high", c.ci_high)):
                fields[f"ctx_{key}_e4"] = str(round(value * 10_000))
            fields["ctx_n"] = str(c.n)
    return fields


def _parse_c_ok(line: str) -> dict[str, str]:
    assert line.startswith("OK "), line
    fields = dict(item.split("=", 1) for item in line[3:].split())
    for key in ("gain_db", "confidence"):  # %.17g of a float: compare as Python floats
        if key in fields:
            fields[key] = str(float(fields[key]))
    return fields


def _run_c(exe, lines: list[str]) -> list[str]:
    result = subprocess.run(
        [str(exe)],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return result.stdout.splitlines()


def _decode_blocks(output: list[str]) -> list[list[str]]:
    blocks, current = [], []
    for line in output:
        if line == "END":
            blocks.append(current)
            current = []
        else:
            current.append(line)
    return blocks


def test_c_encodes_device_vectors_byte_for_byte(fb_vectors_exe):
    lines = [
        _c_line(message_from_fields(v["type"], v["fields"]), v["seq"], v["timestamp_us"], v["flags"])
        for v in DEVICE
    ]
    assert _run_c(fb_vectors_exe, lines) == [v["hex"] for v in DEVICE]


def test_c_decodes_host_vectors_one_by_one_and_as_a_stream(fb_vectors_exe):
    lines = [f"RESET\nDECODE {v['hex']}" for v in HOST]
    lines.append("RESET\nDECODE " + "".join(v["hex"] for v in HOST))
    blocks = _decode_blocks(_run_c(fb_vectors_exe, lines))[1::2]  # skip RESET's empty blocks
    expected = [
        _expected_c_decode(
            message_from_fields(v["type"], v["fields"]), v["seq"], v["timestamp_us"], v["flags"]
        )
        for v in HOST
    ]
    for block, want in zip(blocks[:-1], expected, strict=True):
        assert [_parse_c_ok(line) for line in block] == [want]
    # as one stream the sequence jumps between vectors: only the packets matter here
    assert [_parse_c_ok(line) for line in blocks[-1]] == expected


@pytest.mark.parametrize("vector", DOC["invalid"], ids=lambda v: v["name"])
def test_both_codecs_reject_invalid_vectors_the_same_way(vector, fb_vectors_exe):
    (block,) = _decode_blocks(_run_c(fb_vectors_exe, [f"DECODE {vector['hex']}"]))
    assert block == [f"ERR {vector['error']}"]
    decoder = Decoder("device")
    decoder.receive_data(bytes.fromhex(vector["hex"]))
    (event,) = list(decoder.events())
    kind = {
        "FrameError": getattr(event, "kind", None),
        "VersionMismatch": "version",
        "UnknownMessage": "unknown",
    }[type(event).__name__]
    assert kind == vector["error"]


@settings(max_examples=20, deadline=None)
@given(
    messages=st.lists(st.tuples(device_messages, st.integers(0, 0xFFFF)), min_size=1, max_size=25),
    commands=st.lists(host_messages, min_size=1, max_size=25),
)
def test_c_and_python_agree_on_random_messages(fb_vectors_exe, messages, commands):
    lines = [_c_line(m, seq, 1_000 + seq, 0) for m, seq in messages]
    stream = b"".join(encode(c, i, 7 * i) for i, c in enumerate(commands))
    output = _run_c(fb_vectors_exe, [*lines, "RESET", f"DECODE {stream.hex()}"])
    assert output[: len(lines)] == [encode(m, seq, 1_000 + seq).hex() for m, seq in messages]
    decoded = _decode_blocks(output[len(lines) :])[1]
    assert [_parse_c_ok(line) for line in decoded] == [
        _expected_c_decode(c, i, 7 * i, 0) for i, c in enumerate(commands)
    ]


def test_c_decoder_drops_overlong_frames_and_recovers(fb_vectors_exe):
    good = encode(Pong(1), 0, 0)  # wrong direction for the device: reported as unknown
    ping = bytes.fromhex(next(v["hex"] for v in HOST if v["name"] == "ping"))
    stream = b"\x55" * 500 + b"\x00" + good + ping
    (block,) = _decode_blocks(_run_c(fb_vectors_exe, [f"DECODE {stream.hex()}"]))
    assert block[:2] == ["ERR overflow", "ERR unknown"]
    assert block[2].startswith("OK type=133")


def test_c_codec_rejects_nan_and_infinity_under_fast_math(tmp_path):
    """The acceptance check, spelled out: built with -O2 -ffast-math, the C decoder still
    refuses a CONFIG whose gain is NaN (or infinite) and a RESULT whose confidence is NaN."""
    from conftest import C_OPTIMISATIONS, build_c

    exe = build_c(tmp_path, C_OPTIMISATIONS["O2-fast-math"]) / "fb_vectors"
    names = ["config_nan_gain", "config_inf_gain", "result_nan_confidence"]
    vectors = [v for v in DOC["invalid"] if v["name"] in names]
    assert len(vectors) == 3
    output = _run_c(exe, [f"RESET\nDECODE {v['hex']}" for v in vectors])
    assert _decode_blocks(output)[1::2] == [["ERR payload"]] * 3


def test_c_counts_duplicates_and_host_restarts_not_losses(fb_vectors_exe):
    ping = encode(Ping(1), 40, 0)
    restart = encode(Ping(2), 0, 0)  # a new host session starts again at 0
    stream = ping + ping + encode(Ping(3), 43, 0) + restart
    output = _run_c(fb_vectors_exe, [f"DECODE {stream.hex()}", "STATS"])
    decoded, stats = _decode_blocks(output)
    assert [line.split()[0] for line in decoded] == ["OK", "ERR", "OK", "OK"]
    assert decoded[1] == "ERR duplicate"
    counters = dict(item.split("=") for item in stats[0].split())
    assert counters["duplicates"] == "1" and counters["host_restarts"] == "1"
    assert counters["lost_packets"] == "2"  # 41 and 42


def test_crc_table_is_generated_as_a_constant(tmp_path):
    from conftest import C_OPTIMISATIONS, FIRMWARE_DIR, build_c

    header = (build_c(tmp_path, C_OPTIMISATIONS["O2"]) / "fb_crc_table.h").read_text()
    assert "static const uint32_t fb_crc_table[256]" in header
    values = [int(v, 16) for v in re.findall(r"0x([0-9A-F]{8})u", header)]
    # published values of the IEEE 802.3 reflected table: entries 0, 1, 128 and 255
    assert len(values) == 256
    assert (values[0], values[1], values[128], values[255]) == (
        0x00000000, 0x77073096, 0xEDB88320, 0x2D02EF8D,
    )  # fmt: skip
    source = (FIRMWARE_DIR / "fb_codec.c").read_text()
    assert "crc_table_ready" not in source and not (FIRMWARE_DIR / "fb_crc_table.h").exists()


def test_c_header_constants_match_python():
    import re
    from pathlib import Path

    from firmware_bridge import codec

    text = (Path(codec.__file__).parent / "firmware" / "fb_codec.h").read_text(encoding="utf-8")
    plain = dict(re.findall(r"#define (FB_\w+) (\d+)u\b", text))
    assert int(plain["FB_HEADER_SIZE"]) == codec.HEADER_SIZE
    assert int(plain["FB_MAX_PAYLOAD_SIZE"]) == codec.MAX_PAYLOAD_SIZE
    assert int(plain["FB_MAX_CAPTURE_SAMPLES"]) == codec.MAX_CAPTURE_SAMPLES
    assert int(plain["FB_MAX_POWER_SAMPLES"]) == codec.MAX_POWER_SAMPLES
    assert int(plain["FB_PROTOCOL_MAJOR"]) == codec.PROTOCOL_MAJOR
    assert f"/* {codec.MAX_ENCODED_SIZE} */" in text  # FB_MAX_ENCODED_SIZE's stated value


@pytest.mark.parametrize("name", ["ping", "hello_boot", "heartbeat", "time_request", "time_reply"])
def test_the_specs_worked_examples_are_the_vectors(name):
    """PROTOCOL.md's worked examples (wire bytes) are exactly what both codecs produce."""
    from pathlib import Path

    spec = (Path(VECTORS_PATH).parents[1] / "PROTOCOL.md").read_text(encoding="utf-8")
    hex_only = re.sub(r"[^0-9a-f]", "", re.sub(r"(?m)^\s*(packet|wire|request|reply)\s", " ", spec))
    (vector,) = [v for v in DOC["vectors"] if v["name"] == name]
    assert vector["hex"] in hex_only
