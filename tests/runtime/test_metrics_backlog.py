"""Per-capture metrics are appended to a backlog by the loop and folded when collected (a
scrape, ``get_sample_value``) or every ``FOLD_EVERY`` results: the loop pays an append per
figure, a scrape still sees every result announced before it."""

from __future__ import annotations

import urllib.request

from edgekit.runtime.engine import Outcome
from edgekit.runtime.metrics import FOLD_EVERY, DaemonMetrics, serve
from edgekit.runtime.status import FOLD_EVERY as BOARD_FOLD_EVERY
from edgekit.runtime.status import StatusBoard

OK = Outcome(
    "ok", "qpsk", 1, 0.9, "model", "onnx-fp32", predicted="qpsk", preprocess_s=1e-4, inference_s=2e-3
)
UNKNOWN = Outcome("unknown", None, None, 0.3, "model", "onnx-fp32", predicted="qpsk", inference_s=2e-3)
FALLBACK = Outcome("fallback", "tone", 0, 0.7, "baseline", "trees", "overrun", "late", True, inference_s=5e-4)
LATENCY_COUNT = "edgekit_capture_to_result_latency_seconds_count"


def test_the_loop_appends_and_a_collect_folds():
    m = DaemonMetrics()
    m.announced(OK, 0.010)
    m.captured()
    m.committed(0.0005)
    # nothing observed yet: the histogram's own sum, read without collecting, is still zero
    assert m.latency._sum.get() == 0.0 and m.commit_duration._sum.get() == 0.0
    reg = m.registry
    assert reg.get_sample_value(LATENCY_COUNT) == 1.0
    assert reg.get_sample_value("edgekit_capture_to_result_latency_seconds_sum") == 0.010
    assert reg.get_sample_value("edgekit_captures_received_total") == 1.0
    assert reg.get_sample_value("edgekit_journal_commits_total") == 1.0
    assert reg.get_sample_value("edgekit_journal_commit_duration_seconds_sum") == 0.0005
    assert reg.get_sample_value("edgekit_inferences_total", {"variant": "onnx-fp32", "label": "qpsk"}) == 1.0
    # folded once: a second collect counts nothing twice
    assert reg.get_sample_value(LATENCY_COUNT) == 1.0
    assert reg.get_sample_value("edgekit_captures_received_total") == 1.0


def test_without_scrapes_the_backlog_is_folded_every_fold_every_results():
    m = DaemonMetrics()
    for _ in range(FOLD_EVERY - 1):
        m.announced(OK, 0.001)
    assert m.latency._sum.get() == 0.0
    m.announced(OK, 0.001)
    assert len(m._backlog) == 0
    assert abs(m.latency._sum.get() - FOLD_EVERY * 0.001) < 1e-9


def test_a_scrape_sees_every_result_announced_before_it():
    m = DaemonMetrics()
    for o in (OK, UNKNOWN, FALLBACK):
        m.announced(o, 0.02)
    for _ in range(4):
        m.captured()
    m.committed(0.001)
    m.committed(0.002)
    server = serve("127.0.0.1", 0, m, lambda: {})
    try:
        host, port = server.address
        text = urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5).read().decode()
    finally:
        server.close()
    for line in (
        'edgekit_results_total{status="ok"} 1.0',
        'edgekit_results_total{status="unknown"} 1.0',
        'edgekit_results_total{status="fallback"} 1.0',
        'edgekit_inferences_total{label="unknown",variant="onnx-fp32"} 1.0',
        'edgekit_fallbacks_total{reason="overrun"} 1.0',
        'edgekit_inference_duration_seconds_count{source="baseline"} 1.0',
        'edgekit_inference_duration_seconds_count{source="model"} 2.0',
        "edgekit_unknown_total 1.0",
        "edgekit_captures_received_total 4.0",
        "edgekit_journal_commits_total 2.0",
        f"{LATENCY_COUNT} 3.0",
    ):
        assert line in text, line


def test_the_status_board_counts_its_backlog_at_each_snapshot_and_every_fold_every():
    board = StatusBoard(bundle="b", port="p", journal="j")
    board.announced("ok", None, 0.010, 0.002)
    board.announced("fallback", "overrun", 0.030, 0.001)
    assert board.results == {} and len(board.latency_s) == 0  # appended, not counted yet
    snap = board.snapshot()
    assert snap["results"] == {"ok": 1, "fallback": 1} and snap["results_total"] == 2
    assert snap["fallback_reasons"] == {"overrun": 1}
    assert snap["latency_ms"]["n"] == 2 and abs(snap["latency_ms"]["p50"] - 20.0) < 1e-9
    assert board.snapshot()["results_total"] == 2  # counted once
    for _ in range(BOARD_FOLD_EVERY):
        board.announced("ok", None, 0.010, 0.002)
    assert len(board._backlog) == 0 and board.results["ok"] == 1 + BOARD_FOLD_EVERY
