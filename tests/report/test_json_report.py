from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from edgekit.report import render_json, write_json
from edgekit.report._atomic import atomic_write_text
from edgekit.results import REPORT_SCHEMA_VERSION, BuildResult


def _no_constants(name: str) -> None:
    raise AssertionError(f"non-standard JSON constant {name!r} in report.json")


def test_json_round_trips_with_schema_version_and_passed_flags(
    passed_result: BuildResult, tmp_path: Path
) -> None:
    path = write_json(passed_result, tmp_path / "report.json")
    data = json.loads(path.read_text("utf-8"), parse_constant=_no_constants)
    assert data["schema_version"] == REPORT_SCHEMA_VERSION
    assert data["verdict"] == "pass" and data["selected"] == "onnx-int8-static"
    passed = {v["name"]: v["passed"] for v in data["variants"]}
    assert passed == {
        "onnx-fp32": True,
        "onnx-int8-static": True,
        "tflite-int8": False,  # failed the slice budget
        "onnx-fp16": False,  # a budget not evaluated is not a pass
        "tflite-fp16": False,  # skipped
    }
    # Field order follows the dataclass, not alphabetical order.
    assert list(data) == list(passed_result.to_dict())
    tfl = next(v for v in data["variants"] if v["name"] == "tflite-int8")
    slice_check = next(c for c in tfl["checks"] if c["budget"] == "max_slice_accuracy_drop")
    assert slice_check == {"budget": "max_slice_accuracy_drop", "status": "fail", "limit": 0.05,
                           "value": 0.12, "unit": "", "detail": "slice snr_db=-10..-5 (n=180)"}


def test_non_finite_numbers_become_null(passed_result: BuildResult) -> None:
    ref = passed_result.variant("onnx-fp32")
    assert ref.latency is not None and ref.energy is not None
    ref.latency.std_ms = math.nan
    ref.energy.spread_mj = math.inf
    ref.meta = {"scale": np.float32(0.5), "zero_point": np.int8(-3), "bad": np.float64("-inf"),
                "shape": (1, 2, 1024)}
    text = render_json(passed_result)
    assert "NaN" not in text and "Infinity" not in text
    data = json.loads(text, parse_constant=_no_constants)
    ref_d = data["variants"][0]
    assert ref_d["latency"]["std_ms"] is None
    assert ref_d["energy"]["spread_mj"] is None
    assert ref_d["meta"] == {"scale": 0.5, "zero_point": -3, "bad": None, "shape": [1, 2, 1024]}


def test_write_json_replaces_atomically_and_leaves_no_temp_files(
    passed_result: BuildResult, rejected_result: BuildResult, tmp_path: Path
) -> None:
    target = tmp_path / "report.json"
    write_json(passed_result, target)
    write_json(rejected_result, target)
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]
    assert json.loads(target.read_text("utf-8"))["verdict"] == "rejected"


def test_failed_atomic_write_keeps_old_file_and_cleans_up(tmp_path: Path) -> None:
    blocker = tmp_path / "report.md"
    blocker.mkdir()  # os.replace onto a non-empty directory fails after the temp file exists
    (blocker / "keep").write_text("old", "utf-8")
    with pytest.raises(OSError):
        atomic_write_text(blocker, "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md"]
    assert (blocker / "keep").read_text("utf-8") == "old"
