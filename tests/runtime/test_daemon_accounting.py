"""What the daemon's loop counts, exactly, now that it keeps the metric children it uses and
checks a capture's format only when it differs from the last compatible one: every metric
agrees with the journal's records (read back through SQLite, apart from the loop), a capture in
another format after compatible ones is still refused, and the status board reads the journal
writer's own counters."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from edgekit.runtime.daemon import Daemon
from edgekit.runtime.journal import read_journal
from tests.runtime.bundles import GBT, GBT_BASELINE, write_bundle
from tests.runtime.test_daemon_loop import HELLO, capture, scripted_daemon


def _run(
    tmp_path: Any, monkeypatch: Any, script: list[list[Any]], fail_calls: set[int]
) -> tuple[Daemon, Any]:
    bundle = write_bundle(tmp_path / "b", threshold=0.5, baseline=GBT_BASELINE, baseline_file=GBT)
    daemon, _links = scripted_daemon(tmp_path, monkeypatch, script, bundle)
    primary = daemon.parts.engine.primary
    assert primary is not None
    real_predict = primary.predict
    calls = {"n": 0}

    def predict(x: np.ndarray) -> Any:  # the primary fails on the chosen calls
        calls["n"] += 1
        if calls["n"] in fail_calls:
            raise RuntimeError("injected failure")
        return real_predict(x)

    primary.predict = predict  # type: ignore[method-assign]
    assert daemon.run(should_stop=lambda: not script) == 0
    return daemon, tmp_path / "j.sqlite"


def test_metrics_match_the_journal_and_a_changed_format_is_refused_after_compatible_captures(
    tmp_path, monkeypatch
):
    script: list[list[Any]] = [
        [HELLO],
        [capture(1)],
        [capture(2), capture(3)],
        [capture(4, sample_format=2)],  # another sample format after compatible captures
        [capture(5)],
        [capture(6, length=512)],  # another capture length
        [capture(7)],
    ]
    # inference calls: captures 1, 2, 3, 5, 7 -> the third (capture 3) fails: baseline answers
    daemon, journal = _run(tmp_path, monkeypatch, script, fail_calls={3})
    rows = read_journal(journal)
    results = rows["results"]
    assert [r["capture_id"] for r in results] == [1, 2, 3, 5, 7]
    refused = [e for e in rows["events"] if e["kind"] == "capture_refused"]
    assert (
        len(refused) == 2 and "sample format" in refused[0]["message"] and "length" in refused[1]["message"]
    )
    by_id = {r["capture_id"]: r for r in results}
    assert by_id[3]["status"] == "fallback" and by_id[3]["reason"] == "error"
    assert all(by_id[c]["status"] in ("ok", "unknown") for c in (1, 2, 5, 7))

    reg = daemon.parts.metrics.registry

    def value(name: str, labels: dict[str, str] | None = None) -> float:
        got = reg.get_sample_value(name, labels or {})
        return 0.0 if got is None else got

    assert value("edgekit_captures_received_total") == 7
    assert value("edgekit_captures_refused_total", {"reason": "format"}) == 2
    statuses = Counter(r["status"] for r in results)
    for status in ("ok", "unknown", "fallback", "unavailable", "skipped"):
        assert value("edgekit_results_total", {"status": status}) == statuses[status], status
    model_rows = [r for r in results if r["status"] in ("ok", "unknown")]
    for label, n in Counter(r["label"] for r in model_rows).items():
        assert value("edgekit_inferences_total", {"variant": "onnx-fp32", "label": label}) == n
    assert value("edgekit_unknown_total") == sum(r["label"] == "unknown" for r in results)
    assert value("edgekit_fallbacks_total", {"reason": "error"}) == 1
    assert value("edgekit_inference_duration_seconds_count", {"source": "model"}) == 4
    assert value("edgekit_inference_duration_seconds_count", {"source": "baseline"}) == 1
    assert value("edgekit_preprocess_duration_seconds_count") == 4
    assert value("edgekit_capture_to_result_latency_seconds_count") == 5
    # commits that carried results: [1], [2, 3], [5], [7]
    assert value("edgekit_journal_commits_total") == 4
    assert value("edgekit_journal_commit_duration_seconds_count") == 4

    snap = daemon.parts.board.snapshot()
    assert snap["results"] == dict(statuses) and snap["results_total"] == 5
    assert snap["fallback_reasons"] == {"error": 1}
    assert snap["counts"]["captures"] == 7 and snap["counts"]["captures_refused"] == 2
    # start, hello, [1], [2, 3], refusal of 4, [5], refusal of 6, [7], stop
    assert snap["journal"]["commits"] == 9 and snap["journal"]["results"] == 5
    assert snap["journal"]["mean_commit_ms"] > 0 and snap["journal"]["path"] == str(journal)


def test_a_capture_refused_first_is_checked_again_and_answered_once_compatible(tmp_path, monkeypatch):
    script: list[list[Any]] = [
        [HELLO],
        [capture(1, length=512)],  # refused before any compatible capture
        [capture(2)],
        [capture(3, length=512)],
        [capture(4)],
    ]
    daemon, journal = _run(tmp_path, monkeypatch, script, fail_calls=set())
    rows = read_journal(journal)
    assert [r["capture_id"] for r in rows["results"]] == [2, 4]
    # one journal line per distinct problem, every refusal counted
    assert sum(e["kind"] == "capture_refused" for e in rows["events"]) == 1
    assert (
        daemon.parts.metrics.registry.get_sample_value("edgekit_captures_refused_total", {"reason": "format"})
        == 2
    )


def _count_periodic(tmp_path: Any, monkeypatch: Any, meter: str, script: list[list[Any]]) -> int:
    bundle = write_bundle(tmp_path / f"b-{meter}")
    daemon, _links = scripted_daemon(
        tmp_path, monkeypatch, script, bundle, meter=meter, name=meter, **{"energy.window_s": 3600.0}
    )
    calls = []
    real = daemon._periodic
    daemon._periodic = lambda now: (calls.append(now), real(now))[1]  # type: ignore[method-assign]
    assert daemon.run(should_stop=lambda: not script) == 0
    return len(calls)


def test_periodic_work_runs_when_due_or_after_power_readings_not_on_every_wake_up(tmp_path, monkeypatch):
    # no meter, no gauge, retention 10 minutes away: five wake-ups, nothing periodic is due
    assert _count_periodic(tmp_path, monkeypatch, "none", [[HELLO], [1], [2], [3, 4], [5]]) == 0
    # the link meter, an hour-long window: only the two POWER batches (a reading may close a
    # window that waits for one) run the periodic work, the captures' wake-ups do not
    script: list[list[Any]] = [[HELLO], [1], ["power"], [2], ["power"], [3]]
    assert _count_periodic(tmp_path, monkeypatch, "link", script) == 2
