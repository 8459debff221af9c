"""The virtual scanner's core, sans-IO: a clock reading in, bytes to write out.

``VirtualScanner`` behaves like the scanner's firmware (PROTOCOL.md §6): a BOOT HELLO at
power-on, repeated every 250 ms until a host command arrives, PONG + HELLO on PING, HELLO on
START, STOP and CONFIG, TIME_REPLY on TIME_REQUEST, CAPTURE packets at the capture rate and
POWER batches from a simulated monitor while streaming, and a HEARTBEAT every second in every
state. Its clock (µs since boot) may run ``clock_ppm`` fast or slow against the host's. It never
touches a file descriptor: the caller passes the time (``now_us``, any monotonic microsecond
clock), writes the returned frames and feeds back what the host sent, so tests drive it with a
fake clock and a ``Connection(role="host")``, and the pty runner drives it for real.

Captures come from ``edgekit.data.synth.generate`` in chunks of ``chunk_size`` with seeds
derived from the scanner's seed, so a seed and a clock give the same bytes every run. The
ground truth of every capture (class, SNR, carrier offset) is kept in ``truth`` for end-to-end
tests and accuracy monitoring. Capture ids are unique over the emulator's run (not restarted
at a reset) so that truth can be joined on them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from edgekit.data.synth import generate, to_int16_iq
from edgekit.emulator.faults import FaultInjector, FaultStats
from edgekit.emulator.power import PowerMonitor
from edgekit.emulator.records import (
    GAIN_RANGE_DB,
    MAX_CAPTURE_RATE_HZ,
    Frame,
    ScannerConfig,
    ScannerStats,
    TruthRecord,
)
from edgekit.emulator.scenario import ScenarioPoint
from firmware_bridge import (
    MAX_CAPTURE_SAMPLES,
    PROTOCOL_MINOR,
    Capability,
    Capture,
    Config,
    Connection,
    DeviceState,
    Heartbeat,
    Hello,
    Log,
    LogLevel,
    Message,
    MessageType,
    Packet,
    PacketFlag,
    Ping,
    Pong,
    Power,
    RemoteProtocolError,
    Result,
    SampleFormat,
    Start,
    Stop,
    TimeReply,
    TimeRequest,
)
from firmware_bridge.codec import build_header, encode_payload, encode_raw, forge_payload
from firmware_bridge.layouts import hello_incompatibilities

__all__ = [
    "MAX_CAPTURE_RATE_HZ",
    "Frame",
    "ScannerConfig",
    "ScannerStats",
    "TruthRecord",
    "VirtualScanner",
]

_MAX_BACKLOG_US = 1_000_000  # a poll this late skips older captures (acquisition overflow)
_CAPABILITIES = (
    Capability.POWER_MONITOR
    | Capability.HEARTBEAT
    | Capability.RESULT_DISPLAY
    | Capability.CONFIG_GAIN
    | Capability.CONFIG_FREQUENCY
)


@dataclass
class _Chunk:
    point: ScenarioPoint
    x: np.ndarray  # (k, 2, N_SAMPLES) float32
    classes: list[str]
    snr_db: list[float]
    cfo_hz: list[float]
    pos: int = 0


class VirtualScanner:
    """The scanner firmware, sans-IO (see the module docstring).

    Call ``boot(now_us)`` once, then ``poll(now_us)`` whenever the clock moved and
    ``receive_data(data, now_us)`` with the host's bytes; each returns the frames to write in
    order. ``next_due_us()`` says when ``poll`` has something to do next.
    """

    def __init__(self, config: ScannerConfig | None = None) -> None:
        self.config = cfg = config if config is not None else ScannerConfig()
        self.stats = ScannerStats()
        self.truth: list[TruthRecord] = []
        self._truth_index: dict[int, int] = {}
        self._answered: set[int] = set()
        # every cut of the way back from the host (unplug, reboot, end of the run) with the
        # captures still owed a RESULT then (see ``note_cut``)
        self.cuts: list[dict[str, Any]] = []
        self._injector = FaultInjector(cfg.faults, seed=cfg.seed)
        self._monitor = PowerMonitor(cfg.power, seed=cfg.seed)
        self._boot_rng = np.random.default_rng(np.random.SeedSequence((cfg.seed, 0xB007)))
        self._minor = min(cfg.protocol_version[1], PROTOCOL_MINOR)  # the layouts it speaks
        self._conn = Connection(role="device")
        self.boot_id = 0
        self._boot_acked = False
        self._next_boot_hello_us: int | None = None
        self._rx_errors_before_boot = 0
        self._chunk: _Chunk | None = None
        self._chunk_index = 0
        self._next_capture_id = 0
        self._origin_us: int | None = None
        self._boot_us = 0
        self._booted = False
        self._connected = True
        self._seq = 0
        self._overflow = False
        self._streaming = False
        self._stopped = False
        self._finished = False
        self.state_since_us = 0
        self._interrupted_at_us: int | None = None
        self._next_capture_us: int | None = None
        self._next_heartbeat_us = 0
        self._next_power_us: int | None = None
        self._captures_since_boot = 0
        self._dropped_since_boot = 0
        # settings CONFIG may change
        self._sample_rate_hz = cfg.sample_rate_hz
        self._centre_freq_hz = cfg.centre_freq_hz
        self._gain_db = cfg.gain_db
        self._period_us = round(1e6 / cfg.capture_rate_hz)
        self._samples = cfg.samples_per_capture
        self._power_period_ms = cfg.power_period_ms

    # -- state --------------------------------------------------------------------------------
    @property
    def is_streaming(self) -> bool:
        """True while captures are being produced."""
        return self._streaming

    @property
    def finished(self) -> bool:
        """True once ``max_captures`` captures were produced."""
        return self._finished

    @property
    def capture_rate_hz(self) -> float:
        """The capture rate in force."""
        return 1e6 / self._period_us

    @property
    def gain_db(self) -> float:
        """The gain in force."""
        return self._gain_db

    @property
    def fault_stats(self) -> FaultStats:
        """What the fault injector did."""
        return self._injector.stats

    @property
    def seq(self) -> int:
        """The sequence number the next packet will carry."""
        return self._seq

    def unanswered(self) -> list[int]:
        """Ids of captures written intact that no RESULT answered (yet), in order."""
        return [t.capture_id for t in self.truth if t.fault is None and t.capture_id not in self._answered]

    def note_cut(self, kind: str, now_us: int) -> None:
        """Book the captures owed a RESULT when the way back from the host is cut: ``unplug``
        (the pty and every byte in it vanish), ``reboot`` (a fresh decoder drops a RESULT it
        was half-way through) or ``end`` (the emulator stops reading).

        The host answers in capture order over an ordered byte stream, so a RESULT can go
        missing only at a cut, and only one of a capture above the highest answered so far:
        those are the ``owed`` ids. A capture that arrived and whose RESULT is missing although
        it is owed at no cut was lost by the host, whatever the load."""
        last = max(self._answered, default=-1)
        owed = [i for i in self.unanswered() if i > last]
        at_s = (now_us - self._origin_us) / 1e6 if self._origin_us is not None else 0.0
        self.cuts.append({"kind": kind, "at_s": round(at_s, 6), "last_answered": last, "owed": owed})

    def device_time_us(self, now_us: int) -> int:
        """The device clock (µs since the last boot, running ``clock_ppm`` off) at ``now_us``."""
        return max(0, int((now_us - self._boot_us) * (1.0 + self.config.clock_ppm * 1e-6)))

    @property
    def boot_us(self) -> int:
        """Host time of the last boot (where the device clock read 0)."""
        return self._boot_us

    @property
    def state(self) -> DeviceState:
        """What the device would announce: idle (after boot), streaming or stopped."""
        if self._streaming:
            return DeviceState.STREAMING
        return DeviceState.STOPPED if self._stopped else DeviceState.IDLE

    # -- driving ------------------------------------------------------------------------------
    def boot(self, now_us: int) -> list[Frame]:
        """Power on (or reboot): sequence from 0, a 0x00 to end any partial frame, BOOT HELLO."""
        if self._origin_us is None:
            self._origin_us = now_us
        if self._booted:
            self.note_cut("reboot", now_us)
        self._booted = True
        self._boot_us = now_us
        if self._streaming:
            self._interrupted_at_us = now_us
        self.state_since_us = now_us
        self._seq = 0
        self._overflow = False
        self._streaming = False
        self._stopped = False
        self._next_capture_us = None
        self._next_power_us = None
        self.boot_id = int(self._boot_rng.integers(1, 1 << 32))
        self._boot_acked = False
        repeat = self._minor >= 1
        self._next_boot_hello_us = now_us + self.config.boot_hello_repeat_ms * 1000 if repeat else None
        self._captures_since_boot = 0
        self._dropped_since_boot = 0
        self._rx_errors_before_boot = self.stats.rx_errors
        self._conn = Connection(role="device")
        self._monitor.restart(0)
        self._schedule_housekeeping(now_us)
        self.stats.boots += 1
        frames = [Frame(b"\x00", boot=self.stats.boots)]
        frames += self._boot_hello(now_us)
        text = f"edgekit virtual scanner booted (boot {self.stats.boots}, seed {self.config.seed})"
        frames += self._send(Log(LogLevel.INFO, text), now_us)
        return frames

    def set_connected(self, connected: bool, now_us: int) -> list[Frame]:
        """The USB host went away (False) or came back (True).

        Like firmware that checks its CDC port, the scanner produces nothing while unplugged
        (streaming state is kept) and announces itself with a HELLO on replug.
        """
        if connected == self._connected:
            return []
        self._connected = connected
        if not connected:
            return []
        self._schedule_housekeeping(now_us)
        self._monitor.restart(self.device_time_us(now_us))
        if self._streaming:
            self._next_capture_us = now_us
        return [Frame(b"\x00", boot=self.stats.boots), *self._send(self._hello(), now_us)]

    def next_due_us(self) -> int | None:
        """When ``poll`` will next have a packet to send (None: nothing scheduled)."""
        if not self._booted or not self._connected:
            return None
        due = [self._next_heartbeat_us]
        if self._next_power_us is not None:
            due.append(self._next_power_us)
        if self._next_boot_hello_us is not None:
            due.append(self._next_boot_hello_us)
        if self._next_capture_us is not None and self._streaming:
            due.append(self._next_capture_us)
        return min(due)

    def poll(self, now_us: int) -> list[Frame]:
        """The packets due by ``now_us``, in the order of their due times."""
        if not self._booted or not self._connected:
            return []
        frames: list[Frame] = []
        self._skip_backlog(now_us)
        while (due := self.next_due_us()) is not None and due <= now_us:
            if self._streaming and self._next_capture_us == due:
                frames += self._capture(due)
            elif self._next_boot_hello_us == due:
                frames += self._boot_hello(due)
            elif self._next_power_us == due:
                frames += self._power(due)
            else:
                frames += self._heartbeat(due)
        return frames

    def receive_data(self, data: bytes, now_us: int) -> list[Frame]:
        """Bytes from the host: commands are answered, RESULTs counted."""
        if not self._booted:
            return []
        self._conn.receive_data(data)
        frames: list[Frame] = []
        while True:
            try:
                event = self._conn.next_event()
            except RemoteProtocolError as e:
                frames += self._send(Log(LogLevel.ERROR, str(e)[:255]), now_us)
                continue
            if event is None:
                break
            if isinstance(event, Packet):
                if not isinstance(event.message, Result):
                    self._boot_acked = True  # any command acknowledges the BOOT HELLO
                    self._next_boot_hello_us = None
                frames += self._command(event.message, now_us)
        self.stats.rx_errors = self._rx_errors_before_boot + self._rx_errors_since_boot()
        return frames

    def set_fault(self, frame: Frame, fault: str) -> None:
        """Record what became of ``frame`` on the way (``merged``, ``not_open``) in the truth."""
        if frame.truth is not None:
            self._set_fault(frame.truth.capture_id, fault)

    def tx_dropped(self, frame: Frame, reason: str) -> None:
        """The transport could not write ``frame`` (``reason``: tx_overflow, unplugged)."""
        self._overflow = True
        if frame.truth is not None:
            self.stats.captures_dropped += 1
            self._dropped_since_boot += 1
            self._set_fault(frame.truth.capture_id, reason)

    # -- commands -----------------------------------------------------------------------------
    def _command(self, message: Message, now_us: int) -> list[Frame]:
        if isinstance(message, Start):
            self.stats.starts += 1
            if not self._streaming and not self._finished:
                self._streaming = True
                self._stopped = False
                self.state_since_us = now_us
                if self._interrupted_at_us is not None:
                    self.stats.restarts += 1
                    gap = now_us - self._interrupted_at_us
                    self.stats.longest_restart_us = max(self.stats.longest_restart_us, gap)
                    self._interrupted_at_us = None
                self._next_capture_us = now_us
                self._monitor.set_streaming(True, self.device_time_us(now_us))
                self._monitor.restart(self.device_time_us(now_us))
                period = self._power_period_ms
                self._next_power_us = now_us + period * 1000 if period else None
            return self._send(self._hello(), now_us)
        if isinstance(message, Stop):
            self.stats.stops += 1
            self._stop(now_us)
            self._stopped = True
            self.state_since_us = now_us
            self._interrupted_at_us = None
            return self._send(self._hello(), now_us) if self._minor >= 1 else []
        if isinstance(message, TimeRequest):
            if self._minor < 1:
                return []  # a 1.0 device does not know TIME (its decoder counts it unknown)
            self.stats.time_requests += 1
            t2 = self.device_time_us(now_us)
            return self._send(TimeReply(message.t1_us, t2, self.device_time_us(now_us)), now_us)
        if isinstance(message, Ping):
            self.stats.pings += 1
            return self._send(Pong(message.token), now_us) + self._send(self._hello(), now_us)
        if isinstance(message, Config):
            self.stats.configs += 1
            self._configure(message, now_us)
            return self._send(self._hello(), now_us)
        if isinstance(message, Result):
            self._result(message)
        return []

    def _stop(self, now_us: int) -> None:
        if self._streaming:
            self._streaming = False
            self._next_capture_us = None
            self._next_power_us = None  # POWER only while streaming (PROTOCOL.md §5.3)
            self._monitor.set_streaming(False, self.device_time_us(now_us))

    def _configure(self, c: Config, now_us: int) -> None:
        if c.sample_rate_hz:
            self._sample_rate_hz = c.sample_rate_hz
        if c.centre_freq_hz:
            self._centre_freq_hz = c.centre_freq_hz
        self._gain_db = min(max(c.gain_db, GAIN_RANGE_DB[0]), GAIN_RANGE_DB[1])
        min_period_us = round(1e6 / MAX_CAPTURE_RATE_HZ)
        self._period_us = max(min_period_us, c.capture_period_ms * 1000)
        if c.samples_per_capture:
            self._samples = min(c.samples_per_capture, MAX_CAPTURE_SAMPLES)
        model = self.config.power
        old_power = self._power_period_ms
        self._power_period_ms = min(c.power_period_ms, model.max_batch_period_ms)
        if self._power_period_ms and not old_power and self._streaming:
            self._monitor.restart(self.device_time_us(now_us))
            self._next_power_us = now_us + self._power_period_ms * 1000
        elif not self._power_period_ms:
            self._next_power_us = None
        if self._next_capture_us is not None:
            self._next_capture_us = min(self._next_capture_us, now_us + self._period_us)

    def _result(self, r: Result) -> None:
        stats = self.stats
        stats.results_received += 1
        stats.results_by_label[r.label_index] += 1
        stats.result_latency_us_total += r.latency_us
        stats.results_with_context += r.context is not None
        if r.capture_id not in self._truth_index:
            stats.results_unknown_id += 1
        elif r.capture_id in self._answered:
            stats.results_duplicate += 1
        else:
            self._answered.add(r.capture_id)

    # -- periodic packets ---------------------------------------------------------------------
    def _schedule_housekeeping(self, now_us: int) -> None:
        self._next_heartbeat_us = now_us + self.config.heartbeat_period_ms * 1000
        period = self._power_period_ms
        streaming = self._streaming
        self._next_power_us = now_us + period * 1000 if period and streaming else None

    def _boot_hello(self, due_us: int) -> list[Frame]:
        """The BOOT HELLO, and the next repeat if the host has not answered yet (§6.2)."""
        self.stats.boot_hellos += 1
        if self._next_boot_hello_us is not None and not self._boot_acked:
            self._next_boot_hello_us = due_us + self.config.boot_hello_repeat_ms * 1000
        return self._send(self._hello(), due_us, PacketFlag.BOOT)

    def _skip_backlog(self, now_us: int) -> None:
        """A caller that fell far behind loses captures, as a real ADC FIFO would."""
        nxt = self._next_capture_us
        if not self._streaming or nxt is None or now_us - nxt <= _MAX_BACKLOG_US:
            return
        skipped = (now_us - _MAX_BACKLOG_US - nxt) // self._period_us + 1
        self._next_capture_us = nxt + skipped * self._period_us
        self.stats.captures_dropped += skipped
        self._dropped_since_boot += skipped
        self._overflow = True

    def _heartbeat(self, due_us: int) -> list[Frame]:
        self._next_heartbeat_us = due_us + self.config.heartbeat_period_ms * 1000
        v11 = self._minor >= 1
        beat = Heartbeat(
            uptime_s=self.device_time_us(due_us) // 1_000_000,
            captures_sent=self._captures_since_boot,
            captures_dropped=self._dropped_since_boot,
            rx_errors=self._rx_errors_since_boot(),
            boot_id=self.boot_id if v11 else None,
            host_packets_lost=self._conn.stats.lost_packets if v11 else None,
            state=int(self.state) if v11 else None,
        )
        return self._send(beat, due_us)

    def _power(self, due_us: int) -> list[Frame]:
        self._next_power_us = due_us + self._power_period_ms * 1000
        samples = self._monitor.take(self.device_time_us(due_us))
        return self._send(Power(tuple(samples)), due_us)

    def _capture(self, due_us: int) -> list[Frame]:
        self._next_capture_us = due_us + self._period_us
        origin = self._origin_us if self._origin_us is not None else due_us
        point = self.config.scenario.at((due_us - origin) / 1e6)
        x, class_name, snr_db, cfo_hz = self._next_signal(point)
        lin = 10.0 ** ((self._gain_db - self.config.gain_db) / 20.0)
        iq = to_int16_iq(x[None, :, : self._samples] * np.float32(lin))[0]
        capture_id = self._next_capture_id
        self._next_capture_id = (capture_id + 1) & 0xFFFF_FFFF
        device_t = self.device_time_us(due_us)
        self._monitor.note_capture(device_t)
        message = Capture(
            capture_id=capture_id,
            sample_rate_hz=self._sample_rate_hz,
            centre_freq_hz=self._centre_freq_hz,
            gain_db=float(self._gain_db),
            iq_bytes=iq.astype("<i2", copy=False).tobytes(),
        )
        truth = TruthRecord(capture_id, class_name, snr_db, cfo_hz, point.drift, device_t, self.stats.boots)
        self._captures_since_boot += 1
        self.stats.captures_sent += 1
        max_captures = self.config.max_captures
        if max_captures is not None and self.stats.captures_sent >= max_captures:
            self._finished = True
            self._stop(due_us)
        reset_every = self.config.reset_every
        if reset_every is not None and self._captures_since_boot >= reset_every:
            return self._reset_mid_packet(message, due_us, truth)
        return self._send(message, due_us, truth=truth)

    def _reset_mid_packet(self, message: Capture, due_us: int, truth: TruthRecord) -> list[Frame]:
        seq = self._seq
        data = self._encode(message, due_us, self._take_overflow())
        truth = replace(truth, fault="reset")
        self._record(truth)
        self.stats.packets_sent += 1
        boot = self.stats.boots
        half = Frame(data[: len(data) // 2], MessageType.CAPTURE, truth, "reset", seq, boot)
        return [half, *self.boot(due_us)]

    def _next_signal(self, point: ScenarioPoint) -> tuple[np.ndarray, str, float, float]:
        chunk = self._chunk
        if chunk is None or chunk.pos >= len(chunk.classes) or chunk.point != point:
            chunk = self._chunk = self._generate(point)
        i = chunk.pos
        chunk.pos += 1
        return chunk.x[i], chunk.classes[i], chunk.snr_db[i], chunk.cfo_hz[i]

    def _generate(self, point: ScenarioPoint) -> _Chunk:
        cfg = self.config
        seed = int(np.random.SeedSequence((cfg.seed, self._chunk_index)).generate_state(1)[0])
        self._chunk_index += 1
        ds = generate(
            cfg.chunk_size,
            seed=seed,
            classes=point.classes,
            snr_range_db=point.snr_range_db,
            cfo_max_hz=cfg.cfo_max_hz,
            multipath_prob=cfg.multipath_prob,
            drift=point.drift,
        )
        return _Chunk(
            point,
            ds.x,
            [str(c) for c in ds.meta["class"].tolist()],
            [float(v) for v in ds.meta["snr_db"].tolist()],
            [float(v) for v in ds.meta["cfo_hz"].tolist()],
        )

    # -- encoding -----------------------------------------------------------------------------
    def _hello(self) -> Hello:
        cfg = self.config
        major, minor = cfg.protocol_version
        fw_major, fw_minor, fw_patch = cfg.firmware_version
        v11 = self._minor >= 1
        caps = _CAPABILITIES | (Capability.TIME_SYNC if v11 else Capability.NONE)
        return Hello(
            protocol_major=major,
            protocol_minor=minor,
            firmware_major=fw_major,
            firmware_minor=fw_minor,
            firmware_patch=fw_patch,
            device_id=cfg.device_id,
            sample_rate_hz=self._sample_rate_hz,
            sample_format=cfg.sample_format,
            samples_per_capture=self._samples,
            centre_freq_hz=self._centre_freq_hz,
            capabilities=int(caps),
            boot_id=self.boot_id if v11 else None,
            state=int(self.state) if v11 else None,
            capture_period_ms=self._period_us // 1000 if v11 else None,
            power_period_ms=self._power_period_ms if v11 else None,
        )

    def _take_overflow(self) -> int:
        flags = PacketFlag.OVERFLOW if self._overflow else PacketFlag.NONE
        self._overflow = False
        return int(flags)

    def _send(
        self, message: Message, t_us: int, flags: int = 0, *, truth: TruthRecord | None = None
    ) -> list[Frame]:
        seq = self._seq
        data = self._encode(message, t_us, flags | self._take_overflow())
        self.stats.packets_sent += 1
        boot_hello = isinstance(message, Hello) and bool(flags & PacketFlag.BOOT)
        damage = self._injector.apply(data, boot_hello=boot_hello)
        fault = damage.fault if damage.fault != "duplicate" else None
        if truth is not None:
            truth = replace(truth, fault=fault)
            self._record(truth)
        frame = Frame(
            damage.data, message.TYPE, truth, damage.fault, seq, self.stats.boots,
            len(damage.prefix), damage.intact, damage.copies,
        )  # fmt: skip
        return [frame]

    def _encode(self, message: Message, t_us: int, flags: int) -> bytes:
        fmt = self.config.sample_format
        if isinstance(message, Capture) and fmt != SampleFormat.CI16:
            # announce another sample format (the codec refuses to build one on purpose)
            payload = forge_payload(replace(message, sample_format=fmt))
        elif isinstance(message, Hello) and hello_incompatibilities(message):
            payload = forge_payload(message)
        else:
            payload = encode_payload(message, self._minor)
        major, minor = self.config.protocol_version
        header = build_header(
            message.TYPE,
            self._seq,
            self.device_time_us(t_us),
            len(payload),
            flags,
            major=major,
            minor=minor,
        )
        self._seq = (self._seq + 1) & 0xFFFF
        return encode_raw(header + payload)

    def _rx_errors_since_boot(self) -> int:
        rx = self._conn.stats
        return rx.crc_failures + rx.framing_errors + rx.resyncs + rx.version_mismatches

    def _record(self, truth: TruthRecord) -> None:
        self._truth_index[truth.capture_id] = len(self.truth)
        self.truth.append(truth)

    def _set_fault(self, capture_id: int, fault: str) -> None:
        i = self._truth_index.get(capture_id)
        if i is not None:
            self.truth[i] = replace(self.truth[i], fault=fault)
