"""Odd but valid inputs must work: rich-markup characters in user text, NaN rows dropped on request,
and a real bench.json judged. They are the other side of the corpus: refusing is not enough."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.corpus._cli import run_in_process
from tests.corpus._inputs import build_argv, render_config, tiny_model, valid_arrays, write_npz, write_project

MARKUP = "[/x]"  # closing a tag never opened: rich raises MarkupError on it


def test_markup_in_input_name_labels_path_and_out_builds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = tmp_path / "[bold]" / "x]"  # the folder path reads "[bold]/x]"
    write_project(d)
    tiny_model(d / "model.onnx", input_name=MARKUP)
    a = valid_arrays()
    a["labels"] = np.array(["[/x]", "[bold]", "c", "[red]d", "z"])
    write_npz(d / "eval.npz", a)
    (d / "edgekit.toml").write_text(render_config({"model.labels": '["[/x]", "[bold]", "c", "[red]d"]'}))
    out = d / "[/dim]out"
    got = run_in_process(["build", str(d / "edgekit.toml"), "--out", str(out)], capsys)
    assert got.code == 0, got.err + got.out[-3000:]
    assert "Traceback" not in got.err
    assert str(out) in got.out  # the path is printed literally, not eaten as markup
    manifest = json.loads((out / "bundle" / "manifest.json").read_text())
    assert manifest["labels"] == ["[/x]", "[bold]", "c", "[red]d"]


def test_inspect_shows_symbolic_shapes_and_names_literally(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "m[").mkdir()
    model = tiny_model(tmp_path / "m[" / "x].onnx", input_name="[red]in", input_dims=["batch", 2, 64])
    got = run_in_process(["inspect", str(model)], capsys)
    assert got.code == 0, got.err
    assert "[batch, 2, 64]" in got.out
    assert "[red]in" in got.out
    assert "m[/x].onnx" in got.out


def test_data_info_shows_markup_labels_and_counts_nan_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = valid_arrays()
    a["labels"] = np.array(["[/x]", "b", "c", "d", "z"])
    a["x"][::7] = np.nan  # rows 0, 7, ..., 77 of 80: 12 rows
    write_npz(tmp_path / "d.npz", a)
    got = run_in_process(["data", "info", str(tmp_path / "d.npz")], capsys)
    assert got.code == 0, got.err
    assert "[/x]" in got.out
    assert "12 of 80 captures hold NaN or inf" in " ".join(got.out.split())


def test_drop_nonfinite_drops_counts_and_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = tmp_path / "p"
    write_project(d, {"data.drop_nonfinite": "true"})
    a = valid_arrays()
    a["x"][::7, 0, 3] = np.nan  # 12 of 80 rows
    write_npz(d / "eval.npz", a)
    got = run_in_process(build_argv(d), capsys)
    assert got.code == 0, got.err + got.out[-3000:]
    report = json.loads((d / "out" / "b" / "report.json").read_text())
    dropped = [w for w in report["warnings"] if "dropped 12 of 80" in w]
    assert len(dropped) == 2, report["warnings"]  # evaluation and calibration (the same file)
    manifest = json.loads((d / "out" / "b" / "bundle" / "manifest.json").read_text())
    assert manifest["variants"][0]["ood_threshold"] is not None  # "unknown" stays on


def test_real_bench_json_is_accepted(
    good_bench: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The positive control of the bench.json cases: the untouched file is judged."""
    d = tmp_path / "p"
    write_project(d)
    (d / "bench.json").write_text(json.dumps(good_bench))
    got = run_in_process(build_argv(d, "--target-results", str(d / "bench.json")), capsys)
    assert got.code == 0, got.err + got.out[-3000:]
    v = json.loads((d / "out" / "b" / "report.json").read_text())["variants"][0]
    assert v["energy"]["kind"] == "estimated"
    assert v["latency"]["provenance"].startswith("target, measured by edgekit bench")
