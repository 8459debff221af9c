"""The serial Link on real pseudo-terminals: reading a device, sending, unplug/replug with
reconnect events, a device reset mid-stream, exclusive access and clean closing."""

from __future__ import annotations

import time

import pytest

from firmware_bridge import (
    Capture,
    Decoder,
    DeviceReset,
    Disconnected,
    Hello,
    LinkError,
    Packet,
    PacketFlag,
    Ping,
    Reconnected,
    Result,
    UnknownMessage,
    encode,
    open_link,
)

HELLO = Hello(1, 1, 1, 0, 0, 7, 2_000_000, 1, 16, 433_920_000, 0x03, 0x77, 0, 100, 0)


def _capture(i: int) -> Capture:
    return Capture(i, 2_000_000, 433_920_000, 6.0, bytes([i % 256, 1, 2, 3]) * 16)


def _collect(link, until, limit_s: float = 10.0) -> list:
    """Events until ``until(events)`` holds; the limit only guards against a hung test."""
    events: list = []
    deadline = time.monotonic() + limit_s
    while not until(events):
        assert time.monotonic() < deadline, f"gave up waiting; got {events}"
        event = link.next_event(0.05)
        if event is not None:
            events.append(event)
    return events


def _packets(events) -> list:
    return [e.message for e in events if isinstance(e, Packet)]


def test_link_reads_what_a_pty_device_writes_and_sends_back(pty_device):
    with open_link(str(pty_device.link_path)) as link:
        stream = encode(HELLO, 0, 10, PacketFlag.BOOT)
        stream += b"".join(encode(_capture(i), i + 1, 100 * i) for i in range(20))
        pty_device.write(stream)
        events = _collect(link, lambda ev: len(_packets(ev)) == 21)
        assert _packets(events) == [HELLO] + [_capture(i) for i in range(20)]
        assert link.stats.lost_packets == 0 and link.stats.bytes == len(stream)

        link.send(Result(3, 2, 0.75, 12_000))
        device_side = Decoder("device")
        received: list = []
        deadline = time.monotonic() + 10
        while len(received) < 2 and time.monotonic() < deadline:
            device_side.receive_data(pty_device.read(0.1))
            received += list(device_side.events())
        # the PING every open starts with (PROTOCOL.md 6.1), then what we sent
        assert [e.message for e in received] == [Ping(1), Result(3, 2, 0.75, 12_000)]


def test_unplug_replug_reconnects_and_resumes_the_stream(pty_device):
    link = open_link(str(pty_device.link_path), backoff_initial_s=0.01, backoff_max_s=0.1)
    try:
        pty_device.write(encode(HELLO, 0, 0, PacketFlag.BOOT) + encode(_capture(1), 1, 1))
        _collect(link, lambda ev: len(_packets(ev)) == 2)

        pty_device.unplug()
        events = _collect(link, lambda ev: any(isinstance(e, Disconnected) for e in ev))
        assert not link.is_connected
        with pytest.raises(LinkError, match="link is down"):
            link.send(Ping(1))
        # stay unplugged for a few failed attempts, then plug in
        _collect(link, lambda ev: link.reconnect_attempts >= 2)
        pty_device.plug()
        events = _collect(link, lambda ev: any(isinstance(e, Reconnected) for e in ev))
        (reconnected,) = [e for e in events if isinstance(e, Reconnected)]
        assert reconnected.attempts >= 3
        # every open starts with a 0x00 and a PING (PROTOCOL.md 6.1), the reopen too
        # the 0x00 and the PING may arrive in separate reads: read until a packet is decoded
        device_side = Decoder("device")
        written, got = b"", []
        deadline = time.monotonic() + 2.0
        while not got and time.monotonic() < deadline:
            chunk = pty_device.read(0.2)
            written += chunk
            device_side.receive_data(chunk)
            got = list(device_side.events())
        assert written.startswith(b"\x00")
        assert [type(e.message) for e in got] == [Ping]

        pty_device.write(encode(HELLO, 0, 0, PacketFlag.BOOT) + encode(_capture(2), 1, 1))
        events = _collect(link, lambda ev: _capture(2) in _packets(ev))
        assert _packets(events) == [HELLO, _capture(2)]
        assert link.stats.lost_packets == 0
        assert link.stats.packets == 4
    finally:
        link.close()
        link.close()  # idempotent


def test_device_reset_mid_stream_is_an_event_not_a_loss(pty_device):
    with open_link(str(pty_device.link_path)) as link:
        before = b"".join(encode(_capture(i), 100 + i, i) for i in range(5))
        after = encode(HELLO, 0, 0, PacketFlag.BOOT) + encode(_capture(9), 1, 5)
        pty_device.write(before + after)
        events = _collect(link, lambda ev: _capture(9) in _packets(ev))
        assert [e for e in events if isinstance(e, DeviceReset)] == [DeviceReset(0, "boot_hello", 0x77)]
        assert link.stats.lost_packets == 0 and link.stats.device_resets == 1


def test_exclusive_open_refuses_a_second_user(pty_device):
    with open_link(str(pty_device.link_path)), pytest.raises(LinkError, match="in use"):
        open_link(str(pty_device.link_path))
    with open_link(str(pty_device.link_path)) as again:  # free once closed
        assert again.is_connected


def test_reconnect_gives_up_after_max_attempts(pty_device):
    link = open_link(
        str(pty_device.link_path),
        backoff_initial_s=0.001,
        backoff_max_s=0.01,
        max_reconnect_attempts=3,
    )
    pty_device.unplug()
    with pytest.raises(LinkError, match="gave up after 3"):
        _collect(link, lambda ev: False)
    assert link.next_event(0.01) is None  # closed for good, still answers
    link.close()


def test_reconnect_disabled_ends_the_link(pty_device):
    link = open_link(str(pty_device.link_path), reconnect=False)
    pty_device.unplug()
    events = _collect(link, lambda ev: any(isinstance(e, Disconnected) for e in ev))
    assert isinstance(events[-1], Disconnected)
    assert link.next_event(0.01) is None
    link.close()


def test_path_options_and_bad_paths(pty_device, tmp_path):
    with open_link(f"{pty_device.link_path}?baud=115200&exclusive=0") as link:
        assert link.is_connected
    with pytest.raises(LinkError, match="unknown option 'parity'"):
        open_link(f"{pty_device.link_path}?parity=E")
    with pytest.raises(LinkError, match="cannot open"):
        open_link(str(tmp_path / "no-such-tty"))


def test_pyserial_loop_url_round_trips_bytes():
    with open_link("loop://", timeout_s=0.01) as link:
        link.send(Ping(9))  # looped back to ourselves: a host does not accept PING
        events = _collect(link, lambda ev: len(ev) >= 2)
        assert events == [  # the PING sent on open, then ours
            UnknownMessage(0x85, 0, (1).to_bytes(4, "little")),
            UnknownMessage(0x85, 1, (9).to_bytes(4, "little")),
        ]
