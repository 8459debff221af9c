"""The handshake state machines, as tables, in one place (h11 ``_state.py`` style).

Host:   IDLE --recv HELLO--> HELLO_RECEIVED --send START--> STREAMING --send STOP--> STOPPED
        a CAPTURE heard while IDLE/HELLO_RECEIVED means the device already streams: STREAMING;
        a device reset (BOOT HELLO mid-stream) goes back to HELLO_RECEIVED from anywhere.
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


class Trigger(Enum):
    """What moves the state: a message sent or received."""

    RECV_HELLO = "recv_hello"
    RECV_RESET = "recv_reset"
    RECV_CAPTURE = "recv_capture"
    SEND_START = "send_start"
    SEND_STOP = "send_stop"
    RECV_START = "recv_start"
    RECV_STOP = "recv_stop"


_S = ConnectionState
_T = Trigger

HOST_TRANSITIONS: dict[tuple[ConnectionState, Trigger], ConnectionState] = {
    (_S.IDLE, _T.RECV_HELLO): _S.HELLO_RECEIVED,
    (_S.IDLE, _T.RECV_CAPTURE): _S.STREAMING,
    (_S.IDLE, _T.SEND_START): _S.STREAMING,
    (_S.IDLE, _T.SEND_STOP): _S.STOPPED,
    (_S.HELLO_RECEIVED, _T.RECV_HELLO): _S.HELLO_RECEIVED,
    (_S.HELLO_RECEIVED, _T.RECV_CAPTURE): _S.STREAMING,
    (_S.HELLO_RECEIVED, _T.SEND_START): _S.STREAMING,
    (_S.HELLO_RECEIVED, _T.SEND_STOP): _S.STOPPED,
    (_S.STREAMING, _T.RECV_HELLO): _S.STREAMING,  # solicited HELLO (reply to START/PING)
    (_S.STREAMING, _T.RECV_CAPTURE): _S.STREAMING,
    (_S.STREAMING, _T.SEND_START): _S.STREAMING,
    (_S.STREAMING, _T.SEND_STOP): _S.STOPPED,
    (_S.STOPPED, _T.RECV_HELLO): _S.STOPPED,
    (_S.STOPPED, _T.RECV_CAPTURE): _S.STOPPED,  # in flight when STOP was sent
    (_S.STOPPED, _T.SEND_START): _S.STREAMING,
    (_S.STOPPED, _T.SEND_STOP): _S.STOPPED,
    **{(state, _T.RECV_RESET): _S.HELLO_RECEIVED for state in ConnectionState},
}

DEVICE_TRANSITIONS: dict[tuple[ConnectionState, Trigger], ConnectionState] = {
    (_S.IDLE, _T.RECV_START): _S.STREAMING,
    (_S.IDLE, _T.RECV_STOP): _S.STOPPED,
    (_S.STREAMING, _T.RECV_START): _S.STREAMING,
    (_S.STREAMING, _T.RECV_STOP): _S.STOPPED,
    (_S.STOPPED, _T.RECV_START): _S.STREAMING,
    (_S.STOPPED, _T.RECV_STOP): _S.STOPPED,
}
