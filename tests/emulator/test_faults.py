"""Every fault, with exact accounting: the host decoder's counters equal what the emulator's
line account derives from the bytes it really wrote (merged, split and duplicated frames too)."""

from __future__ import annotations

import pytest

from edgekit.emulator import FaultConfig, FaultInjector, ScannerConfig, VirtualScanner
from edgekit.emulator.truth import LineAccount
from firmware_bridge import (
    Capture,
    Connection,
    ConnectionState,
    DeviceReset,
    FrameError,
    Hello,
    PacketFlag,
    Pong,
    RemoteProtocolError,
    Result,
    Start,
    encode,
)

from .conftest import Pair, assert_host_counts_match


def _stream(faults: FaultConfig, seconds: float = 3.0, **kw) -> Pair:
    p = Pair(ScannerConfig(capture_rate_hz=50.0, faults=faults, seed=11, **kw))
    p.send(Start())
    p.advance(seconds)
    return p


def test_drops_are_counted_as_lost_and_nothing_else():
    p = _stream(FaultConfig(drop_rate=0.1))
    truth, stats = p.truth(), p.host.stats
    assert p.scanner.fault_stats.dropped > 10
    assert_host_counts_match(stats, truth)
    assert stats.crc_failures == stats.framing_errors == 0
    assert truth.lost == p.scanner.fault_stats.dropped
    dropped_caps = {t.capture_id for t in p.scanner.truth if t.fault == "drop"}
    assert {c.capture_id for c in p.messages(Capture)}.isdisjoint(dropped_caps)


def test_corruption_that_hits_delimiters_merges_and_splits_is_counted_exactly():
    p = _stream(FaultConfig(corrupt_rate=0.2), seconds=6.0)
    faults = p.scanner.fault_stats
    assert faults.corrupted > 50 and faults.delimiter_hits > 0 and faults.splits > 0
    truth = p.truth()
    assert_host_counts_match(p.host.stats, truth)
    # a hit delimiter costs the next packet too: more lost than corrupted
    assert truth.lost > faults.corrupted
    assert any(t.fault == "merged" for t in p.scanner.truth)


def test_unterminated_garbage_costs_the_packet_it_runs_into():
    p = _stream(FaultConfig(garbage_rate=0.3))
    faults, truth = p.scanner.fault_stats, p.truth()
    assert faults.garbage_bursts > 20 and 0 < faults.garbage_unterminated < faults.garbage_bursts
    assert_host_counts_match(p.host.stats, truth)
    assert truth.lost == faults.garbage_unterminated  # each swallows the frame after it


def test_duplicates_are_counted_as_duplicates_not_as_loss():
    p = _stream(FaultConfig(duplicate_rate=0.2))
    truth, stats = p.truth(), p.host.stats
    assert p.scanner.fault_stats.duplicated > 10
    assert stats.duplicates == p.scanner.fault_stats.duplicated == truth.duplicates
    assert stats.lost_packets == 0 and stats.device_resets == 0
    ids = [c.capture_id for c in p.messages(Capture)]
    assert len(ids) == len(set(ids))  # the host never sees a capture twice


def test_reset_mid_packet_is_a_device_reset_without_bogus_loss():
    p = Pair(ScannerConfig(capture_rate_hz=50.0, reset_every=5))
    p.send(Start())
    p.advance(1.0)
    resets = [e for e in p.events if isinstance(e, DeviceReset)]
    assert len(resets) == 1 and resets[0].seq == 0 and resets[0].cause == "boot_hello"
    assert resets[0].boot_id == p.scanner.boot_id
    assert p.host.stats.device_resets == 1 and p.host.stats.lost_packets == 0
    errors = [e for e in p.events if isinstance(e, FrameError)]
    assert len(errors) == 1  # the half capture, cut off by the boot delimiter
    boot_hellos = [e for e in p.packets(Hello) if e.flags & PacketFlag.BOOT]
    # the first boot's HELLO, then the second boot's, repeated every 250 ms: no host answers
    assert len(boot_hellos) == 2 + 3 and p.scanner.stats.boots == 2
    assert len(p.messages(Capture)) == 4 and not p.scanner.is_streaming  # waits for START
    assert p.host.state is ConnectionState.HELLO_RECEIVED
    assert [t.fault for t in p.scanner.truth] == [None] * 4 + ["reset"]
    p.send(Start())  # acknowledges the BOOT HELLO: no more repeats
    p.advance(0.07)
    caps = p.messages(Capture)
    assert len(boot_hellos) == len([e for e in p.packets(Hello) if e.flags & PacketFlag.BOOT])
    assert len(caps) == 4 + 4 and caps[4].capture_id == 5  # ids stay unique over the run
    assert p.host.stats.device_resets == 1 and p.host.stats.lost_packets == 0
    assert_host_counts_match(p.host.stats, p.truth())


def test_a_reboot_whose_boot_hellos_are_all_lost_is_still_a_reset_not_a_loss():
    p = Pair(ScannerConfig(capture_rate_hz=20.0, reset_every=10, faults=FaultConfig(boot_hello_loss=1.0)))
    p.send(Start())
    p.advance(2.0)
    assert p.scanner.fault_stats.boot_hellos_lost >= 4
    resets = [e for e in p.events if isinstance(e, DeviceReset)]
    assert len(resets) == 1 and resets[0].cause == "sequence" and resets[0].lost == 1
    assert p.host.state is ConnectionState.HELLO_RECEIVED  # its next HEARTBEAT: idle
    assert_host_counts_match(p.host.stats, p.truth())


def test_everything_at_once_still_adds_up():
    faults = FaultConfig(0.2, 0.1, 0.1, 0.05, 0.5)
    p = _stream(faults, seconds=8.0, reset_every=30)
    for cap in p.messages(Capture):
        p.send(Result(cap.capture_id, 0, 1.0, 5))
    assert p.scanner.stats.boots >= 2
    assert_host_counts_match(p.host.stats, p.truth())


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
    assert hello.message.boot_id == p.scanner.boot_id  # the 1.1 fields it knows are read
    assert p.host.stats.version_mismatches == 0


def test_another_sample_format_is_an_incompatibility_and_its_captures_are_refused():
    p = Pair(ScannerConfig(sample_format=2, capture_rate_hz=20.0))
    incompatible = p.host.incompatible
    assert incompatible is not None and incompatible.hello.sample_format == 2
    assert "sample_format 2" in incompatible.reasons[0]
    assert p.host.state is ConnectionState.INCOMPATIBLE and p.host.peer_hello is None
    p.scanner.receive_data(Connection("host").send(Start()), p.now_us)  # another host starts it
    p.advance(0.5)
    payload_errors = [e for e in p.events if isinstance(e, FrameError) and e.kind == "payload"]
    assert len(payload_errors) == p.scanner.stats.captures_sent > 0
    assert p.messages(Capture) == []


def test_a_10_device_works_without_boot_ids_or_time():
    p = Pair(ScannerConfig(protocol_version=(1, 0), capture_rate_hz=20.0, reset_every=5))
    hello = p.packets(Hello)[0]
    assert hello.version_minor == 0 and hello.message.boot_id is None
    p.send(Start())
    p.advance(1.0)
    assert p.host.stats.device_resets == 1 and p.host.stats.lost_packets == 0
    assert len([e for e in p.packets(Hello) if e.flags & PacketFlag.BOOT]) == 2  # no repeats


def test_injector_corruption_can_hit_the_delimiter_and_write_zeros():
    inj = FaultInjector(FaultConfig(corrupt_rate=1.0), seed=5)
    frame = bytes(range(1, 200)) + b"\x00"
    zeros_inside = 0
    for _ in range(400):
        damage = inj.apply(frame)
        assert damage.fault == "corrupt" and not damage.intact and damage.body != frame
        assert len(damage.body) == len(frame)
        zeros_inside += damage.body[:-1].count(0)
    stats = inj.stats
    assert stats.delimiter_hits > 0 and stats.splits == zeros_inside > 0


def test_line_account_on_hand_made_streams():
    """Segments worked out by hand: a frame whose delimiter was hit merges with the next."""
    a, b, c = (encode(Pong(i), i, 0) for i in range(3))
    account = LineAccount()
    account.opened()
    assert account.written(1, b"", a, intact=True) == "received"
    assert account.written(1, b"", b[:-1] + b"\x07", intact=False) == "lost"  # delimiter hit
    assert account.written(1, b"", c, intact=True) == "lost"  # swallowed by b
    assert account.written(1, b"\x09\x09\x00", a, intact=True) == "received"  # garbage, ended
    totals = account.finish()
    assert (totals.bad_segments, totals.lost, totals.lost_observable) == (2, 2, 2)


def test_fault_streams_are_independent():
    def drops(cfg: FaultConfig) -> list[bool]:
        inj = FaultInjector(cfg, seed=9)
        return [inj.apply(b"\x01\x02\x00").fault == "drop" for _ in range(300)]

    assert drops(FaultConfig(drop_rate=0.2)) == drops(FaultConfig(drop_rate=0.2, garbage_rate=0.5))


@pytest.mark.parametrize(
    "field", ["drop_rate", "corrupt_rate", "garbage_rate", "duplicate_rate", "boot_hello_loss"]
)
@pytest.mark.parametrize("value", [-0.1, 1.5, float("nan")])
def test_fault_probabilities_are_validated(field, value):
    with pytest.raises(ValueError, match="probability"):
        FaultConfig(**{field: value})
