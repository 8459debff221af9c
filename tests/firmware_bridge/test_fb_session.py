"""HostSession, sans-IO: the handshake, retry, watchdog and clock-sync rules of PROTOCOL.md §6-§7
driven with a fake clock (numbers here are the spec's, typed in, not read from the code)."""

from __future__ import annotations

import dataclasses

from firmware_bridge import (
    Capability,
    Capture,
    Config,
    DeviceReset,
    DeviceState,
    Heartbeat,
    Hello,
    HostSession,
    Incompatible,
    Packet,
    PacketFlag,
    Ping,
    Pong,
    ResultFlag,
    Start,
    Stop,
    TimeReply,
    TimeRequest,
)

S = 1_000_000  # µs
HELLO = Hello(1, 1, 1, 0, 0, 7, 2_000_000, 1, 1024, 433_920_000, 0x1F, 0xB0, 0, 50, 100)
HELLO_10 = Hello(1, 0, 1, 0, 0, 7, 2_000_000, 1, 1024, 433_920_000, 0x1F)
CAPTURE = Capture(1, 2_000_000, 433_920_000, 0.0, b"\x00" * 4096)  # 1024 samples = 512 µs


def _hello(state: DeviceState = DeviceState.IDLE, **kw) -> Hello:
    return dataclasses.replace(HELLO, state=int(state), **kw)


def _packet(message, *, flags: int = 0, minor: int = 1, ts: int = 0) -> Packet:
    return Packet(message, 0, ts, flags, minor)


def _kinds(messages) -> list[type]:
    return [type(m) for m in messages]


def test_opening_pings_and_retries_with_doubling_capped_waits():
    session = HostSession()
    assert _kinds(session.opened(0)) == [Ping]
    sent_at = []
    for t in range(0, 12 * S, 10_000):  # poll every 10 ms for 12 s, the device silent
        if session.poll(t):
            sent_at.append(t)
    # §6.3: answer within 0.5 s, waits double per retry, capped at 2 s
    assert sent_at[:5] == [500_000, 1_500_000, 3_500_000, 5_500_000, 7_500_000]
    assert session.stats.retries == len(sent_at)


def test_the_answer_leads_to_config_then_start():
    config = Config(0, 0, 20.0, 50, 1024, 100)
    session = HostSession(config=config)
    session.opened(0)
    session.handle(_packet(Pong(1)), 1_000)
    session.handle(_packet(_hello()), 2_000)
    assert session.poll(2_000) == [config]
    session.handle(_packet(_hello()), 3_000)  # CONFIG answered
    assert _kinds(session.poll(3_000))[:1] == [Start]
    session.handle(_packet(_hello(DeviceState.STREAMING)), 4_000)
    assert [m for m in session.poll(5_000) if not isinstance(m, TimeRequest)] == []


def test_the_watchdog_restarts_a_stalled_stream_with_capped_backoff():
    session = HostSession()
    session.opened(0)
    session.handle(_packet(_hello(DeviceState.STREAMING, capture_period_ms=50)), 1_000)
    session.handle(_packet(CAPTURE), 2_000)
    assert session.watchdog_s == 1.0  # max(8 x 50 ms, 1 s)
    starts = []
    for t in range(2_000, 8 * S, 10_000):
        session.handle(_packet(Heartbeat(1, 0, 0, 0, 0xB0, 0, 1)), t)  # alive, says streaming
        if any(isinstance(m, Start) for m in session.poll(t)):
            starts.append(t)
    # tripped 1 s after the last capture, then re-armed 0.5, 1, 2, 2 s later
    assert starts[:5] == [1_002_000, 1_502_000, 2_502_000, 4_502_000, 6_502_000]
    assert session.stats.watchdog_trips == len(starts)
    session.handle(_packet(CAPTURE), 8 * S)  # flowing again: the watchdog is re-armed in full
    assert not any(isinstance(m, Start) for m in session.poll(8 * S + 999_000))


def test_slow_captures_lengthen_the_watchdog():
    session = HostSession()
    session.opened(0)
    session.handle(_packet(_hello(DeviceState.STREAMING, capture_period_ms=500)), 0)
    assert session.watchdog_s == 4.0 and session.stall_bound_s == 4.0 + 0.5 + 2.0


def test_a_reboot_is_answered_by_start_at_once_and_the_clock_is_forgotten():
    session = HostSession()
    session.opened(0)
    session.handle(_packet(_hello(DeviceState.STREAMING)), 0)
    session.clock.add(0, 10, 10, 20)
    session.handle(DeviceReset(3, "sequence", None, 3), 5 * S)
    assert not session.clock.is_synced and session.device_state is DeviceState.IDLE
    assert _kinds(session.poll(5 * S))[:1] == [Start]  # no probing PING first
    assert session.stats.boot_acks == 1


def test_a_boot_hello_is_acknowledged_even_with_nothing_to_ask():
    session = HostSession(stream=False)
    session.opened(0)
    session.handle(_packet(_hello()), 1_000)  # answers the opening PING
    assert [m for m in session.poll(2_000) if not isinstance(m, TimeRequest)] == []
    session.handle(_packet(_hello(boot_id=0xB1), flags=PacketFlag.BOOT), 3_000)
    assert _kinds([m for m in session.poll(3_000) if not isinstance(m, TimeRequest)]) == [Ping]


def test_stop_is_sent_when_streaming_is_not_wanted():
    session = HostSession()
    session.opened(0)
    session.handle(_packet(_hello(DeviceState.STREAMING)), 0)
    session.stop()
    assert Stop() in session.poll(1_000)


def test_a_10_device_gets_no_time_requests_and_stop_is_not_retried():
    session = HostSession()
    session.opened(0)
    session.handle(_packet(HELLO_10, minor=0), 0)
    assert _kinds(session.poll(0)) == [Start]
    session.handle(_packet(HELLO_10, minor=0), 1_000)  # a 1.0 answer to START: streaming
    session.stop()
    assert session.poll(2_000) == [Stop()]
    later = [m for t in range(2_000, 5 * S, 10_000) for m in session.poll(t)]
    assert Stop() not in later and session.stats.time_requests == 0


def test_clock_sync_rounds_of_16_then_replies_feed_the_mapping():
    session = HostSession()
    session.opened(0)
    session.handle(_packet(_hello(capabilities=int(Capability.TIME_SYNC))), 0)
    requests = []
    for t in range(0, 3 * S, 5_000):
        requests += [(t, m) for m in session.poll(t) if isinstance(m, TimeRequest)]
        for sent, message in requests:
            if sent == t:  # the device answers 1 ms later; its clock = host + 5 s
                device = message.t1_us + 5 * S + 500
                session.handle(_packet(TimeReply(message.t1_us, device, device)), t + 1_000)
    times = [t for t, _ in requests]
    assert times[:17] == [25_000 * i for i in range(16)] + [2 * S]  # §7: 16 per round, 2 s
    assert session.clock.to_device_us(1 * S) == 1 * S + 5 * S  # 500 µs each way: exact


def test_an_incompatible_device_is_not_started():
    session = HostSession()
    session.opened(0)
    bad = dataclasses.replace(HELLO, sample_format=2)
    session.handle(Incompatible(bad, ("sample_format 2 unsupported",), 0), 0)
    assert not any(isinstance(m, Start) for t in range(0, 3 * S, 10_000) for m in session.poll(t))


def test_silence_is_probed_with_ping():
    session = HostSession(stream=False)
    session.opened(0)
    session.handle(_packet(_hello()), 0)
    assert [m for m in session.poll(2_999_000) if isinstance(m, Ping)] == []
    assert _kinds([m for m in session.poll(3 * S) if isinstance(m, Ping)]) == [Ping]


def test_result_latency_uses_the_clock_map_or_says_it_could_not():
    session = HostSession()
    packet = Packet(CAPTURE, 9, 1_000_000, 0, 1)
    unmapped = session.result_for(packet, 50_000, 80_000, label_index=2, confidence=0.5)
    assert unmapped.latency_us == 30_000 and unmapped.flags & ResultFlag.LATENCY_FROM_RECEIPT
    session.clock.add(0, 100, 100, 200)  # device clock = host + 0 ... offset (100-0+100-200)/2
    mapped = session.result_for(packet, 50_000, 2_000_000, label_index=2, confidence=0.5)
    # capture end on the device = 1_000_000 + 1024 / 2 MHz = 1_000_512 µs = host 1_000_512
    assert mapped.latency_us == 2_000_000 - 1_000_512 and mapped.flags == 0


def test_clock_sync_starts_again_after_a_reboot():
    session = HostSession()
    session.opened(0)
    hello = _hello(capabilities=int(Capability.TIME_SYNC))
    session.handle(_packet(hello), 0)
    assert any(isinstance(m, TimeRequest) for m in session.poll(0))
    session.handle(DeviceReset(0, "boot_hello", 0xB1, 0), 10 * S)
    session.handle(_packet(hello, flags=PacketFlag.BOOT), 10 * S)
    assert any(isinstance(m, TimeRequest) for m in session.poll(10 * S))
