"""Artifact hygiene: training-environment text and memorised member rows are found, stripped
only when the outputs stay the same, and kept (and reported) otherwise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from edgekit.privacy.hygiene import clean_onnx, scan_onnx, strip_onnx_file

HOME_DOC = "trained by /home/alice/train.py"  # 31 characters


def _model(
    path: Path, protos: np.ndarray, *, doc: str = "", meta: dict[str, str] | None = None,
    unused: np.ndarray | None = None,
) -> Path:
    """A nearest-prototype classifier, logits = x @ protos_t (the prototypes are stored rows,
    transposed), optionally with an initializer no node reads."""
    inits = [numpy_helper.from_array(protos.T.astype(np.float32).copy(), "protos_t")]
    if unused is not None:
        inits.append(numpy_helper.from_array(unused.astype(np.float32), "leftover"))
    node = helper.make_node("MatMul", ["x", "protos_t"], ["logits"], name="mm", doc_string=doc)
    graph = helper.make_graph(
        [node], "nn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", protos.shape[1]])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", len(protos)])],
        inits,
        doc_string=doc,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], doc_string=doc)
    model.ir_version = 8
    for k, v in (meta or {}).items():
        model.metadata_props.add(key=k, value=v)
    onnx.save(model, str(path))
    return path


def _run(path: Path, x: np.ndarray) -> np.ndarray:
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return np.asarray(sess.run(None, {"x": x})[0])


def _same(a: Path, b: Path) -> bool:
    x = np.random.default_rng(5).standard_normal((32, 16)).astype(np.float32)
    return bool(np.array_equal(_run(a, x), _run(b, x)))


def _texts(model: onnx.ModelProto) -> list[str]:
    """Every doc string in the file, gathered here with onnx's own traversal (not edgekit's)."""
    found = [model.doc_string, model.graph.doc_string]
    found += [n.doc_string for n in model.graph.node]
    return [t for t in found if t]


def test_clean_model_reports_nothing(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    members = rng.standard_normal((20, 16)).astype(np.float32)
    other = rng.standard_normal((4, 16)).astype(np.float32)
    assert scan_onnx(_model(tmp_path / "m.onnx", other), members) == []


def test_memorised_rows_and_environment_text_are_reported(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    members = rng.standard_normal((20, 16)).astype(np.float32)
    protos = members[[3, 7, 11]]
    path = _model(tmp_path / "m.onnx", protos, doc=HOME_DOC, meta={"user": "alice"})
    found = scan_onnx(path, members)
    assert "doc_string of the model (31 characters, names a path or a user)" in found
    assert "doc_string on 1 node entry (first: mm) (31 characters, names a path or a user)" in found
    assert "metadata property 'user' (5 characters)" in found
    # stored transposed (16 x 3): no row of that view is a member row, so nothing is claimed
    assert not any("initializer" in f for f in found)
    m = onnx.load(str(path))
    m.graph.initializer[0].CopyFrom(numpy_helper.from_array(protos, "protos_t"))
    onnx.save(m, str(path))
    assert "initializer 'protos_t' holds 3 member row(s) (memorised inputs)" in scan_onnx(path, members)


def test_strip_removes_environment_text_and_an_unused_member_row(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    members = rng.standard_normal((20, 16)).astype(np.float32)
    protos = rng.standard_normal((3, 16)).astype(np.float32)
    path = _model(tmp_path / "m.onnx", protos, doc=HOME_DOC,
                  meta={"user": "alice", "source": "/home/alice/data"}, unused=members[4])
    x = rng.standard_normal((8, 16)).astype(np.float32)
    before = _run(path, x)
    c = strip_onnx_file(path, members, _same)
    after = onnx.load(str(path))
    assert _texts(after) == [] and len(after.metadata_props) == 0
    assert [i.name for i in after.graph.initializer] == ["protos_t"]
    np.testing.assert_array_equal(_run(path, x), before)
    assert "initializer 'leftover' holds 1 member row(s) (memorised inputs); unused by the graph" in c.removed
    assert "metadata property 'source' (16 characters, names a path or a user)" in c.removed
    assert len(c.removed) == 6 and c.kept == []  # model, graph, node doc, 2 properties, initializer
    # nothing left to strip the second time
    again = strip_onnx_file(path, members, _same)
    assert again.removed == [] and again.model is None


def test_an_initializer_the_graph_reads_is_kept_and_reported(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    members = rng.standard_normal((20, 16)).astype(np.float32)
    path = _model(tmp_path / "m.onnx", members[[1, 2]])
    m = onnx.load(str(path))
    m.graph.initializer[0].CopyFrom(numpy_helper.from_array(members[[1, 2]], "p"))
    # keep the computation readable: store rows and transpose in the graph
    m.graph.node.insert(0, helper.make_node("Transpose", ["p"], ["protos_t"], perm=[1, 0]))
    onnx.save(m, str(path))
    raw = path.read_bytes()
    c = strip_onnx_file(path, members, _same)
    assert c.removed == []
    assert c.kept == ["initializer 'p' holds 2 member row(s) (memorised inputs): kept, the graph reads it"]
    assert path.read_bytes() == raw  # nothing to strip: the file is not rewritten


def test_keep_metadata_keeps_the_text(tmp_path: Path) -> None:
    path = _model(tmp_path / "m.onnx", np.eye(3, 16, dtype=np.float32), doc=HOME_DOC, meta={"k": "v"})
    raw = path.read_bytes()
    c = strip_onnx_file(path, None, _same, keep_metadata=True)
    assert c.removed == [] and path.read_bytes() == raw
    assert "metadata property 'k' (1 characters): kept ([privacy] keep_metadata)" in c.kept


def test_a_failed_output_check_keeps_the_file_as_built(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    members = rng.standard_normal((20, 16)).astype(np.float32)
    path = _model(tmp_path / "m.onnx", np.eye(3, 16, dtype=np.float32), doc=HOME_DOC, unused=members[0])
    raw = path.read_bytes()
    c = strip_onnx_file(path, members, lambda a, b: False)
    assert c.removed == [] and path.read_bytes() == raw
    assert c.kept[-1] == "stripping changed the outputs: file kept as built"
    assert any("'leftover'" in k and "removing it changed the outputs" in k for k in c.kept)
    assert not list(tmp_path.glob(".stripped-*"))  # the trial file is gone


def test_clean_works_on_a_copy() -> None:
    m = helper.make_model(helper.make_graph([], "g", [], []), doc_string=HOME_DOC)
    c = clean_onnx(m)
    assert m.doc_string == HOME_DOC and c.model is not None and c.model.doc_string == ""


def test_path_like_producer_and_graph_name_are_replaced(tmp_path: Path) -> None:
    path = _model(tmp_path / "m.onnx", np.eye(3, 16, dtype=np.float32))
    m = onnx.load(str(path))
    m.producer_name, m.producer_version, m.graph.name = "pytorch", "2.13.0", "C:\\Users\\bob\\net"
    m.domain = "bob@example.org"
    onnx.save(m, str(path))
    c = strip_onnx_file(path, None, _same)
    after = onnx.load(str(path))
    onnx.checker.check_model(after)
    assert (after.producer_name, after.producer_version) == ("pytorch", "2.13.0")  # a tool, kept
    assert after.domain == "" and "bob" not in after.graph.name
    assert c.removed == ["domain (15 characters, names a path or a user)",
                         "graph name (16 characters, names a path or a user)"]
