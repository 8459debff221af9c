"""Round trips of every message through encode -> Decoder, and encode-side validation."""

from __future__ import annotations

import numpy as np
import pytest
from cobs import cobs
from fb_strategies import all_messages, u16, u64
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge import (
    MAX_ENCODED_SIZE,
    MAX_PACKET_SIZE,
    PROTOCOL_MINOR,
    Capture,
    Config,
    Decoder,
    Heartbeat,
    Hello,
    LocalProtocolError,
    Log,
    Packet,
    Ping,
    Power,
    PowerSample,
    Result,
    TimeRequest,
    encode,
)
from firmware_bridge.codec import HEADER_SIZE, unpack_header
from firmware_bridge.messages import HOST_TO_DEVICE


def _decode_one(data: bytes, role: str):
    decoder = Decoder(role)  # type: ignore[arg-type]
    decoder.receive_data(data)
    events = list(decoder.events())
    return events, decoder


@settings(max_examples=300, deadline=None)
@given(message=all_messages, seq=u16, timestamp_us=u64, flags=st.integers(0, 0xFF))
def test_every_message_round_trips(message, seq, timestamp_us, flags):
    if isinstance(message, Hello):
        flags &= ~0x02  # a BOOT HELLO is covered by the reset tests
    data = encode(message, seq, timestamp_us, flags)
    assert data.endswith(b"\x00") and b"\x00" not in data[:-1]
    assert len(data) - 1 <= MAX_ENCODED_SIZE
    role = "device" if message.TYPE in HOST_TO_DEVICE else "host"
    events, decoder = _decode_one(data, role)
    assert events == [Packet(message, seq, timestamp_us, flags, PROTOCOL_MINOR)]
    assert decoder.stats.packets == 1 and decoder.stats.bytes == len(data)


def test_header_layout_is_little_endian_and_versioned():
    data = encode(Ping(0x01020304), seq=0x0A0B, timestamp_us=0x1122334455667788, flags=1)
    raw = cobs.decode(data[:-1])
    header = unpack_header(raw)
    assert raw[:HEADER_SIZE] == bytes.fromhex("01 02 85 01 0b0a 0400 8877665544332211")
    assert (header.version_major, header.version_minor, header.msg_type) == (1, 2, 0x85)
    assert raw[HEADER_SIZE:-4] == bytes([4, 3, 2, 1])


def test_largest_capture_fits_the_maximum_packet():
    iq = np.full((1024, 2), -1, dtype=np.int16)
    capture = Capture.from_iq(iq, capture_id=1, sample_rate_hz=1, centre_freq_hz=1)
    raw = cobs.decode(encode(capture, 0, 0)[:-1])
    assert len(raw) <= MAX_PACKET_SIZE
    assert capture.n_samples == 1024
    np.testing.assert_array_equal(capture.iq, iq)
    assert capture.iq_complex()[0] == complex(-1, -1)


@pytest.mark.parametrize(
    ("message", "fragment"),
    [
        (Capture(1, 1, 1, 0.0, b"\x00" * 4100), "at most 1024"),
        (Capture(1, 1, 1, 0.0, b"\x00" * 3), "whole (I, Q)"),
        (Capture(1, 1, 1, float("nan"), b""), "finite"),
        (Capture(1, 1, 1, 0.0, b"", sample_format=2), "sample_format"),
        (Power(tuple(PowerSample(0, 0, 0) for _ in range(257))), "at most 256"),
        (Power((PowerSample(0, 70_000, 0),)), "out of range"),
        (Log(1, "é" * 200), "255"),
        (Result(1, 2, 1.5, 3), "[0, 1]"),
        (Ping(-1), "out of range"),
        (Hello(1, 1, 0, 0, 0, 1, 1, 9, 5000, 1, 0, 1, 0, 0, 0), "sample_format 9"),
        (Hello(1, 1, 0, 0, 0, 1, 1, 1, 5000, 1, 0, 1, 0, 0, 0), "samples_per_capture 5000"),
        (Hello(1, 1, 0, 0, 0, 1, 1, 1, 0, 1, 0, 1, 0, 0, 0), "samples_per_capture 0"),
        (Hello(1, 1, 0, 0, 0, 1, 1, 1, 64, 1, 0, 0, 0, 0, 0), "boot_id"),
        (Hello(1, 1, 0, 0, 0, 1, 1, 1, 64, 1, 0, 1, 7, 0, 0), "state 7"),
        (Hello(1, 1, 0, 0, 0, 1, 1, 1, 64, 1, 0, 1, 0, None, 0), "capture_period_ms missing"),
        (Hello(1, 0, 0, 0, 0, 1, 1, 1, 64, 1, 0), "needs boot_id"),  # a 1.0 HELLO at 1.1
        (Heartbeat(1, 2, 3, 4), "needs boot_id"),
        (Config(0, 0, 0.0, 0, 1025, 0), "0..1024"),
        (Config(0, 0, float("inf"), 0, 0, 0), "finite"),
        (Ping("x"), "out of range"),  # wrong types are the protocol's error, not TypeError
        (Log("1", "text"), "out of range"),
        (Log(1, 5), "wrong type"),
        (Capture(1, 1, 1, "loud", b""), "wrong type"),
        (Capture(1, 1, 1, 0.0, [1, 2, 3, 4]), "wrong type"),
        (Power(((0, 3_700, "a"),)), "wrong type"),
    ],
)
def test_invalid_fields_are_local_protocol_errors(message, fragment):
    with pytest.raises(LocalProtocolError, match=None) as info:
        encode(message, 0, 0)
    assert fragment in str(info.value)


@pytest.mark.parametrize(("seq", "timestamp_us", "flags"), [(65536, 0, 0), (0, -1, 0), (0, 0, 256)])
def test_header_fields_out_of_range_are_refused(seq, timestamp_us, flags):
    with pytest.raises(LocalProtocolError, match="header out of range"):
        encode(Ping(1), seq, timestamp_us, flags)


def test_a_10_layout_is_sent_with_minor_0_only():
    hello = Hello(1, 0, 0, 0, 0, 1, 1, 1, 64, 1, 0)
    assert unpack_header(cobs.decode(encode(hello, 0, 0, minor=0)[:-1])).version_minor == 0
    with pytest.raises(LocalProtocolError, match=r"does not exist in protocol 1\.0"):
        encode(TimeRequest(5), 0, 0, minor=0)
    with pytest.raises(LocalProtocolError, match=r"1\.0\.\.1\.2"):
        encode(Ping(1), 0, 0, minor=3)


def test_non_message_is_refused():
    with pytest.raises(LocalProtocolError, match="not a firmware_bridge message"):
        encode("PING", 0, 0)  # type: ignore[arg-type]
