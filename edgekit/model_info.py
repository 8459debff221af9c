"""Facts about an ONNX model file: I/O, opsets, operators, parameters, and TFLite outlook.

Used by ``edgekit inspect`` and by the build's load stage. Reads the file with ``onnx`` and never
executes it.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from edgekit.errors import ModelError

__all__ = ["ModelInfo", "TensorInfo", "declared_input_bytes", "inspect_model", "load_onnx"]

# Operator domains TFLite cannot hold: classical-ML ops (tree ensembles, etc.) and training ops.
_NON_TFLITE_DOMAINS = {"ai.onnx.ml", "ai.onnx.training", "ai.onnx.preview.training"}
# Standard ops onnx2tf/TFLite cannot express or that signal a non-tensor program.
_NON_TFLITE_OPS = {
    "Loop",
    "If",
    "Scan",
    "SequenceConstruct",
    "SequenceAt",
    "SplitToSequence",
    "ConcatFromSequence",
    "StringNormalizer",
    "TfIdfVectorizer",
    "Unique",
    "NonMaxSuppression",
    "RoiAlign",
}


# Characters TensorFlow scope names cannot hold (the same rule as edgekit.builder.tf_names).
_TF_BAD = re.compile(r"[^A-Za-z0-9_.\\/>-]")


@dataclass(frozen=True)
class TensorInfo:
    """Name, shape (ints, or strings for symbolic/dynamic dims) and element type of a tensor."""

    name: str
    shape: list[int | str]
    dtype: str


@dataclass(frozen=True)
class ModelInfo:
    """What ``edgekit inspect`` reports about a model."""

    path: str
    file_size_bytes: int
    ir_version: int
    opsets: dict[str, int]
    producer: str
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]
    op_counts: dict[str, int]
    node_count: int
    parameter_count: int
    parameter_bytes: int
    tflite_convertible: bool
    tflite_reason: str
    is_tree_ensemble: bool
    tflite_caveats: list[str] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def load_onnx(path: str | Path) -> onnx.ModelProto:
    """Load and check an ONNX file; any problem is one :class:`ModelError` line."""
    p = Path(path)
    if p.is_dir():
        raise ModelError(f"{p}: is a folder, expected an ONNX model file")
    if not p.is_file():
        raise ModelError(f"{p}: no such model file")
    if p.stat().st_size == 0:
        raise ModelError(f"{p}: empty file, expected an ONNX model")
    try:
        model = onnx.load(str(p))
    except Exception as e:  # protobuf raises DecodeError, RuntimeError or ValueError
        raise ModelError(f"{p}: not a readable ONNX model ({type(e).__name__}: {e})") from e
    if not model.graph.node and not model.graph.output:
        raise ModelError(f"{p}: not an ONNX model (no graph found; truncated or another format?)")
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else "invalid"
        raise ModelError(f"{p}: ONNX model fails the checker: {first}") from e
    return model


def _tensor_info(vi: onnx.ValueInfoProto) -> TensorInfo:
    tt = vi.type.tensor_type
    dims: list[int | str] = []
    for d in tt.shape.dim:
        if d.HasField("dim_value"):
            dims.append(int(d.dim_value))
        else:
            dims.append(d.dim_param or "?")
    try:
        dtype = str(np.dtype(onnx.helper.tensor_dtype_to_np_dtype(tt.elem_type)))
    except (KeyError, TypeError, ValueError):
        dtype = onnx.TensorProto.DataType.Name(tt.elem_type) if tt.elem_type else "non-tensor"
    return TensorInfo(vi.name, dims, dtype)


def _tensor_size(t: onnx.TensorProto) -> tuple[int, int]:
    """Elements and bytes a tensor declares, from its dims: nothing is materialised, so a
    declared size the file does not hold cannot exhaust memory."""
    count = math.prod(int(d) for d in t.dims) if t.dims else 1
    try:
        itemsize = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(t.data_type)).itemsize
    except (KeyError, TypeError, ValueError):
        itemsize = 0
    return max(count, 0), max(count, 0) * itemsize


def _subgraphs(node: onnx.NodeProto) -> list[onnx.GraphProto]:
    """The bodies of ``If``/``Loop``/``Scan`` nodes (graph-valued attributes)."""
    out: list[onnx.GraphProto] = []
    for attr in node.attribute:
        if attr.type == onnx.AttributeProto.GRAPH:
            out.append(attr.g)
        elif attr.type == onnx.AttributeProto.GRAPHS:
            out.extend(attr.graphs)
    return out


def _count_params(graph: onnx.GraphProto) -> tuple[int, int]:
    """Elements and bytes of every weight, including those inside If/Loop/Scan bodies."""
    count = 0
    nbytes = 0
    for init in graph.initializer:
        c, b = _tensor_size(init)
        count += c
        nbytes += b
    for node in graph.node:
        if node.op_type.startswith("TreeEnsemble"):
            # A tree's learned numbers are its split thresholds and leaf weights.
            for attr in node.attribute:
                if attr.name in ("nodes_values", "class_weights", "target_weights"):
                    count += len(attr.floats)
                    nbytes += 4 * len(attr.floats)
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.TENSOR:
                    c, b = _tensor_size(attr.t)
                    count += c
                    nbytes += b
        for sub in _subgraphs(node):
            c, b = _count_params(sub)
            count += c
            nbytes += b
    return count, nbytes


def _tflite_caveats(graph: onnx.GraphProto, inputs: list[TensorInfo]) -> list[str]:
    """What the converter needs beyond supported operators, and what edgekit build does about it."""
    out: list[str] = []
    for t in inputs:
        dyn = [
            f"{d} (dim {i})"
            for i, d in enumerate(t.shape)
            if i > 0 and not (isinstance(d, int) and d > 0)
        ]
        if dyn:
            out.append(
                f"input {t.name!r} has dynamic {', '.join(dyn)}: TFLite needs them fixed "
                "(edgekit build fixes them from the data's shape, or model.input_shape)"
            )
    if len(inputs) > 1:
        out.append(
            f"{len(inputs)} inputs: edgekit feeds one; the others need values in [model.inputs]"
        )
    names = {n.name for n in graph.node} | {v for n in graph.node for v in (*n.input, *n.output)}
    renamed = sorted(n for n in names if n and _TF_BAD.search(n))
    if renamed:
        first = renamed[0]
        out.append(
            f"{len(renamed)} node or tensor names TensorFlow rejects (e.g. {first!r}); edgekit "
            "renames them for the converter"
        )
    return out


def declared_input_bytes(info: ModelInfo, input_name: str, *, batch: int) -> int | None:
    """Bytes of one float32 batch of ``batch`` rows shaped as ``input_name`` declares
    (symbolic dimensions count as 1); None when a dimension is negative."""
    spec = next(i for i in info.inputs if i.name == input_name)
    dims = [d if isinstance(d, int) else 1 for d in spec.shape[1:]]
    if any(d < 0 for d in dims):
        return None
    return batch * math.prod(dims) * 4


def inspect_model(path: str | Path) -> ModelInfo:
    """Read ``path`` and summarise it."""
    p = Path(path)
    model = load_onnx(p)
    graph = model.graph
    initializer_names = {i.name for i in graph.initializer}
    ops = Counter(
        (f"{n.domain}:{n.op_type}" if n.domain and n.domain != "ai.onnx" else n.op_type)
        for n in graph.node
    )
    domains = {n.domain for n in graph.node if n.domain}
    params, pbytes = _count_params(graph)
    is_tree = any(n.op_type.startswith("TreeEnsemble") for n in graph.node)
    bad_domains = sorted(domains & _NON_TFLITE_DOMAINS)
    bad_ops = sorted({n.op_type for n in graph.node} & _NON_TFLITE_OPS)
    if bad_domains:
        convertible, reason = (
            False,
            f"uses operators from {', '.join(bad_domains)}, which TFLite cannot hold",
        )
        if is_tree:
            reason = (
                "a tree ensemble (TreeEnsemble ops): TFLite cannot hold it; onnxruntime runs it"
            )
    elif bad_ops:
        convertible, reason = (
            False,
            f"uses {', '.join(bad_ops)}, which the ONNX->TFLite converter does not support",
        )
    else:
        convertible, reason = (
            True,
            "standard tensor operators only (judged from operator types; --try-convert runs "
            "the converter)",
        )
    inputs = [_tensor_info(i) for i in graph.input if i.name not in initializer_names]
    return ModelInfo(
        path=str(p),
        file_size_bytes=p.stat().st_size,
        ir_version=int(model.ir_version),
        opsets={(o.domain or "ai.onnx"): int(o.version) for o in model.opset_import},
        producer=f"{model.producer_name} {model.producer_version}".strip(),
        inputs=inputs,
        outputs=[_tensor_info(o) for o in graph.output],
        op_counts=dict(ops.most_common()),
        node_count=len(graph.node),
        parameter_count=params,
        parameter_bytes=pbytes,
        tflite_convertible=convertible,
        tflite_reason=reason,
        is_tree_ensemble=is_tree,
        tflite_caveats=_tflite_caveats(graph, inputs) if convertible else [],
        metadata={m.key: m.value for m in model.metadata_props},
    )
