"""Host and device Connections talking to each other over an in-memory pipe (h11 ConnectionPair
style): the handshake state table, resets, refused versions and role checks."""

from __future__ import annotations

import pytest

from firmware_bridge import (
    Capture,
    Config,
    Connection,
    ConnectionState,
    DeviceReset,
    Hello,
    LocalProtocolError,
    Packet,
    PacketFlag,
    Ping,
    Pong,
    RemoteProtocolError,
    Result,
    ResultFlag,
    Start,
    Stop,
)
from firmware_bridge._state import HOST_TRANSITIONS, Trigger
from firmware_bridge.codec import build_header, encode_raw
from firmware_bridge.messages import MessageType

HELLO = Hello(1, 0, 1, 2, 3, 0xABCDEF, 2_000_000, 1, 1024, 433_920_000, 0x07)
CAPTURE = Capture(1, 2_000_000, 433_920_000, 10.0, b"\x01\x00\x02\x00" * 8)


class Pair:
    """A host and a device Connection wired back to back."""

    def __init__(self) -> None:
        self.host = Connection("host", clock_us=lambda: 1)
        self.device = Connection("device", clock_us=lambda: 2)

    def host_sends(self, message):
        self.device.receive_data(self.host.send(message))
        return list(self.device.events())

    def device_sends(self, message, flags=0):
        self.host.receive_data(self.device.send(message, flags=flags))
        return list(self.host.events())


def test_handshake_walks_the_host_and_device_state_tables():
    pair = Pair()
    assert pair.host.state is ConnectionState.IDLE
    assert pair.host_sends(Ping(1)) == [Packet(Ping(1), 0, 1)]
    pair.device_sends(Pong(1))
    assert pair.host.state is ConnectionState.IDLE
    events = pair.device_sends(HELLO)  # a solicited HELLO: no BOOT flag, no reset
    assert events == [Packet(HELLO, 1, 2, 0)]
    assert pair.host.state is ConnectionState.HELLO_RECEIVED
    assert pair.host.peer_hello == HELLO

    pair.host_sends(Config(2_000_000, 433_920_000, 20.0, 100, 1024, 500))
    pair.host_sends(Start())
    assert pair.host.state is ConnectionState.STREAMING
    assert pair.device.state is ConnectionState.STREAMING
    assert [type(e) for e in pair.device_sends(CAPTURE)] == [Packet]
    pair.host_sends(Result(1, 4, 0.5, 1234, ResultFlag.FALLBACK))
    pair.host_sends(Stop())
    assert pair.host.state is ConnectionState.STOPPED
    assert pair.device.state is ConnectionState.STOPPED
    assert pair.host.stats.lost_packets == 0 and pair.device.stats.lost_packets == 0
    assert pair.host.next_seq == 5 and pair.device.next_seq == 3


def test_device_reset_mid_stream_restarts_sequence_and_state():
    pair = Pair()
    pair.device_sends(HELLO, flags=PacketFlag.BOOT)
    pair.host_sends(Start())
    for _ in range(20):
        pair.device_sends(CAPTURE)
    pair.device.reset_tx_sequence()  # the MCU rebooted
    events = pair.device_sends(HELLO, flags=PacketFlag.BOOT)
    assert [type(e) for e in events] == [DeviceReset, Packet]
    assert pair.host.state is ConnectionState.HELLO_RECEIVED
    pair.device_sends(CAPTURE)
    assert pair.host.stats.lost_packets == 0 and pair.host.stats.device_resets == 1


def test_capture_heard_while_idle_means_the_device_is_already_streaming():
    pair = Pair()
    pair.device_sends(CAPTURE)
    assert pair.host.state is ConnectionState.STREAMING


def test_a_major_version_mismatch_is_refused_with_a_clear_error():
    host = Connection("host")
    raw = build_header(MessageType.HELLO, 0, 0, 0, major=2, minor=1)
    host.receive_data(encode_raw(raw))
    with pytest.raises(RemoteProtocolError, match=r"protocol 2\.1.*we speak 1\.0"):
        host.next_event()
    assert host.stats.version_mismatches == 1
    assert host.next_event() is None  # the refused packet was consumed


@pytest.mark.parametrize(("role", "message"), [("host", CAPTURE), ("device", Start())])
def test_a_role_cannot_send_the_other_roles_messages(role, message):
    connection = Connection(role)
    with pytest.raises(LocalProtocolError, match="cannot send"):
        connection.send(message)
    assert connection.next_seq == 0


def test_a_failed_send_does_not_consume_a_sequence_number():
    host = Connection("host")
    with pytest.raises(LocalProtocolError):
        host.send(Result(1, 1, 2.0, 1))
    assert host.next_seq == 0
    host.send(Ping(1))
    assert host.next_seq == 1


def test_sequence_numbers_wrap_at_u16():
    device = Connection("device")
    host = Connection("host")
    for _ in range(65535):
        device.send(Pong(0))
    assert device.next_seq == 65535
    host.receive_data(device.send(Pong(1)) + device.send(Pong(2)))
    assert [e.seq for e in host.events()] == [65535, 0]
    assert host.stats.lost_packets == 0


def test_state_table_sends_never_dead_end():
    for state in ConnectionState:
        for trigger in (Trigger.SEND_START, Trigger.SEND_STOP, Trigger.RECV_HELLO):
            assert (state, trigger) in HOST_TRANSITIONS
