"""A zoo of third-party-shaped ONNX models, built with ``onnx.helper`` (no torch needed).

Each builder mirrors the graph a real exporter writes for a widely deployed architecture, small
enough (3 x 32 x 32 inputs, a few channels) that all seven variants build in seconds:

- ``mobilenet_v3_like``: torchvision MobileNetV3-Small as exported by ``torch.onnx`` at opset 17:
  dynamic batch, height and width; unfused BatchNormalization; HardSwish; a depthwise conv; a
  squeeze-excite block (GlobalAveragePool, 1x1 convs, HardSigmoid, Mul); Constant nodes feeding
  Reshape; softmax probabilities; node names with ``/``, ``@`` and ``:`` (``/features/0/Conv``,
  ``Softmax@0``, ``onnx::Conv_123``), as Paddle and TF exporters write them.
- ``resnet_like``: ResNet-18's stem and one basic block (Conv-BN-Relu, MaxPool, residual Add)
  at opset 11, dynamic H/W, and a 1x1-conv classifier head whose output is ``[N, C, 1, 1]``.
- ``fixed_batch_cnn``: a model exported with a fixed batch of 1 (``[1, 3, 32, 32]``).
- ``stateful_audio``: a two-input model (audio frames and a recurrent state) like a streaming
  keyword spotter; the state must be given in ``[model.inputs]``.
- ``segmentation``: a fully convolutional net whose output is ``[N, 1, H, W]`` (refused).

Weights are random (seeded); the labels written with the data are the fp32 model's own argmax,
so the reference accuracy is 1.0 and every variant's accuracy measures agreement with fp32.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

__all__ = ["ZOO", "ZooModel", "write_case"]

_rng = np.random.default_rng


class _G:
    """A tiny graph builder: nodes, initialisers and fresh tensor names."""

    def __init__(self, seed: int) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.rng = _rng(seed)
        self.n = 0

    def w(self, name: str, shape: tuple[int, ...], scale: float | None = None) -> str:
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]
        s = scale if scale is not None else (2.0 / max(fan_in, 1)) ** 0.5
        self.inits.append(
            numpy_helper.from_array((self.rng.standard_normal(shape) * s).astype(np.float32), name)
        )
        return name

    def const(self, name: str, value: np.ndarray) -> str:
        """A Constant node, as torch.onnx writes for shapes and scalars."""
        self.nodes.append(
            helper.make_node("Constant", [], [name], name=f"{name}_Constant",
                             value=numpy_helper.from_array(value, name + "_value"))
        )
        return name

    def node(self, op: str, inputs: list[str], out: str, name: str, **attrs: Any) -> str:
        self.nodes.append(helper.make_node(op, inputs, [out], name=name, **attrs))
        return out

    def conv_bn(self, x: str, cin: int, cout: int, prefix: str, *, k: int = 3, stride: int = 1,
                group: int = 1, act: str | None = "Relu") -> str:
        w = self.w(f"{prefix}.weight", (cout, cin // group, k, k))
        y = self.node("Conv", [x, w], f"{prefix}/Conv_output_0", f"{prefix}/Conv",
                      kernel_shape=[k, k], pads=[k // 2] * 4, strides=[stride, stride], group=group)
        scale = self.rng.uniform(0.5, 1.5, cout).astype(np.float32)
        bias = self.rng.uniform(-0.1, 0.1, cout).astype(np.float32)
        mean = self.rng.uniform(-0.1, 0.1, cout).astype(np.float32)
        var = self.rng.uniform(0.5, 1.5, cout).astype(np.float32)
        names = []
        for suffix, arr in (("bn.weight", scale), ("bn.bias", bias), ("bn.running_mean", mean),
                            ("bn.running_var", var)):
            self.inits.append(numpy_helper.from_array(arr, f"{prefix}.{suffix}"))
            names.append(f"{prefix}.{suffix}")
        y = self.node("BatchNormalization", [y, *names], f"{prefix}/BN_output_0",
                      f"{prefix}/BatchNormalization", epsilon=1e-5)
        if act:
            y = self.node(act, [y], f"{prefix}/{act}_output_0", f"{prefix}/{act}")
        return y


def _model(g: _G, inputs: list[onnx.ValueInfoProto], outputs: list[onnx.ValueInfoProto],
           opset: int, producer: str) -> onnx.ModelProto:
    graph = helper.make_graph(g.nodes, "main_graph", inputs, outputs, g.inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                          producer_name=producer)
    m.ir_version = 8 if opset >= 17 else 6
    onnx.checker.check_model(m)
    return m


def mobilenet_v3_like(classes: int = 5) -> onnx.ModelProto:
    """MobileNetV3-Small shaped: stem, depthwise + SE block, head; probabilities out."""
    g = _G(1)
    x = "input"
    y = g.conv_bn(x, 3, 16, "/features/0", stride=2, act="HardSwish")
    y = g.conv_bn(y, 16, 16, "/features/1/block/0", group=16, act="Relu")  # depthwise
    # squeeze-excite, as torchvision's SqueezeExcitation
    s = g.node("GlobalAveragePool", [y], "/features/1/block/1/avgpool/GlobalAveragePool_output_0",
               "/features/1/block/1/avgpool/GlobalAveragePool")
    w1 = g.w("onnx::Conv_123", (8, 16, 1, 1))
    s = g.node("Conv", [s, w1], "/features/1/block/1/fc1/Conv_output_0", "/features/1/block/1/fc1/Conv")
    s = g.node("Relu", [s], "/features/1/block/1/relu/Relu_output_0", "/features/1/block/1/relu/Relu")
    w2 = g.w("onnx::Conv_126", (16, 8, 1, 1))
    s = g.node("Conv", [s, w2], "/features/1/block/1/fc2/Conv_output_0", "/features/1/block/1/fc2/Conv")
    s = g.node("HardSigmoid", [s], "/features/1/block/1/scale_activation/HardSigmoid_output_0",
               "/features/1/block/1/scale_activation/HardSigmoid", alpha=1 / 6, beta=0.5)
    y = g.node("Mul", [s, y], "/features/1/block/1/Mul_output_0", "/features/1/block/1/Mul")
    y = g.conv_bn(y, 16, 48, "/features/2", k=1, act="HardSwish")
    y = g.conv_bn(y, 48, 64, "/features/3", stride=2, act="HardSwish")
    y = g.node("GlobalAveragePool", [y], "/avgpool/GlobalAveragePool_output_0", "/avgpool/GlobalAveragePool")
    shape = g.const("/Constant_output_0", np.array([-1, 64], dtype=np.int64))
    y = g.node("Reshape", [y, shape], "/Flatten_output_0", "/Reshape")
    fw, fb = g.w("classifier.3.weight", (classes, 64)), g.w("classifier.3.bias", (classes,), 0.1)
    y = g.node("Gemm", [y, fw, fb], "/classifier/classifier.3/Gemm_output_0",
               "/classifier/classifier.3/Gemm:0", transB=1)
    y = g.node("Softmax", [y], "probs", "Softmax@0", axis=1)
    inp = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, "height", "width"])
    out = helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", classes])
    return _model(g, [inp], [out], 17, "pytorch")


def resnet_like(classes: int = 4) -> onnx.ModelProto:
    """ResNet-18 shaped: stem, max-pool, one basic block with a residual Add, 1x1-conv head."""
    g = _G(2)
    y = g.conv_bn("x", 3, 32, "conv1", stride=2)
    y = g.node("MaxPool", [y], "maxpool_out", "maxpool", kernel_shape=[3, 3], pads=[1, 1, 1, 1],
               strides=[2, 2])
    b = g.conv_bn(y, 32, 32, "layer1.0.conv1")
    b = g.conv_bn(b, 32, 32, "layer1.0.conv2", act=None)
    y = g.node("Add", [b, y], "layer1.0.add_out", "layer1.0/Add")
    y = g.node("Relu", [y], "layer1.0.relu_out", "layer1.0/Relu")
    y = g.node("GlobalAveragePool", [y], "gap_out", "avgpool")
    hw, hb = g.w("fc.weight", (classes, 32, 1, 1)), g.w("fc.bias", (classes,), 0.1)
    y = g.node("Conv", [y, hw, hb], "logits", "fc/Conv", kernel_shape=[1, 1])
    inp = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "H", "W"])
    out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", classes, 1, 1])
    return _model(g, [inp], [out], 11, "pytorch")


def fixed_batch_cnn(classes: int = 3) -> onnx.ModelProto:
    """A small CNN exported with batch 1 fixed, softmax probabilities out."""
    g = _G(3)
    y = g.conv_bn("image", 3, 16, "stem", stride=2)
    y = g.conv_bn(y, 16, 48, "block", stride=2)
    y = g.conv_bn(y, 48, 48, "block2")
    y = g.node("GlobalAveragePool", [y], "pooled", "pool")
    y = g.node("Flatten", [y], "flat", "flatten")
    fw, fb = g.w("head.w", (classes, 48)), g.w("head.b", (classes,), 0.1)
    y = g.node("Gemm", [y, fw, fb], "head_out", "head", transB=1)
    y = g.node("Softmax", [y], "prob", "softmax", axis=1)
    inp = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 32, 32])
    out = helper.make_tensor_value_info("prob", TensorProto.FLOAT, [1, classes])
    return _model(g, [inp], [out], 13, "tf2onnx")


def stateful_audio(classes: int = 3) -> onnx.ModelProto:
    """A streaming audio classifier: frames ``[N, 1, 64]`` plus a state ``[1, 64]`` added in."""
    g = _G(4)
    w = g.w("conv.w", (32, 1, 5))
    y = g.node("Conv", ["frames", w], "conv_out", "conv", kernel_shape=[5], pads=[2, 2])
    y = g.node("Relu", [y], "relu_out", "relu")
    w2 = g.w("conv2.w", (64, 32, 5))
    y = g.node("Conv", [y, w2], "conv2_out", "conv2", kernel_shape=[5], pads=[2, 2])
    y = g.node("Relu", [y], "relu2_out", "relu2")
    y = g.node("GlobalAveragePool", [y], "gap_out", "gap")
    y = g.node("Flatten", [y], "flat", "flatten")
    y = g.node("Add", [y, "state"], "with_state", "add_state")
    fw, fb = g.w("fc.w", (classes, 64)), g.w("fc.b", (classes,), 0.1)
    y = g.node("Gemm", [y, fw, fb], "logits", "fc", transB=1)
    frames = helper.make_tensor_value_info("frames", TensorProto.FLOAT, ["N", 1, 64])
    state = helper.make_tensor_value_info("state", TensorProto.FLOAT, [1, 64])
    out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", classes])
    return _model(g, [frames, state], [out], 13, "pytorch")


def segmentation() -> onnx.ModelProto:
    """A fully convolutional segmenter: a mask ``[N, 1, H, W]``, not class scores."""
    g = _G(5)
    y = g.conv_bn("img", 3, 4, "enc")
    w = g.w("head.w", (1, 4, 1, 1))
    y = g.node("Conv", [y, w], "mask", "head", kernel_shape=[1, 1])
    inp = helper.make_tensor_value_info("img", TensorProto.FLOAT, ["N", 3, "H", "W"])
    out = helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["N", 1, "H", "W"])
    return _model(g, [inp], [out], 17, "pytorch")


class ZooModel:
    """A zoo entry: how to build it, its data's per-sample shape, and its config extras."""

    def __init__(self, build: Any, sample: tuple[int, ...], output: str, toml: str = "",
                 refused: str = "") -> None:
        self.build, self.sample, self.output, self.toml, self.refused = build, sample, output, toml, refused


ZOO: dict[str, ZooModel] = {
    "mobilenet_v3_like": ZooModel(mobilenet_v3_like, (3, 32, 32), "probabilities"),
    "resnet_like": ZooModel(resnet_like, (3, 32, 32), "logits"),
    "fixed_batch_cnn": ZooModel(fixed_batch_cnn, (3, 32, 32), "probabilities"),
    "stateful_audio": ZooModel(stateful_audio, (1, 64), "logits",
                               toml='[model.inputs]\nstate = "zeros"\n'),
    "segmentation": ZooModel(segmentation, (3, 32, 32), "logits",
                             refused="output 'mask' has shape [N, 1, H, W]"),
}


def _labels_from_reference(model_path: Path, x: np.ndarray, feeds: dict[str, np.ndarray]) -> np.ndarray:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    first = sess.get_inputs()[0]
    fixed = first.shape[0] if isinstance(first.shape[0], int) else None
    out = []
    step = fixed or len(x)
    for i in range(0, len(x), step):
        o = sess.run(None, {first.name: x[i : i + step], **feeds})[0]
        out.append(o.reshape(o.shape[0], -1))
    scores = np.concatenate(out)
    return scores.argmax(axis=1) if scores.shape[1] > 1 else np.zeros(len(x), dtype=np.int64)


def write_case(tmp: Path, name: str, *, n: int = 64, runs: int = 20,
               variants: list[str] | None = None) -> Path:
    """Write the zoo model ``name``, its ``data.npz`` and ``edgekit.toml`` under ``tmp``."""
    z = ZOO[name]
    model = z.build()
    mpath = tmp / f"{name}.onnx"
    onnx.save(model, str(mpath))
    rng = _rng(7)
    x = rng.standard_normal((n, *z.sample)).astype(np.float32)
    feeds = {}
    if len(model.graph.input) > 1:
        feeds = {"state": np.zeros((1, 64), dtype=np.float32)}
    if z.refused:
        y = np.zeros(n, dtype=np.int64)
        labels = np.array(["a", "b"])
    else:
        y = _labels_from_reference(mpath, x, feeds)
        classes = model.graph.output[0].type.tensor_type.shape.dim[1].dim_value
        labels = np.array([f"class_{i}" for i in range(classes)])
    np.savez(tmp / "data.npz", x=x, y=y, labels=labels, snr_db=rng.uniform(-5, 20, n))
    names = variants or [
        "onnx-fp32", "onnx-fp16", "onnx-int8-dynamic", "onnx-int8-static",
        "tflite-fp32", "tflite-fp16", "tflite-int8",
    ]
    toml = (
        "schema = 1\n"
        f"variants = {names!r}\n".replace("'", '"')
        + f'[model]\npath = "{mpath.name}"\nname = "{name}"\noutput = "{z.output}"\n'
        + (z.toml or "")
        + '[data]\ncalibration = "data.npz"\nevaluation = "data.npz"\ncalibration_size = 32\n'
        + f"[profile]\nruns = {runs}\nwarmup = 2\nmax_reruns = 0\n"  # CI: no re-timing under load
        + "[quant]\naccuracy_aware = false\n"
    )
    cfg = tmp / "edgekit.toml"
    cfg.write_text(toml)
    return cfg
