"""Metrics over HTTP (names by Prometheus conventions, localhost), and the [runtime] table."""

from __future__ import annotations

import json
import urllib.request

import pytest

from edgekit.errors import ConfigError
from edgekit.runtime.metrics import DaemonMetrics, serve
from edgekit.runtime.settings import load_settings, parse_addr


def test_metrics_and_status_are_served_over_http():
    m = DaemonMetrics()
    m.result("ok", "onnx-fp32", "qpsk", 0.004)
    m.result("unknown", "onnx-fp32", "unknown", 0.006)
    m.fallbacks.labels("overrun").inc()
    m.link_errors.labels("crc").inc(3)
    server = serve("127.0.0.1", 0, m, lambda: {"hello": "status"})
    try:
        host, port = server.address
        assert host == "127.0.0.1"
        text = urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5).read().decode()
        status = json.loads(urllib.request.urlopen(f"http://{host}:{port}/status", timeout=5).read())
    finally:
        server.close()
    with pytest.raises(OSError):  # closed: the thread stopped and the port is released
        urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=2)
    assert not server._thread.is_alive()
    assert 'edgekit_inferences_total{label="qpsk",variant="onnx-fp32"} 1.0' in text
    assert 'edgekit_results_total{status="unknown"} 1.0' in text
    assert 'edgekit_fallbacks_total{reason="overrun"} 1.0' in text
    assert 'edgekit_link_errors_total{kind="crc"} 3.0' in text
    assert "edgekit_capture_to_result_latency_seconds_count 2.0" in text
    assert "process_resident_memory_bytes" in text
    assert status == {"hello": "status"}
    # conventions: counters end in _total, units are base units
    types = {
        line.split()[2]: line.split()[3] for line in text.splitlines() if line.startswith("# TYPE edgekit_")
    }
    for name, kind in types.items():
        if kind == "counter":
            assert name.endswith("_total"), name
        assert not any(unit in name for unit in ("_ms", "_millis", "_mj", "_percent"))


def test_settings_defaults_and_overrides(tmp_path):
    s = load_settings(None)
    assert s.metrics_addr == "127.0.0.1:9108" and s.journal.synchronous == "FULL"
    cfg = tmp_path / "edgekit-run.toml"
    cfg.write_text(
        '[runtime]\nvariant = "onnx-int8-static"\n[runtime.journal]\ncommit_interval_ms = 5\n'
        "[runtime.governor]\nlow_pct = 30\n"
    )
    s = load_settings(cfg, **{"journal.path": "/tmp/x.sqlite", "variant": None})
    assert (s.variant, s.journal.commit_interval_ms, s.journal.path, s.governor.low_pct) == (
        "onnx-int8-static",
        5.0,
        "/tmp/x.sqlite",
        30.0,
    )


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[runtime]\nvariantt = 'x'\n", "runtime.variantt: unknown key; accepted here:"),
        ("[runtime.journal]\ncommit_interval_ms = -1\n", "runtime.journal.commit_interval_ms: must be"),
        ("[runtime.governor]\nlow_pct = 5\ncritical_pct = 10\n", "runtime.governor.critical_pct"),
        ("[runtime]\nmetrics_addr = '9108'\n", "runtime.metrics_addr: expected HOST:PORT"),
        ("[runtime.drift]\nwindow = 8\n", "runtime.drift.window"),
        ("[runtime.journal]\nsynchronous = 'OFF'\n", "runtime.journal.synchronous"),
        ("[runtime.energy]\npower_period_ms = 5001\n", "runtime.energy.power_period_ms: must be 10..5000"),
        ("[runtime.energy]\npower_period_ms = 9\n", "runtime.energy.power_period_ms"),
        ("[runtime.energy]\nmax_failed_reads = 0\n", "runtime.energy.max_failed_reads: must be >= 1, got 0"),
        ("[runtime.energy]\nmax_failed_reads = 'x'\n", "runtime.energy.max_failed_reads"),
        ("runtime = 3\n", "runtime: expected a table"),
        ("[runtime\n", "not valid TOML"),
    ],
)
def test_bad_runtime_tables_are_one_line_config_errors(tmp_path, text, needle):
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_settings(cfg)
    assert needle in str(info.value) and str(cfg) in str(info.value)
    assert "\n" not in str(info.value)


def test_addr_parsing():
    assert parse_addr("127.0.0.1:9108") == ("127.0.0.1", 9108)
    assert parse_addr("[::1]:80") == ("::1", 80)
    with pytest.raises(ConfigError):
        parse_addr("localhost")


def test_the_power_period_may_be_at_most_half_an_energy_window(tmp_path):
    """A window waits for a reading after its end: with 4 s windows, batches every 2000 ms
    are accepted, 2001 ms refused (4000 / 2 computed here, not by the code)."""
    cfg = tmp_path / "c.toml"
    cfg.write_text("[runtime.energy]\nwindow_s = 4\npower_period_ms = 2000\n")
    assert load_settings(cfg).energy.power_period_ms == 2000
    assert load_settings(None).energy.power_period_ms == 1000
    cfg.write_text("[runtime.energy]\nwindow_s = 4\npower_period_ms = 2001\n")
    with pytest.raises(ConfigError, match=r"power_period_ms: must be 10\.\.2000 ms"):
        load_settings(cfg)


def test_one_failed_read_in_a_row_is_the_lowest_accepted_limit(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[runtime.energy]\nmax_failed_reads = 1\n")
    assert load_settings(cfg).energy.max_failed_reads == 1
    assert load_settings(None).energy.max_failed_reads == 10
