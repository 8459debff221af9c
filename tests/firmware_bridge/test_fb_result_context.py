"""Protocol 1.2's optional RESULT context: round trip, refusals, and old receivers."""

from __future__ import annotations

import struct

import pytest

from firmware_bridge import PROTOCOL_MINOR, LocalProtocolError, Result, ResultContext, ResultFlag
from firmware_bridge.layouts import PARSERS, PayloadError, pack_payload, parse_payload
from firmware_bridge.messages import MessageType

CTX = ResultContext(0.6117, 0.5526, 0.668, 273)
WITH = Result(9, 4, 0.9375, 38_000, ResultFlag.CONTEXT, CTX)


def test_layout_is_the_1_1_payload_plus_eight_bytes() -> None:
    assert PROTOCOL_MINOR == 2
    payload = pack_payload(WITH)
    assert len(payload) == 24
    # independent of the packer: the documented layout, by hand
    assert payload[16:] == struct.pack("<HHHH", 6117, 5526, 6680, 273)
    assert payload[6] == 0x10
    assert parse_payload(MessageType.RESULT, payload) == WITH


def test_without_context_a_result_is_16_bytes_as_before() -> None:
    plain = Result(9, 4, 0.9375, 38_000, ResultFlag.UNKNOWN)
    assert len(pack_payload(plain)) == 16
    assert parse_payload(MessageType.RESULT, pack_payload(plain)) == plain


def test_a_1_1_receiver_reads_a_1_2_result_and_ignores_the_field() -> None:
    """A 1.1 receiver parses with its own layout (minor 1) and, the packet's minor being newer,
    ignores appended bytes: exactly the call a 1.1 receiver makes."""
    old = PARSERS[MessageType.RESULT](pack_payload(WITH), 1, False)
    assert old == Result(9, 4, 0.9375, 38_000, ResultFlag.CONTEXT)  # unknown flag bit kept, ignored
    assert old.context is None


def test_a_1_1_packet_is_never_read_as_having_context() -> None:
    # 16 bytes sent by a 1.1 host: any flag bit 4 there is not the 1.2 flag
    payload = pack_payload(Result(1, 2, 0.5, 3, 0), minor=1)
    raw = bytearray(payload)
    raw[6] = 0x10
    assert parse_payload(MessageType.RESULT, bytes(raw), version_minor=1).context is None


@pytest.mark.parametrize(
    ("message", "minor", "why"),
    [
        (WITH, 1, r"does not exist in protocol 1\.1"),
        (Result(9, 4, 0.5, 1, ResultFlag.CONTEXT), 2, "both or neither"),
        (Result(9, 4, 0.5, 1, 0, CTX), 2, "both or neither"),
        (Result(9, 4, 0.5, 1, ResultFlag.CONTEXT, ResultContext(0.5, 0.6, 0.7, 1)), 2, "ci_low <= precision"),
        (Result(9, 4, 0.5, 1, ResultFlag.CONTEXT, ResultContext(0.5, 0.4, 1.5, 1)), 2, r"in \[0, 1\]"),
        (Result(9, 4, 0.5, 1, ResultFlag.CONTEXT, ResultContext(0.5, 0.4, 0.6, 70_000)), 2, "out of range"),
    ],
)
def test_packer_refuses(message: Result, minor: int, why: str) -> None:
    with pytest.raises(LocalProtocolError, match=why):
        pack_payload(message, minor)


@pytest.mark.parametrize(
    "payload",
    [
        struct.pack("<IHBBfI", 1, 2, 0x10, 0, 0.5, 3),  # flag without the field
        struct.pack("<IHBBfI", 1, 2, 0x00, 0, 0.5, 3) + struct.pack("<HHHH", 5, 4, 6, 1),  # field, no flag
        struct.pack("<IHBBfI", 1, 2, 0x10, 0, 0.5, 3) + struct.pack("<HHHH", 5, 6, 7, 1),  # low > precision
        struct.pack("<IHBBfI", 1, 2, 0x10, 0, 0.5, 3) + struct.pack("<HHHH", 5, 4, 10_001, 1),
    ],
)
def test_parser_refuses_a_malformed_context(payload: bytes) -> None:
    with pytest.raises(PayloadError):
        parse_payload(MessageType.RESULT, payload)
