"""The penultimate activations of a classifier, found in its ONNX graph and exposed as an extra
graph output, so every variant built from the prepared model (quantised, converted to TFLite)
carries the features the feature-space OOD scores read.

Found automatically as the activation input of the last ``Gemm`` or ``MatMul`` on the way back
from the score output (through ``Add``, ``Softmax``, ``Reshape`` and the like), or named by the
config (``ood.features``).
"""

from __future__ import annotations

from collections import deque

import onnx

from edgekit.errors import ModelError

__all__ = ["expose_features", "find_penultimate"]

_LINEAR = ("Gemm", "MatMul")


def find_penultimate(model: onnx.ModelProto, score_output: str) -> str | None:
    """The tensor feeding the linear layer nearest to ``score_output``; None when no
    ``Gemm``/``MatMul`` lies on its path (a convolutional head, a tree ensemble) or it reads the
    graph input itself (a linear model)."""
    g = model.graph
    constants = {i.name for i in g.initializer}
    constants |= {o for n in g.node if n.op_type == "Constant" for o in n.output}
    producer = {o: n for n in g.node for o in n.output}
    seen: set[int] = set()
    queue = deque([score_output])
    while queue:  # breadth first: the linear layer closest to the output wins
        name = queue.popleft()
        node = producer.get(name)
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if node.op_type in _LINEAR:
            acts = [i for i in node.input[:2] if i and not _is_constant(producer, constants, i)]
            if acts:
                # a linear model on its input has no hidden features: nothing to expose
                return acts[0] if acts[0] in producer else None
            continue
        queue.extend(i for i in node.input if i and i not in constants)
    return None


def _is_constant(producer: dict[str, onnx.NodeProto], constants: set[str], name: str) -> bool:
    """Whether ``name`` is computed from constants only (a weight transposed, cast or
    dequantised in the graph): such an input is a weight, not the activation."""
    stack, seen = [name], set()
    while stack:
        t = stack.pop()
        if t in seen or t in constants:
            continue
        seen.add(t)
        node = producer.get(t)
        if node is None:  # a graph input: data flows in
            return False
        stack.extend(i for i in node.input if i)
    return True


def expose_features(model: onnx.ModelProto, tensor: str) -> onnx.ModelProto:
    """``model`` with ``tensor`` appended as its last graph output (in place; returned)."""
    g = model.graph
    if any(o.name == tensor for o in g.output):
        return model
    known = {i.name for i in g.input} | {o for n in g.node for o in n.output}
    if tensor not in known:
        raise ModelError(
            f"ood.features names {tensor!r}, which no node of the model produces; "
            "name an intermediate tensor (see `edgekit inspect`), or leave it empty to find the "
            "input of the last Gemm/MatMul"
        )
    # The checker wants a typed, shaped output: take what shape inference says about the tensor.
    inferred = onnx.shape_inference.infer_shapes(model)
    vi = next((v for v in inferred.graph.value_info if v.name == tensor), None)
    if vi is None or not vi.type.tensor_type.HasField("shape"):
        raise ModelError(
            f"the shape of {tensor!r} cannot be inferred, so it cannot be exposed as an output; "
            "name another tensor in ood.features"
        )
    out = onnx.ValueInfoProto()
    out.CopyFrom(vi)
    if out.type.tensor_type.shape.dim:  # the batch axis stays whatever the input declares
        out.type.tensor_type.shape.dim[0].Clear()
        out.type.tensor_type.shape.dim[0].dim_param = "batch"
    g.output.append(out)
    return model
