"""Names TensorFlow accepts, for the copy of a model onnx2tf reads, and its errors read back.

onnx2tf turns ONNX node and tensor names into TensorFlow scope names, which must match
``[A-Za-z0-9_.\\/>-]``: exporters write ``Softmax@0`` (Paddle), ``dense/Softmax:0`` (tf2onnx) or
``onnx::Conv_123`` (torch), and the conversion then stops on "is not a valid scope name". The copy
onnx2tf reads gets every offending name rewritten (``@``, ``:`` and the like become ``_``, kept
unique); the map back lets the error a user sees name their own nodes.
"""

from __future__ import annotations

import re
from pathlib import Path

import onnx

__all__ = ["decisive_line", "tf_safe_names", "write_tf_safe_copy"]

_BAD = re.compile(r"[^A-Za-z0-9_.\\/>-]")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# An exception line of a Python traceback, or onnx2tf's own error banner.
_ERROR = re.compile(r"^\s*(?:[A-Za-z_][\w.]*(?:Error|Exception)\b|ERROR:|Error:)")
# Keras wraps the real message: "Exception encountered when calling layer ..." then the cause.
_WRAPPER = re.compile(r"Exception encountered when calling layer", re.IGNORECASE)


def tf_safe_names(model: onnx.ModelProto) -> dict[str, str]:
    """Rename, in place, node and tensor names TensorFlow rejects; return new -> original."""
    graph = model.graph
    used: set[str] = set()
    for n in graph.node:
        used.add(n.name)
        used.update(n.input)
        used.update(n.output)
    used.update(i.name for i in graph.input)
    used.update(o.name for o in graph.output)
    used.update(i.name for i in graph.initializer)
    renamed: dict[str, str] = {}  # original -> new
    for name in sorted(used):
        if name and _BAD.search(name):
            base = _BAD.sub("_", name)
            new, k = base, 1
            while new in used or new in renamed.values():
                new, k = f"{base}_{k}", k + 1
            renamed[name] = new

    def fix(v: str) -> str:
        return renamed.get(v, v)

    for n in graph.node:
        n.name = fix(n.name)
        n.input[:] = [fix(v) for v in n.input]
        n.output[:] = [fix(v) for v in n.output]
    for coll in (graph.input, graph.output, graph.value_info, graph.initializer):
        for item in coll:
            item.name = fix(item.name)
    return {new: old for old, new in renamed.items()}


def write_tf_safe_copy(src: Path, dst: Path) -> dict[str, str]:
    """Write ``src`` to ``dst`` with TF-safe names; return the new -> original map."""
    model = onnx.load(str(src))
    back = tf_safe_names(model)
    onnx.save(model, str(dst))
    return back


def decisive_line(log: str, back: dict[str, str]) -> str:
    """The line of an onnx2tf log that says why it failed, with renamed names mapped back."""
    lines = [_ANSI.sub("", t).strip() for t in log.splitlines()]
    lines = [t for t in lines if t]
    picked = ""
    for i in range(len(lines) - 1, -1, -1):
        if _ERROR.match(lines[i]):
            picked = lines[i]
            if _WRAPPER.search(picked) and i + 1 < len(lines):
                picked = lines[i + 1]
            break
    if not picked:
        picked = lines[-1] if lines else "no output"
    # longest first, so a name that contains another is mapped whole
    for new in sorted(back, key=len, reverse=True):
        picked = picked.replace(new, back[new])
    return picked[:300]
