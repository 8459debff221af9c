"""``edgekit energy attribute`` end to end: the figure, JSON, refusals (exit 1), bad input (exit 2)."""

from __future__ import annotations

import contextlib
import io
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from edgekit.cli import main
from edgekit.energy import Recording, write_recording
from edgekit.energy.simulate import MeterModel, Workload, synthesize_recording


def _cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["energy", "attribute", *args])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, object]]:
    result, _ = synthesize_recording(Workload(2.0, 3.5, 0.002), MeterModel(500, noise_w=0.005),
                                     windows=3, window_s=2.0, idle_s=1.0, markers=True)
    folder = tmp_path_factory.mktemp("rec")
    power, events = write_recording(folder, "onnx-fp32", result.recording)
    return power, events, result.to_dict()


def test_reproduces_the_live_figure(recorded) -> None:
    power, events, live = recorded
    code, out, err = _cli("--power", str(power), "--events", str(events), "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["status"] == "ok"
    for key in ("energy_per_inference_mj", "dynamic_energy_per_inference_mj", "spread_mj",
                "dynamic_spread_mj", "n_inferences", "windows", "clock", "kind"):
        assert data[key] == live[key], key
    # closed form: 3.5 W x 2 ms = 7 mJ, 1.5 W x 2 ms = 3 mJ above idle
    assert data["energy_per_inference_mj"] == pytest.approx(7.0, rel=0.02)
    assert data["dynamic_energy_per_inference_mj"] == pytest.approx(3.0, rel=0.02)


def test_text_output_says_kind_and_interval(recorded) -> None:
    power, events, _ = recorded
    code, out, _ = _cli("--power", str(power), "--events", str(events))
    assert code == 0
    assert re.match(r"energy per inference: (6\.9\d*|7\.0\d*) mJ \[", out) and "(95%)" in out
    assert "kind: unverified (the trace header says kind=unverified" in out
    assert out.count("  window ") == 3


def test_refusal_is_exit_1_naming_the_cause(recorded, tmp_path: Path) -> None:
    power, events, _ = recorded
    # the same trace with its power written in mW under a W column
    bad = _scaled(power, 1000.0, tmp_path / "mw.power.csv")
    code, out, err = _cli("--power", str(bad), "--events", str(events), "--json")
    assert code == 1
    data = json.loads(out)
    assert data["status"] == "refused" and data["cause"] == "units" and "mW" in data["reason"]
    code, out, err = _cli("--power", str(bad), "--events", str(events))
    assert code == 1 and out == ""
    assert err.startswith("edgekit: error: cannot give an energy figure (units):") and err.count("\n") == 1


def test_trace_without_events_or_malformed_events_is_exit_2(recorded, tmp_path: Path) -> None:
    power, _, _ = recorded
    code, _, err = _cli("--power", str(power), "--events", str(tmp_path / "missing.jsonl"))
    assert code == 2 and "missing.jsonl: cannot read event log" in err and err.count("\n") == 1
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"format": "edgekit-events/1"}\n{"event": "window", "start_s": 1}\n')
    code, _, err = _cli("--power", str(power), "--events", str(bad))
    assert code == 2 and "bad.jsonl:2: 'window' needs a finite number 'end_s'" in err


def test_unknown_board_is_a_usage_error(recorded) -> None:
    power, events, _ = recorded
    code, _, err = _cli("--power", str(power), "--events", str(events), "--board", "pi9")
    assert code == 2 and "--board: unknown board 'pi9'" in err


def _scaled(power: Path, factor: float, dest: Path) -> Path:
    lines = power.read_text().splitlines()
    rows = [line if line.startswith(("#", "timestamp")) else
            f"{line.split(',')[0]},{float(line.split(',')[1]) * factor!r}" for line in lines]
    dest.write_text("\n".join(rows) + "\n")
    return dest


def test_board_option_sets_the_plausibility_range(recorded, tmp_path: Path) -> None:
    power, events, _ = recorded
    # the trace x5 (median about 17 W) is beyond 3 x a Pi 4B's 5 W maximum but within 3 x a
    # Pi 5's 9.7 W: flagged as a probable unit error only for the Pi 4B
    big = _scaled(power, 5.0, tmp_path / "big.power.csv")
    code, _, err = _cli("--power", str(big), "--events", str(events), "--board", "rpi4b")
    assert code == 0 and "warning: units:" in err and "probable unit error" in err
    code, _, err = _cli("--power", str(big), "--events", str(events), "--board", "rpi5")
    assert code == 0 and "units:" not in err


def test_measured_recording_stays_measured(recorded, tmp_path: Path) -> None:
    result, _ = synthesize_recording(Workload(2.0, 3.5, 0.002), MeterModel(500, noise_w=0.005),
                                     windows=2, window_s=1.5, idle_s=1.0)
    rec = result.recording
    header = replace(rec.trace.header, kind="measured", meter="ina260", board="rpi4b", bundle_id="b-7")
    power, events = write_recording(tmp_path, "v", Recording(replace(rec.trace, header=header), rec.events))
    code, out, _ = _cli("--power", str(power), "--events", str(events), "--json")
    data = json.loads(out)
    assert code == 0 and data["kind"] == "measured" and data["provenance"]["bundle_id"] == "b-7"
