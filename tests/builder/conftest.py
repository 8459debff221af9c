"""Build-test helpers: a copy of the reference CNN config with smaller data sets for tests."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REF = ROOT / "models" / "rfclass-cnn"


def reference_config(
    tmp: Path, *, eval_n: int, runs: int, cal_n: int, audit: bool, **replace: str
) -> Path:
    """Write ``tmp/edgekit.toml``: the reference config pointing at the committed model, with
    ``eval_n`` evaluation and ``cal_n`` calibration captures, ``runs`` timed runs, the
    ``[privacy]`` membership audit only when ``audit``, and each ``old=new`` text replacement.

    Each caller states its data sizes and whether it needs the audit: the ood stage fits on every
    calibration capture and the audit adds half a minute, so a test that is about neither keeps
    them small (CI runs on 2 cores). ``[profile] max_reruns = 0``: no test here judges the
    re-timing after host interference (tests/builder/test_profile_rerun.py does), and on a loaded
    CI host every re-run would time all variants again.
    """
    text = (REF / "edgekit.toml").read_text()
    text = text.replace('path = "model.onnx"', f'path = "{REF / "model.onnx"}"')
    text = text.replace('config = "../', f'config = "{REF.parent}/')  # [baseline] config
    text = text.replace('"privacy_refs/', f'"{REF}/privacy_refs/')  # [privacy] reference models
    text = _sub(r'(evaluation = "synthetic:rf\?n=)\d+', rf"\g<1>{eval_n}", text)
    text = _sub(r'(calibration = "synthetic:rf\?n=)\d+', rf"\g<1>{cal_n}", text)
    text = text.replace("runs = 200", f"runs = {runs}\nmax_reruns = 0")
    if not audit:  # [privacy] without members: the audit stage reports "not evaluated"
        text = _sub(r"(?m)^(members|non_members) = .*$", "", text, count=2)
    for old, new in replace.items():
        if old not in text:
            raise KeyError(f"{old!r} is not in the reference config")
        text = text.replace(old, new)
    p = tmp / "edgekit.toml"
    p.write_text(text)
    return p


def _sub(pattern: str, repl: str, text: str, *, count: int = 1) -> str:
    """``re.sub`` that fails when the reference config no longer has what a test changes."""
    new, n = re.subn(pattern, repl, text)
    if n != count:
        raise KeyError(f"{pattern!r} matched {n} times in the reference config, expected {count}")
    return new
