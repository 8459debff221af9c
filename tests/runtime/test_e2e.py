"""``edgekit run`` against ``edgekit emulate`` on a real pseudo-terminal: every capture that
arrived is answered, losses are counted exactly, faults are survived, the held-out class is
"unknown" at the validated rate, a changed format is refused in one line."""

from __future__ import annotations

import json
import math
import time
from collections import Counter

import pytest

from edgekit.runtime.settings import LinkSettings
from tests.runtime.conftest import (
    START_LIMIT_S,
    Emulator,
    RunningDaemon,
    metric,
    metric_sum,
    start_daemon_first,
)

# The unplug/reset scenario's length on the emulator's clock: unplugs at 4 s and 8.5 s, each 0.5 s
# long, and the run ends before a third one would begin.
SCENARIO_S = 13
# After refusing a scanner the daemon must never ask it to stream: watched for longer than the
# stream watchdog (which re-STARTs a stalled stream) and a HELLO retry, so either, wrongly armed,
# would show.
NO_START_WATCH_S = LinkSettings.stream_timeout_s + LinkSettings.hello_retry_s + 1.0
# How long the emulator waits for the last RESULTs after its last capture: it ends as soon as
# every capture it sent intact is answered, so this bound costs nothing when the daemon keeps up;
# it only covers a daemon that a loaded host slowed down (4 s was not enough at a load of 10).
LINGER_S = 60


def _lost_counted(events) -> int:
    return sum(e["data"]["count"] for e in events if e["kind"] == "captures_lost")


def _arrived(daemon: RunningDaemon) -> int:
    """Captures that arrived at the daemon, once each has its journaled result (the daemon's
    own books, /status): read after the emulator ended, before the daemon is stopped."""

    def settled() -> bool:
        s = json.loads(daemon.get("/status"))
        return s["results_total"] == s["counts"].get("captures", 0) - s["counts"].get("captures_refused", 0)

    daemon.wait_for(settled)  # a liveness bound; a capture the daemon lost never settles
    return int(json.loads(daemon.get("/status"))["counts"].get("captures", 0))


def _check_every_arrival_answered(emu: Emulator, daemon: RunningDaemon, arrived: int) -> list[dict]:
    truth = emu.truth()
    stats = emu.stats()
    scanner = stats["scanner"]
    results = daemon.results()
    ids = [r["capture_id"] for r in results]
    assert len(ids) == len(set(ids)), "a capture was answered twice"
    assert len(ids) == arrived  # every capture that arrived at the daemon has its record
    intact = {t["capture_id"] for t in truth if t["fault"] is None}
    assert set(ids) <= intact  # nothing spoiled was taken for a capture
    # what the scanner received: one RESULT per capture the daemon decided, none unknown
    assert scanner["results_duplicate"] == 0 and scanner["results_unknown_id"] == 0
    received = intact - set(stats["unanswered_ids"])
    assert received <= set(ids) and scanner["results_received"] == len(received)
    # A RESULT the daemon journaled but the scanner never got must have been owed when the way
    # back was cut (an unplug, a reboot, the emulator's end: VirtualScanner.note_cut): the daemon
    # answers in order over an ordered byte stream, so one missing anywhere else was lost. Exact
    # at any load (a backlog of answers in flight at an unplug grows with the host's load).
    owed = {i for cut in stats["cuts"] for i in cut["owed"]}
    assert set(ids) - received <= owed, sorted(set(ids) - received - owed)
    # losses counted exactly: every id between the first capture that arrived (before it, the
    # daemon cannot know where the stream began) and the last one is answered or counted lost
    first, last = min(ids), max(ids)
    missing = sum(1 for t in truth if first <= t["capture_id"] <= last and t["capture_id"] not in set(ids))
    assert _lost_counted(daemon.events()) == missing
    return results


def test_a_faulty_stream_every_arrived_capture_answered_losses_counted_metrics_served(
    tmp_path, cnn_bundle, cnn_reference
):
    daemon, emu = start_daemon_first(
        tmp_path,
        cnn_bundle,
        "",
        "--rate",
        "50",
        "--count",
        "300",
        "--seed",
        "11",
        "--linger",
        str(LINGER_S),
        "--drop-rate",
        "0.03",
        "--corrupt-rate",
        "0.03",
        "--garbage-rate",
        "0.03",
    )
    try:
        daemon.wait_for(lambda: metric(daemon.get("/metrics"), "edgekit_results_total", status="ok") >= 20)
        text = daemon.get("/metrics")  # the curl 127.0.0.1:9108/metrics of the acceptance criteria
        status = daemon.get("/status")
        emu.wait(START_LIMIT_S)  # a liveness bound: 6 s of captures, then the answers
        daemon.wait_for(
            lambda: (
                metric_sum(daemon.get("/metrics"), "edgekit_results_total")
                >= emu.stats()["scanner"]["results_received"]
            )
        )
        final = daemon.get("/metrics")
        arrived = _arrived(daemon)
    finally:
        emu.stop()
        rc = daemon.stop()
    assert rc == 0
    for name in (
        "edgekit_captures_received_total",
        "edgekit_capture_to_result_latency_seconds_bucket",
        "edgekit_inference_duration_seconds_count",
        "edgekit_link_packets_lost_total",
        "edgekit_governor_state",
        "edgekit_battery_state_of_charge_ratio",
        "edgekit_model_info",
        "process_resident_memory_bytes",
    ):
        assert name in text, name
    assert '"rate_hz"' in status
    results = _check_every_arrival_answered(emu, daemon, arrived)
    faults = emu.stats()["faults"]
    assert metric_sum(final, "edgekit_link_errors_total") >= faults["corrupted"] > 0
    # packets lost, counted exactly against what the emulator really wrote (its line account:
    # packets written before the daemon opened the port are not losses, nor are duplicates)
    line = emu.line()
    assert line["lost_observable"] > 0
    assert metric_sum(final, "edgekit_link_packets_lost_total") == line["lost_observable"]
    # accuracy on the stream against validation: the top label vs the truth, in-distribution
    truth = {t["capture_id"]: t["class"] for t in emu.truth()}
    hits = [r["predicted"] == truth[r["capture_id"]] for r in results if r["predicted"] is not None]
    acc, ref = sum(hits) / len(hits), cnn_reference["accuracy"]
    tolerance = 3 * math.sqrt(ref * (1 - ref) / len(hits)) + 0.02
    assert abs(acc - ref) <= tolerance, (acc, ref, tolerance)
    events = Counter(e["kind"] for e in daemon.events())
    assert events["start"] == 1 and events["stop"] == 1


def test_the_held_out_class_is_unknown_at_the_validated_rate(tmp_path, cnn_bundle, cnn_reference):
    daemon, emu = start_daemon_first(
        tmp_path, cnn_bundle, "", "--rate", "50", "--count", "250", "--seed", "12",
        "--linger", str(LINGER_S), "--classes", "ofdm",
    )  # fmt: skip
    try:
        emu.wait(START_LIMIT_S)  # a liveness bound: 5 s of captures, then the answers
        arrived = _arrived(daemon)
    finally:
        emu.stop()
        daemon.stop()
    results = _check_every_arrival_answered(emu, daemon, arrived)
    by_model = [r for r in results if r["source"] == "model"]  # a loaded host may fall back a few
    assert len(by_model) >= 0.9 * len(results)
    share = sum(r["status"] == "unknown" for r in by_model) / len(by_model)
    p = cnn_reference["ofdm_unknown_rate"]
    assert abs(share - p) <= 3 * math.sqrt(p * (1 - p) / len(by_model)) + 0.02, (share, p)


def test_unplug_replug_and_resets_are_survived_and_counted(tmp_path, cnn_bundle):
    # The unplug schedule runs on the emulator's clock from its launch: the daemon is started
    # first (on a stand-in port), so that a slow start on a loaded host (seen: over 13 s, the
    # whole scenario) neither misses unplugs nor finds the port unplugged and exits.
    daemon, emu = start_daemon_first(
        tmp_path,
        cnn_bundle,
        "",
        "--rate",
        "40",
        "--duration",
        str(SCENARIO_S),
        "--seed",
        "13",
        "--unplug-every",
        "4",
        "--unplug-for",
        "0.5",
        "--reset-every",
        "100",
    )
    try:
        emu.wait(SCENARIO_S + START_LIMIT_S)  # a liveness bound: the emulator ends at 13 s
        arrived = _arrived(daemon)
    finally:
        emu.stop()
        daemon.stop()
    stats = emu.stats()
    events = Counter(e["kind"] for e in daemon.events())
    assert stats["unplugs"] >= 2 and stats["scanner"]["boots"] >= 3
    # one down and one up per unplug (plus, perhaps, the down of the emulator's own exit), and
    # one of each for the stand-in's removal: its down, then the up on the emulator
    assert events["link_up"] == stats["unplugs"] + 1
    assert events["link_down"] in (stats["unplugs"] + 1, stats["unplugs"] + 2)
    # every reboot is seen, also one whose BOOT HELLO came while the link was being reopened;
    # only a BOOT HELLO still queued in the emulator when its pty vanished is lost, which
    # protocol 1.0 cannot tell (1.1's boot ID will), hence the one-short allowance
    boots = stats["scanner"]["boots"]
    assert boots - 2 <= events["scanner_reset"] <= boots - 1
    results = _check_every_arrival_answered(emu, daemon, arrived)
    # the stream resumed after each unplug and each reset
    assert max(r["capture_id"] for r in results) >= stats["scanner"]["captures_sent"] - 45


def test_a_scanner_with_another_sample_format_is_refused_in_one_line(tmp_path, cnn_bundle):
    # The emulator serves until stopped (a --duration counted from its launch ran out on a loaded
    # host before the daemon had started): the refusal is waited for, then the scanner is watched
    # for a START a while longer.
    daemon, emu = start_daemon_first(tmp_path, cnn_bundle, "", "--rate", "20", "--sample-format", "2")
    try:
        daemon.wait_for(lambda: any(line["event"] == "scanner_refused" for line in daemon.lines()))
        compatible = metric(daemon.get("/metrics"), "edgekit_scanner_compatible")
        time.sleep(NO_START_WATCH_S)
    finally:
        emu.stop()
        rc = daemon.stop()
    refused = [line for line in daemon.lines() if line["event"] == "scanner_refused"]
    assert len(refused) == 1
    msg = refused[0]["msg"]
    assert "nobody told us" in msg and "sample format format 2 (bundle: ci16)" in msg and "\n" not in msg
    assert compatible == 0.0 and rc == 0
    assert daemon.results() == []
    assert emu.stats()["scanner"]["starts"] == 0  # never asked to stream


@pytest.mark.parametrize(
    ("scenario", "drifts"),
    # front-end degradation (IQ imbalance, DC offset) growing by 0.05 a second after 3 s; gentle
    # enough that the emulator keeps its 50 Hz (it regenerates captures at each 0.01 step)
    [((), False), (("--drift-after", "3", "--frontend-drift", "3"), True)],
    ids=["stationary", "front-end-drifting"],
)
def test_drift_is_detected_only_in_the_drifting_scenario(tmp_path, cnn_bundle, scenario, drifts):
    daemon, emu = start_daemon_first(
        tmp_path, cnn_bundle, "[runtime.drift]\nwindow = 256\nevery = 32\n",
        "--rate", "50", "--count", "700", "--seed", "14", "--linger", str(LINGER_S), *scenario,
    )  # fmt: skip
    try:
        emu.wait(START_LIMIT_S)  # a liveness bound: 14 s of captures, then the answers
        text = daemon.get("/metrics")
    finally:
        emu.stop()
        daemon.stop()
    detected = [e for e in daemon.events() if e["kind"] == "drift_detected"]
    assert bool(detected) == drifts, [e["message"] for e in detected]
    assert "edgekit_drift_score" in text
    assert metric(text, "edgekit_drift_events_total") == len(detected)
