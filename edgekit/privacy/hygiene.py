"""What an ONNX artifact carries beyond its computation, and stripping it before the bundle.

Two kinds of trace:

* text from the training environment: doc strings (model, graph, nodes, inputs, attributes,
  anywhere in the file), metadata properties, and producer / domain / graph-name text that holds a
  path or a user name. Stripped unless ``[privacy] keep_metadata``; onnxruntime computes nothing
  from any of it.
* initializers (and ``Constant`` node values) that hold rows of the member data: memorised
  inputs. The safe rule: such a tensor is removed only when no node of the graph (or of any
  subgraph) reads it and it is neither a graph input nor a graph output, so removing it cannot
  change a computation; a tensor the model reads is reported and kept (removing or altering it
  would change the outputs).

Whatever is stripped, the caller's check must confirm the outputs are unchanged on its data;
otherwise the file is kept as built and every finding is reported as kept.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

__all__ = ["ENV_TEXT", "Cleaning", "clean_onnx", "member_rows_in", "scan_onnx", "strip_onnx_file"]

# A home folder or a user's profile, or an e-mail address: the text names a person or a machine.
ENV_TEXT = re.compile(r"(/home/|/Users/|/root\b|[A-Za-z]:\\|\\Users\\|~/|[\w.+-]+@[\w-]+\.)")


@dataclass
class Cleaning:
    """What :func:`clean_onnx` stripped and what it found and left (each a line for the report)."""

    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    model: onnx.ModelProto | None = None  # the cleaned copy; None when nothing was stripped


def _traits(text: str) -> str:
    """'N characters' plus a hint an auditor can act on, never the text itself (it may be a path)."""
    hint = ", names a path or a user" if ENV_TEXT.search(text) else ""
    return f"{len(text)} characters{hint}"


def _docs(msg: Any, where: str, out: list[tuple[str, str]]) -> None:
    """Every non-empty ``doc_string`` in ``msg`` and the messages it holds, with where it is."""
    for fd, value in msg.ListFields():
        if fd.name == "doc_string" and isinstance(value, str) and value:
            out.append((where, value))
        elif fd.message_type is not None:
            items = [value] if hasattr(value, "ListFields") else list(value)
            for item in items:
                name = getattr(item, "name", "") or getattr(item, "op_type", "") or ""
                _docs(item, f"{fd.name}:{name}" if name else fd.name, out)


def _clear_docs(msg: Any) -> None:
    for fd, value in msg.ListFields():
        if fd.name == "doc_string" and isinstance(value, str):
            msg.ClearField("doc_string")
        elif fd.message_type is not None:
            for item in [value] if hasattr(value, "ListFields") else list(value):
                _clear_docs(item)


def _graphs(g: onnx.GraphProto) -> list[onnx.GraphProto]:
    """``g`` and every subgraph inside it (If / Loop / Scan bodies), depth first."""
    found = [g]
    for node in g.node:
        for a in node.attribute:
            for sub in ([a.g] if a.HasField("g") else []) + list(a.graphs):
                found.extend(_graphs(sub))
    return found


def member_rows_in(arr: np.ndarray, rows: np.ndarray, rtol: float) -> int:
    """How many distinct member rows appear as a row of ``arr`` (viewed with the rows' length)."""
    width = rows.shape[1]
    if arr.size < width or arr.size % width or not np.issubdtype(arr.dtype, np.number):
        return 0
    table = arr.reshape(-1, width).astype(np.float64)
    found = 0
    for r in rows.astype(np.float64):
        scale = max(float(np.abs(r).max()), 1e-12)
        if np.any(np.all(np.abs(table - r) <= rtol * scale, axis=1)):
            found += 1
    return found


def _environment(model: onnx.ModelProto, keep: bool, c: Cleaning) -> bool:
    """Doc strings, metadata properties and path-like producer text; True when any was stripped."""
    docs: list[tuple[str, str]] = []
    _docs(model, "model", docs)
    places: dict[str, list[tuple[str, str]]] = {}
    for where, text in docs:
        places.setdefault(where.split(":")[0], []).append((where, text))
    lines = []
    for place, found in places.items():
        chars = sum(len(t) for _, t in found)
        hint = ", names a path or a user" if any(ENV_TEXT.search(t) for _, t in found) else ""
        first = found[0][0].partition(":")[2]
        lines.append(
            f"doc_string of the model ({chars} characters{hint})" if place == "model"
            else f"doc_string on {len(found)} {place} entr{'y' if len(found) == 1 else 'ies'}"
            f"{f' (first: {first})' if first else ''} ({chars} characters{hint})"
        )
    lines += [f"metadata property {p.key!r} ({_traits(p.value)})" for p in model.metadata_props]
    fields = [("producer_name", model), ("producer_version", model), ("domain", model)]
    pathlike = [(n, m) for n, m in fields if ENV_TEXT.search(getattr(m, n))]
    lines += [f"{n} ({_traits(getattr(m, n))})" for n, m in pathlike]
    rename = bool(ENV_TEXT.search(model.graph.name))
    if rename:
        lines.append(f"graph name ({_traits(model.graph.name)})")
    if keep:
        c.kept += [f"{line}: kept ([privacy] keep_metadata)" for line in lines]
        return False
    _clear_docs(model)
    del model.metadata_props[:]
    for n, m in pathlike:
        m.ClearField(n)
    if rename:
        model.graph.name = "graph"  # the checker wants a name; any neutral one does
    c.removed += lines
    return bool(lines)


def _memorised(
    model: onnx.ModelProto, rows: np.ndarray, rtol: float, c: Cleaning, remove: str
) -> bool:
    """Initializers and Constant values holding member rows; unused ones removed unless
    ``remove`` says why not (then kept with that reason). True when any was removed."""
    graphs = _graphs(model.graph)
    read = {i for g in graphs for n in g.node for i in n.input}
    read |= {o.name for o in model.graph.output} | {i.name for i in model.graph.input}
    changed = False
    for g in graphs:
        for init in list(g.initializer):
            n = member_rows_in(numpy_helper.to_array(init), rows, rtol)
            if not n:
                continue
            what = f"initializer {init.name!r} holds {n} member row(s) (memorised inputs)"
            if init.name in read:
                c.kept.append(f"{what}: kept, the graph reads it")
            elif remove != "yes":
                c.kept.append(f"{what}: kept, {remove}")
            else:
                g.initializer.remove(init)
                c.removed.append(f"{what}; unused by the graph")
                changed = True
        for node in list(g.node):
            if node.op_type != "Constant":
                continue
            vals = [numpy_helper.to_array(a.t) for a in node.attribute if a.name == "value"]
            n = member_rows_in(vals[0], rows, rtol) if vals else 0
            if not n:
                continue
            what = f"Constant {node.output[0]!r} holds {n} member row(s) (memorised inputs)"
            if any(o in read for o in node.output):
                c.kept.append(f"{what}: kept, the graph reads it")
            elif remove != "yes":
                c.kept.append(f"{what}: kept, {remove}")
            else:
                g.node.remove(node)
                c.removed.append(f"{what}; unused by the graph")
                changed = True
    return changed


def clean_onnx(
    model: onnx.ModelProto,
    member_rows: np.ndarray | None = None,
    *,
    keep_metadata: bool = False,
    strip_memorised: bool = True,
    rtol: float = 1e-6,
) -> Cleaning:
    """Strip (on a copy) what the module docstring lists; ``member_rows``: the member inputs as
    the model sees them, one flattened row each (a tensor holding one to ``rtol`` of the row's
    largest value is a match)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    c = Cleaning()
    changed = _environment(m, keep_metadata, c)
    if member_rows is not None and len(member_rows):
        rows = np.asarray(member_rows).reshape(len(member_rows), -1)
        why = "yes" if strip_memorised else "removing it changed the outputs"
        changed = _memorised(m, rows, rtol, c, why) or changed
    c.model = m if changed else None
    return c


def scan_onnx(path: Path, member_rows: np.ndarray | None = None, rtol: float = 1e-6) -> list[str]:
    """One line per finding in the ONNX file at ``path`` (empty: nothing found); changes nothing."""
    model = onnx.load(str(path), load_external_data=False)
    c = clean_onnx(model, member_rows, rtol=rtol)
    return [line.split(": kept")[0].split("; unused")[0] for line in c.removed + c.kept]


def strip_onnx_file(
    path: Path,
    member_rows: np.ndarray | None,
    same_outputs: Callable[[Path, Path], bool],
    *,
    keep_metadata: bool = False,
) -> Cleaning:
    """Strip the file at ``path`` in place when ``same_outputs(original, stripped)`` confirms
    the outputs are unchanged; else try the environment text alone; else keep the file as built.

    ``path`` must be the caller's own (the build's staging folder): it is replaced.
    """
    model = onnx.load(str(path), load_external_data=False)
    if any(t.data_location == onnx.TensorProto.EXTERNAL for g in _graphs(model.graph)
           for t in g.initializer):
        return Cleaning(kept=["tensors in external data files: not rewritten, not scanned"])
    tmp = path.with_name(f".stripped-{path.name}")  # same folder, same suffix
    try:
        for strip_memorised in (True, False):
            c = clean_onnx(model, member_rows, keep_metadata=keep_metadata,
                           strip_memorised=strip_memorised)
            if c.model is None:
                return c
            onnx.save(c.model, str(tmp))
            if same_outputs(path, tmp):
                os.replace(tmp, path)
                c.model = None
                return c
        every = clean_onnx(model, member_rows, keep_metadata=True, strip_memorised=False)
        kept = [line.replace("([privacy] keep_metadata)", "(stripping changed the outputs)")
                for line in every.kept]
        return Cleaning(kept=[*kept, "stripping changed the outputs: file kept as built"])
    finally:
        tmp.unlink(missing_ok=True)
