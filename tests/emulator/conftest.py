"""Helpers for the emulator tests: a VirtualScanner wired to a host Connection on a fake clock."""

from __future__ import annotations

import pytest

from edgekit.emulator import Frame, ScannerConfig, VirtualScanner
from firmware_bridge import Connection, Packet

ORIGIN_US = 5_000_000  # an arbitrary monotonic origin: device time must not depend on it


class Pair:
    """The scanner and a host endpoint; every byte the scanner writes is fed to the host."""

    def __init__(self, config: ScannerConfig | None = None) -> None:
        self.scanner = VirtualScanner(config)
        self.host = Connection(role="host")
        self.now_us = ORIGIN_US
        self.frames: list[Frame] = []
        self.events: list = []
        self.wire = b""
        self.feed(self.scanner.boot(self.now_us))

    def feed(self, frames: list[Frame]) -> None:
        self.frames += frames
        data = b"".join(f.data for f in frames)
        self.wire += data
        self.host.receive_data(data)
        self.events += list(self.host.events())

    def send(self, message) -> None:
        data = self.host.send(message, timestamp_us=0)
        self.feed(self.scanner.receive_data(data, self.now_us))

    def advance(self, seconds: float, step_ms: int = 10) -> None:
        end = self.now_us + round(seconds * 1e6)
        while self.now_us < end:
            self.now_us = min(end, self.now_us + step_ms * 1000)
            self.feed(self.scanner.poll(self.now_us))

    def packets(self, cls) -> list[Packet]:
        return [e for e in self.events if isinstance(e, Packet) and isinstance(e.message, cls)]

    def messages(self, cls) -> list:
        return [p.message for p in self.packets(cls)]


@pytest.fixture
def pair() -> Pair:
    return Pair()
