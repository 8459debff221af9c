"""The build strips training-environment text and an unused memorised member row from the
shipped files before hashing, keeps the outputs, and lists per file what it removed."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgekit.builder.pipeline import run_build
from edgekit.builder.stages.context import BuildOptions
from edgekit.bundle import verify_bundle
from edgekit.config import load_config

F = 12
HOME = "/home/alice/projects/rf/train.py"


def _write(tmp: Path, privacy: str) -> tuple[Path, np.ndarray]:
    rng = np.random.default_rng(7)
    xm = rng.standard_normal((200, F)).astype(np.float32)
    ym = (xm[:, 0] > 0).astype(np.int64)
    xn = rng.standard_normal((200, F)).astype(np.float32)
    yn = (xn[:, 0] > 0).astype(np.int64)
    w = rng.standard_normal((F, 2)).astype(np.float32)
    w[0] = [-2.0, 2.0]
    graph = helper.make_graph(
        [
            helper.make_node("Sub", ["x", "center"], ["xc"], name="center"),
            helper.make_node("MatMul", ["xc", "w"], ["logits"], name="fc", doc_string=f"from {HOME}"),
        ],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", F])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 2])],
        # "debug_row": a member capture left in the file by the training script, read by nothing;
        # "center": a member capture the graph subtracts (memorised, and needed)
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(xm[17], "debug_row"),
         numpy_helper.from_array(xm[3], "center")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], doc_string=HOME)
    model.ir_version = 8
    model.metadata_props.add(key="trained_by", value="alice@example.org")
    onnx.save(model, str(tmp / "model.onnx"))
    labels = np.array(["neg", "pos"])
    np.savez(tmp / "members.npz", x=xm, y=ym, labels=labels)
    np.savez(tmp / "non_members.npz", x=xn, y=yn, labels=labels)
    (tmp / "edgekit.toml").write_text(
        'schema = 1\nvariants = ["onnx-fp32", "onnx-int8-dynamic"]\n'
        '[model]\npath = "model.onnx"\nname = "lin"\n'
        '[data]\ncalibration = "members.npz"\nevaluation = "non_members.npz"\n'
        "calibration_size = 32\n[profile]\nruns = 5\nwarmup = 1\n"
        "[quant]\naccuracy_aware = false\n" + privacy
    )
    return tmp / "edgekit.toml", xn


def _run(path: Path, x: np.ndarray) -> np.ndarray:
    return np.asarray(ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
                      .run(None, {"x": x})[0])


@pytest.mark.parametrize("with_members", [True, False])
def test_build_strips_before_hashing(tmp_path: Path, with_members: bool) -> None:
    privacy = ('[privacy]\nmembers = "members.npz"\nnon_members = "non_members.npz"\nbootstrap = 10\n'
               if with_members else "")
    cfg_path, xn = _write(tmp_path, privacy)
    result = run_build(load_config(cfg_path), BuildOptions(out_dir=tmp_path / "out", log=lambda _m: None))
    bundle = tmp_path / "out" / "bundle"
    assert verify_bundle(bundle) == []
    manifest = json.loads((bundle / "manifest.json").read_text())
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    for v in report["variants"]:
        f = bundle / f"variants/{Path(v['path']).name}"
        shipped = onnx.load(str(f))
        assert shipped.doc_string == "" and all(n.doc_string == "" for n in shipped.graph.node)
        assert len(shipped.metadata_props) == 0
        # the manifest hashes the stripped file (hashlib here, not edgekit's helper)
        assert manifest["files"][f"variants/{f.name}"] == hashlib.sha256(f.read_bytes()).hexdigest()
        removed = v["privacy"]["removed"]
        assert "doc_string of the model (32 characters, names a path or a user)" in removed
        assert "metadata property 'trained_by' (17 characters, names a path or a user)" in removed
        inits = {i.name: numpy_helper.to_array(i) for i in shipped.graph.initializer}
        # the unused row never reaches a shipped file (the fp32 preparation drops unused tensors)
        assert "debug_row" not in inits
        kept = v["privacy"]["hygiene"]
        if with_members and v["name"] == "onnx-fp32":
            assert np.array_equal(inits["center"], np.load(tmp_path / "members.npz")["x"][3])
            assert kept == ["initializer 'center' holds 1 member row(s) (memorised inputs): "
                            "kept, the graph reads it"]
            assert any("center" in w for w in result.warnings)
        elif not with_members:  # without member data nothing says a tensor is a member row
            assert kept == []
    fp32 = bundle / "variants" / "onnx-fp32.onnx"
    np.testing.assert_array_equal(_run(fp32, xn), _run(tmp_path / "model.onnx", xn))
    md = (tmp_path / "out" / "report.md").read_text().replace("\\", "")
    assert "onnx-fp32 (variants/onnx-fp32.onnx): removed metadata property 'trained_by'" in md
    assert "alice" not in md  # the report names what was removed, never its text
    assert result.verdict == "pass"
