"""Builders of the corpus's inputs: a tiny valid project (model, data, config) and ways to break it.

Everything is made in the test's own folder: small ONNX graphs written with ``onnx.helper``,
datasets written with ``numpy`` directly (not through edgekit's writer, so a malformed file is
exactly what the test says it is), and a config rendered from a table of TOML literals.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

__all__ = [
    "BASE_CONFIG",
    "LABELS",
    "build_argv",
    "npz_bytes",
    "render_config",
    "tiny_model",
    "valid_arrays",
    "write_npz",
    "write_project",
]

LABELS = ("a", "b", "c", "d")
OOD = "z"
LENGTH = 64


def tiny_model(
    path: Path,
    *,
    input_name: str = "x",
    output_name: str = "logits",
    input_dims: list[int | str] | None = None,
    classes: int = len(LABELS),
    output_type: int = TensorProto.FLOAT,
) -> Path:
    """x (batch, 2, L) -> mean over time -> linear -> scores (batch, classes), optionally cast."""
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.normal(0, 1, (2, classes)).astype(np.float32), "w")
    b = numpy_helper.from_array(np.zeros(classes, np.float32), "b")
    scores = "scores_f" if output_type != TensorProto.FLOAT else output_name
    nodes = [
        helper.make_node("ReduceMean", [input_name], ["m"], axes=[2], keepdims=0, name="mean"),
        helper.make_node("MatMul", ["m", "w"], ["mm"], name="mm"),
        helper.make_node("Add", ["mm", "b"], [scores], name="add"),
    ]
    if output_type != TensorProto.FLOAT:
        nodes.append(helper.make_node("Cast", [scores], [output_name], to=output_type, name="cast"))
    dims = input_dims or ["batch", 2, LENGTH]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, dims)],
        [helper.make_tensor_value_info(output_name, output_type, [dims[0], classes])],
        [w, b],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def valid_arrays(n: int = 80, *, seed: int = 1, ood_rows: int = 8) -> dict[str, np.ndarray]:
    """A dataset as plain arrays: labels a-d plus the held-out class z in the last rows."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, len(LABELS), n)
    y[n - ood_rows :] = len(LABELS)  # index of OOD in the labels below
    return {
        "x": rng.normal(0, 1, (n, 2, LENGTH)).astype(np.float32),
        "y": y.astype(np.int64),
        "labels": np.array([*LABELS, OOD]),
        "meta_snr_db": rng.uniform(-10, 20, n),
        "meta_kind": np.array(["p", "q"] * (n // 2)),
    }


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An ``.npz`` written by numpy itself, without pickles."""
    buf = io.BytesIO()
    np.savez(buf, allow_pickle=False, **arrays)
    return buf.getvalue()


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    path.write_bytes(npz_bytes(arrays))
    return path


def raw_npz(path: Path, members: dict[str, bytes]) -> Path:
    """A zip holding exactly ``members`` (name -> bytes), however malformed."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


BASE_CONFIG: dict[str, dict[str, str]] = {
    "": {"variants": '["onnx-fp32"]'},
    "model": {"path": '"model.onnx"', "name": '"tiny"', "labels": '["a", "b", "c", "d"]'},
    "data": {
        "evaluation": '"eval.npz"',
        "calibration": '"eval.npz"',
        "ood_classes": '["z"]',
    },
    "slices": {
        "columns": '["snr_db", "kind"]',
        "bins": "{ snr_db = [-10.0, 0.0, 10.0, 20.0] }",
        "min_size": "5",
    },
    "profile": {"runs": "5", "warmup": "1"},
}


def render_config(sets: dict[str, str | None] | None = None) -> str:
    """The base config with ``{"section.key": literal}`` set (``None`` deletes the key)."""
    table = {sec: dict(keys) for sec, keys in BASE_CONFIG.items()}
    for dotted, literal in (sets or {}).items():
        sec, _, key = dotted.rpartition(".")
        keys = table.setdefault(sec, {})
        if literal is None:
            keys.pop(key, None)
        else:
            keys[key] = literal
    lines = [f"{k} = {v}" for k, v in table.pop("").items()]
    for sec, keys in table.items():
        if keys:
            lines.append(f"[{sec}]")
            lines.extend(f"{k} = {v}" for k, v in keys.items())
    return "\n".join(lines) + "\n"


def write_project(d: Path, sets: dict[str, str | None] | None = None) -> Path:
    """``d`` holds model.onnx, eval.npz and edgekit.toml (base, with ``sets``); returns the config."""
    d.mkdir(parents=True, exist_ok=True)
    tiny_model(d / "model.onnx")
    write_npz(d / "eval.npz", valid_arrays())
    cfg = d / "edgekit.toml"
    cfg.write_text(render_config(sets))
    return cfg


def build_argv(d: Path, *extra: str) -> list[str]:
    """``edgekit build`` on the project in ``d``, writing into ``d/out/b``."""
    return ["build", str(d / "edgekit.toml"), "--out", str(d / "out" / "b"), *extra]
