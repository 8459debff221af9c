"""The TIME schedule of PROTOCOL.md §6.3 on a simulated session (sans-IO, fake clock): fast rounds
after a boot, rounds spread out as the exchanges span more time, one a minute in steady state,
fast again after a reset, one at once after a reopen. Expected times are worked out here from
the spec's numbers (16 requests 25 ms apart; 2 s rounds for 30 s; then a quarter of the span,
within 5..60 s), not read from the code."""

from __future__ import annotations

import dataclasses
import itertools

from firmware_bridge import (
    Capability,
    DeviceReset,
    Heartbeat,
    Hello,
    HostSession,
    Packet,
    PacketFlag,
    TimeReply,
    TimeRequest,
)

S = 1_000_000  # µs
MS = 1_000
HELLO = Hello(1, 1, 1, 0, 0, 7, 2_000_000, 1, 1024, 433_920_000, 0x1F, 0xB0, 0, 50, 100)
TIME_HELLO = dataclasses.replace(HELLO, capabilities=int(Capability.TIME_SYNC))
BURST_US = [25 * MS * i for i in range(16)]  # a round: 16 requests 25 ms apart
ROUND_LEN_US = 15 * 25 * MS  # first to last request of a round


def _packet(message, *, flags: int = 0) -> Packet:
    return Packet(message, 0, 0, flags, 1)


class _Device:
    """Answers each TIME_REQUEST 1 ms later (500 µs each way, clock = host + 5 s) unless
    ``answer`` is off, and sends a HEARTBEAT every second (so silence never probes)."""

    def __init__(self, session: HostSession, now_us: int) -> None:
        self.session = session
        self.answer = True
        self.requests: list[int] = []
        self._replies: list[tuple[int, int]] = []
        self._beat_us = now_us

    def run(self, start_us: int, until_us: int) -> None:
        """Poll at each deadline, reply and heartbeat, from ``start_us`` until ``until_us``."""
        session, now = self.session, start_us
        while now < until_us:
            for message in session.poll(now):
                if isinstance(message, TimeRequest):
                    self.requests.append(now)
                    if self.answer:
                        self._replies.append((now + 1 * MS, message.t1_us))
            times = [self._beat_us, *(t for t, _ in self._replies)]
            deadline = session.next_deadline_us()
            if deadline is not None:
                times.append(deadline)
            now = max(now + 1, min(times))
            if now >= self._beat_us:
                session.handle(_packet(Heartbeat(1, 0, 0, 0, 0xB0, 0, 0)), now)
                self._beat_us += S
            for due, t1 in [r for r in self._replies if r[0] <= now]:
                self._replies.remove((due, t1))
                device = t1 + 5 * S + 500
                session.handle(_packet(TimeReply(t1, device, device)), now)


def _started(at_us: int = 0) -> tuple[HostSession, _Device]:
    session = HostSession(stream=False)
    session.opened(at_us)
    session.handle(_packet(TIME_HELLO), at_us)
    return session, _Device(session, at_us)


def _round_starts(sync_us: int, until_us: int) -> list[int]:
    """§6.3 by hand: 2 s apart while a round ends within 30 s of the first; then a quarter of
    the span of the exchanges answered when the round's last request leaves (the first
    request to this round's 15th: each answer comes 1 ms later), at least 5 s, at most 60 s."""
    starts, start = [], sync_us
    while start < until_us:
        starts.append(start)
        end = start + ROUND_LEN_US
        if end - sync_us < 30 * S:
            gap = 2 * S
        else:
            answered = end - 25 * MS - sync_us
            gap = min(60 * S, max(5 * S, round(answered / 4)))
        start += gap
    return starts


def _rounds_of(requests: list[int]) -> list[int]:
    return [t for i, t in enumerate(requests) if i == 0 or t - requests[i - 1] > S]


def test_rounds_are_fast_for_30_s_then_spread_out_to_one_a_minute():
    session, device = _started()
    device.run(0, 15 * 60 * S)
    starts = _round_starts(0, 15 * 60 * S)
    # every request where the spec puts it (a microsecond of rounding either way)
    expected = [s + b for s in starts for b in BURST_US]
    assert len(device.requests) == len(expected)
    assert all(abs(a - b) <= 1 for a, b in zip(device.requests, expected, strict=True))
    # the numbers the spec names: 15 rounds 2 s apart, 7.6 s after them, 60 s in steady state
    rounds = _rounds_of(device.requests)
    assert rounds[:16] == [2 * S * k for k in range(16)]
    assert abs(rounds[16] - (30 * S + 7_587_500)) <= 1  # (30 s + 350 ms) / 4
    gaps = [b - a for a, b in itertools.pairwise(rounds)]
    assert gaps[-8:] == [60 * S] * 8
    assert session.stats.time_replies == len(device.requests)  # every reply was taken
    # a quarter of the old cost (a round every 5 s after 30 s) over the first 15 minutes
    old = 16 * (15 + (15 * 60 - 30) // 5)
    assert len(device.requests) * 4 < old


def test_the_gap_never_exceeds_what_the_exchanges_span_allows():
    _, device = _started()
    device.run(0, 6 * 60 * S)
    rounds = _rounds_of(device.requests)
    for a, b in itertools.pairwise(rounds[15:]):  # from the round at 30 s on
        # a line fitted over [0, a + 350 ms] is extrapolated at most a quarter of that
        assert b - a <= (a + ROUND_LEN_US - 25 * MS) / 4 + 1


def test_a_reset_returns_to_fast_rounds():
    session, device = _started()
    device.run(0, 10 * 60 * S)
    assert _rounds_of(device.requests)[-1] - _rounds_of(device.requests)[-2] == 60 * S
    reset_at = 10 * 60 * S + 123_456
    session.handle(DeviceReset(0, "boot_hello", 0xB1, 0), reset_at)
    assert not session.clock.is_synced
    session.handle(_packet(dataclasses.replace(TIME_HELLO, boot_id=0xB1), flags=PacketFlag.BOOT), reset_at)
    before = len(device.requests)
    device.run(reset_at, reset_at + 60 * S)
    after = device.requests[before:]
    starts = _round_starts(reset_at, reset_at + 60 * S)
    assert [a - reset_at for a in _rounds_of(after)][:16] == [2 * S * k for k in range(16)]
    assert len(after) == 16 * len(starts)
    assert session.clock.is_synced


def test_a_reopen_sends_a_round_once_the_device_answers_then_keeps_the_slow_schedule():
    session, device = _started()
    device.run(0, 10 * 60 * S)
    last_round = _rounds_of(device.requests)[-1]
    session.closed(10 * 60 * S)
    session.opened(10 * 60 * S + 5 * S)
    before = len(device.requests)
    # not before the device is known again (its HELLO answers the opening PING)
    assert not any(isinstance(m, TimeRequest) for m in session.poll(10 * 60 * S + 5 * S))
    known_at = 10 * 60 * S + 6 * S
    session.handle(_packet(TIME_HELLO), known_at)  # same boot: no reset
    device.run(known_at, known_at + 90 * S)
    rounds = _rounds_of(device.requests[before:])
    assert rounds[0] == known_at and known_at - last_round < 60 * S
    assert rounds[1] - rounds[0] == 60 * S and len(rounds) == 2  # the mapping was kept


def test_without_replies_rounds_stay_5_s_apart_after_30_s():
    session, device = _started()
    device.answer = False
    device.run(0, 60 * S)
    rounds = _rounds_of(device.requests)
    assert rounds == [2 * S * k for k in range(16)] + [30 * S + 5 * S * k for k in range(1, 6)]
    assert not session.clock.is_synced
