"""The decoder under damage: exact accounting of every recovered and lost packet, bounded
buffering, versions, unknown types, sequence wrap-around and device resets."""

from __future__ import annotations

import random

import pytest
from fb_strategies import device_messages
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge import (
    MAX_ENCODED_SIZE,
    Decoder,
    DeviceReset,
    FrameError,
    Heartbeat,
    Hello,
    Packet,
    PacketFlag,
    Ping,
    Pong,
    SequenceGap,
    UnknownMessage,
    VersionMismatch,
    encode,
)
from firmware_bridge.codec import build_header, encode_raw
from firmware_bridge.messages import MessageType

HELLO = Hello(1, 0, 1, 0, 0, 42, 1_000_000, 1, 1024, 433_000_000, 0)
OPS = ["keep", "keep", "keep", "flip", "truncate", "drop", "garbage_before", "overlong_before"]


def _feed(decoder: Decoder, stream: bytes, cuts: list[int]) -> list:
    """Feed ``stream`` split at ``cuts``, draining events after every chunk."""
    events = []
    start = 0
    for cut in [*sorted(cuts), len(stream)]:
        decoder.receive_data(stream[start:cut])
        assert decoder.buffered_bytes <= MAX_ENCODED_SIZE
        events.extend(decoder.events())
        start = max(start, cut)
    return events


@st.composite
def damaged_streams(draw):
    """A stream of packets, each kept, damaged, dropped or preceded by junk. The first and last
    are kept: a loss is only visible between two received packets."""
    messages = draw(
        st.lists(
            device_messages.filter(lambda m: not isinstance(m, Hello)), min_size=2, max_size=12
        )
    )
    first_seq = draw(st.integers(0, 0xFFFF))
    stream = bytearray()
    kept, packets = [], []
    for i, message in enumerate(messages):
        seq = (first_seq + i) & 0xFFFF
        packet = encode(message, seq, i)
        packets.append(packet)
        op = "keep" if i in (0, len(messages) - 1) else draw(st.sampled_from(OPS))
        if op == "garbage_before":
            stream += draw(st.binary(min_size=1, max_size=64)) + b"\x00"
        elif op == "overlong_before":
            stream += bytes([0x5A]) * (MAX_ENCODED_SIZE + draw(st.integers(1, 300))) + b"\x00"
        if op in ("keep", "garbage_before", "overlong_before"):
            stream += packet
            kept.append(Packet(message, seq, i, 0, 0))
        elif op == "flip":
            damaged = bytearray(packet)
            pos = draw(st.integers(0, len(packet) - 2))
            damaged[pos] ^= draw(st.integers(1, 255))
            stream += damaged
        elif op == "truncate":
            stream += packet[: draw(st.integers(0, len(packet) - 2))] + b"\x00"
    cuts = draw(st.lists(st.integers(0, len(stream)), max_size=8))
    return bytes(stream), kept, len(messages) - len(kept), packets, cuts


@settings(max_examples=150, deadline=None)
@given(damaged_streams())
def test_damage_costs_the_damaged_packets_only_and_is_counted_exactly(case):
    stream, kept, n_lost, packets, cuts = case
    decoder = Decoder("host")
    events = _feed(decoder, stream, cuts)

    assert [e for e in events if isinstance(e, Packet)] == kept
    stats = decoder.stats
    assert stats.packets == len(kept)
    assert stats.lost_packets == n_lost
    assert sum(e.lost for e in events if isinstance(e, SequenceGap)) == n_lost
    # every non-empty delimited segment that is not an intact packet is exactly one error
    intact = {p[:-1] for p in packets}
    damaged = [s for s in stream.split(b"\x00")[:-1] if s and s not in intact]
    errors = [e for e in events if isinstance(e, FrameError)]
    assert len(errors) == len(damaged)
    assert stats.crc_failures + stats.framing_errors + stats.resyncs == len(damaged)
    assert stats.bytes == len(stream)


@settings(max_examples=200, deadline=None)
@given(garbage=st.binary(max_size=3000), cuts=st.lists(st.integers(0, 3000), max_size=6))
def test_arbitrary_garbage_never_raises_and_a_following_packet_survives(garbage, cuts):
    decoder = Decoder("host")
    packet = encode(Pong(7), 3, 99)
    events = _feed(decoder, garbage + b"\x00" + packet, [c for c in cuts if c <= len(garbage)])
    allowed = (Packet, FrameError, SequenceGap, UnknownMessage, VersionMismatch, DeviceReset)
    assert all(isinstance(e, allowed) for e in events)
    assert events[-1] == Packet(Pong(7), 3, 99, 0, 0)


def test_endless_garbage_is_discarded_with_a_bounded_buffer():
    decoder = Decoder("host")
    rng = random.Random(1)
    for _ in range(50):
        decoder.receive_data(bytes(rng.randint(1, 255) for _ in range(997)))
        assert decoder.buffered_bytes <= MAX_ENCODED_SIZE
    decoder.receive_data(b"\x00" + encode(Pong(1), 0, 0))
    events = list(decoder.events())
    assert [type(e) for e in events] == [FrameError, Packet]
    assert events[0].kind == "overflow"
    assert decoder.stats.resyncs == 1 and decoder.stats.framing_errors == 0


def test_empty_frames_are_padding_not_errors():
    decoder = Decoder("host")
    decoder.receive_data(b"\x00\x00" + encode(Pong(1), 0, 0) + b"\x00")
    assert [type(e) for e in decoder.events()] == [Packet]
    assert decoder.stats.framing_errors == 0


@pytest.mark.parametrize(
    ("seqs", "lost"),
    [([65534, 65535, 0, 1], 0), ([65535, 2], 2), ([10, 9], 65534), ([0, 0], 65535)],
)
def test_sequence_gaps_wrap_around_u16(seqs, lost):
    decoder = Decoder("host")
    for seq in seqs:
        decoder.receive_data(encode(Pong(seq), seq, 0))
    assert decoder.stats.lost_packets == lost
    assert decoder.stats.packets == len(seqs)


def test_boot_hello_mid_stream_is_a_reset_not_a_loss():
    decoder = Decoder("host")
    decoder.receive_data(encode(HELLO, 0, 0, PacketFlag.BOOT))  # first HELLO: not a reset
    for seq in range(1, 500):
        decoder.receive_data(encode(Heartbeat(seq, 0, 0, 0), seq, seq))
    decoder.receive_data(encode(HELLO, 0, 0, PacketFlag.BOOT) + encode(Pong(1), 1, 1))
    events = list(decoder.events())
    resets = [e for e in events if isinstance(e, DeviceReset)]
    assert resets == [DeviceReset(0)]
    assert isinstance(events[-2].message, Hello)  # the HELLO follows its reset event
    assert decoder.stats.lost_packets == 0 and decoder.stats.device_resets == 1


def test_solicited_hello_keeps_sequence_tracking():
    decoder = Decoder("host")
    decoder.receive_data(encode(Pong(1), 5, 0) + encode(HELLO, 9, 0))
    assert decoder.stats.lost_packets == 3 and decoder.stats.device_resets == 0


def test_major_version_mismatch_is_reported_and_skipped():
    decoder = Decoder("host")
    raw = build_header(MessageType.PONG, 0, 0, 4, major=2, minor=3) + b"\x01\x00\x00\x00"
    decoder.receive_data(encode_raw(raw) + encode(Pong(5), 1, 0))
    events = list(decoder.events())
    assert events[0] == VersionMismatch(2, 3, MessageType.PONG)
    assert events[1] == Packet(Pong(5), 1, 0, 0, 0)
    assert decoder.stats.version_mismatches == 1 and decoder.stats.packets == 1


def test_newer_minor_version_trailing_fields_are_ignored():
    decoder = Decoder("host")
    payload = (5).to_bytes(4, "little") + b"future fields"
    raw = build_header(MessageType.PONG, 0, 7, len(payload), minor=4) + payload
    decoder.receive_data(encode_raw(raw))
    assert list(decoder.events()) == [Packet(Pong(5), 0, 7, 0, 4)]


def test_same_minor_version_with_trailing_bytes_is_malformed():
    decoder = Decoder("host")
    payload = (5).to_bytes(4, "little") + b"xx"
    decoder.receive_data(encode_raw(build_header(MessageType.PONG, 0, 7, len(payload)) + payload))
    events = list(decoder.events())
    assert len(events) == 1 and isinstance(events[0], FrameError)
    assert events[0].kind == "payload" and decoder.stats.framing_errors == 1


def test_unknown_and_wrong_direction_types_are_counted_and_skipped():
    decoder = Decoder("host")
    unknown = encode_raw(build_header(0x7E, 0, 0, 3) + b"abc")
    decoder.receive_data(unknown + encode(Ping(1), 1, 0) + encode(Pong(2), 2, 0))
    events = list(decoder.events())
    assert events == [
        UnknownMessage(0x7E, 0, b"abc"),
        UnknownMessage(MessageType.PING, 1, b"\x01\x00\x00\x00"),
        Packet(Pong(2), 2, 0, 0, 0),
    ]
    assert decoder.stats.unknown_types == 2 and decoder.stats.lost_packets == 0


def test_length_field_mismatch_is_a_framing_error():
    decoder = Decoder("host")
    decoder.receive_data(encode_raw(build_header(MessageType.PONG, 0, 0, 9) + b"\x01\x02\x03\x04"))
    events = list(decoder.events())
    assert [e.kind for e in events if isinstance(e, FrameError)] == ["length"]


def test_invalid_role_is_refused():
    with pytest.raises(ValueError, match="role"):
        Decoder("both")  # type: ignore[arg-type]
