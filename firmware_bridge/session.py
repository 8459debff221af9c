"""The host's handshake, retry, watchdog and clock-sync policy (PROTOCOL.md §6-§7), sans-IO.

A ``HostSession`` holds what the host wants (stream or not, which CONFIG) and what it knows of
the device, and says what to send: feed it the port's openings and closings and every event,
each with ``now_us`` (host monotonic µs), and call ``poll(now_us)`` at ``next_deadline_us()`` or
after events; it returns the messages to send now. It never sleeps and never touches a port, so
the link, the daemon or a test drives it from its own loop and clock.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass, field

from firmware_bridge.clock import ClockMapping
from firmware_bridge.events import DeviceReset, Event, Incompatible, Packet
from firmware_bridge.messages import (
    Capability,
    Capture,
    Config,
    DeviceState,
    Heartbeat,
    Hello,
    Message,
    PacketFlag,
    Ping,
    Result,
    ResultFlag,
    Start,
    Stop,
    TimeReply,
    TimeRequest,
)

__all__ = ["HostSession", "SessionRules", "SessionStats"]


@dataclass(frozen=True)
class SessionRules:
    """The numbers of PROTOCOL.md §6.3 (times in seconds)."""

    response_timeout_s: float = 0.5  # first wait for an answer; doubles per retry
    backoff_max_s: float = 2.0  # cap on that wait (and on the watchdog's re-arming)
    watchdog_periods: int = 8  # no CAPTURE for this many capture periods ...
    watchdog_min_s: float = 1.0  # ... and at least this long: the stream stalled
    silence_s: float = 3.0  # nothing at all received this long: probe with PING
    time_burst: int = 16  # exchanges per round, 25 ms apart (their bounds intersected, §7.2)
    time_burst_step_s: float = 0.025
    time_fast_s: float = 2.0  # a round every 2 s ...
    time_fast_for_s: float = 30.0  # ... for the first 30 s of a boot
    time_period_s: float = 5.0  # then rounds at least 5 s apart ...
    time_span_ratio: float = 0.25  # ... and a quarter of the exchanges' span apart ...
    time_period_max_s: float = 60.0  # ... but at most 60 s (the steady state)
    time_reply_timeout_s: float = 1.0  # a reply later than this is ignored


@dataclass(slots=True)
class SessionStats:
    """What the session did (mutable counters)."""

    pings: int = 0
    starts: int = 0
    stops: int = 0
    configs: int = 0
    retries: int = 0
    watchdog_trips: int = 0
    time_requests: int = 0
    time_replies: int = 0
    boot_acks: int = 0


@dataclass(slots=True)
class _Pending:
    kind: type
    deadline_us: int


@dataclass(slots=True)
class _TimeSync:
    next_us: int | None = None
    started_us: int = 0
    sent: int = 0
    round_start_us: int = 0
    waiting: dict[int, int] = field(default_factory=dict)  # t1 -> give-up time


class HostSession:
    """The host side's policy (see the module docstring).

    ``stream``: whether the host wants captures; ``config``: a CONFIG to apply after every
    boot (None: the device's own settings). ``clock`` maps device time to host time.
    """

    def __init__(
        self,
        *,
        stream: bool = True,
        config: Config | None = None,
        rules: SessionRules | None = None,
        clock: ClockMapping | None = None,
    ) -> None:
        self.rules = rules if rules is not None else SessionRules()
        self.clock = clock if clock is not None else ClockMapping()
        self.want_streaming = stream
        self.config = config
        self.stats = SessionStats()
        self.hello: Hello | None = None
        self.device_state: DeviceState | None = None
        self.device_minor: int | None = None
        self.incompatible: Incompatible | None = None
        self._open = False
        self._known = False  # a HELLO since the port opened or the device rebooted
        self._config_applied = False
        self._boot_unacked = False
        self._pending: _Pending | None = None
        self._attempt = 0
        self._token = 0
        self._last_rx_us = 0
        self._watchdog_us: int | None = None
        self._watchdog_trips_in_row = 0
        self._arrivals: deque[int] = deque(maxlen=9)
        self._time = _TimeSync()

    # -- what the host wants --------------------------------------------------------------------
    def start(self) -> None:
        """Want captures (START is sent, and re-sent after every reboot)."""
        self.want_streaming = True

    def stop(self) -> None:
        """Want no captures."""
        self.want_streaming = False

    def configure(self, config: Config | None) -> None:
        """Apply ``config`` now and after every reboot (None: leave the device's settings)."""
        self.config = config
        self._config_applied = False

    # -- what happened --------------------------------------------------------------------------
    def opened(self, now_us: int) -> list[Message]:
        """The port was (re)opened: what we knew of the device's stream is stale (§6.1), and
        a TIME round is due as soon as the device is known again (the same boot keeps its
        mapping; another boot is a reset, which starts the fast rounds again)."""
        self._open = True
        if self._time.next_us is not None:
            self._time.next_us, self._time.sent = now_us, 0
        self._known = False
        self._pending = None
        self._attempt = 0
        self._last_rx_us = now_us
        self._arm_watchdog(now_us)
        return self.poll(now_us)

    def closed(self, now_us: int) -> None:
        """The port was lost or closed."""
        self._open = False
        self._pending = None
        self._time.waiting.clear()

    def handle(self, event: Event, now_us: int) -> None:
        """Take one event from the Connection; ``now_us`` is when its bytes were read."""
        self._last_rx_us = now_us
        if isinstance(event, DeviceReset):
            self._device_rebooted(now_us)
        elif isinstance(event, Incompatible):
            self.incompatible = event
            self._known = True
            self._answered()
        elif isinstance(event, Packet):
            self._packet(event, now_us)

    # -- what to do -----------------------------------------------------------------------------
    def poll(self, now_us: int) -> list[Message]:
        """The messages to send now, in order (empty most of the time)."""
        if not self._open:
            return []
        out: list[Message] = []
        pending = self._pending
        if pending is not None and now_us >= pending.deadline_us:
            self._pending = None
            self._attempt += 1
            self.stats.retries += 1
        if self._pending is None:
            command = self._next_command(now_us)
            if command is not None:
                out.append(command)
                self._sent(command, now_us)
        out += self._time_requests(now_us)
        return out

    def next_deadline_us(self) -> int | None:
        """When ``poll`` may next have something to send (None: only after an event)."""
        if not self._open:
            return None
        due = [self._last_rx_us + _us(self.rules.silence_s)]
        if self._pending is not None:
            due.append(self._pending.deadline_us)
        if self._watchdog_us is not None and self.want_streaming:
            due.append(self._watchdog_us)
        if self._time.next_us is not None:
            due.append(self._time.next_us)
        due += list(self._time.waiting.values())
        return min(due)

    def time_round_gap_s(self, now_us: int) -> float:
        """From one TIME round's start to the next (§6.3): ``time_fast_s`` for the first
        ``time_fast_for_s`` of a boot's sync; then the exchanges' span x ``time_span_ratio``
        (the fitted line is extrapolated a quarter of the span it was fitted over: its drift's
        error then adds less than one round's), within [``time_period_s``,
        ``time_period_max_s``]. No answers, no span: the gap stays at ``time_period_s``."""
        rules = self.rules
        if now_us - self._time.started_us < _us(rules.time_fast_for_s):
            return rules.time_fast_s
        grown = self.clock.span_us / 1e6 * rules.time_span_ratio
        return min(rules.time_period_max_s, max(rules.time_period_s, grown))

    @property
    def watchdog_s(self) -> float:
        """How long without a CAPTURE means a stalled stream: max(k x period, floor)."""
        period_us = self._capture_period_us()
        return max(self.rules.watchdog_periods * period_us / 1e6, self.rules.watchdog_min_s)

    @property
    def stall_bound_s(self) -> float:
        """The longest a wanted stream stays stalled when the device answers (§6.3): the
        watchdog, then one lost command's timeout, then the capped backoff."""
        return self.watchdog_s + self.rules.response_timeout_s + self.rules.backoff_max_s

    # -- capture timing -------------------------------------------------------------------------
    def capture_end_host_us(self, packet: Packet, received_us: int) -> tuple[int, bool]:
        """Host time at which the capture in ``packet`` ended, and whether it comes from the
        clock mapping (True) or is only the packet's arrival time (False: 1.0 device)."""
        message = packet.message
        duration_us = 0.0
        if isinstance(message, Capture) and message.sample_rate_hz:
            duration_us = message.n_samples * 1e6 / message.sample_rate_hz
        mapped = self.clock.to_host_us(packet.timestamp_us + duration_us)
        if mapped is None:
            return received_us, False
        return round(mapped), True

    def result_for(
        self,
        packet: Packet,
        received_us: int,
        now_us: int,
        *,
        label_index: int,
        confidence: float,
        flags: int = 0,
    ) -> Result:
        """A RESULT for the capture in ``packet`` with ``latency_us`` = now - capture end
        (§5.9); without a clock mapping it counts from arrival and says so in its flags."""
        end_us, mapped = self.capture_end_host_us(packet, received_us)
        if not mapped:
            flags |= ResultFlag.LATENCY_FROM_RECEIPT
        latency = min(max(0, now_us - end_us), 0xFFFF_FFFF)
        capture_id = packet.message.capture_id if isinstance(packet.message, Capture) else 0
        return Result(capture_id, label_index, confidence, latency, flags)

    # -- internals ------------------------------------------------------------------------------
    def _packet(self, event: Packet, now_us: int) -> None:
        message = event.message
        self.device_minor = event.version_minor
        if isinstance(message, Hello):
            self._hello(message, event, now_us)
        elif isinstance(message, Capture):
            self._set_state(DeviceState.STREAMING, now_us)
            if self._pending is not None and self._pending.kind is Start:
                self._answered()  # it streams: START arrived, even if its HELLO did not
            self._arrivals.append(now_us)
            self._arm_watchdog(now_us)
        elif isinstance(message, Heartbeat):
            if message.state is not None:
                self._set_state(DeviceState(message.state), now_us)
        elif isinstance(message, TimeReply) and message.t1_us in self._time.waiting:
            del self._time.waiting[message.t1_us]
            self.stats.time_replies += 1
            self.clock.add(message.t1_us, message.t2_us, message.t3_us, now_us)

    def _hello(self, hello: Hello, event: Packet, now_us: int) -> None:
        self.hello = hello
        self.incompatible = None
        self._known = True
        pending = self._pending.kind if self._pending is not None else None
        if event.flags & PacketFlag.BOOT:
            self._boot_unacked = True
        if hello.state is not None:
            self._set_state(DeviceState(hello.state), now_us)
        elif pending is Start:  # a 1.0 device: infer from the command it answers
            self._set_state(DeviceState.STREAMING, now_us)
        elif event.flags & PacketFlag.BOOT:
            self._set_state(DeviceState.IDLE, now_us)
        if pending is Config:
            self._config_applied = True
        if pending in (Ping, Start, Stop, Config):
            self._answered()
        # TIME rounds begin at the first HELLO, and again after each reboot
        if self._time.next_us is None and self._can_sync(hello, event.version_minor):
            self._time = _TimeSync(next_us=now_us, started_us=now_us)

    def _set_state(self, state: DeviceState, now_us: int) -> None:
        if state is DeviceState.STREAMING and self.device_state is not DeviceState.STREAMING:
            self._arm_watchdog(now_us)  # the stream (re)starts now: give it a full watchdog
        self.device_state = state

    def _answered(self) -> None:
        self._pending = None
        self._attempt = 0

    def _device_rebooted(self, now_us: int) -> None:
        # still the device we know (its HELLO will follow, or answer our START): a rebooted
        # device waits idle, so the next command is CONFIG / START, not a probing PING
        self.device_state = DeviceState.IDLE
        self._config_applied = False
        self._boot_unacked = True
        self._answered()
        self.clock.reset()
        self._time = _TimeSync()
        self._arm_watchdog(now_us)

    def _next_command(self, now_us: int) -> Message | None:
        silent = now_us - self._last_rx_us >= _us(self.rules.silence_s)
        if not self._known or silent:
            return self._ping()
        if self.incompatible is not None:
            return self._ping() if self._boot_unacked else None
        if self.config is not None and not self._config_applied:
            return self.config
        streaming = self.device_state is DeviceState.STREAMING
        if self.want_streaming and not streaming:
            return Start()
        if self.want_streaming and self._watchdog_us is not None and now_us >= self._watchdog_us:
            self.stats.watchdog_trips += 1
            self._watchdog_trips_in_row += 1
            wait = self._wait_s(self._watchdog_trips_in_row - 1)
            self._watchdog_us = now_us + _us(wait)
            return Start()
        if not self.want_streaming and streaming:
            return Stop()
        if self._boot_unacked:
            return self._ping()
        return None

    def _sent(self, command: Message, now_us: int) -> None:
        if self._boot_unacked:
            self.stats.boot_acks += 1
            self._boot_unacked = False  # any command acknowledges a BOOT HELLO (§6.2)
        kind = type(command)
        self.stats.pings += kind is Ping
        self.stats.starts += kind is Start
        self.stats.stops += kind is Stop
        self.stats.configs += kind is Config
        if kind is Stop and (self.device_minor or 0) < 1:
            self.device_state = DeviceState.STOPPED  # a 1.0 device does not answer STOP
            return
        self._pending = _Pending(kind, now_us + _us(self._wait_s(self._attempt)))

    def _ping(self) -> Ping:
        self._token = (self._token + 1) & 0xFFFF_FFFF
        return Ping(self._token)

    def _wait_s(self, attempt: int) -> float:
        rules = self.rules
        return min(rules.response_timeout_s * 2 ** min(attempt, 16), rules.backoff_max_s)

    def _arm_watchdog(self, now_us: int) -> None:
        self._watchdog_trips_in_row = 0
        self._watchdog_us = now_us + _us(self.watchdog_s)

    def _capture_period_us(self) -> float:
        hello = self.hello
        if hello is not None and hello.capture_period_ms:
            return hello.capture_period_ms * 1000.0
        if self.config is not None and self.config.capture_period_ms:
            return self.config.capture_period_ms * 1000.0
        arrivals = list(self._arrivals)
        if len(arrivals) >= 3:
            gaps = sorted(b - a for a, b in itertools.pairwise(arrivals))
            return float(gaps[len(gaps) // 2])
        return 0.0  # unknown: the floor applies

    @staticmethod
    def _can_sync(hello: Hello, minor: int) -> bool:
        # the header's minor governs (PROTOCOL.md §1.1, §5.0); HELLO's protocol_minor is informational
        return minor >= 1 and bool(hello.capabilities & Capability.TIME_SYNC)

    def _time_requests(self, now_us: int) -> list[Message]:
        sync, rules = self._time, self.rules
        for t1, give_up in list(sync.waiting.items()):
            if now_us >= give_up:
                del sync.waiting[t1]
        if sync.next_us is None or now_us < sync.next_us or not self._known:
            return []
        if sync.sent % rules.time_burst == 0:
            sync.round_start_us = now_us
        sync.sent += 1
        self.stats.time_requests += 1
        sync.waiting[now_us] = now_us + _us(rules.time_reply_timeout_s)
        if sync.sent % rules.time_burst:
            sync.next_us = now_us + _us(rules.time_burst_step_s)
        else:  # the round is sent: the next one starts a gap after this one started
            gap = self.time_round_gap_s(now_us)
            sync.next_us = max(now_us + 1, sync.round_start_us + _us(gap))
        return [TimeRequest(now_us)]


def _us(seconds: float) -> int:
    return round(seconds * 1e6)
