"""Host and device Connections talking to each other over an in-memory pipe (h11 ConnectionPair
style): the handshake state table, resets, refused versions and role checks."""

from __future__ import annotations

import dataclasses

import pytest

from firmware_bridge import (
    Capture,
    Config,
    Connection,
    ConnectionState,
    DeviceReset,
    DeviceState,
    Heartbeat,
    Hello,
    Incompatible,
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
from firmware_bridge._state import ConnectionState as S
from firmware_bridge.codec import build_header, encode_raw, forge_payload
from firmware_bridge.layouts import PROTOCOL_MINOR
from firmware_bridge.messages import MessageType

HELLO = Hello(1, 1, 1, 2, 3, 0xABCDEF, 2_000_000, 1, 1024, 433_920_000, 0x07, 0x5EED, 0, 100, 0)
HELLO_10 = Hello(1, 0, 1, 2, 3, 0xABCDEF, 2_000_000, 1, 1024, 433_920_000, 0x07)
CAPTURE = Capture(1, 2_000_000, 433_920_000, 10.0, b"\x01\x00\x02\x00" * 8)


def _with(state: DeviceState, **kw) -> Hello:
    return dataclasses.replace(HELLO, state=int(state), **kw)


class Pair:
    """A host and a device Connection wired back to back."""

    def __init__(self, device_minor: int = 1) -> None:
        self.host = Connection("host", clock_us=lambda: 1)
        ticks = iter(range(2, 1 << 40, 1_000))  # the device clock moves: no two packets alike
        self.device = Connection("device", clock_us=lambda: next(ticks), minor=device_minor)

    def host_sends(self, message):
        self.device.receive_data(self.host.send(message))
        return list(self.device.events())

    def device_sends(self, message, flags=0):
        self.host.receive_data(self.device.send(message, flags=flags))
        return list(self.host.events())


def test_handshake_walks_the_host_and_device_state_tables():
    pair = Pair()
    assert pair.host.state is ConnectionState.IDLE
    assert pair.host_sends(Ping(1)) == [Packet(Ping(1), 0, 1, 0, PROTOCOL_MINOR)]
    pair.device_sends(Pong(1))
    assert pair.host.state is ConnectionState.IDLE
    events = pair.device_sends(HELLO)  # a solicited HELLO: no BOOT flag, no reset
    assert events == [Packet(HELLO, 1, 1_002, 0, 1)]  # the device of this pair speaks 1.1
    assert pair.host.state is ConnectionState.HELLO_RECEIVED
    assert pair.host.peer_hello == HELLO and pair.host.peer_minor == 1

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


def test_the_host_state_follows_what_a_11_device_says():
    pair = Pair()
    pair.device_sends(_with(DeviceState.IDLE))
    pair.host_sends(Start())
    assert pair.host.state is ConnectionState.STREAMING
    # the device says it is idle (it rebooted and the BOOT HELLO was lost, say): believe it
    pair.device_sends(Heartbeat(5, 0, 0, 0, 0x5EED, 0, int(DeviceState.IDLE)))
    assert pair.host.state is ConnectionState.HELLO_RECEIVED
    pair.device_sends(_with(DeviceState.STREAMING))
    assert pair.host.state is ConnectionState.STREAMING
    pair.device_sends(_with(DeviceState.STOPPED))
    assert pair.host.state is ConnectionState.STOPPED


def test_device_reset_mid_stream_restarts_sequence_and_state():
    pair = Pair(device_minor=0)
    pair.device_sends(HELLO_10, flags=PacketFlag.BOOT)
    pair.host_sends(Start())
    for _ in range(20):
        pair.device_sends(CAPTURE)
    pair.device.reset_tx_sequence()  # the MCU rebooted
    events = pair.device_sends(HELLO_10, flags=PacketFlag.BOOT)
    assert [type(e) for e in events] == [DeviceReset, Packet]
    assert pair.host.state is ConnectionState.HELLO_RECEIVED
    pair.device_sends(CAPTURE)
    assert pair.host.stats.lost_packets == 0 and pair.host.stats.device_resets == 1


def test_a_boot_hello_after_a_reconnect_is_a_reset():
    pair = Pair(device_minor=0)
    pair.device_sends(HELLO_10, flags=PacketFlag.BOOT)
    pair.host_sends(Start())
    pair.device_sends(CAPTURE)
    pair.host.link_lost()  # unplugged; the device rebooted while away
    pair.device.reset_tx_sequence()
    events = pair.device_sends(HELLO_10, flags=PacketFlag.BOOT)
    assert [type(e) for e in events] == [DeviceReset, Packet]
    assert pair.host.state is ConnectionState.HELLO_RECEIVED
    assert pair.host.stats.device_resets == 1 and pair.host.stats.lost_packets == 0


def test_an_incompatible_hello_blocks_start_until_a_compatible_one():
    pair = Pair()
    bad = _with(DeviceState.IDLE, sample_format=9)
    payload = forge_payload(bad)
    pair.host.receive_data(encode_raw(build_header(MessageType.HELLO, 0, 0, len(payload)) + payload))
    (event,) = list(pair.host.events())
    assert isinstance(event, Incompatible) and event.hello.sample_format == 9
    assert pair.host.state is ConnectionState.INCOMPATIBLE and pair.host.incompatible == event
    with pytest.raises(LocalProtocolError, match="cannot send START"):
        pair.host.send(Start())
    pair.host.send(Stop())  # always allowed
    pair.device_sends(Heartbeat(1, 0, 0, 0, 0x5EED, 0, int(DeviceState.STREAMING)))
    assert pair.host.state is ConnectionState.INCOMPATIBLE  # a HEARTBEAT does not lift it
    pair.device_sends(_with(DeviceState.IDLE))
    assert pair.host.state is ConnectionState.HELLO_RECEIVED and pair.host.incompatible is None


def test_capture_heard_while_idle_means_the_device_is_already_streaming():
    pair = Pair()
    pair.device_sends(CAPTURE)
    assert pair.host.state is ConnectionState.STREAMING


def test_a_major_version_mismatch_is_refused_with_a_clear_error():
    host = Connection("host")
    raw = build_header(MessageType.HELLO, 0, 0, 0, major=2, minor=1)
    host.receive_data(encode_raw(raw))
    with pytest.raises(RemoteProtocolError, match=r"protocol 2\.1.*we speak 1\.2"):
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


def test_a_host_restart_is_not_counted_as_loss_by_the_device():
    device = Connection("device")
    first, second = Connection("host"), Connection("host")
    for _ in range(50):
        device.receive_data(first.send(Ping(1)))
    device.receive_data(second.send(Ping(2)))  # a new host session starts again at 0
    list(device.events())
    assert device.stats.lost_packets == 0 and device.stats.peer_restarts == 1


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
        for trigger in (Trigger.SEND_STOP, Trigger.RECV_HELLO, Trigger.RECV_RESET):
            assert (state, trigger) in HOST_TRANSITIONS
        if state is not S.INCOMPATIBLE:
            assert (state, Trigger.SEND_START) in HOST_TRANSITIONS
