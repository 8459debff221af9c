"""The sans-IO scanner against a host Connection on a fake clock: handshake, streaming,
commands, RESULT accounting, determinism, scenario and power packets."""

from __future__ import annotations

import numpy as np

from edgekit.emulator import ScannerConfig, Scenario, VirtualScanner
from firmware_bridge import (
    Capture,
    Config,
    Connection,
    ConnectionState,
    Heartbeat,
    Hello,
    Log,
    PacketFlag,
    Ping,
    Pong,
    Power,
    Result,
    Start,
    Stop,
)

from .conftest import ORIGIN_US, Pair


def _answer_all(p: Pair) -> None:
    for cap in p.messages(Capture):
        p.send(Result(cap.capture_id, 1, 0.9, 1000))


def test_boot_sends_a_boot_hello_first_and_the_host_sees_the_device(pair):
    first = pair.packets(Hello)[0]
    assert first.seq == 0 and first.flags & PacketFlag.BOOT
    assert first.timestamp_us == 0  # device clock counts from boot, not from the host's origin
    assert pair.frames[0].data == b"\x00"  # ends any partial frame the host holds
    assert pair.host.state is ConnectionState.HELLO_RECEIVED
    assert pair.host.peer_hello.samples_per_capture == 1024
    assert pair.messages(Log)[0].text.startswith("edgekit virtual scanner booted")
    assert pair.messages(Capture) == []  # nothing streams before START


def test_start_streams_at_the_rate_then_stop_ends_it():
    p = Pair(ScannerConfig(capture_rate_hz=10.0))
    p.send(Start())
    assert p.events[-1].message.TYPE.name == "HELLO" and not p.events[-1].flags & PacketFlag.BOOT
    p.advance(1.0)
    caps = p.packets(Capture)
    assert len(caps) == 11  # t = 0, 100, ..., 1000 ms
    assert [c.timestamp_us for c in caps] == [100_000 * i for i in range(11)]
    assert [c.message.capture_id for c in caps] == list(range(11))
    assert p.host.state is ConnectionState.STREAMING
    p.send(Stop())
    p.advance(1.0)
    assert len(p.messages(Capture)) == 11
    assert not p.scanner.is_streaming
    assert p.host.stats.lost_packets == 0 and p.host.stats.crc_failures == 0


def test_ping_is_answered_with_pong_then_hello(pair):
    pair.send(Ping(0xDEADBEEF))
    tail = [e.message for e in pair.events[-2:]]
    assert isinstance(tail[0], Pong) and tail[0].token == 0xDEADBEEF
    assert isinstance(tail[1], Hello)
    assert pair.scanner.stats.pings == 1


def test_config_changes_rate_gain_and_capture_length():
    p = Pair(ScannerConfig(capture_rate_hz=10.0, seed=3))
    p.send(Start())
    p.advance(0.5)
    before = len(p.messages(Capture))
    p.send(Config(0, 0, 26.0, 50, 256, 100))
    hello = p.messages(Hello)[-1]
    assert hello.samples_per_capture == 256
    assert p.scanner.capture_rate_hz == 20.0 and p.scanner.gain_db == 26.0
    p.advance(1.0)
    after = p.messages(Capture)[before:]
    assert len(after) == 20  # 20 Hz for one second
    assert all(c.n_samples == 256 and c.gain_db == 26.0 for c in after)


def test_results_are_counted_and_every_capture_can_be_checked_answered():
    p = Pair(ScannerConfig(capture_rate_hz=20.0))
    p.send(Start())
    p.advance(1.0)
    n = len(p.messages(Capture))
    assert p.scanner.unanswered() == list(range(n))
    _answer_all(p)
    p.send(Result(0, 2, 0.5, 10))  # a duplicate
    p.send(Result(99_999, 2, 0.5, 10))  # never sent
    stats = p.scanner.stats
    assert stats.results_received == n + 2
    assert stats.results_duplicate == 1 and stats.results_unknown_id == 1
    assert stats.results_by_label[1] == n
    assert p.scanner.unanswered() == []


def test_same_seed_same_bytes_other_seed_other_captures():
    def run(seed: int) -> bytes:
        p = Pair(ScannerConfig(seed=seed, capture_rate_hz=50.0))
        p.send(Start())
        p.advance(0.5)
        return p.wire

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_truth_matches_what_was_sent_and_follows_the_class_mix():
    scenario = Scenario(classes=("tone", "am"), class_mix=((1.0, ("ofdm",)),))
    p = Pair(ScannerConfig(capture_rate_hz=20.0, scenario=scenario, chunk_size=8))
    p.send(Start())
    p.advance(2.0)
    caps = p.messages(Capture)
    truth = p.scanner.truth
    assert [t.capture_id for t in truth] == [c.capture_id for c in caps]
    early = {t.class_name for t in truth if t.timestamp_us < 1_000_000}
    late = {t.class_name for t in truth if t.timestamp_us >= 1_000_000}
    assert early == {"tone", "am"} and late == {"ofdm"}
    assert all(t.fault is None and -10 <= t.snr_db <= 20 for t in truth)


def test_snr_drift_moves_the_snr_of_later_captures():
    scenario = Scenario(snr_range_db=(10.0, 12.0), snr_drift_db_per_min=-600.0, drift_after_s=0.5)
    p = Pair(ScannerConfig(capture_rate_hz=20.0, scenario=scenario))
    p.send(Start())
    p.advance(1.5)
    late = [t.snr_db for t in p.scanner.truth if t.timestamp_us >= 1_400_000]
    early = [t.snr_db for t in p.scanner.truth if t.timestamp_us < 500_000]
    assert early and all(10.0 <= s <= 12.0 for s in early)
    assert late and all(s <= 12.0 - 9.0 for s in late)  # >= 0.9 s of -10 dB/s drift


def test_gain_above_reference_scales_the_samples():
    def second_capture(gain_db: float) -> Capture:
        p = Pair(ScannerConfig(capture_rate_hz=10.0, seed=1))
        p.send(Start())
        p.feed(p.scanner.poll(p.now_us))
        p.send(Config(0, 0, gain_db, 100, 0, 100))
        p.advance(0.1)
        caps = p.messages(Capture)
        assert caps[0].gain_db == 20.0 and len(caps) == 2
        return caps[1]

    loud, quiet = second_capture(26.0), second_capture(20.0)  # +6 dB = x2 amplitude
    assert loud.gain_db == 26.0
    a, b = np.abs(loud.iq.astype(np.int32)), np.abs(quiet.iq.astype(np.int32))
    ratio = np.median(a[b > 200] / b[b > 200])
    assert 1.9 < ratio < 2.1


def test_power_batches_only_while_streaming_and_show_the_capture_bump():
    p = Pair(ScannerConfig(capture_rate_hz=10.0))
    p.advance(0.5)  # idle: HEARTBEAT only, no POWER (PROTOCOL.md 5.3)
    assert p.messages(Power) == []
    p.send(Start())
    p.advance(1.0)
    batches = p.messages(Power)
    samples = [s for b in batches for s in b.samples]
    assert len(batches) == 10 and all(len(b.samples) == 10 for b in batches)
    stamps = [s.timestamp_us for s in samples]
    assert stamps == list(range(500_000, 500_000 + 10_000 * len(samples), 10_000))  # 100 Hz
    assert all(4_950 <= s.voltage_mv <= 5_000 for s in samples)
    # captures start every 100 ms from t = 500 ms; each draws +60 mA for 20 ms
    bump = [s.current_ua for s in samples if s.timestamp_us % 100_000 < 20_000]
    quiet = [s.current_ua for s in samples if s.timestamp_us % 100_000 >= 20_000]
    assert 135_000 < np.mean(bump) < 145_000 and 75_000 < np.mean(quiet) < 85_000
    p.send(Stop())
    p.advance(2.0)
    assert len(p.messages(Power)) == 10  # none after STOP ...
    assert len(p.messages(Heartbeat)) == 3  # ... while HEARTBEAT goes on


def test_heartbeat_every_second_with_device_counters():
    p = Pair(ScannerConfig(capture_rate_hz=10.0))
    p.send(Start())
    p.advance(2.0)
    beats = p.messages(Heartbeat)
    assert [b.uptime_s for b in beats] == [1, 2]
    assert beats[-1].captures_sent == len(p.messages(Capture)) == 21  # ties: capture first


def test_a_late_poll_skips_old_captures_and_flags_overflow():
    p = Pair(ScannerConfig(capture_rate_hz=10.0))
    p.send(Start())
    p.advance(0.05)
    p.now_us += 3_000_000  # the caller stalled for 3 s
    p.feed(p.scanner.poll(p.now_us))
    assert p.scanner.stats.captures_dropped == 20  # 2 s beyond the 1 s backlog allowance
    flagged = [e for e in p.events if getattr(e, "flags", 0) & PacketFlag.OVERFLOW]
    assert len(flagged) == 1


def test_unplugged_scanner_is_silent_and_says_hello_on_replug(pair):
    pair.send(Start())
    pair.scanner.set_connected(False, pair.now_us)
    sent = pair.scanner.stats.packets_sent
    pair.advance(1.0)
    assert pair.scanner.stats.packets_sent == sent and pair.scanner.next_due_us() is None
    frames = pair.scanner.set_connected(True, pair.now_us)
    pair.host.link_lost()
    pair.feed(frames)
    assert isinstance(pair.events[-1].message, Hello)
    pair.advance(0.2)
    assert pair.host.stats.lost_packets == 0 and pair.messages(Capture)


def test_count_stops_streaming_after_n_captures():
    p = Pair(ScannerConfig(capture_rate_hz=50.0, max_captures=7))
    p.send(Start())
    p.advance(1.0)
    assert len(p.messages(Capture)) == 7 and p.scanner.finished and not p.scanner.is_streaming


def test_tx_drop_marks_the_truth_and_sets_overflow():
    scanner = VirtualScanner(ScannerConfig(capture_rate_hz=10.0))
    scanner.boot(ORIGIN_US)
    host = Connection("host")
    scanner.receive_data(host.send(Start(), timestamp_us=0), ORIGIN_US)
    frames = scanner.poll(ORIGIN_US)
    cap = next(f for f in frames if f.truth is not None)
    scanner.tx_dropped(cap, "tx_overflow")
    assert scanner.truth[0].fault == "tx_overflow" and scanner.stats.captures_dropped == 1
    assert scanner.unanswered() == []


def test_a_cut_books_the_captures_still_owed_a_result_above_the_last_answered():
    p = Pair(ScannerConfig(capture_rate_hz=10.0, reset_every=8))
    p.send(Start())
    p.advance(0.55)  # captures 0..5 (t = 0, 100, ..., 500 ms)
    for cid in (0, 1, 3):  # 2 unanswered below the last answered: not owed, a gap
        p.send(Result(cid, 1, 0.9, 1000))
    p.scanner.note_cut("unplug", p.now_us)
    cut = p.scanner.cuts[-1]
    assert (cut["kind"], cut["last_answered"], cut["owed"]) == ("unplug", 3, [4, 5])
    assert cut["at_s"] == 0.55
    p.advance(0.3)  # the 8th capture of the boot (id 7) is cut in half and the scanner reboots
    reboot = p.scanner.cuts[-1]
    assert reboot["kind"] == "reboot" and reboot["last_answered"] == 3
    assert reboot["owed"] == [4, 5, 6]  # 7 was spoiled by the reset: never owed


def test_no_cut_is_booked_at_the_first_boot(pair):
    assert pair.scanner.cuts == []
