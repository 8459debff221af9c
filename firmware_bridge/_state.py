"""The handshake state machines, as tables, in one place (h11 ``_state.py`` style).

Host:   IDLE --recv HELLO--> HELLO_RECEIVED --send START--> STREAMING --send STOP--> STOPPED
        a CAPTURE heard while IDLE/HELLO_RECEIVED means the device already streams: STREAMING;
        a device reset goes back to HELLO_RECEIVED from anywhere. A 1.1 HELLO or HEARTBEAT
        states what the device is doing, and the host's state follows it (RECV_STATE_*): the
        device's word is newer than anything the host assumed. A HELLO announcing captures the
        host cannot take leads to INCOMPATIBLE, which only a compatible HELLO or a reset leaves.
Device: IDLE --recv START--> STREAMING --recv STOP--> STOPPED --recv START--> STREAMING.

A (state, trigger) pair that is absent leaves the state unchanged for received triggers and is
refused (LocalProtocolError) for sent ones.
"""

from __future__ import annotations

from enum import Enum

__all__ = ["DEVICE_TRANSITIONS", "HOST_TRANSITIONS", "ConnectionState", "Trigger"]


class ConnectionState(Enum):
    """Where the handshake stands, as seen by one endpoint."""

    IDLE = "idle"
    HELLO_RECEIVED = "hello_received"
    STREAMING = "streaming"
    STOPPED = "stopped"
    INCOMPATIBLE = "incompatible"


class Trigger(Enum):
    """What moves the state: a message sent or received."""

    RECV_HELLO = "recv_hello"  # a 1.0 HELLO (no state in it)
    RECV_RESET = "recv_reset"
    RECV_CAPTURE = "recv_capture"
    RECV_STATE_IDLE = "recv_state_idle"  # 1.1 HELLO / HEARTBEAT saying the device is idle
    RECV_STATE_STREAMING = "recv_state_streaming"
    RECV_STATE_STOPPED = "recv_state_stopped"
    RECV_INCOMPATIBLE = "recv_incompatible"
    SEND_START = "send_start"
    SEND_STOP = "send_stop"
    RECV_START = "recv_start"
    RECV_STOP = "recv_stop"


_S = ConnectionState
_T = Trigger
# A HEARTBEAT's state does not lift INCOMPATIBLE; a compatible HELLO fires RECV_HELLO first.
_COMPATIBLE = [s for s in ConnectionState if s is not _S.INCOMPATIBLE]

HOST_TRANSITIONS: dict[tuple[ConnectionState, Trigger], ConnectionState] = {
    (_S.IDLE, _T.RECV_HELLO): _S.HELLO_RECEIVED,
    (_S.IDLE, _T.RECV_CAPTURE): _S.STREAMING,
    (_S.IDLE, _T.SEND_START): _S.STREAMING,
    (_S.IDLE, _T.SEND_STOP): _S.STOPPED,
    (_S.HELLO_RECEIVED, _T.RECV_HELLO): _S.HELLO_RECEIVED,
    (_S.HELLO_RECEIVED, _T.RECV_CAPTURE): _S.STREAMING,
    (_S.HELLO_RECEIVED, _T.SEND_START): _S.STREAMING,
    (_S.HELLO_RECEIVED, _T.SEND_STOP): _S.STOPPED,
    (_S.STREAMING, _T.RECV_HELLO): _S.STREAMING,  # solicited 1.0 HELLO (reply to START/PING)
    (_S.STREAMING, _T.RECV_CAPTURE): _S.STREAMING,
    (_S.STREAMING, _T.SEND_START): _S.STREAMING,
    (_S.STREAMING, _T.SEND_STOP): _S.STOPPED,
    (_S.STOPPED, _T.RECV_HELLO): _S.STOPPED,
    (_S.STOPPED, _T.RECV_CAPTURE): _S.STOPPED,  # in flight when STOP was sent
    (_S.STOPPED, _T.SEND_START): _S.STREAMING,
    (_S.STOPPED, _T.SEND_STOP): _S.STOPPED,
    (_S.INCOMPATIBLE, _T.RECV_HELLO): _S.HELLO_RECEIVED,  # a compatible 1.0 HELLO
    (_S.INCOMPATIBLE, _T.SEND_STOP): _S.INCOMPATIBLE,  # stopping is always allowed
    **{(state, _T.RECV_RESET): _S.HELLO_RECEIVED for state in ConnectionState},
    **{(state, _T.RECV_STATE_IDLE): _S.HELLO_RECEIVED for state in _COMPATIBLE},
    **{(state, _T.RECV_STATE_STREAMING): _S.STREAMING for state in _COMPATIBLE},
    **{(state, _T.RECV_STATE_STOPPED): _S.STOPPED for state in _COMPATIBLE},
    **{(state, _T.RECV_INCOMPATIBLE): _S.INCOMPATIBLE for state in ConnectionState},
}

DEVICE_TRANSITIONS: dict[tuple[ConnectionState, Trigger], ConnectionState] = {
    (_S.IDLE, _T.RECV_START): _S.STREAMING,
    (_S.IDLE, _T.RECV_STOP): _S.STOPPED,
    (_S.STREAMING, _T.RECV_START): _S.STREAMING,
    (_S.STREAMING, _T.RECV_STOP): _S.STOPPED,
    (_S.STOPPED, _T.RECV_START): _S.STREAMING,
    (_S.STOPPED, _T.RECV_STOP): _S.STOPPED,
}
