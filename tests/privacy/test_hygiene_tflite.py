"""TFLite hygiene: a description and a metadata entry naming a person are stripped with the
outputs unchanged; the converter's own entries and tensors the graph reads stay."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

fu = pytest.importorskip("ai_edge_litert.tools.flatbuffer_utils")
schema = pytest.importorskip("ai_edge_litert.schema_py_generated")
litert = pytest.importorskip("ai_edge_litert.interpreter")

from edgekit.privacy.hygiene_tflite import strip_tflite_file  # noqa: E402

F = 8


def _tensor(name: str, buffer: int) -> object:
    t = schema.TensorT()
    t.name, t.shape, t.type, t.buffer = name.encode(), [1, F], schema.TensorType.FLOAT32, buffer
    return t


def _buffer(data: bytes | None = None) -> object:
    b = schema.BufferT()
    b.data = list(data) if data is not None else None
    return b


def _model(path: Path, const: np.ndarray, description: str, meta: dict[str, bytes]) -> Path:
    """y = x + const (one ADD), with a description and metadata entries."""
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.ADD
    code.version = 1
    op = schema.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [0, 1], [2]
    op.builtinOptionsType, op.builtinOptions = schema.BuiltinOptions.AddOptions, schema.AddOptionsT()
    sg = schema.SubGraphT()
    sg.tensors = [_tensor("x", 1), _tensor("center", 2), _tensor("y", 3)]
    sg.inputs, sg.outputs, sg.operators = [0], [2], [op]
    m = schema.ModelT()
    m.version, m.operatorCodes, m.subgraphs = 3, [code], [sg]
    m.description = description.encode()
    m.buffers = [_buffer(), _buffer(), _buffer(const.astype("<f4").tobytes()), _buffer()]
    m.metadata = []
    for k, v in meta.items():
        entry = schema.MetadataT()
        entry.name, entry.buffer = k.encode(), len(m.buffers)
        m.buffers.append(_buffer(v))
        m.metadata.append(entry)
    path.write_bytes(bytes(fu.convert_object_to_bytearray(m)))
    return path


def _run(path: Path, x: np.ndarray) -> np.ndarray:
    it = litert.Interpreter(model_path=str(path))
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    return np.asarray(it.get_tensor(it.get_output_details()[0]["index"]))


def _same(a: Path, b: Path) -> bool:
    x = np.random.default_rng(0).standard_normal((1, F)).astype(np.float32)
    return bool(np.array_equal(_run(a, x), _run(b, x)))


def test_environment_text_is_stripped_and_the_rest_kept(tmp_path: Path) -> None:
    members = np.random.default_rng(1).standard_normal((10, F)).astype(np.float32)
    path = _model(tmp_path / "m.tflite", members[2], "exported by /home/alice/train.py",
                  {"min_runtime_version": b"1.10.0\0", "author": b"alice@example.org"})
    x = np.ones((1, F), np.float32)
    before = _run(path, x)
    c = strip_tflite_file(path, members, _same)
    assert c.removed == ["description (32 characters, names a path or a user)",
                         "metadata entry 'author' (names a path or a user)"]
    assert c.kept == ["tensor 'center' holds 1 member row(s) (memorised inputs): kept, the graph reads it"]
    raw = path.read_bytes()
    assert b"alice" not in raw and b"min_runtime_version" in raw
    np.testing.assert_array_equal(_run(path, x), before)
    np.testing.assert_array_equal(before, x + members[2])


def test_keep_metadata_and_a_failed_check_leave_the_file(tmp_path: Path) -> None:
    path = _model(tmp_path / "m.tflite", np.zeros(F), "by /home/bob", {})
    raw = path.read_bytes()
    kept = strip_tflite_file(path, None, _same, keep_metadata=True)
    assert kept.removed == [] and path.read_bytes() == raw
    assert kept.kept == [
        "description (12 characters, names a path or a user): kept ([privacy] keep_metadata)"
    ]
    failed = strip_tflite_file(path, None, lambda a, b: False)
    assert failed.removed == [] and path.read_bytes() == raw
    assert not list(tmp_path.glob(".stripped-*"))


def test_converter_text_alone_is_left_alone(tmp_path: Path) -> None:
    path = _model(tmp_path / "m.tflite", np.zeros(F), "MLIR Converted.", {"min_runtime_version": b"1.10.0"})
    raw = path.read_bytes()
    c = strip_tflite_file(path, None, _same)
    assert c.removed == [] and c.kept == [] and path.read_bytes() == raw
