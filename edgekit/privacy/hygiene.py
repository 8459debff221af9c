"""What an ONNX artifact carries beyond its computation: doc strings and metadata from the
training environment, and initializers that hold rows of the member data (memorised inputs).

Report-only: the findings are listed in the audit (and as build warnings); nothing is stripped yet.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

__all__ = ["scan_onnx"]


def _member_rows_in(arr: np.ndarray, rows: np.ndarray, rtol: float) -> int:
    """How many distinct member rows appear as a row of ``arr`` (viewed with the rows' length)."""
    width = rows.shape[1]
    if arr.size < width or arr.size % width:
        return 0
    table = arr.reshape(-1, width).astype(np.float64)
    found = 0
    for r in rows.astype(np.float64):
        scale = max(float(np.abs(r).max()), 1e-12)
        if np.any(np.all(np.abs(table - r) <= rtol * scale, axis=1)):
            found += 1
    return found


def scan_onnx(path: Path, member_rows: np.ndarray | None = None, rtol: float = 1e-6) -> list[str]:
    """One line per finding in the ONNX file at ``path`` (empty: nothing found).

    ``member_rows``: the member inputs as the model sees them, one flattened row each; an
    initializer holding one of them (to ``rtol`` of the row's largest value) is reported.
    """
    model = onnx.load(str(path), load_external_data=False)
    found: list[str] = []
    if model.doc_string:
        found.append(f"model doc_string ({len(model.doc_string)} characters)")
    if model.graph.doc_string:
        found.append(f"graph doc_string ({len(model.graph.doc_string)} characters)")
    nodes = [n.name or n.op_type for n in model.graph.node if n.doc_string]
    if nodes:
        found.append(f"doc_string on {len(nodes)} nodes (first: {nodes[0]})")
    for p in model.metadata_props:
        found.append(f"metadata property {p.key!r} ({len(p.value)} characters)")
    if member_rows is not None and len(member_rows):
        rows = member_rows.reshape(len(member_rows), -1)
        for init in model.graph.initializer:
            n = _member_rows_in(numpy_helper.to_array(init), rows, rtol)
            if n:
                found.append(f"initializer {init.name!r} holds {n} member row(s) (memorised inputs)")
    return found
