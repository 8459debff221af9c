"""edgekit build end to end: third-party model shapes, missing data, tree models, exit codes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgekit.builder.pipeline import BuildOptions, run_build
from edgekit.bundle import load_bundle
from edgekit.cli import main
from edgekit.config import load_config
from edgekit.data.dataset import Dataset, save_npz

ROOT = Path(__file__).resolve().parents[2]


def _nchw_model(path: Path) -> None:
    """A small image CNN with two outputs (logits and an embedding), dynamic batch."""
    rng = np.random.default_rng(3)
    inits = [
        numpy_helper.from_array(rng.normal(0, 0.4, (8, 3, 3, 3)).astype(np.float32), "cw"),
        numpy_helper.from_array(rng.normal(0, 0.1, 8).astype(np.float32), "cb"),
        numpy_helper.from_array(rng.normal(0, 0.5, (3, 8)).astype(np.float32), "fw"),
        numpy_helper.from_array(np.zeros(3, np.float32), "fb"),
    ]
    nodes = [
        helper.make_node("Conv", ["image", "cw", "cb"], ["c"], pads=[1, 1, 1, 1], name="conv"),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("GlobalAveragePool", ["r"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["embedding"], name="flat"),
        helper.make_node("Gemm", ["embedding", "fw", "fb"], ["logits"], transB=1, name="fc"),
    ]
    g = helper.make_graph(
        nodes, "nchw",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, 16, 16])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", 8]),
         helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 3])],
        inits,
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, str(path))


def _images(model: Path, n: int, seed: int) -> Dataset:
    """Images labelled by the model itself (a teacher), with a brightness column for slices."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, (n, 3, 16, 16)).astype(np.float32)
    x += rng.uniform(-1, 1, (n, 3, 1, 1)).astype(np.float32)
    sess = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    y = sess.run(["logits"], {"image": x})[0].argmax(axis=1).astype(np.int64)
    return Dataset(x, y, ("cat", "dog", "bird"), {"brightness": x.mean(axis=(1, 2, 3))})


def _write(tmp: Path, text: str) -> Path:
    p = tmp / "edgekit.toml"
    p.write_text(text)
    return p


NCHW_CONFIG = """variants = ["onnx-fp32", "onnx-fp16", "onnx-int8-dynamic", "onnx-int8-static"]
[model]
path = "model.onnx"
name = "imagenet-ish"
labels = ["cat", "dog", "bird"]
output_name = "logits"
[data]
calibration = "cal.npz"
evaluation = "eval.npz"
[slices]
columns = ["brightness"]
min_size = 20
[profile]
runs = 20
max_reruns = 0  # CI: no re-timing after host interference (not judged here)
warmup = 2
[budgets]
max_accuracy_drop = 0.05
max_latency_p99_ms = 1000.0
"""


def test_third_party_nchw_two_outputs(tmp_path: Path) -> None:
    _nchw_model(tmp_path / "model.onnx")
    save_npz(_images(tmp_path / "model.onnx", 400, 1), tmp_path / "eval.npz")
    save_npz(_images(tmp_path / "model.onnx", 100, 2), tmp_path / "cal.npz")
    cfg = load_config(_write(tmp_path, NCHW_CONFIG))
    result = run_build(cfg, BuildOptions(out_dir=tmp_path / "out", log=lambda m: None))
    assert [v.status for v in result.variants] == ["built"] * 4
    fp32 = result.variant("onnx-fp32")
    assert fp32.accuracy is not None and fp32.accuracy.accuracy == 1.0  # labels come from the model
    assert fp32.accuracy.max_abs_diff_vs_reference < 1e-4
    assert result.variant("onnx-fp16").accuracy.agreement_with_reference >= 0.97  # type: ignore[union-attr]
    for name in ("onnx-int8-dynamic", "onnx-int8-static"):
        assert result.variant(name).accuracy.agreement_with_reference >= 0.85  # type: ignore[union-attr]
    # numeric column without bin edges: quartile slices over 400 rows
    assert len(fp32.accuracy.slices) == 4
    bundle = load_bundle(tmp_path / "out" / "bundle")
    assert bundle.manifest["input"]["shape"] == ["N", 3, 16, 16]
    assert bundle.manifest["output"]["name"] == "logits"
    assert bundle.manifest["labels"] == ["cat", "dog", "bird"]
    # what the daemon reads: the capture format (no [capture] table: the synthetic defaults) and
    # the drift reference over the 400 in-distribution rows, per channel mean and std
    assert bundle.manifest["capture"] == {
        "sample_rate_hz": 1_000_000.0,
        "sample_format": "ci16",
        "samples_per_capture": 1024,
        "iq_full_scale": 16.0,
    }
    pre = bundle.manifest["reference_statistics"]["preprocessed"]
    assert pre["statistics"] == ["c0_mean", "c0_std", "c1_mean", "c1_std", "c2_mean", "c2_std"]
    assert pre["n"] == 400
    assert all(row == sorted(row) for row in pre["values"])


def test_no_data_means_not_evaluated_and_no_silent_pass(tmp_path: Path) -> None:
    _nchw_model(tmp_path / "model.onnx")
    cfg = load_config(_write(tmp_path, """variants = ["onnx-fp32", "onnx-int8-static"]
[model]
path = "model.onnx"
output_name = "logits"
[profile]
runs = 5
max_reruns = 0  # CI: no re-timing after host interference (not judged here)
warmup = 1
[budgets]
max_accuracy_drop = 0.01
"""))
    result = run_build(cfg, BuildOptions(out_dir=tmp_path / "out", log=lambda m: None))
    static = result.variant("onnx-int8-static")
    assert static.status == "skipped" and "calibration data" in static.reason
    fp32 = result.variant("onnx-fp32")
    assert fp32.latency is not None  # profiled on a zero input, and the report says so
    assert any("all-zero input" in w for w in result.warnings)
    assert [c.status for c in fp32.checks] == ["not_evaluated"]
    assert result.verdict == "rejected"


def test_gbt_builds_onnx_and_skips_the_rest(tmp_path: Path) -> None:
    src = ROOT / "models" / "rfclass-gbt"
    text = (src / "edgekit.toml").read_text()
    text = text.replace('path = "model.onnx"', f'path = "{src / "model.onnx"}"')
    text = text.replace('"privacy_refs/', f'"{src}/privacy_refs/')  # [privacy] reference models
    text = text.replace("n=3000", "n=400").replace("runs = 200", "runs = 20\nmax_reruns = 0")
    # the variants this test judges; the shipped config's trees-* variants compile the real model's
    # C (x86 and aarch64, minutes on 2 cores) and are built and checked in tests/trees and
    # test_trees_build.py on models made for that
    seven = ["onnx-fp32", "onnx-fp16", "onnx-int8-dynamic", "onnx-int8-static",
             "tflite-fp32", "tflite-fp16", "tflite-int8"]  # fmt: skip
    text, n = re.subn(r"(?s)^variants = \[.*?\]", f"variants = {json.dumps(seven)}", text, flags=re.M)
    assert n == 1, "the GBT config no longer starts its variants list as expected"
    cfg = load_config(_write(tmp_path, text))
    result = run_build(cfg, BuildOptions(out_dir=tmp_path / "out", log=lambda m: None))
    status = {v.name: (v.status, v.reason) for v in result.variants}
    assert status["onnx-fp32"][0] == "built"
    for name in ("onnx-int8-dynamic", "onnx-int8-static"):
        assert status[name][0] == "skipped" and "quantisable" in status[name][1]
    assert status["onnx-fp16"][0] == "skipped" and "fp16" in status["onnx-fp16"][1]
    for name in ("tflite-fp32", "tflite-fp16", "tflite-int8"):
        assert status[name][0] == "skipped" and "TFLite" in status[name][1]
    md = (tmp_path / "out" / "report.md").read_text()
    assert "TFLite cannot hold it" in md


def test_cli_config_error_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = _write(tmp_path, '[model]\npath = "m.onnx"\n[budgets]\nmax_latency = 3\n')
    assert main(["build", str(p)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "budgets.max_latency" in err[0] and "max_latency_p99_ms" in err[0]


def test_cli_unknown_variant_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _nchw_model(tmp_path / "model.onnx")
    p = _write(tmp_path, '[model]\npath = "model.onnx"\n')
    assert main(["build", str(p), "--variants", "onnx-int4"]) == 2
    assert "onnx-int4" in capsys.readouterr().err


def test_cli_missing_model_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = _write(tmp_path, '[model]\npath = "absent.onnx"\n')
    assert main(["build", str(p), "--out", str(tmp_path / "o")]) == 2
    assert "absent.onnx" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # nothing half-written


def test_cli_json_and_rejection_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _nchw_model(tmp_path / "model.onnx")
    save_npz(_images(tmp_path / "model.onnx", 200, 1), tmp_path / "eval.npz")
    text = NCHW_CONFIG.replace('"onnx-fp16", "onnx-int8-dynamic", "onnx-int8-static"', '"onnx-fp16"')
    text = text.replace('calibration = "cal.npz"\n', "").replace("max_latency_p99_ms = 1000.0",
                                                                   "max_latency_p99_ms = 0.000001")
    p = _write(tmp_path, text)
    code = main(["build", str(p), "--out", str(tmp_path / "o"), "--json"])
    assert code == 1
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["verdict"] == "rejected" and report["schema_version"] == 1
    assert "max_latency_p99_ms" in captured.err and "REJECTED" in captured.err
