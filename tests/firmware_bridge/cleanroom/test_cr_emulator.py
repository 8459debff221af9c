"""(c) The clean-room host on a pty against the real emulator (`edgekit emulate`): handshake,
CONFIG, captures, POWER, HEARTBEAT, TIME, RESULTs, STOP; what the emulator does is held to the
spec's promises (§5, §6.2), and its own count of RESULTs to what was sent."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from cleanroom.pty_ends import PtyHost
from cleanroom.wire import FLAG_BOOT, Message

REPO = Path(__file__).resolve().parents[3]
START_LIMIT_S = 120.0  # a liveness bound for the emulator's imports on a loaded host


def _names(ms: list[Message]) -> list[str]:
    return [m.name for m in ms]


def test_cleanroom_host_against_the_emulator(tmp_path: Path):
    link, stats = tmp_path / "scanner", tmp_path / "stats.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgekit", "emulate", "--symlink", str(link), "--seed", "3",
         "--rate", "40", "--stats", str(stats), "--truth", str(tmp_path / "truth.jsonl")],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + START_LIMIT_S
    while not link.exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.02)
    host = PtyHost(link)
    answered = 0

    def read(seconds: float, until=None) -> list[Message]:
        """host.read, answering every CAPTURE with a RESULT (§5.10) as it arrives."""
        nonlocal answered
        got = host.read(seconds, until)
        for m in got:
            if m.name == "CAPTURE":
                # every third answer carries the 1.2 context field (§5.10), flag CONTEXT set by it
                ctx = {"precision": 6117, "ci_low": 5526, "ci_high": 6680, "n": 273}
                host.send("RESULT", {"capture_id": m.fields["capture_id"], "label_index": 1,
                                     "flags": 0x08, "confidence": 0.5, "latency_us": 1000,
                                     "context": ctx if answered % 3 == 0 else None})  # fmt: skip
                answered += 1
        return got

    try:
        # §6.2.1: an unacknowledged boot repeats its BOOT HELLO every 250 ms (same boot ID, new
        # sequence numbers); a host slow to PING after its open sees the repeats
        boots = read(1.2)
        hellos = [m for m in boots if m.name == "HELLO"]
        assert len(hellos) >= 2 and all(m.packet.flags & FLAG_BOOT for m in hellos)
        assert {m.fields["boot_id"] for m in hellos} == {hellos[0].fields["boot_id"]}
        assert {m.fields["state"] for m in hellos} == {0}
        seqs = [m.packet.seq for m in boots]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
        # §6.1 / §6.2.2: PING is answered by PONG (same token), then a HELLO of the current state
        host.open_handshake()
        got = read(5.0, until=lambda m: m.name == "HELLO")
        assert _names(got)[-2:] == ["PONG", "HELLO"] and got[-2].fields["token"] == 0xC0FFEE
        hello = got[-1]
        h = hello.fields
        assert hello.packet.minor == 2 and (h["protocol_major"], h["protocol_minor"]) == (1, 2)
        assert not hello.packet.flags & FLAG_BOOT  # the PING acknowledged the boot (§6.2.1)
        assert h["state"] == 0 and h["sample_format"] == 1 and 1 <= h["samples_per_capture"] <= 1024
        assert h["boot_id"] == hellos[0].fields["boot_id"] and h["capabilities"] & 0x20  # TIME_SYNC
        boot_id, n_samples = h["boot_id"], h["samples_per_capture"]

        # §5.9: CONFIG is answered by a HELLO with the settings in effect
        host.send("CONFIG", {"sample_rate_hz": 0, "centre_freq_hz": 0, "gain_db": 5.0,
                             "capture_period_ms": 25, "samples_per_capture": 0,
                             "power_period_ms": 200})  # fmt: skip
        got = read(3.0, until=lambda m: m.name == "HELLO")
        h = got[-1].fields
        assert (h["capture_period_ms"], h["power_period_ms"]) == (25, 200)
        assert h["samples_per_capture"] == n_samples and h["state"] == 0

        # §5.8: START -> HELLO STREAMING, then CAPTUREs (answered here) and POWER batches
        host.send("START")
        streamed = read(3.0, until=lambda m: m.name == "HELLO")
        assert streamed[-1].fields["state"] == 1
        t_end = time.monotonic() + 2.5
        while time.monotonic() < t_end:
            streamed += read(0.1)
        # §5.7: TIME_REQUEST -> TIME_REPLY echoing t1, t2 <= t3 = the reply's header timestamp
        t1 = host.now_us()
        host.send("TIME_REQUEST", {"t1_us": t1})
        got = read(2.0, until=lambda m: m.name == "TIME_REPLY")
        streamed += got
        reply = got[-1]
        assert reply.name == "TIME_REPLY" and reply.fields["t1_us"] == t1
        assert reply.fields["t2_us"] <= reply.fields["t3_us"] == reply.packet.timestamp_us

        # §5.8: STOP -> HELLO STOPPED; HEARTBEAT continues, CAPTURE and POWER do not
        host.send("STOP")
        got = read(3.0, until=lambda m: m.name == "HELLO")
        streamed += got
        assert got[-1].fields["state"] == 2
        quiet = read(1.5)
        assert "CAPTURE" not in _names(quiet) and "POWER" not in _names(quiet)
        assert "HEARTBEAT" in _names(streamed + quiet)
    finally:
        host.close()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)

    captures = [m for m in streamed if m.name == "CAPTURE"]
    assert len(captures) >= 20 and answered == len(captures)
    ids = [c.fields["capture_id"] for c in captures]
    assert ids == list(range(ids[0], ids[0] + len(ids)))  # §5.2: +1 per capture
    for c in captures:
        assert len(c.fields["iq"]) == 4 * n_samples and c.fields["sample_format"] == 1
    powers = [m for m in streamed if m.name == "POWER"]
    assert powers and all(1 <= len(p.fields["samples"]) <= 256 for p in powers)
    for p in powers:  # §5.3: records oldest first, on the device clock, before the batch was sent
        stamps = [r[0] for r in p.fields["samples"]]
        assert stamps == sorted(stamps) and stamps[-1] <= p.packet.timestamp_us
    for hb in [m for m in streamed + quiet if m.name == "HEARTBEAT"]:
        assert hb.fields["boot_id"] == boot_id and hb.fields["host_packets_lost"] == 0
    # §4.1: nothing lost, duplicated or malformed on a clean link, no reset seen
    assert host.rx.errors == {} and host.rx.seq.counts["lost"] == 0
    assert host.rx.seq.counts["resets"] == 0 and host.rx.seq.counts["duplicate"] == 0
    # the emulator's own account (its --stats file) of what it sent and received
    st = json.loads(stats.read_text())
    sc = st["scanner"]
    assert sc["results_received"] == answered and sc["results_with_context"] == (answered + 2) // 3
    assert sc["results_duplicate"] == sc["results_unknown_id"] == sc["rx_errors"] == 0
    assert sc["captures_sent"] == len(captures) and sc["time_requests"] == 1
    assert st["line"]["received"] == len(host.log)  # every packet written after the open arrived
