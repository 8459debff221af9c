"""Artifact hygiene of a TFLite file: its description and metadata entries, and float tensors
holding member rows.

The converter's own entries (``min_runtime_version``, ``CONVERSION_METADATA``, "MLIR Converted.")
name no person or machine and are left alone. A description or metadata entry whose text names a
home folder, a user or an e-mail address is stripped unless ``[privacy] keep_metadata`` (the file
is re-serialised with ai-edge-litert's flatbuffer tools); the caller's output check decides, as
for ONNX. A float tensor holding member rows is reported and kept: every TFLite tensor with data
is an operand of the graph.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.privacy.hygiene import ENV_TEXT, Cleaning, member_rows_in

__all__ = ["strip_tflite_file"]

_FLOAT32 = 0  # TensorType.FLOAT32 in the TFLite schema


def _text(raw: Any) -> str:
    data = bytes(raw) if raw is not None else b""
    return data.decode("utf-8", "replace")


def _tools() -> Any:
    try:
        from ai_edge_litert.tools import flatbuffer_utils
    except ImportError:  # the tflite extra is not installed
        return None
    return flatbuffer_utils


def strip_tflite_file(
    path: Path,
    member_rows: np.ndarray | None,
    same_outputs: Callable[[Path, Path], bool],
    *,
    keep_metadata: bool = False,
    rtol: float = 1e-6,
) -> Cleaning:
    """Strip environment text from the TFLite file at ``path`` (the caller's own) when
    ``same_outputs(original, stripped)`` confirms the outputs are unchanged."""
    fu = _tools()
    if fu is None:
        return Cleaning(kept=["TFLite file: not scanned (ai-edge-litert's tools not installed)"])
    try:
        model = fu.read_model_from_bytearray(bytearray(path.read_bytes()))
    except Exception as e:  # the flatbuffer reader raises anything on odd files
        return Cleaning(kept=[f"TFLite file: not scanned (unreadable here: {type(e).__name__})"])
    c = Cleaning()
    if member_rows is not None and len(member_rows):
        rows = np.asarray(member_rows).reshape(len(member_rows), -1)
        for sg in model.subgraphs or []:
            for t in sg.tensors or []:
                buf = model.buffers[t.buffer] if model.buffers and t.buffer else None
                if buf is None or buf.data is None or t.type != _FLOAT32:
                    continue
                n = member_rows_in(np.frombuffer(bytes(buf.data), dtype="<f4"), rows, rtol)
                if n:
                    name = _text(t.name)
                    c.kept.append(f"tensor {name!r} holds {n} member row(s) (memorised inputs): "
                                  "kept, the graph reads it")
    found: list[str] = []
    if model.description is not None and ENV_TEXT.search(_text(model.description)):
        found.append(f"description ({len(_text(model.description))} characters, names a path or a user)")
    env_meta = [
        m for m in model.metadata or []
        if ENV_TEXT.search(_text(model.buffers[m.buffer].data if model.buffers else None))
        or ENV_TEXT.search(_text(m.name))
    ]
    found += [f"metadata entry {_text(m.name)!r} (names a path or a user)" for m in env_meta]
    if not found:
        return c
    if keep_metadata:
        c.kept += [f"{line}: kept ([privacy] keep_metadata)" for line in found]
        return c
    if any(line.startswith("description") for line in found):
        model.description = None
    for m in env_meta:
        model.buffers[m.buffer].data = None
    model.metadata = [m for m in model.metadata or [] if m not in env_meta] or None
    tmp = path.with_name(f".stripped-{path.name}")
    try:
        tmp.write_bytes(bytes(fu.convert_object_to_bytearray(model)))
        if same_outputs(path, tmp):
            os.replace(tmp, path)
            c.removed += found
        else:
            c.kept += [f"{line}: kept (stripping changed the outputs)" for line in found]
    finally:
        tmp.unlink(missing_ok=True)
    return c
