"""The power-trace and event-log files: exact round trips, units in column names, one-line errors."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from edgekit.energy import (
    EventRecorder,
    PowerTrace,
    Recording,
    TraceHeader,
    read_events,
    read_recording,
    read_trace,
    write_events,
    write_recording,
    write_trace,
)
from edgekit.errors import DataError, UsageError


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_trace_round_trips_bit_for_bit(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    t = np.cumsum(rng.uniform(0.0009, 0.0011, 500)) + 1234.5678
    p = rng.uniform(1.5, 4.5, 500)
    header = TraceHeader(kind="measured", meter="ina260", sample_rate_hz=1000.0, averaging_s=0.00224,
                         clock="host", board="rpi4b", bundle_id="abc", variant="tflite-int8",
                         extra={"operator": "lab 3"})
    path = write_trace(PowerTrace(t, p, header, voltage_v=np.full(t.size, 5.0), current_a=p / 5.0),
                       tmp_path / "t.power.csv")
    again = read_trace(path)
    assert np.array_equal(again.timestamps_s, t) and np.array_equal(again.power_w, p)
    assert again.header == replace(header, format="edgekit-power-trace/1")
    assert again.voltage_v is not None and np.array_equal(again.current_a, p / 5.0)
    assert path.read_text().splitlines()[0] == "# format=edgekit-power-trace/1"


def test_units_in_column_names_are_applied(tmp_path: Path) -> None:
    path = _write(tmp_path / "mw.csv", "timestamp_ms,power_mw\n0,2500\n1,2600\n2,2700\n")
    trace = read_trace(path)
    assert trace.timestamps_s.tolist() == [0.0, 0.001, 0.002]
    assert trace.power_w.tolist() == pytest.approx([2.5, 2.6, 2.7])
    assert trace.power_column == "power_mw"


def test_voltage_and_current_alone_give_power(tmp_path: Path) -> None:
    path = _write(tmp_path / "vi.csv", "timestamp_us,voltage_mv,current_ma\n0,5000,400\n1000,5100,500\n")
    trace = read_trace(path)
    # 5.0 V x 0.4 A = 2.0 W; 5.1 V x 0.5 A = 2.55 W
    assert trace.power_w.tolist() == pytest.approx([2.0, 2.55])
    assert trace.timestamps_s.tolist() == pytest.approx([0.0, 0.001])
    assert trace.power_column == "voltage_mv x current_ma"


def test_a_csv_without_a_kind_line_declares_nothing(tmp_path: Path) -> None:
    trace = read_trace(_write(tmp_path / "bare.csv", "timestamp_s,power_w\n0,1\n1,1\n"))
    assert trace.header.kind is None and trace.header.clock == "meter"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("timestamp_s,watts\n0,1\n1,2\n", r"bad\.csv:1: unknown column\(s\) watts; accepted: timestamp_s"),
        ("power_w,timestamp_s\n1,0\n2,1\n", r"bad\.csv:1: the first column must be a timestamp"),
        ("timestamp_s,voltage_v\n0,5\n1,5\n", r"needs a power column, or both voltage and current"),
        ("timestamp_s,power_w\n0,1\n1,x\n2,3\n", r"bad\.csv:3: not numbers: '1,x'"),
        ("timestamp_s,power_w\n0,1\n2,1\n1,1\n", r"bad\.csv:4: timestamps go backwards"),
        ("timestamp_s,power_w\n0,1\n1,nan\n", r"bad\.csv:3: a value is not finite"),
        ("timestamp_s,power_w\n0,1,5\n1,1\n", r"bad\.csv:2: 3 columns, the header has 2"),
        ("# clock=wall\ntimestamp_s,power_w\n0,1\n1,1\n", r"header clock='wall'; accepted: host, meter"),
        ("# averaging_s=-1\ntimestamp_s,power_w\n0,1\n1,1\n", r"averaging_s='-1' must be finite and >= 0"),
        ("timestamp_s,power_w\n0,1\n", r"a trace needs at least 2 samples, has 1"),
    ],
)
def test_malformed_traces_are_one_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(DataError, match=message) as info:
        read_trace(_write(tmp_path / "bad.csv", text))
    assert "\n" not in str(info.value)


def _log() -> EventRecorder:
    rec = EventRecorder({"mode": "back-to-back", "bundle_id": "b1"})
    rec.marker(0.1, 0.4)
    rec.idle(1.0, 2.0)
    rec.window(2.0, 3.0)
    rec.call(2.0, 2.5, 25)
    rec.call(2.5, 2.5123456789012345, 1)
    rec.idle(3.0, 4.0)
    rec.sync(1.0, 101.0)
    rec.env(2.0, {"governor": "ondemand", "freq_mhz": 1800.0})
    rec.end(4.0)
    return rec


def test_events_round_trip_exactly(tmp_path: Path) -> None:
    log = _log().log()
    again = read_events(write_events(log, tmp_path / "e.events.jsonl"))
    assert again.header == {"mode": "back-to-back", "bundle_id": "b1"}
    assert again.windows == log.windows and again.idle == log.idle and again.markers == log.markers
    assert again.call_end_s.tolist() == log.call_end_s.tolist()  # 2.5123456789012345 exactly
    assert again.call_n.tolist() == [25, 1] and again.n_inferences == 26
    assert again.syncs == [(1.0, 101.0)] and again.env[0]["freq_mhz"] == 1800.0
    assert again.complete
    lines = (tmp_path / "e.events.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["format"] == "edgekit-events/1"
    assert {json.loads(line)["event"] for line in lines[1:]} == {
        "marker", "idle", "window", "batch", "inference", "sync", "env", "end"}


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"format": "other"}'], r"e\.jsonl:1: the first line must be the header"),
        (['{"format": "edgekit-events/1"}', "not json"], r"e\.jsonl:2: not JSON"),
        (['{"format": "edgekit-events/1"}', '{"event": "nap", "t_s": 1}'],
         r"e\.jsonl:2: unknown event 'nap'"),
        (['{"format": "edgekit-events/1"}', '{"event": "window", "start_s": 2, "end_s": 1}'],
         r"e\.jsonl:2: window ends \(1\.0\) before it starts \(2\.0\)"),
        (['{"format": "edgekit-events/1"}', '{"event": "batch", "start_s": 1, "end_s": 2, "n": 0}'],
         r"e\.jsonl:2: batch needs an integer n >= 1, got 0"),
        (['{"format": "edgekit-events/1"}', '{"event": "idle", "start_s": "a", "end_s": 2}'],
         r"e\.jsonl:2: 'idle' needs a finite number 'start_s'"),
        ([], r"empty event log"),
    ],
)
def test_malformed_event_logs_are_one_line(tmp_path: Path, lines: list[str], message: str) -> None:
    path = _write(tmp_path / "e.jsonl", "\n".join(lines))
    with pytest.raises(DataError, match=message) as info:
        read_events(path)
    assert "\n" not in str(info.value)


def test_recording_writes_a_pair_and_refuses_foreign_files(tmp_path: Path) -> None:
    t = np.arange(0.0, 4.0, 0.01)
    rec = Recording(PowerTrace(t, np.full(t.size, 2.0)), _log().log())
    power, events = write_recording(tmp_path / "rec", "onnx-fp32", rec)
    assert power.name == "onnx-fp32.power.csv" and events.name == "onnx-fp32.events.jsonl"
    write_recording(tmp_path / "rec", "onnx-fp32", rec)  # ours: replaced
    again = read_recording(power, events)
    assert again.events.n_inferences == 26
    foreign = tmp_path / "rec" / "other.power.csv"
    foreign.write_text("my notes, not a trace\n")
    with pytest.raises(UsageError, match=r"other\.power\.csv: exists and is not an edgekit recording"):
        write_recording(tmp_path / "rec", "other", rec)
    assert foreign.read_text() == "my notes, not a trace\n"
    assert not list((tmp_path / "rec").glob(".*"))  # no temporary file left behind
