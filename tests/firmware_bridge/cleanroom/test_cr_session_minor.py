"""§1.1 / §5.0 against firmware_bridge.HostSession: the features of a minor follow the packet
header's version_minor, HELLO's protocol_minor being informational. A header of 1.0 means no
TIME_REQUEST (a 1.0 device would count it as an unknown type), whatever the HELLO's field says."""

from __future__ import annotations

import pytest

from firmware_bridge import HostSession, TimeRequest
from firmware_bridge.events import Packet
from firmware_bridge.messages import Hello

TIME_SYNC = 0x20  # §5.1 capability bit 5, written here from the spec


def _hello(protocol_minor: int, header_minor: int) -> Packet:
    v11 = {"boot_id": 7, "state": 0, "capture_period_ms": 100, "power_period_ms": 0} if header_minor else {}
    h = Hello(1, protocol_minor, 1, 0, 0, 42, 1_000_000, 1, 64, 433_920_000, 0x02 | TIME_SYNC, **v11)
    return Packet(h, 0, 1000, 0, header_minor)


@pytest.mark.parametrize(
    ("protocol_minor", "header_minor", "time_requests"),
    [(0, 0, False), (1, 0, False), (0, 1, True), (2, 2, True)],
)
def test_time_exchange_follows_the_header_minor(protocol_minor, header_minor, time_requests):
    s = HostSession(stream=False)
    s.opened(0)
    s.handle(_hello(protocol_minor, header_minor), 1000)
    sent = [m for t in range(1000, 500_000, 25_000) for m in s.poll(t)]
    assert any(isinstance(m, TimeRequest) for m in sent) is time_requests
