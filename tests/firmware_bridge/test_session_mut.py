"""HostSession at its limits (written against the survivors of a mutation run): counters, the
watchdog's own backoff when START is answered but no capture flows, the capture period learnt
from arrivals, 1.0 and 1.1 devices, the RESULT's fields, TIME requests' give-up and the 30 s
edge. Times are the spec's numbers (PROTOCOL.md §6.3, §7) typed in, not read from the code."""

from __future__ import annotations

import dataclasses
import itertools

from firmware_bridge import (
    Capture,
    ClockMapping,
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
    Result,
    ResultFlag,
    SessionRules,
    Start,
    Stop,
    TimeReply,
    TimeRequest,
)
from firmware_bridge.messages import Capability

S = 1_000_000  # µs
MS = 1_000
# a 1.1 device without TIME_SYNC (no TIME requests in the way), idle, no capture period given
HELLO = Hello(1, 1, 1, 0, 0, 7, 2_000_000, 1, 1024, 433_920_000, 0, 0xB0, 0, 0, 100)
HELLO_10 = Hello(1, 0, 1, 0, 0, 7, 2_000_000, 1, 1024, 433_920_000, 0)
CAPTURE = Capture(4, 2_000_000, 433_920_000, 0.0, b"\x00" * 4096)


def _hello(state: DeviceState = DeviceState.IDLE, **kw) -> Hello:
    return dataclasses.replace(HELLO, state=int(state), **kw)


def _packet(message, *, flags: int = 0, minor: int = 1, ts: int = 0) -> Packet:
    return Packet(message, 0, ts, flags, minor)


def _commands(messages) -> list:
    return [m for m in messages if not isinstance(m, TimeRequest)]


def test_a_new_session_knows_nothing_and_sends_nothing_before_the_port_opens():
    session = HostSession()
    assert session.device_state is None and session.device_minor is None and session.incompatible is None
    assert session.poll(0) == [] and session.next_deadline_us() is None


def test_given_rules_and_clock_are_the_ones_used():
    clock = ClockMapping()
    session = HostSession(rules=SessionRules(response_timeout_s=0.1), clock=clock)
    assert session.clock is clock
    session.opened(0)
    assert session.next_deadline_us() == 100 * MS  # the first PING's answer is due after 0.1 s


def test_ping_tokens_count_up_from_one():
    session = HostSession()
    tokens = [m.token for t in range(0, 2 * S, 10 * MS) for m in session.poll(t) if isinstance(m, Ping)]
    assert tokens == []  # not open yet
    first = session.opened(0)
    tokens = [m.token for m in first] + [
        m.token for t in range(10 * MS, 2 * S, 10 * MS) for m in session.poll(t) if isinstance(m, Ping)
    ]
    assert tokens == [1, 2, 3]  # at 0, 0.5 s and 1.5 s


def test_every_command_sent_is_counted_by_kind():
    """PING twice (unanswered once), CONFIG, START, STOP, CONFIG again, START again."""
    config = Config(2_000_000, 433_920_000, 20.0, 50, 1024, 100)
    session = HostSession(config=config)
    assert session.opened(0) == [Ping(1)]
    assert session.poll(500 * MS) == [Ping(2)]
    session.handle(_packet(_hello()), 600 * MS)
    assert session.poll(600 * MS) == [config]
    session.handle(_packet(_hello()), 700 * MS)
    assert session.poll(700 * MS) == [Start()]
    session.handle(_packet(_hello(DeviceState.STREAMING)), 800 * MS)
    session.stop()
    assert session.poll(800 * MS) == [Stop()]
    session.handle(_packet(_hello(DeviceState.STOPPED)), 900 * MS)
    other = dataclasses.replace(config, gain_db=10.0)
    session.configure(other)
    assert session.poll(900 * MS) == [other]
    session.handle(_packet(_hello(DeviceState.STOPPED)), 1_000 * MS)
    session.start()
    assert session.poll(1_000 * MS) == [Start()]
    s = session.stats
    assert (s.pings, s.configs, s.starts, s.stops, s.retries) == (2, 2, 2, 1, 1)


def test_a_reboot_reapplies_the_config_and_each_boot_is_acknowledged_once():
    config = Config(2_000_000, 433_920_000, 20.0, 50, 1024, 100)
    session = HostSession(stream=False, config=config)
    session.opened(0)
    session.handle(_packet(_hello()), 0)
    assert session.poll(0) == [config]
    session.handle(_packet(_hello()), 1_000)
    assert session.poll(1_000) == []
    for boot in (1, 2):
        at = boot * S
        session.handle(DeviceReset(0, "boot_hello", 0xB0 + boot, 0), at)
        session.handle(_packet(_hello(boot_id=0xB0 + boot), flags=PacketFlag.BOOT), at)
        assert session.poll(at) == [config]  # CONFIG again, which also acknowledges the boot
        session.handle(_packet(_hello(boot_id=0xB0 + boot)), at + 1_000)
        assert session.poll(at + 1_000) == []  # acknowledged: no PING after it
    assert session.stats.boot_acks == 2 and session.stats.configs == 3


def test_the_watchdog_backs_off_when_start_is_answered_but_no_capture_comes():
    """The device answers every START (HELLO, streaming) yet sends nothing: the watchdog trips
    1 s after the last capture, then waits 0.5, 1, 2, 2 s (§6.3) — its own backoff, not the
    retries of an unanswered command."""
    session = HostSession()
    session.opened(0)
    session.handle(_packet(_hello(DeviceState.STREAMING)), 0)
    session.handle(_packet(CAPTURE), 2 * MS)
    starts = []
    for t in range(2 * MS, 8 * S, 10 * MS):
        if Start() in session.poll(t):
            starts.append(t)
            session.handle(_packet(_hello(DeviceState.STREAMING)), t)  # answered at once
    assert starts == [1_002 * MS, 1_502 * MS, 2_502 * MS, 4_502 * MS, 6_502 * MS]
    assert session.stats.watchdog_trips == 5 and session.stats.retries == 0


def test_the_watchdog_is_the_next_deadline_while_streaming():
    session = HostSession()
    session.opened(0)
    session.handle(_packet(_hello(DeviceState.STREAMING)), 0)
    session.handle(_packet(CAPTURE), 2_500 * MS)
    # silence would be due at 2.5 s + 3 s, the watchdog 1 s after the capture
    assert session.next_deadline_us() == 3_500 * MS
    session.stop()
    assert session.want_streaming is False
    assert session.next_deadline_us() == 5_500 * MS  # no stream wanted: no watchdog


def test_a_capture_while_idle_means_streaming_and_answers_a_pending_start():
    session = HostSession()
    session.opened(0)
    session.handle(_packet(_hello()), 0)
    assert session.poll(0) == [Start()]
    session.handle(_packet(CAPTURE), 300 * MS)  # the HELLO answering START was lost
    assert session.device_state is DeviceState.STREAMING
    assert [m for t in range(300 * MS, 1_300 * MS, 10 * MS) for m in session.poll(t)] == []
    assert session.poll(1_300 * MS) == [Start()]  # the watchdog, armed at the capture
    assert session.stats.retries == 0


def test_a_heartbeat_saying_streaming_arms_the_watchdog_and_one_without_state_changes_nothing():
    session = HostSession(stream=False)
    session.opened(0)
    session.handle(_packet(_hello()), 0)
    session.handle(_packet(Heartbeat(1, 0, 0, 0)), 1 * S)  # 1.0 fields only: no state
    assert session.device_state is DeviceState.IDLE
    session.start()
    session.handle(_packet(Heartbeat(2, 0, 0, 0, 0xB0, 0, int(DeviceState.STREAMING))), 2 * S)
    assert session.device_state is DeviceState.STREAMING
    assert session.poll(2 * S) == [] and session.poll(3 * S - 1) == []
    assert session.poll(3 * S) == [Start()]  # 1 s after the heartbeat that said streaming


def _captured_at(times: list[int]) -> HostSession:
    session = HostSession(stream=False)
    for t in times:
        session.handle(_packet(CAPTURE), t)
    return session


def test_the_capture_period_is_the_median_gap_of_the_last_nine_arrivals():
    # three arrivals: gaps 200 and 300 ms, the upper median 300 ms -> 8 x 300 ms
    assert _captured_at([0, 200 * MS, 500 * MS]).watchdog_s == 2.4
    assert _captured_at([0, 200 * MS]).watchdog_s == 1.0  # two: unknown, the 1 s floor
    # 12 arrivals: 3 gaps of 10 ms, then 4 of 100 ms and 4 of 200 ms; the last 9 arrivals give
    # the 8 gaps of 100 and 200 ms, whose upper median is 200 ms -> 1.6 s
    gaps = [10] * 3 + [100, 200] * 4
    times = [0]
    for g in gaps:
        times.append(times[-1] + g * MS)
    assert _captured_at(times).watchdog_s == 1.6


def test_the_capture_period_comes_from_the_config_without_one_in_hello():
    config = Config(2_000_000, 433_920_000, 20.0, 500, 1024, 100)
    assert HostSession(config=config).watchdog_s == 4.0


def test_an_unknown_period_leaves_only_the_floor():
    assert HostSession(rules=SessionRules(watchdog_min_s=0.0)).watchdog_s == 0.0


def test_a_10_boot_hello_means_idle_and_a_10_hello_without_boot_says_nothing():
    session = HostSession(stream=False)
    session.opened(0)
    session.handle(_packet(HELLO_10, minor=0), 0)
    assert session.device_state is None and session.device_minor == 0
    session.handle(_packet(HELLO_10, minor=0, flags=PacketFlag.BOOT), 1_000)
    assert session.device_state is DeviceState.IDLE


def test_a_10_device_is_taken_as_stopped_after_stop_and_a_11_device_must_answer_it():
    old = HostSession()
    old.opened(0)
    old.handle(_packet(HELLO_10, minor=0), 0)
    assert old.poll(0) == [Start()]
    old.handle(_packet(CAPTURE, minor=0), 1_000)
    old.stop()
    assert old.poll(2_000) == [Stop()] and old.device_state is DeviceState.STOPPED
    new = HostSession()
    new.opened(0)
    new.handle(_packet(_hello(DeviceState.STREAMING)), 0)
    assert new.device_minor == 1
    new.stop()
    assert new.poll(1_000) == [Stop()] and new.device_state is DeviceState.STREAMING
    assert new.poll(500 * MS) == [] and new.poll(501 * MS) == [Stop()]  # retried after 0.5 s
    assert new.stats.stops == 2


def test_an_incompatible_device_gets_one_ping_to_acknowledge_its_boot_then_nothing():
    session = HostSession()
    session.opened(0)
    bad = dataclasses.replace(HELLO, sample_format=2)
    session.handle(DeviceReset(0, "boot_hello", 0xB1, 0), 0)
    session.handle(Incompatible(bad, ("sample_format 2 unsupported",), 0), 0)
    sent = [m for t in range(0, 2_900 * MS, 10 * MS) for m in session.poll(t)]
    assert sent == [Ping(2)] and session.stats.boot_acks == 1  # token 1 went with the opening


def test_an_incompatible_device_without_a_boot_is_not_probed():
    session = HostSession()
    session.opened(0)
    session.handle(Incompatible(dataclasses.replace(HELLO, sample_format=2), ("no",), 0), 1_000)
    assert [m for t in range(1_000, 2_900 * MS, 10 * MS) for m in session.poll(t)] == []


def test_a_closed_port_sends_nothing_and_takes_late_events():
    session = HostSession()
    session.opened(0)
    session.closed(10 * MS)
    session.handle(_packet(_hello(DeviceState.STREAMING)), 20 * MS)  # read before the close
    session.handle(_packet(CAPTURE), 20 * MS)
    assert session.poll(5 * S) == [] and session.next_deadline_us() is None


def test_the_requested_backoff_doubles_at_most_16_times():
    """Waits 1, 2, 4, ... 65 536 µs (2^16), then stay at 2^16: the cap is below 1 s here."""
    session = HostSession(rules=SessionRules(response_timeout_s=1e-6, backoff_max_s=1.0))
    session.opened(0)
    sent, t = [0], 0
    while len(sent) < 20:
        t = session.next_deadline_us()
        if any(isinstance(m, Ping) for m in session.poll(t)):
            sent.append(t)
    waits = [b - a for a, b in itertools.pairwise(sent)]
    assert waits == [2**k for k in range(17)] + [2**16] * 2


def test_result_fields_mapped_and_unmapped():
    session = HostSession()
    # 1024 samples at 1 kHz: the capture lasted 1.024 s
    slow = Capture(7, 1_000, 433_920_000, 0.0, b"\x00" * 4096)
    packet = Packet(slow, 9, 3_000_000, 0, 1)
    unmapped = session.result_for(
        packet, 5 * S, 5 * S, label_index=3, confidence=0.75, flags=ResultFlag.FALLBACK
    )
    assert unmapped == Result(7, 3, 0.75, 0, ResultFlag.FALLBACK | ResultFlag.LATENCY_FROM_RECEIPT)
    session.clock.add(0, 0, 0, 0)  # device clock = host clock
    mapped = session.result_for(packet, 5 * S, 5 * S, label_index=3, confidence=0.75)
    assert mapped == Result(7, 3, 0.75, 5 * S - 4_024_000, 0)
    assert session.capture_end_host_us(packet, 1) == (4_024_000, True)
    late = session.result_for(packet, 5 * S, 4_024_000 + 2**32 + 5, label_index=0, confidence=0.0)
    assert late.latency_us == 0xFFFF_FFFF
    # a capture with no sample rate has no duration; a packet that is not a capture has id 0
    still = Packet(dataclasses.replace(slow, sample_rate_hz=0), 9, 3_000_000, 0, 1)
    assert session.capture_end_host_us(still, 1) == (3_000_000, True)
    other = Packet(HELLO, 9, 3_000_000, 0, 1)
    assert session.capture_end_host_us(other, 1) == (3_000_000, True)
    assert session.result_for(other, 0, 3_000_000, label_index=1, confidence=0.5) == Result(0, 1, 0.5, 0, 0)


def _time_session() -> HostSession:
    session = HostSession(stream=False, rules=SessionRules(time_fast_s=0.1))
    session.opened(0)
    session.handle(_packet(_hello(capabilities=int(Capability.TIME_SYNC))), 0)
    return session


def test_a_reply_arriving_exactly_at_its_timeout_is_ignored():
    session = _time_session()
    assert TimeRequest(0) in session.poll(0)
    assert session.stats.time_requests == 1
    session.poll(1 * S)  # the reply to the request of t = 0 is given up now (1 s)
    session.handle(_packet(TimeReply(0, 5 * S, 5 * S)), 1 * S)
    assert session.stats.time_replies == 0 and not session.clock.is_synced


def test_a_round_shorter_than_its_burst_follows_it_one_microsecond_later():
    """Rounds every 0.1 s but a burst takes 16 x 25 ms: the next round starts right after."""
    session = _time_session()
    sent = []
    t = 0
    while len(sent) < 18:
        if any(isinstance(m, TimeRequest) for m in session.poll(t)):
            sent.append(t)
        t = session.next_deadline_us()
    assert sent == [25 * MS * i for i in range(16)] + [375 * MS + 1, 375 * MS + 1 + 25 * MS]
    assert session.stats.time_requests == 18


def test_fast_rounds_last_exactly_30_s():
    session = HostSession(stream=False)
    session.opened(0)
    session.handle(_packet(_hello(capabilities=int(Capability.TIME_SYNC))), 7 * S)
    assert session.time_round_gap_s(37 * S - 1) == 2.0
    assert session.time_round_gap_s(37 * S) == 5.0  # no answers: no span, the 5 s floor
