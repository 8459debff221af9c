"""Tiny ONNX models and realistic inputs, built in code, for testing backends and conversion.

Public so users (and other edgekit suites) can check a runtime or the converter on a machine
without shipping model files: each builder writes a seeded model with ``onnx.helper`` and returns
its path. The models are deliberately small but shaped like the real ones: a 1D CNN over
(N, 2, 1024) IQ captures, an NCHW image CNN, and a two-output model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

__all__ = [
    "OPSET",
    "make_cnn1d",
    "make_image_cnn",
    "make_two_output",
    "realistic_images",
    "realistic_iq",
]

OPSET = 13
"""Opset and IR version are kept old enough for every onnxruntime/onnx2tf edgekit supports."""
_IR_VERSION = 8


def _init(name: str, arr: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(np.ascontiguousarray(arr, dtype=np.float32), name)


def _save(graph: onnx.GraphProto, path: Path) -> Path:
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="edgekit.backends.testing",
    )
    model.ir_version = _IR_VERSION
    onnx.checker.check_model(model)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def make_cnn1d(
    path: Path,
    *,
    channels: int = 8,
    classes: int = 10,
    length: int = 1024,
    batch: int | str = "N",
    seed: int = 0,
) -> Path:
    """(N, 2, length) -> Conv1d(k=7, stride 2) -> Relu -> GlobalAveragePool -> Flatten -> Gemm.

    Input ``x`` and output ``logits`` (N, classes); the batch dimension is dynamic (``N``) unless
    ``batch`` fixes it (e.g. 1, as some exporters do).
    """
    rng = np.random.default_rng(seed)
    w1 = rng.normal(0.0, 0.4, (channels, 2, 7))
    b1 = rng.normal(0.0, 0.1, (channels,))
    w2 = rng.normal(0.0, 3.0, (classes, channels))
    w2 -= w2.mean(axis=1, keepdims=True)  # zero-sum rows: decisions follow the spectrum shape
    b2 = np.zeros(classes)
    nodes = [
        helper.make_node(
            "Conv", ["x", "w1", "b1"], ["c1"], kernel_shape=[7], pads=[3, 3], strides=[2]
        ),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("GlobalAveragePool", ["r1"], ["g1"]),
        helper.make_node("Flatten", ["g1"], ["f1"], axis=1),
        helper.make_node("Gemm", ["f1", "w2", "b2"], ["logits"], transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "cnn1d",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 2, length])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, classes])],
        [_init("w1", w1), _init("b1", b1), _init("w2", w2), _init("b2", b2)],
    )
    return _save(graph, path)


def make_image_cnn(path: Path, *, size: int = 32, classes: int = 5, seed: int = 1) -> Path:
    """NCHW (N, 3, size, size) -> Conv3x3 -> Relu -> MaxPool2 -> Conv3x3 -> Relu -> GAP -> Gemm."""
    rng = np.random.default_rng(seed)
    w3 = rng.normal(0.0, 3.0, (classes, 32))
    inits = [
        _init("w1", rng.normal(0.0, 0.3, (16, 3, 3, 3))),
        _init("b1", rng.normal(0.0, 0.1, (16,))),
        _init("w2", rng.normal(0.0, 0.15, (32, 16, 3, 3))),
        _init("b2", rng.normal(0.0, 0.1, (32,))),
        _init("w3", w3 - w3.mean(axis=1, keepdims=True)),  # zero-sum rows: spread decisions
        _init("b3", np.zeros(classes)),
    ]
    nodes = [
        helper.make_node("Conv", ["image", "w1", "b1"], ["c1"], kernel_shape=[3, 3], pads=[1] * 4),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"], kernel_shape=[3, 3], pads=[1] * 4),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("GlobalAveragePool", ["r2"], ["g2"]),
        helper.make_node("Flatten", ["g2"], ["f2"], axis=1),
        helper.make_node("Gemm", ["f2", "w3", "b3"], ["scores"], transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "image_cnn",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, size, size])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", classes])],
        inits,
    )
    return _save(graph, path)


def make_two_output(path: Path, *, features: int = 4, seed: int = 2) -> Path:
    """(N, features) -> ``logits`` = Gemm (N, 3) and ``energy`` = Relu(Gemm) (N, 2)."""
    rng = np.random.default_rng(seed)
    inits = [
        _init("wa", rng.normal(0.0, 1.0, (3, features))),
        _init("ba", rng.normal(0.0, 0.1, (3,))),
        _init("wb", rng.normal(0.0, 1.0, (2, features))),
        _init("bb", rng.normal(0.0, 0.1, (2,))),
    ]
    nodes = [
        helper.make_node("Gemm", ["v", "wa", "ba"], ["logits"], transB=1),
        helper.make_node("Gemm", ["v", "wb", "bb"], ["pre"], transB=1),
        helper.make_node("Relu", ["pre"], ["energy"]),
    ]
    graph = helper.make_graph(
        nodes,
        "two_output",
        [helper.make_tensor_value_info("v", TensorProto.FLOAT, ["N", features])],
        [
            helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 3]),
            helper.make_tensor_value_info("energy", TensorProto.FLOAT, ["N", 2]),
        ],
        inits,
    )
    return _save(graph, path)


def realistic_iq(n: int, *, length: int = 1024, seed: int = 0) -> np.ndarray:
    """(n, 2, length) float32 I/Q captures: a tone or a QPSK burst at a random offset and SNR.

    Not random noise: the signal content differs between captures the way real scans do, so a
    classifier's decisions are spread over its classes and argmax agreement means something.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    out = np.empty((n, 2, length), dtype=np.float32)
    for i in range(n):
        freq = rng.uniform(-0.45, 0.45)
        amp = rng.uniform(0.3, 1.5)
        if rng.random() < 0.5:
            sig = amp * np.exp(1j * (2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi)))
        else:
            symbols = rng.integers(0, 4, length // 8 + 1)
            phase = np.repeat(np.pi / 4 + symbols * np.pi / 2, 8)[:length]
            sig = amp * np.exp(1j * (phase + 2 * np.pi * freq * t))
        snr_db = rng.uniform(0.0, 25.0)
        noise_std = amp / np.sqrt(2.0 * 10 ** (snr_db / 10))
        sig = sig + noise_std * (rng.standard_normal(length) + 1j * rng.standard_normal(length))
        out[i, 0] = sig.real
        out[i, 1] = sig.imag
    return out


def realistic_images(n: int, *, size: int = 32, seed: int = 0) -> np.ndarray:
    """(n, 3, size, size) float32 images in [0, 1]: smooth gradients, blobs and stripes."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    out = np.empty((n, 3, size, size), dtype=np.float32)
    for i in range(n):
        for c in range(3):
            cx, cy, r = rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8), rng.uniform(0.05, 0.3)
            blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))
            stripes = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(1, 6) * (xx + rng.uniform() * yy))
            grad = rng.uniform() * xx + rng.uniform() * yy
            mix = rng.dirichlet([1.0, 1.0, 1.0])
            img = mix[0] * blob + mix[1] * stripes + mix[2] * grad / 2
            out[i, c] = np.clip(img + rng.normal(0, 0.02, img.shape), 0.0, 1.0)
    return out
