"""The one module of the daemon that talks to ``firmware_bridge``: wire events in, the
daemon's own events (``link_events``) out, RESULTs back.

The handshake is protocol 1.1's ``HostSession`` (PROTOCOL.md §6-§7), driven by the link: PING
on every open with retries and capped backoff, START once the daemon accepted the HELLO (and
again after every reboot), a streaming watchdog, and TIME exchanges whose ``ClockMapping``
puts device time on the host clock. A 1.0 device gets the same handshake without TIME: its
capture-to-result latency then counts from arrival (and the RESULT says so). A HELLO the
bridge cannot take (``Incompatible``) goes to the daemon as a ``ScannerHello`` to be refused.
Packets lost are counted from ``SequenceGap`` and ``DeviceReset.lost`` (PROTOCOL.md §4),
duplicates apart; captures lost from gaps in the capture ids.

POWER batches: every batch wakes the daemon, so it asks a 1.1 scanner (which reports its
capture and POWER periods in HELLO) for the batch period it wants with a CONFIG (§5.9), once
it streams: the capture period and gain it reports are kept (a CONFIG carries them all), and
the period is capped at 256 readings per batch at the reading interval seen in its first
batch. After a reboot the session re-applies that CONFIG at once (§6.3: the device is the same);
after a reconnect it is built afresh from what the scanner then reports. A 1.0 scanner does
not report its capture period, so it is left as it is.
"""

from __future__ import annotations

import itertools
import math
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

from edgekit.errors import UsageError
from edgekit.runtime.link_events import (
    CaptureReceived,
    CapturesLost,
    LinkDown,
    LinkErrorSeen,
    LinkUp,
    PacketsLost,
    PowerReceived,
    RuntimeLinkEvent,
    ScannerHello,
    ScannerLog,
    ScannerReset,
)
from edgekit.runtime.settings import LinkSettings
from firmware_bridge import (
    MAX_POWER_SAMPLES,
    Capability,
    Capture,
    Config,
    DeviceReset,
    Disconnected,
    Duplicate,
    FrameError,
    Heartbeat,
    Hello,
    HostSession,
    Incompatible,
    Link,
    LinkError,
    Log,
    Packet,
    PacketFlag,
    Power,
    Reconnected,
    RemoteProtocolError,
    Result,
    ResultContext,
    ResultFlag,
    SampleFormat,
    SequenceGap,
    SessionRules,
    Stop,
    UnknownMessage,
    open_link,
)
from firmware_bridge.connection import monotonic_us

__all__ = ["NO_LABEL", "ScannerLink", "sample_format_name"]

NO_LABEL = 0xFFFF
"""RESULT label_index meaning "no label" (unknown, unavailable, skipped)."""
_MAX_EVENTS_PER_POLL = 256  # bound one poll so the daemon's commit deadline is kept
_ID_MOD = 1 << 32


def sample_format_name(code: int) -> str:
    """``ci16`` for 1, else ``format <code>``."""
    try:
        return SampleFormat(code).name.lower()
    except ValueError:
        return f"format {code}"


class ScannerLink:
    """A scanner on a serial port. ``poll`` returns events; ``accept``/``refuse`` answer a HELLO;
    ``send_result`` answers a capture. Reconnects by itself after an unplug.

    ``clock`` must be the host monotonic clock in seconds (``firmware_bridge`` stamps arrivals
    with ``time.monotonic_ns``); it is a parameter only so that tests can read it."""

    def __init__(
        self,
        url: str,
        settings: LinkSettings | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        power_period_ms: int | None = None,
    ) -> None:
        self.settings = s = settings or LinkSettings()
        # the POWER batch period to ask for (0: no POWER; None: leave the scanner's own)
        self.power_period_ms = power_period_ms
        self._gain_db: float | None = None  # as the last capture reported it
        self._reading_us: float | None = None  # interval between the meter's readings
        self._asked: Config | None = None
        self.url = url
        self._clock = clock
        # the daemon's settings map onto the session's rules: the first wait for an answer,
        # the cap on retries, and the watchdog's floor (PROTOCOL.md §6.3)
        rules = SessionRules(
            response_timeout_s=s.hello_retry_s,
            backoff_max_s=max(s.backoff_max_s, s.hello_retry_s),
            watchdog_min_s=s.stream_timeout_s,
        )
        self.session = HostSession(stream=False, rules=rules)  # START only once accepted
        try:
            self._link: Link = open_link(
                url,
                # the daemon's wait bounds every read; a shorter default would wake it on its own
                timeout_s=2.0,
                backoff_initial_s=s.backoff_initial_s,
                backoff_max_s=s.backoff_max_s,
                session=self.session,
            )
        except LinkError as e:
            # pyserial's text repeats the path twice more; its errno says it in plain words
            cause = e.__cause__
            why = (os.strerror(cause.errno) if isinstance(cause, OSError) and cause.errno
                   else str(e).removeprefix(f"{url}: "))
            raise UsageError(f"--port {url}: cannot open the scanner's port: {why}") from e
        self._refused = False
        self._last_capture_id: int | None = None
        self.last_heartbeat: dict[str, int] | None = None
        self.undelivered = 0
        self.duplicates = 0

    # -- state ---------------------------------------------------------------------------------
    @property
    def is_connected(self) -> bool:
        """True while the port is open."""
        return self._link.is_connected

    @property
    def streaming_requested(self) -> bool:
        """True while the daemon wants captures (the session keeps asking for them)."""
        return self.session.want_streaming

    @property
    def watchdog_restarts(self) -> int:
        """How often the session's streaming watchdog tripped (a stalled stream re-STARTed)."""
        return self.session.stats.watchdog_trips

    @property
    def clock_method(self) -> str:
        """How device time is put on the host clock now (for status and provenance)."""
        clock = self.session.clock
        if clock.is_synced:
            return f"TIME exchanges (PROTOCOL.md §7), drift {clock.drift_ppm:+.1f} ppm"
        return "none yet (1.0 device or no TIME reply): latency counted from arrival"

    # -- the daemon's calls -------------------------------------------------------------------
    def poll(self, timeout_s: float) -> list[RuntimeLinkEvent]:
        """Events that arrived within ``timeout_s`` (blocking only until the first one)."""
        out: list[RuntimeLinkEvent] = []
        wait_s = max(0.0, timeout_s)
        for _ in range(_MAX_EVENTS_PER_POLL):
            try:
                event = self._link.next_event(wait_s)
            except RemoteProtocolError as e:
                out.append(LinkErrorSeen("version_mismatch", str(e)))
                wait_s = 0.0
                continue
            if event is None:
                break
            self._translate(event, out)
            wait_s = 0.0
        return out

    def accept(self) -> None:
        """The HELLO is compatible: have the session ask the scanner to stream (it STARTs once
        per connection and boot, and again when its watchdog finds the stream stalled)."""
        self._refused = False
        self.session.start()
        self._send_all(self.session.poll(monotonic_us()))

    def refuse(self) -> None:
        """The HELLO is not compatible: ask the scanner to stop, and start nothing."""
        self.session.stop()
        if not self._refused:
            self._refused = True
            self._send(Stop())  # now, not after a pending command's timeout

    def send_result(
        self,
        capture_id: int,
        label_index: int | None,
        confidence: float,
        latency_s: float,
        *,
        unknown: bool = False,
        fallback: bool = False,
        overrun: bool = False,
        context: Mapping[str, Any] | None = None,
    ) -> bool:
        """Send RESULT; False (and counted in ``undelivered``) when the link is down.

        ``context`` (``edgekit.runtime.context``) goes in 1.2's optional field, only to a device
        that speaks 1.2 (PROTOCOL.md §5.10)."""
        flags = ResultFlag.NONE
        if unknown:
            flags |= ResultFlag.UNKNOWN
        if fallback:
            flags |= ResultFlag.FALLBACK
        if overrun:
            flags |= ResultFlag.OVERRUN
        if not self.session.clock.is_synced:
            flags |= ResultFlag.LATENCY_FROM_RECEIPT  # §5.9: no clock mapping, from arrival
        conf = confidence if math.isfinite(confidence) else 0.0
        wire_context = self._wire_context(context)
        if wire_context is not None:
            flags |= ResultFlag.CONTEXT
        result = Result(
            capture_id=capture_id & 0xFFFF_FFFF,
            label_index=NO_LABEL if label_index is None else label_index,
            confidence=min(1.0, max(0.0, conf)),
            latency_us=min(0xFFFF_FFFF, max(0, round(latency_s * 1e6))),
            flags=int(flags),
            context=wire_context,
        )
        if self._send(result):
            return True
        self.undelivered += 1
        return False

    def close(self) -> None:
        """Close the port (never raises)."""
        self._link.close()

    # -- internals ------------------------------------------------------------------------------
    def _wire_context(self, context: Mapping[str, Any] | None) -> ResultContext | None:
        if not context or (self.session.device_minor or 0) < 2 or context.get("precision") is None:
            return None
        lo, p, hi = (min(1.0, max(0.0, float(context[k]))) for k in ("ci_low", "precision", "ci_high"))
        lo, hi = min(lo, p), max(hi, p)  # the wire's order rule, whatever rounding did
        return ResultContext(p, lo, hi, min(0xFFFF, max(0, int(context["n"]))))

    def _send(self, message: Stop | Result) -> bool:
        if not self._link.is_connected:
            return False
        try:
            self._link.send(message)
        except LinkError:
            return False
        return True

    def _send_all(self, messages: list) -> None:
        for message in messages:
            if not self._link.is_connected:
                return
            try:
                self._link.send(message)
            except LinkError:
                return  # the session retries after its timeout

    def _learn_reading_interval(self, m: Power) -> None:
        if self._reading_us is None and len(m.samples) >= 2:
            steps = sorted(b.timestamp_us - a.timestamp_us for a, b in itertools.pairwise(m.samples))
            step = steps[len(steps) // 2]  # the median: a skipped reading does not count
            if step > 0:
                self._reading_us = float(step)

    def _wanted_power_period_ms(self) -> int | None:
        """The POWER period to ask for now, or None when there is nothing to ask (yet)."""
        want = self.power_period_ms
        if want is None or want <= 0:
            return want
        if self._reading_us is None:
            return None  # learn the meter's rate from a batch first
        # a batch holds at most 256 readings: a longer period would lose the oldest (§5.3)
        return max(1, min(want, int(MAX_POWER_SAMPLES * self._reading_us // 1000)))

    def _ask_power_period(self) -> None:
        """CONFIG the POWER period (see the module docstring) when the scanner's differs; once
        per connection (a device that clamps it keeps its answer, §5.0; a reboot gets the same
        CONFIG from the session): on every later capture and batch this returns at once."""
        if self._asked is not None:
            return
        hello = self.session.hello
        if (
            hello is None
            or hello.power_period_ms is None
            or hello.capture_period_ms is None
            or not hello.capabilities & Capability.POWER_MONITOR
            or self._gain_db is None
            or self._refused
        ):
            return
        want = self._wanted_power_period_ms()
        if want is None or want == hello.power_period_ms:
            return
        # 0 = unchanged for sample rate, centre frequency and capture length; the capture
        # period and the gain have no "unchanged", so the values in force are sent back
        config = Config(0, 0, self._gain_db, hello.capture_period_ms, 0, want)
        self._asked = config
        self.session.configure(config)  # also re-applied after every reboot
        self._send_all(self.session.poll(monotonic_us()))

    def _forget_power_config(self) -> None:
        """After a reconnect (perhaps another scanner) the CONFIG is built afresh from what the
        scanner then reports (its HELLO, its next capture), not sent with another's settings."""
        if self._asked is not None:
            self._asked = None
            self.session.configure(None)
        self._gain_db = None
        self._reading_us = None

    def _host_s(self, device_us: float, ts_us: int, now: float) -> float:
        """Host seconds of device time ``device_us``: through the TIME mapping, else relative
        to the packet (stamped ``ts_us``) taken as sent at its arrival ``now``."""
        mapped = self.session.clock.to_host_us(device_us)
        if mapped is None:
            return now - (ts_us - device_us) / 1e6
        return mapped / 1e6

    def _translate(self, event: object, out: list[RuntimeLinkEvent]) -> None:
        now = self._clock()
        if isinstance(event, Packet):
            message = event.message
            if isinstance(message, Capture):
                self._capture(event, message, now, out)
            elif isinstance(message, Power) and message.samples:
                self._learn_reading_interval(message)
                self._ask_power_period()
                # device -> host time is linear (the TIME mapping's line, or a plain offset):
                # mapped once per batch and stepped per sample, not mapped per sample
                ts, first = event.timestamp_us, message.samples[0].timestamp_us
                h0 = self._host_s(first, ts, now)
                per_us = (self._host_s(first + 1_000_000, ts, now) - h0) / 1_000_000
                out.append(
                    PowerReceived(
                        tuple(
                            (
                                min(now, h0 + (p.timestamp_us - first) * per_us),
                                p.voltage_mv / 1e3,
                                p.current_ua / 1e6,
                            )
                            for p in message.samples
                        )
                    )
                )
            elif isinstance(message, Hello):
                out.append(_scanner_hello(message, bool(event.flags & PacketFlag.BOOT)))
            elif isinstance(message, Heartbeat):
                self.last_heartbeat = {
                    "uptime_s": message.uptime_s,
                    "captures_sent": message.captures_sent,
                    "captures_dropped": message.captures_dropped,
                    "rx_errors": message.rx_errors,
                }
            elif isinstance(message, Log):
                out.append(ScannerLog(message.level, message.text))
        elif isinstance(event, Incompatible):
            # the bridge will not take these captures; the daemon names what was announced
            # against what the bundle needs and refuses (one line, the existing path)
            out.append(_scanner_hello(event.hello, False))
        elif isinstance(event, SequenceGap):
            out.append(PacketsLost(event.lost))
        elif isinstance(event, Duplicate):
            self.duplicates += 1  # a copy of a packet already taken: neither loss nor damage
            out.append(LinkErrorSeen("duplicate", f"packet seq {event.seq} received twice"))
        elif isinstance(event, FrameError):
            out.append(LinkErrorSeen(event.kind, event.detail))
        elif isinstance(event, UnknownMessage):
            out.append(LinkErrorSeen("unknown_type", f"message type 0x{event.msg_type:02x}"))
        elif isinstance(event, DeviceReset):
            if event.lost:
                out.append(PacketsLost(event.lost))  # the new boot's first packets (§4.1)
            out.append(ScannerReset())
        elif isinstance(event, Disconnected):
            out.append(LinkDown(event.reason))
        elif isinstance(event, Reconnected):
            self._forget_power_config()  # perhaps another scanner, with other settings
            out.append(LinkUp(event.attempts))

    def _capture(self, packet: Packet, m: Capture, now: float, out: list[RuntimeLinkEvent]) -> None:
        last = self._last_capture_id
        if last is not None:
            gap = (m.capture_id - last - 1) % _ID_MOD
            # A jump backwards (a scanner that restarts its ids at boot) is unknowable, not loss.
            if 0 < gap < _ID_MOD // 2:
                out.append(CapturesLost(gap, m.capture_id))
        self._last_capture_id = m.capture_id
        self._gain_db = m.gain_db
        self._ask_power_period()
        received_us = round(now * 1e6)
        end_us, _mapped = self.session.capture_end_host_us(packet, received_us)
        out.append(
            CaptureReceived(
                capture_id=m.capture_id,
                device_timestamp_us=packet.timestamp_us,
                # it certainly ended before it arrived, whatever the clock estimate says
                ended_at_s=min(now, end_us / 1e6),
                received_at_s=now,
                sample_rate_hz=m.sample_rate_hz,
                sample_format=m.sample_format,
                gain_db=m.gain_db,
                iq=m.iq,
            )
        )


def _scanner_hello(m: Hello, boot: bool) -> ScannerHello:
    caps = tuple(c.name.lower() for c in Capability if c.name and c & m.capabilities)
    return ScannerHello(
        protocol_version=f"{m.protocol_major}.{m.protocol_minor}",
        firmware_version=f"{m.firmware_major}.{m.firmware_minor}.{m.firmware_patch}",
        device_id=m.device_id,
        sample_rate_hz=m.sample_rate_hz,
        sample_format=m.sample_format,
        samples_per_capture=m.samples_per_capture,
        centre_freq_hz=m.centre_freq_hz,
        capabilities=caps,
        boot=boot,
        power_period_ms=m.power_period_ms,
    )
