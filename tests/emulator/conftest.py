"""Helpers for the emulator tests: a VirtualScanner wired to a host Connection on a fake clock."""

from __future__ import annotations

import pytest

from edgekit.emulator import Frame, ScannerConfig, VirtualScanner
from edgekit.emulator.truth import LineAccount, LineTotals, account_frame
from firmware_bridge import Connection, Packet, StreamStats

ORIGIN_US = 5_000_000  # an arbitrary monotonic origin: device time must not depend on it


def assert_host_counts_match(stats: StreamStats, truth: LineTotals) -> None:
    """The host decoder's counters equal what the emulator's line account says it must see."""
    assert stats.lost_packets == truth.lost_observable
    assert stats.crc_failures + stats.framing_errors + stats.resyncs == truth.bad_segments
    assert stats.device_resets == truth.resets_observable
    assert stats.duplicates == truth.duplicates
    assert stats.packets + stats.incompatible == truth.received


class Pair:
    """The scanner and a host endpoint; every byte the scanner writes is fed to the host, and
    booked in a ``LineAccount`` (the port is open from the start)."""

    def __init__(self, config: ScannerConfig | None = None) -> None:
        self.scanner = VirtualScanner(config)
        self.host = Connection(role="host")
        self.account = LineAccount()
        self.account.opened()
        self.now_us = ORIGIN_US
        self.frames: list[Frame] = []
        self.events: list = []
        self.wire = b""
        self.feed(self.scanner.boot(self.now_us))

    def truth(self) -> LineTotals:
        return self.account.finish()

    def feed(self, frames: list[Frame]) -> None:
        self.frames += frames
        for frame in frames:
            if account_frame(self.account, frame, written=True) == "lost" and frame.fault is None:
                self.scanner.set_fault(frame, "merged")
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
