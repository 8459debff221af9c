"""The decoder under damage: exact accounting of every recovered and lost packet, bounded
buffering, versions, unknown types, sequence wrap-around and device resets."""

from __future__ import annotations

import dataclasses
import random

import pytest
from fb_strategies import stream_messages
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge import (
    MAX_ENCODED_SIZE,
    Decoder,
    DeviceReset,
    FrameError,
    Heartbeat,
    Hello,
    Incompatible,
    Packet,
    PacketFlag,
    Pong,
    SequenceGap,
    UnknownMessage,
    VersionMismatch,
    encode,
)
from firmware_bridge.codec import build_header, encode_raw, forge_payload
from firmware_bridge.layouts import PROTOCOL_MINOR
from firmware_bridge.messages import MessageType

HELLO = Hello(1, 0, 1, 0, 0, 42, 1_000_000, 1, 1024, 433_000_000, 0)  # protocol 1.0
HELLO_11 = Hello(1, 1, 1, 0, 0, 42, 1_000_000, 1, 1024, 433_000_000, 0, 0x1234, 0, 100, 0)
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
            stream_messages,
            min_size=2,
            max_size=12,
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
            kept.append(Packet(message, seq, i, 0, PROTOCOL_MINOR))
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
    assert events[-1] == Packet(Pong(7), 3, 99, 0, PROTOCOL_MINOR)


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
    ("seqs", "lost", "resets", "duplicates"),
    [
        ([65534, 65535, 0, 1], 0, 0, 0),  # wraps without loss
        ([65535, 2], 2, 0, 0),  # 0 and 1 missing
        ([10, 9], 9, 1, 0),  # back by one: a new boot whose packets 0..8 were missed
        ([100, 60, 61], 60, 1, 0),
        ([0, 0], 0, 0, 1),  # the same packet twice
        ([5, 6, 5], 0, 0, 1),  # a duplicate from the recent past
        ([0, 32768], 32767, 0, 0),  # exactly half the space ahead: still a gap
        ([0, 32769], 32769, 1, 0),  # more than half ahead = behind: a restart
    ],
)
def test_sequence_gaps_restarts_and_duplicates(seqs, lost, resets, duplicates):
    decoder = Decoder("host")
    for seq in seqs:
        decoder.receive_data(encode(Pong(seq), seq, 0))
    stats = decoder.stats
    assert (stats.lost_packets, stats.device_resets, stats.duplicates) == (lost, resets, duplicates)
    assert stats.packets == len(seqs) - duplicates


def test_a_lost_boot_hello_is_a_reset_not_65000_lost_packets():
    """The issue's case: the BOOT HELLO (seq 0) is dropped, the next packet has seq 1 where
    seq ~60 was expected. One packet was lost (the BOOT HELLO), and the device rebooted."""
    decoder = Decoder("host")
    decoder.receive_data(b"".join(encode(Pong(seq), seq, 1_000 * seq) for seq in range(60)))
    decoder.receive_data(encode(Pong(1), 1, 20))  # new boot: its clock is back near 0
    events = list(decoder.events())
    assert events[-2:] == [DeviceReset(1, "sequence", None, 1), Packet(Pong(1), 1, 20, 0, PROTOCOL_MINOR)]
    assert decoder.stats.lost_packets == 1 and decoder.stats.device_resets == 1


def test_a_clock_that_goes_back_is_a_reset_even_when_the_sequence_looks_fine():
    decoder = Decoder("host")
    decoder.receive_data(encode(Pong(1), 3, 5_000_000))
    decoder.receive_data(encode(Pong(2), 6, 3_999_999))  # 1 s + 1 µs earlier
    (reset,) = [e for e in decoder.events() if isinstance(e, DeviceReset)]
    assert reset == DeviceReset(6, "uptime", None, 6)
    decoder.receive_data(encode(Pong(3), 7, 3_000_000))  # within the slack: not a reset
    assert decoder.stats.device_resets == 1 and decoder.stats.lost_packets == 6


def test_boot_hello_mid_stream_is_a_reset_not_a_loss():
    """A 1.0 device: no boot ID, the BOOT flag is the reset signal."""
    decoder = Decoder("host")
    decoder.receive_data(encode(HELLO, 0, 0, PacketFlag.BOOT, minor=0))  # first: not a reset
    for seq in range(1, 500):
        decoder.receive_data(encode(Heartbeat(seq, 0, 0, 0), seq, seq, minor=0))
    decoder.receive_data(encode(HELLO, 0, 0, PacketFlag.BOOT, minor=0) + encode(Pong(1), 1, 1, minor=0))
    events = list(decoder.events())
    resets = [e for e in events if isinstance(e, DeviceReset)]
    assert resets == [DeviceReset(0)]
    assert isinstance(events[-2].message, Hello)  # the HELLO follows its reset event
    assert decoder.stats.lost_packets == 0 and decoder.stats.device_resets == 1


def test_solicited_hello_keeps_sequence_tracking():
    decoder = Decoder("host")
    decoder.receive_data(encode(Pong(1), 5, 0) + encode(HELLO, 9, 0, minor=0))
    assert decoder.stats.lost_packets == 3 and decoder.stats.device_resets == 0


def test_a_reset_is_seen_after_a_reconnect_and_costs_no_loss_there():
    decoder = Decoder("host")
    decoder.receive_data(encode(HELLO, 0, 0, PacketFlag.BOOT, minor=0))
    decoder.receive_data(b"".join(encode(Pong(s), s, 9_000_000) for s in range(1, 50)))
    decoder.forget_sequence()  # the port was lost and reopened
    decoder.receive_data(encode(Pong(7), 60, 9_500_000))  # same boot: no reset, no gap
    decoder.forget_sequence()
    decoder.receive_data(encode(HELLO, 3, 1_000, PacketFlag.BOOT, minor=0))  # rebooted meanwhile
    resets = [e for e in decoder.events() if isinstance(e, DeviceReset)]
    assert resets == [DeviceReset(3, "boot_hello", None, 0)]
    assert decoder.stats.lost_packets == 0


def test_boot_ids_tell_resets_from_repeated_boot_hellos():
    boot_a = dataclasses.replace(HELLO_11, boot_id=0xA)
    boot_b = dataclasses.replace(HELLO_11, boot_id=0xB)
    decoder = Decoder("host")
    decoder.receive_data(encode(boot_a, 0, 100, PacketFlag.BOOT))  # first contact
    decoder.receive_data(encode(boot_a, 1, 250_100, PacketFlag.BOOT))  # repeat: same boot
    decoder.receive_data(encode(Pong(1), 2, 300_000))
    decoder.receive_data(encode(boot_b, 3, 400_000, PacketFlag.BOOT))  # rebooted, 0..2 lost
    decoder.receive_data(encode(Heartbeat(1, 0, 0, 0, 0xC, 0, 0), 9, 1_000_000))  # again
    resets = [e for e in decoder.events() if isinstance(e, DeviceReset)]
    assert resets == [DeviceReset(3, "boot_hello", 0xB, 3), DeviceReset(9, "boot_id", 0xC, 9)]
    assert decoder.stats.lost_packets == 12 and decoder.boot_id == 0xC


@pytest.mark.parametrize(
    ("fmt", "spc", "reason"),
    [(2, 1024, "sample_format 2"), (1, 2000, "samples_per_capture 2000"), (1, 0, "outside 1..1024")],
)
def test_a_hello_the_host_cannot_serve_is_an_incompatibility_event(fmt, spc, reason):
    bad = dataclasses.replace(HELLO_11, sample_format=fmt, samples_per_capture=spc)
    payload = forge_payload(bad)
    decoder = Decoder("host")
    decoder.receive_data(encode_raw(build_header(MessageType.HELLO, 0, 0, len(payload)) + payload))
    (event,) = list(decoder.events())
    assert isinstance(event, Incompatible) and event.hello == bad
    assert any(reason in r for r in event.reasons)
    assert decoder.stats.incompatible == 1 and decoder.stats.packets == 0


@pytest.mark.parametrize("size", [4141, 4200])
def test_a_payload_above_the_maximum_is_never_accepted(size):
    payload = b"\x01" * size
    raw = build_header(MessageType.LOG, 0, 0, size) + payload
    decoder = Decoder("host")
    decoder.receive_data(encode_raw(raw) + encode(Pong(1), 1, 0))
    events = list(decoder.events())
    assert [type(e) for e in events] == [FrameError, Packet]
    assert decoder.stats.packets == 1
