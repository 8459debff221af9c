"""(d) The clean-room codec against firmware_bridge's: every message the reference encodes is
byte-for-byte what the clean-room encoder makes of the same fields, each side decodes the other's
frames to the same fields, and on damaged streams both receivers accept the same packets and
count the same drops and losses (hypothesis)."""

from __future__ import annotations

import dataclasses
from typing import Any

from fb_strategies import device_messages, host_messages
from hypothesis import given, settings
from hypothesis import strategies as st

from cleanroom.wire import Receiver, encode_packet, encode_payload, frame
from firmware_bridge import Decoder, Message, Packet, encode
from firmware_bridge.events import DeviceReset, Duplicate, FrameError, SequenceGap, UnknownMessage

CODE_OF = {"HELLO": 0x01, "CAPTURE": 0x02, "POWER": 0x03, "HEARTBEAT": 0x04, "LOG": 0x05,
           "PONG": 0x06, "TIME_REPLY": 0x07, "START": 0x81, "STOP": 0x82, "CONFIG": 0x83,
           "RESULT": 0x84, "PING": 0x85, "TIME_REQUEST": 0x86}  # fmt: skip


def _fields(m: Message) -> tuple[str, dict[str, Any], int]:
    """(type name, clean-room fields, minor to send at) of a reference message."""
    name = type(m).TYPE.name
    f = {k: getattr(m, k) for k in (x.name for x in dataclasses.fields(m))}
    minor = 0 if name in ("HELLO", "HEARTBEAT") and f.get("boot_id") is None else 2
    if name == "CAPTURE":
        f["iq"] = bytes(f.pop("iq_bytes"))
    elif name == "POWER":
        f["samples"] = [list(s) for s in f["samples"]]
    elif name == "RESULT" and f["context"] is not None:
        c = f["context"]
        f["context"] = {"precision": round(c.precision * 10000), "ci_low": round(c.ci_low * 10000),
                        "ci_high": round(c.ci_high * 10000), "n": c.n}  # fmt: skip
    return name, f, minor


def _clean_encode(m: Message, seq: int, ts: int, flags: int) -> bytes:
    name, f, minor = _fields(m)
    payload, _ = encode_payload(name, f, minor)
    return frame(encode_packet(CODE_OF[name], payload, seq=seq, timestamp_us=ts, flags=flags,
                               minor=minor))  # fmt: skip


headers = st.tuples(st.integers(0, 0xFFFF), st.integers(0, 2**64 - 1), st.sampled_from([0, 1]))


@settings(max_examples=150, deadline=None)
@given(st.one_of(device_messages, host_messages), headers)
def test_same_bytes_and_same_fields_both_ways(m: Message, header: tuple[int, int, int]):
    seq, ts, flags = header
    name, f, minor = _fields(m)
    ref = encode(m, seq, ts, flags, minor=minor)
    assert _clean_encode(m, seq, ts, flags) == ref
    host = name in ("HELLO", "CAPTURE", "POWER", "HEARTBEAT", "LOG", "PONG", "TIME_REPLY")
    got = Receiver(host=host).feed(ref)
    assert len(got) == 1 and got[0].name == name
    for k, v in f.items():
        assert got[0].fields[k] == v, k
    dec = Decoder("host" if host else "device")
    dec.receive_data(_clean_encode(m, seq, ts, flags))
    assert list(dec.events()) == [Packet(m, seq, ts, flags, minor)]


def _damage(data: bytearray, edits: list[tuple[int, int]]) -> bytes:
    for pos, val in edits:
        if data:
            data[pos % len(data)] = val
    return bytes(data)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(device_messages, st.integers(0, 3)), min_size=1, max_size=12),
    st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=4),
    st.integers(0, 0xFFFF),
)
def test_both_receivers_agree_on_a_damaged_stream(msgs, edits, seq0):
    """Packets with skipped, repeated and restarted sequence numbers and a few bytes changed
    anywhere (delimiters included): the same packets accepted, the same drops and losses."""
    stream, seq, ts = bytearray(), seq0, 10_000_000
    for m, op in msgs:
        if op == 1:
            seq = (seq + 3) % 65536  # a gap
        elif op == 2:
            seq = (seq - 1) % 65536  # the previous number again: a duplicate only if identical
        ts += 1000
        stream += encode(m, seq, ts, 0, minor=_fields(m)[2])
        if op == 3:
            stream += stream[-len(encode(m, seq, ts, 0, minor=_fields(m)[2])) :]  # resent whole
        seq = (seq + 1) % 65536
    data = _damage(stream, edits)
    mine = Receiver(host=True)
    accepted = [(x.name, x.packet.seq) for x in mine.feed(data)]
    dec = Decoder("host")
    dec.receive_data(data)
    events = list(dec.events())
    assert accepted == [(type(e.message).TYPE.name, e.seq) for e in events if isinstance(e, Packet)]
    kinds: dict[str, int] = {}
    for e in events:
        if isinstance(e, FrameError):
            kinds[e.kind] = kinds.get(e.kind, 0) + 1
        elif isinstance(e, UnknownMessage):
            kinds["unknown"] = kinds.get("unknown", 0) + 1
    incompatible = mine.errors.get("incompatible", 0)
    assert {k: v for k, v in mine.errors.items() if k != "incompatible"} == kinds
    assert incompatible == dec.stats.incompatible
    assert mine.seq.counts["lost"] == dec.stats.lost_packets
    assert mine.seq.counts["duplicate"] == sum(isinstance(e, Duplicate) for e in events)
    assert mine.seq.counts["resets"] == sum(isinstance(e, DeviceReset) for e in events)
    assert mine.seq.counts["gaps"] == sum(isinstance(e, SequenceGap) for e in events)
