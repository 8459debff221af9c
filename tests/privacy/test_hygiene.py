"""The hygiene scan finds training-environment text and memorised member rows in an ONNX file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from edgekit.privacy.hygiene import scan_onnx


def _nn_model(path: Path, protos: np.ndarray, *, doc: str = "", meta: dict[str, str] | None = None) -> Path:
    """A nearest-prototype classifier: logits = x @ protos.T (the prototypes are stored rows)."""
    w = numpy_helper.from_array(protos.T.astype(np.float32).copy(), "protos_t")
    node = helper.make_node("MatMul", ["x", "protos_t"], ["logits"], name="mm", doc_string=doc)
    graph = helper.make_graph(
        [node], "nn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", protos.shape[1]])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", len(protos)])],
        [w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], doc_string=doc)
    for k, v in (meta or {}).items():
        model.metadata_props.add(key=k, value=v)
    onnx.save(model, str(path))
    return path


def test_clean_model_reports_nothing(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    members = rng.standard_normal((20, 16)).astype(np.float32)
    other = rng.standard_normal((4, 16)).astype(np.float32)
    assert scan_onnx(_nn_model(tmp_path / "m.onnx", other), members) == []


def test_memorised_rows_and_environment_text_are_reported(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    members = rng.standard_normal((20, 16)).astype(np.float32)
    protos = members[[3, 7, 11]]
    path = tmp_path / "m.onnx"
    # stored as protos (rows), not transposed: write the initializer directly
    _nn_model(path, protos, doc="trained by /home/alice/train.py", meta={"user": "alice"})
    m = onnx.load(str(path))
    m.graph.initializer[0].CopyFrom(numpy_helper.from_array(protos, "protos_t"))
    onnx.save(m, str(path))
    found = scan_onnx(path, members)
    assert "model doc_string (31 characters)" in found
    assert "doc_string on 1 nodes (first: mm)" in found
    assert "metadata property 'user' (5 characters)" in found
    assert "initializer 'protos_t' holds 3 member row(s) (memorised inputs)" in found
