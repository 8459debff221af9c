"""The scanner's transmit side: a bounded TX buffer drained at the line rate, sans-IO.

A UART at ``baud`` (8N1: 10 bits a byte) carries baud / 10 bytes a second: 92,160 B/s at
921,600 baud, while 200 captures/s of 1024 samples need ~840 KB/s. A scanner that produces
faster than its line drains fills its TX buffer, and a packet that does not fit is dropped at
the source (``tx_overflow``; its sequence number is consumed and the next packet carries the
OVERFLOW flag), as real firmware does. ``baud=None`` models USB CDC: no rate limit here (the
host's reading is the limit, handled by the pty runner).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

__all__ = ["DEFAULT_TX_BUFFER_BYTES", "LineModel"]

DEFAULT_TX_BUFFER_BYTES = 16 * 1024
"""A few captures' worth: an MCU's TX ring buffer (4 frames of 4178 bytes fit)."""


@dataclass(slots=True)
class _Chunk:
    data: bytes
    start_us: int  # when its first bit goes out
    sent: int = 0  # bytes already handed over


class LineModel:
    """``offer`` bytes at a time, ``take`` the bytes whose transmission has finished."""

    def __init__(self, baud: int | None = None, tx_buffer_bytes: int = DEFAULT_TX_BUFFER_BYTES):
        if baud is not None and baud < 300:
            raise ValueError(f"baud: need >= 300, got {baud}")
        if tx_buffer_bytes < 1:
            raise ValueError("TX buffer must hold at least one byte")
        self.baud = baud
        self.tx_buffer_bytes = tx_buffer_bytes
        self._byte_us = 10e6 / baud if baud is not None else 0.0
        self._queue: deque[_Chunk] = deque()
        self._queued = 0
        self._free_at_us = 0.0  # when the line finishes what is queued

    @property
    def bytes_per_s(self) -> float | None:
        """The line's capacity (None: unlimited)."""
        return None if self.baud is None else self.baud / 10

    @property
    def queued_bytes(self) -> int:
        """Bytes in the TX buffer, not yet on the wire."""
        return self._queued

    def fits(self, size: int) -> bool:
        """Whether ``size`` more bytes fit the TX buffer now."""
        return self.baud is None or self._queued + size <= self.tx_buffer_bytes

    def offer(self, data: bytes, now_us: int) -> bool:
        """Queue ``data`` (whole or not at all); False when the TX buffer is too full."""
        if not data:
            return True
        if not self.fits(len(data)):
            return False
        start = max(float(now_us), self._free_at_us)
        self._queue.append(_Chunk(data, round(start)))
        self._queued += len(data)
        self._free_at_us = start + len(data) * self._byte_us
        return True

    def take(self, now_us: int) -> bytes:
        """The bytes fully transmitted by ``now_us``, in order."""
        out = bytearray()
        while self._queue:
            chunk = self._queue[0]
            if self._byte_us:
                done = int((now_us - chunk.start_us) / self._byte_us)
                done = min(len(chunk.data), max(0, done))
            else:
                done = len(chunk.data)
            if done > chunk.sent:
                out += chunk.data[chunk.sent : done]
                self._queued -= done - chunk.sent
                chunk.sent = done
            if chunk.sent < len(chunk.data):
                break
            self._queue.popleft()
        return bytes(out)

    def next_due_us(self) -> int | None:
        """When the frame now on the wire is complete (None: nothing queued). ``take`` before
        then returns the bytes sent so far; a caller that only needs whole frames waits."""
        if not self._queue:
            return None
        chunk = self._queue[0]
        return chunk.start_us + math.ceil(len(chunk.data) * self._byte_us)

    def clear(self) -> None:
        """Drop everything queued (the port vanished)."""
        self._queue.clear()
        self._queued = 0
