"""Build-test helpers: a copy of the reference CNN config with a smaller evaluation set."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REF = ROOT / "models" / "rfclass-cnn"


def reference_config(tmp: Path, *, eval_n: int, runs: int, **replace: str) -> Path:
    """Write ``tmp/edgekit.toml``: the reference config pointing at the committed model, with
    ``eval_n`` evaluation captures, ``runs`` timed runs, and each ``old=new`` text replacement."""
    text = (REF / "edgekit.toml").read_text()
    text = text.replace('path = "model.onnx"', f'path = "{REF / "model.onnx"}"')
    text = text.replace('config = "../', f'config = "{REF.parent}/')  # [baseline] config
    text = text.replace('"privacy_refs/', f'"{REF}/privacy_refs/')  # [privacy] reference models
    text = re.sub(r'(evaluation = "synthetic:rf\?n=)\d+', rf"\g<1>{eval_n}", text)
    text = text.replace("runs = 200", f"runs = {runs}")
    for old, new in replace.items():
        if old not in text:
            raise KeyError(f"{old!r} is not in the reference config")
        text = text.replace(old, new)
    p = tmp / "edgekit.toml"
    p.write_text(text)
    return p
