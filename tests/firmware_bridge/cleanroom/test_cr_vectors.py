"""(a) The spec's shared vectors, decoded and re-encoded byte for byte by the clean-room codec;
the invalid ones refused by the §4 check the vectors name; the worked examples of §3.5, §5.1, §5.4
and §5.7 as printed in PROTOCOL.md; COBS cross-checked against the `cobs` package."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from cobs import cobs
from hypothesis import given
from hypothesis import strategies as st

from cleanroom.wire import (
    CODES,
    Packet,
    Receiver,
    WireError,
    cobs_decode,
    cobs_encode,
    decode_payload,
    encode_packet,
    encode_payload,
    frame,
    parse_packet,
)

REPO = Path(__file__).resolve().parents[3]
SPEC = (REPO / "firmware_bridge" / "PROTOCOL.md").read_text()
DATA = json.loads((REPO / "firmware_bridge" / "vectors" / "vectors.json").read_text())
VALID = {v["name"]: v for v in DATA["vectors"]}
INVALID = {v["name"]: v for v in DATA["invalid"]}


def _wire_fields(v: dict[str, Any]) -> dict[str, Any]:
    """The vector's fields in wire units (the JSON gives IQ as hex and context as fractions)."""
    f = dict(v["fields"])
    if "iq_hex" in f:
        f["iq"] = bytes.fromhex(f.pop("iq_hex"))
    if f.get("context"):
        c = f["context"]
        f["context"] = {k: round(c[k] * 10000) for k in ("precision", "ci_low", "ci_high")} | {"n": c["n"]}
    return f


def test_vectors_cover_every_message_type():
    assert {v["type"] for v in DATA["vectors"]} == set(CODES)
    assert DATA["protocol"] == "1.2"


@pytest.mark.parametrize("name", sorted(VALID))
def test_vector_decodes(name: str):
    v = VALID[name]
    data = bytes.fromhex(v["hex"])
    assert data[-1] == 0 and 0 not in data[:-1]
    p = parse_packet(data[:-1])
    assert (p.minor, p.msg_type, p.flags, p.seq, p.timestamp_us) == (
        v["minor"],
        CODES[v["type"]],
        v["flags"],
        v["seq"],
        v["timestamp_us"],
    )
    got = decode_payload(p)
    want = _wire_fields(v)
    if v["type"] == "RESULT":
        want["flags"] |= 0x10 if want["context"] else 0
    for k, x in want.items():
        assert got[k] == (pytest.approx(x) if isinstance(x, float) else x), k
    # the receiver of the vector's direction accepts it, the other one counts an unknown type
    host = v["direction"] == "device_to_host"
    assert [m.name for m in Receiver(host=host).feed(data)] == [v["type"]]
    other = Receiver(host=not host)
    assert other.feed(data) == [] and other.errors == {"unknown": 1}


@pytest.mark.parametrize("name", sorted(VALID))
def test_vector_encodes_byte_for_byte(name: str):
    v = VALID[name]
    payload, _ = encode_payload(v["type"], _wire_fields(v), v["minor"])
    pkt = encode_packet(CODES[v["type"]], payload, seq=v["seq"], timestamp_us=v["timestamp_us"],
                        flags=v["flags"], minor=v["minor"])  # fmt: skip
    assert frame(pkt).hex() == v["hex"]


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_vector_refused_by_the_named_check(name: str):
    v = INVALID[name]
    data = bytes.fromhex(v["hex"])
    frames = [f for f in data.split(b"\x00") if f]
    assert len(frames) == 1
    with pytest.raises(WireError) as e:
        p = parse_packet(frames[0])
        if not p.msg_type & 0x80 or p.msg_type not in (0x81, 0x82, 0x83, 0x84, 0x85, 0x86):
            raise WireError("unknown")
        decode_payload(p)
    assert e.value.kind == v["error"]


def _spec_block(label: str, after: str) -> bytes:
    """The hex bytes of the line starting with ``label`` (and its continuation lines) in the
    first code block after the text ``after`` in PROTOCOL.md."""
    text = SPEC[SPEC.index(after) :]
    block = text[text.index("```") + 3 :]
    block = block[: block.index("```")]
    lines, grab = [], False
    for line in block.splitlines():
        word = line.split()[0] if line.split() else ""
        if word == label:
            grab = True
            lines.append(line[len(label) :])
        elif grab and word and not re.fullmatch(r"[0-9a-f]{2}", word):
            break
        elif grab:
            lines.append(line)
    return bytes.fromhex("".join(lines).replace("|", " "))


@pytest.mark.parametrize(("after", "packet_label", "wire_label", "vector"), [
    ("### 3.5 Worked example", "packet", "wire", "ping"),
    ("Worked example — BOOT HELLO", "packet", "wire", "hello_boot"),
    ("Worked example — seq 7", "packet", "wire", "heartbeat"),
    ("Worked example — t1 = 123,456,789", "request", "wire", "time_request"),
])  # fmt: skip
def test_worked_examples_in_the_spec_match_the_vectors(after, packet_label, wire_label, vector):
    packet = _spec_block(packet_label, after)
    wire = _spec_block(wire_label, after)
    assert frame(packet) == wire
    assert wire.hex() == VALID[vector]["hex"]


def test_time_reply_worked_example_and_arithmetic():
    wire = bytes.fromhex(VALID["time_reply"]["hex"])
    f = decode_payload(parse_packet(wire[:-1]))
    t1, t2, t3, t4 = f["t1_us"], f["t2_us"], f["t3_us"], 123_457_389
    # §5.7's numbers, recomputed here from the decoded reply
    assert ((t2 - t1) + (t3 - t4)) / 2 == -122_456_814
    assert (t4 - t1) - (t3 - t2) == 550
    assert parse_packet(wire[:-1]).timestamp_us == t3  # t3 = the reply's header timestamp


def test_crc_check_value():
    import zlib

    assert zlib.crc32(b"123456789") == 0xCBF43926


@pytest.mark.parametrize("n", [0, 1, 253, 254, 255, 508, 4160])
def test_cobs_runs_of_non_zero_bytes_agree_with_the_cobs_package(n: int):
    data = bytes([1 + i % 255 for i in range(n)])
    assert cobs_encode(data) == cobs.encode(data)
    assert cobs_decode(cobs.encode(data)) == data


@given(st.binary(max_size=1200))
def test_cobs_agrees_with_the_cobs_package(data: bytes):
    assert cobs_encode(data) == cobs.encode(data)
    assert cobs_decode(cobs_encode(data)) == data


def test_a_packet_of_every_field_width_round_trips():
    p = encode_packet(0x02, b"\x00" * 4140, seq=65535, timestamp_us=2**64 - 1, flags=1)
    enc = cobs_encode(p)
    assert len(enc) <= 4177
    got = parse_packet(enc)
    assert isinstance(got, Packet) and got.seq == 65535 and got.payload == b"\x00" * 4140
