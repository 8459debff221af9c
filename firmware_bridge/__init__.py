"""firmware_bridge: the scanner wire protocol (PROTOCOL.md), a sans-IO codec, the serial link and
the C reference codec (``firmware/``). Imports nothing from edgekit.

Host side::

    with open_link("/dev/ttyACM0?baud=921600") as link:
        link.send(Ping(token=1))
        for event in link.events():
            if isinstance(event, Packet) and isinstance(event.message, Capture): ...

Sans-IO: ``Connection(role)`` / ``Decoder(role)`` take bytes and hand out events; ``encode``
makes wire bytes. The same code serves a device-side emulator with ``role="device"``.
``HostSession`` is the host's handshake / retry / watchdog / clock-sync policy, driven by events
and a ``now_us`` argument; ``ClockMapping`` maps device time to host time (PROTOCOL.md §6-§7).
Pass ``session=HostSession(...)`` to ``open_link`` and the link drives it.
"""

from __future__ import annotations

from firmware_bridge._state import ConnectionState
from firmware_bridge.clock import ClockMapping, ClockSample
from firmware_bridge.codec import (
    MAX_CAPTURE_SAMPLES,
    MAX_ENCODED_SIZE,
    MAX_PACKET_SIZE,
    MAX_PAYLOAD_SIZE,
    MAX_POWER_SAMPLES,
    PROTOCOL_MAJOR,
    PROTOCOL_MINOR,
    encode,
)
from firmware_bridge.connection import Connection
from firmware_bridge.errors import BridgeError, LinkError, LocalProtocolError, RemoteProtocolError
from firmware_bridge.events import (
    DeviceReset,
    Disconnected,
    Duplicate,
    Event,
    FrameError,
    Incompatible,
    LinkEvent,
    Packet,
    PeerRestart,
    Reconnected,
    ResetCause,
    SequenceGap,
    UnknownMessage,
    VersionMismatch,
)
from firmware_bridge.link import Link, open_link
from firmware_bridge.messages import (
    Capability,
    Capture,
    Config,
    DeviceState,
    Heartbeat,
    Hello,
    Log,
    LogLevel,
    Message,
    MessageType,
    PacketFlag,
    Ping,
    Pong,
    Power,
    PowerSample,
    Result,
    ResultContext,
    ResultFlag,
    SampleFormat,
    Start,
    Stop,
    TimeReply,
    TimeRequest,
)
from firmware_bridge.protocol import Decoder, Role, StreamStats
from firmware_bridge.session import HostSession, SessionRules, SessionStats

__all__ = [
    "MAX_CAPTURE_SAMPLES",
    "MAX_ENCODED_SIZE",
    "MAX_PACKET_SIZE",
    "MAX_PAYLOAD_SIZE",
    "MAX_POWER_SAMPLES",
    "PROTOCOL_MAJOR",
    "PROTOCOL_MINOR",
    "BridgeError",
    "Capability",
    "Capture",
    "ClockMapping",
    "ClockSample",
    "Config",
    "Connection",
    "ConnectionState",
    "Decoder",
    "DeviceReset",
    "DeviceState",
    "Disconnected",
    "Duplicate",
    "Event",
    "FrameError",
    "Heartbeat",
    "Hello",
    "HostSession",
    "Incompatible",
    "Link",
    "LinkError",
    "LinkEvent",
    "LocalProtocolError",
    "Log",
    "LogLevel",
    "Message",
    "MessageType",
    "Packet",
    "PacketFlag",
    "PeerRestart",
    "Ping",
    "Pong",
    "Power",
    "PowerSample",
    "Reconnected",
    "RemoteProtocolError",
    "ResetCause",
    "Result",
    "ResultContext",
    "ResultFlag",
    "Role",
    "SampleFormat",
    "SequenceGap",
    "SessionRules",
    "SessionStats",
    "Start",
    "Stop",
    "StreamStats",
    "TimeReply",
    "TimeRequest",
    "UnknownMessage",
    "VersionMismatch",
    "encode",
    "open_link",
]
