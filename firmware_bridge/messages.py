"""The protocol's messages as frozen dataclasses, one per message type (see PROTOCOL.md).

Messages carry payload fields only; the packet header (sequence number, device timestamp, flags)
travels beside them in :class:`firmware_bridge.events.Packet`. Units live in field names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, IntFlag
from typing import TYPE_CHECKING, ClassVar, NamedTuple

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "DEVICE_TO_HOST",
    "HOST_TO_DEVICE",
    "Capability",
    "Capture",
    "Config",
    "DeviceState",
    "Heartbeat",
    "Hello",
    "Log",
    "LogLevel",
    "Message",
    "MessageType",
    "PacketFlag",
    "Ping",
    "Pong",
    "Power",
    "PowerSample",
    "Result",
    "ResultContext",
    "ResultFlag",
    "SampleFormat",
    "Start",
    "Stop",
    "TimeReply",
    "TimeRequest",
]


class MessageType(IntEnum):
    """Message type byte. Bit 7 set = host to device."""

    HELLO = 0x01
    CAPTURE = 0x02
    POWER = 0x03
    HEARTBEAT = 0x04
    LOG = 0x05
    PONG = 0x06
    TIME_REPLY = 0x07  # 1.1
    START = 0x81
    STOP = 0x82
    CONFIG = 0x83
    RESULT = 0x84
    PING = 0x85
    TIME_REQUEST = 0x86  # 1.1


class PacketFlag(IntFlag):
    """Header flag bits. Unassigned bits are sent as 0 and ignored on receipt."""

    NONE = 0
    OVERFLOW = 0x01  # the sender dropped data (TX buffer full) just before this packet
    BOOT = 0x02  # HELLO only: first HELLO since power-on or reset (sequence restarts)


class SampleFormat(IntEnum):
    """Sample encoding of a capture. 1.0 defines interleaved little-endian int16 I, Q."""

    CI16 = 1


class Capability(IntFlag):
    """Capability bits announced in HELLO."""

    NONE = 0
    POWER_MONITOR = 0x01  # sends POWER batches
    HEARTBEAT = 0x02  # sends HEARTBEAT
    RESULT_DISPLAY = 0x04  # shows / beeps RESULT
    CONFIG_GAIN = 0x08  # honours CONFIG.gain_db
    CONFIG_FREQUENCY = 0x10  # honours CONFIG.centre_freq_hz
    TIME_SYNC = 0x20  # 1.1: answers TIME_REQUEST with TIME_REPLY


class DeviceState(IntEnum):
    """The device's streaming state, announced in 1.1 HELLO and HEARTBEAT."""

    IDLE = 0  # booted (or reconnected) and waiting for START
    STREAMING = 1
    STOPPED = 2  # stopped by STOP (or by its capture count)


class ResultFlag(IntFlag):
    """RESULT flags."""

    NONE = 0
    UNKNOWN = 0x01  # the model said "I don't know" (out of distribution)
    FALLBACK = 0x02  # produced by the baseline, not the model
    OVERRUN = 0x04  # the latency budget was exceeded
    LATENCY_FROM_RECEIPT = 0x08  # 1.1: latency_us counts from the CAPTURE's arrival (no clock map)
    CONTEXT = 0x10  # 1.2: the 8-byte context field follows (Result.context), PROTOCOL.md §5.10


class LogLevel(IntEnum):
    """LOG severity."""

    DEBUG = 0
    INFO = 1
    WARNING = 2
    ERROR = 3


@dataclass(frozen=True, slots=True)
class Hello:
    """Device identity and current acquisition settings; sent at boot, on START and on PING.

    The last four fields are protocol 1.1: all None for a 1.0 HELLO, all set for 1.1.
    """

    TYPE: ClassVar[MessageType] = MessageType.HELLO
    protocol_major: int
    protocol_minor: int
    firmware_major: int
    firmware_minor: int
    firmware_patch: int
    device_id: int
    sample_rate_hz: int
    sample_format: int
    samples_per_capture: int
    centre_freq_hz: int
    capabilities: int
    boot_id: int | None = None  # 1.1: random, non-zero, new at every boot
    state: int | None = None  # 1.1: DeviceState
    capture_period_ms: int | None = None  # 1.1: in force (0 = as fast as possible)
    power_period_ms: int | None = None  # 1.1: in force (0 = no POWER)


@dataclass(frozen=True, slots=True)
class Capture:
    """One radio capture: ``iq_bytes`` holds n interleaved little-endian int16 (I, Q) pairs."""

    TYPE: ClassVar[MessageType] = MessageType.CAPTURE
    capture_id: int
    sample_rate_hz: int
    centre_freq_hz: int
    gain_db: float
    iq_bytes: bytes
    sample_format: int = SampleFormat.CI16

    @property
    def n_samples(self) -> int:
        """Number of complex samples."""
        return len(self.iq_bytes) // 4

    @property
    def iq(self) -> npt.NDArray[np.int16]:
        """A read-only (n, 2) int16 view of the samples (column 0 = I, column 1 = Q)."""
        import numpy as np

        return np.frombuffer(self.iq_bytes, dtype="<i2").reshape(-1, 2)

    def iq_complex(self) -> npt.NDArray[np.complex64]:
        """The samples as complex64, unscaled (full scale = 32768)."""
        import numpy as np

        pairs = self.iq.astype(np.float32)
        return (pairs[:, 0] + 1j * pairs[:, 1]).astype(np.complex64)

    @classmethod
    def from_iq(
        cls,
        iq: npt.ArrayLike,
        *,
        capture_id: int,
        sample_rate_hz: int,
        centre_freq_hz: int,
        gain_db: float = 0.0,
    ) -> Capture:
        """Build a capture from an int16 array of shape (n, 2) or (2n,) (I, Q interleaved)."""
        import numpy as np

        arr = np.asarray(iq)
        if arr.dtype != np.int16:
            arr = arr.astype(np.int16)
        return cls(
            capture_id=capture_id,
            sample_rate_hz=sample_rate_hz,
            centre_freq_hz=centre_freq_hz,
            gain_db=gain_db,
            iq_bytes=arr.astype("<i2", copy=False).tobytes(),
        )


class PowerSample(NamedTuple):
    """One power-monitor reading: bus voltage in mV, signed current in uA (+ = drawn).

    A NamedTuple rather than a dataclass: a batch holds hundreds, built straight from
    ``struct.iter_unpack`` at a fraction of a frozen dataclass's construction cost.
    """

    timestamp_us: int
    voltage_mv: int
    current_ua: int

    @property
    def power_mw(self) -> float:
        """Instantaneous power in milliwatts."""
        return self.voltage_mv * self.current_ua / 1e6


@dataclass(frozen=True, slots=True)
class Power:
    """A batch of power-monitor readings, oldest first."""

    TYPE: ClassVar[MessageType] = MessageType.POWER
    samples: tuple[PowerSample, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """Periodic liveness and device-side counters (the last three fields are 1.1: all None
    for a 1.0 HEARTBEAT, all set for 1.1)."""

    TYPE: ClassVar[MessageType] = MessageType.HEARTBEAT
    uptime_s: int
    captures_sent: int
    captures_dropped: int
    rx_errors: int
    boot_id: int | None = None  # 1.1
    host_packets_lost: int | None = None  # 1.1: gaps in the host's sequence numbers since boot
    state: int | None = None  # 1.1: DeviceState


@dataclass(frozen=True, slots=True)
class Log:
    """A text log line from the firmware (UTF-8, at most 255 bytes encoded)."""

    TYPE: ClassVar[MessageType] = MessageType.LOG
    level: int
    text: str


@dataclass(frozen=True, slots=True)
class Pong:
    """Reply to PING, echoing its token."""

    TYPE: ClassVar[MessageType] = MessageType.PONG
    token: int


@dataclass(frozen=True, slots=True)
class Start:
    """Ask the device to stream captures."""

    TYPE: ClassVar[MessageType] = MessageType.START


@dataclass(frozen=True, slots=True)
class Stop:
    """Ask the device to stop streaming captures."""

    TYPE: ClassVar[MessageType] = MessageType.STOP


@dataclass(frozen=True, slots=True)
class Config:
    """Acquisition settings; applied by the device from the next capture on."""

    TYPE: ClassVar[MessageType] = MessageType.CONFIG
    sample_rate_hz: int
    centre_freq_hz: int
    gain_db: float
    capture_period_ms: int
    samples_per_capture: int
    power_period_ms: int


@dataclass(frozen=True, slots=True)
class ResultContext:
    """1.2: how often the model was right, at build time, for this label in conditions like the
    capture's: ``precision`` with its Wilson interval (fractions, 1e-4 resolution on the wire)
    of ``n`` validated answers (at most 65535; the host saturates)."""

    precision: float
    ci_low: float
    ci_high: float
    n: int


@dataclass(frozen=True, slots=True)
class Result:
    """The host's verdict on a capture, for the scanner to display or beep.

    ``context`` (1.2, optional) goes with flag ``ResultFlag.CONTEXT``: both or neither."""

    TYPE: ClassVar[MessageType] = MessageType.RESULT
    capture_id: int
    label_index: int
    confidence: float
    latency_us: int
    flags: int = ResultFlag.NONE
    context: ResultContext | None = None


@dataclass(frozen=True, slots=True)
class Ping:
    """Liveness probe; the device answers PONG(token) then HELLO."""

    TYPE: ClassVar[MessageType] = MessageType.PING
    token: int


@dataclass(frozen=True, slots=True)
class TimeRequest:
    """1.1: first half of a clock exchange; ``t1_us`` is the host's clock when it is sent."""

    TYPE: ClassVar[MessageType] = MessageType.TIME_REQUEST
    t1_us: int


@dataclass(frozen=True, slots=True)
class TimeReply:
    """1.1: the device's answer: ``t1_us`` echoed, ``t2_us`` its clock when the request
    arrived, ``t3_us`` its clock when this reply was sent (device clock = µs since boot)."""

    TYPE: ClassVar[MessageType] = MessageType.TIME_REPLY
    t1_us: int
    t2_us: int
    t3_us: int


Message = (
    Hello
    | Capture
    | Power
    | Heartbeat
    | Log
    | Pong
    | TimeReply
    | Start
    | Stop
    | Config
    | Result
    | Ping
    | TimeRequest
)

DEVICE_TO_HOST: frozenset[MessageType] = frozenset(t for t in MessageType if t < 0x80)
HOST_TO_DEVICE: frozenset[MessageType] = frozenset(t for t in MessageType if t >= 0x80)
