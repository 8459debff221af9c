"""The exceptions firmware_bridge raises, under one root.

::

    BridgeError                 anything firmware_bridge reports
    ├── LocalProtocolError      we tried to send something the protocol does not allow
    ├── RemoteProtocolError     the peer sent something we must refuse (e.g. major version mismatch)
    └── LinkError               the serial port cannot be opened, is busy, or failed for good

The sans-IO decoder never raises on any input: bad bytes become events (``FrameError`` ...).
Only a refused peer (``RemoteProtocolError``) and our own mistakes (``LocalProtocolError``) raise.
"""

from __future__ import annotations

__all__ = ["BridgeError", "LinkError", "LocalProtocolError", "RemoteProtocolError"]


class BridgeError(Exception):
    """Root of every error firmware_bridge raises."""


class LocalProtocolError(BridgeError):
    """We tried to encode or send something invalid (bad field value, wrong direction, state)."""


class RemoteProtocolError(BridgeError):
    """The peer sent something we refuse, e.g. a packet of another protocol major version."""


class LinkError(BridgeError):
    """The serial link cannot be opened, is held by another process, or is down."""
