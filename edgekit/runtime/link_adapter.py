"""The one module of the daemon that talks to ``firmware_bridge``: wire events in, the
daemon's own events (``link_events``) out, RESULTs back.

Protocol 1.0 leaves the handshake to the host, so this adapter keeps it thin: PING until a HELLO
arrives (every ``hello_retry_s``), START once per connection or scanner boot after the daemon
accepted the HELLO, STOP when it refused it, and a handshake again when streaming was asked for
but no capture came for ``stream_timeout_s`` (a reboot whose BOOT HELLO was lost). Captures
lost are counted from gaps in the capture ids (packets lost from the sequence numbers); device
time is mapped to host time by an ``OffsetClockMapping``. Protocol 1.1's host session (handshake
retries, streaming watchdog) and TIME exchange replace the internals of this class; its
interface stays.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable

from edgekit.errors import UsageError
from edgekit.runtime.link_events import (
    CaptureReceived,
    CapturesLost,
    LinkDown,
    LinkErrorSeen,
    LinkUp,
    OffsetClockMapping,
    PacketsLost,
    PowerReceived,
    RuntimeLinkEvent,
    ScannerHello,
    ScannerLog,
    ScannerReset,
)
from edgekit.runtime.settings import LinkSettings
from firmware_bridge import (
    Capability,
    Capture,
    DeviceReset,
    Disconnected,
    FrameError,
    Heartbeat,
    Hello,
    Link,
    LinkError,
    Log,
    Packet,
    PacketFlag,
    Ping,
    Power,
    Reconnected,
    RemoteProtocolError,
    Result,
    ResultFlag,
    SampleFormat,
    SequenceGap,
    Start,
    Stop,
    UnknownMessage,
    open_link,
)

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
    ``send_result`` answers a capture. Reconnects by itself after an unplug."""

    def __init__(
        self,
        url: str,
        settings: LinkSettings | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = s = settings or LinkSettings()
        self.url = url
        self.clock_mapping = OffsetClockMapping()
        self._clock = clock
        try:
            self._link: Link = open_link(
                url,
                timeout_s=0.5,
                backoff_initial_s=s.backoff_initial_s,
                backoff_max_s=s.backoff_max_s,
            )
        except LinkError as e:
            raise UsageError(f"--port {url}: {e}") from e
        self._tokens = itertools.count(1)
        self._hello_seen = False
        self._start_sent = False
        self._refused = False
        self._last_ping_s = -math.inf
        self._last_capture_id: int | None = None
        self._last_capture_s = clock()
        self._heard_device = False  # any packet from the scanner since the daemon started
        self._reset_reported = False  # the decoder already reported the boot this HELLO ends
        self.watchdog_restarts = 0
        self.last_heartbeat: dict[str, int] | None = None
        self.undelivered = 0

    # -- state ---------------------------------------------------------------------------------
    @property
    def is_connected(self) -> bool:
        """True while the port is open."""
        return self._link.is_connected

    @property
    def streaming_requested(self) -> bool:
        """True once START was sent on this connection and scanner boot."""
        return self._start_sent

    # -- the daemon's calls -------------------------------------------------------------------
    def poll(self, timeout_s: float) -> list[RuntimeLinkEvent]:
        """Events that arrived within ``timeout_s`` (blocking only until the first one)."""
        self._stream_watchdog()
        self._maybe_ping()
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
        """The HELLO is compatible: ask the scanner to stream (once per connection and boot)."""
        self._refused = False
        if not self._start_sent and self._send(Start()):
            self._start_sent = True
            self._last_capture_s = self._clock()

    def refuse(self) -> None:
        """The HELLO is not compatible: ask the scanner to stop, and start nothing."""
        if not self._refused:
            self._refused = True
            self._start_sent = False
            self._send(Stop())

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
    ) -> bool:
        """Send RESULT; False (and counted in ``undelivered``) when the link is down."""
        flags = ResultFlag.NONE
        if unknown:
            flags |= ResultFlag.UNKNOWN
        if fallback:
            flags |= ResultFlag.FALLBACK
        if overrun:
            flags |= ResultFlag.OVERRUN
        conf = confidence if math.isfinite(confidence) else 0.0
        result = Result(
            capture_id=capture_id & 0xFFFF_FFFF,
            label_index=NO_LABEL if label_index is None else label_index,
            confidence=min(1.0, max(0.0, conf)),
            latency_us=min(0xFFFF_FFFF, max(0, round(latency_s * 1e6))),
            flags=int(flags),
        )
        if self._send(result):
            return True
        self.undelivered += 1
        return False

    def close(self) -> None:
        """Close the port (never raises)."""
        self._link.close()

    # -- internals ------------------------------------------------------------------------------
    def _send(self, message: Start | Stop | Ping | Result) -> bool:
        if not self._link.is_connected:
            return False
        try:
            self._link.send(message)
        except LinkError:
            return False
        return True

    def _maybe_ping(self) -> None:
        now = self._clock()
        if self._hello_seen or now - self._last_ping_s < self.settings.hello_retry_s:
            return
        if self._send(Ping(next(self._tokens) & 0xFFFF_FFFF)):
            self._last_ping_s = now

    def _stream_watchdog(self) -> None:
        """Streaming was asked for but no capture came for ``stream_timeout_s``: in protocol
        1.0 a reboot whose BOOT HELLO was lost looks exactly like this, so handshake again."""
        if not self._start_sent or not self._link.is_connected:
            return
        if self._clock() - self._last_capture_s >= self.settings.stream_timeout_s:
            self.watchdog_restarts += 1
            self._new_session()

    def _new_session(self) -> None:
        """Link re-opened or scanner rebooted: handshake again, new device clock."""
        self._hello_seen = False
        self._start_sent = False
        self._refused = False
        self._last_ping_s = -math.inf
        self.clock_mapping.reset()

    def _translate(self, event: object, out: list[RuntimeLinkEvent]) -> None:
        now = self._clock()
        if isinstance(event, Packet):
            self.clock_mapping.observe(event.timestamp_us, now)
            heard, self._heard_device = self._heard_device, True
            message = event.message
            if isinstance(message, Capture):
                self._capture(message, event.timestamp_us, now, out)
            elif isinstance(message, Power):
                host_s = self.clock_mapping.host_s
                out.append(
                    PowerReceived(
                        tuple(
                            (host_s(p.timestamp_us), p.voltage_mv / 1e3, p.current_ua / 1e6)
                            for p in message.samples
                        )
                    )
                )
            elif isinstance(message, Hello):
                self._heard_device = heard  # this HELLO itself does not count as heard before
                self._hello(message, bool(event.flags & PacketFlag.BOOT), out)
                self._heard_device = True
            elif isinstance(message, Heartbeat):
                self.last_heartbeat = {
                    "uptime_s": message.uptime_s,
                    "captures_sent": message.captures_sent,
                    "captures_dropped": message.captures_dropped,
                    "rx_errors": message.rx_errors,
                }
            elif isinstance(message, Log):
                out.append(ScannerLog(message.level, message.text))
        elif isinstance(event, SequenceGap):
            out.append(PacketsLost(event.lost))
        elif isinstance(event, FrameError):
            out.append(LinkErrorSeen(event.kind, event.detail))
        elif isinstance(event, UnknownMessage):
            out.append(LinkErrorSeen("unknown_type", f"message type 0x{event.msg_type:02x}"))
        elif isinstance(event, DeviceReset):
            self._new_session()
            self._reset_reported = True
            out.append(ScannerReset())
        elif isinstance(event, Disconnected):
            out.append(LinkDown(event.reason))
        elif isinstance(event, Reconnected):
            self._new_session()
            out.append(LinkUp(event.attempts))

    def _hello(self, m: Hello, boot: bool, out: list[RuntimeLinkEvent]) -> None:
        if boot and self._heard_device and not self._reset_reported:
            # A BOOT HELLO right after a reconnect: the decoder had forgotten the sequence, so
            # it cannot call it a reset, but the scanner did reboot while we were away.
            self._new_session()
            out.append(ScannerReset())
        self._reset_reported = False
        self._hello_seen = True
        caps = tuple(c.name.lower() for c in Capability if c.name and c & m.capabilities)
        out.append(
            ScannerHello(
                protocol_version=f"{m.protocol_major}.{m.protocol_minor}",
                firmware_version=f"{m.firmware_major}.{m.firmware_minor}.{m.firmware_patch}",
                device_id=m.device_id,
                sample_rate_hz=m.sample_rate_hz,
                sample_format=m.sample_format,
                samples_per_capture=m.samples_per_capture,
                centre_freq_hz=m.centre_freq_hz,
                capabilities=caps,
                boot=boot,
            )
        )

    def _capture(self, m: Capture, ts_us: int, now: float, out: list[RuntimeLinkEvent]) -> None:
        last = self._last_capture_id
        if last is not None:
            gap = (m.capture_id - last - 1) % _ID_MOD
            # A jump backwards (a scanner that restarts its ids at boot) is unknowable, not loss.
            if 0 < gap < _ID_MOD // 2:
                out.append(CapturesLost(gap, m.capture_id))
        self._last_capture_id = m.capture_id
        self._last_capture_s = now
        rate = m.sample_rate_hz or 1
        out.append(
            CaptureReceived(
                capture_id=m.capture_id,
                device_timestamp_us=ts_us,
                # it certainly ended before it arrived, whatever the offset estimate says
                ended_at_s=min(now, self.clock_mapping.host_s(ts_us) + m.n_samples / rate),
                received_at_s=now,
                sample_rate_hz=m.sample_rate_hz,
                sample_format=m.sample_format,
                gain_db=m.gain_db,
                iq=m.iq,
            )
        )
