"""Every fault, with exact accounting on the host's decoder statistics."""

from __future__ import annotations

import pytest

from edgekit.emulator import FaultConfig, FaultInjector, ScannerConfig, VirtualScanner
from firmware_bridge import (
    Capture,
    Connection,
    DeviceReset,
    FrameError,
    Hello,
    PacketFlag,
    RemoteProtocolError,
    Result,
    Start,
)

from .conftest import Pair


def _stream(faults: FaultConfig, seconds: float = 3.0, **kw) -> Pair:
    p = Pair(ScannerConfig(capture_rate_hz=50.0, faults=faults, seed=11, **kw))
    p.send(Start())
    p.advance(seconds)
    return p


def _trailing(p: Pair, fault: str) -> int:
    """Packets at the very end hit by ``fault``: no later packet reveals their gap."""
    n = 0
    for frame in reversed([f for f in p.frames if f.msg_type is not None]):
        if frame.fault != fault:
            break
        n += 1
    return n


def test_drops_show_up_as_exactly_that_many_lost_packets():
    p = _stream(FaultConfig(drop_rate=0.1))
    dropped = p.scanner.fault_stats.dropped
    stats = p.host.stats
    assert dropped > 10
    assert stats.lost_packets == dropped - _trailing(p, "drop")
    assert stats.packets == p.scanner.stats.packets_sent - dropped
    assert stats.crc_failures == stats.framing_errors == 0
    dropped_caps = {t.capture_id for t in p.scanner.truth if t.fault == "drop"}
    assert {c.capture_id for c in p.messages(Capture)}.isdisjoint(dropped_caps)


def test_corruption_costs_exactly_one_frame_per_corrupted_packet():
    p = _stream(FaultConfig(corrupt_rate=0.1))
    corrupted = p.scanner.fault_stats.corrupted
    stats = p.host.stats
    assert corrupted > 10
    assert stats.crc_failures + stats.framing_errors == corrupted
    assert stats.crc_failures > 0
    assert stats.lost_packets == corrupted - _trailing(p, "corrupt")
    assert stats.packets == p.scanner.stats.packets_sent - corrupted


def test_garbage_costs_only_garbage_frames_and_every_packet_arrives():
    p = _stream(FaultConfig(garbage_rate=0.3))
    faults, stats = p.scanner.fault_stats, p.host.stats
    assert faults.garbage_bursts > 20
    assert stats.crc_failures + stats.framing_errors + stats.resyncs == faults.garbage_frames
    assert stats.lost_packets == 0
    assert stats.packets == p.scanner.stats.packets_sent


def test_reset_mid_packet_is_a_device_reset_without_bogus_loss():
    p = Pair(ScannerConfig(capture_rate_hz=50.0, reset_every=5))
    p.send(Start())
    p.advance(1.0)
    resets = [e for e in p.events if isinstance(e, DeviceReset)]
    assert len(resets) == 1 and resets[0].seq == 0
    assert p.host.stats.device_resets == 1
    assert p.host.stats.lost_packets == 0
    errors = [e for e in p.events if isinstance(e, FrameError)]
    assert len(errors) == 1  # the half capture, cut off by the boot delimiter
    boot_hellos = [e for e in p.packets(Hello) if e.flags & PacketFlag.BOOT]
    assert len(boot_hellos) == 2 and p.scanner.stats.boots == 2
    assert len(p.messages(Capture)) == 4 and not p.scanner.is_streaming  # waits for START
    assert [t.fault for t in p.scanner.truth] == [None] * 4 + ["reset"]
    p.send(Start())
    p.advance(0.2)
    caps = p.messages(Capture)
    assert len(caps) == 4 + 4 and caps[4].capture_id == 5  # ids stay unique over the run
    assert p.host.stats.device_resets == 2 and p.host.stats.lost_packets == 0


def test_major_version_mismatch_is_refused_by_the_host():
    scanner = VirtualScanner(ScannerConfig(protocol_version=(2, 0)))
    host = Connection("host")
    host.receive_data(b"".join(f.data for f in scanner.boot(0)))  # BOOT HELLO + LOG
    with pytest.raises(RemoteProtocolError, match=r"2\.0"):
        list(host.events())
    assert host.peer_hello is None
    with pytest.raises(RemoteProtocolError):  # the LOG is refused as well
        list(host.events())
    assert host.stats.version_mismatches == 2 and host.stats.packets == 0


def test_newer_minor_version_is_accepted():
    p = Pair(ScannerConfig(protocol_version=(1, 3)))
    hello = p.packets(Hello)[0]
    assert hello.version_minor == 3 and hello.message.protocol_minor == 3
    assert p.host.stats.version_mismatches == 0


def test_another_sample_format_is_announced_and_its_captures_refused():
    p = Pair(ScannerConfig(sample_format=2, capture_rate_hz=20.0))
    assert p.host.peer_hello.sample_format == 2
    p.send(Start())
    p.advance(0.5)
    payload_errors = [e for e in p.events if isinstance(e, FrameError) and e.kind == "payload"]
    assert len(payload_errors) == p.scanner.stats.captures_sent > 0
    assert p.messages(Capture) == []


def test_results_from_the_host_survive_faults_on_the_device_side():
    p = _stream(FaultConfig(drop_rate=0.2), seconds=1.0)
    for cap in p.messages(Capture):
        p.send(Result(cap.capture_id, 0, 1.0, 5))
    assert p.scanner.unanswered() == []
    assert p.scanner.stats.results_received == len(p.messages(Capture))


def test_injector_never_writes_a_delimiter_inside_a_corrupted_frame():
    inj = FaultInjector(FaultConfig(corrupt_rate=1.0), seed=5)
    frame = bytes(range(1, 200)) + b"\x00"
    for _ in range(200):
        out, fault = inj.apply(frame)
        assert fault == "corrupt" and out != frame
        assert out.count(b"\x00") == 1 and out.endswith(b"\x00") and len(out) == len(frame)


def test_fault_streams_are_independent():
    def drops(cfg: FaultConfig) -> list[bool]:
        inj = FaultInjector(cfg, seed=9)
        return [inj.apply(b"\x01\x02\x00")[1] == "drop" for _ in range(300)]

    assert drops(FaultConfig(drop_rate=0.2)) == drops(FaultConfig(drop_rate=0.2, garbage_rate=0.5))


@pytest.mark.parametrize("field", ["drop_rate", "corrupt_rate", "garbage_rate"])
@pytest.mark.parametrize("value", [-0.1, 1.5, float("nan")])
def test_fault_probabilities_are_validated(field, value):
    with pytest.raises(ValueError, match="probability"):
        FaultConfig(**{field: value})
