"""Decoder guards with packets built by hand and a valid CRC (issue 17).

A fuzzer almost never produces a valid CRC-32, so the checks behind it (length, version,
payload layout, boot ID) are reached here on purpose: the header is packed from PROTOCOL.md §2
(``<BBBBHHQ``), the CRC is ``binascii.crc32`` (§3.2, IEEE 802.3), COBS is the ``cobs`` package.
Whatever the bytes, ``receive_data`` must yield events only, each drop counted exactly once.
"""

from __future__ import annotations

import binascii
import random
import struct

import pytest
from cobs import cobs

from firmware_bridge import (
    Decoder,
    DeviceReset,
    FrameError,
    Heartbeat,
    Hello,
    Packet,
    SequenceGap,
    UnknownMessage,
    VersionMismatch,
)
from firmware_bridge.codec import encode_payload, forge_payload
from firmware_bridge.events import Duplicate, PeerRestart
from firmware_bridge.layouts import PROTOCOL_MINOR
from firmware_bridge.messages import (
    Capture,
    Config,
    Log,
    Ping,
    Pong,
    Power,
    PowerSample,
    Result,
    Start,
    Stop,
    TimeReply,
    TimeRequest,
)

HEADER = struct.Struct("<BBBBHHQ")  # PROTOCOL.md §2: major, minor, type, flags, seq, length, time
MAX_PAYLOAD = 4140  # §2
MAX_ENCODED = 20 + MAX_PAYLOAD + (20 + MAX_PAYLOAD) // 254 + 1  # §3.1: 4177
HELLO_11 = Hello(1, 1, 1, 0, 0, 42, 1_000_000, 1, 1024, 433_000_000, 0, 0x1234, 0, 100, 0)
BOOT = 0x02


def frame_of(raw: bytes) -> bytes:
    """COBS(raw) + delimiter; ``raw`` already carries whatever CRC the test wants."""
    return cobs.encode(raw) + b"\x00"


def packet(msg_type: int, payload: bytes, *, seq: int = 0, ts: int = 0, flags: int = 0, major: int = 1,
           minor: int = 1, length: int | None = None) -> bytes:
    body = HEADER.pack(major, minor, msg_type, flags, seq, len(payload) if length is None else length, ts)
    body += payload
    return frame_of(body + struct.pack("<I", binascii.crc32(body)))


def feed(d: Decoder, data: bytes) -> list[object]:
    d.receive_data(data)
    return list(d.events())


def counts(d: Decoder) -> tuple[int, int, int, int]:
    s = d.stats
    return s.packets, s.framing_errors, s.crc_failures, s.resyncs


def test_crc_is_the_ieee_crc32() -> None:
    assert binascii.crc32(b"123456789") == 0xCBF43926  # §3.2 check value


def test_fewer_than_twenty_bytes_is_short_even_with_a_valid_crc() -> None:
    body = bytes(range(15))
    raw = body + struct.pack("<I", binascii.crc32(body))  # 19 bytes
    d = Decoder()
    assert feed(d, frame_of(raw)) == [FrameError("short", "19 bytes < header + CRC", len(cobs.encode(raw)))]
    assert counts(d) == (0, 1, 0, 0)


def test_exactly_header_and_crc_is_a_packet() -> None:
    d = Decoder()
    assert feed(d, packet(0x7F, b"", seq=3)) == [UnknownMessage(0x7F, 3, b"")]
    assert d.stats.unknown_types == 1 and counts(d) == (0, 0, 0, 0)


def test_bad_crc_is_counted_as_a_crc_failure() -> None:
    body = HEADER.pack(1, 1, 0x7F, 0, 0, 0, 0)
    raw = body + struct.pack("<I", binascii.crc32(body) ^ 1)
    d = Decoder()
    assert feed(d, frame_of(raw)) == [FrameError("crc", "CRC-32 mismatch", len(cobs.encode(raw)))]
    assert counts(d) == (0, 0, 1, 0)


@pytest.mark.parametrize(("declared", "actual"), [(5, 4), (3, 4), (0, 1), (MAX_PAYLOAD + 1, MAX_PAYLOAD + 1)])
def test_a_length_the_frame_does_not_have_is_refused(declared: int, actual: int) -> None:
    d = Decoder()
    events = feed(d, packet(0x7F, bytes(actual), length=declared))
    assert [(e.kind, e.detail) for e in events] == [("length", f"header says {declared} payload bytes")]  # type: ignore[attr-defined]
    assert counts(d) == (0, 1, 0, 0) and d.stats.unknown_types == 0


def test_the_largest_payload_is_accepted() -> None:
    d = Decoder()
    wire = packet(0x7F, bytes(MAX_PAYLOAD))
    assert len(wire) - 1 <= MAX_ENCODED
    assert feed(d, wire) == [UnknownMessage(0x7F, 0, bytes(MAX_PAYLOAD))]


def test_another_major_version_is_refused_and_not_tracked() -> None:
    d = Decoder()
    assert feed(d, packet(0x04, b"", major=2, minor=5, seq=10)) == [VersionMismatch(2, 5, 0x04)]
    assert d.stats.version_mismatches == 1
    # its sequence number was not tracked: the next packet is no gap
    assert feed(d, packet(0x7F, b"", seq=20)) == [UnknownMessage(0x7F, 20, b"")]


def test_bad_cobs_is_a_framing_error() -> None:
    d = Decoder()
    events = feed(d, b"\x05\x01\x00")
    assert len(events) == 1 and events[0].kind == "cobs"  # type: ignore[attr-defined]
    assert events[0].size_bytes == 2  # type: ignore[attr-defined]
    assert counts(d) == (0, 1, 0, 0)


def test_an_overlong_frame_is_one_resync() -> None:
    d = Decoder()
    junk = b"\x01" * (MAX_ENCODED + 1)
    why = f"frame of {MAX_ENCODED + 1} bytes > {MAX_ENCODED}"
    assert feed(d, junk + b"\x00") == [FrameError("overflow", why, MAX_ENCODED + 1)]
    assert counts(d) == (0, 0, 0, 1)


def test_the_unterminated_tail_is_capped_then_discarded_to_the_next_delimiter() -> None:
    d = Decoder()
    assert feed(d, b"\x01" * MAX_ENCODED) == [] and d.buffered_bytes == MAX_ENCODED
    events = feed(d, b"\x01")
    assert [e.kind for e in events] == ["overflow"] and d.buffered_bytes == 0  # type: ignore[attr-defined]
    assert feed(d, b"\x01" * 100) == [] and d.buffered_bytes == 0  # still discarding
    # the rest of the damaged frame goes, the next packet is decoded, nothing more is counted
    assert feed(d, b"\x02\x00" + packet(0x7F, b"", seq=1)) == [UnknownMessage(0x7F, 1, b"")]
    assert counts(d) == (0, 0, 0, 1) and d.stats.bytes == MAX_ENCODED + 1 + 100 + 2 + len(packet(0x7F, b""))


def test_buffers_of_any_kind_and_empty_input() -> None:
    d = Decoder()
    feed(d, b"")
    assert d.stats.bytes == 0
    wire = packet(0x7F, b"x", seq=1)
    assert feed(d, bytearray(wire[:5])) == []
    assert feed(d, memoryview(wire[5:])) == [UnknownMessage(0x7F, 1, b"x")]


def test_role_is_checked() -> None:
    with pytest.raises(ValueError, match=r"^role must be 'host' or 'device', got 'mcu'$"):
        Decoder("mcu")  # type: ignore[arg-type]


# --- malformed payloads with a valid CRC: events only, never an exception --------------------------------
DEVICE_TO_HOST = [
    HELLO_11,
    Capture(7, 1_000_000, 433_000_000, 1.5, bytes(range(16))),
    Power((PowerSample(1, 5000, 200), PowerSample(2, 5001, -3))),
    Heartbeat(5, 10, 0, 0, 0x1234, 0, 1),
    Log(1, "hello"),
    Pong(9),
    TimeReply(1, 2, 3),
]
HOST_TO_DEVICE = [
    Start(),
    Stop(),
    Config(1_000_000, 433_000_000, 2.0, 100, 1024, 0),
    Result(7, 2, 0.5, 1000),
    Ping(9),
    TimeRequest(11),
]


def _malformed(payload: bytes) -> list[bytes]:
    cuts = [payload[:n] for n in range(len(payload))]
    return [*cuts, payload + b"\x00", payload + b"\xff" * 9]


@pytest.mark.parametrize(("role", "message"), [("host", m) for m in DEVICE_TO_HOST]
                         + [("device", m) for m in HOST_TO_DEVICE])
def test_truncated_and_padded_payloads_are_payload_errors(role: str, message: object) -> None:
    good = encode_payload(message)  # type: ignore[arg-type]
    d = Decoder(role)  # type: ignore[arg-type]
    for minor in (0, 1):
        for seq, bad in enumerate(_malformed(good)):
            d.forget_peer()
            events = feed(d, packet(message.TYPE, bad, seq=seq, minor=minor))  # type: ignore[attr-defined]
            kinds = [type(e).__name__ for e in events]
            assert kinds.count("Packet") <= 1, (bad, events)
            assert all(isinstance(e, FrameError | Packet | DeviceReset | SequenceGap) or
                       type(e).__name__ == "Incompatible" for e in events)
    # the good payload itself is a packet
    d.forget_peer()
    assert any(isinstance(e, Packet) for e in feed(d, packet(message.TYPE, good, seq=0)))  # type: ignore[attr-defined]


def test_random_payloads_with_valid_crc_yield_only_events() -> None:
    rng = random.Random(17)
    types = list(range(256))
    for role in ("host", "device"):
        d = Decoder(role)  # type: ignore[arg-type]
        for seq in range(1500):
            n = rng.choice([0, 1, 2, 3, 4, 7, 8, 15, 16, 19, 20, 24, 37, 38, 40, 64, rng.randrange(0, 300)])
            payload = bytes(rng.randrange(256) for _ in range(n))
            wire = packet(rng.choice(types), payload, seq=seq % 65536, minor=rng.choice([0, 1, 2]),
                          flags=rng.randrange(256), ts=rng.randrange(1 << 40))
            d.receive_data(wire)  # must not raise
        assert all(e is not None for e in d.events())


@pytest.mark.parametrize(("msg_type", "offset"), [(0x01, 34), (0x04, 16)])
def test_a_payload_too_short_for_its_boot_id_does_not_crash(msg_type: int, offset: int) -> None:
    d = Decoder()
    for n in range(offset - 1, offset + 5):
        d.forget_peer()
        events = feed(d, packet(msg_type, b"\x07" * n, minor=1))
        assert events and all(isinstance(e, FrameError | Packet) for e in events)
        assert d.boot_id == (0x07070707 if n >= offset + 4 else None)


# --- duplicates, resets, gaps at their boundaries ----------------------------------------------------------
def test_duplicates_are_remembered_for_exactly_64_packets() -> None:
    d = Decoder()
    first = packet(0x05, encode_payload(Log(1, "a")), seq=0, ts=1)
    feed(d, first)
    for s in range(1, 64):
        feed(d, packet(0x05, encode_payload(Log(1, "a")), seq=s, ts=1))
    assert feed(d, first) == [Duplicate(0)] and d.stats.duplicates == 1  # 64 remembered: 0..63
    d = Decoder()
    feed(d, first)
    for s in range(1, 65):
        feed(d, packet(0x05, encode_payload(Log(1, "a")), seq=s, ts=1))
    assert not any(isinstance(e, Duplicate) for e in feed(d, first))  # 0 was forgotten


def test_same_sequence_other_crc_is_not_a_duplicate() -> None:
    d = Decoder()
    feed(d, packet(0x05, encode_payload(Log(1, "a")), seq=5, ts=1))
    events = feed(d, packet(0x05, encode_payload(Log(1, "b")), seq=5, ts=1))
    assert not any(isinstance(e, Duplicate) for e in events) and d.stats.duplicates == 0


def _log(seq: int, ts: int) -> bytes:
    return packet(0x05, encode_payload(Log(1, "x")), seq=seq, ts=ts)


def test_a_clock_back_by_more_than_one_second_is_a_reset() -> None:
    d = Decoder()
    feed(d, _log(0, 5_000_000))
    assert [type(e) for e in feed(d, _log(1, 4_000_000))] == [Packet]  # back exactly 1 s: reordering
    events = feed(d, _log(2, 3_999_999))
    assert isinstance(events[0], DeviceReset) and events[0].cause == "uptime"
    assert d.stats.device_resets == 1 and d.stats.lost_packets == 2


def test_half_the_sequence_space_back_is_a_reset_just_less_is_a_gap() -> None:
    d = Decoder()
    feed(d, _log(40000, 10))
    feed(d, _log(40001, 10))  # expected 40002
    events = feed(d, _log((40002 + 32767) % 65536, 10))
    assert events[0] == SequenceGap(40002, (40002 + 32767) % 65536, 32767)
    d = Decoder()
    feed(d, _log(40000, 10))
    events = feed(d, _log((40001 + 32768) % 65536, 10))
    assert isinstance(events[0], DeviceReset) and events[0].cause == "sequence"


def test_wrap_around_is_no_gap() -> None:
    d = Decoder()
    feed(d, _log(65535, 1))
    assert [type(e) for e in feed(d, _log(0, 2))] == [Packet]
    assert d.stats.lost_packets == 0


def test_host_sequence_on_the_device_side() -> None:
    d = Decoder("device")
    ping = encode_payload(Ping(1))
    feed(d, packet(0x85, ping, seq=65535))
    assert [type(e) for e in feed(d, packet(0x85, ping, seq=0))] == [Packet]
    assert feed(d, packet(0x85, ping, seq=3))[0] == SequenceGap(1, 3, 2)
    # back by exactly half the space: a new host session, never loss
    assert feed(d, packet(0x85, ping, seq=4 + 32768))[0] == PeerRestart(4, 32772)
    # ahead by one less than half: packets lost
    assert feed(d, packet(0x85, ping, seq=4))[0] == SequenceGap(32773, 4, 32767)
    assert d.stats.peer_restarts == 1 and d.stats.lost_packets == 2 + 32767


def test_boot_hello_of_a_known_boot_is_no_reset_a_new_boot_id_is() -> None:
    d = Decoder()
    hello = encode_payload(HELLO_11)
    feed(d, packet(0x01, hello, seq=0, flags=BOOT, ts=1))
    assert d.boot_id == 0x1234
    assert [type(e) for e in feed(d, packet(0x01, hello, seq=1, flags=BOOT, ts=2))] == [Packet]
    other = encode_payload(Hello(1, 1, 1, 0, 0, 42, 1_000_000, 1, 1024, 433_000_000, 0, 0x9999, 0, 100, 0))
    events = feed(d, packet(0x01, other, seq=0, flags=BOOT, ts=3))
    assert isinstance(events[0], DeviceReset) and events[0].cause == "boot_hello"
    assert d.boot_id == 0x9999
    hb = encode_payload(Heartbeat(5, 10, 0, 0, 0x4242, 0, 1))
    events = feed(d, packet(0x04, hb, seq=1, ts=4))
    assert isinstance(events[0], DeviceReset) and events[0].cause == "boot_id" and events[0].lost == 1


# --- counters add up; state is reset where documented ----------------------------------------------------
def test_every_counter_adds_up() -> None:
    d = Decoder()
    body = HEADER.pack(1, 1, 0x7F, 0, 0, 0, 0)
    bad_crc = frame_of(body + struct.pack("<I", binascii.crc32(body) ^ 1))
    short = frame_of(b"\x01\x02")
    for _ in range(2):
        feed(d, bad_crc)
        feed(d, short)
        feed(d, b"\x01" * (MAX_ENCODED + 1) + b"\x00")
        feed(d, packet(0x04, b"", major=3))
    s = d.stats
    assert (s.crc_failures, s.framing_errors, s.resyncs, s.version_mismatches) == (2, 2, 2, 2)
    log = encode_payload(Log(1, "a"))
    feed(d, packet(0x05, log, seq=0, ts=10))
    feed(d, packet(0x05, log, seq=0, ts=10))
    feed(d, packet(0x05, log, seq=0, ts=10))
    assert d.stats.duplicates == 2
    feed(d, packet(0x7E, b"", seq=1, ts=10))
    feed(d, packet(0x7E, b"", seq=2, ts=10))
    assert d.stats.unknown_types == 2
    feed(d, packet(0x05, log, seq=5, ts=10))  # 3, 4 lost
    feed(d, packet(0x05, log, seq=9, ts=10))  # 6, 7, 8 lost
    assert d.stats.lost_packets == 5
    feed(d, packet(0x05, log, seq=10, ts=10_000_000))
    feed(d, packet(0x05, log, seq=11, ts=1))  # clock back: reset, 11 lost
    feed(d, packet(0x05, log, seq=12, ts=2_000_000))
    feed(d, packet(0x05, log, seq=13, ts=1))  # clock back again
    assert d.stats.device_resets == 2 and d.stats.lost_packets == 5 + 11 + 13
    assert d.stats.packets == 2 + 3 + 2 + 2 - 2  # the logs that were neither duplicates nor resets


def test_incompatible_hellos_are_counted_with_their_sequence() -> None:
    bad = Hello(1, 1, 1, 0, 0, 42, 1_000_000, 99, 1024, 433_000_000, 0, 0x1234, 0, 100, 0)  # format 99
    d = Decoder()
    events = feed(d, packet(0x01, forge_payload(bad), seq=4))
    assert type(events[-1]).__name__ == "Incompatible" and events[-1].seq == 4  # type: ignore[attr-defined]
    feed(d, packet(0x01, forge_payload(bad), seq=5))
    assert d.stats.incompatible == 2 and d.stats.packets == 0


def test_next_event_pops_one_then_none() -> None:
    d = Decoder()
    assert d.next_event() is None
    d.receive_data(packet(0x7F, b"", seq=1) + packet(0x7F, b"", seq=2))
    assert d.next_event() == UnknownMessage(0x7F, 1, b"")
    assert d.next_event() == UnknownMessage(0x7F, 2, b"")
    assert d.next_event() is None


def test_a_memoryview_as_the_first_chunk() -> None:
    d = Decoder()
    assert feed(d, memoryview(packet(0x7F, b"y", seq=1))) == [UnknownMessage(0x7F, 1, b"y")]  # type: ignore[arg-type]


def test_after_a_resync_the_following_chunks_are_read_normally() -> None:
    d = Decoder()
    feed(d, b"\x01" * (MAX_ENCODED + 1))
    assert feed(d, b"\x02\x00" + packet(0x7F, b"", seq=1)) == [UnknownMessage(0x7F, 1, b"")]
    assert feed(d, packet(0x7F, b"", seq=2)) == [UnknownMessage(0x7F, 2, b"")]


def test_a_frame_of_exactly_the_maximum_encoded_size_is_decoded() -> None:
    # no zero byte anywhere, so COBS adds one code byte per 254: the longest possible frame
    payload = b"\x01" * MAX_PAYLOAD
    for ts in range(1, 1 << 20):
        body = HEADER.pack(1, 1, 0x7F, 0xFF, 0x0101, MAX_PAYLOAD, 0x0101010101010000 + ts) + payload
        raw = body + struct.pack("<I", binascii.crc32(body))
        if b"\x00" not in raw:
            break
    wire = cobs.encode(raw)
    assert len(wire) == MAX_ENCODED
    d = Decoder()
    events = feed(d, wire + b"\x00")
    assert [type(e) for e in events] == [UnknownMessage]


def test_forgetting_resets_buffers_and_the_peer() -> None:
    d = Decoder()
    assert d.boot_id is None
    feed(d, b"\x01\x02\x03")
    d.forget_sequence()
    assert d.buffered_bytes == 0
    assert feed(d, packet(0x7F, b"", seq=1)) == [UnknownMessage(0x7F, 1, b"")]
    hello = encode_payload(HELLO_11)
    feed(d, packet(0x01, hello, seq=0, flags=BOOT, ts=5))
    resets = d.stats.device_resets
    d.forget_peer()
    assert d.boot_id is None
    # a new peer: its BOOT HELLO is its first packet, not a reset of the old one
    assert [type(e) for e in feed(d, packet(0x01, hello, seq=0, flags=BOOT, ts=1))] == [Packet]
    assert d.stats.device_resets == resets


def test_a_1_0_boot_hello_is_never_a_duplicate_other_repeats_are() -> None:
    hello_10 = encode_payload(Hello(1, 0, 1, 0, 0, 42, 1_000_000, 1, 1024, 433_000_000, 0), minor=0)
    d = Decoder()
    wire = packet(0x01, hello_10, seq=0, flags=BOOT, minor=0, ts=1)
    feed(d, wire)
    events = feed(d, wire)  # byte-identical: a quick reboot of a 1.0 device
    assert isinstance(events[0], DeviceReset) and events[0].cause == "boot_hello"
    for wire in (
        packet(0x01, hello_10, seq=0, flags=0, minor=0, ts=1),  # not BOOT
        packet(0x01, encode_payload(HELLO_11), seq=0, flags=BOOT, minor=1, ts=1),  # 1.1: has a boot ID
        packet(0x05, encode_payload(Log(1, "a"), minor=0), seq=0, flags=BOOT, minor=0, ts=1),  # not a HELLO
    ):
        d = Decoder()
        feed(d, wire)
        assert feed(d, wire) == [Duplicate(0)]


def test_a_boot_hello_of_unknown_boot_id_is_a_reset_only_at_sequence_zero() -> None:
    log10 = encode_payload(Log(1, "a"), minor=0)
    hello = encode_payload(HELLO_11)
    for seq, reset in ((3, False), (0, True)):
        d = Decoder()
        feed(d, packet(0x05, log10, seq=1, minor=0, ts=10))
        feed(d, packet(0x05, log10, seq=2, minor=0, ts=10))  # heard, no boot ID known
        events = feed(d, packet(0x01, hello, seq=seq, flags=BOOT, ts=20))
        assert isinstance(events[0], DeviceReset) is reset, events
        if reset:
            assert events[0].cause == "boot_hello"  # type: ignore[attr-defined]
        assert d.boot_id == 0x1234
    # a 1.0 BOOT HELLO (no boot ID) is a reset whatever its sequence number
    d = Decoder()
    feed(d, packet(0x05, log10, seq=1, minor=0, ts=10))
    hello_10 = encode_payload(Hello(1, 0, 1, 0, 0, 42, 1_000_000, 1, 1024, 433_000_000, 0), minor=0)
    events = feed(d, packet(0x01, hello_10, seq=2, flags=BOOT, minor=0, ts=20))
    assert isinstance(events[0], DeviceReset) and events[0].cause == "boot_hello"


def test_a_boot_id_after_a_stream_without_one_is_adopted_not_a_reset() -> None:
    d = Decoder()
    feed(d, packet(0x05, encode_payload(Log(1, "a"), minor=0), seq=0, minor=0, ts=10))
    hb = encode_payload(Heartbeat(5, 10, 0, 0, 0x4242, 0, 1))
    assert [type(e) for e in feed(d, packet(0x04, hb, seq=1, ts=20))] == [Packet]
    assert d.boot_id == 0x4242


def test_the_clock_of_a_new_boot_is_the_reference_after_a_reset() -> None:
    d = Decoder()
    log = encode_payload(Log(1, "a"))
    feed(d, packet(0x05, log, seq=0, ts=50_000_000))
    events = feed(d, packet(0x05, log, seq=1, ts=10_000_000))  # back 40 s: a reset
    assert isinstance(events[0], DeviceReset)
    events = feed(d, packet(0x05, log, seq=2, ts=8_000_000))  # back 2 s from the new boot's clock
    assert isinstance(events[0], DeviceReset) and events[0].cause == "uptime"


@pytest.mark.parametrize(
    ("minor", "accepted"), [(m, m > PROTOCOL_MINOR) for m in range(PROTOCOL_MINOR + 2)]
)
def test_a_longer_payload_is_refused_up_to_this_minor_and_accepted_from_a_newer_one(minor: int,
                                                                                     accepted: bool) -> None:
    d = Decoder()
    padded = encode_payload(Log(1, "a"), minor=min(minor, PROTOCOL_MINOR)) + b"\x00\x00"
    events = feed(d, packet(0x05, padded, seq=0, minor=minor))
    if accepted:
        assert [type(e) for e in events] == [Packet]
    else:
        assert [(type(e), e.kind) for e in events] == [(FrameError, "payload")]  # type: ignore[attr-defined]
        assert events[0].detail and events[0].detail != "None"  # type: ignore[attr-defined]


def test_a_cobs_error_says_what_went_wrong() -> None:
    (e,) = feed(Decoder(), b"\x05\x01\x00")
    assert isinstance(e, FrameError) and e.detail and e.detail != "None"


def test_encode_payload_uses_the_layout_of_the_minor_asked_for() -> None:
    hello_10 = Hello(1, 0, 1, 0, 0, 42, 1_000_000, 1, 1024, 433_000_000, 0)
    assert len(encode_payload(hello_10, minor=0)) == 34 and len(encode_payload(HELLO_11)) == 46
    assert len(encode_payload(HELLO_11, 1)) == 46
